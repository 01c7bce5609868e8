//! Projectors in a process of their own (#5, #7): `ledger-projector` (here `ledger_api::start_projector`,
//! what the binary runs) leads every projector and serves only health and metrics; an API replica with
//! `LEDGER_PROJECTORS=follow` never leads, yet answers reads with `min_token` because its followers
//! mirror the leaders' checkpoints.

use std::time::{Duration, Instant};

use app::Role;
use clap::Parser;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::api_support::TestService;
use crate::support::{TEST_HASH_KEY, TEST_MASTER_KEY};

const DEADLINE: Duration = Duration::from_secs(60);

async fn metrics(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_process_leads_and_an_api_replica_that_follows_still_reads_its_writes() {
    let api = TestService::start_with(&["--demo", "--projectors", "follow"]).await;
    let config = ledger_api::Config::try_parse_from([
        "ledger-projector",
        "--database-url",
        api.database_url(),
        "--master-key",
        TEST_MASTER_KEY,
        "--hash-key",
        TEST_HASH_KEY,
    ])
    .unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let projector = ledger_api::start_projector(config, http).await.unwrap();
    assert_eq!(projector.grpc_addr, None, "no API in a projector process");
    let base = format!("http://{}", projector.http_addr);
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        reqwest::get(format!(
            "{base}/api/v1/reports/coverage?region=330600&date=2024-12-31"
        ))
        .await
        .unwrap()
        .status(),
        StatusCode::NOT_FOUND,
        "the projector process serves no API"
    );

    // A write through the API replica, read back there with its token: the projector process applies
    // it, the replica's follower sees the checkpoint move.
    let county = api.dev_bearer(Role::CountyCdc);
    let client = Client::new();
    let host = uuid::Uuid::new_v4();
    let written: Value = client
        .post(format!("{}/api/v1/host-units", api.http))
        .header("authorization", &county)
        .header("idempotency-key", host.to_string())
        .json(
            &json!({"host_unit_id": host, "kind": "designated_tb_hospital",
                      "name": "越城区结核病定点医院（分进程）", "region": "330602"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = written["token"].as_str().unwrap().to_owned();
    let answer = client
        .get(format!(
            "{}/api/v1/reports/compliance?region=330602&date=2024-12-31&min_token={token}",
            api.http
        ))
        .header("authorization", &county)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    let hosts: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["host_unit"]["host_unit_id"].as_str())
        .collect();
    assert!(hosts.contains(&host.to_string().as_str()), "{body}");

    // Leadership: the projector process leads every projector; the API replica leads none.
    let started = Instant::now();
    loop {
        let led = metrics(&base).await;
        let leading = led
            .lines()
            .filter(|l| l.starts_with("ledger_projector_leader{") && l.ends_with(" 1"))
            .count();
        if leading >= 7 {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "projector process leads all: {led}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let followed = metrics(&api.http).await;
    assert!(
        followed
            .lines()
            .filter(|l| l.starts_with("ledger_projector_leader{"))
            .all(|l| l.ends_with(" 0")),
        "the API replica never leads: {followed}"
    );
    projector.shutdown().await;
    api.stop().await;
}

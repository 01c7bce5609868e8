//! `/metrics` of the real service (issue #7): projector lag while the projectors are paused under writes
//! and back to 0 once one catches up, and the process holding the global-order fence named.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use eventstore::{EventStore, ExpectedVersion, StoreConfig};
use projections::{
    ComplianceProjector, CoverageProjector, FrequencyProjector, Projector, Runner, RunnerConfig,
    SummaryBoardProjector,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use crate::api_support::TestService;
use crate::support::{event, head, request, within};

const DEADLINE: Duration = Duration::from_secs(20);

async fn scrape(service: &TestService) -> String {
    let response = reqwest::get(format!("{}/metrics", service.http))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let body = response.text().await.unwrap();
    assert!(body.ends_with("# EOF\n"), "{body}");
    body
}

/// The value of the sample `name{labels}` (labels exactly as encoded, e.g. `projector="coverage"`).
fn sample(body: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
}

fn projector_ids() -> [&'static str; 4] {
    [
        CoverageProjector.id(),
        ComplianceProjector.id(),
        FrequencyProjector.id(),
        SummaryBoardProjector.id(),
    ]
}

fn lag(body: &str, id: &str) -> f64 {
    let labels = format!("projector=\"{id}\"");
    sample(body, "ledger_projector_checkpoint_lag_events", &labels)
        .unwrap_or_else(|| panic!("no lag in events for {id}:\n{body}"))
}

fn lag_seconds(body: &str, id: &str) -> f64 {
    let labels = format!("projector=\"{id}\"");
    sample(body, "ledger_projector_lag_seconds", &labels)
        .unwrap_or_else(|| panic!("no lag in seconds for {id}:\n{body}"))
}

/// Append events `from + 1 ..= to` to `stream`, one per command.
async fn write(store: &EventStore, stream: &str, from: u64, to: u64) {
    for i in from..to {
        let expected = if i == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(i)
        };
        store
            .append(&request(
                stream,
                expected,
                vec![event("MetricsProbed", r#"{"n":1}"#)],
                &format!("{stream}-{i}"),
            ))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn metrics_show_projector_lag_rising_while_paused_and_zero_after_resume() {
    // Projectors "paused": none runs in the service's process.
    let service = TestService::start_with(&["--projectors", "false"]).await;
    let store = service.ledger().store().clone();
    let stream = format!("probe-{}", uuid::Uuid::new_v4());

    let idle = scrape(&service).await;
    for id in projector_ids() {
        assert_eq!(lag(&idle, id), 0.0, "{id}");
        assert_eq!(lag_seconds(&idle, id), 0.0, "{id}");
        let labels = format!("projector=\"{id}\"");
        assert_eq!(sample(&idle, "ledger_projector_leader", &labels), Some(0.0));
        assert_eq!(
            sample(&idle, "ledger_projector_parked_events", &labels),
            Some(0.0)
        );
    }

    write(&store, &stream, 0, 3).await;
    let after_three = scrape(&service).await;
    write(&store, &stream, 3, 5).await;
    let after_five = scrape(&service).await;
    for id in projector_ids() {
        assert_eq!(lag(&after_three, id), 3.0, "{id}:\n{after_three}");
        assert_eq!(lag(&after_five, id), 5.0, "{id}:\n{after_five}");
        assert!(lag_seconds(&after_five, id) >= 0.0);
    }
    assert_eq!(
        sample(&after_five, "ledger_db_pool_max_connections", ""),
        Some(8.0)
    );
    assert!(
        sample(
            &after_five,
            "ledger_db_pool_connections",
            "state=\"in_use\""
        )
        .is_some()
    );
    assert!(sample(&after_five, "ledger_db_pool_connections", "state=\"idle\"").is_some());

    // Resume the coverage projector (as another process would: its own pool on the same database).
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(PgConnectOptions::from_str(service.database_url()).unwrap())
        .await
        .unwrap();
    let other = EventStore::new(pool, StoreConfig::default());
    let runner = Arc::new(Runner::new(
        other.clone(),
        Arc::new(CoverageProjector),
        RunnerConfig {
            lease_retry: Duration::from_millis(20),
            error_backoff: Duration::from_millis(20),
            ..RunnerConfig::default()
        },
    ));
    let target = head(&other).await;
    within(DEADLINE, "coverage catching up", runner.run_until(target))
        .await
        .unwrap();

    let resumed = scrape(&service).await;
    assert_eq!(lag(&resumed, CoverageProjector.id()), 0.0, "{resumed}");
    assert_eq!(lag_seconds(&resumed, CoverageProjector.id()), 0.0);
    // The others are still paused.
    assert_eq!(lag(&resumed, ComplianceProjector.id()), 5.0);
    assert!(lag_seconds(&resumed, ComplianceProjector.id()) >= 0.0);
    service.stop().await;
}

fn holder_lines<'a>(body: &'a str, application_name: &str) -> Vec<&'a str> {
    let label = format!("application_name=\"{application_name}\"");
    body.lines()
        .filter(|l| l.starts_with("ledger_log_fence_held_by{") && l.contains(&label))
        .collect()
}

#[tokio::test]
async fn metrics_name_the_process_holding_the_fence() {
    let service = TestService::start_with(&["--projectors", "false"]).await;
    let options = PgConnectOptions::from_str(service.database_url())
        .unwrap()
        .application_name("fence-holder-test");
    let mut conn = PgConnection::connect_with(&options).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let xid8: String = sqlx::query_scalar("SELECT pg_current_xact_id()::text")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let xid = xid8.parse::<u64>().unwrap() % (1 << 32);

    // Other tests' transactions on the shared cluster may be older for a moment: scrape until ours is
    // among the oldest holders listed.
    let body = within(DEADLINE, "the fence holder listed", async {
        loop {
            let body = scrape(&service).await;
            if !holder_lines(&body, "fence-holder-test").is_empty() {
                return body;
            }
        }
    })
    .await;
    let lines = holder_lines(&body, "fence-holder-test");
    assert_eq!(lines.len(), 1, "{body}");
    assert!(lines[0].contains(&format!("xid=\"{xid}\"")), "{body}");
    assert!(lines[0].contains("pid=\""), "{body}");
    let fence = sample(&body, "ledger_log_fence_xid", "").unwrap();
    assert!(fence <= xid8.parse::<f64>().unwrap(), "{body}");
    assert!(sample(&body, "ledger_log_fence_hold_seconds", "").is_some());

    tx.rollback().await.unwrap();
    let after = scrape(&service).await;
    assert!(
        holder_lines(&after, "fence-holder-test").is_empty(),
        "{after}"
    );
    conn.close().await.unwrap();
    service.stop().await;
}

const YUECHENG_CDC: &str = "7f1a0000-0000-4000-8000-000100000001";

fn register_team() -> grpc_api::pb::RegisterTeamRequest {
    use grpc_api::pb;
    let person = || {
        Some(pb::Person {
            name: "测试队长甲".to_owned(),
            id_number: None,
            phone: Some("13800001111".to_owned()),
        })
    };
    pb::RegisterTeamRequest {
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        team_id: uuid::Uuid::new_v4().to_string(),
        host_unit_id: YUECHENG_CDC.to_owned(),
        region: "330602".to_owned(),
        level: pb::TeamLevel::County.into(),
        profile: Some(pb::TeamProfile {
            name: "越城区无结核校园志愿服务分队".to_owned(),
            national_platform_id: None,
            leader: person(),
            on_call_contact: person(),
            party_member_team: false,
            student_team: false,
        }),
        registered_on: "2025-01-05".to_owned(),
    }
}

fn commands(body: &str, adapter: &str, command: &str, outcome: &str) -> Option<f64> {
    let labels = format!("adapter=\"{adapter}\",command=\"{command}\",outcome=\"{outcome}\"");
    sample(body, "ledger_commands_total", &labels)
}

#[tokio::test]
async fn metrics_count_commands_at_the_adapters_by_outcome() {
    use grpc_api::pb::team_service_client::TeamServiceClient;

    let service = TestService::start_with(&["--demo", "--projectors", "false"]).await;
    let channel = tonic::transport::Channel::from_shared(service.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut teams = TeamServiceClient::new(channel);
    let mut accepted = tonic::Request::new(register_team());
    accepted.metadata_mut().insert(
        "authorization",
        service.dev_bearer(app::Role::CountyCdc).parse().unwrap(),
    );
    teams.register_team(accepted).await.unwrap();
    let anonymous = teams
        .register_team(tonic::Request::new(register_team()))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);

    let http = reqwest::Client::new();
    let refused = http
        .post(format!("{}/api/v1/teams", service.http))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // Queries are not commands.
    http.get(format!("{}/api/v1/events", service.http))
        .send()
        .await
        .unwrap();

    let body = scrape(&service).await;
    assert_eq!(
        commands(&body, "grpc", "RegisterTeam", "ok"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        commands(&body, "grpc", "RegisterTeam", "rejected"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        commands(&body, "rest", "POST /api/v1/teams", "rejected"),
        Some(1.0),
        "{body}"
    );
    assert!(
        !body
            .lines()
            .any(|l| l.starts_with("ledger_commands_total") && l.contains("events")),
        "{body}"
    );
    service.stop().await;
}

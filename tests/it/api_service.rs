//! The service as a whole: start-up validation (each error names its variable), health, and the
//! development-token rule.

use clap::Parser;

use crate::api_support::TestService;
use crate::support::{TEST_HASH_KEY, TEST_MASTER_KEY};

fn config(extra: &[&str]) -> ledger_api::Config {
    let mut args = vec![
        "ledger-api",
        "--database-url",
        "postgres://ledger_app@127.0.0.1:1/none",
        "--master-key",
        TEST_MASTER_KEY,
        "--hash-key",
        TEST_HASH_KEY,
    ];
    args.extend_from_slice(extra);
    ledger_api::Config::try_parse_from(args).unwrap()
}

async fn start_error(config: ledger_api::Config) -> String {
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    match ledger_api::start(config, http, grpc).await {
        Ok(_) => panic!("the service started with a bad configuration"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn development_tokens_are_refused_in_production() {
    let err = start_error(config(&["--dev-tokens", "--env", "production"])).await;
    assert!(err.starts_with("LEDGER_DEV_TOKENS:"), "{err}");
}

#[tokio::test]
async fn a_service_without_a_token_verification_key_does_not_start() {
    let err = start_error(config(&[])).await;
    assert!(
        err.starts_with("LEDGER_JWT_ED25519_PUBLIC_KEY_FILE:"),
        "{err}"
    );
}

#[tokio::test]
async fn a_short_hs256_secret_is_refused_naming_the_variable() {
    let err = start_error(config(&["--jwt-hs256-secret", "short"])).await;
    assert!(err.starts_with("LEDGER_JWT_HS256_SECRET:"), "{err}");
}

#[tokio::test]
async fn a_hash_key_equal_to_the_master_key_is_refused() {
    let mut c = config(&["--jwt-hs256-secret", "0123456789abcdef0123456789abcdef"]);
    c.hash_key = c.master_key.clone();
    let err = start_error(c).await;
    assert!(err.starts_with("LEDGER_HASH_KEY:"), "{err}");
}

#[tokio::test]
async fn development_mode_mints_a_token_per_role() {
    let db = pg_harness::Cluster::shared()
        .unwrap()
        .database()
        .await
        .unwrap();
    let mut c = config(&["--dev-tokens", "--env", "development"]);
    c.database_url = db.app_url();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = ledger_api::start(c, http, grpc).await.unwrap();
    let roles: Vec<app::Role> = running.dev_tokens.iter().map(|(r, _)| *r).collect();
    assert_eq!(roles, app::Role::ALL.to_vec());
    running.shutdown().await;
}

#[tokio::test]
async fn the_service_is_live_and_ready_on_a_migrated_database() {
    let service = TestService::start().await;
    let client = reqwest::Client::new();
    for path in ["/livez", "/readyz"] {
        let r = client
            .get(format!("{}{path}", service.http))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    service.stop().await;
}

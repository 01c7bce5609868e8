//! The real service for end-to-end tests: `ledger_api::start` on ephemeral ports against a fresh
//! database, configured through the same `Config` the binary parses, with a known HS256 secret so the
//! tests can mint tokens for any actor.

use app::{Actor, Role};
use clap::Parser;
use pg_harness::Cluster;

use crate::support::{TEST_HASH_KEY, TEST_MASTER_KEY};

const JWT_SECRET: &str = "test-secret-of-at-least-thirty-two-bytes!";
const ISSUER: &str = "volunteer-ledger";
const AUDIENCE: &str = "ledger-api";

/// A running service and how to reach it.
pub struct TestService {
    /// `http://127.0.0.1:PORT` of the REST listener.
    pub http: String,
    /// `http://127.0.0.1:PORT` of the gRPC listener.
    pub grpc: String,
    issuer: access::DevIssuer,
    database_url: String,
    running: Option<ledger_api::Running>,
}

/// `ledger-api`'s arguments with the test keys and secret, on `database_url`.
pub fn service_args(database_url: &str) -> [&str; 9] {
    [
        "ledger-api",
        "--database-url",
        database_url,
        "--master-key",
        TEST_MASTER_KEY,
        "--hash-key",
        TEST_HASH_KEY,
        "--jwt-hs256-secret",
        JWT_SECRET,
    ]
}

impl TestService {
    /// A fresh migrated database, both listeners on ephemeral ports, projectors running.
    pub async fn start() -> TestService {
        Self::start_with(&[]).await
    }

    /// The same, with the Shaoxing demo dataset loaded.
    pub async fn start_with_demo() -> TestService {
        Self::start_with(&["--demo"]).await
    }

    /// With extra `ledger-api` arguments.
    pub async fn start_with(extra: &[&str]) -> TestService {
        Self::start_on(Cluster::shared().unwrap(), extra).await
    }

    /// On a fresh database of `cluster` (e.g. a private one the test stops and starts), with extra
    /// `ledger-api` arguments.
    pub async fn start_on(cluster: &Cluster, extra: &[&str]) -> TestService {
        let db = cluster.database().await.unwrap();
        let url = db.app_url();
        let mut args = service_args(&url).to_vec();
        args.extend_from_slice(&["--db-pool-size", "8"]);
        args.extend_from_slice(extra);
        let config = ledger_api::Config::try_parse_from(args).unwrap();
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running = ledger_api::start(config, http, grpc).await.unwrap();
        TestService {
            http: format!("http://{}", running.http_addr),
            grpc: format!("http://{}", running.grpc_addr.unwrap()),
            issuer: access::DevIssuer::with_secret(
                JWT_SECRET.as_bytes().to_vec(),
                ISSUER,
                AUDIENCE,
            ),
            database_url: url.clone(),
            running: Some(running),
        }
    }

    /// `Bearer <jwt>` for any actor, valid for an hour.
    pub fn bearer(&self, actor: &Actor) -> String {
        let token = self
            .issuer
            .mint(actor, chrono::Utc::now().timestamp(), 3600)
            .unwrap();
        format!("Bearer {token}")
    }

    /// `Bearer <jwt>` for the development actor of `role` (`access::demo_actors`).
    pub fn dev_bearer(&self, role: Role) -> String {
        let actor = access::demo_actors()
            .unwrap()
            .into_iter()
            .find(|a| a.role == role)
            .unwrap();
        self.bearer(&actor)
    }

    /// The development actor of `role`.
    pub fn dev_actor(&self, role: Role) -> Actor {
        access::demo_actors()
            .unwrap()
            .into_iter()
            .find(|a| a.role == role)
            .unwrap()
    }

    /// The service role's URL of the service's database (for a second process's view of it in a test).
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    pub fn ledger(&self) -> &app::Ledger {
        &self.running.as_ref().unwrap().ledger
    }

    /// Drain and stop (also done, without waiting, when dropped at the end of a test).
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

impl TestService {
    /// The progress of the service's notary (`None` when started without `--notary-key-file`).
    pub fn notary_progress(&self) -> Option<tokio::sync::watch::Receiver<notary::NotaryProgress>> {
        self.running.as_ref().and_then(|r| r.notary.clone())
    }
}

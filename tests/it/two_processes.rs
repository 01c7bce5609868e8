//! Two `ledger-api` processes on one database (#7): both serve writes at once; `kill -9` of the one
//! leading the projectors loses no acknowledged write, and the projectors continue on the other.
//!
//! The processes are the real binary (`cargo build -p ledger-api`, a no-op when `deploy/test` built it
//! first), configured like production (HS256 tokens minted here, no development mode).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::Role;
use pg_harness::Cluster;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

use crate::support::{TEST_HASH_KEY, TEST_MASTER_KEY};

const SECRET: &str = "two-processes-test-secret-of-32-bytes-or-more";
const DEADLINE: Duration = Duration::from_secs(120);

/// The `ledger-api` binary, built once per test run.
async fn binary() -> &'static PathBuf {
    static BIN: OnceCell<PathBuf> = OnceCell::const_new();
    BIN.get_or_init(|| async {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "ledger-api"])
            .current_dir(&root)
            .status()
            .await
            .unwrap();
        assert!(status.success(), "cargo build -p ledger-api failed");
        let target =
            std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
        target.join("debug").join("ledger-api")
    })
    .await
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Process {
    child: Child,
    http: String,
}

async fn spawn(database_url: &str, demo: bool) -> Process {
    let (http, grpc) = (free_port(), free_port());
    let child = Command::new(binary().await)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("LEDGER_MASTER_KEY", TEST_MASTER_KEY)
        .env("LEDGER_HASH_KEY", TEST_HASH_KEY)
        .env("LEDGER_HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("LEDGER_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
        .env("LEDGER_JWT_HS256_SECRET", SECRET)
        .env("LEDGER_READ_WAIT_MS", "20000")
        .env("LEDGER_DEMO", if demo { "true" } else { "false" })
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let p = Process {
        child,
        http: format!("http://127.0.0.1:{http}"),
    };
    let started = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("{}/readyz", p.http)).await
            && r.status() == StatusCode::OK
        {
            return p;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{} never became ready",
            p.http
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn bearer(role: Role) -> String {
    let actor = access::demo_actors()
        .unwrap()
        .into_iter()
        .find(|a| a.role == role)
        .unwrap();
    let issuer = access::DevIssuer::with_secret(
        SECRET.as_bytes().to_vec(),
        "volunteer-ledger",
        "ledger-api",
    );
    let token = issuer
        .mint(&actor, chrono::Utc::now().timestamp(), 3600)
        .unwrap();
    format!("Bearer {token}")
}

async fn metric_line(p: &Process, prefix: &str) -> Option<String> {
    let text = reqwest::get(format!("{}/metrics", p.http))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(prefix))
        .map(str::to_owned)
}

/// Poll `check` until it holds or the deadline passes.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Default)]
struct Acks {
    /// (process index, host unit id, token) of every 201.
    written: Vec<(usize, uuid::Uuid, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_serve_writes_and_kill_9_of_the_leader_loses_no_acknowledged_write() {
    let db = Cluster::shared().unwrap().database().await.unwrap();
    let url = db.app_url();
    let mut a = spawn(&url, true).await;
    let b = spawn(&url, false).await;
    let leader = "ledger_projector_leader{projector=\"coverage\"} 1";
    eventually("process A to lead the coverage projector", || async {
        metric_line(&a, leader).await.is_some()
    })
    .await;
    assert!(metric_line(&b, leader).await.is_none(), "B stands by");

    let acks = Arc::new(Mutex::new(Acks::default()));
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bases = [a.http.clone(), b.http.clone()];
    let mut writers = Vec::new();
    for w in 0..4usize {
        let (acks, stopping, bases) = (acks.clone(), stopping.clone(), bases.clone());
        writers.push(tokio::spawn(async move {
            let client = Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let county = bearer(Role::CountyCdc);
            let target = w % 2;
            while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
                let id = uuid::Uuid::new_v4();
                let sent = client
                    .post(format!("{}/api/v1/host-units", bases[target]))
                    .header("authorization", &county)
                    .header("idempotency-key", id.to_string())
                    .json(&json!({"host_unit_id": id, "kind": "cdc",
                                  "name": "双进程测试疾控中心", "region": "330602"}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        let body: Value = r.json().await.unwrap();
                        let token = body["token"].as_str().unwrap().to_owned();
                        acks.lock().unwrap().written.push((target, id, token));
                    }
                    // Refused or lost with the killed process: not acknowledged, may or may not exist.
                    Ok(_) | Err(_) => tokio::task::yield_now().await,
                }
            }
        }));
    }
    let count = |p: usize| {
        acks.lock()
            .unwrap()
            .written
            .iter()
            .filter(|w| w.0 == p)
            .count()
    };
    eventually("both processes to acknowledge writes", || async {
        count(0) >= 20 && count(1) >= 20
    })
    .await;

    // kill -9 the leader, mid-load.
    a.child.start_kill().unwrap();
    a.child.wait().await.unwrap();
    let b_before = count(1);
    eventually("B to keep acknowledging writes", || async {
        count(1) >= b_before + 30
    })
    .await;
    stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }

    // Every acknowledged write is in the log, exactly once.
    let written = std::mem::take(&mut acks.lock().unwrap().written);
    let pool = db.app_pool(2).await.unwrap();
    for (p, id, token) in &written {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE stream_id = $1 AND event_type = 'HostUnitRegistered'",
        )
        .bind(format!("hostunit-{id}"))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(n, 1, "write {id} acknowledged by process {p} at {token}");
    }

    // The projectors continue on B: it leads, and every projector passes B's last acknowledged write.
    eventually("B to lead the coverage projector", || async {
        metric_line(&b, leader).await.is_some()
    })
    .await;
    let last = written
        .iter()
        .filter(|w| w.0 == 1)
        .map(|w| w.2.parse::<eventstore::Token>().unwrap())
        .max()
        .unwrap();
    eventually("every projector to pass B's last write", || async {
        let behind: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM projection_checkpoints WHERE (tx_id, position) < ($1::text::xid8, $2)",
        )
        .bind(last.tx_id.to_string())
        .bind(last.position)
        .fetch_one(&pool)
        .await
        .unwrap();
        behind == 0
    })
    .await;
    let projectors: i64 = sqlx::query_scalar("SELECT count(*) FROM projection_checkpoints")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        projectors >= 5,
        "every projector has a checkpoint: {projectors}"
    );
    let mut b = b;
    b.child.start_kill().unwrap();
    b.child.wait().await.unwrap();
}

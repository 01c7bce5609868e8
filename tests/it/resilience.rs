//! Graceful failure (issue 7): the Postgres cluster is stopped and started again while REST writes
//! run. During the outage writes fail fast with 503 problem+json and `/readyz` answers 503; when the
//! database is back the same service process answers again by itself; every acknowledged write is in
//! the log with the token it was acknowledged with.
//!
//! The cluster is the test's own (`Cluster::private`): halting the shared one would break every other
//! test.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::Role;
use pg_harness::Cluster;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::api_support::TestService;

const PROBLEM: &str = "application/problem+json";
const WRITERS: usize = 4;
/// No single request may take longer than this, outage or not (the pool's acquire timeout is 5 s).
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline of each phase's wait for a condition.
const PHASE_DEADLINE: Duration = Duration::from_secs(60);

const BEFORE: u8 = 0;
/// `halt` running: requests in flight while the server shuts down may answer either way.
const HALTING: u8 = 1;
/// `halt` returned: the server is down until `resume`.
const DOWN: u8 = 2;
const AFTER: u8 = 3;

/// What the writers saw, by phase (the phase when the answer arrived).
#[derive(Default)]
struct Seen {
    /// `(stream_id, token)` of every 2xx answer.
    acked: Vec<(String, String)>,
    acked_by_phase: [usize; 4],
    unavailable_by_phase: [usize; 4],
    /// Longest time a 503 took to arrive.
    slowest_503: Duration,
    /// Anything but 2xx or 503 problem+json, and requests that hung: the test fails on any.
    failures: Vec<String>,
}

struct Shared {
    seen: Mutex<Seen>,
    phase: AtomicU8,
    stop: AtomicBool,
}

impl Shared {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }
}

/// Register host units (no dependency on other streams) with fresh Idempotency-Keys until stopped.
async fn writer(n: usize, http: Client, base: String, bearer: String, shared: Arc<Shared>) {
    let mut i = 0_u64;
    while !shared.stop.load(Ordering::Relaxed) {
        i += 1;
        let body = json!({"host_unit_id": uuid::Uuid::new_v4(), "kind": "tb_free_community_pilot",
                          "pilot_level": "city", "name": format!("韧性测试依托单位{n}-{i}"),
                          "region": "330602"});
        let started = Instant::now();
        let sent = http
            .post(format!("{base}/api/v1/host-units"))
            .header("authorization", &bearer)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&body)
            .send();
        let answer = tokio::time::timeout(REQUEST_DEADLINE, async {
            let res = sent.await?;
            let status = res.status();
            let content_type = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body: Value = serde_json::from_slice(&res.bytes().await?).unwrap_or(Value::Null);
            Ok::<_, reqwest::Error>((status, content_type, body))
        })
        .await;
        let took = started.elapsed();
        let phase = usize::from(shared.phase.load(Ordering::SeqCst));
        record(&mut shared.seen(), n, phase, took, answer);
        tokio::task::yield_now().await;
    }
}

type Answered =
    Result<Result<(StatusCode, String, Value), reqwest::Error>, tokio::time::error::Elapsed>;

fn record(seen: &mut Seen, n: usize, phase: usize, took: Duration, answer: Answered) {
    match answer {
        Err(_) => seen.failures.push(format!(
            "writer {n}: no answer within {REQUEST_DEADLINE:?} (phase {phase})"
        )),
        Ok(Err(e)) => seen
            .failures
            .push(format!("writer {n}: transport error (phase {phase}): {e}")),
        Ok(Ok((status, _, body))) if status.is_success() => {
            let stream = body["stream_id"].as_str().map(str::to_owned);
            let token = body["token"].as_str().map(str::to_owned);
            match (stream, token) {
                (Some(s), Some(t)) => {
                    seen.acked.push((s, t));
                    seen.acked_by_phase[phase] += 1;
                }
                _ => seen.failures.push(format!(
                    "writer {n}: {status} without stream_id/token: {body}"
                )),
            }
        }
        Ok(Ok((StatusCode::SERVICE_UNAVAILABLE, content_type, body)))
            if content_type == PROBLEM
                && body["status"] == 503
                && body["code"] == "unavailable" =>
        {
            seen.unavailable_by_phase[phase] += 1;
            seen.slowest_503 = seen.slowest_503.max(took);
        }
        Ok(Ok((status, content_type, body))) => seen.failures.push(format!(
            "writer {n}: {status} ({content_type}) in phase {phase} after {took:?}: {body}"
        )),
    }
}

/// Poll until `check` holds; panics with `what` after `deadline`.
async fn until<F, Fut>(what: &str, deadline: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    let polled = tokio::time::timeout(deadline, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await; // backoff between polls
        }
    })
    .await;
    assert!(polled.is_ok(), "{what}: not within {deadline:?}");
    started.elapsed()
}

async fn readyz(http: &Client, base: &str) -> StatusCode {
    match tokio::time::timeout(REQUEST_DEADLINE, http.get(format!("{base}/readyz")).send()).await {
        Ok(Ok(res)) => res.status(),
        Ok(Err(e)) => panic!("/readyz: transport error: {e}"),
        Err(_) => panic!("/readyz: no answer within {REQUEST_DEADLINE:?}"),
    }
}

/// Halt or resume the cluster off the runtime's threads (the script blocks until it is done).
async fn blocking(cluster: &Arc<Cluster>, resume: bool) {
    let cluster = cluster.clone();
    tokio::task::spawn_blocking(move || {
        if resume {
            cluster.resume()
        } else {
            cluster.halt()
        }
    })
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_a_database_restart_and_the_service_recovers_by_itself() {
    let cluster = Arc::new(Cluster::private().unwrap());
    let svc = TestService::start_on(&cluster, &["--demo"]).await;
    let http = Client::new();
    let county = svc.dev_bearer(Role::CountyCdc);
    assert_eq!(readyz(&http, &svc.http).await, StatusCode::OK);

    let shared = Arc::new(Shared {
        seen: Mutex::new(Seen::default()),
        phase: AtomicU8::new(BEFORE),
        stop: AtomicBool::new(false),
    });
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| {
            tokio::spawn(writer(
                n,
                http.clone(),
                svc.http.clone(),
                county.clone(),
                shared.clone(),
            ))
        })
        .collect();
    let acked = |shared: &Shared| shared.seen().acked.len();
    let no_failures = |shared: &Shared| {
        let seen = shared.seen();
        assert!(seen.failures.is_empty(), "{:#?}", seen.failures);
    };

    // Writes are acknowledged.
    until("40 acknowledged writes", PHASE_DEADLINE, || {
        let n = acked(&shared);
        async move { n >= 40 }
    })
    .await;
    no_failures(&shared);

    // Database down: writes fail fast with 503, readiness says so.
    // (The phase changes first: requests in flight while the server shuts down may answer 503.)
    shared.phase.store(HALTING, Ordering::SeqCst);
    let halted = Instant::now();
    blocking(&cluster, false).await;
    shared.phase.store(DOWN, Ordering::SeqCst);
    until("/readyz answers 503", PHASE_DEADLINE, || async {
        readyz(&http, &svc.http).await == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    until(
        "two 503s per writer during the outage",
        PHASE_DEADLINE,
        || {
            let n = shared.seen().unavailable_by_phase[usize::from(DOWN)];
            async move { n >= 2 * WRITERS }
        },
    )
    .await;
    no_failures(&shared);

    // Database back on the same port: the same service process recovers by itself.
    // (The phase changes first: writes waiting for a connection may succeed as soon as the server
    // accepts connections, before `resume` has seen it ready.)
    let acked_at_resume = acked(&shared);
    shared.phase.store(AFTER, Ordering::SeqCst);
    let resumed = Instant::now();
    blocking(&cluster, true).await;
    let outage = halted.elapsed();
    let resume_took = resumed.elapsed();
    until("/readyz answers 200 again", PHASE_DEADLINE, || async {
        readyz(&http, &svc.http).await == StatusCode::OK
    })
    .await;
    let ready_after = resumed.elapsed();
    until("writes acknowledged again", PHASE_DEADLINE, || {
        let n = shared.seen().acked_by_phase[usize::from(AFTER)];
        async move { n >= 1 }
    })
    .await;
    let writing_after = resumed.elapsed();
    until("40 more acknowledged writes", PHASE_DEADLINE, || {
        let n = shared.seen().acked_by_phase[usize::from(AFTER)];
        async move { n >= 40 }
    })
    .await;
    shared.stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    no_failures(&shared);

    let seen = std::mem::take(&mut *shared.seen());
    assert_eq!(
        seen.unavailable_by_phase[usize::from(BEFORE)],
        0,
        "503 before the outage"
    );
    assert!(
        seen.acked.len() > acked_at_resume,
        "nothing acknowledged after the restart"
    );

    // The projectors recovered too: a read with the last write's token catches up.
    let last = seen
        .acked
        .iter()
        .map(|(_, t)| t.parse::<eventstore::Token>().unwrap())
        .max()
        .unwrap();
    let caught_up = tokio::time::timeout(
        PHASE_DEADLINE,
        http.get(format!(
            "{}/api/v1/reports/coverage?region=330602&date=2025-03-31&min_token={last}",
            svc.http
        ))
        .header("authorization", &county)
        .send(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        caught_up.status(),
        StatusCode::OK,
        "read-your-writes after the restart"
    );

    // Every acknowledged write is in the log, at the acknowledged token.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(svc.database_url())
        .await
        .unwrap();
    let mut missing = Vec::new();
    for (stream, token) in &seen.acked {
        let t: eventstore::Token = token.parse().unwrap();
        let found: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE stream_id = $1 AND tx_id = $2::text::xid8 AND position = $3",
        )
        .bind(stream)
        .bind(t.tx_id.to_string())
        .bind(t.position)
        .fetch_one(&pool)
        .await
        .unwrap();
        if found != 1 {
            missing.push(format!("{stream} at {token}"));
        }
    }
    assert!(
        missing.is_empty(),
        "acknowledged but not in the log: {missing:#?}"
    );
    pool.close().await;

    println!(
        "resilience: {} writes acknowledged ({} before the halt, {} while halting, {} while down, \
         {} after the resume); 503s: {} while halting, {} while down, {} after (slowest {:?}); \
         outage {:?}; resume took {:?}; /readyz 200 {:?} and writes acknowledged {:?} after \
         starting the resume",
        seen.acked.len(),
        seen.acked_by_phase[usize::from(BEFORE)],
        seen.acked_by_phase[usize::from(HALTING)],
        seen.acked_by_phase[usize::from(DOWN)],
        seen.acked_by_phase[usize::from(AFTER)],
        seen.unavailable_by_phase[usize::from(HALTING)],
        seen.unavailable_by_phase[usize::from(DOWN)],
        seen.unavailable_by_phase[usize::from(AFTER)],
        seen.slowest_503,
        outage,
        resume_took,
        ready_after,
        writing_after,
    );
    svc.stop().await;
}

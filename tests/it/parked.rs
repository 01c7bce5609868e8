//! Parked events (#5): retrying a parked stream once its cause is fixed, a retry that still fails, and
//! releasing a stream with a recorded reason. A test projector fails on the events whose `marker` it is
//! told is broken, so parking is provoked (and its cause lifted) at will.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventstore::{EventStore, ExpectedVersion, RecordedEvent};
use pg_harness::TestDb;
use projections::parked::{self, ParkedError};
use projections::{ApplyError, Projector, Runner, RunnerConfig, parked_count};
use sqlx::{Executor, PgConnection};

use crate::support::{event, head, request, store, within};

const DEADLINE: Duration = Duration::from_secs(20);
const ID: &str = "parked_test";

/// Records every event of a `parked-*` stream it applies (in `parked_test_applied`, in order of
/// application), and fails — after writing, so only the savepoint's rollback undoes it — on events whose
/// payload `marker` is in `broken`.
struct Flaky {
    broken: Mutex<HashSet<String>>,
    failures: AtomicU32,
}

impl Flaky {
    fn new(broken: &[&str]) -> Arc<Self> {
        Arc::new(Self {
            broken: Mutex::new(broken.iter().map(|m| (*m).to_owned()).collect()),
            failures: AtomicU32::new(0),
        })
    }

    fn fix(&self, marker: &str) {
        self.broken.lock().unwrap().remove(marker);
    }
}

impl Projector for Flaky {
    fn id(&self) -> &'static str {
        ID
    }

    fn tables(&self) -> &'static [&'static str] {
        &["parked_test_applied"]
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        event.stream_id.starts_with("parked-")
    }

    fn apply(
        &self,
        conn: &mut PgConnection,
        event: &RecordedEvent,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send {
        let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
        let marker = payload["marker"].as_str().unwrap_or_default().to_owned();
        let failure = self.broken.lock().unwrap().contains(&marker).then(|| {
            let n = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
            format!("marker {marker} is broken (failure {n})")
        });
        let (stream_id, version) = (
            event.stream_id.clone(),
            i64::try_from(event.stream_version).unwrap(),
        );
        async move {
            sqlx::query(
                "INSERT INTO parked_test_applied (stream_id, stream_version) VALUES ($1, $2)",
            )
            .bind(stream_id)
            .bind(version)
            .execute(conn)
            .await?;
            match failure {
                Some(error) => Err(ApplyError::Invalid(error)),
                None => Ok(()),
            }
        }
    }
}

/// A store (service role) on a fresh database with the test projector's table.
async fn setup() -> (EventStore, TestDb) {
    let (store, db) = store().await;
    let owner = db.owner_pool().await.unwrap();
    owner
        .execute(
            "CREATE TABLE parked_test_applied (
                 seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                 stream_id      text   NOT NULL,
                 stream_version bigint NOT NULL,
                 UNIQUE (stream_id, stream_version)
             );
             GRANT SELECT, INSERT ON parked_test_applied TO ledger_service;",
        )
        .await
        .unwrap();
    owner.close().await;
    (store, db)
}

/// Append one event with `marker` to `stream` as its version `version`.
async fn append(store: &EventStore, stream: &str, version: u64, marker: &str) {
    let expected = if version == 1 {
        ExpectedVersion::NoStream
    } else {
        ExpectedVersion::Exact(version - 1)
    };
    store
        .append(&request(
            stream,
            expected,
            vec![event("Thing", &format!(r#"{{"marker":"{marker}"}}"#))],
            &format!("{stream}-{version}"),
        ))
        .await
        .unwrap();
}

fn config() -> RunnerConfig {
    RunnerConfig {
        batch_size: 500,
        lease_retry: Duration::from_millis(20),
        error_backoff: Duration::from_millis(20),
        idle_check: Duration::from_secs(1),
        lead: true,
    }
}

/// Run the projector until it has processed the whole log.
async fn project(store: &EventStore, projector: &Arc<Flaky>) {
    let r = Runner::new(store.clone(), projector.clone(), config());
    let target = head(store).await;
    within(DEADLINE, "projector catching up", r.run_until(target))
        .await
        .unwrap();
}

/// The versions of `stream` in the read model, in the order they were applied.
async fn applied(store: &EventStore, stream: &str) -> Vec<u64> {
    let rows: Vec<i64> = sqlx::query_scalar(
        "SELECT stream_version FROM parked_test_applied WHERE stream_id = $1 ORDER BY seq",
    )
    .bind(stream)
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|v| u64::try_from(v).unwrap())
        .collect()
}

/// `(stream, version, error)` of every parked event.
async fn parked_rows(store: &EventStore) -> Vec<(String, u64, String)> {
    parked::list(store.pool(), ID)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.stream_id, p.stream_version, p.error))
        .collect()
}

fn stream(name: &str) -> String {
    format!("parked-{name}-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_parked_stream_is_retried_after_the_cause_is_fixed_and_later_events_apply_in_order() {
    let (store, _db) = setup().await;
    let projector = Flaky::new(&["bad"]);
    let (a, b) = (stream("a"), stream("b"));
    append(&store, &a, 1, "ok").await;
    append(&store, &a, 2, "bad").await;
    append(&store, &a, 3, "ok").await;
    append(&store, &b, 1, "ok").await;

    // A live runner parks a2 and a3 (behind it) and applies the rest.
    let live = Arc::new(Runner::new(store.clone(), projector.clone(), config()));
    let task = tokio::spawn({
        let r = live.clone();
        async move { r.run(std::future::pending()).await }
    });
    let t1 = head(&store).await;
    within(DEADLINE, "live runner parks", live.wait_for(t1, DEADLINE))
        .await
        .unwrap();
    let listed = parked::list(store.pool(), ID).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|p| (
                p.stream_id.as_str(),
                p.stream_version,
                p.event_type.as_str()
            ))
            .collect::<Vec<_>>(),
        vec![(a.as_str(), 2, "Thing"), (a.as_str(), 3, "Thing")]
    );
    assert!(
        listed[0].error.contains("marker bad is broken"),
        "{}",
        listed[0].error
    );
    assert!(
        listed[1].error.contains("parked since version 2"),
        "{}",
        listed[1].error
    );
    assert!(listed[0].token < listed[1].token);
    assert_eq!(applied(&store, &a).await, vec![1]);
    assert_eq!(applied(&store, &b).await, vec![1]);

    // An event of the stream arriving while it is parked waits behind it too.
    append(&store, &a, 4, "ok").await;
    let t2 = head(&store).await;
    within(DEADLINE, "a4 parked", live.wait_for(t2, DEADLINE))
        .await
        .unwrap();
    assert_eq!(
        parked_rows(&store)
            .await
            .iter()
            .map(|p| p.1)
            .collect::<Vec<_>>(),
        vec![2, 3, 4]
    );

    // The cause is fixed; the retry (with the live runner still leading) applies a2, a3, a4 in order.
    // It takes the fence a live batch takes first: while another transaction holds the checkpoint row,
    // the retry waits for it.
    projector.fix("bad");
    let mut fence = store.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM projection_checkpoints WHERE projector = $1 FOR UPDATE")
        .bind(ID)
        .fetch_one(&mut *fence)
        .await
        .unwrap();
    let retry = tokio::spawn({
        let (store, projector, a) = (store.clone(), projector.clone(), a.clone());
        async move { parked::retry(&store, &*projector, &a).await }
    });
    within(DEADLINE, "the retry waits on the fence", async {
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE '%projection_checkpoints%FOR UPDATE%'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(!retry.is_finished());
    assert_eq!(parked_count(store.pool(), ID).await.unwrap(), 3);
    fence.commit().await.unwrap();
    let report = within(DEADLINE, "retry", retry).await.unwrap().unwrap();
    assert_eq!(report.applied, vec![2, 3, 4], "{report}");
    assert!(report.released_stream());
    assert_eq!((report.still_parked, report.failure), (0, None));
    assert!(parked::list(store.pool(), ID).await.unwrap().is_empty());
    assert_eq!(parked_count(store.pool(), ID).await.unwrap(), 0);

    // Later events of the stream are applied by the live runner, after the retried ones.
    append(&store, &a, 5, "ok").await;
    let t3 = head(&store).await;
    within(DEADLINE, "a5 applied", live.wait_for(t3, DEADLINE))
        .await
        .unwrap();
    assert_eq!(applied(&store, &a).await, vec![1, 2, 3, 4, 5]);
    assert_eq!(applied(&store, &b).await, vec![1]);
    assert_eq!(parked_count(store.pool(), ID).await.unwrap(), 0);

    // Retrying a stream with nothing parked does nothing.
    let again = parked::retry(&store, &*projector, &a).await.unwrap();
    assert!(again.applied.is_empty() && again.still_parked == 0 && again.failure.is_none());
    assert_eq!(applied(&store, &a).await, vec![1, 2, 3, 4, 5]);
    task.abort();
    let _ = task.await;
}

#[tokio::test]
async fn a_retry_that_still_fails_keeps_the_stream_parked_with_the_new_error() {
    let (store, _db) = setup().await;
    let projector = Flaky::new(&["first", "second"]);
    let a = stream("a");
    append(&store, &a, 1, "first").await;
    append(&store, &a, 2, "ok").await;
    append(&store, &a, 3, "second").await;
    append(&store, &a, 4, "ok").await;
    project(&store, &projector).await;
    let parked_first = parked_rows(&store).await;
    assert_eq!(
        parked_first.iter().map(|p| p.1).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert!(
        parked_first[0]
            .2
            .contains("marker first is broken (failure "),
        "{}",
        parked_first[0].2
    );

    // Nothing fixed: the head fails again, with a new error, and everything stays parked.
    let report = parked::retry(&store, &*projector, &a).await.unwrap();
    assert!(report.applied.is_empty(), "{report}");
    assert_eq!(report.still_parked, 4);
    let failure = report.failure.clone().unwrap();
    assert_eq!(
        (failure.stream_version, failure.event_type.as_str()),
        (1, "Thing")
    );
    assert!(failure.permanent);
    assert!(
        failure.error.contains("marker first is broken (failure "),
        "{}",
        failure.error
    );
    let parked_again = parked_rows(&store).await;
    assert_eq!(parked_again.len(), 4);
    assert_eq!(
        parked_again[0].2, failure.error,
        "the new error is recorded"
    );
    assert_ne!(parked_again[0].2, parked_first[0].2);
    assert!(
        applied(&store, &a).await.is_empty(),
        "the failed apply was rolled back"
    );

    // One cause fixed: a1 and a2 apply, a3 fails with its own error, a3 and a4 stay parked.
    projector.fix("first");
    let report = parked::retry(&store, &*projector, &a).await.unwrap();
    assert_eq!(report.applied, vec![1, 2], "{report}");
    assert_eq!(report.still_parked, 2);
    let failure = report.failure.clone().unwrap();
    assert_eq!(failure.stream_version, 3);
    assert!(
        failure.error.contains("marker second is broken (failure "),
        "{}",
        failure.error
    );
    let parked_now = parked_rows(&store).await;
    assert_eq!(
        parked_now,
        vec![
            (a.clone(), 3, failure.error.clone()),
            (
                a.clone(),
                4,
                format!("stream {a} is parked since version 3; waiting behind it")
            ),
        ]
    );
    assert_eq!(
        applied(&store, &a).await,
        vec![1, 2],
        "a3's write was rolled back to its savepoint; what applied before it is committed"
    );

    // The stream is still parked for the live runtime: a later event waits behind a3.
    append(&store, &a, 5, "ok").await;
    project(&store, &projector).await;
    assert_eq!(parked_count(store.pool(), ID).await.unwrap(), 3);
    assert_eq!(applied(&store, &a).await, vec![1, 2]);
}

#[tokio::test]
async fn a_release_is_recorded_with_its_reason_and_an_empty_reason_is_refused() {
    let (store, _db) = setup().await;
    let projector = Flaky::new(&["bad"]);
    let (a, b) = (stream("a"), stream("b"));
    append(&store, &a, 1, "bad").await;
    append(&store, &a, 2, "ok").await;
    append(&store, &b, 1, "bad").await;
    project(&store, &projector).await;
    assert_eq!(parked_count(store.pool(), ID).await.unwrap(), 3);

    // No reason, no release.
    for reason in ["", "   "] {
        let refused = parked::release(store.pool(), ID, &a, reason).await;
        let Err(error @ ParkedError::ReasonRequired) = refused else {
            panic!("released without a reason: {refused:?}");
        };
        assert!(error.to_string().contains("reason"), "{error}");
    }
    assert_eq!(parked_count(store.pool(), ID).await.unwrap(), 3);

    let reason = "read model bug; fixed by a rebuild instead";
    let released = parked::release(store.pool(), ID, &a, reason).await.unwrap();
    assert_eq!(released, 2);
    let left = parked_rows(&store).await;
    assert_eq!(
        left.iter().map(|p| (p.0.as_str(), p.1)).collect::<Vec<_>>(),
        vec![(b.as_str(), 1)],
        "other streams stay parked"
    );

    let recorded: Vec<(String, String, i64, String, String, String, bool)> = sqlx::query_as(
        "SELECT projector, stream_id, stream_version, event_type, error, reason,
                released_at IS NOT NULL AND released_at <= now()
         FROM projection_released ORDER BY stream_id, stream_version",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    let (projector_id, stream_id, version, event_type, error, why, dated) = &recorded[0];
    assert_eq!(
        (
            projector_id.as_str(),
            stream_id,
            *version,
            event_type.as_str()
        ),
        (ID, &a, 1, "Thing")
    );
    assert!(error.contains("marker bad is broken"), "{error}");
    assert_eq!(why, reason);
    assert!(dated);
    assert_eq!(recorded[1].2, 2);
    assert!(
        recorded[1].4.contains("parked since version 1"),
        "{}",
        recorded[1].4
    );
    assert_eq!(recorded[1].5, reason);

    // The service role cannot rewrite the record.
    let tampered = sqlx::query("DELETE FROM projection_released")
        .execute(store.pool())
        .await
        .unwrap_err();
    assert_eq!(
        tampered
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("42501"),
        "{tampered}"
    );

    // Nothing is left to release; later events of the released stream apply as they come.
    assert_eq!(
        parked::release(store.pool(), ID, &a, reason).await.unwrap(),
        0
    );
    append(&store, &a, 3, "ok").await;
    project(&store, &projector).await;
    assert_eq!(applied(&store, &a).await, vec![3]);
    assert_eq!(parked_count(store.pool(), ID).await.unwrap(), 1);
}

/// A projector whose table is missing (an older version's projector still running after a migration
/// replaced its tables) neither parks the event nor moves its checkpoint: the batch is transient and
/// applies once the table is back.
#[tokio::test]
async fn a_missing_read_model_table_is_retried_not_parked() {
    let (store, db) = setup().await;
    let s = stream("schema");
    append(&store, &s, 1, "fine").await;
    // Once it is below the global-order fence (another test's open transaction may hold that back).
    let mut log = store.subscribe(eventstore::Token::START);
    let events = vec![
        within(DEADLINE, "the event readable", log.next())
            .await
            .unwrap(),
    ];
    let owner = db.owner_pool().await.unwrap();
    owner
        .execute("ALTER TABLE parked_test_applied RENAME TO parked_test_applied_away")
        .await
        .unwrap();
    let projector = Flaky::new(&[]);

    let outcome =
        projections::apply_batch(store.pool(), &*projector, eventstore::Token::START, &events)
            .await;
    assert!(
        matches!(
            outcome,
            Err(projections::ProjectionError::Transient { ref stream_id, .. }) if *stream_id == s
        ),
        "{outcome:?}"
    );
    assert_eq!(parked_count(store.pool(), ID).await.unwrap(), 0);

    owner
        .execute("ALTER TABLE parked_test_applied_away RENAME TO parked_test_applied")
        .await
        .unwrap();
    let outcome =
        projections::apply_batch(store.pool(), &*projector, eventstore::Token::START, &events)
            .await
            .unwrap();
    assert!(
        matches!(
            outcome,
            projections::BatchOutcome::Committed {
                applied: 1,
                parked: 0,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(applied(&store, &s).await, vec![1]);
    owner.close().await;
}

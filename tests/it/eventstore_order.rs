//! The global order: nothing skipped when commits arrive out of position order, each stream's versions
//! in order. These tests hold transactions open, so each runs on a private cluster (the fence is
//! cluster-wide).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use eventstore::{ExpectedVersion, RecordedEvent, Token};
use pg_harness::Cluster;
use sqlx::Executor;
use tokio::sync::Barrier;

use crate::support::{event, request, store_on, within};

/// As the owner: make every insert of an event whose metadata says `"hold"` sleep inside its
/// transaction after its position and tx_id were assigned, so it commits after later positions
/// (Marten's race-test technique).
async fn install_hold_trigger(owner: &sqlx::PgPool) {
    owner
        .execute(
            r#"CREATE FUNCTION test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                 IF NEW.metadata::text LIKE '%"hold_ms":%' THEN
                   PERFORM pg_sleep(((NEW.metadata::jsonb ->> 'hold_ms')::int) / 1000.0);
                 END IF;
                 RETURN NEW;
               END $$;
               CREATE TRIGGER test_hold AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION test_hold();"#,
        )
        .await
        .unwrap();
}

fn held_event(n: usize, hold_ms: u64) -> eventstore::NewEvent {
    let mut e = event("ActivityRecorded", &format!(r#"{{"n":{n}}}"#));
    if hold_ms > 0 {
        e.metadata = format!(r#"{{"actor":"test","hold_ms":{hold_ms}}}"#);
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_sees_every_event_exactly_once_in_order_while_commits_arrive_out_of_order() {
    const WRITERS: usize = 16;
    const PER_WRITER: usize = 640; // 10 240 events
    let cluster = Cluster::private().unwrap();
    let (store, db) = store_on(&cluster, 24).await;
    install_hold_trigger(&db.owner_pool().await.unwrap()).await;

    let total = WRITERS * PER_WRITER;
    let subscriber = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut sub = store.subscribe(Token::START);
            let mut seen = Vec::with_capacity(total);
            while seen.len() < total {
                seen.push(sub.next().await.unwrap());
            }
            seen
        })
    };

    let barrier = Arc::new(Barrier::new(WRITERS));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                for i in 0..PER_WRITER {
                    // Every 16th append holds its transaction open 1–20 ms after taking its position.
                    let hold = if (i + w) % 16 == 0 {
                        1 + ((i * 7 + w * 3) % 20) as u64
                    } else {
                        0
                    };
                    let stream = format!("activity-w{w}-{}", i / 100);
                    let expected = if i % 100 == 0 {
                        ExpectedVersion::NoStream
                    } else {
                        ExpectedVersion::Exact((i % 100) as u64)
                    };
                    store
                        .append(&request(
                            &stream,
                            expected,
                            vec![held_event(i, hold)],
                            &format!("w{w}-{i}"),
                        ))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        within(Duration::from_secs(300), "writers", w)
            .await
            .unwrap();
    }
    let seen: Vec<RecordedEvent> = within(
        Duration::from_secs(120),
        "subscriber to catch up",
        subscriber,
    )
    .await
    .unwrap();

    assert_eq!(seen.len(), total);
    let unique: HashSet<(String, u64)> = seen
        .iter()
        .map(|e| (e.stream_id.clone(), e.stream_version))
        .collect();
    assert_eq!(unique.len(), total, "an event was delivered twice");
    assert!(
        seen.windows(2).all(|w| w[0].token < w[1].token),
        "delivery is in (tx_id, position) order"
    );
    let all: Vec<Token> = store
        .read_all_after(Token::START, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.token)
        .collect();
    assert_eq!(
        seen.iter().map(|e| e.token).collect::<Vec<_>>(),
        all,
        "the subscriber saw exactly the log"
    );
    // Nothing new arrives after the end: the subscription is live and idle, not replaying.
    let mut sub = store.subscribe(*all.last().unwrap());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.next())
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_a_stream_global_order_equals_version_order_even_when_appends_overlap() {
    let cluster = Cluster::private().unwrap();
    let (store, db) = store_on(&cluster, 16).await;
    install_hold_trigger(&db.owner_pool().await.unwrap()).await;

    // 1) The forced interleaving: version 1 holds its transaction open; version 2's append starts while
    //    it is uncommitted (it waits on the unique key or finds no head, then retries as `Any`).
    let first = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .append(&request(
                    "team-o",
                    ExpectedVersion::NoStream,
                    vec![held_event(1, 400)],
                    "o1",
                ))
                .await
                .unwrap()
        })
    };
    within(Duration::from_secs(10), "version 1 to be in flight", async {
        loop {
            let in_flight: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()",
            )
            .fetch_one(store.pool())
            .await
            .unwrap();
            if in_flight > 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let second = store
        .append(&request(
            "team-o",
            ExpectedVersion::Any,
            vec![held_event(2, 0)],
            "o2",
        ))
        .await
        .unwrap();
    let first = first.await.unwrap();
    assert_eq!(
        (first.result.first_version, second.result.first_version),
        (1, 2)
    );
    assert!(
        first.result.last_token() < second.result.last_token(),
        "version 2 is after version 1 in the global order"
    );

    // 2) Many writers appending to few streams with `Any`, some holding their transactions.
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..60 {
                    let stream = format!("team-s{}", i % 3);
                    let hold = if (i + w) % 9 == 0 { 15 } else { 0 };
                    store
                        .append(&request(
                            &stream,
                            ExpectedVersion::Any,
                            vec![held_event(i, hold)],
                            &format!("s{w}-{i}"),
                        ))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        within(Duration::from_secs(120), "writers", t)
            .await
            .unwrap();
    }
    let all = store.read_all_after(Token::START, 100_000).await.unwrap();
    let mut last_version: HashMap<&str, u64> = HashMap::new();
    for e in &all {
        let prev = last_version
            .insert(&e.stream_id, e.stream_version)
            .unwrap_or(0);
        assert_eq!(
            e.stream_version,
            prev + 1,
            "{} version {} came after version {prev}",
            e.stream_id,
            e.stream_version
        );
    }
    assert_eq!(all.len(), 2 + 8 * 60);
}

//! Appends: expected versions, idempotency, claims and bad input.

use std::sync::Arc;

use eventstore::{AppendError, Claim, ExpectedVersion};
use tokio::sync::Barrier;

use crate::support::{command, count_events, event, request, store};

#[tokio::test]
async fn sixteen_racing_appends_of_the_same_next_version_exactly_one_wins() {
    let (store, _db) = store().await;
    let stream = "team-race";
    for v in 0..3u64 {
        let expected = if v == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(v)
        };
        store
            .append(&request(
                stream,
                expected,
                vec![event("TeamAmended", "{}")],
                &format!("setup-{v}"),
            ))
            .await
            .unwrap();
    }
    let barrier = Arc::new(Barrier::new(16));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let req = request(
                stream,
                ExpectedVersion::Exact(3),
                vec![event("TeamAmended", &format!(r#"{{"i":{i}}}"#))],
                &format!("race-{i}"),
            );
            barrier.wait().await;
            store.append(&req).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(o) => {
                won += 1;
                assert_eq!((o.result.first_version, o.result.last_version), (4, 4));
            }
            Err(AppendError::WrongVersion {
                expected, actual, ..
            }) => {
                assert_eq!(expected, ExpectedVersion::Exact(3));
                assert_eq!(actual, 4);
            }
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.current_version(stream).await.unwrap(), 4);
    assert_eq!(count_events(&store).await, 4);
}

#[tokio::test]
async fn appends_check_contiguity_a_version_beyond_the_head_is_refused() {
    let (store, _db) = store().await;
    store
        .append(&request(
            "team-c",
            ExpectedVersion::NoStream,
            vec![event("TeamRegistered", "{}")],
            "a",
        ))
        .await
        .unwrap();
    let err = store
        .append(&request(
            "team-c",
            ExpectedVersion::Exact(5),
            vec![event("TeamAmended", "{}")],
            "b",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::WrongVersion {
                actual: 1,
                expected: ExpectedVersion::Exact(5),
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .append(&request(
            "team-c",
            ExpectedVersion::NoStream,
            vec![event("TeamRegistered", "{}")],
            "c",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::WrongVersion {
                actual: 1,
                expected: ExpectedVersion::NoStream,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(count_events(&store).await, 1);
}

#[tokio::test]
async fn a_multi_event_append_is_chained_in_order_and_any_appends_after_the_head() {
    let (store, _db) = store().await;
    let events = (0..5)
        .map(|i| event("ActivityRecorded", &format!(r#"{{"n":{i}}}"#)))
        .collect();
    let out = store
        .append(&request(
            "activity-m",
            ExpectedVersion::NoStream,
            events,
            "m1",
        ))
        .await
        .unwrap();
    assert_eq!((out.result.first_version, out.result.last_version), (1, 5));
    assert!(
        out.result.tokens.windows(2).all(|w| w[0] < w[1]),
        "tokens follow version order"
    );
    let out = store
        .append(&request(
            "activity-m",
            ExpectedVersion::Any,
            vec![event("ActivityVoided", "{}")],
            "m2",
        ))
        .await
        .unwrap();
    assert_eq!(out.result.first_version, 6);
    let read = store.read_stream("activity-m").await.unwrap();
    assert_eq!(
        read.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(read[0].prev_hash, eventstore::hash::GENESIS);
    assert!(read.windows(2).all(|w| w[1].prev_hash == w[0].hash));
    assert_eq!(
        read[2].payload, r#"{"n":2}"#,
        "payload bytes are stored exactly"
    );
    assert!(
        store
            .verify_stream("activity-m")
            .await
            .unwrap()
            .first_mismatch
            .is_none()
    );
}

#[tokio::test]
async fn a_retried_command_returns_the_first_result_and_writes_nothing() {
    let (store, _db) = store().await;
    let req = request(
        "volunteer-r",
        ExpectedVersion::NoStream,
        vec![event("VolunteerRegistered", "{}")],
        "retry-1",
    );
    let first = store.append(&req).await.unwrap();
    assert!(!first.replayed);
    let again = store.append(&req).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.result, first.result);
    // Also when the client retries after the stream moved on (its expected version is stale or fresh).
    store
        .append(&request(
            "volunteer-r",
            ExpectedVersion::Exact(1),
            vec![event("VolunteerJoinedTeam", "{}")],
            "other",
        ))
        .await
        .unwrap();
    let mut moved = req.clone();
    moved.expected = ExpectedVersion::Exact(2);
    let again = store.append(&moved).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.result, first.result);
    assert_eq!(
        store
            .find_idempotent(&req.command)
            .await
            .unwrap()
            .unwrap()
            .result,
        first.result
    );
    assert_eq!(count_events(&store).await, 2);
}

#[tokio::test]
async fn a_reused_idempotency_key_with_a_different_body_is_rejected() {
    let (store, _db) = store().await;
    let mut req = request(
        "volunteer-k",
        ExpectedVersion::NoStream,
        vec![event("VolunteerRegistered", "{}")],
        "same-key",
    );
    store.append(&req).await.unwrap();
    req.stream_id = "volunteer-other".to_owned();
    req.command = command("same-key", "a different command body");
    let err = store.append(&req).await.unwrap_err();
    assert!(
        matches!(err, AppendError::IdempotencyConflict { ref idempotency_key } if idempotency_key == "same-key"),
        "{err:?}"
    );
    assert!(matches!(
        store.find_idempotent(&req.command).await,
        Err(AppendError::IdempotencyConflict { .. })
    ));
    assert_eq!(count_events(&store).await, 1);
}

#[tokio::test]
async fn concurrent_duplicates_of_one_command_all_get_the_single_result() {
    let (store, _db) = store().await;
    let req = request(
        "activity-dup",
        ExpectedVersion::NoStream,
        vec![event("ActivityRecorded", "{}")],
        "dup",
    );
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, barrier, req) = (store.clone(), barrier.clone(), req.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.append(&req).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().unwrap());
    }
    assert_eq!(results.iter().filter(|o| !o.replayed).count(), 1);
    assert!(results.iter().all(|o| o.result == results[0].result));
    assert_eq!(count_events(&store).await, 1);
}

#[tokio::test]
async fn a_uniqueness_claim_held_by_another_stream_refuses_the_whole_append() {
    let (store, _db) = store().await;
    let claim = Claim {
        scope: "person".to_owned(),
        key: "ab12".to_owned(),
    };
    let mut first = request(
        "volunteer-a",
        ExpectedVersion::NoStream,
        vec![event("VolunteerRegistered", "{}")],
        "c1",
    );
    first.claims = vec![claim.clone()];
    store.append(&first).await.unwrap();
    let mut second = request(
        "volunteer-b",
        ExpectedVersion::NoStream,
        vec![event("VolunteerRegistered", "{}")],
        "c2",
    );
    second.claims = vec![claim.clone()];
    let err = store.append(&second).await.unwrap_err();
    assert!(
        matches!(err, AppendError::ClaimTaken { ref scope, ref held_by } if scope == "person" && held_by == "volunteer-a"),
        "{err:?}"
    );
    assert_eq!(count_events(&store).await, 1);
    assert_eq!(store.current_version("volunteer-b").await.unwrap(), 0);
    // Erasure releases the claim; the person may register again.
    assert!(store.release_claim("person", "ab12").await.unwrap());
    second.command = command("c3", "retry after release");
    store.append(&second).await.unwrap();
}

#[tokio::test]
async fn bad_input_is_a_typed_error_naming_the_field_and_writes_nothing() {
    let (_, db) = store().await;
    let known = [("TeamRegistered".to_owned(), 1)].into_iter().collect();
    let store_ = eventstore::EventStore::new(
        db.app_pool(2).await.unwrap(),
        eventstore::StoreConfig {
            known_event_types: Some(Arc::new(known)),
            max_payload_bytes: 1024,
            ..Default::default()
        },
    );
    let ok = || {
        request(
            "team-x",
            ExpectedVersion::NoStream,
            vec![event("TeamRegistered", "{}")],
            "k",
        )
    };
    let cases: Vec<(&str, eventstore::AppendRequest)> = vec![
        ("stream_id", {
            let mut r = ok();
            r.stream_id = String::new();
            r
        }),
        ("stream_id", {
            let mut r = ok();
            r.stream_id = "no_dash".into();
            r
        }),
        ("stream_id", {
            let mut r = ok();
            r.stream_id = "Team-1".into();
            r
        }),
        ("events", {
            let mut r = ok();
            r.events.clear();
            r
        }),
        ("events[0].event_type", {
            let mut r = ok();
            r.events[0].event_type = "TeamExploded".into();
            r
        }),
        ("events[0].event_type", {
            let mut r = ok();
            r.events[0].event_type = "bad type!".into();
            r
        }),
        ("events[0].schema_version", {
            let mut r = ok();
            r.events[0].schema_version = 0;
            r
        }),
        ("events[0].payload", {
            let mut r = ok();
            r.events[0].payload = format!(r#"{{"x":"{}"}}"#, "a".repeat(2000));
            r
        }),
        ("events[0].payload", {
            let mut r = ok();
            r.events[0].payload = "[1,2]".into();
            r
        }),
        ("events[0].payload", {
            let mut r = ok();
            r.events[0].payload = "{not json".into();
            r
        }),
        ("events[0].metadata", {
            let mut r = ok();
            r.events[0].metadata = "null".into();
            r
        }),
        ("expected_version", {
            let mut r = ok();
            r.expected = ExpectedVersion::Exact(0);
            r
        }),
        ("idempotency_key", {
            let mut r = ok();
            r.command.idempotency_key = String::new();
            r
        }),
        ("principal", {
            let mut r = ok();
            r.command.principal = String::new();
            r
        }),
    ];
    for (field, req) in cases {
        match store_.append(&req).await {
            Err(AppendError::InvalidInput { field: f, reason }) => {
                assert_eq!(f, field, "{reason}");
                assert!(!reason.is_empty());
            }
            other => panic!("{field}: expected InvalidInput, got {other:?}"),
        }
    }
    assert_eq!(
        ExpectedVersion::from_i64(-1),
        None,
        "a negative expected version is refused at the boundary"
    );
    assert_eq!(
        ExpectedVersion::from_i64(0),
        Some(ExpectedVersion::NoStream)
    );
    assert_eq!(count_events(&store_).await, 0);
    let idem: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(store_.pool())
        .await
        .unwrap();
    assert_eq!(idem, 0);
}

#[tokio::test]
async fn idempotency_keys_older_than_the_retention_are_purged_and_recent_ones_kept() {
    let (store, _db) = store().await;
    store
        .append(&request(
            "team-p",
            ExpectedVersion::NoStream,
            vec![event("TeamRegistered", "{}")],
            "old",
        ))
        .await
        .unwrap();
    let cutoff = chrono::Utc::now() - chrono::Duration::days(30);
    assert_eq!(store.purge_idempotency_keys(cutoff).await.unwrap(), 0);
    assert_eq!(
        store
            .purge_idempotency_keys(chrono::Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
}

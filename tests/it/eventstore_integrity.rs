//! Immutability and tamper evidence of the log.

use eventstore::verify::Problem;
use eventstore::{ExpectedVersion, Token};
use sqlx::Executor;

use crate::support::{event, request, store};

async fn three_events(store: &eventstore::EventStore, stream: &str) {
    store
        .append(&request(
            stream,
            ExpectedVersion::NoStream,
            vec![event("TeamRegistered", r#"{"n":1}"#)],
            &format!("{stream}1"),
        ))
        .await
        .unwrap();
    store
        .append(&request(
            stream,
            ExpectedVersion::Exact(1),
            vec![event("TeamAmended", r#"{"n":2}"#)],
            &format!("{stream}2"),
        ))
        .await
        .unwrap();
    store
        .append(&request(
            stream,
            ExpectedVersion::Exact(2),
            vec![event("TeamAmended", r#"{"n":3}"#)],
            &format!("{stream}3"),
        ))
        .await
        .unwrap();
}

fn sqlstate(e: &sqlx::Error) -> String {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_service_role_cannot_update_delete_or_truncate_the_log() {
    let (store, _db) = store().await;
    three_events(&store, "team-i").await;
    for stmt in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(stmt).execute(store.pool()).await.unwrap_err();
        assert_eq!(
            sqlstate(&err),
            "42501",
            "{stmt} must be refused for lack of privilege: {err}"
        );
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 3);
}

#[tokio::test]
async fn the_trigger_refuses_changes_even_for_the_owner() {
    let (store, db) = store().await;
    three_events(&store, "team-t").await;
    let owner = db.owner_pool().await.unwrap();
    for stmt in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(stmt).execute(&owner).await.unwrap_err();
        assert_eq!(sqlstate(&err), "VL001", "{stmt}: {err}");
    }
}

#[tokio::test]
async fn verify_names_a_row_the_owner_altered_behind_the_trigger() {
    let (store, db) = store().await;
    three_events(&store, "team-v").await;
    three_events(&store, "team-w").await;
    assert_eq!(
        store
            .verify_range(Token::START)
            .await
            .unwrap()
            .first_mismatch,
        None
    );
    let owner = db.owner_pool().await.unwrap();
    owner
        .execute(
            r#"ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete;
               UPDATE events SET payload = '{"n":20}' WHERE stream_id = 'team-v' AND stream_version = 2;
               ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete;"#,
        )
        .await
        .unwrap();
    for report in [
        store.verify_stream("team-v").await.unwrap(),
        store.verify_range(Token::START).await.unwrap(),
    ] {
        let m = report.first_mismatch.expect("the altered row is found");
        assert_eq!(
            (m.stream_id.as_str(), m.stream_version, m.problem),
            ("team-v", 2, Problem::ContentAltered)
        );
    }
    assert_eq!(
        store.verify_stream("team-w").await.unwrap().first_mismatch,
        None
    );
}

#[tokio::test]
async fn verify_names_a_deleted_event_and_a_reordered_pair() {
    let (store, db) = store().await;
    three_events(&store, "team-d").await;
    three_events(&store, "team-s").await;
    let owner = db.owner_pool().await.unwrap();
    owner
        .execute(
            r#"ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete;
               DELETE FROM events WHERE stream_id = 'team-d' AND stream_version = 2;
               UPDATE events SET stream_version = stream_version + 1000 WHERE stream_id = 'team-s' AND stream_version IN (2, 3);
               UPDATE events SET stream_version = CASE stream_version WHEN 1002 THEN 3 ELSE 2 END WHERE stream_id = 'team-s' AND stream_version > 1000;
               ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete;"#,
        )
        .await
        .unwrap_or_else(|e| panic!("tamper: {e}"));
    let gap = store
        .verify_stream("team-d")
        .await
        .unwrap()
        .first_mismatch
        .unwrap();
    assert_eq!(
        (gap.stream_version, gap.problem),
        (
            3,
            Problem::VersionGap {
                expected: 2,
                found: 3
            }
        )
    );
    let swapped = store
        .verify_stream("team-s")
        .await
        .unwrap()
        .first_mismatch
        .unwrap();
    assert_eq!(swapped.stream_version, 2);
    assert_eq!(swapped.problem, Problem::BrokenLink);
    let range = store
        .verify_range(Token::START)
        .await
        .unwrap()
        .first_mismatch
        .unwrap();
    assert!(
        range.stream_id == "team-d" || range.stream_id == "team-s",
        "{range}"
    );
}

#[tokio::test]
async fn verify_checks_rows_a_long_transaction_elsewhere_hides_from_readers() {
    // Holds a transaction open: a private cluster, since the fence is cluster-wide.
    let cluster = pg_harness::Cluster::private().unwrap();
    let (store, db) = crate::support::store_on(&cluster, 4).await;
    let owner = db.owner_pool().await.unwrap();
    let mut holder = owner.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *holder)
        .await
        .unwrap();
    three_events(&store, "team-h").await;
    assert!(
        store
            .read_all_after(Token::START, 100)
            .await
            .unwrap()
            .is_empty(),
        "readers wait behind the older open transaction"
    );
    owner
        .execute(
            r#"ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete;
               UPDATE events SET metadata = '{"actor":"mallory"}' WHERE stream_id = 'team-h' AND stream_version = 3;
               ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete;"#,
        )
        .await
        .unwrap();
    let report = store.verify_range(Token::START).await.unwrap();
    let m = report
        .first_mismatch
        .expect("verification must not be hidden by the fence");
    assert_eq!(
        (m.stream_id.as_str(), m.stream_version, m.problem),
        ("team-h", 3, Problem::ContentAltered)
    );
    assert_eq!(report.events_checked, 2);
    holder.rollback().await.unwrap();
}

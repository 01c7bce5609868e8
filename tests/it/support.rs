//! Helpers shared by the tests: stores on fresh databases, requests, and waiting on conditions.

use std::future::Future;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use eventstore::{
    AppendRequest, CommandIdentity, EventStore, ExpectedVersion, NewEvent, StoreConfig,
};
use pg_harness::{Cluster, TestDb};

/// A fresh database on the shared cluster and a store connected as the service role.
pub async fn store() -> (EventStore, TestDb) {
    let db = Cluster::shared().unwrap().database().await.unwrap();
    let store = EventStore::new(db.app_pool(20).await.unwrap(), StoreConfig::default());
    (store, db)
}

/// A store on a database of `cluster`, with `connections` pool connections.
pub async fn store_on(cluster: &Cluster, connections: u32) -> (EventStore, TestDb) {
    let db = cluster.database().await.unwrap();
    let store = EventStore::new(
        db.app_pool(connections).await.unwrap(),
        StoreConfig::default(),
    );
    (store, db)
}

pub fn event(event_type: &str, payload: &str) -> NewEvent {
    NewEvent {
        event_type: event_type.to_owned(),
        schema_version: 1,
        payload: payload.to_owned(),
        metadata: r#"{"actor":"test"}"#.to_owned(),
        occurred_at: Utc.with_ymd_and_hms(2024, 3, 24, 9, 30, 0).unwrap(),
    }
}

/// A command identity whose fingerprint is derived from `body` (stand-in for the keyed hash of the
/// plaintext command that the application layer computes).
pub fn command(key: &str, body: &str) -> CommandIdentity {
    use sha2::Digest;
    CommandIdentity {
        principal: "county-cdc-330602".to_owned(),
        idempotency_key: key.to_owned(),
        fingerprint: sha2::Sha256::digest(body.as_bytes()).into(),
    }
}

pub fn request(
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    key: &str,
) -> AppendRequest {
    let body = format!("{stream}|{events:?}");
    AppendRequest {
        stream_id: stream.to_owned(),
        expected,
        events,
        command: command(key, &body),
        claims: vec![],
    }
}

/// Count the rows of the log (as the service role).
pub async fn count_events(store: &EventStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Await `fut`, failing the test if it takes longer than `deadline`.
pub async fn within<T>(deadline: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(deadline, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: not done within {deadline:?}"),
    }
}

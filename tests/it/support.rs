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

/// A clock the test sets.
#[derive(Debug)]
pub struct TestClock(pub std::sync::Mutex<chrono::DateTime<Utc>>);

impl TestClock {
    pub fn at(t: chrono::DateTime<Utc>) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self(std::sync::Mutex::new(t)))
    }

    pub fn set(&self, t: chrono::DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
}

impl eventstore::Clock for TestClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub const TEST_MASTER_KEY: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub const TEST_HASH_KEY: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f";

/// The application service on a fresh database, with a clock the test controls.
pub struct TestLedger {
    pub ledger: app::Ledger,
    pub clock: std::sync::Arc<TestClock>,
}

pub async fn ledger(campaign: domain::ids::CampaignId) -> TestLedger {
    let db = Cluster::shared().unwrap().database().await.unwrap();
    let pool = db.app_pool(10).await.unwrap();
    let clock = TestClock::at(Utc.with_ymd_and_hms(2024, 6, 1, 2, 0, 0).unwrap());
    let store = EventStore::with_clock(pool.clone(), StoreConfig::default(), clock.clone());
    let master = personal_data::MasterKey::from_config_text(1, TEST_MASTER_KEY).unwrap();
    let vault = person_vault::PersonVault::new(pool, std::sync::Arc::new(master));
    let hasher = personal_data::KeyedHasher::from_config_text(TEST_HASH_KEY).unwrap();
    let ledger = app::Ledger::new(
        store,
        vault,
        hasher,
        clock.clone(),
        app::LedgerConfig { campaign },
    );
    TestLedger { ledger, clock }
}

/// A command context for `role` acting in `regions` / `teams`, with a fresh idempotency key.
pub fn ctx(
    role: app::Role,
    regions: &[&str],
    teams: &[domain::ids::TeamId],
) -> app::CommandContext {
    app::CommandContext {
        actor: app::Actor {
            subject: format!("{}-{}", role.as_str(), regions.join("+")),
            role,
            regions: regions
                .iter()
                .map(|r| domain::ids::RegionCode::parse("region", r).unwrap())
                .collect(),
            teams: teams.to_vec(),
            grants: vec![],
        },
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        correlation_id: None,
        causation_id: None,
        client: "test".to_owned(),
    }
}

/// A valid GB 11643 resident ID number for `region` (6 digits), birth date `yyyymmdd` and sequence.
pub fn resident_id(region: &str, birth: &str, seq: &str) -> String {
    let body = format!("{region}{birth}{seq}");
    format!(
        "{body}{}",
        domain::identity::gb11643_check_char(&body).unwrap()
    )
}

/// The token of the newest event in the log (what a test waits for). The text column has its own name:
/// `ORDER BY tx_id` would otherwise sort by the *text* output column ("999" after "1000") and return a
/// token too low once transaction ids cross a digit boundary.
pub async fn head(store: &EventStore) -> eventstore::Token {
    let (tx, position): (String, i64) = sqlx::query_as(
        "SELECT tx_id::text AS tx_text, position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    eventstore::Token {
        tx_id: tx.parse().unwrap(),
        position,
    }
}

/// Fixture values of the projection tests: a date, an RFC 3339 instant, a text, a region code and a
/// person (the values are valid; a bad one fails the test at once).
pub fn date(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn at(s: &str) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
}

pub fn text(s: &str) -> domain::ids::Text {
    domain::ids::Text::parse("t", s, 1000).unwrap()
}

pub fn code(s: &str) -> domain::ids::RegionCode {
    domain::ids::RegionCode::parse("region", s).unwrap()
}

pub fn person(name: &str) -> personal_data::PersonalRecord {
    personal_data::PersonalRecord {
        name: name.to_owned(),
        id_number: None,
        phone: Some("13800000000".into()),
    }
}

/// 浙江省 → 绍兴市 and the given counties of 绍兴市 (synthetic names `区划<code>`), defined through the
/// application layer by the province-wide city CDC.
pub async fn define_regions(ledger: &app::Ledger, counties: &[&str]) {
    use domain::region::{DefineRegion, RegionCommand, RegionLevel};
    let mut regions = vec![
        ("330000", RegionLevel::Province, None),
        ("330600", RegionLevel::City, Some("330000")),
    ];
    regions.extend(
        counties
            .iter()
            .map(|c| (*c, RegionLevel::County, Some("330600"))),
    );
    for (c, level, parent) in regions {
        let define = RegionCommand::Define(DefineRegion {
            code: code(c),
            name: text(&format!("区划{c}")),
            level,
            parent: parent.map(code),
            valid_from: date(2013, 10, 18),
            valid_to: None,
        });
        // A fresh context (and idempotency key) per command.
        let province = ctx(app::Role::CityCdc, &["330000"], &[]);
        ledger.region(&province, code(c), define).await.unwrap();
    }
}

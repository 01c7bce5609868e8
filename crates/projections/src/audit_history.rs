//! # Audit history (A20): every event by record, actor, role, command and time, with correlation ids
//!
//! Policy of this module:
//! - Projector id `audit_history`. It consumes **every** event of the log: one row per event in table
//!   `audit_history`, keyed by its token `(tx_id, position)`, holding the event row's ids and times and
//!   what the command pipeline wrote into its metadata (`crates/app/src/pipeline.rs`: `actor`, `role`,
//!   `command`, `correlation_id`, `causation_id`, `subject_region`, `subject_team`).
//! - **Ids only.** The actor is an account id, the subject a region code and a team id, the record its
//!   stream id; nothing of the payload is copied and nothing is decrypted.
//! - **Never parks on content.** Metadata that is not the pipeline's (an event written by another tool,
//!   a field missing or malformed) gives NULL columns, never a failed apply: an audit trail with holes
//!   where it could not read is worse than a row that says "unknown". The insert is idempotent on the
//!   token.
//! - **Writes are set-based per run** ([`crate::batch`]): the events of a batch are decoded into rows
//!   first, then inserted with one multi-row statement (`unnest`) per run; one event alone is a run of
//!   one.
//! - **Scope.** [`history`] answers only rows whose subject region is covered by one of the given scope
//!   regions (itself, or the city / province above it); a row without a subject region is covered by no
//!   scope.
//! - **Paged in the global order** after a cursor token, so a page never shifts when new events arrive;
//!   each filter is an equality on an indexed column (stream, actor, command, correlation id) or a
//!   `recorded_at` range `[from, to)`. One snapshot per answer, which states the checkpoint it reflects.

use chrono::{DateTime, Utc};
use domain::ids::RegionCode;
use eventstore::{RecordedEvent, Token};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::batch;
use crate::compliance::{answer_state, snapshot};
use crate::error::{ApplyError, ProjectionError};
use crate::runtime::Projector;

/// The largest page [`history`] answers.
pub const MAX_PAGE: i64 = 1000;

mod sql {
    /// Binds, one element per event of a run (`crate::batch`): $1 tx_ids (text[]), $2 positions,
    /// $3 stream_ids, $4 categories, $5 stream_versions, $6 event_types, $7 actors, $8 roles, $9 commands,
    /// $10 correlation_ids, $11 causation_ids, $12 subject_regions, $13 subject_cities,
    /// $14 subject_provinces, $15 subject_teams, $16 occurred_at, $17 recorded_at.
    pub const INSERT: &str = "INSERT INTO audit_history
(tx_id, position, stream_id, category, stream_version, event_type, actor, role, command, correlation_id,
 causation_id, subject_region, subject_city, subject_province, subject_team, occurred_at, recorded_at)
SELECT u.tx_text::xid8, u.position, u.stream_id, u.category, u.stream_version, u.event_type, u.actor,
    u.role, u.command, u.correlation_id, u.causation_id, u.subject_region, u.subject_city,
    u.subject_province, u.subject_team, u.occurred_at, u.recorded_at
FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::uuid[],
    $16::timestamptz[], $17::timestamptz[])
    AS u(tx_text, position, stream_id, category, stream_version, event_type, actor, role, command,
         correlation_id, causation_id, subject_region, subject_city, subject_province, subject_team,
         occurred_at, recorded_at)
ON CONFLICT (tx_id, position) DO NOTHING";

    /// Binds: $1 after tx_id (text), $2 after position, $3 scope regions (text[]), $4 stream_id,
    /// $5 category, $6 actor, $7 role, $8 command, $9 event_type, $10 correlation_id, $11 from
    /// (inclusive), $12 to (exclusive), $13 limit. A NULL filter does not filter.
    pub const HISTORY: &str =
        "SELECT tx_id::text AS tx_text, position, stream_id, category, stream_version,
    event_type, actor, role, command, correlation_id, causation_id, subject_region, subject_team,
    occurred_at, recorded_at
FROM audit_history
WHERE (tx_id, position) > ($1::text::xid8, $2)
  AND (subject_region = ANY($3) OR subject_city = ANY($3) OR subject_province = ANY($3))
  AND ($4::text IS NULL OR stream_id = $4)
  AND ($5::text IS NULL OR category = $5)
  AND ($6::text IS NULL OR actor = $6)
  AND ($7::text IS NULL OR role = $7)
  AND ($8::text IS NULL OR command = $8)
  AND ($9::text IS NULL OR event_type = $9)
  AND ($10::text IS NULL OR correlation_id = $10)
  AND ($11::timestamptz IS NULL OR recorded_at >= $11)
  AND ($12::timestamptz IS NULL OR recorded_at < $12)
ORDER BY tx_id, position
LIMIT $13";
}

/// The audit-history projector (id `audit_history`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditHistoryProjector;

impl AuditHistoryProjector {
    pub const ID: &'static str = "audit_history";
}

/// What the pipeline writes into event metadata that the history keeps (every field optional).
#[derive(Debug, Default)]
struct Metadata {
    actor: Option<String>,
    role: Option<String>,
    command: Option<String>,
    correlation_id: Option<String>,
    causation_id: Option<String>,
    subject_region: Option<String>,
    subject_team: Option<String>,
}

/// Each field on its own: a malformed field is NULL, the others are kept.
fn metadata(text: &str) -> Metadata {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) else {
        return Metadata::default();
    };
    let field = |name: &str| map.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    Metadata {
        actor: field("actor"),
        role: field("role"),
        command: field("command"),
        correlation_id: field("correlation_id"),
        causation_id: field("causation_id"),
        subject_region: field("subject_region"),
        subject_team: field("subject_team"),
    }
}

fn version_i64(event: &RecordedEvent) -> Result<i64, ApplyError> {
    i64::try_from(event.stream_version).map_err(|_| {
        ApplyError::Invalid(format!(
            "{} has version {}",
            event.stream_id, event.stream_version
        ))
    })
}

impl Projector for AuditHistoryProjector {
    fn id(&self) -> &'static str {
        Self::ID
    }

    fn tables(&self) -> &'static [&'static str] {
        &["audit_history"]
    }

    fn handles(&self, _event: &RecordedEvent) -> bool {
        true
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        self.apply_many(conn, &[event]).await
    }

    async fn apply_many(
        &self,
        conn: &mut PgConnection,
        events: &[&RecordedEvent],
    ) -> Result<(), ApplyError> {
        let rows = events
            .iter()
            .map(|event| decode(event))
            .collect::<Result<Vec<_>, _>>()?;
        // One kind of operation; the token keys it (distinct within a batch, so runs never split).
        for run in batch::runs(&rows, |_| (), |row| Some(row.event.token)) {
            write(conn, run).await?;
        }
        Ok(())
    }
}

/// The row of one event, decoded (no I/O).
#[derive(Debug)]
struct HistoryInsert<'a> {
    event: &'a RecordedEvent,
    stream_version: i64,
    metadata: Metadata,
    subject_city: Option<String>,
    subject_province: Option<String>,
    subject_team: Option<Uuid>,
}

fn decode(event: &RecordedEvent) -> Result<HistoryInsert<'_>, ApplyError> {
    let metadata = metadata(&event.metadata);
    let region = metadata
        .subject_region
        .as_deref()
        .and_then(|r| RegionCode::parse("subject_region", r).ok());
    let subject_team = metadata
        .subject_team
        .as_deref()
        .and_then(|t| Uuid::parse_str(t).ok());
    Ok(HistoryInsert {
        event,
        stream_version: version_i64(event)?,
        // A region that does not parse is kept as written (no city or province to cover it).
        subject_city: region.as_ref().map(|r| r.city().as_str().to_owned()),
        subject_province: region.as_ref().map(|r| r.province().as_str().to_owned()),
        subject_team,
        metadata,
    })
}

/// One optional text column of a run.
fn texts<'r>(
    run: &'r [HistoryInsert<'_>],
    field: impl Fn(&'r HistoryInsert<'_>) -> Option<&'r str>,
) -> Vec<Option<&'r str>> {
    run.iter().map(field).collect()
}

/// Insert one run of rows with one statement.
async fn write(conn: &mut PgConnection, run: &[HistoryInsert<'_>]) -> Result<(), ApplyError> {
    if run.is_empty() {
        return Ok(());
    }
    sqlx::query(sql::INSERT)
        .bind(
            run.iter()
                .map(|r| r.event.token.tx_id.to_string())
                .collect::<Vec<_>>(),
        )
        .bind(
            run.iter()
                .map(|r| r.event.token.position)
                .collect::<Vec<_>>(),
        )
        .bind(
            run.iter()
                .map(|r| r.event.stream_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(run.iter().map(|r| r.event.category()).collect::<Vec<_>>())
        .bind(run.iter().map(|r| r.stream_version).collect::<Vec<_>>())
        .bind(
            run.iter()
                .map(|r| r.event.event_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(texts(run, |r| r.metadata.actor.as_deref()))
        .bind(texts(run, |r| r.metadata.role.as_deref()))
        .bind(texts(run, |r| r.metadata.command.as_deref()))
        .bind(texts(run, |r| r.metadata.correlation_id.as_deref()))
        .bind(texts(run, |r| r.metadata.causation_id.as_deref()))
        .bind(texts(run, |r| r.metadata.subject_region.as_deref()))
        .bind(texts(run, |r| r.subject_city.as_deref()))
        .bind(texts(run, |r| r.subject_province.as_deref()))
        .bind(run.iter().map(|r| r.subject_team).collect::<Vec<_>>())
        .bind(run.iter().map(|r| r.event.occurred_at).collect::<Vec<_>>())
        .bind(run.iter().map(|r| r.event.recorded_at).collect::<Vec<_>>())
        .execute(conn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Query
// ---------------------------------------------------------------------------------------------------------

/// What to look for (`None`: any). Times are `recorded_at`, `[from, to)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// The record, e.g. `team-<uuid>`.
    pub stream_id: Option<String>,
    /// The kind of record (`team`, `volunteer`, `activity`, …).
    pub category: Option<String>,
    /// The actor's account id.
    pub actor: Option<String>,
    /// The actor's role (`county_cdc`, …).
    pub role: Option<String>,
    /// The command (`RecordActivity`, …).
    pub command: Option<String>,
    /// The event type (`ActivityRecorded`, …).
    pub event_type: Option<String>,
    pub correlation_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// One event of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub token: Token,
    pub stream_id: String,
    pub category: String,
    pub stream_version: u64,
    pub event_type: String,
    pub actor: Option<String>,
    pub role: Option<String>,
    pub command: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub subject_region: Option<String>,
    pub subject_team: Option<Uuid>,
    /// Business time of the event.
    pub occurred_at: DateTime<Utc>,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
}

/// One page of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// In the global order.
    pub rows: Vec<HistoryRow>,
    /// More rows match after the last one.
    pub has_more: bool,
    /// Events the projector has parked (0 unless the database refused a row).
    pub parked_events: u64,
    /// The checkpoint of the read model the answer was computed from.
    pub as_of: Token,
}

fn row(r: &PgRow) -> Result<HistoryRow, ProjectionError> {
    let tx: String = r.try_get("tx_text")?;
    let version: i64 = r.try_get("stream_version")?;
    Ok(HistoryRow {
        token: Token {
            tx_id: tx
                .parse()
                .map_err(|_| ProjectionError::Corrupt(format!("audit_history tx_id {tx:?}")))?,
            position: r.try_get("position")?,
        },
        stream_id: r.try_get("stream_id")?,
        category: r.try_get("category")?,
        stream_version: u64::try_from(version).map_err(|_| {
            ProjectionError::Corrupt(format!("audit_history stream_version {version}"))
        })?,
        event_type: r.try_get("event_type")?,
        actor: r.try_get("actor")?,
        role: r.try_get("role")?,
        command: r.try_get("command")?,
        correlation_id: r.try_get("correlation_id")?,
        causation_id: r.try_get("causation_id")?,
        subject_region: r.try_get("subject_region")?,
        subject_team: r.try_get("subject_team")?,
        occurred_at: r.try_get("occurred_at")?,
        recorded_at: r.try_get("recorded_at")?,
    })
}

/// Up to `limit` (1 to [`MAX_PAGE`]) rows after `after` in the global order whose subject region one of
/// `scope` covers, matching `filter`.
pub async fn history(
    pool: &PgPool,
    scope: &[RegionCode],
    filter: &HistoryFilter,
    after: Token,
    limit: i64,
) -> Result<History, ProjectionError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let scope: Vec<&str> = scope.iter().map(RegionCode::as_str).collect();
    let mut tx = snapshot(pool).await?;
    let mut rows = sqlx::query(sql::HISTORY)
        .bind(after.tx_id.to_string())
        .bind(after.position)
        .bind(&scope)
        .bind(filter.stream_id.as_deref())
        .bind(filter.category.as_deref())
        .bind(filter.actor.as_deref())
        .bind(filter.role.as_deref())
        .bind(filter.command.as_deref())
        .bind(filter.event_type.as_deref())
        .bind(filter.correlation_id.as_deref())
        .bind(filter.from)
        .bind(filter.to)
        .bind(limit + 1)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(row)
        .collect::<Result<Vec<_>, _>>()?;
    let (parked_events, as_of) = answer_state(&mut tx, AuditHistoryProjector::ID).await?;
    tx.commit().await?;
    let has_more = i64::try_from(rows.len()).is_ok_and(|n| n > limit);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(History {
        rows,
        has_more,
        parked_events,
        as_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_fields_are_read_one_by_one_and_bad_ones_are_null() {
        let m = metadata(
            r#"{"actor":"acct-1","role":"county_cdc","subject_region":"330602","command":7,
               "correlation_id":"c-1"}"#,
        );
        assert_eq!(m.actor.as_deref(), Some("acct-1"));
        assert_eq!(m.role.as_deref(), Some("county_cdc"));
        assert_eq!(m.subject_region.as_deref(), Some("330602"));
        assert_eq!(m.command, None, "a number is not a command name");
        assert_eq!(m.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(m.causation_id, None);
        let none = metadata("[1,2]");
        assert!(none.actor.is_none() && none.subject_region.is_none());
        assert!(metadata("not json").role.is_none());
    }
}

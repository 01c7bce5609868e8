//! Operating on parked events: list them, retry a parked stream once its cause is fixed, or release it.
//!
//! Policy of this module:
//! - **Same fence as a live batch.** [`retry`] and [`release`] run in one transaction that first locks the
//!   projector's checkpoint row `FOR UPDATE`, exactly as every batch of [`crate::runtime::apply_batch`]
//!   does. A live leader's next batch waits for the retry or release to commit and then reads the parked
//!   heads afresh, so a later event of the stream is applied only after the earlier ones were (or parked
//!   behind the ones still parked). Neither moves the checkpoint: the parked events are already behind it.
//! - **Order.** [`retry`] applies the stream's parked events in version order, re-read from the log
//!   ([`EventStore::read_stream_after`]), each inside a savepoint, with the projector's own
//!   [`Projector::apply`]. It stops at the first failure: that event and every later one stay parked
//!   (the failed one with its new error), what was applied before it is committed and its parked rows are
//!   deleted. A retried event is applied later in the global order than it was first read; that is the
//!   point of a retry (the projector's code or the read model's state changed since).
//! - **Never silently dropped.** [`release`] deletes a stream's parked events only with a non-empty
//!   reason, and records each of them with that reason in `projection_released` in the same transaction.
//! - **Privileges.** The service role has SELECT, INSERT, UPDATE and DELETE on `projection_parked`
//!   (migration 0003) and SELECT, INSERT on `projection_released` (0005): all of this runs with it.
//! - SQL lives in constants with binds only.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use eventstore::{EventStore, RecordedEvent, StoreError, Token};
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgPool, Row};

use crate::error::ProjectionError;
use crate::runtime::Projector;

mod sql {
    /// Binds: $1 projector.
    pub const LIST: &str = "SELECT stream_id, stream_version, tx_id::text AS tx_text, position,
event_type, error, parked_at
FROM projection_parked WHERE projector = $1 ORDER BY stream_id, stream_version";

    /// Binds: $1 projector, $2 stream_id.
    pub const LIST_STREAM: &str =
        "SELECT stream_id, stream_version, tx_id::text AS tx_text, position,
event_type, error, parked_at
FROM projection_parked WHERE projector = $1 AND stream_id = $2 ORDER BY stream_version";

    /// The fence every live batch takes first. Binds: $1 projector.
    pub const LOCK_CHECKPOINT: &str =
        "SELECT 1 AS one FROM projection_checkpoints WHERE projector = $1 FOR UPDATE";

    /// Binds: $1 projector, $2 stream_id, $3 stream versions (bigint[]).
    pub const DELETE_APPLIED: &str = "DELETE FROM projection_parked
WHERE projector = $1 AND stream_id = $2 AND stream_version = ANY($3)";

    /// Binds: $1 projector, $2 stream_id, $3 stream_version, $4 error.
    pub const SET_ERROR: &str = "UPDATE projection_parked SET error = $4
WHERE projector = $1 AND stream_id = $2 AND stream_version = $3";

    /// The events waiting behind a new head. Binds: $1 projector, $2 stream_id, $3 head version, $4 error.
    pub const SET_WAITING: &str = "UPDATE projection_parked SET error = $4
WHERE projector = $1 AND stream_id = $2 AND stream_version > $3";

    /// Binds: $1 projector, $2 stream_id, $3 reason.
    pub const RELEASE: &str = "WITH released AS (
    DELETE FROM projection_parked WHERE projector = $1 AND stream_id = $2
    RETURNING projector, stream_id, stream_version, event_type, error
)
INSERT INTO projection_released (projector, stream_id, stream_version, event_type, error, reason)
SELECT projector, stream_id, stream_version, event_type, error, $3 FROM released";
}

/// A failure of a parked-event operation.
#[derive(Debug, thiserror::Error)]
pub enum ParkedError {
    /// [`release`] was called without a reason (empty or blank).
    #[error(
        "`reason` is required to release parked events: say why they will never apply (it is recorded)"
    )]
    ReasonRequired,
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

impl From<sqlx::Error> for ParkedError {
    fn from(e: sqlx::Error) -> Self {
        Self::Projection(ProjectionError::Database(e))
    }
}

impl From<StoreError> for ParkedError {
    fn from(e: StoreError) -> Self {
        Self::Projection(ProjectionError::Store(e))
    }
}

/// One parked event, as `projection_parked` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedEvent {
    pub stream_id: String,
    pub stream_version: u64,
    /// The event's place in the global order.
    pub token: Token,
    pub event_type: String,
    /// Why it is parked: the projector's error for the head of the stream, "waiting behind" for the rest.
    pub error: String,
    pub parked_at: DateTime<Utc>,
}

/// The event a retry stopped at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryFailure {
    pub stream_version: u64,
    pub event_type: String,
    /// The new error (now recorded in `projection_parked`).
    pub error: String,
    /// Whether the projector called it permanent (a transient failure may succeed on the next retry).
    pub permanent: bool,
}

/// What [`retry`] did to one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryReport {
    pub projector: &'static str,
    pub stream_id: String,
    /// Versions applied (and no longer parked), in order.
    pub applied: Vec<u64>,
    /// Versions no longer parked because the projector no longer handles them (nothing to apply).
    pub unhandled: Vec<u64>,
    /// Events of the stream still parked after the retry.
    pub still_parked: u64,
    /// The event the retry stopped at, if any.
    pub failure: Option<RetryFailure>,
}

impl RetryReport {
    /// Nothing of the stream is parked any more.
    pub fn released_stream(&self) -> bool {
        self.still_parked == 0
    }
}

impl fmt::Display for RetryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        write!(
            f,
            "{} {}: applied {}",
            self.projector,
            self.stream_id,
            self.applied.len()
        )?;
        if !self.applied.is_empty() {
            write!(f, " (v{})", versions(&self.applied))?;
        }
        if !self.unhandled.is_empty() {
            write!(
                f,
                ", no longer handled {} (v{})",
                self.unhandled.len(),
                versions(&self.unhandled)
            )?;
        }
        write!(f, ", still parked {}", self.still_parked)?;
        if let Some(failure) = &self.failure {
            write!(
                f,
                "\n  stopped at v{} {} ({}): {}",
                failure.stream_version,
                failure.event_type,
                if failure.permanent {
                    "permanent"
                } else {
                    "transient"
                },
                failure.error
            )?;
        }
        Ok(())
    }
}

fn corrupt(what: String) -> ParkedError {
    ParkedError::Projection(ProjectionError::Corrupt(what))
}

fn parked_of(row: &PgRow) -> Result<ParkedEvent, ParkedError> {
    let stream_id: String = row.try_get("stream_id")?;
    let version: i64 = row.try_get("stream_version")?;
    let tx: String = row.try_get("tx_text")?;
    let position: i64 = row.try_get("position")?;
    let stream_version = u64::try_from(version)
        .map_err(|_| corrupt(format!("parked {stream_id} has version {version}")))?;
    let tx_id = tx
        .parse()
        .map_err(|_| corrupt(format!("parked {stream_id} v{version} has tx_id {tx:?}")))?;
    Ok(ParkedEvent {
        stream_id,
        stream_version,
        token: Token { tx_id, position },
        event_type: row.try_get("event_type")?,
        error: row.try_get("error")?,
        parked_at: row.try_get("parked_at")?,
    })
}

fn version_i64(version: u64) -> Result<i64, ParkedError> {
    i64::try_from(version).map_err(|_| corrupt(format!("stream version {version}")))
}

fn waiting_reason(stream_id: &str, head: u64) -> String {
    // The wording of the runtime's parking, so both read the same.
    format!("stream {stream_id} is parked since version {head}; waiting behind it")
}

/// Every event parked for `projector_id`, ordered by stream, then version.
pub async fn list(pool: &PgPool, projector_id: &str) -> Result<Vec<ParkedEvent>, ParkedError> {
    let rows = sqlx::query(sql::LIST)
        .bind(projector_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(parked_of).collect()
}

/// Retry the parked events of `stream_id` for `projector` (see the module's policy): in one transaction
/// behind the checkpoint fence, apply them in version order until one fails; commit what applied.
/// The store's pool needs two connections: the transaction holds one while the log is read on another.
pub async fn retry<P: Projector>(
    store: &EventStore,
    projector: &P,
    stream_id: &str,
) -> Result<RetryReport, ParkedError> {
    let id = projector.id();
    let mut report = RetryReport {
        projector: id,
        stream_id: stream_id.to_owned(),
        applied: Vec::new(),
        unhandled: Vec::new(),
        still_parked: 0,
        failure: None,
    };
    let mut tx = store.pool().begin().await?;
    // The fence first: a live batch in flight finishes, the next one waits for this transaction.
    sqlx::query(sql::LOCK_CHECKPOINT)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let parked = sqlx::query(sql::LIST_STREAM)
        .bind(id)
        .bind(stream_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(parked_of)
        .collect::<Result<Vec<_>, _>>()?;
    let Some(head) = parked.first() else {
        tx.rollback().await?;
        return Ok(report);
    };
    // The log is append-only and every parked event is behind the checkpoint: reading it outside the
    // transaction sees exactly the events that were parked.
    let events: HashMap<u64, RecordedEvent> = store
        .read_stream_after(stream_id, head.stream_version.saturating_sub(1))
        .await?
        .into_iter()
        .map(|e| (e.stream_version, e))
        .collect();

    let mut done: Vec<i64> = Vec::new();
    for (i, p) in parked.iter().enumerate() {
        let event = events.get(&p.stream_version).ok_or_else(|| {
            corrupt(format!(
                "parked {stream_id} v{} is not in the log",
                p.stream_version
            ))
        })?;
        if event.token != p.token || event.event_type != p.event_type {
            return Err(corrupt(format!(
                "parked {stream_id} v{} ({} at {}) does not match the log ({} at {})",
                p.stream_version, p.event_type, p.token, event.event_type, event.token
            )));
        }
        if !projector.handles(event) {
            done.push(version_i64(p.stream_version)?);
            report.unhandled.push(p.stream_version);
            continue;
        }
        let mut savepoint = Connection::begin(&mut *tx).await?;
        match projector.apply(&mut savepoint, event).await {
            Ok(()) => {
                savepoint.commit().await?;
                done.push(version_i64(p.stream_version)?);
                report.applied.push(p.stream_version);
            }
            Err(error) => {
                savepoint.rollback().await?;
                let message = error.to_string();
                tracing::warn!(
                    projector = id,
                    stream_id,
                    stream_version = p.stream_version,
                    %error,
                    "retry of a parked event failed; it and the rest of its stream stay parked"
                );
                let version = version_i64(p.stream_version)?;
                sqlx::query(sql::SET_ERROR)
                    .bind(id)
                    .bind(stream_id)
                    .bind(version)
                    .bind(&message)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(sql::SET_WAITING)
                    .bind(id)
                    .bind(stream_id)
                    .bind(version)
                    .bind(waiting_reason(stream_id, p.stream_version))
                    .execute(&mut *tx)
                    .await?;
                report.still_parked = u64::try_from(parked.len() - i)
                    .map_err(|_| corrupt(format!("{} parked events", parked.len())))?;
                report.failure = Some(RetryFailure {
                    stream_version: p.stream_version,
                    event_type: p.event_type.clone(),
                    error: message,
                    permanent: error.is_permanent(),
                });
                break;
            }
        }
    }
    if !done.is_empty() {
        sqlx::query(sql::DELETE_APPLIED)
            .bind(id)
            .bind(stream_id)
            .bind(&done)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(
        projector = id,
        stream_id,
        applied = report.applied.len(),
        still_parked = report.still_parked,
        "retried a parked stream"
    );
    Ok(report)
}

/// Release the parked events of `stream_id` for `projector_id`: the operator decided they will never
/// apply. They are deleted from `projection_parked` and recorded in `projection_released` with `reason`
/// (required, non-blank), in one transaction behind the checkpoint fence. Later events of the stream are
/// then applied by the live runner as they come. Returns how many events were released.
pub async fn release(
    pool: &PgPool,
    projector_id: &str,
    stream_id: &str,
    reason: &str,
) -> Result<u64, ParkedError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ParkedError::ReasonRequired);
    }
    let mut tx = pool.begin().await?;
    sqlx::query(sql::LOCK_CHECKPOINT)
        .bind(projector_id)
        .fetch_optional(&mut *tx)
        .await?;
    let released = sqlx::query(sql::RELEASE)
        .bind(projector_id)
        .bind(stream_id)
        .bind(reason)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    tracing::warn!(
        projector = projector_id,
        stream_id,
        released,
        reason,
        "released parked events"
    );
    Ok(released)
}

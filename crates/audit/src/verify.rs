//! Verify the log in the database: one read-only REPEATABLE READ transaction, so the checkpoints and
//! the events are one snapshot; the checkpoints are read first (they are few), then every event in one
//! streaming query in the global order `(tx_id, position)`.
//!
//! Policy:
//! - **Read only.** The transaction is `READ ONLY`; the service role or the owner may run it.
//! - **Every committed event in the snapshot**, not only those below the readers' `pg_snapshot_xmin`
//!   fence: the fence exists so that tailing readers never skip a late commit, but a verifier reads
//!   one fixed snapshot, and a long transaction elsewhere in the cluster must not hide rows from it
//!   (`eventstore::verify` learnt this). Within a snapshot, `(tx_id, position)` is still a valid global
//!   order, each stream's versions are still in tx order, and every event a visible checkpoint covers is
//!   visible (it was committed below the notary's fence before the checkpoint was).
//! - **The first failure stops the checks** and is named (a version gap waits for the rest of the log,
//!   to tell a removed event from a reordered one).
//! - **Streamed in index order** (`enable_sort = off` for the transaction): the planner would otherwise
//!   sort the whole log on a large table before returning the first row.
//! - **Two threads**: the async side receives rows and hands them over in batches; the checks (decode,
//!   SHA-256, the fold) run on a blocking thread, so reading and hashing overlap.
//! - Rows are decoded borrowing their text (no copy per row); `tx_id` (`xid8`) is read in its binary
//!   form, an unsigned 64-bit integer.

use futures_util::TryStreamExt;
use notary::{Checkpoint, ExportedCheckpoint, Keyring, NotaryError};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::check::{self, EventRef, Flow, Start, Verifier};
use crate::error::AuditError;
use crate::report::{Failure, Report};

pub(crate) mod sql {
    /// The snapshot both reads share.
    pub const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

    /// Stream in the primary key's order rather than sort: on a large log the planner prefers a
    /// (parallel) sequential scan and a sort, which spills the whole log to temporary files before the
    /// first row arrives. The heap is in tx order already (append-only), so the index scan reads it
    /// nearly sequentially.
    pub const NO_SORT: &str = "SET LOCAL enable_sort = off";
    pub const NO_PARALLEL: &str = "SET LOCAL max_parallel_workers_per_gather = 0";

    /// Every event of the snapshot in the global order; the columns [`super::event_ref`] decodes, by
    /// ordinal.
    pub const EVENTS: &str = "SELECT tx_id, position, stream_id, stream_version, event_type, \
schema_version, payload::text, metadata::text, occurred_at, recorded_at, prev_hash, hash
FROM events ORDER BY tx_id, position";

    /// Binds: $1 after (tx_id text), $2 after position, $3 up to (tx_id text), $4 up to position. The
    /// events of a bundle: after one token, up to another.
    pub const EVENTS_BETWEEN: &str = "SELECT tx_id, position, stream_id, stream_version, event_type, \
schema_version, payload::text, metadata::text, occurred_at, recorded_at, prev_hash, hash
FROM events
WHERE (tx_id, position) > ($1::text::xid8, $2::bigint) AND (tx_id, position) <= ($3::text::xid8, $4::bigint)
ORDER BY tx_id, position";

    /// The planner's row estimate, for a progress bar (no scan).
    pub const ESTIMATE: &str =
        "SELECT greatest(reltuples, 0)::bigint AS n FROM pg_class WHERE oid = 'events'::regclass";
}

/// The read-only snapshot every reader of this crate uses, planned to stream in index order.
pub(crate) async fn snapshot(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, AuditError> {
    let mut tx = pool.begin_with(sql::BEGIN).await?;
    sqlx::query(sql::NO_SORT).execute(&mut *tx).await?;
    sqlx::query(sql::NO_PARALLEL).execute(&mut *tx).await?;
    Ok(tx)
}

/// How far a verification has got, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Events checked so far.
    pub events: u64,
    /// The events to expect (an estimate: the planner's for the database, the manifest's for a bundle).
    pub estimated_total: u64,
}

/// What to verify against.
#[derive(Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// The notary's public keys, the auditor's own copies, oldest first (one until a key is rotated).
    pub keys: &'a Keyring,
    /// A checkpoint exported earlier and kept outside the database: the database must still hold it.
    pub anchor: Option<&'a ExportedCheckpoint>,
    /// Called every few thousand events.
    pub progress: Option<&'a (dyn Fn(Progress) + Send + Sync)>,
}

impl std::fmt::Debug for VerifyOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("key_ids", &self.keys.key_ids())
            .field("anchor", &self.anchor.map(|a| a.sequence))
            .finish_non_exhaustive()
    }
}

/// Rows handed to the checking thread at a time, and how many such batches may wait for it.
const BATCH: usize = 1024;
const BATCHES_IN_FLIGHT: usize = 4;

/// The checks, on a thread of their own: decode each row and push it through the verifier until the
/// rows run out or the verifier stops (dropping `inbox` tells the reader to stop).
fn check_batches(
    mut verifier: Verifier,
    mut inbox: tokio::sync::mpsc::Receiver<Vec<PgRow>>,
) -> Result<Verifier, AuditError> {
    while let Some(batch) = inbox.blocking_recv() {
        for row in &batch {
            if verifier.push(&event_ref(row)?) == Flow::Stop {
                return Ok(verifier);
            }
        }
    }
    Ok(verifier)
}

/// Progress is reported every this many events.
pub(crate) const PROGRESS_EVERY: u64 = 8192;

fn row_error(position: i64, reason: impl Into<String>) -> AuditError {
    AuditError::Row {
        position,
        reason: reason.into(),
    }
}

fn hash32(row: &PgRow, index: usize, position: i64) -> Result<[u8; 32], AuditError> {
    let raw: &[u8] = row.try_get(index)?;
    raw.try_into()
        .map_err(|_| row_error(position, format!("a hash has {} bytes, not 32", raw.len())))
}

/// Decode one row of [`sql::EVENTS`], borrowing its text.
pub(crate) fn event_ref(row: &PgRow) -> Result<EventRef<'_>, AuditError> {
    let position: i64 = row.try_get(1)?;
    // xid8 is sent as 8 big-endian bytes, exactly what the i64 decoder reads; xids stay below 2^63.
    let tx: i64 = row.try_get_unchecked(0)?;
    let tx_id = u64::try_from(tx).map_err(|_| row_error(position, "tx_id out of range"))?;
    let version: i64 = row.try_get(3)?;
    let schema_version: i32 = row.try_get(5)?;
    let occurred_at: chrono::DateTime<chrono::Utc> = row.try_get(8)?;
    let recorded_at: chrono::DateTime<chrono::Utc> = row.try_get(9)?;
    Ok(EventRef {
        token: eventstore::Token { tx_id, position },
        stream_id: row.try_get(2)?,
        stream_version: u64::try_from(version)
            .map_err(|_| row_error(position, format!("stream_version {version}")))?,
        event_type: row.try_get(4)?,
        schema_version: u32::try_from(schema_version)
            .map_err(|_| row_error(position, format!("schema_version {schema_version}")))?,
        occurred_at_micros: occurred_at.timestamp_micros(),
        recorded_at_micros: recorded_at.timestamp_micros(),
        payload: row.try_get(6)?,
        metadata: row.try_get(7)?,
        prev_hash: hash32(row, 10, position)?,
        hash: hash32(row, 11, position)?,
    })
}

/// All checkpoints, oldest first; a row that cannot be a checkpoint is a failure, not an error.
async fn checkpoints(
    tx: &mut sqlx::PgConnection,
) -> Result<Result<Vec<Checkpoint>, Failure>, AuditError> {
    match notary::store::list(&mut *tx, 0, i64::MAX).await {
        Ok(list) => Ok(Ok(list)),
        Err(NotaryError::Integrity(reason)) => Ok(Err(Failure::CheckpointUnreadable { reason })),
        Err(e) => Err(e.into()),
    }
}

async fn estimate(tx: &mut sqlx::PgConnection) -> Result<u64, AuditError> {
    let n: Option<i64> = sqlx::query_scalar(sql::ESTIMATE)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
}

/// Verify everything in the database: every stream's chain, every checkpoint (sequence, chain,
/// signature) and the global digest at each checkpoint, and the anchor if given. `Ok` carries the
/// report whether or not something failed; `Err` means the verification could not run.
pub async fn verify(pool: &PgPool, options: &VerifyOptions<'_>) -> Result<Report, AuditError> {
    let mut tx = snapshot(pool).await?;
    let mut report = Report::default();
    let checkpoints = match checkpoints(&mut tx).await? {
        Ok(list) => list,
        Err(failure) => {
            report.failure = Some(failure);
            tx.rollback().await?;
            return Ok(report);
        }
    };
    report.checkpoints_present = checkpoints.len() as u64;
    report.newest_checkpoint = checkpoints.last().map(check::summary);
    let checked = check::check_checkpoints(&checkpoints, options.keys, None).and_then(|()| {
        options
            .anchor
            .map(|a| check::check_anchor(a, options.keys, &checkpoints))
            .transpose()
    });
    match checked {
        Ok(anchor) => report.anchor_matched = anchor,
        Err(failure) => {
            report.failure = Some(failure);
            tx.rollback().await?;
            return Ok(report);
        }
    }
    let total = match options.progress {
        Some(_) => estimate(&mut tx)
            .await?
            .max(checkpoints.last().map_or(0, |c| c.event_count)),
        None => 0,
    };
    let verifier = Verifier::new(Start::GENESIS, checkpoints);
    let (batches, inbox) = tokio::sync::mpsc::channel::<Vec<PgRow>>(BATCHES_IN_FLIGHT);
    let worker = tokio::task::spawn_blocking(move || check_batches(verifier, inbox));
    {
        let mut rows = sqlx::query(sql::EVENTS).fetch(&mut *tx);
        let mut read = 0u64;
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(row) = rows.try_next().await? {
            batch.push(row);
            read += 1;
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if batches.send(full).await.is_err() {
                    break; // the checks stopped at a failure
                }
            }
            if let Some(progress) = options.progress
                && read.is_multiple_of(PROGRESS_EVERY)
            {
                progress(Progress {
                    events: read,
                    estimated_total: total,
                });
            }
        }
        if !batch.is_empty() {
            // An error means the checks already stopped.
            let _ = batches.send(batch).await;
        }
        drop(batches);
    }
    let verifier = worker
        .await
        .map_err(|e| AuditError::Thread(e.to_string()))??;
    tx.rollback().await?;
    verifier.finish(&mut report);
    if let Some(progress) = options.progress {
        progress(Progress {
            events: report.events,
            estimated_total: total.max(report.events),
        });
    }
    Ok(report)
}

/// What [`scan`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    pub events: u64,
    /// Bytes of payload and metadata text decoded (so the decode cannot be skipped).
    pub text_bytes: u64,
}

/// The baseline of `ledger-bench verify`: the same transaction, the same streaming query and the same
/// row decode as [`verify`], without any hashing or checking.
pub async fn scan(pool: &PgPool) -> Result<Scan, AuditError> {
    let mut tx = snapshot(pool).await?;
    let mut scan = Scan {
        events: 0,
        text_bytes: 0,
    };
    {
        let mut rows = sqlx::query(sql::EVENTS).fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let event = event_ref(&row)?;
            scan.events += 1;
            scan.text_bytes += (event.payload.len() + event.metadata.len()) as u64;
        }
    }
    tx.rollback().await?;
    Ok(scan)
}

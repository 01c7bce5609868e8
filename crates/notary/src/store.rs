//! The `notary_checkpoints` table: read, list, find by time, insert (fenced by the sequence).

use chrono::{DateTime, Utc};
use eventstore::Token;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Row};

use crate::error::NotaryError;
use crate::format::Checkpoint;

mod sql {
    pub const LATEST: &str = "SELECT sequence, prev_hash, tx_id::text AS tx_text, position, \
event_count, digest, signed_at, key_id, signature, hash
FROM notary_checkpoints ORDER BY sequence DESC LIMIT 1";

    /// Binds: $1 after sequence, $2 limit.
    pub const LIST: &str = "SELECT sequence, prev_hash, tx_id::text AS tx_text, position, \
event_count, digest, signed_at, key_id, signature, hash
FROM notary_checkpoints WHERE sequence > $1 ORDER BY sequence LIMIT $2";

    /// Binds: $1 sequence.
    pub const BY_SEQUENCE: &str = "SELECT sequence, prev_hash, tx_id::text AS tx_text, position, \
event_count, digest, signed_at, key_id, signature, hash
FROM notary_checkpoints WHERE sequence = $1";

    /// Binds: $1 time. The newest checkpoint signed at or before it.
    pub const AT_OR_BEFORE: &str = "SELECT sequence, prev_hash, tx_id::text AS tx_text, position, \
event_count, digest, signed_at, key_id, signature, hash
FROM notary_checkpoints WHERE signed_at <= $1 ORDER BY signed_at DESC, sequence DESC LIMIT 1";

    /// Binds: $1 sequence, $2 prev_hash, $3 tx_id (text), $4 position, $5 event_count, $6 digest,
    /// $7 signed_at, $8 key_id, $9 signature, $10 hash. Inserts nothing when the sequence is taken
    /// (another notary got there first: the caller is fenced).
    pub const INSERT: &str = "INSERT INTO notary_checkpoints
(sequence, prev_hash, tx_id, position, event_count, digest, signed_at, key_id, signature, hash)
VALUES ($1, $2, $3::text::xid8, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (sequence) DO NOTHING";

    /// Per key id, the first and last sequence it signed, in the order of the first.
    pub const KEY_SPANS: &str = "SELECT key_id, min(sequence) AS first, max(sequence) AS last
FROM notary_checkpoints GROUP BY key_id ORDER BY first";

    /// The newest committed event (it may still be above the fence). The text column has its own name:
    /// ordering by a column named `tx_id` of type text would sort "999" after "1000".
    pub const NEWEST_EVENT: &str = "SELECT tx_id::text AS tx_text, position FROM events
ORDER BY tx_id DESC, position DESC LIMIT 1";

    /// Binds: $1 tx_id (text), $2 position. Committed events after a token (some may still be above the
    /// fence; they are not covered either).
    pub const COUNT_AFTER: &str = "SELECT count(*) AS n FROM events
WHERE (tx_id, position) > ($1::text::xid8, $2)";
}

fn fixed<const N: usize>(row: &PgRow, column: &str, sequence: i64) -> Result<[u8; N], NotaryError> {
    let raw: Vec<u8> = row.try_get(column)?;
    raw.try_into().map_err(|_| {
        NotaryError::Integrity(format!("checkpoint {sequence}: {column} is not {N} bytes"))
    })
}

fn unsigned_of(v: i64, what: &str, sequence: i64) -> Result<u64, NotaryError> {
    u64::try_from(v)
        .map_err(|_| NotaryError::Integrity(format!("checkpoint {sequence}: {what} is {v}")))
}

/// A checkpoint row as stored (no check of its hash or signature: that is the caller's decision).
pub fn from_row(row: &PgRow) -> Result<Checkpoint, NotaryError> {
    let sequence: i64 = row.try_get("sequence")?;
    let tx: String = row.try_get("tx_text")?;
    let tx_id = tx
        .parse()
        .map_err(|_| NotaryError::Integrity(format!("checkpoint {sequence}: tx_id {tx:?}")))?;
    Ok(Checkpoint {
        sequence: unsigned_of(sequence, "sequence", sequence)?,
        prev_hash: fixed(row, "prev_hash", sequence)?,
        token: Token {
            tx_id,
            position: row.try_get("position")?,
        },
        event_count: unsigned_of(row.try_get("event_count")?, "event_count", sequence)?,
        digest: fixed(row, "digest", sequence)?,
        signed_at: row.try_get("signed_at")?,
        key_id: row.try_get("key_id")?,
        signature: fixed(row, "signature", sequence)?,
        hash: fixed(row, "hash", sequence)?,
    })
}

fn to_i64(v: u64, what: &str) -> Result<i64, NotaryError> {
    i64::try_from(v).map_err(|_| NotaryError::Integrity(format!("{what} {v} out of range")))
}

/// The newest checkpoint, if any.
pub async fn latest<'e>(db: impl PgExecutor<'e>) -> Result<Option<Checkpoint>, NotaryError> {
    let row = sqlx::query(sql::LATEST).fetch_optional(db).await?;
    row.as_ref().map(from_row).transpose()
}

/// The checkpoints one key signed: the first and the last sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpan {
    pub key_id: String,
    pub first: u64,
    pub last: u64,
}

/// Per key that signed a checkpoint, the span of sequences it signed, ordered by the first (signatures
/// are not checked here).
pub async fn key_spans<'e>(db: impl PgExecutor<'e>) -> Result<Vec<KeySpan>, NotaryError> {
    let rows = sqlx::query(sql::KEY_SPANS).fetch_all(db).await?;
    rows.iter()
        .map(|row| {
            let (first, last): (i64, i64) = (row.try_get("first")?, row.try_get("last")?);
            Ok(KeySpan {
                key_id: row.try_get("key_id")?,
                first: unsigned_of(first, "sequence", first)?,
                last: unsigned_of(last, "sequence", last)?,
            })
        })
        .collect()
}

/// Checkpoints with a sequence above `after`, oldest first, at most `limit`.
pub async fn list<'e>(
    db: impl PgExecutor<'e>,
    after: u64,
    limit: i64,
) -> Result<Vec<Checkpoint>, NotaryError> {
    let rows = sqlx::query(sql::LIST)
        .bind(to_i64(after, "sequence")?)
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The checkpoint with this sequence.
pub async fn by_sequence<'e>(
    db: impl PgExecutor<'e>,
    sequence: u64,
) -> Result<Option<Checkpoint>, NotaryError> {
    let row = sqlx::query(sql::BY_SEQUENCE)
        .bind(to_i64(sequence, "sequence")?)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The notary's fence at `time`: the newest checkpoint signed at or before it (`None` before the
/// first). "The log as the system knew it at T" for `ledger-audit replay --as-of <timestamp>`.
pub async fn at_or_before<'e>(
    db: impl PgExecutor<'e>,
    time: DateTime<Utc>,
) -> Result<Option<Checkpoint>, NotaryError> {
    let row = sqlx::query(sql::AT_OR_BEFORE)
        .bind(time)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Insert `checkpoint`; `false` when its sequence was already taken (fenced: write nothing more).
pub async fn insert<'e>(
    db: impl PgExecutor<'e>,
    checkpoint: &Checkpoint,
) -> Result<bool, NotaryError> {
    let done = sqlx::query(sql::INSERT)
        .bind(to_i64(checkpoint.sequence, "sequence")?)
        .bind(checkpoint.prev_hash.as_slice())
        .bind(checkpoint.token.tx_id.to_string())
        .bind(checkpoint.token.position)
        .bind(to_i64(checkpoint.event_count, "event_count")?)
        .bind(checkpoint.digest.as_slice())
        .bind(checkpoint.signed_at)
        .bind(&checkpoint.key_id)
        .bind(checkpoint.signature.as_slice())
        .bind(checkpoint.hash.as_slice())
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The token of the newest committed event (`None` for an empty log). It may be above the fence: a
/// reader in the global order reaches it once older transactions have ended.
pub async fn newest_event<'e>(db: impl PgExecutor<'e>) -> Result<Option<Token>, NotaryError> {
    let row = sqlx::query(sql::NEWEST_EVENT).fetch_optional(db).await?;
    row.map(|row| {
        let tx: String = row.try_get("tx_text")?;
        let tx_id = tx
            .parse()
            .map_err(|_| NotaryError::Integrity(format!("event tx_id {tx:?}")))?;
        Ok(Token {
            tx_id,
            position: row.try_get("position")?,
        })
    })
    .transpose()
}

/// Committed events after `after`: what no checkpoint covers yet when `after` is the
/// newest checkpoint's token.
pub async fn count_after<'e>(db: impl PgExecutor<'e>, after: Token) -> Result<u64, NotaryError> {
    let n: i64 = sqlx::query_scalar(sql::COUNT_AFTER)
        .bind(after.tx_id.to_string())
        .bind(after.position)
        .fetch_one(db)
        .await?;
    unsigned_of(n, "uncovered count", 0)
}

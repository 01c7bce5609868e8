//! Errors of the event store. Input errors name the field; nothing here carries payload text.

use crate::model::ExpectedVersion;

/// Why an append was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Malformed request; nothing was written.
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: String, reason: String },
    /// The stream is not at the expected version; nothing was written.
    #[error("stream {stream_id} is at version {actual}, the command expected {expected}")]
    WrongVersion {
        stream_id: String,
        expected: ExpectedVersion,
        actual: u64,
    },
    /// The idempotency key was used before for a different request; nothing was written.
    #[error("idempotency key {idempotency_key:?} was already used for a different request")]
    IdempotencyConflict { idempotency_key: String },
    /// Another stream holds a uniqueness claim this append needed; nothing was written.
    #[error("{scope} is already claimed by another record")]
    ClaimTaken { scope: String, held_by: String },
    /// The database failed or is unreachable. The append may or may not have committed only if the
    /// connection broke during commit; a retry with the same idempotency key settles it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppendError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A failure of the database or of the stored data itself.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored row does not have the shape this code expects (e.g. a hash of the wrong length).
    #[error("corrupt row at position {position}: {reason}")]
    Corrupt { position: i64, reason: String },
}

impl StoreError {
    /// The database could not be reached or the pool is exhausted: a retry later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Database(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::Io(_)
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Tls(_)
            )
        ) || matches!(self, Self::Database(sqlx::Error::Database(db)) if db.code().is_some_and(|c| c.starts_with("08") || c == "57P01" || c == "57P03"))
    }
}

impl From<sqlx::Error> for AppendError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(e))
    }
}

//! Errors of the projector runtime and of read-model queries.
//!
//! Policy: an [`ApplyError`] says whether retrying can help ([`ApplyError::is_permanent`]). A permanent
//! one parks the event (and the rest of its stream); a transient one rolls the batch back and the runner
//! retries it. Nothing here aborts a running projector.

use eventstore::{StoreError, Token};

/// Why a projector could not apply one event.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The payload does not decode as the domain event its type names (or the version is unknown).
    #[error("event does not decode: {0}")]
    Decode(#[from] domain::EventCodecError),
    /// The event decodes but cannot be applied (e.g. a stream id that does not name its aggregate).
    #[error("event cannot be applied: {0}")]
    Invalid(String),
    /// A statement failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ApplyError {
    /// `true` when applying the same event again would fail the same way (park it); `false` for failures
    /// of the connection or the server's state (retry the batch).
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Decode(_) | Self::Invalid(_) => true,
            Self::Database(sqlx::Error::Database(db)) => {
                // Class 40 (serialization failure, deadlock), 53 (insufficient resources),
                // 57 (operator intervention, e.g. shutdown) and 08 (connection) are worth a retry;
                // constraint and data errors (22, 23, …) are not. A missing table or column (42P01,
                // 42703) is the schema, not the event: a projector of an older version running on a
                // newer schema (migration 0009 replaced tables) must stop advancing and retry — an
                // upgrade stops it — rather than park every event it meets and move its checkpoint on.
                let code = db.code();
                let class = code.as_deref().map(|c| c.get(..2).unwrap_or(c));
                !matches!(class, Some("40" | "53" | "57" | "08"))
                    && !matches!(code.as_deref(), Some("42P01" | "42703"))
            }
            Self::Database(_) => false,
        }
    }
}

/// A failure of the runner or of a read-model query.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// A transient apply failure: the batch was rolled back and is retried.
    #[error("applying {stream_id} v{stream_version} failed and will be retried: {source}")]
    Transient {
        stream_id: String,
        stream_version: u64,
        #[source]
        source: ApplyError,
    },
    /// A stored value does not have the shape this code writes.
    #[error("corrupt projection state: {0}")]
    Corrupt(String),
}

/// A wait for a read model to reach a token did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("the read model had reached {reached}, not {wanted}, when the wait timed out")]
    Timeout { wanted: Token, reached: Token },
    #[error("the runner is gone; the read model had reached {reached}, not {wanted}")]
    RunnerGone { wanted: Token, reached: Token },
}

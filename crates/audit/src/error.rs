//! Why a check could not run at all (as opposed to a check that ran and found something: that is a
//! [`crate::Failure`] inside a [`crate::Report`]).

use notary::NotaryError;

/// The verification or export could not run: the database, a file or an argument failed. Nothing here
/// carries event content.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Notary(#[from] NotaryError),
    /// A file of a bundle (or its directory) could not be read or written.
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    /// A request that cannot be carried out (e.g. a checkpoint that does not exist, a range backwards,
    /// a non-empty output directory).
    #[error("{0}")]
    Invalid(String),
    /// The thread running the checks failed (a bug, not a finding).
    #[error("verification thread: {0}")]
    Thread(String),
    /// A stored row that cannot be decoded at all (the table's own constraints forbid it).
    #[error("event row at position {position}: {reason}")]
    Row { position: i64, reason: String },
}

impl AuditError {
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            error,
        }
    }
}

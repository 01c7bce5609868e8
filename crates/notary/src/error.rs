//! The notary's errors.

use eventstore::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum NotaryError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event log: {0}")]
    Store(#[from] StoreError),
    /// A key file that cannot be read or parsed (the path is named, the key material never).
    #[error("notary key {path}: {reason}")]
    Key { path: String, reason: String },
    /// A stored row that cannot be what the notary wrote (bad length, bad signature, broken chain), or an
    /// event row whose hash does not match its content.
    #[error("integrity: {0}")]
    Integrity(String),
    /// An exported checkpoint (JSON) that does not parse or is not self-consistent.
    #[error("checkpoint document: {0}")]
    Document(String),
}

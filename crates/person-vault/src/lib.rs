//! # person-vault — where per-person data keys live, and die
//!
//! Policy:
//! - One data key per subject (`volunteer-<uuid>`, …), stored only wrapped by the master key
//!   ([`personal_data::MasterKey`], configured outside the database). The database alone cannot open
//!   anything.
//! - [`PersonVault::destroy`] deletes the key and records the erasure (subject and time only). From then
//!   on every sealed value of the subject is unreadable; the log, its hashes and every count stay intact.
//!   Backups and WAL taken before the erasure still hold the wrapped key until they expire — see
//!   `docs/adr/0004-personal-data.md`.
//! - Keys are created before the events that use them are appended (so no event is ever unreadable for
//!   want of a key); a key whose events were never appended is an orphan, which [`PersonVault::forget`]
//!   removes at once on the failure path.

use std::sync::Arc;

use personal_data::{DataKey, MasterKey, WrappedDataKey};
use sqlx::{PgPool, Row};

/// The database error inside [`VaultError::Database`], for callers that tell outages from bugs.
pub use sqlx::Error as SqlxError;

const INSERT_KEY: &str = "INSERT INTO person_keys (subject, wrapped_key) VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING";
const SELECT_KEY: &str = "SELECT wrapped_key FROM person_keys WHERE subject = $1";
const DELETE_KEY: &str = "DELETE FROM person_keys WHERE subject = $1";
const RECORD_ERASURE: &str = "WITH gone AS (DELETE FROM person_keys WHERE subject = $1)
INSERT INTO person_erasures (subject, erased_at) VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING";
const SELECT_ERASURE: &str = "SELECT erased_at FROM person_erasures WHERE subject = $1";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("key material: {0}")]
    Crypto(#[from] personal_data::Error),
    #[error("subject {0} already has a data key")]
    KeyExists(String),
    #[error("subject {0} was erased")]
    Erased(String),
}

/// What the vault knows of a subject's key.
pub enum KeyState {
    Present(DataKey),
    /// Destroyed by an erasure at this time.
    Erased(chrono::DateTime<chrono::Utc>),
    Missing,
}

/// The key store. Cheap to clone.
#[derive(Clone)]
pub struct PersonVault {
    pool: PgPool,
    master: Arc<MasterKey>,
}

impl std::fmt::Debug for PersonVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonVault").finish_non_exhaustive()
    }
}

impl PersonVault {
    pub fn new(pool: PgPool, master: Arc<MasterKey>) -> Self {
        Self { pool, master }
    }

    /// Create and store a fresh key for `subject`; refuses if the subject has (or had) one.
    pub async fn create(&self, subject: &str) -> Result<DataKey, VaultError> {
        if sqlx::query(SELECT_ERASURE)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?
            .is_some()
        {
            return Err(VaultError::Erased(subject.to_owned()));
        }
        let key = DataKey::generate()?;
        let wrapped = self.master.wrap_data_key(subject, &key)?;
        let inserted = sqlx::query(INSERT_KEY)
            .bind(subject)
            .bind(wrapped.as_bytes())
            .execute(&self.pool)
            .await?;
        if inserted.rows_affected() == 0 {
            return Err(VaultError::KeyExists(subject.to_owned()));
        }
        Ok(key)
    }

    /// The subject's key, or why there is none.
    pub async fn key(&self, subject: &str) -> Result<KeyState, VaultError> {
        if let Some(row) = sqlx::query(SELECT_KEY)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?
        {
            let bytes: Vec<u8> = row.try_get("wrapped_key")?;
            let wrapped = WrappedDataKey::from_bytes(&bytes)?;
            return Ok(KeyState::Present(
                self.master.unwrap_data_key(subject, &wrapped)?,
            ));
        }
        match sqlx::query(SELECT_ERASURE)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?
        {
            Some(row) => Ok(KeyState::Erased(row.try_get("erased_at")?)),
            None => Ok(KeyState::Missing),
        }
    }

    /// Crypto-shred: delete the key and record the erasure, in one statement. Idempotent.
    pub async fn destroy(
        &self,
        subject: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), VaultError> {
        sqlx::query(RECORD_ERASURE)
            .bind(subject)
            .bind(at)
            .execute(&self.pool)
            .await?;
        tracing::info!(subject, "data key destroyed");
        Ok(())
    }

    /// Remove a key whose events were never appended (the command failed after creating it).
    pub async fn forget(&self, subject: &str) -> Result<(), VaultError> {
        sqlx::query(DELETE_KEY)
            .bind(subject)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

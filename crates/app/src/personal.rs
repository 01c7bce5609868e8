//! Sealing personal data before it reaches the domain, and opening it for display.
//!
//! Policy: every subject (`volunteer-<id>`, `team-<id>`, `hostunit-<id>`) has its own data key in the
//! person vault; plaintext is sealed with it and a purpose label (`"volunteer.personal"`,
//! `"team.leader"`, …) that binds the ciphertext to its field. Once a subject is erased, nothing new can
//! be sealed for it and nothing old can be opened. Plaintext never leaves this module except to the
//! caller that asked to open it (for masked display), and never enters logs or errors.

use domain::ids::Sealed;
use person_vault::{KeyState, VaultError};
use personal_data::{PersonalRecord, SealedValue, open_record, seal_record};

use crate::error::{AppError, ErrorCode};
use crate::ledger::Ledger;

fn vault_error(e: VaultError) -> AppError {
    match e {
        VaultError::Database(ref db)
            if matches!(
                db,
                person_vault::SqlxError::PoolTimedOut | person_vault::SqlxError::Io(_)
            ) =>
        {
            AppError::new(
                ErrorCode::Unavailable,
                "the database is unavailable; retry later",
            )
        }
        VaultError::Erased(_) => {
            AppError::new(ErrorCode::RuleViolation, "this person's data was erased")
        }
        other => AppError::internal("person vault", &other),
    }
}

impl Ledger {
    /// Seal `record` for `subject`, creating the subject's data key on first use.
    pub(crate) async fn seal_personal(
        &self,
        subject: &str,
        purpose: &str,
        record: &PersonalRecord,
    ) -> Result<Sealed, AppError> {
        let key = match self.vault().key(subject).await.map_err(vault_error)? {
            KeyState::Present(key) => key,
            KeyState::Erased(_) => return Err(vault_error(VaultError::Erased(subject.to_owned()))),
            KeyState::Missing => match self.vault().create(subject).await {
                Ok(key) => key,
                // Another command created it a moment ago: use that one.
                Err(VaultError::KeyExists(_)) => {
                    match self.vault().key(subject).await.map_err(vault_error)? {
                        KeyState::Present(key) => key,
                        _ => {
                            return Err(AppError::internal(
                                "person vault",
                                &"key vanished after creation",
                            ));
                        }
                    }
                }
                Err(e) => return Err(vault_error(e)),
            },
        };
        let sealed = seal_record(&key, subject, purpose, record)
            .map_err(|e| AppError::internal("sealing", &e))?;
        Ok(Sealed(sealed.to_string()))
    }

    /// Seal a single text (e.g. a certificate reference) for `subject`, like [`Self::seal_personal`].
    pub(crate) async fn seal_text(
        &self,
        subject: &str,
        purpose: &str,
        text: &str,
    ) -> Result<Sealed, AppError> {
        let record = PersonalRecord {
            name: text.to_owned(),
            id_number: None,
            phone: None,
        };
        self.seal_personal(subject, purpose, &record).await
    }

    /// Open a sealed record; `None` when the subject was erased (or never had a key).
    pub(crate) async fn open_personal(
        &self,
        subject: &str,
        purpose: &str,
        sealed: &Sealed,
    ) -> Result<Option<PersonalRecord>, AppError> {
        let KeyState::Present(key) = self.vault().key(subject).await.map_err(vault_error)? else {
            return Ok(None);
        };
        let value = SealedValue::parse(&sealed.0)
            .map_err(|e| AppError::internal("stored sealed value", &e))?;
        open_record(&key, subject, purpose, &value)
            .map(Some)
            .map_err(|e| AppError::internal("opening sealed value", &e))
    }
}

//! Auditor and supervisor access (#6 part 4, #5 read model 5 / A20): the audit history, the notary's
//! signed checkpoints, the verification status, and the notary's public key.
//!
//! Policy of this module:
//! - **Read-only, one permission.** Every query here needs [`Permission::ReadAuditHistory`]
//!   (`policy::READ_POLICY`: the auditor and the civil-affairs supervisor, each within its regions;
//!   partners only with that grant). Nothing here writes.
//! - **Scoped history.** The history answers only events whose subject region one of the actor's regions
//!   covers (a city covers its counties, a province its cities), exactly as the scope of the command that
//!   wrote them was checked. Checkpoints and the status cover the whole log and carry only counts, tokens,
//!   digests and signatures, so they are not scoped.
//! - **The public key is public.** [`Audit::notary_public_key`] needs no actor: anyone holding the key can
//!   check a checkpoint, which is the point of publishing it.
//! - **Verification is honest about what it checked.** [`Audit::audit_status`] checks the newest
//!   checkpoint's hash and Ed25519 signature under the configured keys — the notary's and, after a
//!   rotation, the retired ones (`None` when no key is configured here) — and counts the committed
//!   events no checkpoint covers yet. The full proof is `ledger-audit verify` against an anchor kept
//!   outside the database.
//! - **Bad input names its field** (`stream_id`, `actor`, `role`, `command`, `from`, `to`, …); a database
//!   that cannot be reached is `Unavailable`. No personal data: rows hold ids (accounts, records, regions,
//!   teams) and times only.

use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use domain::ids::RegionCode;
use eventstore::{StoreError, Token};
pub use notary::ExportedCheckpoint;
use notary::NotaryError;
use projections::{AuditHistoryProjector, ProjectionError};
/// The history's filter and rows, for the adapters (which do not depend on `projections`).
pub use projections::{HistoryFilter, HistoryRow};

use crate::actor::{Actor, Role};
use crate::error::AppError;
use crate::ledger::Ledger;
use crate::policy::{CommandKind, Permission, Scope, holds};
use crate::reads::ReadModels;

/// The largest page of the history.
pub const MAX_HISTORY_PAGE: usize = 1000;

/// The largest page of checkpoints.
pub const MAX_CHECKPOINT_PAGE: usize = 1000;

/// The longest text filter value, in characters.
pub const MAX_FILTER_CHARS: usize = 200;

/// The auditors' queries. Cheap to clone.
#[derive(Clone)]
pub struct Audit {
    ledger: Ledger,
    reads: ReadModels,
    keys: Option<Arc<notary::Keyring>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field(
                "notary_key_ids",
                &self.keys.as_deref().map(notary::Keyring::key_ids),
            )
            .finish_non_exhaustive()
    }
}

/// The notary's public key as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotaryPublicKey {
    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`). After a key rotation, one block per key that signed
    /// the chain, oldest first, the current key last (`ledger-audit verify --public-key` takes the
    /// file as it is).
    pub pem: String,
    /// The current key's id (first 8 bytes of SHA-256 of the key, hex): the `key_id` every checkpoint
    /// it signs names.
    pub key_id: String,
}

/// One page of the audit history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// In the global order.
    pub items: Vec<HistoryRow>,
    /// The cursor of the next page (the last row's token); `None`: this is the last page.
    pub next_cursor: Option<Token>,
    /// Events the projector has parked (when not 0 the history may miss them).
    pub parked_events: u64,
    /// The read model's checkpoint the answer was computed from.
    pub as_of: Token,
}

/// One page of checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointPage {
    /// Oldest first, in the exported form (`ledger-audit verify --anchor` reads any of them).
    pub items: Vec<ExportedCheckpoint>,
    /// Pass as `after_sequence` for the next page; `None`: this is the last page.
    pub next_after: Option<u64>,
}

/// What the notary has proven so far.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditStatus {
    /// The newest checkpoint (`None`: the notary has not signed one yet).
    pub latest: Option<ExportedCheckpoint>,
    /// The current notary key's id (`None`: no notary key is configured in this process).
    pub public_key_id: Option<String>,
    /// Whether the newest checkpoint's hash matches its fields and its signature verifies under the key
    /// it names, one of the configured keys (`None`: no checkpoint, or no key to check with).
    pub signature_valid: Option<bool>,
    /// Now − the newest checkpoint's `signed_at`.
    pub age: Option<TimeDelta>,
    /// Committed events after the newest checkpoint (all of them when there is none).
    pub uncovered_events: u64,
    /// When this status was computed (the service's clock).
    pub checked_at: DateTime<Utc>,
}

fn notary_error(context: &str, e: NotaryError) -> AppError {
    match e {
        NotaryError::Database(db) => match StoreError::Database(db) {
            unavailable if unavailable.is_unavailable() => unavailable.into(),
            other => AppError::internal(context, &other),
        },
        NotaryError::Store(s) if s.is_unavailable() => s.into(),
        other => AppError::internal(context, &other),
    }
}

fn projection_error(context: &str, e: ProjectionError) -> AppError {
    match e {
        ProjectionError::Database(db) => match StoreError::Database(db) {
            unavailable if unavailable.is_unavailable() => unavailable.into(),
            other => AppError::internal(context, &other),
        },
        ProjectionError::Store(s) if s.is_unavailable() => s.into(),
        other => AppError::internal(context, &other),
    }
}

/// A text filter: 1 to [`MAX_FILTER_CHARS`] characters, no control characters.
fn text_filter(field: &str, value: Option<&str>) -> Result<(), AppError> {
    match value {
        None => Ok(()),
        Some(v)
            if !v.is_empty()
                && v.chars().count() <= MAX_FILTER_CHARS
                && !v.chars().any(char::is_control) =>
        {
            Ok(())
        }
        Some(_) => Err(AppError::invalid(
            field,
            format!("must be 1 to {MAX_FILTER_CHARS} characters without control characters"),
        )),
    }
}

/// Check every field of `filter`, naming the first bad one.
pub fn check_filter(filter: &HistoryFilter) -> Result<(), AppError> {
    text_filter("stream_id", filter.stream_id.as_deref())?;
    text_filter("category", filter.category.as_deref())?;
    text_filter("actor", filter.actor.as_deref())?;
    text_filter("event_type", filter.event_type.as_deref())?;
    text_filter("correlation_id", filter.correlation_id.as_deref())?;
    if let Some(role) = filter.role.as_deref()
        && !Role::ALL.iter().any(|r| r.as_str() == role)
    {
        return Err(AppError::invalid(
            "role",
            format!(
                "{:?} is not a role (one of {})",
                role.chars().take(64).collect::<String>(),
                Role::ALL.map(Role::as_str).join(", ")
            ),
        ));
    }
    if let Some(command) = filter.command.as_deref()
        && !CommandKind::ALL.iter().any(|k| k.name() == command)
    {
        return Err(AppError::invalid(
            "command",
            format!(
                "{:?} is not a command name (e.g. RecordActivity)",
                command.chars().take(64).collect::<String>()
            ),
        ));
    }
    for (field, t) in [("from", filter.from), ("to", filter.to)] {
        if t.is_some_and(|t| !(1..=9999).contains(&t.year())) {
            return Err(AppError::invalid(
                field,
                "must be a time in the years 0001 to 9999",
            ));
        }
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && to < from
    {
        return Err(AppError::invalid("to", "must not be before from"));
    }
    Ok(())
}

/// The regions whose history `actor` may read (`Forbidden` without the permission).
fn history_scope(actor: &Actor) -> Result<Vec<RegionCode>, AppError> {
    match holds(actor, Permission::ReadAuditHistory)? {
        Scope::Region => Ok(actor.regions.clone()),
        Scope::Team => Err(AppError::forbidden(
            "the audit history is scoped by region; a team scope cannot read it",
        )),
    }
}

impl Audit {
    /// Queries over `ledger`'s database, waiting on `reads`' projector progress for `min_token`. Without
    /// [`Audit::with_notary_keys`] no key is served and signatures are not checked.
    pub fn new(ledger: Ledger, reads: ReadModels) -> Self {
        Self {
            ledger,
            reads,
            keys: None,
        }
    }

    /// The notary's public keys (the current one last, retired ones before it): served to anyone, and
    /// used to check the newest checkpoint's signature.
    #[must_use]
    pub fn with_notary_keys(mut self, keys: notary::Keyring) -> Self {
        self.keys = Some(Arc::new(keys));
        self
    }

    /// The notary's public key (no actor needed). `NotFound` when this service has no notary key.
    pub fn notary_public_key(&self) -> Result<NotaryPublicKey, AppError> {
        let keys = self.keys.as_ref().ok_or_else(|| {
            AppError::not_found(
                "notary",
                "this service has no notary key configured (LEDGER_NOTARY_KEY_FILE)",
            )
        })?;
        let pem = keys
            .to_pem()
            .map_err(|e| AppError::internal("encoding the notary public key", &e))?;
        Ok(NotaryPublicKey {
            pem,
            key_id: keys.current().key_id().to_owned(),
        })
    }

    /// Up to `limit` (1 to [`MAX_HISTORY_PAGE`]) events after `after` in the global order that match
    /// `filter` and whose subject region the actor's scope covers. With `min_token`, waits (bounded) until
    /// the history has passed that write.
    #[tracing::instrument(name = "audit.history", skip_all)]
    pub async fn audit_history(
        &self,
        actor: &Actor,
        filter: &HistoryFilter,
        after: Token,
        limit: usize,
        min_token: Option<Token>,
    ) -> Result<HistoryPage, AppError> {
        if !(1..=MAX_HISTORY_PAGE).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("must be an integer from 1 to {MAX_HISTORY_PAGE}"),
            ));
        }
        check_filter(filter)?;
        let scope = history_scope(actor)?;
        self.reads
            .caught_up(AuditHistoryProjector::ID, min_token)
            .await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let h = projections::history(self.ledger.store().pool(), &scope, filter, after, limit)
            .await
            .map_err(|e| projection_error("audit history query", e))?;
        let next_cursor = if h.has_more {
            h.rows.last().map(|r| r.token)
        } else {
            None
        };
        Ok(HistoryPage {
            items: h.rows,
            next_cursor,
            parked_events: h.parked_events,
            as_of: h.as_of,
        })
    }

    /// Up to `limit` (1 to [`MAX_CHECKPOINT_PAGE`]) checkpoints with a sequence above `after_sequence`,
    /// oldest first.
    #[tracing::instrument(name = "audit.checkpoints", skip_all)]
    pub async fn checkpoints(
        &self,
        actor: &Actor,
        after_sequence: u64,
        limit: usize,
    ) -> Result<CheckpointPage, AppError> {
        if !(1..=MAX_CHECKPOINT_PAGE).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("must be an integer from 1 to {MAX_CHECKPOINT_PAGE}"),
            ));
        }
        if i64::try_from(after_sequence).is_err() {
            return Err(AppError::invalid("after_sequence", "is out of range"));
        }
        holds(actor, Permission::ReadAuditHistory)?;
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        let mut list = notary::store::list(self.ledger.store().pool(), after_sequence, fetch)
            .await
            .map_err(|e| notary_error("listing checkpoints", e))?;
        let more = list.len() > limit;
        list.truncate(limit);
        let next_after = if more {
            list.last().map(|c| c.sequence)
        } else {
            None
        };
        Ok(CheckpointPage {
            items: list.iter().map(notary::Checkpoint::export).collect(),
            next_after,
        })
    }

    /// The newest checkpoint in the exported form (what an auditor keeps as `--anchor`). `NotFound` before
    /// the first.
    pub async fn latest_checkpoint(&self, actor: &Actor) -> Result<ExportedCheckpoint, AppError> {
        holds(actor, Permission::ReadAuditHistory)?;
        notary::store::latest(self.ledger.store().pool())
            .await
            .map_err(|e| notary_error("reading the newest checkpoint", e))?
            .map(|c| c.export())
            .ok_or_else(|| AppError::not_found("checkpoint", "the notary has not signed one yet"))
    }

    /// The newest checkpoint, whether it verifies under the configured key, its age and the events not yet
    /// covered.
    #[tracing::instrument(name = "audit.status", skip_all)]
    pub async fn audit_status(&self, actor: &Actor) -> Result<AuditStatus, AppError> {
        holds(actor, Permission::ReadAuditHistory)?;
        let pool = self.ledger.store().pool();
        let latest = notary::store::latest(pool)
            .await
            .map_err(|e| notary_error("reading the newest checkpoint", e))?;
        let uncovered_events =
            notary::store::count_after(pool, latest.as_ref().map_or(Token::START, |c| c.token))
                .await
                .map_err(|e| notary_error("counting uncovered events", e))?;
        let checked_at = self.ledger.now();
        let signature_valid = match (&latest, &self.keys) {
            (Some(cp), Some(keys)) => Some(keys.verify(cp).is_some()),
            _ => None,
        };
        Ok(AuditStatus {
            age: latest.as_ref().map(|c| checked_at - c.signed_at),
            latest: latest.as_ref().map(notary::Checkpoint::export),
            public_key_id: self.keys.as_ref().map(|k| k.current().key_id().to_owned()),
            signature_valid,
            uncovered_events,
            checked_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn filters_name_the_bad_field() {
        assert!(check_filter(&HistoryFilter::default()).is_ok());
        let ok = HistoryFilter {
            role: Some("county_cdc".to_owned()),
            command: Some("RecordActivity".to_owned()),
            from: Some(at("2025-01-01T00:00:00Z")),
            to: Some(at("2025-01-01T00:00:00Z")),
            ..HistoryFilter::default()
        };
        assert!(check_filter(&ok).is_ok());
        let cases = [
            (
                HistoryFilter {
                    role: Some("mayor".to_owned()),
                    ..HistoryFilter::default()
                },
                "role",
            ),
            (
                HistoryFilter {
                    command: Some("DropTable".to_owned()),
                    ..HistoryFilter::default()
                },
                "command",
            ),
            (
                HistoryFilter {
                    actor: Some(String::new()),
                    ..HistoryFilter::default()
                },
                "actor",
            ),
            (
                HistoryFilter {
                    stream_id: Some("team-\u{0}".to_owned()),
                    ..HistoryFilter::default()
                },
                "stream_id",
            ),
            (
                HistoryFilter {
                    correlation_id: Some("x".repeat(MAX_FILTER_CHARS + 1)),
                    ..HistoryFilter::default()
                },
                "correlation_id",
            ),
            (
                HistoryFilter {
                    from: DateTime::from_timestamp(-70_000_000_000, 0),
                    ..HistoryFilter::default()
                },
                "from",
            ),
            (
                HistoryFilter {
                    from: Some(at("2025-01-02T00:00:00Z")),
                    to: Some(at("2025-01-01T00:00:00Z")),
                    ..HistoryFilter::default()
                },
                "to",
            ),
        ];
        for (filter, field) in cases {
            let e = check_filter(&filter).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidArgument, "{filter:?}");
            assert_eq!(e.field.as_deref(), Some(field), "{filter:?}");
        }
    }
}

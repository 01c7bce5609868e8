//! The application service: one handle the adapters (gRPC, REST, the demo loader) call.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::ids::CampaignId;
use eventstore::{Clock, EventStore};
use person_vault::PersonVault;
use personal_data::KeyedHasher;

use crate::actor::Actor;

/// Everything a command carries besides its body: who sends it and how to recognise it again.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub actor: Actor,
    /// Required on every write; scoped to `actor.subject`.
    pub idempotency_key: String,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    /// Which door it came through (`grpc`, `rest`, `demo`, `test`).
    pub client: String,
}

/// What this deployment runs.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// The campaign whose rules (window, deadlines, thresholds) apply (百千万 in Shaoxing).
    pub campaign: CampaignId,
}

/// The application service. Cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    store: EventStore,
    vault: PersonVault,
    hasher: KeyedHasher,
    clock: Arc<dyn Clock>,
    config: LedgerConfig,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    pub fn new(
        store: EventStore,
        vault: PersonVault,
        hasher: KeyedHasher,
        clock: Arc<dyn Clock>,
        config: LedgerConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                vault,
                hasher,
                clock,
                config,
            }),
        }
    }

    pub fn store(&self) -> &EventStore {
        &self.inner.store
    }

    pub(crate) fn vault(&self) -> &PersonVault {
        &self.inner.vault
    }

    pub(crate) fn hasher(&self) -> &KeyedHasher {
        &self.inner.hasher
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.inner.config
    }

    /// The service's receipt time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The keyed hash identifying a plaintext command for idempotency (see ADR 0004): the kind name as
    /// label, the command's `Debug` rendering as bytes — deterministic for a build, since no command type
    /// holds a hash map. Sealing is randomised, so this is always computed before sealing.
    pub(crate) fn fingerprint(
        &self,
        kind: crate::policy::CommandKind,
        command: &impl std::fmt::Debug,
    ) -> [u8; 32] {
        self.hasher()
            .fingerprint(kind.name(), format!("{command:?}").as_bytes())
    }
}

//! The store handle: a pool, a clock, limits, and the in-process wake-up signal for subscribers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;

use crate::clock::{Clock, SystemClock};
use crate::token::Token;

/// Limits and behaviour of the store. The defaults suit the service; tests lower some of them.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Largest payload, in bytes of JSON text.
    pub max_payload_bytes: usize,
    /// Largest metadata, in bytes of JSON text.
    pub max_metadata_bytes: usize,
    /// Most events in one append.
    pub max_events_per_append: usize,
    /// When set, only these `(event_type, schema_version)` pairs may be appended.
    pub known_event_types: Option<Arc<HashSet<(String, u32)>>>,
    /// How often a live subscription polls when nothing woke it (the fallback across replicas).
    pub poll_interval: Duration,
    /// Rows per page when reading the log.
    pub page_size: i64,
    /// Postgres channel the debounced notifier uses to wake other processes' subscriptions.
    pub notify_channel: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            max_payload_bytes: 256 * 1024,
            max_metadata_bytes: 16 * 1024,
            max_events_per_append: 1000,
            known_event_types: None,
            poll_interval: Duration::from_millis(500),
            page_size: 1000,
            notify_channel: "vledger_events".to_owned(),
        }
    }
}

/// The event store. Cheap to clone; all clones share the pool and the wake-up signal.
#[derive(Clone)]
pub struct EventStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: PgPool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: StoreConfig,
    /// The newest token this process knows was committed (by its own appends or a notification).
    pub(crate) latest: watch::Sender<Token>,
}

impl std::fmt::Debug for EventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStore")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl EventStore {
    /// A store on `pool` with the system clock.
    pub fn new(pool: PgPool, config: StoreConfig) -> Self {
        Self::with_clock(pool, config, Arc::new(SystemClock))
    }

    /// A store with an injected clock (tests pin `recorded_at`).
    pub fn with_clock(pool: PgPool, config: StoreConfig, clock: Arc<dyn Clock>) -> Self {
        let (latest, _) = watch::channel(Token::START);
        Self {
            inner: Arc::new(Inner {
                pool,
                clock,
                config,
                latest,
            }),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// A dedicated connection (outside the pool) for a leader's session advisory lock, with server-side
    /// TCP keepalives: if this host dies without closing the socket, the server notices within about
    /// 25 s (idle 10 s, then 3 probes 5 s apart), ends the session and so releases the lock for a
    /// standby — instead of after the kernel's default two hours. (Unix-socket sessions ignore the
    /// settings; they cannot outlive their host.)
    pub async fn leader_connection(&self) -> Result<sqlx::PgConnection, crate::error::StoreError> {
        use sqlx::Connection;
        let options = self.pool().connect_options();
        let mut conn = sqlx::PgConnection::connect_with(&options).await?;
        sqlx::query(crate::sql::KEEPALIVES)
            .execute(&mut conn)
            .await?;
        Ok(conn)
    }

    /// Record that `token` is known to be committed, waking local subscriptions.
    pub(crate) fn observe_committed(&self, token: Token) {
        self.inner.latest.send_if_modified(|latest| {
            if token > *latest {
                *latest = token;
                true
            } else {
                false
            }
        });
    }
}

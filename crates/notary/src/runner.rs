//! The notary: one active instance folds the log into the global digest and writes a signed checkpoint
//! every [`NotaryConfig::every_events`] events or, when fewer arrived, every [`NotaryConfig::every`].
//!
//! Policy of this module:
//! - **Order.** The log is read only with `EventStore::read_all_after` (and waited for with a
//!   subscription): the gap-free `(tx_id, position)` order below the fence, the same order the auditor
//!   recomputes.
//! - **Election.** A session advisory lock ([`LOCK_KEY`]) held on a dedicated connection; standbys poll
//!   for it every [`NotaryConfig::lease_retry`]. The notary's state lives only in memory and is rebuilt
//!   from the newest checkpoint (whose signature it checks first) on every election.
//! - **Fencing.** A checkpoint is inserted with `ON CONFLICT (sequence) DO NOTHING`: if the sequence is
//!   taken another notary signed it; this one writes nothing more and re-elects.
//! - **It never signs over a row it cannot verify.** Each event's hash is recomputed from the row and its
//!   stored `prev_hash` before it is folded; a mismatch stops signing, is logged (ids only) and is
//!   retried after the backoff — verification by `ledger-audit verify` names it.
//! - **No personal data** is read or logged: the notary handles hashes and tokens.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use eventstore::hash;
use eventstore::{EventStore, RecordedEvent, Token};
use sqlx::{Connection, PgConnection};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::NotaryError;
use crate::format::{Checkpoint, GENESIS_DIGEST, Unsigned, fold};
use crate::keys::{Keyring, NotaryKey, PublicKey};
use crate::store;

/// The notary's advisory-lock key: the ASCII bytes of `vlnotary`.
pub const LOCK_KEY: i64 = i64::from_be_bytes(*b"vlnotary");

mod sql {
    pub const TRY_LOCK: &str = "SELECT pg_try_advisory_lock($1) AS locked";
    pub const UNLOCK: &str = "SELECT pg_advisory_unlock($1) AS unlocked";
    pub const PING: &str = "SELECT 1 AS one";
}

/// Tuning. The defaults suit the service; tests shorten them.
#[derive(Debug, Clone)]
pub struct NotaryConfig {
    /// A checkpoint is written after this many events (exactly at the N-th).
    pub every_events: u64,
    /// …or after this long, when at least one event is not covered yet.
    pub every: Duration,
    /// Events read per page.
    pub page_size: i64,
    /// How often a standby tries to take the lock.
    pub lease_retry: Duration,
    /// Pause after a failed session before re-electing.
    pub error_backoff: Duration,
    /// While idle, how often the leader checks that its lock connection is alive.
    pub idle_check: Duration,
}

impl Default for NotaryConfig {
    fn default() -> Self {
        Self {
            every_events: 10_000,
            every: Duration::from_secs(10),
            page_size: 5_000,
            lease_retry: Duration::from_secs(1),
            error_backoff: Duration::from_secs(5),
            idle_check: Duration::from_secs(5),
        }
    }
}

/// What the notary has done, for metrics and the auditors' status endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotaryProgress {
    /// This instance holds the lock.
    pub leader: bool,
    /// The newest checkpoint this instance knows of (written or read on election).
    pub latest: Option<Checkpoint>,
    /// Checkpoints this instance wrote.
    pub written_here: u64,
    /// The last error of a session, if the last session failed (ids and reasons, no personal data).
    pub last_error: Option<String>,
}

/// The running fold: the newest checkpoint plus what was folded after it.
struct Fold {
    sequence: u64,
    prev_hash: [u8; 32],
    token: Token,
    count: u64,
    digest: [u8; 32],
    since_checkpoint: u64,
    last_checkpoint_at: Instant,
}

impl Fold {
    fn resume(latest: Option<&Checkpoint>) -> Self {
        match latest {
            Some(cp) => Self {
                sequence: cp.sequence,
                prev_hash: cp.hash,
                token: cp.token,
                count: cp.event_count,
                digest: cp.digest,
                since_checkpoint: 0,
                last_checkpoint_at: Instant::now(),
            },
            None => Self {
                sequence: 0,
                prev_hash: [0; 32],
                token: Token::START,
                count: 0,
                digest: GENESIS_DIGEST,
                since_checkpoint: 0,
                last_checkpoint_at: Instant::now(),
            },
        }
    }

    fn add(&mut self, event: &RecordedEvent) -> Result<(), NotaryError> {
        let recomputed = hash::chain(&event.prev_hash, &event.canonical().digest());
        if recomputed != event.hash {
            return Err(NotaryError::Integrity(format!(
                "stream {} version {} (token {}): the row does not match its hash; not signing",
                event.stream_id, event.stream_version, event.token
            )));
        }
        self.digest = fold(&self.digest, event.token, &event.hash);
        self.token = event.token;
        self.count += 1;
        self.since_checkpoint += 1;
        Ok(())
    }

    fn next_unsigned(&self, key_id: &str) -> Unsigned {
        Unsigned {
            sequence: self.sequence + 1,
            prev_hash: self.prev_hash,
            token: self.token,
            event_count: self.count,
            digest: self.digest,
            signed_at_micros: Utc::now().timestamp_micros(),
            key_id: key_id.to_owned(),
        }
    }

    fn sealed(&mut self, checkpoint: &Checkpoint) {
        self.sequence = checkpoint.sequence;
        self.prev_hash = checkpoint.hash;
        self.since_checkpoint = 0;
        self.last_checkpoint_at = Instant::now();
    }
}

/// How a leader's term ended without an error.
enum Term {
    /// Another notary wrote the sequence this one wanted, or the lock connection died: re-elect.
    LostLease,
    /// [`Notary::run_once`]: everything below the fence is covered.
    CaughtUp,
}

/// The keys of the chain never go back ([`Keyring`]): every key that signed a checkpoint is in `ring`,
/// and the spans of checkpoints the keys signed follow the keyring's order without interleaving. A
/// notary refuses to sign on top of a chain where they do not: a retired key signed after its rotation
/// (or the keyring it was given is incomplete or out of order).
fn check_key_order(ring: &Keyring, spans: &[store::KeySpan]) -> Result<(), NotaryError> {
    let mut previous: Option<(usize, &store::KeySpan)> = None;
    for span in spans {
        let rank = ring.rank(&span.key_id).ok_or_else(|| {
            NotaryError::Integrity(format!(
                "checkpoint {} is signed by key {}, which is not among this notary's keys ({}); give \
                 every key that signed the chain, oldest first (LEDGER_NOTARY_RETIRED_KEYS_FILE); \
                 not continuing its chain",
                span.first,
                span.key_id,
                ring.key_ids()
            ))
        })?;
        if let Some((before, p)) = previous {
            // (the retired key, the checkpoint it signed late, its successor, the successor's first)
            let late = if rank < before {
                Some((&span.key_id, span.first, &p.key_id, p.first))
            } else if p.last > span.first {
                Some((&p.key_id, p.last, &span.key_id, span.first))
            } else {
                None
            };
            let detail = late.map(|(retired, at, successor, since)| {
                format!(
                    "key {retired} signed checkpoint {at} after key {successor}, which replaced it, \
                     signed checkpoint {since}"
                )
            });
            if let Some(detail) = detail {
                return Err(NotaryError::Integrity(format!(
                    "the chain's keys go back, a retired key signed after its rotation: {detail}; not \
                     signing until an auditor has verified the log"
                )));
            }
        }
        previous = Some((rank, span));
    }
    Ok(())
}

/// Writes signed checkpoints of the log.
pub struct Notary {
    store: EventStore,
    key: Arc<NotaryKey>,
    /// The public keys that signed the chain before `key` took over, oldest first ([`Keyring`]).
    retired: Vec<PublicKey>,
    config: NotaryConfig,
    progress: watch::Sender<NotaryProgress>,
}

impl Notary {
    pub fn new(store: EventStore, key: Arc<NotaryKey>, config: NotaryConfig) -> Self {
        let (progress, _) = watch::channel(NotaryProgress::default());
        Self {
            store,
            key,
            retired: Vec::new(),
            config,
            progress,
        }
    }

    /// Rotation: the public keys that signed the chain before this notary's key, oldest first. The
    /// notary then continues a chain whose newest checkpoint one of them signed, provided no key after
    /// that one has signed yet (the keys of a chain never go back, [`Keyring`]). Checkpoints it writes
    /// carry its own key id; auditors verify with every key (`ledger-audit verify --public-key` each).
    pub fn with_retired_keys(mut self, retired: Vec<PublicKey>) -> Self {
        self.retired = retired;
        self
    }

    /// A `watch` of this instance's progress.
    pub fn progress(&self) -> watch::Receiver<NotaryProgress> {
        self.progress.subscribe()
    }

    /// Run until `shutdown` resolves: stand by, lead, checkpoint; errors are logged and retried.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let term = tokio::select! {
                () = &mut shutdown => break,
                t = self.term(false) => t,
            };
            self.progress.send_modify(|p| {
                p.leader = false;
                p.last_error = term.as_ref().err().map(ToString::to_string);
            });
            if let Err(error) = term {
                tracing::warn!(%error, "notary term failed; retrying");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(self.config.error_backoff) => {}
                }
            }
        }
        self.progress.send_modify(|p| p.leader = false);
    }

    /// Take the lock (waiting for it), cover everything committed when it is called (waiting for the
    /// fence to pass it) — checkpoints every
    /// `every_events` and one at the end — and give the lock back. Returns the newest checkpoint. For
    /// operators (`ledger-audit notarize`) and tests.
    pub async fn run_once(&self) -> Result<Option<Checkpoint>, NotaryError> {
        loop {
            match self.term(true).await {
                Ok(Term::CaughtUp) => return Ok(self.progress.borrow().latest.clone()),
                Ok(Term::LostLease) => {}
                Err(e) => return Err(e),
            }
        }
    }

    async fn acquire(&self) -> Result<PgConnection, NotaryError> {
        let mut conn = self.store.leader_connection().await?;
        loop {
            let locked: bool = sqlx::query_scalar(sql::TRY_LOCK)
                .bind(LOCK_KEY)
                .fetch_one(&mut conn)
                .await?;
            if locked {
                return Ok(conn);
            }
            if self.progress.borrow().latest.is_none() {
                // A standby still shows the newest checkpoint (for metrics and status).
                let latest = store::latest(self.store.pool()).await?;
                self.progress.send_modify(|p| p.latest = latest);
            }
            tokio::time::sleep(self.config.lease_retry).await;
        }
    }

    async fn release(&self, mut conn: PgConnection) {
        let unlocked = sqlx::query(sql::UNLOCK)
            .bind(LOCK_KEY)
            .execute(&mut conn)
            .await;
        if let Err(error) = unlocked.map(drop).and(conn.close().await) {
            tracing::debug!(%error, "closing the notary lock connection");
        }
    }

    async fn term(&self, once: bool) -> Result<Term, NotaryError> {
        let mut lease = self.acquire().await?;
        self.progress.send_modify(|p| p.leader = true);
        let led = self.lead(&mut lease, once).await;
        self.progress.send_modify(|p| p.leader = false);
        self.release(lease).await;
        led
    }

    /// The newest checkpoint, checked before the chain is extended: it must carry a valid signature of
    /// this notary's key or of a retired key it was given, every key that signed the chain must be one
    /// of those and they must never go back ([`check_key_order`]), and it must not be older than the newest checkpoint this process has already seen
    /// (checkpoints do not disappear unless someone deleted them). Anything else stops the notary: it
    /// never builds on a chain it cannot vouch for.
    async fn resume(&self) -> Result<Fold, NotaryError> {
        let latest = store::latest(self.store.pool()).await?;
        let seen = self.progress.borrow().latest.as_ref().map(|c| c.sequence);
        let found = latest.as_ref().map(|c| c.sequence);
        if seen > found {
            return Err(NotaryError::Integrity(format!(
                "the newest checkpoint in the database is {} but this notary has seen {}: \
                 checkpoints were deleted; not signing until an auditor has verified the log",
                found.map_or_else(|| "none".to_owned(), |s| s.to_string()),
                seen.unwrap_or(0)
            )));
        }
        if let Some(cp) = &latest {
            let ring = Keyring::rotated(&self.retired, self.key.public())?;
            let Some(rank) = ring.verify(cp) else {
                return Err(NotaryError::Integrity(format!(
                    "checkpoint {} (key {}) does not carry a valid signature of this notary's key or of \
                     a retired key it was given ({}); not continuing its chain",
                    cp.sequence,
                    cp.key_id,
                    ring.key_ids()
                )));
            };
            let spans = store::key_spans(self.store.pool()).await?;
            check_key_order(&ring, &spans)?;
            if rank + 1 < ring.keys().count() {
                tracing::info!(
                    sequence = cp.sequence,
                    retired_key = %cp.key_id,
                    key = %self.key.key_id(),
                    "continuing the chain of a retired notary key"
                );
            }
        }
        let fold = Fold::resume(latest.as_ref());
        self.progress.send_modify(|p| p.latest = latest);
        Ok(fold)
    }

    /// Sign and insert the next checkpoint; `false` when fenced.
    async fn checkpoint(&self, fold: &mut Fold) -> Result<bool, NotaryError> {
        let checkpoint = self.key.sign(fold.next_unsigned(self.key.key_id()))?;
        if !store::insert(self.store.pool(), &checkpoint).await? {
            tracing::warn!(
                sequence = checkpoint.sequence,
                "checkpoint sequence already taken (another notary); re-electing"
            );
            return Ok(false);
        }
        tracing::debug!(
            sequence = checkpoint.sequence,
            token = %checkpoint.token,
            events = checkpoint.event_count,
            "checkpoint signed"
        );
        fold.sealed(&checkpoint);
        self.progress.send_modify(|p| {
            p.latest = Some(checkpoint);
            p.written_here += 1;
        });
        Ok(true)
    }

    async fn lead(&self, lease: &mut PgConnection, once: bool) -> Result<Term, NotaryError> {
        let mut fold = self.resume().await?;
        // `run_once` covers everything committed when it starts, waiting for the fence to pass it.
        let mut target = if once {
            store::newest_event(self.store.pool()).await?
        } else {
            None
        };
        let mut backoff = Duration::from_millis(2);
        let page_size = self.config.page_size.max(1);
        let every_events = self.config.every_events.max(1);
        loop {
            let page = self.store.read_all_after(fold.token, page_size).await?;
            let full = i64::try_from(page.len()).is_ok_and(|n| n >= page_size);
            for event in &page {
                fold.add(event)?;
                if fold.since_checkpoint >= every_events && !self.checkpoint(&mut fold).await? {
                    return Ok(Term::LostLease);
                }
            }
            if full {
                continue;
            }
            if target.is_some_and(|t| fold.token < t) {
                // Committed, but an older transaction still holds the fence: look again soon. (If the
                // row we wait for is gone — deleted by someone — the newest event is now lower: wait
                // for that one instead of forever.)
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(200));
                target = target.min(store::newest_event(self.store.pool()).await?);
                continue;
            }
            // Caught up with the fence.
            let due = fold.last_checkpoint_at.elapsed() >= self.config.every;
            if fold.since_checkpoint > 0 && (once || due) && !self.checkpoint(&mut fold).await? {
                return Ok(Term::LostLease);
            }
            if once {
                return Ok(Term::CaughtUp);
            }
            // Wait for the next event, the next due time, or the lease check.
            let wait = if fold.since_checkpoint > 0 {
                self.config
                    .every
                    .saturating_sub(fold.last_checkpoint_at.elapsed())
                    .min(self.config.idle_check)
            } else {
                self.config.idle_check
            };
            let mut next = self.store.subscribe(fold.token);
            tokio::select! {
                e = next.next() => {
                    let event = e?;
                    fold.add(&event)?;
                    if fold.since_checkpoint >= every_events && !self.checkpoint(&mut fold).await? {
                        return Ok(Term::LostLease);
                    }
                }
                () = tokio::time::sleep(wait) => {
                    if sqlx::query(sql::PING).execute(&mut *lease).await.is_err() {
                        tracing::warn!("notary lock connection lost; re-electing");
                        return Ok(Term::LostLease);
                    }
                }
            }
        }
    }
}

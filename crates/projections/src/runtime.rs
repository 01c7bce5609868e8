//! The projector runtime: checkpoints, leader election, fencing, parking, and waiting for a token.
//!
//! Policy of this module:
//! - **Order.** A runner reads the log only with [`EventStore::read_all_after`] (and waits for new events
//!   with a [`eventstore::Subscription`]), i.e. in the gap-free `(tx_id, position)` order below the fence.
//! - **Exactly-once effect.** A batch of events is applied in one transaction that also moves the
//!   projector's checkpoint `(tx_id, position)` to the batch's last event. A batch that does not commit
//!   leaves neither read-model changes nor a moved checkpoint behind, so an aborted runner resumes where
//!   the last committed batch ended.
//! - **Election.** One runner per projector id applies at a time, across processes: it holds the
//!   session-level advisory lock `pg_try_advisory_lock(key(id))` on a dedicated connection (not a pooled
//!   one). Others poll for the lock every [`RunnerConfig::lease_retry`] and take over when the holder's
//!   connection goes away. The lock is released by closing that connection.
//! - **Fencing.** The advisory lock elects but does not fence: each batch transaction locks the checkpoint
//!   row (the fast path by an `UPDATE … WHERE` it holds the expected value, the one-by-one path `FOR
//!   UPDATE` and a comparison) before it writes anything. On a mismatch the batch is
//!   rolled back, the runner gives up its lease and re-elects (re-reading the checkpoint), so a stale
//!   leader never applies an event twice.
//! - **Round trips.** A batch's fast path is `BEGIN`, one statement that fences it, moves the checkpoint
//!   and reads the parked heads of its streams, the projector's runs ([`Projector::apply_many`]), `COMMIT`.
//!   The one-by-one path (a savepoint per event) runs only after the fast path failed permanently.
//! - **Parking.** An event whose apply fails permanently ([`ApplyError::is_permanent`]) is rolled back to a
//!   savepoint and recorded in `projection_parked` with its error; every later event of the same stream
//!   that the projector handles is parked too (it waits behind the first, it is never applied out of
//!   order and never silently skipped). Other streams continue. A transient failure rolls the whole batch
//!   back and the runner retries after [`RunnerConfig::error_backoff`]. Nothing aborts [`Runner::run`]
//!   except its shutdown signal.
//! - **Waiting.** [`Runner::progress`] is a `watch` of the checkpoint; [`Runner::wait_for`] waits for a
//!   token with a deadline and [`Runner::run_until`] runs until a token is reached — no sleeping to wait.
//!   A standby runner refreshes its progress from the database each time it polls for the lock, so
//!   waiting on it works too (with that latency). A follower ([`RunnerConfig::lead`] `false`) only
//!   ever does that: it never applies, it mirrors the leader's checkpoint.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use eventstore::{EventStore, RecordedEvent, Token};
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, PgPool, Row};
use tokio::sync::watch;

use crate::error::{ApplyError, ProjectionError, WaitError};

/// A read model maintained from the log.
///
/// The runner owns the transaction boundaries: `apply` receives the connection of the batch transaction
/// (inside a savepoint for this event) and must not commit or roll back. It must not decrypt anything and
/// must write no personal data (ids, codes, dates and counts only).
pub trait Projector: Send + Sync + 'static {
    /// Stable id: the checkpoint row, the lock key and the parked rows are keyed by it. Never renamed.
    fn id(&self) -> &'static str;

    /// The read-model tables this projector owns (in `public`), parents before the tables whose foreign
    /// keys reference them. Static names only: [`crate::rebuild`] builds DDL from them.
    fn tables(&self) -> &'static [&'static str];

    /// Whether the projector consumes this event. Events it does not handle only advance the checkpoint
    /// (and are not parked behind a parked stream).
    fn handles(&self, event: &RecordedEvent) -> bool;

    /// Apply one event to the read model.
    fn apply(
        &self,
        conn: &mut PgConnection,
        event: &RecordedEvent,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send;

    /// Apply several events in their order — the fast path of a batch: every event is one this projector
    /// [`handles`](Projector::handles), and none belongs to a parked stream. The default applies them one
    /// by one with [`apply`](Projector::apply). A set-based implementation writes them with a few
    /// multi-row statements ([`crate::batch`]); it must leave the read model exactly as applying them one
    /// by one would. It need not say which event failed: on a permanent error the runtime rolls the batch
    /// transaction back and applies the events one by one in a new one, each in a savepoint of its own,
    /// parking the one that fails.
    fn apply_many(
        &self,
        conn: &mut PgConnection,
        events: &[&RecordedEvent],
    ) -> impl Future<Output = Result<(), ApplyError>> + Send {
        async move {
            for event in events {
                self.apply(&mut *conn, event).await?;
            }
            Ok(())
        }
    }
}

/// How [`apply_batch_with`] applies the events of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApplyMode {
    /// [`Projector::apply_many`] in the batch transaction, falling back to [`ApplyMode::OneByOne`] (in a
    /// new transaction) when it fails permanently (the production path).
    #[default]
    SetBased,
    /// [`Projector::apply`] per event, each in a savepoint of its own (the fallback; tests use it to check
    /// that a projector's set-based path builds the same read model).
    OneByOne,
}

mod sql {
    pub const ENSURE_CHECKPOINT: &str = "INSERT INTO projection_checkpoints (projector) VALUES ($1)
ON CONFLICT (projector) DO NOTHING";

    pub const READ_CHECKPOINT: &str = "SELECT tx_id::text AS tx_text, position
FROM projection_checkpoints WHERE projector = $1";

    /// The fence of a batch: the checkpoint row, locked until the batch commits or rolls back.
    pub const LOCK_CHECKPOINT: &str = "SELECT tx_id::text AS tx_text, position
FROM projection_checkpoints WHERE projector = $1 FOR UPDATE";

    /// The fence and the move of a set-based batch in one statement, with the parked heads of its
    /// streams. The UPDATE locks the checkpoint row until the batch commits (a concurrent holder makes it
    /// wait and then re-check the row it finds). Binds: $1 projector, $2 expected tx_id (text),
    /// $3 expected position, $4 the batch's last tx_id (text), $5 its position, $6 stream ids (text[]).
    pub const ADVANCE: &str = "WITH moved AS (
    UPDATE projection_checkpoints SET tx_id = $4::text::xid8, position = $5, updated_at = now()
    WHERE projector = $1 AND tx_id = $2::text::xid8 AND position = $3
    RETURNING 1
), heads AS (
    SELECT stream_id, min(stream_version) AS first_version
    FROM projection_parked WHERE projector = $1 AND stream_id = ANY($6) GROUP BY stream_id
)
SELECT (SELECT count(*) FROM moved) AS moved,
    coalesce((SELECT array_agg(stream_id ORDER BY stream_id) FROM heads), '{}') AS parked_streams,
    coalesce((SELECT array_agg(first_version ORDER BY stream_id) FROM heads), '{}') AS parked_versions";

    /// Binds: $1 projector, $2 tx_id (text), $3 position.
    pub const WRITE_CHECKPOINT: &str = "UPDATE projection_checkpoints
SET tx_id = $2::text::xid8, position = $3, updated_at = now() WHERE projector = $1";

    /// Binds: $1 projector, $2 stream ids (text[]). The first parked version of each of those streams.
    pub const PARKED_HEADS: &str = "SELECT stream_id, min(stream_version) AS first_version
FROM projection_parked WHERE projector = $1 AND stream_id = ANY($2) GROUP BY stream_id";

    /// Binds: $1 projector, $2 stream_id, $3 stream_version, $4 tx_id (text), $5 position, $6 event_type,
    /// $7 error.
    pub const PARK: &str = "INSERT INTO projection_parked
(projector, stream_id, stream_version, tx_id, position, event_type, error)
VALUES ($1, $2, $3, $4::text::xid8, $5, $6, $7)
ON CONFLICT (projector, stream_id, stream_version) DO NOTHING";

    pub const PARKED_COUNT: &str =
        "SELECT count(*) AS n FROM projection_parked WHERE projector = $1";

    pub const TRY_LOCK: &str = "SELECT pg_try_advisory_lock($1) AS locked";

    pub const UNLOCK: &str = "SELECT pg_advisory_unlock($1) AS unlocked";

    pub const PING: &str = "SELECT 1 AS one";
}

/// Tuning of a runner. The defaults suit the service; tests shorten the intervals.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Most events read and applied in one transaction.
    pub batch_size: i64,
    /// How often a standby runner tries to take the lock (and refreshes its view of the checkpoint).
    pub lease_retry: Duration,
    /// Pause after a failed session (database unreachable, transient apply failure) before re-electing.
    pub error_backoff: Duration,
    /// While idle, how often the leader checks that its lock connection is still alive.
    pub idle_check: Duration,
    /// `false`: follow only — never take the lock, just refresh the progress from the database every
    /// [`RunnerConfig::lease_retry`] (API replicas when dedicated projector processes lead), so that
    /// read-your-writes waits work here too.
    pub lead: bool,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            lease_retry: Duration::from_secs(1),
            error_backoff: Duration::from_secs(1),
            idle_check: Duration::from_secs(5),
            lead: true,
        }
    }
}

/// What a runner knows about its projector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The projector's committed checkpoint, as last seen by this runner: every event up to it (in the
    /// global order) has been applied or parked.
    pub checkpoint: Token,
    /// This runner holds the lock (it is the one applying).
    pub leader: bool,
    /// Events parked for this projector (all runners), as last seen by this runner.
    pub parked_events: u64,
    /// Events this runner applied itself (not counting parked or unhandled ones).
    pub applied_here: u64,
    /// Batches this runner committed itself.
    pub batches_here: u64,
}

/// The result of [`apply_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// The batch committed; the checkpoint is now `checkpoint`.
    Committed {
        checkpoint: Token,
        applied: u64,
        parked: u64,
    },
    /// The checkpoint row did not hold the expected value (another runner moved it): nothing was applied.
    Fenced { found: Token },
}

fn token_of(row: &PgRow) -> Result<Token, ProjectionError> {
    let tx: String = row.try_get("tx_text")?;
    let position: i64 = row.try_get("position")?;
    let tx_id = tx
        .parse()
        .map_err(|_| ProjectionError::Corrupt(format!("checkpoint tx_id {tx:?}")))?;
    Ok(Token { tx_id, position })
}

fn version_i64(event: &RecordedEvent) -> Result<i64, ProjectionError> {
    i64::try_from(event.stream_version).map_err(|_| {
        ProjectionError::Corrupt(format!(
            "{} has version {}",
            event.stream_id, event.stream_version
        ))
    })
}

/// The advisory-lock key of a projector id: FNV-1a (64 bit) of `"vledger.projection." + id`.
pub fn lock_key(projector_id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"vledger.projection."
        .iter()
        .chain(projector_id.as_bytes().iter())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_be_bytes(h.to_be_bytes())
}

/// The committed checkpoint of `projector_id` (`Token::START` when it never ran).
pub async fn checkpoint(pool: &PgPool, projector_id: &str) -> Result<Token, ProjectionError> {
    let row = sqlx::query(sql::READ_CHECKPOINT)
        .bind(projector_id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map_or(Ok(Token::START), token_of)
}

/// How many events of `projector_id` are parked.
pub async fn parked_count(pool: &PgPool, projector_id: &str) -> Result<u64, ProjectionError> {
    let n: i64 = sqlx::query_scalar(sql::PARKED_COUNT)
        .bind(projector_id)
        .fetch_one(pool)
        .await?;
    u64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("parked count {n}")))
}

async fn park(
    conn: &mut PgConnection,
    projector_id: &str,
    event: &RecordedEvent,
    error: &str,
) -> Result<(), ProjectionError> {
    sqlx::query(sql::PARK)
        .bind(projector_id)
        .bind(&event.stream_id)
        .bind(version_i64(event)?)
        .bind(event.token.tx_id.to_string())
        .bind(event.token.position)
        .bind(&event.event_type)
        .bind(error)
        .execute(conn)
        .await?;
    Ok(())
}

/// Apply `events` (a contiguous page of the global order, read after `expected`) in one transaction that
/// also moves the checkpoint to the last of them — if, and only if, the checkpoint row still holds
/// `expected` (fencing). The building block of [`Runner`]; public for rebuild tools and tests.
pub async fn apply_batch<P: Projector>(
    pool: &PgPool,
    projector: &P,
    expected: Token,
    events: &[RecordedEvent],
) -> Result<BatchOutcome, ProjectionError> {
    apply_batch_with(pool, projector, expected, events, ApplyMode::SetBased).await
}

/// [`apply_batch`] with the way events are applied chosen ([`ApplyMode`]).
#[tracing::instrument(name = "projector.batch", skip_all, fields(projector = projector.id(), events = events.len(), expected = %expected))]
pub async fn apply_batch_with<P: Projector>(
    pool: &PgPool,
    projector: &P,
    expected: Token,
    events: &[RecordedEvent],
    mode: ApplyMode,
) -> Result<BatchOutcome, ProjectionError> {
    let id = projector.id();
    let Some(last) = events.last() else {
        return Ok(BatchOutcome::Committed {
            checkpoint: expected,
            applied: 0,
            parked: 0,
        });
    };
    if mode == ApplyMode::SetBased {
        match set_based(pool, projector, expected, events, last).await? {
            SetBased::Done(outcome) => return Ok(outcome),
            SetBased::OneByOne => {}
        }
    }
    let mut tx = pool.begin().await?;
    let mut row = sqlx::query(sql::LOCK_CHECKPOINT)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if row.is_none() {
        sqlx::query(sql::ENSURE_CHECKPOINT)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        row = sqlx::query(sql::LOCK_CHECKPOINT)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    }
    let found = row.as_ref().map_or(Ok(Token::START), token_of)?;
    if found != expected {
        tx.rollback().await?;
        return Ok(BatchOutcome::Fenced { found });
    }

    let handled: Vec<&RecordedEvent> = events.iter().filter(|e| projector.handles(e)).collect();
    let mut streams: Vec<&str> = handled.iter().map(|e| e.stream_id.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    let mut parked_heads: HashMap<String, i64> = HashMap::new();
    if !streams.is_empty() {
        for r in sqlx::query(sql::PARKED_HEADS)
            .bind(id)
            .bind(&streams)
            .fetch_all(&mut *tx)
            .await?
        {
            parked_heads.insert(r.try_get("stream_id")?, r.try_get("first_version")?);
        }
    }

    let (mut applied, mut parked) = (0u64, 0u64);
    for event in handled {
        if parked_heads.contains_key(&event.stream_id) {
            park_behind(&mut tx, id, event, &parked_heads).await?;
            parked += 1;
            continue;
        }
        let mut savepoint = Connection::begin(&mut *tx).await?;
        match projector.apply(&mut savepoint, event).await {
            Ok(()) => {
                savepoint.commit().await?;
                applied += 1;
            }
            Err(error) if error.is_permanent() => {
                savepoint.rollback().await?;
                tracing::warn!(
                    projector = id,
                    stream_id = %event.stream_id,
                    stream_version = event.stream_version,
                    token = %event.token,
                    %error,
                    "parking an event the projector cannot apply, and the rest of its stream"
                );
                park(&mut tx, id, event, &error.to_string()).await?;
                parked_heads.insert(event.stream_id.clone(), version_i64(event)?);
                parked += 1;
            }
            Err(error) => {
                drop(savepoint);
                tx.rollback().await?;
                return Err(ProjectionError::Transient {
                    stream_id: event.stream_id.clone(),
                    stream_version: event.stream_version,
                    source: error,
                });
            }
        }
    }

    finish(tx, id, last, applied, parked).await
}

/// What [`set_based`] did.
enum SetBased {
    Done(BatchOutcome),
    /// Some event cannot be applied: nothing was written; apply the batch one by one to park it.
    OneByOne,
}

/// The fast path of a batch, in as few round trips as the projector's runs allow: one statement fences
/// the batch, moves the checkpoint and reads the parked heads of its streams; then the projector's runs;
/// then the commit. A permanent failure rolls everything back ([`SetBased::OneByOne`]).
async fn set_based<P: Projector>(
    pool: &PgPool,
    projector: &P,
    expected: Token,
    events: &[RecordedEvent],
    last: &RecordedEvent,
) -> Result<SetBased, ProjectionError> {
    let id = projector.id();
    let handled: Vec<&RecordedEvent> = events.iter().filter(|e| projector.handles(e)).collect();
    let mut streams: Vec<&str> = handled.iter().map(|e| e.stream_id.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    let mut tx = pool.begin().await?;
    let mut ensured = false;
    let row = loop {
        let row = sqlx::query(sql::ADVANCE)
            .bind(id)
            .bind(expected.tx_id.to_string())
            .bind(expected.position)
            .bind(last.token.tx_id.to_string())
            .bind(last.token.position)
            .bind(&streams)
            .fetch_one(&mut *tx)
            .await?;
        if row.try_get::<i64, _>("moved")? == 1 {
            break row;
        }
        // Not moved: the row holds another checkpoint (fenced), or there is no row yet.
        let found = sqlx::query(sql::LOCK_CHECKPOINT)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        match found {
            Some(found) => {
                let found = token_of(&found)?;
                tx.rollback().await?;
                return Ok(SetBased::Done(BatchOutcome::Fenced { found }));
            }
            None if !ensured => {
                sqlx::query(sql::ENSURE_CHECKPOINT)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                ensured = true;
            }
            None => {
                return Err(ProjectionError::Corrupt(format!(
                    "the checkpoint row of {id} vanished"
                )));
            }
        }
    };
    let parked_streams: Vec<String> = row.try_get("parked_streams")?;
    let parked_versions: Vec<i64> = row.try_get("parked_versions")?;
    let parked_heads: HashMap<String, i64> =
        parked_streams.into_iter().zip(parked_versions).collect();
    let (waiting, ready): (Vec<&RecordedEvent>, Vec<&RecordedEvent>) = handled
        .iter()
        .copied()
        .partition(|e| parked_heads.contains_key(&e.stream_id));
    if !ready.is_empty() {
        match projector.apply_many(&mut tx, &ready).await {
            Ok(()) => {}
            Err(error) if error.is_permanent() => {
                // Some event of the batch cannot be applied: find it (and park it) one by one.
                tx.rollback().await?;
                tracing::debug!(projector = id, %error, "set-based batch failed; applying it event by event");
                return Ok(SetBased::OneByOne);
            }
            Err(error) => {
                tx.rollback().await?;
                let first = ready.first().copied().unwrap_or(last);
                return Err(ProjectionError::Transient {
                    stream_id: first.stream_id.clone(),
                    stream_version: first.stream_version,
                    source: error,
                });
            }
        }
    }
    for event in &waiting {
        park_behind(&mut tx, id, event, &parked_heads).await?;
    }
    tx.commit().await?;
    Ok(SetBased::Done(BatchOutcome::Committed {
        checkpoint: last.token,
        applied: ready.len() as u64,
        parked: waiting.len() as u64,
    }))
}

/// Park `event` behind the first parked event of its stream (in `parked_heads`).
async fn park_behind(
    conn: &mut PgConnection,
    projector_id: &str,
    event: &RecordedEvent,
    parked_heads: &HashMap<String, i64>,
) -> Result<(), ProjectionError> {
    let first = parked_heads
        .get(&event.stream_id)
        .copied()
        .unwrap_or_default();
    let reason = format!(
        "stream {} is parked since version {first}; waiting behind it",
        event.stream_id
    );
    park(conn, projector_id, event, &reason).await
}

/// Move the checkpoint to the batch's last event and commit.
async fn finish(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    projector_id: &str,
    last: &RecordedEvent,
    applied: u64,
    parked: u64,
) -> Result<BatchOutcome, ProjectionError> {
    sqlx::query(sql::WRITE_CHECKPOINT)
        .bind(projector_id)
        .bind(last.token.tx_id.to_string())
        .bind(last.token.position)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(BatchOutcome::Committed {
        checkpoint: last.token,
        applied,
        parked,
    })
}

/// Runs one projector: elects itself (or stands by), then applies the log in batches.
pub struct Runner<P: Projector> {
    store: EventStore,
    projector: Arc<P>,
    config: RunnerConfig,
    progress: watch::Sender<Progress>,
}

/// The outcome of trying to become the leader.
enum Lease {
    /// The lock is held on this connection (closing it releases the lock).
    Held(PgConnection),
    /// Another runner already brought the checkpoint to the wanted token.
    Reached(Progress),
}

/// How a leader's session ended without an error.
enum SessionEnd {
    /// `until` was reached.
    Reached(Progress),
    /// The fence or the lock connection said another runner may be applying: re-elect.
    LostLease,
}

impl<P: Projector> Runner<P> {
    pub fn new(store: EventStore, projector: Arc<P>, config: RunnerConfig) -> Self {
        let (progress, _) = watch::channel(Progress::default());
        Self {
            store,
            projector,
            config,
            progress,
        }
    }

    /// The projector's id.
    pub fn id(&self) -> &'static str {
        self.projector.id()
    }

    /// A `watch` of this runner's progress (checkpoint, leadership, parked count).
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// This runner's progress now.
    pub fn current(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Wait until the checkpoint has reached `token` (every event up to it is applied or parked), for at
    /// most `timeout`. Needs this runner to be running (as leader or standby).
    pub async fn wait_for(&self, token: Token, timeout: Duration) -> Result<Progress, WaitError> {
        let mut rx = self.progress.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            rx.wait_for(|p| p.checkpoint >= token).await.map(|p| *p)
        })
        .await;
        let reached = self.current().checkpoint;
        match waited {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(WaitError::RunnerGone {
                wanted: token,
                reached,
            }),
            Err(_) => Err(WaitError::Timeout {
                wanted: token,
                reached,
            }),
        }
    }

    /// Run until `shutdown` resolves. Failures (database unreachable, transient apply errors) are logged
    /// and retried after [`RunnerConfig::error_backoff`]; they never end the runner.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), ProjectionError> {
        tokio::pin!(shutdown);
        loop {
            let session = tokio::select! {
                () = &mut shutdown => {
                    self.set_leader(false);
                    return Ok(());
                }
                s = self.session(None) => s,
            };
            if let Err(error) = session {
                self.set_leader(false);
                tracing::warn!(projector = self.id(), %error, "projector session failed; retrying");
                tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    () = tokio::time::sleep(self.config.error_backoff) => {}
                }
            }
        }
    }

    /// Run until the checkpoint has reached `token` (applying as leader, or waiting while another runner
    /// does), then give the lock back. Errors are returned, not retried.
    pub async fn run_until(&self, token: Token) -> Result<Progress, ProjectionError> {
        loop {
            match self.session(Some(token)).await {
                Ok(SessionEnd::Reached(p)) => return Ok(p),
                Ok(SessionEnd::LostLease) => {}
                Err(e) => {
                    self.set_leader(false);
                    return Err(e);
                }
            }
        }
    }

    fn set_leader(&self, leader: bool) {
        self.progress.send_if_modified(|p| {
            let changed = p.leader != leader;
            p.leader = leader;
            changed
        });
    }

    fn publish(&self, update: impl FnOnce(&mut Progress)) -> Progress {
        self.progress.send_modify(update);
        self.current()
    }

    /// Read the committed checkpoint and parked count into the progress.
    async fn refresh(&self, leader: bool) -> Result<Progress, ProjectionError> {
        let pool = self.store.pool();
        let checkpoint = checkpoint(pool, self.id()).await?;
        let parked = parked_count(pool, self.id()).await?;
        Ok(self.publish(|p| {
            p.checkpoint = checkpoint;
            p.parked_events = parked;
            p.leader = leader;
        }))
    }

    async fn acquire(&self, until: Option<Token>) -> Result<Lease, ProjectionError> {
        if !self.config.lead {
            loop {
                let p = self.refresh(false).await?;
                if until.is_some_and(|t| p.checkpoint >= t) {
                    return Ok(Lease::Reached(p));
                }
                tokio::time::sleep(self.config.lease_retry).await;
            }
        }
        let mut conn = self.store.leader_connection().await?;
        sqlx::query(sql::ENSURE_CHECKPOINT)
            .bind(self.id())
            .execute(&mut conn)
            .await?;
        let key = lock_key(self.id());
        loop {
            let locked: bool = sqlx::query_scalar(sql::TRY_LOCK)
                .bind(key)
                .fetch_one(&mut conn)
                .await?;
            if locked {
                return Ok(Lease::Held(conn));
            }
            let p = self.refresh(false).await?;
            if until.is_some_and(|t| p.checkpoint >= t) {
                conn.close().await?;
                return Ok(Lease::Reached(p));
            }
            tokio::time::sleep(self.config.lease_retry).await;
        }
    }

    async fn release(&self, mut conn: PgConnection) {
        // Closing the connection releases the lock anyway; unlocking first lets a waiting runner in at once.
        let unlocked = sqlx::query(sql::UNLOCK)
            .bind(lock_key(self.id()))
            .execute(&mut conn)
            .await;
        if let Err(error) = unlocked.map(drop).and(conn.close().await) {
            tracing::debug!(projector = self.id(), %error, "closing the lock connection");
        }
    }

    /// One term as leader (after standing by until elected).
    async fn session(&self, until: Option<Token>) -> Result<SessionEnd, ProjectionError> {
        let mut lease = match self.acquire(until).await? {
            Lease::Held(conn) => conn,
            Lease::Reached(p) => return Ok(SessionEnd::Reached(p)),
        };
        let led = self.lead(&mut lease, until).await;
        self.set_leader(false);
        self.release(lease).await;
        led
    }

    async fn lead(
        &self,
        lease: &mut PgConnection,
        until: Option<Token>,
    ) -> Result<SessionEnd, ProjectionError> {
        let mut progress = self.refresh(true).await?;
        tracing::info!(projector = self.id(), checkpoint = %progress.checkpoint, "leading");
        let batch = self.config.batch_size.max(1);
        loop {
            if until.is_some_and(|t| progress.checkpoint >= t) {
                return Ok(SessionEnd::Reached(progress));
            }
            let mut page = self
                .store
                .read_all_after(progress.checkpoint, batch)
                .await?;
            if page.is_empty() {
                let mut next = self.store.subscribe(progress.checkpoint);
                let first = loop {
                    tokio::select! {
                        e = next.next() => break e?,
                        () = tokio::time::sleep(self.config.idle_check) => {
                            if sqlx::query(sql::PING).execute(&mut *lease).await.is_err() {
                                tracing::warn!(projector = self.id(), "lock connection lost; re-electing");
                                return Ok(SessionEnd::LostLease);
                            }
                        }
                    }
                };
                let after = first.token;
                page.push(first);
                page.extend(self.store.read_all_after(after, batch - 1).await?);
            }
            match apply_batch(
                self.store.pool(),
                &*self.projector,
                progress.checkpoint,
                &page,
            )
            .await?
            {
                BatchOutcome::Committed {
                    checkpoint,
                    applied,
                    parked,
                } => {
                    progress = self.publish(|p| {
                        p.checkpoint = checkpoint;
                        p.applied_here += applied;
                        p.parked_events += parked;
                        p.batches_here += 1;
                        p.leader = true;
                    });
                }
                BatchOutcome::Fenced { found } => {
                    tracing::warn!(
                        projector = self.id(),
                        expected = %progress.checkpoint,
                        %found,
                        "checkpoint moved under this runner (stale leader); batch rolled back"
                    );
                    return Ok(SessionEnd::LostLease);
                }
            }
        }
    }
}

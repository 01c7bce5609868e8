//! Replaying the read models as the system stood at a moment of the log, into a scratch schema, and
//! comparing them with the live ones (`ledger-audit replay` / `ledger-audit diff`).
//!
//! Policy of this module:
//! - **The production code, nothing else.** A replay creates the projector's tables in the scratch schema
//!   exactly as [`crate::rebuild`] creates its shadow (`LIKE public.t INCLUDING ALL`, the live foreign keys
//!   and index names) and applies the log with [`crate::apply_batch`] on connections whose `search_path`
//!   is `<scratch>, public` — the code that builds the live model, batch by batch, with the replay's own
//!   checkpoint in the scratch schema's `projection_checkpoints`.
//! - **Up to and including a token, in the global order.** Every event with `(tx_id, position) <= until`
//!   is applied and none after it. `until` must be *final*: below the `pg_snapshot_xmin` fence, so no
//!   transaction still running can add an event before it ([`check_final`]). A moment in time is turned
//!   into a token by the caller (the notary's checkpoint at that time).
//! - **Scratch schemas only.** A scratch schema's name is checked before anything is created
//!   ([`ScratchSchema`]: lower-case letters, digits and `_`; never `public`, `pg_*`, `information_schema`
//!   or a rebuild's `shadow_*`; never a reserved word). [`create_scratch`] marks the schema it creates
//!   (a comment); nothing here writes to, or drops, a schema without that mark, and never `public`. The
//!   scratch schema stays after the replay (for [`diff`]); nothing is swapped.
//! - **Runs as the owner role** (it creates a schema and tables). It reads the log and writes only the
//!   scratch schema.
//! - **Diff.** Per table: row count and digest (as [`crate::rebuild::digest`]) of both sides, read in one
//!   snapshot with the live checkpoint, so each side says which token it reflects; for a differing table
//!   the rows present on one side only (multiset difference of the row text), ordered, the first N.
//!   Read-model rows hold ids, codes, dates and counts — no personal data — and nothing else is shown.
//! - **Identifiers.** DDL is built only from the checked scratch schema name and the projectors' static,
//!   checked table names; values are bound.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventstore::{EventStore, StoreError, Token};
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool, Row};

use crate::error::ProjectionError;
use crate::rebuild::{
    self, Applied, Digest, Pages, Persistence, RebuildOptions, RebuildReport, TableDigest,
    catch_up, count_u64, create_bookkeeping, create_tables, ddl, digest_in, digest_snapshot,
    digest_tables, execute, qualified_list, tables_of,
};
use crate::runtime::{ApplyMode, Progress, Projector, Runner, RunnerConfig};
use crate::{
    AuditHistoryProjector, ComplianceProjector, CoverageProjector, FrequencyProjector,
    JiangsuProjector, ServiceRecordProjector, SummaryBoardProjector,
};

/// Every read model a replay rebuilds, in the order it rebuilds them. A new projector is one line here.
pub const READ_MODELS: &[&dyn ReadModel] = &[
    &CoverageProjector,
    &ComplianceProjector,
    &FrequencyProjector,
    &SummaryBoardProjector,
    &AuditHistoryProjector,
    &ServiceRecordProjector,
    &JiangsuProjector,
];

/// The read model of [`READ_MODELS`] with this projector id.
pub fn read_model(id: &str) -> Option<&'static dyn ReadModel> {
    READ_MODELS.iter().copied().find(|m| m.model_id() == id)
}

/// The comment that marks a schema as created by [`create_scratch`].
const SCRATCH_MARK: &str = "vledger replay scratch schema";

mod sql {
    //! Templates: `{schema}`, `{table}` / `{tables}`, `{a}` / `{b}` are replaced only by a checked
    //! [`super::ScratchSchema`], `public`, and the projectors' checked static table names.

    /// Binds: $1 schema name. `None` (no row) when the schema does not exist; its comment otherwise.
    pub const SCHEMA_STATE: &str = "SELECT obj_description(n.oid, 'pg_namespace') AS mark
FROM pg_catalog.pg_namespace n WHERE n.nspname = $1";
    /// Binds: $1 word. The category of an SQL keyword (`R` reserved, `T` type or function name: neither
    /// can name a schema unquoted).
    pub const KEYWORD: &str =
        "SELECT catcode::text AS category FROM pg_catalog.pg_get_keywords() WHERE word = $1";
    /// The mark is a constant: the statement carries no value but the checked name.
    pub const MARK: &str = "COMMENT ON SCHEMA {schema} IS 'vledger replay scratch schema'";
    pub const DROP_TABLES: &str = "DROP TABLE IF EXISTS {tables}";
    /// Binds: $1 projector.
    pub const FORGET_CHECKPOINT: &str =
        "DELETE FROM {schema}.projection_checkpoints WHERE projector = $1";
    /// Binds: $1 projector.
    pub const FORGET_PARKED: &str = "DELETE FROM {schema}.projection_parked WHERE projector = $1";
    /// Binds: $1 projector. The replay's checkpoint starts at the start of the log.
    pub const START_CHECKPOINT: &str =
        "INSERT INTO {schema}.projection_checkpoints (projector) VALUES ($1)";
    /// Binds: $1 projector.
    pub const CHECKPOINT: &str = "SELECT tx_id::text AS tx_text, position
FROM {schema}.projection_checkpoints WHERE projector = $1";
    /// Binds: $1 projector.
    pub const PARKED: &str =
        "SELECT count(*) AS n FROM {schema}.projection_parked WHERE projector = $1";
    pub const REPLAYED: &str =
        "SELECT projector FROM {schema}.projection_checkpoints ORDER BY projector";
    /// The newest event below the fence (the committed end of the log as a reader sees it).
    pub const END_OF_LOG: &str = "SELECT tx_id::text AS tx_text, position FROM events
WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY tx_id DESC, position DESC LIMIT 1";
    /// Binds: $1 tx_id (text), $2 position.
    pub const EVENTS_UNTIL: &str = "SELECT count(*) AS n FROM events
WHERE (tx_id, position) <= ($1::text::xid8, $2::bigint)";
    /// Binds: $1 limit. The rows of `{a}.{table}` that `{b}.{table}` lacks (as a multiset of row texts),
    /// in a fixed order, with how many there are in all.
    pub const ONLY_IN: &str = "SELECT d.r AS row_text, count(*) OVER () AS total FROM (
    SELECT t::text AS r FROM {a}.{table} t
    EXCEPT ALL
    SELECT t::text AS r FROM {b}.{table} t
) d ORDER BY d.r COLLATE \"C\" LIMIT $1";
}

/// A scratch schema's name: checked, so it can be spliced into DDL and can never name `public`, a system
/// schema or a rebuild's shadow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScratchSchema(String);

/// A name that cannot be a scratch schema, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} cannot be a scratch schema: {reason}")]
pub struct BadSchemaName {
    /// The name as given (at most 64 characters of it).
    pub name: String,
    pub reason: &'static str,
}

impl ScratchSchema {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScratchSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ScratchSchema {
    type Err = BadSchemaName;

    fn from_str(s: &str) -> Result<Self, BadSchemaName> {
        let bad = |reason| BadSchemaName {
            name: s.chars().take(64).collect(),
            reason,
        };
        if s.is_empty() || s.len() > 63 {
            return Err(bad("a schema name has 1 to 63 characters"));
        }
        let mut chars = s.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(bad(
                "only lower-case letters, digits and '_' are allowed, starting with a letter or '_'",
            ));
        }
        if s == "public" {
            return Err(bad("the live read models are in public"));
        }
        if s.starts_with("pg_") || s == "information_schema" {
            return Err(bad("system schemas are not scratch schemas"));
        }
        if s.starts_with("shadow_") {
            return Err(bad("shadow_* schemas belong to rebuilds"));
        }
        Ok(Self(s.to_owned()))
    }
}

/// Why a replay or a diff could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    BadSchema(#[from] BadSchemaName),
    /// The scratch schema exists already and replacing it was not asked for.
    #[error("schema {0} already exists (replace it explicitly, or choose another name)")]
    Exists(String),
    /// The schema exists but was not created by a replay: it is never written or dropped.
    #[error("schema {0} was not created by a replay; it is left alone")]
    NotScratch(String),
    /// The scratch schema does not exist.
    #[error("schema {0} does not exist (replay into it first)")]
    Missing(String),
    /// The scratch schema holds no replay of this read model.
    #[error("schema {schema} holds no replay of {projector}")]
    NotReplayed {
        schema: String,
        projector: &'static str,
    },
    /// `until` is not below the fence: a transaction still running may yet add an event before it.
    #[error(
        "token {until} is not final yet: transactions below it may still commit (the log is readable \
         up to transaction {fence}, exclusive)"
    )]
    NotFinal { until: Token, fence: u64 },
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

impl From<sqlx::Error> for ReplayError {
    fn from(e: sqlx::Error) -> Self {
        Self::Projection(e.into())
    }
}

impl From<StoreError> for ReplayError {
    fn from(e: StoreError) -> Self {
        Self::Projection(e.into())
    }
}

/// How far a replay of one read model has got (after each committed batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayProgress {
    /// Events read from the log so far (handled by the projector or not).
    pub events: u64,
    /// The replay's checkpoint.
    pub checkpoint: Token,
}

/// Tuning of a replay.
#[derive(Clone, Copy)]
pub struct ReplayOptions<'a> {
    /// Most events applied in one transaction.
    pub batch_size: i64,
    /// Told the progress after each batch (e.g. a progress bar).
    pub on_batch: Option<&'a (dyn Fn(ReplayProgress) + Sync)>,
    /// How each batch is applied: set-based (as the live runners do) or one event at a time.
    pub mode: ApplyMode,
}

impl Default for ReplayOptions<'_> {
    fn default() -> Self {
        Self {
            batch_size: 5000,
            on_batch: None,
            mode: ApplyMode::SetBased,
        }
    }
}

impl fmt::Debug for ReplayOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayOptions")
            .field("batch_size", &self.batch_size)
            .field("on_batch", &self.on_batch.is_some())
            .field("mode", &self.mode)
            .finish()
    }
}

/// What a replay of one read model did.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    pub projector: &'static str,
    pub schema: String,
    /// The moment asked for: every event up to and including it was applied, none after it.
    pub until: Token,
    /// The replay's checkpoint: the last event at or before `until` (`Token::START` for an empty log).
    pub checkpoint: Token,
    /// Events read from the log (all of them, handled or not).
    pub events: u64,
    /// Events the projector applied / parked.
    pub applied: u64,
    pub parked: u64,
    pub batches: u64,
    /// The digest of the replayed tables (comparable with [`crate::rebuild::digest`] of the live ones).
    pub digest: Digest,
    pub took: Duration,
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: replayed into {} as of {}",
            self.projector, self.schema, self.until
        )?;
        writeln!(
            f,
            "  events {}  applied {}  parked {}  batches {}  took {:?}",
            self.events, self.applied, self.parked, self.batches, self.took
        )?;
        writeln!(f, "  checkpoint {}", self.checkpoint)?;
        writeln!(f, "  digest {}", self.digest)
    }
}

/// A read model, for code that handles them all alike ([`READ_MODELS`]): implemented by every
/// [`Projector`]. (The projector trait has `async` methods and cannot be a trait object.)
pub trait ReadModel: Send + Sync {
    /// The projector's id ([`Projector::id`]).
    fn model_id(&self) -> &'static str;
    /// The projector's tables ([`Projector::tables`]).
    fn model_tables(&self) -> &'static [&'static str];
    /// [`replay_into`] for this read model.
    fn replay<'a>(
        &'a self,
        store: &'a EventStore,
        schema: &'a ScratchSchema,
        until: Token,
        options: ReplayOptions<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<ReplayReport, ReplayError>> + Send + 'a>>;
    /// The live read model's digest ([`rebuild::digest`]).
    fn live_digest<'a>(
        &'a self,
        pool: &'a PgPool,
    ) -> Pin<Box<dyn Future<Output = Result<Digest, ProjectionError>> + Send + 'a>>;
    /// Run the live projector (electing itself like the service's runner) until its checkpoint has
    /// reached `until` ([`Runner::run_until`]).
    fn run_live_until<'a>(
        &'a self,
        store: &'a EventStore,
        config: RunnerConfig,
        until: Token,
    ) -> Pin<Box<dyn Future<Output = Result<Progress, ProjectionError>> + Send + 'a>>;
    /// [`rebuild::rebuild`] of this read model (shadow build and swap; `store` on an owner pool).
    fn rebuild<'a>(
        &'a self,
        store: &'a EventStore,
        options: &'a RebuildOptions,
    ) -> Pin<Box<dyn Future<Output = Result<RebuildReport, ProjectionError>> + Send + 'a>>;
    /// [`rebuild::rebuild_from`] of this read model: the bulk pass takes the log's pages from `pages`.
    fn rebuild_from<'a>(
        &'a self,
        store: &'a EventStore,
        options: &'a RebuildOptions,
        pages: Pages,
    ) -> Pin<Box<dyn Future<Output = Result<RebuildReport, ProjectionError>> + Send + 'a>>;
}

/// Rebuild every read model of `models` at the same time, each into its own shadow and swapped on its own
/// ([`rebuild::rebuild_from`]); the reports in the order of `models`. The bulk pass reads the log
/// **once**: one reader ([`rebuild::feed_log`]) hands each page to every shadow, each applying it on its
/// own connection (a task per model, so they use the server's cores side by side); then each model builds
/// its indexes, catches up and swaps on its own. The reader goes at the pace of the slowest shadow (a
/// bounded read-ahead); a shadow that fails drops out and the others go on. `store`'s pool should allow a
/// connection per model plus one (the reader; each model's catch-ups read through it).
pub async fn rebuild_all(
    store: &EventStore,
    models: &[&'static dyn ReadModel],
    options: &RebuildOptions,
) -> Vec<Result<RebuildReport, ProjectionError>> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut feeders = Vec::with_capacity(models.len());
    for (i, model) in models.iter().enumerate() {
        let (store, options, model) = (store.clone(), options.clone(), *model);
        let (feeder, pages) = rebuild::feed();
        feeders.push(feeder);
        tasks.spawn(async move { (i, model.rebuild_from(&store, &options, pages).await) });
    }
    let mut out: Vec<Option<Result<RebuildReport, ProjectionError>>> =
        models.iter().map(|_| None).collect();
    let collect = async {
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((i, report)) => {
                    if let Some(slot) = out.get_mut(i) {
                        *slot = Some(report);
                    }
                }
                Err(panicked) => {
                    tracing::error!(error = %panicked, "a rebuild task failed");
                }
            }
        }
    };
    let (read, ()) = tokio::join!(
        rebuild::feed_log(store, options.batch_size, feeders),
        collect
    );
    if let Err(error) = read {
        tracing::warn!(%error, "the log's shared reader failed; each rebuild read on by itself");
    }
    out.into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(ProjectionError::Corrupt(
                    "a rebuild task ended without a report".into(),
                ))
            })
        })
        .collect()
}

impl<P: Projector + Clone> ReadModel for P {
    fn model_id(&self) -> &'static str {
        self.id()
    }

    fn model_tables(&self) -> &'static [&'static str] {
        self.tables()
    }

    fn replay<'a>(
        &'a self,
        store: &'a EventStore,
        schema: &'a ScratchSchema,
        until: Token,
        options: ReplayOptions<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<ReplayReport, ReplayError>> + Send + 'a>> {
        Box::pin(replay_into(store, self, schema, until, options))
    }

    fn live_digest<'a>(
        &'a self,
        pool: &'a PgPool,
    ) -> Pin<Box<dyn Future<Output = Result<Digest, ProjectionError>> + Send + 'a>> {
        Box::pin(rebuild::digest(pool, self))
    }

    fn run_live_until<'a>(
        &'a self,
        store: &'a EventStore,
        config: RunnerConfig,
        until: Token,
    ) -> Pin<Box<dyn Future<Output = Result<Progress, ProjectionError>> + Send + 'a>> {
        let runner = Runner::new(store.clone(), Arc::new(self.clone()), config);
        Box::pin(async move { runner.run_until(until).await })
    }

    fn rebuild<'a>(
        &'a self,
        store: &'a EventStore,
        options: &'a RebuildOptions,
    ) -> Pin<Box<dyn Future<Output = Result<RebuildReport, ProjectionError>> + Send + 'a>> {
        Box::pin(rebuild::rebuild(store, self, options))
    }

    fn rebuild_from<'a>(
        &'a self,
        store: &'a EventStore,
        options: &'a RebuildOptions,
        pages: Pages,
    ) -> Pin<Box<dyn Future<Output = Result<RebuildReport, ProjectionError>> + Send + 'a>> {
        Box::pin(rebuild::rebuild_from(store, self, options, pages))
    }
}

/// The checked table names of a read model.
fn tables_of_model(model: &dyn ReadModel) -> Result<Vec<&'static str>, ProjectionError> {
    let tables = model.model_tables();
    if tables.is_empty() {
        return Err(ProjectionError::Corrupt(format!(
            "projector {} declares no tables",
            model.model_id()
        )));
    }
    tables.iter().map(|t| rebuild::checked(t)).collect()
}

fn token_of(row: &PgRow) -> Result<Token, ProjectionError> {
    let tx: String = row.try_get("tx_text")?;
    let position: i64 = row.try_get("position")?;
    let tx_id = tx
        .parse()
        .map_err(|_| ProjectionError::Corrupt(format!("checkpoint tx_id {tx:?}")))?;
    Ok(Token { tx_id, position })
}

fn in_schema(template: &str, schema: &str) -> String {
    ddl(template, schema, "")
}

/// `None` when the schema does not exist, else whether it carries the scratch mark.
async fn scratch_state(
    conn: &mut PgConnection,
    schema: &ScratchSchema,
) -> Result<Option<bool>, ReplayError> {
    let row = sqlx::query(sql::SCHEMA_STATE)
        .bind(schema.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        let mark: Option<String> = r.try_get("mark")?;
        Ok(mark.as_deref() == Some(SCRATCH_MARK))
    })
    .transpose()
}

/// The schema exists and was created by [`create_scratch`].
async fn check_scratch(conn: &mut PgConnection, schema: &ScratchSchema) -> Result<(), ReplayError> {
    match scratch_state(conn, schema).await? {
        None => Err(ReplayError::Missing(schema.to_string())),
        Some(false) => Err(ReplayError::NotScratch(schema.to_string())),
        Some(true) => Ok(()),
    }
}

/// Create the scratch schema `schema` (marked as such) with the runtime's bookkeeping tables, in one
/// transaction. An existing scratch schema is an error unless `replace` (then it is dropped first, with
/// every replay in it); a schema a replay did not create is never touched. Needs the owner role.
pub async fn create_scratch(
    pool: &PgPool,
    schema: &ScratchSchema,
    replace: bool,
) -> Result<(), ReplayError> {
    // A dedicated connection: the DDL helpers change the session's search_path.
    let mut conn = rebuild::connect(&pool.connect_options()).await?;
    let category: Option<String> = sqlx::query_scalar(sql::KEYWORD)
        .bind(schema.as_str())
        .fetch_optional(&mut conn)
        .await?;
    if matches!(category.as_deref(), Some("R" | "T")) {
        return Err(BadSchemaName {
            name: schema.to_string(),
            reason: "an SQL keyword cannot name a schema unquoted",
        }
        .into());
    }
    let mut tx = conn.begin().await?;
    match scratch_state(&mut tx, schema).await? {
        None => {}
        Some(false) => return Err(ReplayError::NotScratch(schema.to_string())),
        Some(true) if !replace => return Err(ReplayError::Exists(schema.to_string())),
        Some(true) => {
            execute(
                &mut tx,
                in_schema(rebuild::sql::DROP_SCHEMA, schema.as_str()),
            )
            .await?
        }
    }
    execute(
        &mut tx,
        in_schema(rebuild::sql::CREATE_SCHEMA, schema.as_str()),
    )
    .await?;
    execute(&mut tx, in_schema(sql::MARK, schema.as_str())).await?;
    create_bookkeeping(&mut tx, schema.as_str()).await?;
    tx.commit().await?;
    conn.close().await?;
    Ok(())
}

/// The committed end of the log as a reader sees it: the token of the newest event below the fence
/// (`Token::START` for an empty log).
pub async fn end_of_log(store: &EventStore) -> Result<Token, ReplayError> {
    let row = sqlx::query(sql::END_OF_LOG)
        .fetch_optional(store.pool())
        .await?;
    Ok(row.as_ref().map_or(Ok(Token::START), token_of)?)
}

/// `until` is below the fence: every event at or before it has committed (or never will).
pub async fn check_final(store: &EventStore, until: Token) -> Result<(), ReplayError> {
    let fence = store.fence().await?;
    if until.tx_id >= fence {
        return Err(ReplayError::NotFinal { until, fence });
    }
    Ok(())
}

/// How many events the log holds up to and including `until` (what a replay to it reads).
pub async fn events_until(store: &EventStore, until: Token) -> Result<u64, ReplayError> {
    let n: i64 = sqlx::query_scalar(sql::EVENTS_UNTIL)
        .bind(until.tx_id.to_string())
        .bind(until.position)
        .fetch_one(store.pool())
        .await?;
    Ok(count_u64(n)?)
}

/// Replay `projector`'s read model into the scratch schema `schema` (made by [`create_scratch`]) as the
/// system stood at `until`: its tables are (re)created empty there, and every event up to and including
/// `until` is applied in the global order by the production code ([`crate::apply_batch`], `search_path`
/// `<schema>, public`), with the replay's checkpoint in `<schema>.projection_checkpoints`. Nothing is
/// swapped. `store` must be on an **owner** pool; `until` must be final ([`check_final`]).
pub async fn replay_into<P: Projector>(
    store: &EventStore,
    projector: &P,
    schema: &ScratchSchema,
    until: Token,
    options: ReplayOptions<'_>,
) -> Result<ReplayReport, ReplayError> {
    let started = Instant::now();
    let id = projector.id();
    let tables = tables_of(projector)?;
    check_final(store, until).await?;
    let owner_options = store.pool().connect_options();
    let mut conn = rebuild::connect(&owner_options).await?;
    check_scratch(&mut conn, schema).await?;
    let mut tx = conn.begin().await?;
    let listed = qualified_list(schema.as_str(), &tables);
    execute(&mut tx, sql::DROP_TABLES.replace("{tables}", &listed)).await?;
    for forget in [
        sql::FORGET_CHECKPOINT,
        sql::FORGET_PARKED,
        sql::START_CHECKPOINT,
    ] {
        sqlx::query(AssertSqlSafe(in_schema(forget, schema.as_str())))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    create_tables(&mut tx, schema.as_str(), &tables, Persistence::Logged).await?;
    tx.commit().await?;

    let scratch = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(
            owner_options
                .as_ref()
                .clone()
                .options([("search_path", format!("{schema},public"))]),
        )
        .await?;
    let mut counts = Applied::default();
    let observe = |a: &Applied, checkpoint: Token| {
        if let Some(on_batch) = options.on_batch {
            on_batch(ReplayProgress {
                events: a.events,
                checkpoint,
            });
        }
    };
    let caught_up = catch_up(
        store,
        &scratch,
        projector,
        Token::START,
        options.batch_size.max(1),
        options.mode,
        &mut counts,
        Some(until),
        &observe,
    )
    .await;
    scratch.close().await;
    let checkpoint = caught_up?;
    let digest = digest_in(&mut conn, schema.as_str(), &tables).await?;
    conn.close().await?;
    tracing::info!(projector = id, %schema, %until, %checkpoint, events = counts.events, "replayed");
    Ok(ReplayReport {
        projector: id,
        schema: schema.to_string(),
        until,
        checkpoint,
        events: counts.events,
        applied: counts.applied,
        parked: counts.parked,
        batches: counts.batches,
        digest,
        took: started.elapsed(),
    })
}

/// The digest of the scratch schema's copy of `model`'s tables (comparable with
/// [`crate::rebuild::digest`] of the live read model).
pub async fn scratch_digest(
    pool: &PgPool,
    model: &dyn ReadModel,
    schema: &ScratchSchema,
) -> Result<Digest, ReplayError> {
    let tables = tables_of_model(model)?;
    let mut conn = pool.acquire().await?;
    check_scratch(&mut conn, schema).await?;
    Ok(digest_in(&mut conn, schema.as_str(), &tables).await?)
}

/// The projector ids replayed into the scratch schema, in name order.
pub async fn replayed(pool: &PgPool, schema: &ScratchSchema) -> Result<Vec<String>, ReplayError> {
    let mut conn = pool.acquire().await?;
    check_scratch(&mut conn, schema).await?;
    let ids = sqlx::query_scalar(AssertSqlSafe(in_schema(sql::REPLAYED, schema.as_str())))
        .fetch_all(&mut *conn)
        .await?;
    Ok(ids)
}

/// One side of a diff: the schema, the token its read model reflects, its parked count and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub schema: String,
    /// The side's checkpoint for the projector (`Token::START` when the live projector never ran).
    pub checkpoint: Token,
    /// Events parked for the projector on this side (not part of the digest).
    pub parked: u64,
    pub digest: Digest,
}

/// Rows present on one side only: how many in all, and the first ones (row text, ordered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnlyIn {
    pub total: u64,
    pub first: Vec<String>,
}

/// One table of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDiff {
    pub table: &'static str,
    pub scratch: TableDigest,
    pub live: TableDigest,
    /// Empty when the table is equal.
    pub only_in_scratch: OnlyIn,
    pub only_in_live: OnlyIn,
}

impl TableDiff {
    pub fn equal(&self) -> bool {
        self.scratch == self.live
    }
}

/// A read model in a scratch schema compared with the live one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDiff {
    pub projector: &'static str,
    pub scratch: Side,
    pub live: Side,
    pub tables: Vec<TableDiff>,
}

impl ModelDiff {
    /// The two read models have equal contents (whatever tokens they reflect).
    pub fn equal(&self) -> bool {
        self.scratch.digest == self.live.digest
    }
}

impl fmt::Display for ModelDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.equal() { "equal" } else { "DIFFERENT" };
        writeln!(f, "{}: {verdict}", self.projector)?;
        for (name, side) in [("scratch", &self.scratch), ("live", &self.live)] {
            writeln!(
                f,
                "  {name:<7} {:<24} reflects token {}  parked {}  digest {}",
                side.schema, side.checkpoint, side.parked, side.digest.combined
            )?;
        }
        match self.live.checkpoint.cmp(&self.scratch.checkpoint) {
            std::cmp::Ordering::Greater => writeln!(
                f,
                "  live is ahead of the replay: events after {} are in live only",
                self.scratch.checkpoint
            )?,
            std::cmp::Ordering::Less => writeln!(
                f,
                "  live is behind the replay: events after {} are in the replay only",
                self.live.checkpoint
            )?,
            std::cmp::Ordering::Equal => {}
        }
        for t in &self.tables {
            if t.equal() {
                writeln!(
                    f,
                    "  {:<32} equal    {:>8} rows  {}",
                    t.table, t.scratch.rows, t.scratch.md5
                )?;
                continue;
            }
            writeln!(
                f,
                "  {:<32} differs  scratch {} rows {}  live {} rows {}",
                t.table, t.scratch.rows, t.scratch.md5, t.live.rows, t.live.md5
            )?;
            for (side, only) in [("scratch", &t.only_in_scratch), ("live", &t.only_in_live)] {
                writeln!(
                    f,
                    "    only in {side}: {} row(s){}",
                    only.total,
                    if only.first.len() < usize::try_from(only.total).unwrap_or(usize::MAX) {
                        format!(", the first {}", only.first.len())
                    } else {
                        String::new()
                    }
                )?;
                for row in &only.first {
                    writeln!(f, "      {row}")?;
                }
            }
        }
        Ok(())
    }
}

async fn side(
    tx: &mut PgConnection,
    schema: &str,
    projector: &'static str,
    tables: &[&'static str],
) -> Result<(Option<Token>, Side), ReplayError> {
    let checkpoint = sqlx::query(AssertSqlSafe(in_schema(sql::CHECKPOINT, schema)))
        .bind(projector)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(token_of)
        .transpose()?;
    let parked: i64 = sqlx::query_scalar(AssertSqlSafe(in_schema(sql::PARKED, schema)))
        .bind(projector)
        .fetch_one(&mut *tx)
        .await?;
    let digest = digest_tables(tx, schema, tables).await?;
    Ok((
        checkpoint,
        Side {
            schema: schema.to_owned(),
            checkpoint: checkpoint.unwrap_or(Token::START),
            parked: count_u64(parked)?,
            digest,
        },
    ))
}

async fn only_in(
    tx: &mut PgConnection,
    a: &str,
    b: &str,
    table: &str,
    rows: u32,
) -> Result<OnlyIn, ReplayError> {
    let statement = sql::ONLY_IN
        .replace("{a}", a)
        .replace("{b}", b)
        .replace("{table}", table);
    let found = sqlx::query(AssertSqlSafe(statement))
        .bind(i64::from(rows.max(1)))
        .fetch_all(&mut *tx)
        .await?;
    let mut out = OnlyIn::default();
    for r in &found {
        out.total = count_u64(r.try_get("total")?)?;
        if out.first.len() < rows as usize {
            out.first.push(r.try_get("row_text")?);
        }
    }
    Ok(out)
}

/// Compare `model`'s read model in the scratch schema with the live one: per table rows and digest,
/// and for a differing table the first `rows` rows present on one side only (each way). Both sides and
/// the live checkpoint are read in one snapshot.
pub async fn diff(
    pool: &PgPool,
    model: &dyn ReadModel,
    schema: &ScratchSchema,
    rows: u32,
) -> Result<ModelDiff, ReplayError> {
    let projector = model.model_id();
    let tables = tables_of_model(model)?;
    let mut conn = pool.acquire().await?;
    check_scratch(&mut conn, schema).await?;
    let mut tx = conn.begin().await?;
    digest_snapshot(&mut tx).await?;
    let (replayed, scratch) = side(&mut tx, schema.as_str(), projector, &tables).await?;
    if replayed.is_none() {
        return Err(ReplayError::NotReplayed {
            schema: schema.to_string(),
            projector,
        });
    }
    let (_, live) = side(&mut tx, "public", projector, &tables).await?;
    let mut out = Vec::with_capacity(tables.len());
    for (s, l) in scratch.digest.tables.iter().zip(&live.digest.tables) {
        let mut t = TableDiff {
            table: s.table,
            scratch: s.clone(),
            live: l.clone(),
            only_in_scratch: OnlyIn::default(),
            only_in_live: OnlyIn::default(),
        };
        if !t.equal() {
            t.only_in_scratch = only_in(&mut tx, schema.as_str(), "public", s.table, rows).await?;
            t.only_in_live = only_in(&mut tx, "public", schema.as_str(), s.table, rows).await?;
        }
        out.push(t);
    }
    tx.commit().await?;
    Ok(ModelDiff {
        projector,
        scratch,
        live,
        tables: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_mark_written_is_the_one_checked() {
        assert!(sql::MARK.contains(&format!("'{SCRATCH_MARK}'")));
    }

    #[test]
    fn scratch_schema_names_are_plain_identifiers_never_live_or_system_schemas() {
        for ok in ["audit_t1", "_x", "replay2025"] {
            assert_eq!(ok.parse::<ScratchSchema>().map(|s| s.0), Ok(ok.to_owned()));
        }
        let too_long = "a".repeat(64);
        for bad in [
            "",
            "public",
            "pg_temp",
            "information_schema",
            "shadow_coverage",
            "x;drop",
            "Audit",
            "1st",
            "a-b",
            "\"q\"",
            too_long.as_str(),
        ] {
            assert!(bad.parse::<ScratchSchema>().is_err(), "{bad:?} accepted");
        }
    }
}

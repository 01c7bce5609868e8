//! Rebuilding a read model from the log into a shadow table set, and swapping it in with no downtime;
//! deterministic digests of a read model.
//!
//! Policy of this module:
//! - **Runs as the owner role** (it creates a schema and tables): [`rebuild`] takes an [`EventStore`] on an
//!   owner pool. The service role keeps its grants on the swapped tables (re-granted as the migrations do).
//! - **Shadow.** Schema `shadow_<id>` gets `CREATE TABLE … (LIKE public.t INCLUDING ALL)` of each of the
//!   projector's [`Projector::tables`], the live foreign keys (re-pointed at the shadow tables, added after
//!   the bulk pass, below), the live index names, and its own `projection_checkpoints` /
//!   `projection_parked`. The projector's unqualified SQL runs on connections with
//!   `search_path = shadow_<id>, public`, through [`crate::apply_batch`] — so the shadow is built by
//!   exactly the code that builds the live model, batch by batch, with its own checkpoint.
//! - **Swap.** One transaction on the live tables: lock the projector's live checkpoint row `FOR UPDATE`
//!   (the fence every live batch takes first, so a live runner waits), lock the live tables, catch the
//!   shadow up once more, drop the live tables, move the shadow tables into `public`, re-grant, and set the
//!   live checkpoint and parked rows to the shadow's. A live leader's next batch then finds a checkpoint it
//!   did not expect, is fenced, re-elects and continues from the swapped checkpoint: nothing is applied
//!   twice and nothing is lost (the tables and the checkpoint change together).
//! - **Advisory lock.** The projector's election lock is *tried* for the swap: when no runner leads it is
//!   held (a runner starting meanwhile stands by); when a runner leads it is not waited for (a leader never
//!   gives it up) — the checkpoint fence does the work. Two rebuilds of one projector queue on a lock of
//!   their own.
//! - **Bulk first, indexes and foreign keys after.** The shadow's plain secondary indexes (not primary
//!   keys, not unique indexes, which upserts need) are dropped before the first pass and created again,
//!   with their live names, once it is done: one index build over the loaded rows instead of row-by-row
//!   maintenance. Its foreign keys are added at the same point (each `ADD CONSTRAINT` checks every loaded
//!   row in one join) instead of being checked row by row (a lookup and a row lock of the parent per
//!   child row). That cannot change what the bulk pass writes, because no projector statement relies on a
//!   foreign key to decide anything: a child row is written only after its parent — by the same
//!   statement (a team and its first active period), or by a later event of the same stream (a reinstatement after the registration; a
//!   stream behind a parked event is parked whole) — and no parent row is ever deleted; so the
//!   constraint would never have fired. Should that ever be wrong, the `ADD CONSTRAINT` fails and the
//!   rebuild fails with nothing swapped. The second pass and the swap run with every constraint and
//!   index in place, as the live runners do.
//! - **Unlogged bulk, logged swap — optional** ([`RebuildOptions::unlogged_bulk`], off by default). When
//!   asked, the shadow's read-model tables are created `UNLOGGED` (no WAL record per row written) and
//!   made `LOGGED` once the first pass is done — in [`Projector::tables`] order, referenced tables before
//!   the tables whose foreign keys point at them — before the foreign keys and secondary indexes, the
//!   second catch-up and the swap; so what is swapped in is an ordinary logged table, and everything
//!   written after the bulk (the catch-ups, the swap) is logged as always. A crash while the shadow is
//!   unlogged empties (truncates) the shadow's tables; nothing live is touched, and the next rebuild drops
//!   the shadow schema anyway (`DROP SCHEMA … CASCADE` first). The report says how many tables were built
//!   unlogged ([`RebuildReport::built_unlogged`]); the shadow's bookkeeping tables stay logged (a few
//!   rows). Off by default because `SET LOGGED` rewrites the table and its indexes (and, at `wal_level`
//!   `replica`, logs every row then): measured, that costs more than the WAL it saves
//!   (docs/adr/0011-bulk-rebuild.md).
//! - **One reader for many shadows.** The first (bulk) pass does not read the log itself: it applies the
//!   pages a reader ([`feed_log`]) hands it over a bounded channel ([`Pages`]), in the global order from
//!   the start of the log to the fence. [`rebuild`] runs one reader for its one shadow (reading the next
//!   page while the shadow applies the last); [`crate::replay::rebuild_all`] runs one reader for every
//!   shadow, so the log is read once, not once per read model. Every shadow still applies the pages on its
//!   own connection with its own checkpoint through [`apply_batch_with`], fenced as before (a page must
//!   follow the shadow's checkpoint); the second pass and the swap read the log themselves, per model. A
//!   shadow that fails stops taking pages (the others go on); when the reader fails, each shadow reads on
//!   by itself from its own checkpoint, so a failed reader never loses or repeats an event — the shadow's
//!   checkpoint is the only thing that says where it is. The reader waits for the slowest shadow (at
//!   most two pages ahead of it), so memory stays bounded. A rebuild that finds another rebuild of its
//!   read model running lets its feed go before it waits (and reads the log by itself afterwards): a
//!   shadow never waits for anything but the reader while it holds a feed, so overlapping `--all`
//!   rebuilds queue per model instead of waiting for each other through the reader.
//! - **Identifiers.** DDL is built only from the projector's static table names and its static id, each
//!   checked to be a plain lower-case identifier; everything else is bound.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventstore::{EventStore, RecordedEvent, Token};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool, Row};
use tokio::sync::mpsc;

use crate::error::ProjectionError;
use crate::runtime::{ApplyMode, BatchOutcome, Projector, apply_batch_with, lock_key};

/// The runtime's bookkeeping tables, shadowed next to the read-model tables.
const BOOKKEEPING: &[&str] = &["projection_checkpoints", "projection_parked"];

pub(crate) mod sql {
    //! Templates: `{schema}` and `{table}` / `{tables}` are replaced only by checked static identifiers.

    pub const DROP_SCHEMA: &str = "DROP SCHEMA IF EXISTS {schema} CASCADE";
    pub const CREATE_SCHEMA: &str = "CREATE SCHEMA {schema}";
    pub const CREATE_LIKE: &str =
        "CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)";
    /// A shadow table of the bulk pass: no WAL per row; made logged before the swap ([`SET_LOGGED`]).
    pub const CREATE_UNLOGGED_LIKE: &str =
        "CREATE UNLOGGED TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)";
    /// Rewrites the table (and its indexes) into WAL-logged storage.
    pub const SET_LOGGED: &str = "ALTER TABLE {schema}.{table} SET LOGGED";
    /// Binds: $1 schema, $2 table. Whether the table is unlogged (`relpersistence = 'u'`).
    pub const IS_UNLOGGED: &str = "SELECT c.relpersistence = 'u' AS unlogged
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2";
    pub const LOCK_LIVE: &str = "LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE";
    pub const DROP_LIVE: &str = "DROP TABLE {tables}";
    pub const MOVE: &str = "ALTER TABLE {schema}.{table} SET SCHEMA public";
    /// As migrations 0003/0004 do for every read-model table.
    pub const REVOKE: &str = "REVOKE ALL ON public.{table} FROM PUBLIC";
    pub const GRANT: &str =
        "GRANT SELECT, INSERT, UPDATE, DELETE ON public.{table} TO ledger_service";
    /// Binds: $1 projector.
    pub const COPY_PARKED: &str = "INSERT INTO public.projection_parked
(projector, stream_id, stream_version, tx_id, position, event_type, error, parked_at)
SELECT projector, stream_id, stream_version, tx_id, position, event_type, error, parked_at
FROM {schema}.projection_parked WHERE projector = $1";
    /// Per table: its row count and an md5 over the md5 of each row's text, in a fixed order.
    pub const TABLE_DIGEST: &str = "SELECT count(*) AS n,
md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) AS digest
FROM {schema}.{table} t";

    /// Qualified names in catalog output (nothing but pg_catalog is visible).
    pub const CATALOG_PATH: &str = "SET search_path = pg_catalog";

    /// Binds: $1 table, $2 shadow schema. The live table's foreign keys, as statements re-pointing them
    /// at the shadow tables (needs [`CATALOG_PATH`] so the definitions name `public.`).
    pub const FOREIGN_KEYS: &str = "SELECT format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', $2::text, $1::text,
    c.conname, replace(pg_get_constraintdef(c.oid), 'REFERENCES public.', format('REFERENCES %I.', $2::text)))
    AS stmt
FROM pg_constraint c
WHERE c.conrelid = format('public.%I', $1::text)::regclass AND c.contype = 'f'
ORDER BY c.conname";

    /// Binds: $1 table, $2 shadow schema. Renames of the shadow's indexes (named by `LIKE`) to the names
    /// of the live indexes with the same definition, so the swapped tables keep the migrations' names.
    pub const INDEX_RENAMES: &str =
        "SELECT format('ALTER INDEX %I.%I RENAME TO %I', $2::text, s.relname, l.relname)
    AS stmt
FROM pg_index li
JOIN pg_class l ON l.oid = li.indexrelid
JOIN pg_index si ON si.indrelid = format('%I.%I', $2::text, $1::text)::regclass
JOIN pg_class s ON s.oid = si.indexrelid
WHERE li.indrelid = format('public.%I', $1::text)::regclass
  AND l.relname <> s.relname
  AND li.indisunique = si.indisunique AND li.indisprimary = si.indisprimary
  AND split_part(pg_get_indexdef(li.indexrelid), ' USING ', 2)
    = split_part(pg_get_indexdef(si.indexrelid), ' USING ', 2)
ORDER BY l.relname";

    /// Binds: $1 table, $2 shadow schema. The shadow table's plain secondary indexes (neither primary
    /// key nor unique: no statement of a projector relies on them to decide anything) as the statements
    /// that create them (needs [`CATALOG_PATH`] so the definitions name the shadow schema) and drop them.
    pub const SECONDARY_INDEXES: &str = "SELECT pg_get_indexdef(i.indexrelid) AS create_stmt,
    format('DROP INDEX %I.%I', $2::text, c.relname) AS drop_stmt
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid
WHERE i.indrelid = format('%I.%I', $2::text, $1::text)::regclass
  AND NOT i.indisunique AND NOT i.indisprimary AND k.oid IS NULL
ORDER BY c.relname";

    pub const ENSURE_LIVE_CHECKPOINT: &str = "INSERT INTO public.projection_checkpoints (projector)
VALUES ($1) ON CONFLICT (projector) DO NOTHING";
    /// The fence every live batch takes first.
    pub const LOCK_LIVE_CHECKPOINT: &str =
        "SELECT 1 AS one FROM public.projection_checkpoints WHERE projector = $1 FOR UPDATE";
    /// Binds: $1 projector, $2 tx_id (text), $3 position.
    pub const SET_LIVE_CHECKPOINT: &str = "UPDATE public.projection_checkpoints
SET tx_id = $2::text::xid8, position = $3, updated_at = now() WHERE projector = $1";
    pub const DELETE_LIVE_PARKED: &str =
        "DELETE FROM public.projection_parked WHERE projector = $1";
    /// Binds: $1 lock_timeout (text, e.g. `5000ms`); local to the swap transaction.
    pub const LOCK_TIMEOUT: &str = "SELECT set_config('lock_timeout', $1, true)";
    pub const DIGEST_SNAPSHOT: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";
    /// Row text independent of the session's settings.
    pub const DIGEST_SETTINGS: &str = "SELECT set_config('TimeZone', 'UTC', true),
set_config('DateStyle', 'ISO, YMD', true), set_config('IntervalStyle', 'postgres', true),
set_config('extra_float_digits', '1', true)";
    /// Binds: $1 text.
    pub const MD5: &str = "SELECT md5($1) AS digest";
    pub const TRY_LOCK: &str = "SELECT pg_try_advisory_lock($1) AS locked";
    pub const LOCK: &str = "SELECT pg_advisory_lock($1)";
}

/// Tuning of a rebuild.
#[derive(Debug, Clone)]
pub struct RebuildOptions {
    /// Most events applied to the shadow in one transaction.
    pub batch_size: i64,
    /// How long the swap waits for a table lock (readers, a live batch) before it rolls back and retries.
    pub lock_timeout: Duration,
    /// Swap attempts before giving up (a lock timeout or deadlock rolls the swap back, nothing is lost).
    pub swap_attempts: u32,
    /// Compute the live read model's digest before and after the swap (a full scan of each table).
    pub digests: bool,
    /// Write the bulk pass into `UNLOGGED` shadow tables and make them logged (`SET LOGGED`, a rewrite)
    /// before the indexes, the catch-up and the swap. Off by default: on a server with `wal_level`
    /// `replica` or higher the rewrite logs every row anyway, so the bulk pass saves less than the
    /// rewrite costs (docs/adr/0011-bulk-rebuild.md).
    pub unlogged_bulk: bool,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        Self {
            batch_size: 5000,
            lock_timeout: Duration::from_secs(5),
            swap_attempts: 5,
            digests: true,
            unlogged_bulk: false,
        }
    }
}

/// The digest of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDigest {
    pub table: &'static str,
    pub rows: u64,
    /// md5 (hex) over the md5 of each row's text, ordered.
    pub md5: String,
}

/// A deterministic digest of a projector's read model: equal digests mean equal table contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// md5 (hex) over `table rows md5` of every table, in the projector's table order.
    pub combined: String,
    pub tables: Vec<TableDigest>,
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.combined)?;
        for t in &self.tables {
            write!(f, "\n    {:<28} {:>10} rows  {}", t.table, t.rows, t.md5)?;
        }
        Ok(())
    }
}

/// What a rebuild did.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub projector: &'static str,
    /// The shadow schema (dropped after the swap).
    pub shadow_schema: String,
    /// Events read from the log into the shadow (all of them, handled or not), including the catch-up.
    pub events: u64,
    /// Events the projector applied / parked in the shadow.
    pub applied: u64,
    pub parked: u64,
    pub batches: u64,
    /// Events applied during the swap (those that arrived while the shadow was built).
    pub caught_up_in_swap: u64,
    /// Events of the bulk pass handed over by the log's reader ([`feed_log`]); the rest of `events` the
    /// rebuild read itself (the second pass, the swap's catch-up, or after a failed reader).
    pub fed_events: u64,
    /// Read-model tables the bulk pass wrote unlogged and that were made logged before the swap.
    pub built_unlogged: usize,
    /// The checkpoint the swapped read model reflects.
    pub checkpoint: Token,
    /// Whether the projector's election lock was held during the swap (no runner was leading).
    pub election_lock_held: bool,
    /// Swap attempts (1 unless a lock timed out).
    pub swap_attempts: u32,
    pub build: Duration,
    pub swap: Duration,
    pub total: Duration,
    /// Digests of the live read model just before and just after the swap (with [`RebuildOptions::digests`]).
    pub before: Option<Digest>,
    pub after: Option<Digest>,
}

impl fmt::Display for RebuildReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rebuilt {} (shadow {})",
            self.projector, self.shadow_schema
        )?;
        writeln!(
            f,
            "  events {}  applied {}  parked {}  batches {}  caught up in swap {}",
            self.events, self.applied, self.parked, self.batches, self.caught_up_in_swap
        )?;
        writeln!(
            f,
            "  fed by the reader {}  tables built unlogged {}",
            self.fed_events, self.built_unlogged
        )?;
        writeln!(
            f,
            "  checkpoint {}  election lock held {}  swap attempts {}",
            self.checkpoint, self.election_lock_held, self.swap_attempts
        )?;
        writeln!(
            f,
            "  build {:?}  swap {:?}  total {:?}",
            self.build, self.swap, self.total
        )?;
        if let Some(d) = &self.before {
            writeln!(f, "  digest before {d}")?;
        }
        if let Some(d) = &self.after {
            writeln!(f, "  digest after  {d}")?;
        }
        Ok(())
    }
}

/// `name` is a plain lower-case identifier (no quoting needed, nothing to inject).
pub(crate) fn checked(name: &'static str) -> Result<&'static str, ProjectionError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        Ok(name)
    } else {
        Err(ProjectionError::Corrupt(format!(
            "{name:?} is not a plain identifier"
        )))
    }
}

pub(crate) fn tables_of<P: Projector>(projector: &P) -> Result<Vec<&'static str>, ProjectionError> {
    let tables = projector.tables();
    if tables.is_empty() {
        return Err(ProjectionError::Corrupt(format!(
            "projector {} declares no tables",
            projector.id()
        )));
    }
    tables.iter().map(|t| checked(t)).collect()
}

fn shadow_schema(projector_id: &'static str) -> Result<String, ProjectionError> {
    Ok(format!("shadow_{}", checked(projector_id)?))
}

pub(crate) fn ddl(template: &str, schema: &str, table: &str) -> String {
    template
        .replace("{schema}", schema)
        .replace("{table}", table)
}

pub(crate) fn qualified_list(schema: &str, tables: &[&'static str]) -> String {
    tables
        .iter()
        .map(|t| format!("{schema}.{t}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn execute(
    conn: &mut PgConnection,
    statement: String,
) -> Result<(), ProjectionError> {
    sqlx::query(AssertSqlSafe(statement)).execute(conn).await?;
    Ok(())
}

pub(crate) fn count_u64(n: i64) -> Result<u64, ProjectionError> {
    u64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("row count {n}")))
}

pub(crate) async fn digest_in(
    conn: &mut PgConnection,
    schema: &str,
    tables: &[&'static str],
) -> Result<Digest, ProjectionError> {
    let mut tx = conn.begin().await?;
    digest_snapshot(&mut tx).await?;
    let digest = digest_tables(&mut tx, schema, tables).await?;
    tx.commit().await?;
    Ok(digest)
}

/// Make the transaction just begun on `tx` a read-only snapshot with session-independent row text (the
/// first statements of a digest transaction).
pub(crate) async fn digest_snapshot(tx: &mut PgConnection) -> Result<(), ProjectionError> {
    sqlx::query(sql::DIGEST_SNAPSHOT).execute(&mut *tx).await?;
    sqlx::query(sql::DIGEST_SETTINGS).execute(&mut *tx).await?;
    Ok(())
}

/// The digest of `schema`'s copy of `tables`, inside a transaction prepared by [`digest_snapshot`].
pub(crate) async fn digest_tables(
    tx: &mut PgConnection,
    schema: &str,
    tables: &[&'static str],
) -> Result<Digest, ProjectionError> {
    let mut out = Vec::with_capacity(tables.len());
    let mut all = String::new();
    for table in tables {
        let row = sqlx::query(AssertSqlSafe(ddl(sql::TABLE_DIGEST, schema, table)))
            .fetch_one(&mut *tx)
            .await?;
        let rows = count_u64(row.try_get("n")?)?;
        let md5: String = row.try_get("digest")?;
        all.push_str(&format!("{table} {rows} {md5}\n"));
        out.push(TableDigest { table, rows, md5 });
    }
    let combined: String = sqlx::query_scalar(sql::MD5)
        .bind(all)
        .fetch_one(&mut *tx)
        .await?;
    Ok(Digest {
        combined,
        tables: out,
    })
}

/// A deterministic digest of `projector`'s live read model (its [`Projector::tables`] in `public`), read
/// in one snapshot. Needs SELECT on the tables only (the service role will do).
pub async fn digest<P: Projector>(pool: &PgPool, projector: &P) -> Result<Digest, ProjectionError> {
    let tables = tables_of(projector)?;
    let mut conn = pool.acquire().await?;
    digest_in(&mut conn, "public", &tables).await
}

/// A dedicated owner connection (not pooled: the swap and the locks must not starve the pool).
pub(crate) async fn connect(options: &PgConnectOptions) -> Result<PgConnection, ProjectionError> {
    Ok(PgConnection::connect_with(options).await?)
}

/// Statements generated from the catalog (each a single `stmt` column).
async fn generated(
    conn: &mut PgConnection,
    query: &'static str,
    table: &str,
    schema: &str,
) -> Result<Vec<String>, ProjectionError> {
    let rows = sqlx::query(query)
        .bind(table)
        .bind(schema)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            r.try_get::<String, _>("stmt")
                .map_err(ProjectionError::from)
        })
        .collect()
}

/// (Re)create the shadow schema with empty copies of the live tables (unlogged or not) and the runtime's
/// (logged) bookkeeping; the foreign keys are not added yet: returns the statements that add them.
async fn create_shadow(
    conn: &mut PgConnection,
    schema: &str,
    tables: &[&'static str],
    persistence: Persistence,
) -> Result<Vec<String>, ProjectionError> {
    sqlx::query(sql::CATALOG_PATH).execute(&mut *conn).await?;
    execute(conn, ddl(sql::DROP_SCHEMA, schema, "")).await?;
    execute(conn, ddl(sql::CREATE_SCHEMA, schema, "")).await?;
    create_bookkeeping(conn, schema).await?;
    create_tables_without_foreign_keys(conn, schema, tables, persistence).await
}

/// Whether copies of the live tables write WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Persistence {
    /// Ordinary tables (a replay's scratch schema, which stays).
    Logged,
    /// A rebuild's bulk pass: made logged before anything is swapped ([`set_logged`]).
    Unlogged,
}

/// Make the unlogged ones of `schema`'s copies of `tables` logged, in `tables` order (referenced tables
/// first: [`Projector::tables`] lists parents before the tables whose foreign keys point at them, and a
/// logged table may not reference an unlogged one). Returns how many were unlogged.
async fn set_logged(
    conn: &mut PgConnection,
    schema: &str,
    tables: &[&'static str],
) -> Result<usize, ProjectionError> {
    let mut made = 0;
    for table in tables {
        let unlogged: bool = sqlx::query_scalar(sql::IS_UNLOGGED)
            .bind(schema)
            .bind(*table)
            .fetch_one(&mut *conn)
            .await?;
        if unlogged {
            execute(conn, ddl(sql::SET_LOGGED, schema, table)).await?;
            made += 1;
        }
    }
    Ok(made)
}

/// The runtime's bookkeeping tables (`projection_checkpoints`, `projection_parked`), empty, in `schema`.
pub(crate) async fn create_bookkeeping(
    conn: &mut PgConnection,
    schema: &str,
) -> Result<(), ProjectionError> {
    sqlx::query(sql::CATALOG_PATH).execute(&mut *conn).await?;
    for table in BOOKKEEPING {
        execute(conn, ddl(sql::CREATE_LIKE, schema, table)).await?;
    }
    Ok(())
}

/// Empty copies of the live `tables` in the existing `schema`: columns, constraints and indexes as in
/// `public` (with the live index names), foreign keys re-pointed at the copies; logged or not.
pub(crate) async fn create_tables(
    conn: &mut PgConnection,
    schema: &str,
    tables: &[&'static str],
    persistence: Persistence,
) -> Result<(), ProjectionError> {
    for statement in create_tables_without_foreign_keys(conn, schema, tables, persistence).await? {
        execute(conn, statement).await?;
    }
    Ok(())
}

/// [`create_tables`] but for the foreign keys: returns the statements that add them (re-pointed at the
/// copies; each validates the rows already there when it runs).
async fn create_tables_without_foreign_keys(
    conn: &mut PgConnection,
    schema: &str,
    tables: &[&'static str],
    persistence: Persistence,
) -> Result<Vec<String>, ProjectionError> {
    sqlx::query(sql::CATALOG_PATH).execute(&mut *conn).await?;
    let create = match persistence {
        Persistence::Logged => sql::CREATE_LIKE,
        Persistence::Unlogged => sql::CREATE_UNLOGGED_LIKE,
    };
    for table in tables {
        execute(conn, ddl(create, schema, table)).await?;
    }
    // LIKE copies neither foreign keys nor index names.
    let mut foreign_keys = Vec::new();
    for table in tables {
        foreign_keys.extend(generated(conn, sql::FOREIGN_KEYS, table, schema).await?);
        for stmt in generated(conn, sql::INDEX_RENAMES, table, schema).await? {
            execute(conn, stmt).await?;
        }
    }
    Ok(foreign_keys)
}

/// Drop the plain secondary indexes of the shadow's `tables` for the bulk build and return the statements
/// that create them again (with the same names) — building an index once over the loaded rows costs a
/// fraction of maintaining it row by row. Primary keys and unique indexes stay: upserts need them.
async fn defer_secondary_indexes(
    conn: &mut PgConnection,
    schema: &str,
    tables: &[&'static str],
) -> Result<Vec<String>, ProjectionError> {
    sqlx::query(sql::CATALOG_PATH).execute(&mut *conn).await?;
    let mut create = Vec::new();
    for table in tables {
        let rows = sqlx::query(sql::SECONDARY_INDEXES)
            .bind(*table)
            .bind(schema)
            .fetch_all(&mut *conn)
            .await?;
        for row in rows {
            create.push(row.try_get::<String, _>("create_stmt")?);
            execute(conn, row.try_get::<String, _>("drop_stmt")?).await?;
        }
    }
    Ok(create)
}

/// Counters of the shadow's build.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub(crate) events: u64,
    pub(crate) applied: u64,
    pub(crate) parked: u64,
    pub(crate) batches: u64,
    /// Events taken from a reader's pages (the rest were read by the catch-up itself).
    pub(crate) fed: u64,
}

/// Apply the log after `checkpoint` to the shadow until caught up to the fence — or, with `until`, to
/// the last event at or before `until` (never beyond it); the new checkpoint. `on_batch` is told the
/// counters and the checkpoint after each committed batch.
#[expect(
    clippy::too_many_arguments,
    reason = "the crate's one catch-up loop, shared by rebuild and replay, with its state spelled out"
)]
pub(crate) async fn catch_up<P: Projector>(
    store: &EventStore,
    shadow: &PgPool,
    projector: &P,
    mut checkpoint: Token,
    batch: i64,
    mode: ApplyMode,
    counts: &mut Applied,
    until: Option<Token>,
    on_batch: &(dyn Fn(&Applied, Token) + Sync),
) -> Result<Token, ProjectionError> {
    loop {
        if until.is_some_and(|u| checkpoint >= u) {
            return Ok(checkpoint);
        }
        let mut page = store.read_all_after(checkpoint, batch).await?;
        let full = i64::try_from(page.len()).is_ok_and(|n| n >= batch);
        let mut last_page = !full;
        if let Some(until) = until {
            // The page is in the global order: everything after the first event beyond `until` is too.
            if let Some(beyond) = page.iter().position(|e| e.token > until) {
                page.truncate(beyond);
                last_page = true;
            }
        }
        if page.is_empty() {
            return Ok(checkpoint);
        }
        checkpoint = apply_page(shadow, projector, checkpoint, &page, mode, counts).await?;
        on_batch(counts, checkpoint);
        if last_page {
            return Ok(checkpoint);
        }
    }
}

/// Apply one page of the log (the events right after `checkpoint`) to the shadow as one batch; the new
/// checkpoint. The shadow's checkpoint is the rebuild's alone: finding another one is an error.
async fn apply_page<P: Projector>(
    shadow: &PgPool,
    projector: &P,
    checkpoint: Token,
    page: &[RecordedEvent],
    mode: ApplyMode,
    counts: &mut Applied,
) -> Result<Token, ProjectionError> {
    match apply_batch_with(shadow, projector, checkpoint, page, mode).await? {
        BatchOutcome::Committed {
            checkpoint: next,
            applied,
            parked,
        } => {
            counts.events += page.len() as u64;
            counts.applied += applied;
            counts.parked += parked;
            counts.batches += 1;
            Ok(next)
        }
        BatchOutcome::Fenced { found } => Err(ProjectionError::Corrupt(format!(
            "the shadow checkpoint of {} moved under the rebuild (found {found}, expected {checkpoint})",
            projector.id()
        ))),
    }
}

/// A page of the log handed to a bulk pass.
type Page = Arc<[RecordedEvent]>;

/// What a reader hands a bulk pass.
enum Feed {
    /// The next events of the log in the global order, right after the previous page.
    Page(Page),
    /// The previous page reached the fence: the bulk pass is complete.
    End,
}

/// The receiving end of a bulk pass's feed: the pages of the log from its start, handed over by one
/// reader ([`feed_log`]) that may feed other rebuilds too ([`crate::replay::rebuild_all`]).
pub struct Pages {
    rx: mpsc::Receiver<Feed>,
}

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages").finish_non_exhaustive()
    }
}

/// The sending end of a feed (held by the reader).
pub struct Feeder {
    tx: mpsc::Sender<Feed>,
}

impl fmt::Debug for Feeder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feeder").finish_non_exhaustive()
    }
}

/// Pages a reader may hold for a bulk pass before it waits for the pass to take one: the reader reads
/// ahead of the slowest shadow by at most this much.
const PAGES_AHEAD: usize = 2;

impl Pages {
    /// A feed no reader serves: the bulk pass reads the log by itself.
    fn none() -> Self {
        feed().1
    }
}

/// A new feed: the reader's end and the bulk pass's end.
pub fn feed() -> (Feeder, Pages) {
    let (tx, rx) = mpsc::channel(PAGES_AHEAD);
    (Feeder { tx }, Pages { rx })
}

/// Read the log once, from its start up to the fence, in pages of `batch` events, and hand every page to
/// every feed in order, then tell each that the log is complete. A feed whose bulk pass has gone (its
/// rebuild failed) is dropped; the reader stops early when none is left. Returns the events read. When a
/// read fails, the feeds are dropped without the end mark: each bulk pass then reads on by itself from
/// its own checkpoint.
pub async fn feed_log(
    store: &EventStore,
    batch: i64,
    mut feeds: Vec<Feeder>,
) -> Result<u64, ProjectionError> {
    let batch = batch.max(1);
    let mut after = Token::START;
    let mut read = 0u64;
    loop {
        if feeds.is_empty() {
            return Ok(read);
        }
        let page = store.read_all_after(after, batch).await?;
        let full = i64::try_from(page.len()).is_ok_and(|n| n >= batch);
        let Some(last) = page.last() else {
            break;
        };
        after = last.token;
        read += page.len() as u64;
        let page: Page = Arc::from(page);
        let mut live = Vec::with_capacity(feeds.len());
        for feed in feeds {
            if feed.tx.send(Feed::Page(page.clone())).await.is_ok() {
                live.push(feed);
            }
        }
        feeds = live;
        if !full {
            break;
        }
    }
    for feed in feeds {
        // A bulk pass that has gone needs no end mark.
        let _ = feed.tx.send(Feed::End).await;
    }
    Ok(read)
}

/// The bulk pass into an empty shadow: apply the pages of `pages` in order; when the feed stops before
/// the end of the log (its reader failed), read on from the shadow's checkpoint to the fence. The new
/// checkpoint.
async fn bulk_pass<P: Projector>(
    store: &EventStore,
    shadow: &PgPool,
    projector: &P,
    batch: i64,
    pages: &mut Pages,
    counts: &mut Applied,
) -> Result<Token, ProjectionError> {
    let mut checkpoint = Token::START;
    loop {
        match pages.rx.recv().await {
            Some(Feed::Page(page)) => {
                if page.first().is_some_and(|e| e.token <= checkpoint) {
                    return Err(ProjectionError::Corrupt(format!(
                        "a page of the log for {} does not follow its checkpoint {checkpoint}",
                        projector.id()
                    )));
                }
                checkpoint = apply_page(
                    shadow,
                    projector,
                    checkpoint,
                    &page,
                    ApplyMode::SetBased,
                    counts,
                )
                .await?;
                counts.fed += page.len() as u64;
            }
            Some(Feed::End) => return Ok(checkpoint),
            None => {
                tracing::warn!(
                    projector = projector.id(),
                    %checkpoint,
                    "no reader feeds the bulk pass (it stopped early, or was let go while this rebuild \
                     waited for another); the bulk pass reads on by itself"
                );
                return catch_up(
                    store,
                    shadow,
                    projector,
                    checkpoint,
                    batch,
                    ApplyMode::SetBased,
                    counts,
                    None,
                    &unobserved,
                )
                .await;
            }
        }
    }
}

/// The `on_batch` of a catch-up nobody watches.
pub(crate) fn unobserved(_: &Applied, _: Token) {}

fn retryable(error: &ProjectionError) -> bool {
    match error {
        ProjectionError::Database(sqlx::Error::Database(db)) => {
            // 55P03 lock_not_available (lock_timeout), 40P01 deadlock_detected.
            matches!(db.code().as_deref(), Some("55P03" | "40P01"))
        }
        _ => false,
    }
}

/// One attempt at the swap transaction. Returns the swapped checkpoint.
#[expect(
    clippy::too_many_arguments,
    reason = "one private step of `rebuild`, with its state spelled out"
)]
async fn swap<P: Projector>(
    conn: &mut PgConnection,
    store: &EventStore,
    shadow: &PgPool,
    projector: &P,
    schema: &str,
    tables: &[&'static str],
    options: &RebuildOptions,
    checkpoint: Token,
    counts: &mut Applied,
) -> Result<Token, ProjectionError> {
    let id = projector.id();
    let mut tx = conn.begin().await?;
    sqlx::query(sql::LOCK_TIMEOUT)
        .bind(format!("{}ms", options.lock_timeout.as_millis()))
        .execute(&mut *tx)
        .await?;
    // The fence first (as every live batch does), then the tables: a live batch in flight finishes, the
    // next one waits, and no reader can see a half-swapped model.
    sqlx::query(sql::LOCK_LIVE_CHECKPOINT)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let live = qualified_list("public", tables);
    execute(&mut tx, sql::LOCK_LIVE.replace("{tables}", &live)).await?;
    let before = counts.events;
    let checkpoint = catch_up(
        store,
        shadow,
        projector,
        checkpoint,
        options.batch_size.max(1),
        ApplyMode::SetBased,
        counts,
        None,
        &unobserved,
    )
    .await?;
    tracing::info!(
        projector = id,
        caught_up = counts.events - before,
        %checkpoint,
        "swapping the shadow read model in"
    );
    execute(&mut tx, sql::DROP_LIVE.replace("{tables}", &live)).await?;
    for table in tables {
        execute(&mut tx, ddl(sql::MOVE, schema, table)).await?;
        execute(&mut tx, ddl(sql::REVOKE, schema, table)).await?;
        execute(&mut tx, ddl(sql::GRANT, schema, table)).await?;
    }
    sqlx::query(sql::SET_LIVE_CHECKPOINT)
        .bind(id)
        .bind(checkpoint.tx_id.to_string())
        .bind(checkpoint.position)
        .execute(&mut *tx)
        .await?;
    sqlx::query(sql::DELETE_LIVE_PARKED)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(AssertSqlSafe(ddl(sql::COPY_PARKED, schema, "")))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    execute(&mut tx, ddl(sql::DROP_SCHEMA, schema, "")).await?;
    tx.commit().await?;
    Ok(checkpoint)
}

/// Rebuild `projector`'s read model from the start of the log into `shadow_<id>` and swap it in, while
/// live runners keep running (they stand by for the swap and continue from the swapped checkpoint).
/// `store` must be on an **owner** pool (it creates a schema and tables). The one-model case of
/// [`crate::replay::rebuild_all`]: one reader ([`feed_log`]) feeds the bulk pass ([`rebuild_from`]).
pub async fn rebuild<P: Projector>(
    store: &EventStore,
    projector: &P,
    options: &RebuildOptions,
) -> Result<RebuildReport, ProjectionError> {
    let (feeder, pages) = feed();
    let (read, rebuilt) = tokio::join!(
        feed_log(store, options.batch_size, vec![feeder]),
        rebuild_from(store, projector, options, pages)
    );
    if let Err(error) = read {
        tracing::warn!(projector = projector.id(), %error, "reading the log for the bulk pass failed");
    }
    rebuilt
}

/// [`rebuild`] with the bulk pass fed by a reader of the log that the caller runs ([`feed_log`] with the
/// [`Feeder`] of `pages`), possibly for other rebuilds at the same time.
pub async fn rebuild_from<P: Projector>(
    store: &EventStore,
    projector: &P,
    options: &RebuildOptions,
    mut pages: Pages,
) -> Result<RebuildReport, ProjectionError> {
    let started = Instant::now();
    let id = projector.id();
    let tables = tables_of(projector)?;
    let schema = shadow_schema(id)?;
    let owner = store.pool();
    let owner_options = PgConnectOptions::clone(&owner.connect_options());

    // Rebuilds of one projector queue (held until this connection closes). A rebuild that must wait
    // lets its feed go first: waiting while holding it would stall the shared reader and every other
    // shadow it feeds, and two `rebuild --all` each waiting for a projector the other holds would wait
    // for each other forever (through channels Postgres cannot see). It reads the log by itself later.
    let mut rebuild_lock = connect(&owner_options).await?;
    let key = lock_key(&format!("rebuild.{id}"));
    let locked: bool = sqlx::query_scalar(sql::TRY_LOCK)
        .bind(key)
        .fetch_one(&mut rebuild_lock)
        .await?;
    if !locked {
        tracing::info!(
            projector = id,
            "another rebuild of this read model is running: waiting for it, then reading the log alone"
        );
        pages = Pages::none();
        sqlx::query(sql::LOCK)
            .bind(key)
            .execute(&mut rebuild_lock)
            .await?;
    }

    let mut setup = connect(&owner_options).await?;
    let persistence = if options.unlogged_bulk {
        Persistence::Unlogged
    } else {
        Persistence::Logged
    };
    let foreign_keys = create_shadow(&mut setup, &schema, &tables, persistence).await?;
    let deferred = defer_secondary_indexes(&mut setup, &schema, &tables).await?;

    let search_path = format!("{schema},public");
    let shadow = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(
            owner_options
                .clone()
                .options([("search_path", search_path)]),
        )
        .await?;
    let batch = options.batch_size.max(1);
    let mut counts = Applied::default();
    let bulk = bulk_pass(store, &shadow, projector, batch, &mut pages, &mut counts).await;
    // Stop taking pages (the reader feeds the other rebuilds without this one).
    drop(pages);
    let mut checkpoint = match bulk {
        Ok(checkpoint) => checkpoint,
        Err(error) => {
            shadow.close().await;
            return Err(error);
        }
    };
    // The bulk is in: the tables become ordinary logged ones, their foreign keys are added (each checked
    // over the loaded rows at once) and the secondary indexes built once over them, before the rest is
    // applied.
    let built_unlogged = set_logged(&mut setup, &schema, &tables).await?;
    for statement in foreign_keys.into_iter().chain(deferred) {
        execute(&mut setup, statement).await?;
    }
    setup.close().await?;
    // A second pass picks up what arrived during the first, so the swap has little left to apply.
    checkpoint = catch_up(
        store,
        &shadow,
        projector,
        checkpoint,
        batch,
        ApplyMode::SetBased,
        &mut counts,
        None,
        &unobserved,
    )
    .await?;
    let build = started.elapsed();
    tracing::info!(projector = id, events = counts.events, %checkpoint, ?build, "shadow built");

    let before = if options.digests {
        Some(digest(owner, projector).await?)
    } else {
        None
    };

    let swap_started = Instant::now();
    let mut election = connect(&owner_options).await?;
    let election_lock_held: bool = sqlx::query_scalar(sql::TRY_LOCK)
        .bind(lock_key(id))
        .fetch_one(&mut election)
        .await?;
    sqlx::query(sql::ENSURE_LIVE_CHECKPOINT)
        .bind(id)
        .execute(&mut election)
        .await?;
    let in_build = counts.events;
    let mut conn = connect(&owner_options).await?;
    let mut attempts = 0u32;
    let swapped = loop {
        attempts += 1;
        match swap(
            &mut conn,
            store,
            &shadow,
            projector,
            &schema,
            &tables,
            options,
            checkpoint,
            &mut counts,
        )
        .await
        {
            Ok(token) => break token,
            Err(error) if retryable(&error) && attempts < options.swap_attempts.max(1) => {
                tracing::warn!(projector = id, %error, attempts, "swap could not lock; retrying");
                // Whatever was caught up stays in the shadow; the next attempt starts from there.
                checkpoint = crate::runtime::checkpoint(&shadow, id).await?;
            }
            Err(error) => {
                shadow.close().await;
                return Err(error);
            }
        }
    };
    shadow.close().await;
    conn.close().await?;
    // Closing the connections releases the election lock (if held) and the rebuild lock.
    election.close().await?;
    let swap_took = swap_started.elapsed();

    let after = if options.digests {
        Some(digest(owner, projector).await?)
    } else {
        None
    };
    rebuild_lock.close().await?;
    Ok(RebuildReport {
        projector: id,
        shadow_schema: schema,
        events: counts.events,
        applied: counts.applied,
        parked: counts.parked,
        batches: counts.batches,
        caught_up_in_swap: counts.events - in_build,
        fed_events: counts.fed,
        built_unlogged,
        checkpoint: swapped,
        election_lock_held,
        swap_attempts: attempts,
        build,
        swap: swap_took,
        total: started.elapsed(),
        before,
        after,
    })
}

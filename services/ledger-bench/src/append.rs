//! `ledger-bench append`: single-event appends through the event store, against `pgbench` inserting one
//! row per transaction into the plain event table of measurements.md, interleaved run by run.
//!
//! Setup: two fresh databases on the given cluster — one migrated with [`schema::MIGRATOR`] (the store
//! connects to it as the service role, `ledger_app` by default), one holding the raw table of
//! measurements.md, created empty (measurements.md prefilled 1 M rows; this benchmark does not). Both are
//! dropped at the end unless `--keep-databases`.
//!
//! Each run: `CHECKPOINT`, the raw leg (pgbench), then for each variant `CHECKPOINT` and its leg. A leg is
//! `--tasks` concurrent clients appending single events for `--seconds`, each client to its own stream,
//! a new stream every 100 events (`NoStream`, then `Exact(n)`), ~300 B payload, ~100 B metadata, a unique
//! idempotency key per command. Connections are opened before the clock starts (pgbench reports `tps`
//! without initial connection time, too).
//!
//! Variants (`--variants`, comma separated). Only `service` is the product; the others remove one cost at
//! a time to explain the ratio and are diagnostics, not alternatives anyone runs:
//! - `service`: [`EventStore::append`] on a pool configured like ledger-api's (no ping before each
//!   acquire).
//! - `no-idempotency`: the store's one-event statement without the idempotency-row insert, bound
//!   directly: prices the idempotency row.
//! - `plain-insert`: one single-row INSERT into the service's `events` table, the hash chained on the
//!   client (no head lookup, no recursive CTE, no idempotency row).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, SubsecRound, Utc};
use eventstore::hash::{CanonicalEvent, GENESIS};
use eventstore::{
    AppendRequest, CommandIdentity, EventStore, ExpectedVersion, NewEvent, StoreConfig,
};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Row};
use tokio::task::JoinSet;

use crate::pgbench;
use crate::stats::{self, Latency};
use crate::sysstat::{self, CpuSnapshot, CpuUse, Server};

/// Events per stream before a client starts a new one (as in `single.sql`).
const EVENTS_PER_STREAM: u64 = 100;
const EVENT_TYPE: &str = "OrderPlaced";

/// ~300 bytes of JSON, the same text for pgbench and the service.
const PAYLOAD: &str = r#"{"order_id":"4f9c2a71-3b5e-4d08-9a61-2c7e0b5d8f13","customer":{"id":"c-0042-7781","region":"320102","tier":"volunteer"},"lines":[{"sku":"KIT-000123","qty":2,"unit_cents":1299},{"sku":"KIT-000456","qty":1,"unit_cents":4999}],"currency":"CNY","total_cents":7597,"note":"deliver to the community centre, side entrance"}"#;
/// ~100 bytes of JSON metadata.
const METADATA: &str = r#"{"actor":"u-7781","role":"coordinator","region":"320102","client":"ledger-bench","corr":"b-1"}"#;

const SERVER_SETTINGS: &str = "SELECT current_setting('server_version') AS version,
    current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit,
    current_setting('full_page_writes') AS full_page_writes,
    current_setting('shared_buffers') AS shared_buffers, current_setting('max_wal_size') AS max_wal_size";
const ROLE_EXISTS: &str = "SELECT 1 FROM pg_roles WHERE rolname = $1";
const CHECKPOINT: &str = "CHECKPOINT";
const BACKEND_PID: &str = "SELECT pg_backend_pid() AS pid";
const TABLE_SIZES: &str =
    "SELECT count(*) AS n, pg_size_pretty(pg_total_relation_size('events')) AS size FROM events";

/// The store's one-event statement (`eventstore` `sql::APPEND_ONE`) without its idempotency-row insert:
/// a diagnostic that prices the idempotency row. Kept here because it is not a statement the product runs.
const APPEND_ONE_NO_IDEMPOTENCY: &str = r"
INSERT INTO events (stream_id, stream_version, event_type, schema_version, payload, metadata,
                    occurred_at, recorded_at, prev_hash, hash)
SELECT $1, $2::bigint + 1, $3, $4, $5::json, $6::json, $7, $9, h.hash, sha256(h.hash || $8::bytea)
FROM (
    SELECT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea AS hash
    WHERE $2::bigint = 0
    UNION ALL
    SELECT e.hash FROM events e
    WHERE $2::bigint > 0 AND e.stream_id = $1 AND e.stream_version = $2::bigint
) h
RETURNING position, tx_id::text AS tx_text, stream_version";

/// One row into the service's table; the chain link is computed by the client.
const PLAIN_INSERT: &str =
    "INSERT INTO events (stream_id, stream_version, event_type, schema_version,
    payload, metadata, occurred_at, recorded_at, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5::json, $6::json, $7, $8, $9, $10)
RETURNING position, tx_id::text AS tx_text, stream_version";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Variant {
    /// `EventStore::append`, pool configured like ledger-api's (no ping before each acquire).
    Service,
    /// The store's one-event statement without the idempotency row, bound directly.
    NoIdempotency,
    /// A single-row INSERT into the service's table, chain computed client-side.
    PlainInsert,
}

impl Variant {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::NoIdempotency => "no-idempotency",
            Self::PlainInsert => "plain-insert",
        }
    }

    /// Whether the pool pings each connection as it is acquired. No variant does: ledger-api turns the
    /// ping off (it is a second round trip per request).
    fn pings(self) -> bool {
        false
    }
}

#[derive(Debug, clap::Args)]
pub struct AppendArgs {
    /// Owner (superuser or CREATEDB) URL of the cluster to benchmark on; two databases are created in it.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub(crate) database_url: String,
    /// Login role the store connects as (a member of `ledger_service`; deploy/pg-private creates it).
    #[arg(long, default_value = "ledger_app")]
    pub(crate) app_user: String,
    /// Password of `--app-user`, for clusters without trust authentication on loopback.
    #[arg(long, env = "LEDGER_BENCH_APP_PASSWORD", hide_env_values = true)]
    pub(crate) app_password: Option<String>,
    /// Concurrent clients (pgbench -c) and tasks; also the service pool's size.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub(crate) tasks: u32,
    /// Length of each leg.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) seconds: u64,
    /// Interleaved runs (raw, then each variant); the summary takes medians over runs.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) runs: u32,
    /// Service-side legs of each run, compared with that run's raw leg.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "service")]
    pub(crate) variants: Vec<Variant>,
    /// Also collect per-transaction latencies of pgbench (`--log`) for raw p50/p99.
    #[arg(long)]
    pub(crate) raw_latency: bool,
    /// pgbench binary (default: newest under /usr/lib/postgresql/*/bin, else PATH).
    #[arg(long)]
    pub(crate) pgbench: Option<PathBuf>,
    /// Leave the two databases in place afterwards.
    #[arg(long)]
    pub(crate) keep_databases: bool,
}

/// `scheme://user:password@host` → `scheme://user:***@host`.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{head}{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The same URL pointing at database `db` (query parameters kept).
pub(crate) fn with_database(url: &str, db: &str) -> anyhow::Result<String> {
    let scheme_end = url
        .find("://")
        .map(|i| i + 3)
        .context("the database URL must look like postgres://user@host:port/db")?;
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    Ok(format!("{head}{authority}/{db}{query}"))
}

/// What one leg measured.
#[derive(Debug, Clone)]
pub(crate) struct Leg {
    pub(crate) name: &'static str,
    pub(crate) ops: u64,
    pub(crate) ops_per_sec: f64,
    pub(crate) latency: Option<Latency>,
    /// Client CPU seconds (this process, or pgbench).
    pub(crate) client_cpu_secs: Option<f64>,
    /// Server CPU seconds (only when the server runs on this machine).
    pub(crate) server_cpu_secs: Option<f64>,
    pub(crate) machine_busy_pct: Option<f64>,
    pub(crate) load: Option<f64>,
}

impl Leg {
    /// CPU milliseconds per 1000 operations.
    pub(crate) fn per_1k(&self, secs: Option<f64>) -> Option<f64> {
        let ops = self.ops as f64;
        secs.filter(|_| ops > 0.0).map(|s| s * 1e6 / ops)
    }

    pub(crate) fn client_cpu_ms_per_1k(&self) -> Option<f64> {
        self.per_1k(self.client_cpu_secs)
    }

    pub(crate) fn server_cpu_ms_per_1k(&self) -> Option<f64> {
        self.per_1k(self.server_cpu_secs)
    }
}

/// The two databases of a benchmark (and how to reach them); created by [`create_databases`].
pub(crate) struct Setup {
    pub(crate) owner: PgConnectOptions,
    pub(crate) app: PgConnectOptions,
    raw_url: String,
    pub(crate) svc_db: String,
    pub(crate) raw_db: String,
    /// The server's postmaster, when it runs on this machine (for its CPU use).
    pub(crate) server: Option<Server>,
}

pub async fn run(args: AppendArgs) -> anyhow::Result<()> {
    let setup = setup(&args).await?;
    let result = bench(&args, &setup).await;
    finish(&args, &setup).await;
    result
}

/// Names the two databases (not yet created) and locates the server.
pub(crate) async fn setup(args: &AppendArgs) -> anyhow::Result<Setup> {
    let owner = PgConnectOptions::from_str(&args.database_url)
        .context("--database-url is not a Postgres URL")?
        .application_name("ledger-bench");
    let suffix: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(12)
        .collect();
    let svc_db = format!("vl_bench_svc_{suffix}");
    let raw_db = format!("vl_bench_raw_{suffix}");
    let mut app = owner
        .clone()
        .database(&svc_db)
        .username(&args.app_user)
        .application_name("ledger-bench");
    if let Some(p) = &args.app_password {
        app = app.password(p);
    }
    let mut setup = Setup {
        raw_url: with_database(&args.database_url, &raw_db)?,
        owner,
        app,
        svc_db,
        raw_db,
        server: None,
    };
    setup.server = locate_server(&setup).await;
    Ok(setup)
}

/// Drops the two databases unless `--keep-databases`.
pub(crate) async fn finish(args: &AppendArgs, setup: &Setup) {
    if args.keep_databases {
        println!("kept databases {} and {}", setup.svc_db, setup.raw_db);
    } else if let Err(e) = drop_databases(setup).await {
        eprintln!("warning: could not drop the benchmark databases: {e:#}");
    }
}

pub(crate) async fn admin(setup: &Setup, db: Option<&str>) -> anyhow::Result<PgConnection> {
    let opts = match db {
        Some(db) => setup.owner.clone().database(db),
        None => setup.owner.clone(),
    };
    PgConnection::connect_with(&opts)
        .await
        .context("connecting with --database-url (the owner role)")
}

/// The postmaster of the cluster, if it runs on this machine.
async fn locate_server(setup: &Setup) -> Option<Server> {
    let mut c = admin(setup, None).await.ok()?;
    let pid: i32 = sqlx::query(BACKEND_PID)
        .fetch_one(&mut c)
        .await
        .ok()?
        .try_get("pid")
        .ok()?;
    let server = Server::locate(pid);
    let _ = c.close().await;
    server
}

async fn drop_databases(setup: &Setup) -> anyhow::Result<()> {
    let mut c = admin(setup, None).await?;
    for db in [&setup.svc_db, &setup.raw_db] {
        // The names are generated above (hex only): the only identifiers spliced into SQL here.
        c.execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
        )))
        .await
        .with_context(|| format!("dropping {db}"))?;
    }
    c.close().await?;
    Ok(())
}

pub(crate) async fn create_databases(setup: &Setup, app_user: &str) -> anyhow::Result<()> {
    let mut c = admin(setup, None).await?;
    let role = sqlx::query(ROLE_EXISTS)
        .bind(app_user)
        .fetch_optional(&mut c)
        .await?;
    ensure!(
        role.is_some(),
        "role {app_user:?} does not exist on this cluster; deploy/pg-private creates ledger_app, \
         elsewhere create a login role that is a member of ledger_service (or pass --app-user)"
    );
    for db in [&setup.svc_db, &setup.raw_db] {
        // Generated names (hex only).
        c.execute(AssertSqlSafe(format!("CREATE DATABASE {db}")))
            .await
            .with_context(|| format!("creating database {db}"))?;
    }
    c.close().await?;

    let owner_svc = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(setup.owner.clone().database(&setup.svc_db))
        .await
        .context("connecting to the service database as the owner")?;
    schema::MIGRATOR
        .run(&owner_svc)
        .await
        .context("migrating the service database")?;
    owner_svc.close().await;

    let mut raw = admin(setup, Some(&setup.raw_db)).await?;
    raw.execute(pgbench::RAW_SCHEMA)
        .await
        .context("creating the raw events table")?;
    raw.close().await?;
    Ok(())
}

pub(crate) async fn print_header(
    args: &AppendArgs,
    setup: &Setup,
    pgbench_bin: &Path,
) -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args()
        .map(|a| if a.contains("://") { redact(&a) } else { a })
        .collect();
    // The subcommand (append, grpc-record-activity) as typed.
    println!(
        "ledger-bench {}",
        argv.get(1).map_or("append", String::as_str)
    );
    println!("command: {}", argv.join(" "));
    let mut c = admin(setup, None).await?;
    let s = sqlx::query(SERVER_SETTINGS).fetch_one(&mut c).await?;
    let get = |k: &str| s.try_get::<String, _>(k).unwrap_or_default();
    println!(
        "server: PostgreSQL {}; fsync={} synchronous_commit={} full_page_writes={} shared_buffers={} max_wal_size={}",
        get("version"),
        get("fsync"),
        get("synchronous_commit"),
        get("full_page_writes"),
        get("shared_buffers"),
        get("max_wal_size")
    );
    c.close().await?;
    println!(
        "client: {} ({}); {} CPUs; load average {}; server CPU {}",
        pgbench::version(pgbench_bin).await?,
        pgbench_bin.display(),
        sysstat::cpus(),
        sysstat::load_average().map_or("?".into(), |l| format!("{l:.2}")),
        if setup.server.is_some() {
            "measured (same machine)"
        } else {
            "not measured (server not on this machine)"
        }
    );
    println!(
        "workload: {} clients x {} s x {} runs; 1 event per command, {} B payload, {} B metadata; \
         a new stream every {EVENTS_PER_STREAM} events",
        args.tasks,
        args.seconds,
        args.runs,
        PAYLOAD.len(),
        METADATA.len()
    );
    println!(
        "databases: {} (schema::MIGRATOR, store as {}), {} (measurements.md table, created empty: \
         not prefilled)",
        setup.svc_db, args.app_user, setup.raw_db
    );
    Ok(())
}

/// `CHECKPOINT` before each leg, so that no leg pays for a checkpoint the previous one caused.
pub(crate) async fn checkpoint(setup: &Setup, warned: &mut bool) {
    let result = async {
        let mut c = admin(setup, None).await?;
        c.execute(CHECKPOINT).await?;
        c.close().await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result
        && !*warned
    {
        *warned = true;
        eprintln!("warning: CHECKPOINT before each leg failed (continuing without): {e:#}");
    }
}

async fn bench(args: &AppendArgs, setup: &Setup) -> anyhow::Result<()> {
    let pgbench_bin = args.pgbench.clone().unwrap_or_else(pgbench::find);
    create_databases(setup, &args.app_user).await?;
    print_header(args, setup, &pgbench_bin).await?;

    let dir = std::env::temp_dir().join(format!("ledger-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = bench_runs(args, setup, &pgbench_bin, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn bench_runs(
    args: &AppendArgs,
    setup: &Setup,
    pgbench_bin: &Path,
    dir: &Path,
) -> anyhow::Result<()> {
    let raw_leg = RawLeg::prepare(args, setup, pgbench_bin, dir)?;
    let mut warned = false;
    let mut runs: Vec<(Leg, Vec<Leg>)> = Vec::new();
    for i in 1..=args.runs {
        checkpoint(setup, &mut warned).await;
        let raw = raw_leg.run(i).await?;
        let mut legs = Vec::new();
        for &variant in &args.variants {
            checkpoint(setup, &mut warned).await;
            let leg = service_leg(args, setup, variant)
                .await
                .with_context(|| format!("run {i}: {} leg", variant.name()))?;
            legs.push(leg);
        }
        print_run(i, args.runs, &raw, &legs);
        runs.push((raw, legs));
    }
    print_summary(args, setup, &runs).await
}

/// The raw leg of each run: pgbench with `single.sql` against the raw database.
pub(crate) struct RawLeg<'a> {
    args: &'a AppendArgs,
    setup: &'a Setup,
    pgbench_bin: &'a Path,
    script: PathBuf,
    log_dir: PathBuf,
    run_base: u64,
}

impl<'a> RawLeg<'a> {
    /// Writes the script and its inputs into `dir` (which must exist).
    pub(crate) fn prepare(
        args: &'a AppendArgs,
        setup: &'a Setup,
        pgbench_bin: &'a Path,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        let script = dir.join("single.sql");
        std::fs::write(&script, pgbench::SINGLE_SQL)?;
        std::fs::write(dir.join("payload.json"), PAYLOAD)?;
        std::fs::write(dir.join("meta.json"), METADATA)?;
        let log_dir = dir.join("log");
        std::fs::create_dir_all(&log_dir)?;
        Ok(Self {
            args,
            setup,
            pgbench_bin,
            script,
            log_dir,
            run_base: u64::from(uuid::Uuid::new_v4().as_u128() as u16) * 1000,
        })
    }

    /// The raw leg of run `i` (the caller checkpoints first).
    pub(crate) async fn run(&self, i: u32) -> anyhow::Result<Leg> {
        let (args, setup) = (self.args, self.setup);
        let before = Snapshot::take(setup.server);
        let outcome = pgbench::Run {
            pgbench: self.pgbench_bin,
            script: &self.script,
            url: &setup.raw_url,
            clients: args.tasks as usize,
            seconds: args.seconds,
            run_tag: self.run_base + u64::from(i),
            payload: PAYLOAD,
            meta: METADATA,
            log_dir: args.raw_latency.then_some(self.log_dir.as_path()),
        }
        .execute()
        .await
        .with_context(|| format!("run {i}: raw pgbench leg"))?;
        let used = before.until_now(setup.server).await;
        if i == 1 {
            println!("raw leg: {}", outcome.command_line);
        }
        Ok(Leg {
            name: "raw pgbench",
            ops: outcome.transactions,
            ops_per_sec: outcome.tps,
            latency: outcome
                .latencies_us
                .and_then(|mut v| stats::latency(&mut v)),
            client_cpu_secs: used.cpu.map(|c| c.children_secs),
            server_cpu_secs: used.server_secs,
            machine_busy_pct: used.cpu.map(|c| c.machine_busy_pct),
            load: used.load,
        })
    }
}

/// CPU counters at the start of a leg.
pub(crate) struct Snapshot {
    cpu: Option<CpuSnapshot>,
    server_ticks: Option<u64>,
}

pub(crate) struct Used {
    pub(crate) cpu: Option<CpuUse>,
    pub(crate) server_secs: Option<f64>,
    pub(crate) load: Option<f64>,
}

/// Time for the backends of a finished leg to exit and be reaped before the server's CPU is read.
const SETTLE: Duration = Duration::from_millis(300);

impl Snapshot {
    pub(crate) fn take(server: Option<Server>) -> Self {
        Self {
            cpu: CpuSnapshot::now(),
            server_ticks: server.and_then(|s| s.ticks()),
        }
    }

    /// Call after the leg closed its connections.
    pub(crate) async fn until_now(&self, server: Option<Server>) -> Used {
        tokio::time::sleep(SETTLE).await;
        let later = CpuSnapshot::now();
        let server_ticks = server.and_then(|s| s.ticks());
        Used {
            cpu: self.cpu.zip(later).map(|(a, b)| a.until(&b)),
            server_secs: self
                .server_ticks
                .zip(server_ticks)
                .map(|(a, b)| sysstat::ticks_to_secs(b.saturating_sub(a))),
            load: sysstat::load_average(),
        }
    }
}

/// The per-task workload shared by all service-side variants.
struct Workload {
    variant: Variant,
    store: EventStore,
    deadline: Instant,
}

/// One client's current stream.
struct StreamState {
    id: String,
    version: u64,
    head_hash: [u8; 32],
}

impl StreamState {
    fn fresh() -> Self {
        Self {
            id: format!("order-{}", uuid::Uuid::new_v4()),
            version: 0,
            head_hash: GENESIS,
        }
    }
}

fn now_micros() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(crate) fn micros_since(t0: Instant) -> u32 {
    u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX)
}

pub(crate) async fn service_leg(
    args: &AppendArgs,
    setup: &Setup,
    variant: Variant,
) -> anyhow::Result<Leg> {
    let pool = PgPoolOptions::new()
        .max_connections(args.tasks)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(variant.pings())
        .connect_lazy_with(setup.app.clone());
    // Open every connection before the clock starts.
    let mut held = Vec::new();
    for _ in 0..args.tasks {
        held.push(
            pool.acquire()
                .await
                .with_context(|| format!("connecting as {}", setup.app.get_username()))?,
        );
    }
    drop(held);
    let store = EventStore::new(pool.clone(), StoreConfig::default());

    let before = Snapshot::take(setup.server);
    let start = Instant::now();
    let work = Arc::new(Workload {
        variant,
        store,
        deadline: start + Duration::from_secs(args.seconds),
    });
    let mut tasks = JoinSet::new();
    for task in 0..args.tasks {
        let work = Arc::clone(&work);
        tasks.spawn(async move { client(&work, task).await });
    }
    let mut latencies: Vec<u32> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        // The first failure returns; dropping the JoinSet aborts the other clients.
        let mut l = joined.context("a client task panicked")??;
        latencies.append(&mut l);
    }
    let elapsed = start.elapsed();
    pool.close().await;
    let used = before.until_now(setup.server).await;

    let ops = latencies.len() as u64;
    let ops_per_sec = ops as f64 / elapsed.as_secs_f64();
    Ok(Leg {
        name: variant.name(),
        ops,
        ops_per_sec,
        latency: stats::latency(&mut latencies),
        client_cpu_secs: used.cpu.map(|c| c.own_secs),
        server_cpu_secs: used.server_secs,
        machine_busy_pct: used.cpu.map(|c| c.machine_busy_pct),
        load: used.load,
    })
}

/// One client: appends single events until the deadline; returns each command's latency in µs.
async fn client(work: &Workload, task: u32) -> anyhow::Result<Vec<u32>> {
    let principal = format!("bench-client-{task}");
    let mut latencies = Vec::with_capacity(16 * 1024);
    let mut stream = StreamState::fresh();
    while Instant::now() < work.deadline {
        if stream.version == EVENTS_PER_STREAM {
            stream = StreamState::fresh();
        }
        let t0 = Instant::now();
        append_one(work, &principal, &mut stream)
            .await
            .with_context(|| {
                format!(
                    "client {task}: appending version {} to {}",
                    stream.version + 1,
                    stream.id
                )
            })?;
        latencies.push(micros_since(t0));
    }
    Ok(latencies)
}

async fn append_one(
    work: &Workload,
    principal: &str,
    stream: &mut StreamState,
) -> anyhow::Result<()> {
    let key = uuid::Uuid::new_v4().to_string();
    // The request fingerprint: a hash of the command body (the service keys it; plain SHA-256 here).
    let fingerprint: [u8; 32] = Sha256::digest(PAYLOAD.as_bytes()).into();
    let next = stream.version + 1;
    match work.variant {
        Variant::Service => {
            let req = AppendRequest {
                stream_id: stream.id.clone(),
                expected: if stream.version == 0 {
                    ExpectedVersion::NoStream
                } else {
                    ExpectedVersion::Exact(stream.version)
                },
                events: vec![NewEvent {
                    event_type: EVENT_TYPE.to_owned(),
                    schema_version: 1,
                    payload: PAYLOAD.to_owned(),
                    metadata: METADATA.to_owned(),
                    occurred_at: Utc::now(),
                }],
                command: CommandIdentity {
                    principal: principal.to_owned(),
                    idempotency_key: key,
                    fingerprint,
                },
                claims: Vec::new(),
            };
            let out = work.store.append(&req).await?;
            ensure!(
                !out.replayed && out.result.last_version == next,
                "unexpected outcome {out:?}"
            );
        }
        Variant::NoIdempotency => {
            let recorded_at = now_micros();
            let occurred_at = now_micros();
            let digest = canonical(stream, next, occurred_at, recorded_at).digest();
            let rows = sqlx::query(APPEND_ONE_NO_IDEMPOTENCY)
                .bind(&stream.id)
                .bind(i64::try_from(stream.version)?)
                .bind(EVENT_TYPE)
                .bind(1_i32)
                .bind(PAYLOAD)
                .bind(METADATA)
                .bind(occurred_at)
                .bind(digest.as_slice())
                .bind(recorded_at)
                .fetch_all(work.store.pool())
                .await?;
            check_row(&rows, next)?;
        }
        Variant::PlainInsert => {
            let recorded_at = now_micros();
            let occurred_at = now_micros();
            let digest = canonical(stream, next, occurred_at, recorded_at).digest();
            let hash = eventstore::hash::chain(&stream.head_hash, &digest);
            let rows = sqlx::query(PLAIN_INSERT)
                .bind(&stream.id)
                .bind(i64::try_from(next)?)
                .bind(EVENT_TYPE)
                .bind(1_i32)
                .bind(PAYLOAD)
                .bind(METADATA)
                .bind(occurred_at)
                .bind(recorded_at)
                .bind(stream.head_hash.as_slice())
                .bind(hash.as_slice())
                .fetch_all(work.store.pool())
                .await?;
            check_row(&rows, next)?;
            stream.head_hash = hash;
        }
    }
    stream.version = next;
    Ok(())
}

fn canonical(
    stream: &StreamState,
    version: u64,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
) -> CanonicalEvent<'_> {
    CanonicalEvent {
        stream_id: &stream.id,
        stream_version: version,
        event_type: EVENT_TYPE,
        schema_version: 1,
        occurred_at_micros: occurred_at.timestamp_micros(),
        recorded_at_micros: recorded_at.timestamp_micros(),
        metadata: METADATA,
        payload: PAYLOAD,
    }
}

fn check_row(rows: &[sqlx::postgres::PgRow], version: u64) -> anyhow::Result<()> {
    let [row] = rows else {
        bail!("expected one appended row, got {}", rows.len());
    };
    let got: i64 = row.try_get("stream_version")?;
    ensure!(
        u64::try_from(got).ok() == Some(version),
        "appended version {got}, expected {version}"
    );
    Ok(())
}

pub(crate) fn fmt_opt(v: Option<f64>, precision: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |x| format!("{x:.precision$}"))
}

fn print_run(i: u32, runs: u32, raw: &Leg, legs: &[Leg]) {
    println!();
    println!("run {i}/{runs}");
    println!(
        "  {:<16} {:>9} {:>9} {:>6} {:>8} {:>8} {:>8} {:>13} {:>13} {:>7} {:>6}",
        "leg",
        "ops",
        "ops/s",
        "x raw",
        "p50 ms",
        "p99 ms",
        "max ms",
        "client ms/1k",
        "server ms/1k",
        "busy %",
        "load"
    );
    for leg in std::iter::once(raw).chain(legs) {
        println!(
            "  {:<16} {:>9} {:>9.0} {:>6.2} {:>8} {:>8} {:>8} {:>13} {:>13} {:>7} {:>6}",
            leg.name,
            leg.ops,
            leg.ops_per_sec,
            leg.ops_per_sec / raw.ops_per_sec,
            fmt_opt(leg.latency.map(|l| l.p50_ms), 2),
            fmt_opt(leg.latency.map(|l| l.p99_ms), 2),
            fmt_opt(leg.latency.map(|l| l.max_ms), 1),
            fmt_opt(leg.client_cpu_ms_per_1k(), 0),
            fmt_opt(leg.server_cpu_ms_per_1k(), 0),
            fmt_opt(leg.machine_busy_pct, 0),
            fmt_opt(leg.load, 2),
        );
    }
}

async fn print_summary(
    args: &AppendArgs,
    setup: &Setup,
    runs: &[(Leg, Vec<Leg>)],
) -> anyhow::Result<()> {
    println!();
    println!(
        "summary: medians over {} runs ({} clients, {} s legs)",
        runs.len(),
        args.tasks,
        args.seconds
    );
    let raw_tps: Vec<f64> = runs.iter().map(|(r, _)| r.ops_per_sec).collect();
    let raw_p50: Vec<f64> = runs
        .iter()
        .filter_map(|(r, _)| r.latency.map(|l| l.p50_ms))
        .collect();
    let raw_p99: Vec<f64> = runs
        .iter()
        .filter_map(|(r, _)| r.latency.map(|l| l.p99_ms))
        .collect();
    println!(
        "  raw pgbench        tps {:>7}   p50 {} ms  p99 {} ms   (per run: {})",
        fmt_opt(stats::median(&raw_tps), 0),
        fmt_opt(stats::median(&raw_p50), 2),
        fmt_opt(stats::median(&raw_p99), 2),
        raw_tps
            .iter()
            .map(|t| format!("{t:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut markdown = Vec::new();
    for (k, variant) in args.variants.iter().enumerate() {
        let pairs: Vec<(f64, &Leg)> = runs
            .iter()
            .filter_map(|(raw, legs)| legs.get(k).map(|l| (raw.ops_per_sec, l)))
            .collect();
        let ratios: Vec<f64> = pairs.iter().map(|(raw, l)| l.ops_per_sec / raw).collect();
        let ops: Vec<f64> = pairs.iter().map(|(_, l)| l.ops_per_sec).collect();
        let p50: Vec<f64> = pairs
            .iter()
            .filter_map(|(_, l)| l.latency.map(|x| x.p50_ms))
            .collect();
        let p99: Vec<f64> = pairs
            .iter()
            .filter_map(|(_, l)| l.latency.map(|x| x.p99_ms))
            .collect();
        println!(
            "  {:<18} ops/s {:>7}   p50 {} ms  p99 {} ms   ratio to raw: median {} (per run: {})",
            variant.name(),
            fmt_opt(stats::median(&ops), 0),
            fmt_opt(stats::median(&p50), 2),
            fmt_opt(stats::median(&p99), 2),
            fmt_opt(stats::median(&ratios), 2),
            ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        markdown.push((variant.name(), stats::median(&ratios)));
    }

    println!();
    println!("markdown (per run):");
    println!(
        "| run | leg | ops/s | × raw | p50 ms | p99 ms | client CPU ms / 1k | server CPU ms / 1k | machine busy % | load |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (i, (raw, legs)) in runs.iter().enumerate() {
        for leg in std::iter::once(raw).chain(legs) {
            println!(
                "| {} | {} | {:.0} | {:.2} | {} | {} | {} | {} | {} | {} |",
                i + 1,
                leg.name,
                leg.ops_per_sec,
                leg.ops_per_sec / raw.ops_per_sec,
                fmt_opt(leg.latency.map(|l| l.p50_ms), 2),
                fmt_opt(leg.latency.map(|l| l.p99_ms), 2),
                fmt_opt(leg.client_cpu_ms_per_1k(), 0),
                fmt_opt(leg.server_cpu_ms_per_1k(), 0),
                fmt_opt(leg.machine_busy_pct, 0),
                fmt_opt(leg.load, 2),
            );
        }
    }

    // Sizes at the end: the service's rows are wider (hashes, text ids, json) and it writes a second table.
    for (label, db) in [("service", &setup.svc_db), ("raw", &setup.raw_db)] {
        let mut c = admin(setup, Some(db)).await?;
        let r = sqlx::query(TABLE_SIZES).fetch_one(&mut c).await?;
        let n: i64 = r.try_get("n")?;
        let size: String = r.try_get("size")?;
        println!("{label} events table: {n} rows, {size} with indexes");
        c.close().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            with_database("postgres://o@127.0.0.1:5/postgres?sslmode=disable", "x").ok(),
            Some("postgres://o@127.0.0.1:5/x?sslmode=disable".to_owned())
        );
        assert_eq!(
            with_database("postgresql://o:p@h", "x").ok(),
            Some("postgresql://o:p@h/x".to_owned())
        );
        assert_eq!(
            redact("postgres://o:secret@h:1/db?a=b"),
            "postgres://o:***@h:1/db?a=b"
        );
        assert_eq!(redact("postgres://o@h/db"), "postgres://o@h/db");
    }

    #[test]
    fn fixtures_have_the_intended_sizes() {
        assert!((280..=320).contains(&PAYLOAD.len()), "{}", PAYLOAD.len());
        assert!((90..=110).contains(&METADATA.len()), "{}", METADATA.len());
        for json in [PAYLOAD, METADATA] {
            assert!(serde_json::from_str::<serde_json::Value>(json).is_ok_and(|v| v.is_object()));
        }
    }
}

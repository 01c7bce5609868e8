//! `ledger-bench verify`: whole-log verification (`audit::verify`) against a plain scan of the same log
//! (`audit::scan`: the same read-only snapshot, the same streaming query and the same row decode, no
//! hashing and no checks), interleaved run by run on one province-scale log.
//!
//! Setup: one fresh database on the given cluster, migrated with [`schema::MIGRATOR`], filled by the
//! owner with `--events` events (default 1 000 000) over `--streams` streams (default 50 000; each event
//! goes to a stream drawn at random, so streams interleave in the global order) with correct per-stream
//! chains, in transactions of `--events-per-transaction` rows (`COPY … FROM STDIN`, one transaction
//! each). Payloads are 0.5–1 KiB of JSON shaped like the domain's events (ids, a county code, counts and
//! a sealed base64 field of random length), metadata ~200 B. Then the notary signs a checkpoint every
//! `--checkpoint-every` events (`notary::Notary::run_once`, as the service role), `VACUUM (ANALYZE)` sets
//! the hint bits and statistics, and one unmeasured scan warms the cache. The database is dropped at the
//! end unless `--keep-database`; `--reuse-database NAME` runs the legs on a kept one.
//!
//! Each run: `CHECKPOINT`, the scan leg, `CHECKPOINT`, the verify leg, on one connection of the service
//! role opened before the clock starts. Each leg reports events/s, client and server CPU per event, and
//! how busy the machine was; the summary is the median of the per-run ratios verify/scan.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Utc};
use eventstore::hash::{self, CanonicalEvent, GENESIS};
use eventstore::{EventStore, StoreConfig};
use notary::{Notary, NotaryConfig, NotaryKey};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Row};

use crate::append::redact;
use crate::stats;
use crate::sysstat::{self, CpuSnapshot, Server};

const ROLE_EXISTS: &str = "SELECT 1 FROM pg_roles WHERE rolname = $1";
const BACKEND_PID: &str = "SELECT pg_backend_pid() AS pid";
const CHECKPOINT: &str = "CHECKPOINT";
const VACUUM: &str = "VACUUM (ANALYZE) events";
const SERVER_SETTINGS: &str = "SELECT current_setting('server_version') AS version,
    current_setting('fsync') AS fsync, current_setting('shared_buffers') AS shared_buffers,
    current_setting('work_mem') AS work_mem";
const LOG_SIZE: &str = "SELECT count(*) AS n, count(DISTINCT stream_id) AS streams, \
    pg_size_pretty(pg_total_relation_size('events')) AS size, \
    avg(octet_length(payload::text))::bigint AS payload, avg(octet_length(metadata::text))::bigint AS metadata \
    FROM events";
const CHECKPOINTS: &str = "SELECT count(*) AS n FROM notary_checkpoints";
const PLAN: &str =
    "EXPLAIN (COSTS OFF) SELECT tx_id, position, stream_id, stream_version, event_type, \
schema_version, payload::text, metadata::text, occurred_at, recorded_at, prev_hash, hash
FROM events ORDER BY tx_id, position";
const COPY_EVENTS: &str = "COPY events (stream_id, stream_version, event_type, schema_version, payload, \
metadata, occurred_at, recorded_at, prev_hash, hash) FROM STDIN";

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Owner (superuser or CREATEDB) URL of the cluster to benchmark on; one database is created in it.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Login role the legs connect as (a member of `ledger_service`; deploy/pg-private creates it).
    #[arg(long, default_value = "ledger_app")]
    app_user: String,
    /// Password of `--app-user`, for clusters without trust authentication on loopback.
    #[arg(long, env = "LEDGER_BENCH_APP_PASSWORD", hide_env_values = true)]
    app_password: Option<String>,
    /// Events in the generated log.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// Streams they are spread over.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    streams: u64,
    /// Rows per generating transaction (one COPY each).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    events_per_transaction: u64,
    /// The notary signs a checkpoint every this many events (and one at the end).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every: u64,
    /// Interleaved runs (scan, then verify); the summary takes medians over runs.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// Seed of the generator.
    #[arg(long, default_value_t = 20_261_123)]
    seed: u64,
    /// Leave the database in place afterwards (its name is printed).
    #[arg(long)]
    keep_database: bool,
    /// Run the legs on a database kept by an earlier run (`--keep-database --public-key FILE`), checking
    /// its checkpoints against the public key written then.
    #[arg(long, requires = "public_key")]
    reuse_database: Option<String>,
    /// With `--keep-database`: where to write the notary's public key; with `--reuse-database`: where to
    /// read it.
    #[arg(long)]
    public_key: Option<std::path::PathBuf>,
}

/// splitmix64: a small deterministic generator (the data only has to look varied, not be random).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const COUNTIES: [&str; 6] = ["330602", "330603", "330604", "330624", "330681", "330683"];
const KINDS: [(&str, &str); 5] = [
    ("activity", "ActivityRecorded"),
    ("volunteer", "VolunteerRegistered"),
    ("team", "TeamAmended"),
    ("summary", "SummaryDrafted"),
    ("deployment", "DeploymentRecorded"),
];

struct Stream {
    id: String,
    kind: usize,
    version: u64,
    head: [u8; 32],
}

fn timestamp(micros: i64) -> anyhow::Result<String> {
    let t = DateTime::<Utc>::from_timestamp_micros(micros).context("timestamp out of range")?;
    Ok(t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string())
}

/// One event's payload and metadata: JSON text without tabs, newlines or backslashes (so it needs no
/// escaping in COPY's text format).
fn event_text(rng: &mut Rng, stream: &Stream) -> (String, String) {
    let county = COUNTIES[rng.below(COUNTIES.len() as u64) as usize];
    let sealed_len = 150 + rng.below(500) as usize;
    let sealed: String = (0..sealed_len)
        .map(|_| char::from(B64[rng.below(64) as usize]))
        .collect();
    let payload = format!(
        r#"{{"id":"{}","team_id":"{}","county":"{county}","date":"2024-{:02}-{:02}","kind":"health-talk","minutes":{},"reached":{},"participants":["{}","{}","{}"],"place":{{"sealed":"{sealed}","key":"v1","subject":"{}"}}}}"#,
        rng.uuid(),
        rng.uuid(),
        1 + rng.below(12),
        1 + rng.below(28),
        30 + rng.below(240),
        rng.below(500),
        rng.uuid(),
        rng.uuid(),
        rng.uuid(),
        stream.id
    );
    let metadata = format!(
        r#"{{"actor":"u-{}","role":"coordinator","region":"{county}","team":"{}","command":"{}","correlation_id":"{}","client":"ledger-bench"}}"#,
        rng.below(100_000),
        rng.uuid(),
        KINDS[stream.kind].1,
        rng.uuid()
    );
    (payload, metadata)
}

/// Fill the log: `events` events over `streams` streams, `per_tx` rows per COPY transaction.
async fn generate(conn: &mut PgConnection, args: &VerifyArgs) -> anyhow::Result<()> {
    let mut rng = Rng(args.seed);
    let mut streams: Vec<Stream> = (0..args.streams)
        .map(|_| {
            let kind = rng.below(KINDS.len() as u64) as usize;
            Stream {
                id: format!("{}-{}", KINDS[kind].0, rng.uuid()),
                kind,
                version: 0,
                head: GENESIS,
            }
        })
        .collect();
    // Business time a day before the receipt; receipt time advancing ~50 ms per event.
    let mut recorded = 1_711_270_000_000_000_i64;
    let started = Instant::now();
    let mut written = 0u64;
    let mut buf = String::with_capacity(1 << 21);
    while written < args.events {
        buf.clear();
        let n = args.events_per_transaction.min(args.events - written);
        for _ in 0..n {
            let s = rng.below(args.streams) as usize;
            let stream = streams.get_mut(s).context("stream index out of range")?;
            stream.version += 1;
            recorded += 40_000 + i64::try_from(rng.below(20_000))?;
            let occurred = recorded - 86_400_000_000;
            let (payload, metadata) = event_text(&mut rng, stream);
            let event_type = KINDS[stream.kind].1;
            let digest = CanonicalEvent {
                stream_id: &stream.id,
                stream_version: stream.version,
                event_type,
                schema_version: 1,
                occurred_at_micros: occurred,
                recorded_at_micros: recorded,
                metadata: &metadata,
                payload: &payload,
            }
            .digest();
            let hash = hash::chain(&stream.head, &digest);
            // COPY text format: tab-separated; `\\x` is a literal `\x` (bytea hex input).
            buf.push_str(&format!(
                "{}\t{}\t{event_type}\t1\t{payload}\t{metadata}\t{}\t{}\t\\\\x{}\t\\\\x{}\n",
                stream.id,
                stream.version,
                timestamp(occurred)?,
                timestamp(recorded)?,
                hex::encode(stream.head),
                hex::encode(hash)
            ));
            stream.head = hash;
        }
        let mut copy = conn
            .copy_in_raw(COPY_EVENTS)
            .await
            .context("starting COPY")?;
        copy.send(buf.as_bytes()).await.context("sending rows")?;
        copy.finish().await.context("finishing COPY")?;
        written += n;
        if written % 100_000 < n || written == args.events {
            eprintln!(
                "generated {written} events ({:.0} events/s)",
                written as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// What one leg measured.
struct Leg {
    name: &'static str,
    events: u64,
    secs: f64,
    client_cpu_secs: Option<f64>,
    server_cpu_secs: Option<f64>,
    machine_busy_pct: Option<f64>,
}

impl Leg {
    fn per_sec(&self) -> f64 {
        self.events as f64 / self.secs
    }

    fn us_per_event(&self, secs: Option<f64>) -> String {
        secs.filter(|_| self.events > 0)
            .map_or("-".to_owned(), |s| {
                format!("{:.2}", s * 1e6 / self.events as f64)
            })
    }
}

async fn measure<F, Fut>(name: &'static str, server: Option<Server>, leg: F) -> anyhow::Result<Leg>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<u64>>,
{
    let cpu = CpuSnapshot::now();
    let server_before = server.and_then(|s| s.ticks());
    let start = Instant::now();
    let events = leg().await?;
    let secs = start.elapsed().as_secs_f64();
    let cpu_after = CpuSnapshot::now();
    let server_after = server.and_then(|s| s.ticks());
    let used = cpu.zip(cpu_after).map(|(a, b)| a.until(&b));
    Ok(Leg {
        name,
        events,
        secs,
        client_cpu_secs: used.map(|u| u.own_secs),
        server_cpu_secs: server_before
            .zip(server_after)
            .map(|(a, b)| sysstat::ticks_to_secs(b.saturating_sub(a))),
        machine_busy_pct: used.map(|u| u.machine_busy_pct),
    })
}

async fn admin(owner: &PgConnectOptions, db: Option<&str>) -> anyhow::Result<PgConnection> {
    let opts = match db {
        Some(db) => owner.clone().database(db),
        None => owner.clone(),
    };
    PgConnection::connect_with(&opts)
        .await
        .context("connecting with --database-url (the owner role)")
}

async fn checkpoint(owner: &PgConnectOptions) {
    let done = async {
        let mut c = admin(owner, None).await?;
        c.execute(CHECKPOINT).await?;
        c.close().await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = done {
        eprintln!("warning: CHECKPOINT before a leg failed: {e:#}");
    }
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let owner = PgConnectOptions::from_str(&args.database_url)
        .context("--database-url is not a Postgres URL")?
        .application_name("ledger-bench");
    let (db, created) = match &args.reuse_database {
        Some(name) => {
            ensure!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "--reuse-database takes a name ledger-bench generated"
            );
            (name.clone(), false)
        }
        None => {
            let suffix: String = uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .chars()
                .take(12)
                .collect();
            (format!("vl_bench_verify_{suffix}"), true)
        }
    };
    let result = bench(&args, &owner, &db, created).await;
    if created && !args.keep_database {
        let dropped = async {
            let mut c = admin(&owner, None).await?;
            // A generated name (hex only).
            c.execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
            )))
            .await?;
            c.close().await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = dropped {
            eprintln!("warning: could not drop {db}: {e:#}");
        }
    } else {
        println!("kept database {db}");
    }
    result
}

async fn bench(
    args: &VerifyArgs,
    owner: &PgConnectOptions,
    db: &str,
    create: bool,
) -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args()
        .map(|a| if a.contains("://") { redact(&a) } else { a })
        .collect();
    println!("ledger-bench verify");
    println!("command: {}", argv.join(" "));
    let mut c = admin(owner, None).await?;
    let s = sqlx::query(SERVER_SETTINGS).fetch_one(&mut c).await?;
    let get = |k: &str| s.try_get::<String, _>(k).unwrap_or_default();
    println!(
        "server: PostgreSQL {}; fsync={} shared_buffers={} work_mem={}",
        get("version"),
        get("fsync"),
        get("shared_buffers"),
        get("work_mem")
    );
    ensure!(
        sqlx::query(ROLE_EXISTS)
            .bind(&args.app_user)
            .fetch_optional(&mut c)
            .await?
            .is_some(),
        "role {:?} does not exist on this cluster; deploy/pg-private creates ledger_app",
        args.app_user
    );
    if create {
        c.execute(AssertSqlSafe(format!("CREATE DATABASE {db}")))
            .await
            .with_context(|| format!("creating database {db}"))?;
    }
    c.close().await?;

    let mut app = owner
        .clone()
        .database(db)
        .username(&args.app_user)
        .application_name("ledger-bench");
    if let Some(p) = &args.app_password {
        app = app.password(p);
    }
    let key = if create {
        let mut conn = admin(owner, Some(db)).await?;
        let migrate = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(owner.clone().database(db))
            .await?;
        schema::MIGRATOR
            .run(&migrate)
            .await
            .context("migrating the benchmark database")?;
        migrate.close().await;
        let t0 = Instant::now();
        generate(&mut conn, args).await?;
        println!(
            "generated {} events over {} streams in {:.0} s ({} per transaction)",
            args.events,
            args.streams,
            t0.elapsed().as_secs_f64(),
            args.events_per_transaction
        );
        let t0 = Instant::now();
        conn.execute(VACUUM).await.context("VACUUM (ANALYZE)")?;
        conn.close().await?;
        println!("vacuumed in {:.0} s", t0.elapsed().as_secs_f64());

        let key = Arc::new(NotaryKey::generate()?);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(app.clone())
            .await
            .with_context(|| format!("connecting as {}", args.app_user))?;
        let t0 = Instant::now();
        let newest = Notary::new(
            EventStore::new(pool.clone(), StoreConfig::default()),
            key.clone(),
            NotaryConfig {
                every_events: args.checkpoint_every,
                ..NotaryConfig::default()
            },
        )
        .run_once()
        .await
        .context("notarising the generated log")?;
        pool.close().await;
        let newest = newest.context("the notary signed nothing")?;
        println!(
            "notarised: {} checkpoints (every {} events) in {:.0} s",
            newest.sequence,
            args.checkpoint_every,
            t0.elapsed().as_secs_f64()
        );
        let public = key.public();
        if let Some(path) = &args.public_key {
            std::fs::write(path, public.to_pem()?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        public
    } else {
        let path = args
            .public_key
            .as_deref()
            .context("--reuse-database needs --public-key")?;
        notary::PublicKey::from_file(path)?
    };

    // One connection of the service role for every leg, opened before any clock starts.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(app)
        .await
        .with_context(|| format!("connecting as {}", args.app_user))?;
    let pid: i32 = sqlx::query(BACKEND_PID)
        .fetch_one(&pool)
        .await?
        .try_get("pid")?;
    let server = Server::locate(pid);
    let size = sqlx::query(LOG_SIZE).fetch_one(&pool).await?;
    let checkpoints: i64 = sqlx::query(CHECKPOINTS)
        .fetch_one(&pool)
        .await?
        .try_get("n")?;
    println!(
        "log: {} events in {} streams, {} (table and indexes), payload {} B and metadata {} B on average; {checkpoints} checkpoints",
        size.try_get::<i64, _>("n")?,
        size.try_get::<i64, _>("streams")?,
        size.try_get::<String, _>("size")?,
        size.try_get::<i64, _>("payload")?,
        size.try_get::<i64, _>("metadata")?,
    );
    let plan: Vec<String> = {
        let mut tx = pool.begin().await?;
        tx.execute("SET LOCAL enable_sort = off; SET LOCAL max_parallel_workers_per_gather = 0")
            .await?;
        let plan = sqlx::query_scalar(PLAN).fetch_all(&mut *tx).await?;
        tx.rollback().await?;
        plan
    };
    println!("plan of the event query: {}", plan.join(" / ").trim());
    println!(
        "machine: {} CPUs, load average {}; server CPU {}",
        sysstat::cpus(),
        sysstat::load_average().map_or("?".into(), |l| format!("{l:.2}")),
        if server.is_some() {
            "measured (same machine)"
        } else {
            "not measured (server not on this machine)"
        }
    );

    let t0 = Instant::now();
    let warm = audit::scan(&pool).await?;
    println!(
        "warm-up scan: {} events in {:.1} s (not measured)",
        warm.events,
        t0.elapsed().as_secs_f64()
    );

    println!();
    println!(
        "| run | leg | events | s | events/s | × scan | client CPU µs/event | server CPU µs/event | machine busy % |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    let mut scans = Vec::new();
    let mut verifies = Vec::new();
    for i in 1..=args.runs {
        checkpoint(owner).await;
        let scan = measure("scan", server, || async {
            Ok(audit::scan(&pool).await?.events)
        })
        .await
        .with_context(|| format!("run {i}: scan"))?;
        checkpoint(owner).await;
        let verify = measure("verify", server, || async {
            let report = audit::verify(
                &pool,
                &audit::VerifyOptions {
                    keys: &notary::Keyring::single(key.clone()),
                    anchor: None,
                    progress: None,
                },
            )
            .await?;
            if let Some(failure) = &report.failure {
                bail!("the generated log did not verify: {failure}");
            }
            Ok(report.events)
        })
        .await
        .with_context(|| format!("run {i}: verify"))?;
        ensure!(
            scan.events == verify.events,
            "run {i}: the scan read {} events, verify {}",
            scan.events,
            verify.events
        );
        let ratio = verify.per_sec() / scan.per_sec();
        for leg in [&scan, &verify] {
            println!(
                "| {i} | {} | {} | {:.2} | {:.0} | {:.2} | {} | {} | {} |",
                leg.name,
                leg.events,
                leg.secs,
                leg.per_sec(),
                leg.per_sec() / scan.per_sec(),
                leg.us_per_event(leg.client_cpu_secs),
                leg.us_per_event(leg.server_cpu_secs),
                leg.machine_busy_pct
                    .map_or("-".to_owned(), |b| format!("{b:.0}"))
            );
        }
        ratios.push(ratio);
        scans.push(scan.per_sec());
        verifies.push(verify.per_sec());
    }
    pool.close().await;
    println!();
    let list = ratios
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "median ratio verify/scan: {:.2} ({list}); medians: scan {:.0} events/s, verify {:.0} events/s",
        stats::median(&ratios).unwrap_or(f64::NAN),
        stats::median(&scans).unwrap_or(f64::NAN),
        stats::median(&verifies).unwrap_or(f64::NAN),
    );
    Ok(())
}

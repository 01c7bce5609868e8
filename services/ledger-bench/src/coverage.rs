//! `ledger-bench coverage`: the coverage query (`GET /api/v1/reports/coverage`) at `--connections`
//! concurrent REST clients against the real service, interleaved run by run with `GET /livez` on the
//! same listener, both driven by `wrk` (Debian's package).
//!
//! Setup: the generated campaign year of [`crate::rebuild`] (or a kept one, `--reuse-database`);
//! `ledger_api::start` in this process on ephemeral ports, on a tokio runtime of its own
//! (`--service-threads` workers named `ledger-svc`), serving as `--app-user`, production mode, HS256
//! tokens with a random secret, the projectors on; the benchmark waits (with a deadline) until the
//! coverage projector's checkpoint has reached the end of the log, so the queries read a caught-up
//! read model.
//!
//! Each run: `wrk` on `/livez`, then `wrk` on the coverage query of one county on 2024-12-31 with
//! `Authorization: Bearer <jwt>` of that county's CDC (a Lua script written to a temporary file sets
//! the header; the service verifies the token on every request). Both with `-t --wrk-threads -c
//! --connections -d --seconds --latency`. Reported: requests/s, p50/p99 from wrk's latency
//! distribution, the service's and Postgres's CPU per request. Any non-2xx answer fails the run. The
//! summary is the median of the per-run ratios coverage/livez and the median coverage p99.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use app::{Actor, Role};
use clap::Parser as _;
use domain::ids::RegionCode;
use eventstore::{EventStore, StoreConfig};
use sqlx::Row;
use sqlx::postgres::PgPoolOptions;

use crate::rebuild::{Db, GenArgs, describe, prepare};
use crate::stats;
use crate::sysstat::{self, CpuSnapshot, Server};

const SERVICE_THREADS: &str = "ledger-svc";
const ISSUER: &str = "volunteer-ledger";
const AUDIENCE: &str = "ledger-api";
const BACKEND_PID: &str = "SELECT pg_backend_pid() AS pid";
/// The county the clients query (the generator's first county of its first city).
const COUNTY: &str = "330101";
const DATE: &str = "2024-12-31";

#[derive(Debug, clap::Args)]
pub struct CoverageArgs {
    #[command(flatten)]
    db: GenArgs,
    /// Concurrent connections of wrk.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    connections: u32,
    /// wrk's threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    wrk_threads: u32,
    /// Seconds per wrk leg.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Interleaved runs (livez, then coverage).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// Connections in the service's pool.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(2..=1000))]
    db_pool_size: u32,
    /// Worker threads of the service's runtime (the production binary uses one per CPU).
    #[arg(long, default_value_t = sysstat::cpus().max(1) as u64, value_parser = clap::value_parser!(u64).range(1..=64))]
    service_threads: u64,
    /// The county to query (a county of the generated province, `33ccnn`).
    #[arg(long, default_value = COUNTY)]
    region: String,
    /// How long to wait for the projectors to catch up with the generated log.
    #[arg(long, default_value_t = 1800)]
    catch_up_seconds: u64,
}

fn random_hex32() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// `url` with the user (and password) replaced.
fn with_user(url: &str, user: &str, password: Option<&str>) -> anyhow::Result<String> {
    let scheme_end = url
        .find("://")
        .map(|i| i + 3)
        .context("the database URL must look like postgres://user@host:port/db")?;
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let userinfo = match password {
        Some(p) => format!("{user}:{p}"),
        None => user.to_owned(),
    };
    Ok(format!("{head}{userinfo}@{host}{tail}"))
}

/// `ledger_api` running in this process on a runtime of its own.
struct Service {
    runtime: Option<tokio::runtime::Runtime>,
    running: Option<ledger_api::Running>,
    http: std::net::SocketAddr,
    issuer: access::DevIssuer,
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Service {
    async fn start(args: &CoverageArgs, db: &Db) -> anyhow::Result<Self> {
        let owner_url = crate::append::with_database(&args.db.database_url, &db.name)?;
        let app_url = with_user(
            &owner_url,
            &args.db.app_user,
            args.db.app_password.as_deref(),
        )?;
        let secret = random_hex32();
        let pool = args.db_pool_size.to_string();
        let (master_key, hash_key) = (random_hex32(), random_hex32());
        let config = ledger_api::Config::try_parse_from([
            "ledger-api",
            "--database-url",
            &app_url,
            "--migration-database-url",
            &owner_url,
            "--master-key",
            &master_key,
            "--hash-key",
            &hash_key,
            "--jwt-hs256-secret",
            &secret,
            "--jwt-issuer",
            ISSUER,
            "--jwt-audience",
            AUDIENCE,
            "--db-pool-size",
            &pool,
            "--env",
            "production",
            "--projectors",
            "true",
        ])
        .context("configuring ledger-api")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::try_from(args.service_threads)?)
            .thread_name(SERVICE_THREADS)
            .enable_all()
            .build()
            .context("building the service's runtime")?;
        let running = runtime
            .spawn(async move {
                let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                anyhow::Ok(ledger_api::start(config, http, grpc).await?)
            })
            .await
            .context("the service's start task panicked")?
            .context("starting ledger-api")?;
        Ok(Self {
            runtime: Some(runtime),
            http: running.http_addr,
            running: Some(running),
            issuer: access::DevIssuer::with_secret(secret.into_bytes(), ISSUER, AUDIENCE),
        })
    }

    async fn stop(mut self) {
        if let (Some(running), Some(rt)) = (self.running.take(), self.runtime.as_ref()) {
            let stopped = rt.spawn(running.shutdown());
            if tokio::time::timeout(Duration::from_secs(30), stopped)
                .await
                .is_err()
            {
                eprintln!("warning: the service did not stop within 30 s; abandoning it");
            }
        }
    }
}

/// What wrk reported.
#[derive(Debug, Clone, Copy)]
struct Wrk {
    requests: u64,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// wrk's latency text (`812.00us`, `1.23ms`, `2.01s`) in milliseconds.
fn wrk_ms(s: &str) -> Option<f64> {
    let (num, unit) = if let Some(n) = s.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|v| v * unit)
}

fn parse_wrk(out: &str) -> anyhow::Result<Wrk> {
    if let Some(line) = out.lines().find(|l| l.contains("Non-2xx or 3xx responses")) {
        bail!("wrk: {}", line.trim());
    }
    if let Some(line) = out
        .lines()
        .find(|l| l.trim_start().starts_with("Socket errors"))
    {
        bail!("wrk: {}", line.trim());
    }
    let field = |prefix: &str| {
        out.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix).map(str::trim))
    };
    let per_sec: f64 = field("Requests/sec:")
        .context("wrk printed no Requests/sec")?
        .parse()?;
    let requests: u64 = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .context("wrk printed no request count")?
        .parse()?;
    let pct = |p: &str| {
        field(p)
            .and_then(wrk_ms)
            .with_context(|| format!("wrk printed no {p} latency (--latency)"))
    };
    Ok(Wrk {
        requests,
        per_sec,
        p50_ms: pct("50%")?,
        p99_ms: pct("99%")?,
    })
}

async fn wrk(args: &CoverageArgs, script: Option<&PathBuf>, url: &str) -> anyhow::Result<Wrk> {
    let mut cmd = tokio::process::Command::new("wrk");
    cmd.arg("-t")
        .arg(args.wrk_threads.to_string())
        .arg("-c")
        .arg(args.connections.to_string())
        .arg("-d")
        .arg(format!("{}s", args.seconds))
        .arg("--latency");
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(url).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = cmd
        .output()
        .await
        .context("running wrk (apt-get install -y wrk; deploy/bench installs it)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "wrk failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_wrk(&text)
}

/// One leg's row.
struct Leg {
    wrk: Wrk,
    service_secs: Option<f64>,
    server_secs: Option<f64>,
    client_secs: Option<f64>,
    busy_pct: Option<f64>,
}

async fn leg(
    args: &CoverageArgs,
    script: Option<&PathBuf>,
    url: &str,
    server: Option<Server>,
) -> anyhow::Result<Leg> {
    let cpu = CpuSnapshot::now();
    let svc = sysstat::own_threads_ticks(SERVICE_THREADS);
    let pg = server.and_then(|s| s.ticks());
    let w = wrk(args, script, url).await?;
    let used = cpu.zip(CpuSnapshot::now()).map(|(a, b)| a.until(&b));
    let svc_after = sysstat::own_threads_ticks(SERVICE_THREADS);
    Ok(Leg {
        wrk: w,
        service_secs: svc
            .zip(svc_after)
            .map(|(a, b)| sysstat::ticks_to_secs(b.saturating_sub(a))),
        server_secs: pg
            .zip(server.and_then(|s| s.ticks()))
            .map(|(a, b)| sysstat::ticks_to_secs(b.saturating_sub(a))),
        client_secs: used.map(|u| u.children_secs),
        busy_pct: used.map(|u| u.machine_busy_pct),
    })
}

fn per_req(secs: Option<f64>, n: u64) -> String {
    secs.filter(|_| n > 0)
        .map_or("-".to_owned(), |s| format!("{:.0}", s * 1e6 / n as f64))
}

pub async fn run(args: CoverageArgs) -> anyhow::Result<()> {
    let db = prepare(&args.db, "coverage").await?;
    let result = bench(&args, &db).await;
    db.finish().await;
    result
}

async fn bench(args: &CoverageArgs, db: &Db) -> anyhow::Result<()> {
    let region = RegionCode::parse("region", &args.region).map_err(|e| anyhow!("{e}"))?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .connect_with(db.app_here(&args.db))
        .await?;
    let total = describe(&pool).await?;
    let pid: i32 = sqlx::query(BACKEND_PID)
        .fetch_one(&pool)
        .await?
        .try_get("pid")?;
    let server = Server::locate(pid);
    let store = EventStore::new(pool.clone(), StoreConfig::default());
    let end = projections::replay::end_of_log(&store).await?;

    let service = Service::start(args, db).await?;
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(args.catch_up_seconds);
    loop {
        let mut behind = Vec::new();
        for m in projections::replay::READ_MODELS {
            let at = projections::runtime::checkpoint(&pool, m.model_id()).await?;
            if at < end {
                behind.push(m.model_id());
            }
        }
        if behind.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            service.stop().await;
            bail!(
                "projectors {} not caught up within {} s",
                behind.join(", "),
                args.catch_up_seconds
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "service: REST on {}; every projector at the end of the log ({total} events) after {:.1} s",
        service.http,
        t0.elapsed().as_secs_f64()
    );

    let actor = Actor {
        subject: format!("bench-county-cdc-{region}"),
        role: Role::CountyCdc,
        regions: vec![region],
        teams: vec![],
        grants: vec![],
    };
    let token = service
        .issuer
        .mint(&actor, chrono::Utc::now().timestamp(), 24 * 3600)
        .map_err(|e| anyhow!("minting a token: {e}"))?;
    let script = std::env::temp_dir().join(format!(
        "ledger-bench-coverage-{}.lua",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(
        &script,
        format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"),
    )?;
    let livez = format!("http://{}/livez", service.http);
    let coverage = format!(
        "http://{}/api/v1/reports/coverage?region={region}&date={DATE}",
        service.http
    );
    let result = legs(args, &script, &livez, &coverage, server).await;
    let _ = std::fs::remove_file(&script);
    service.stop().await;
    pool.close().await;
    result
}

async fn legs(
    args: &CoverageArgs,
    script: &PathBuf,
    livez: &str,
    coverage: &str,
    server: Option<Server>,
) -> anyhow::Result<()> {
    // One request by hand: the answer must be a coverage row (and shows what the query returns).
    let sample = tokio::process::Command::new("curl")
        .arg("-sS")
        .arg("-f")
        .arg("-H")
        .arg(format!(
            "Authorization: {}",
            std::fs::read_to_string(script)?
                .split('"')
                .nth(3)
                .context("script")?
        ))
        .arg(coverage)
        .output()
        .await;
    match sample {
        Ok(o) if o.status.success() => {
            println!(
                "sample answer: {}",
                String::from_utf8_lossy(&o.stdout).trim()
            )
        }
        Ok(o) => bail!(
            "the coverage query failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => eprintln!("warning: no curl for a sample answer: {e}"),
    }
    println!(
        "wrk -t {} -c {} -d {}s --latency [-s bearer.lua] URL; machine: {} CPUs, load average {}",
        args.wrk_threads,
        args.connections,
        args.seconds,
        sysstat::cpus(),
        sysstat::load_average().map_or("?".into(), |l| format!("{l:.2}")),
    );
    println!();
    println!(
        "| run | leg | requests/s | × livez | p50 ms | p99 ms | wrk CPU µs/req | service CPU µs/req | Postgres CPU µs/req | machine busy % |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    let mut p99s = Vec::new();
    let mut rates = (Vec::new(), Vec::new());
    for i in 1..=args.runs {
        let l = leg(args, None, livez, server).await?;
        let c = leg(args, Some(script), coverage, server).await?;
        for (name, x) in [("livez", &l), ("coverage", &c)] {
            println!(
                "| {i} | {name} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} |",
                x.wrk.per_sec,
                x.wrk.per_sec / l.wrk.per_sec,
                x.wrk.p50_ms,
                x.wrk.p99_ms,
                per_req(x.client_secs, x.wrk.requests),
                per_req(x.service_secs, x.wrk.requests),
                per_req(x.server_secs, x.wrk.requests),
                x.busy_pct.map_or("-".to_owned(), |b| format!("{b:.0}")),
            );
        }
        ratios.push(c.wrk.per_sec / l.wrk.per_sec);
        p99s.push(c.wrk.p99_ms);
        rates.0.push(l.wrk.per_sec);
        rates.1.push(c.wrk.per_sec);
    }
    let list = ratios
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!();
    println!(
        "median ratio coverage/livez: {:.2} ({list}); medians: livez {:.0} req/s, coverage {:.0} req/s, coverage p99 {:.2} ms",
        stats::median(&ratios).unwrap_or(f64::NAN),
        stats::median(&rates.0).unwrap_or(f64::NAN),
        stats::median(&rates.1).unwrap_or(f64::NAN),
        stats::median(&p99s).unwrap_or(f64::NAN),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_parsed() {
        let out = "Running 15s test @ http://127.0.0.1:1/livez
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.00us  1.00ms  20.00ms   90.00%
  Latency Distribution
     50%  700.00us
     75%    1.00ms
     90%    1.50ms
     99%    3.25ms
  600000 requests in 15.00s, 50.00MB read
Requests/sec:  40000.00
Transfer/sec:      3.33MB
";
        let w = parse_wrk(out).expect("parsed");
        assert_eq!(w.requests, 600_000);
        assert_eq!(w.per_sec, 40_000.0);
        assert!((w.p50_ms - 0.7).abs() < 1e-9, "{}", w.p50_ms);
        assert!((w.p99_ms - 3.25).abs() < 1e-9, "{}", w.p99_ms);
        assert!(parse_wrk(&format!("{out}  Non-2xx or 3xx responses: 5\n")).is_err());
        assert_eq!(wrk_ms("2.00s"), Some(2000.0));
    }
}

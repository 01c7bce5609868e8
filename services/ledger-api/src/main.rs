//! The `ledger-api` binary: parse the configuration, bind the listeners, serve until SIGTERM/Ctrl-C,
//! then drain. Everything else is in the library (`lib.rs`), which the end-to-end tests start the same way.
//!
//! `ledger-api rebuild <projector>|--all` (needs `MIGRATION_DATABASE_URL`, the owner role) rebuilds read
//! models into a shadow table set and swaps them in while serving replicas keep running.
//!
//! `ledger-api parked list|retry|release <projector> [--stream <id>] [--reason <text>]` (needs
//! `DATABASE_URL`; the service role may read and delete parked rows and record releases) lists a
//! projector's parked events, retries a parked stream once its cause is fixed (every parked stream without
//! `--stream`), or releases one with a recorded reason.
//!
//! Logs go to stdout as `LEDGER_LOG_FORMAT` says (`text` or `json`, for the subcommands too), filtered by
//! `RUST_LOG`; the tracing subscriber is installed before anything else runs (`init_telemetry`).

use std::str::FromStr;

use anyhow::Context;
use clap::Parser;
use projections::parked::{ParkedError, ParkedEvent, RetryReport};
use projections::rebuild::RebuildOptions;
use projections::replay::{READ_MODELS, ReadModel, read_model, rebuild_all};
use projections::{
    AuditHistoryProjector, ComplianceProjector, CoverageProjector, FrequencyProjector,
    JiangsuProjector, ServiceRecordProjector, SummaryBoardProjector,
};
use telemetry::LogFormat;

/// `ledger-api rebuild`: rebuild read models from the log with no downtime.
#[derive(Debug, clap::Parser)]
#[command(
    name = "ledger-api rebuild",
    bin_name = "ledger-api rebuild",
    about = "Rebuild read models from the log into a shadow table set and swap them in (no downtime)"
)]
struct RebuildArgs {
    /// Postgres URL of the owner role (the rebuild creates a schema and tables).
    #[arg(long, env = "MIGRATION_DATABASE_URL", hide_env_values = true)]
    migration_database_url: String,
    /// The projector to rebuild.
    #[arg(value_parser = PROJECTORS, required_unless_present = "all", conflicts_with = "all")]
    projector: Option<String>,
    /// Rebuild every projector (side by side, each into its own shadow, each swapped on its own).
    #[arg(long)]
    all: bool,
    /// Skip the digests of the read model before and after the swap (each a full scan).
    #[arg(long)]
    no_digests: bool,
}

/// `ledger-api parked`: list, retry or release a projector's parked events.
#[derive(Debug, clap::Parser)]
#[command(
    name = "ledger-api parked",
    bin_name = "ledger-api parked",
    about = "List, retry or release the events a projector parked (could not apply)"
)]
struct ParkedArgs {
    #[command(subcommand)]
    action: ParkedAction,
}

#[derive(Debug, clap::Subcommand)]
enum ParkedAction {
    /// List the parked events of a projector, by stream then version.
    List {
        #[command(flatten)]
        target: ParkedTarget,
        /// Only this stream.
        #[arg(long)]
        stream: Option<String>,
    },
    /// Apply parked streams again, now that the cause is fixed.
    ///
    /// In version order, in one transaction per stream behind the projector's checkpoint fence; stops at
    /// the first event that still fails (it and the rest of the stream stay parked, with the new error).
    /// Without `--stream`, every parked stream of the projector. Exits non-zero when something is still
    /// parked.
    Retry {
        #[command(flatten)]
        target: ParkedTarget,
        /// The stream to retry (default: every parked stream).
        #[arg(long)]
        stream: Option<String>,
    },
    /// Give up on a parked stream, recording why.
    ///
    /// Its parked events are deleted and recorded in `projection_released` with the reason. Later events
    /// of the stream are then applied as they come.
    Release {
        #[command(flatten)]
        target: ParkedTarget,
        /// The stream to release.
        #[arg(long)]
        stream: String,
        /// Why the parked events will never apply (required, recorded with them).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, clap::Args)]
struct ParkedTarget {
    /// Postgres URL of the service role (SELECT, INSERT, UPDATE, DELETE on projection_parked; SELECT,
    /// INSERT on projection_released; the read-model tables a retry writes).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The projector whose parked events to work on.
    #[arg(value_parser = PROJECTORS)]
    projector: String,
}

const PROJECTORS: [&str; 7] = [
    CoverageProjector::ID,
    ComplianceProjector::ID,
    FrequencyProjector::ID,
    SummaryBoardProjector::ID,
    AuditHistoryProjector::ID,
    ServiceRecordProjector::ID,
    JiangsuProjector::ID,
];

/// The log format of the operator subcommands, which do not parse the serving configuration.
fn log_format_from_env() -> anyhow::Result<LogFormat> {
    match std::env::var("LEDGER_LOG_FORMAT") {
        Ok(text) => text.parse().context("LEDGER_LOG_FORMAT"),
        Err(_) => Ok(LogFormat::default()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args_os().nth(1).is_some_and(|a| a == "rebuild") {
        // `rebuild` is parsed on its own: it needs the owner URL, none of the serving configuration.
        ledger_api::init_telemetry(Some(log_format_from_env()?))?;
        return run_rebuild(RebuildArgs::parse_from(std::env::args_os().skip(1))).await;
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == "parked") {
        // Likewise: an operator command on the database, without the serving configuration.
        ledger_api::init_telemetry(Some(log_format_from_env()?))?;
        return run_parked(ParkedArgs::parse_from(std::env::args_os().skip(1))).await;
    }
    let config = ledger_api::config_file::parse(std::env::args_os())?;
    ledger_api::init_telemetry(Some(config.log_format))?;
    let http = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding LEDGER_HTTP_ADDR {}", config.http_addr))?;
    if !config.api {
        // LEDGER_API=false: a projector process (what `ledger-projector` runs).
        return Ok(ledger_api::run_projector_until_signal(config, http).await?);
    }
    let grpc = tokio::net::TcpListener::bind(config.grpc_addr)
        .await
        .with_context(|| format!("binding LEDGER_GRPC_ADDR {}", config.grpc_addr))?;
    let running = ledger_api::start(config, http, grpc).await?;
    if !running.dev_tokens.is_empty() {
        // Development only (refused under LEDGER_ENV=production): a token per role, so a newcomer can
        // call everything at once. The signing key lives in this process and dies with it.
        eprintln!("\nDevelopment bearer tokens (valid 12 h; the key dies with this process):");
        for (role, token) in &running.dev_tokens {
            eprintln!("  {:<24} {token}", role.as_str());
        }
        eprintln!(
            "\nTry: curl -H \"Authorization: Bearer <city_cdc token>\" 'http://{}/api/v1/reports/coverage?region=330600&date=2024-12-31'",
            running.http_addr
        );
        eprintln!(
            "     OpenAPI: http://{0}/openapi.json  Swagger UI: http://{0}/swagger-ui/  gRPC (reflection on): {1}",
            running.http_addr,
            running
                .grpc_addr
                .map_or_else(|| "-".to_owned(), |a| a.to_string())
        );
        if running.notary.is_some() {
            eprintln!(
                "     Notary public key: http://{}/.well-known/vledger/notary-public-key.pem  (auditor token: /api/v1/audit/status)",
                running.http_addr
            );
        }
        eprintln!();
    }
    ledger_api::shutdown_signal().await;
    tracing::info!("shutting down: draining in-flight requests and projector batches");
    running.shutdown().await;
    Ok(())
}

async fn run_rebuild(args: RebuildArgs) -> anyhow::Result<()> {
    let options = sqlx::postgres::PgConnectOptions::from_str(&args.migration_database_url)
        .context("MIGRATION_DATABASE_URL")?
        .application_name("ledger-api-rebuild");
    let owner = sqlx::postgres::PgPoolOptions::new()
        .max_connections(u32::try_from(READ_MODELS.len()).unwrap_or(8) + 1)
        .connect_with(options)
        .await
        .context("connecting with MIGRATION_DATABASE_URL")?;
    let store = eventstore::EventStore::new(owner.clone(), eventstore::StoreConfig::default());
    let rebuild_options = RebuildOptions {
        digests: !args.no_digests,
        ..RebuildOptions::default()
    };
    let models: Vec<&'static dyn ReadModel> = match &args.projector {
        Some(p) if !args.all => {
            vec![read_model(p).ok_or_else(|| anyhow::anyhow!("unknown projector {p:?}"))?]
        }
        _ => READ_MODELS.to_vec(),
    };
    let mut failed = None;
    for (model, report) in models
        .iter()
        .zip(rebuild_all(&store, &models, &rebuild_options).await)
    {
        match report {
            Ok(report) => println!("{report}"),
            Err(error) => {
                eprintln!("rebuilding {}: {error}", model.model_id());
                failed.get_or_insert(model.model_id());
            }
        }
    }
    owner.close().await;
    match failed {
        Some(id) => Err(anyhow::anyhow!("rebuilding {id} failed (see above)")),
        None => Ok(()),
    }
}

async fn run_parked(args: ParkedArgs) -> anyhow::Result<()> {
    let target = match &args.action {
        ParkedAction::List { target, .. }
        | ParkedAction::Retry { target, .. }
        | ParkedAction::Release { target, .. } => target,
    };
    let options = sqlx::postgres::PgConnectOptions::from_str(&target.database_url)
        .context("DATABASE_URL")?
        .application_name("ledger-api-parked");
    // A retry holds its transaction on one connection and reads the log on another.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .context("connecting with DATABASE_URL")?;
    let store = eventstore::EventStore::new(pool.clone(), eventstore::StoreConfig::default());
    let id = target.projector.as_str();
    let result = match &args.action {
        ParkedAction::List { stream, .. } => parked_list(&pool, id, stream.as_deref()).await,
        ParkedAction::Retry { stream, .. } => parked_retry(&store, id, stream.as_deref()).await,
        ParkedAction::Release { stream, reason, .. } => {
            parked_release(&pool, id, stream, reason).await
        }
    };
    pool.close().await;
    result
}

async fn parked_events(
    pool: &sqlx::PgPool,
    id: &str,
    stream: Option<&str>,
) -> anyhow::Result<Vec<ParkedEvent>> {
    let mut events = projections::parked::list(pool, id)
        .await
        .with_context(|| format!("listing the parked events of {id}"))?;
    if let Some(stream) = stream {
        events.retain(|e| e.stream_id == stream);
    }
    Ok(events)
}

async fn parked_list(pool: &sqlx::PgPool, id: &str, stream: Option<&str>) -> anyhow::Result<()> {
    let events = parked_events(pool, id, stream).await?;
    let mut streams: Vec<&str> = events.iter().map(|e| e.stream_id.as_str()).collect();
    streams.dedup();
    println!(
        "{} event(s) parked for {id} on {} stream(s)",
        events.len(),
        streams.len()
    );
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<[String; 6]> = events
        .iter()
        .map(|e| {
            [
                e.stream_id.clone(),
                e.stream_version.to_string(),
                e.token.to_string(),
                e.event_type.clone(),
                e.parked_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                e.error.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            [
                "stream",
                "version",
                "token",
                "event type",
                "parked at",
                "error"
            ],
            &rows
        )
    );
    Ok(())
}

/// A plain-text table: every column but the last padded to its widest cell.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    out.push_str(&line(
        widths
            .map(|w| "-".repeat(w))
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

async fn parked_retry(
    store: &eventstore::EventStore,
    id: &str,
    stream: Option<&str>,
) -> anyhow::Result<()> {
    let streams: Vec<String> = match stream {
        Some(s) => vec![s.to_owned()],
        None => {
            let mut all: Vec<String> = parked_events(store.pool(), id, None)
                .await?
                .into_iter()
                .map(|e| e.stream_id)
                .collect();
            all.dedup();
            all
        }
    };
    if streams.is_empty() {
        println!("nothing parked for {id}");
        return Ok(());
    }
    let mut still = 0u64;
    let mut rows = Vec::new();
    for s in &streams {
        let report = match id {
            CoverageProjector::ID => projections::parked::retry(store, &CoverageProjector, s).await,
            ComplianceProjector::ID => {
                projections::parked::retry(store, &ComplianceProjector, s).await
            }
            FrequencyProjector::ID => {
                projections::parked::retry(store, &FrequencyProjector, s).await
            }
            SummaryBoardProjector::ID => {
                projections::parked::retry(store, &SummaryBoardProjector, s).await
            }
            AuditHistoryProjector::ID => {
                projections::parked::retry(store, &AuditHistoryProjector, s).await
            }
            ServiceRecordProjector::ID => {
                projections::parked::retry(store, &ServiceRecordProjector, s).await
            }
            JiangsuProjector::ID => projections::parked::retry(store, &JiangsuProjector, s).await,
            other => return Err(anyhow::anyhow!("unknown projector {other:?}")),
        }
        .with_context(|| format!("retrying {id} stream {s}"))?;
        still += report.still_parked;
        rows.push(retry_row(&report));
    }
    print!(
        "{}",
        table(
            ["stream", "applied", "still parked", "stopped at", "error"],
            &rows
        )
    );
    if still > 0 {
        anyhow::bail!("{still} event(s) of {id} are still parked");
    }
    Ok(())
}

fn retry_row(report: &RetryReport) -> [String; 5] {
    let (at, error) = match &report.failure {
        Some(f) => (
            format!("v{} {}", f.stream_version, f.event_type),
            if f.permanent {
                f.error.clone()
            } else {
                format!("(transient) {}", f.error)
            },
        ),
        None => (String::new(), String::new()),
    };
    let applied = if report.unhandled.is_empty() {
        report.applied.len().to_string()
    } else {
        format!(
            "{} (+{} no longer handled)",
            report.applied.len(),
            report.unhandled.len()
        )
    };
    [
        report.stream_id.clone(),
        applied,
        report.still_parked.to_string(),
        at,
        error,
    ]
}

async fn parked_release(
    pool: &sqlx::PgPool,
    id: &str,
    stream: &str,
    reason: &str,
) -> anyhow::Result<()> {
    // What is about to be released, for the operator's record (the release itself is atomic).
    let events = parked_events(pool, id, Some(stream)).await?;
    let released = match projections::parked::release(pool, id, stream, reason).await {
        Err(ParkedError::ReasonRequired) => {
            anyhow::bail!("--reason must not be empty: say why these events will never apply")
        }
        other => other.with_context(|| format!("releasing {id} stream {stream}"))?,
    };
    if released == 0 {
        anyhow::bail!("nothing parked for {id} on stream {stream}");
    }
    println!("released {released} event(s) of {id} on {stream}, recorded in projection_released:");
    let rows: Vec<[String; 4]> = events
        .iter()
        .map(|e| {
            [
                e.stream_version.to_string(),
                e.event_type.clone(),
                e.token.to_string(),
                e.error.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(["version", "event type", "token", "error"], &rows)
    );
    Ok(())
}

//! The `ledger-api` binary: parse the configuration, bind the listeners, serve until SIGTERM/Ctrl-C,
//! then drain. Everything else is in the library (`lib.rs`), which the end-to-end tests start the same way.
//!
//! `ledger-api rebuild <projector>|--all` (needs `MIGRATION_DATABASE_URL`, the owner role) rebuilds read
//! models into a shadow table set and swaps them in while serving replicas keep running.

use std::str::FromStr;

use anyhow::Context;
use clap::Parser;
use ledger_api::Config;
use projections::rebuild::{RebuildOptions, RebuildReport, rebuild};
use projections::{
    ComplianceProjector, CoverageProjector, FrequencyProjector, Projector, SummaryBoardProjector,
};

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
    /// Rebuild every projector, one after the other.
    #[arg(long)]
    all: bool,
    /// Skip the digests of the read model before and after the swap (each a full scan).
    #[arg(long)]
    no_digests: bool,
}

const PROJECTORS: [&str; 4] = [
    CoverageProjector::ID,
    ComplianceProjector::ID,
    FrequencyProjector::ID,
    SummaryBoardProjector::ID,
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    if std::env::args_os().nth(1).is_some_and(|a| a == "rebuild") {
        // `rebuild` is parsed on its own: it needs the owner URL, none of the serving configuration.
        return run_rebuild(RebuildArgs::parse_from(std::env::args_os().skip(1))).await;
    }
    let config = Config::parse();
    let http = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding LEDGER_HTTP_ADDR {}", config.http_addr))?;
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
            "     OpenAPI: http://{0}/openapi.json  Swagger UI: http://{0}/swagger-ui/  gRPC (reflection on): {1}\n",
            running.http_addr, running.grpc_addr
        );
    }
    shutdown_signal().await;
    tracing::info!("shutting down: draining in-flight requests and projector batches");
    running.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

async fn run_rebuild(args: RebuildArgs) -> anyhow::Result<()> {
    let options = sqlx::postgres::PgConnectOptions::from_str(&args.migration_database_url)
        .context("MIGRATION_DATABASE_URL")?
        .application_name("ledger-api-rebuild");
    let owner = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .context("connecting with MIGRATION_DATABASE_URL")?;
    let store = eventstore::EventStore::new(owner.clone(), eventstore::StoreConfig::default());
    let rebuild_options = RebuildOptions {
        digests: !args.no_digests,
        ..RebuildOptions::default()
    };
    let wanted: Vec<&str> = match &args.projector {
        Some(p) if !args.all => vec![p.as_str()],
        _ => PROJECTORS.to_vec(),
    };
    for id in wanted {
        let report = match id {
            CoverageProjector::ID => one(&store, &CoverageProjector, &rebuild_options).await,
            ComplianceProjector::ID => one(&store, &ComplianceProjector, &rebuild_options).await,
            FrequencyProjector::ID => one(&store, &FrequencyProjector, &rebuild_options).await,
            SummaryBoardProjector::ID => {
                one(&store, &SummaryBoardProjector, &rebuild_options).await
            }
            other => Err(anyhow::anyhow!("unknown projector {other:?}")),
        }?;
        println!("{report}");
    }
    owner.close().await;
    Ok(())
}

async fn one<P: Projector>(
    store: &eventstore::EventStore,
    projector: &P,
    options: &RebuildOptions,
) -> anyhow::Result<RebuildReport> {
    rebuild(store, projector, options)
        .await
        .with_context(|| format!("rebuilding {}", projector.id()))
}

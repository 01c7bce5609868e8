//! # ledger-api — the Volunteer Ledger service
//!
//! Thin adapters only: configuration, the HTTP listener, health, and background tasks. Business rules
//! live in the domain crate, storage in the event store. Today it serves `/livez` and `/readyz`; the
//! gRPC and REST front doors are added on the same state.
//!
//! Configuration (environment or flags): `DATABASE_URL` (the service role: INSERT/SELECT on the log),
//! optional `MIGRATION_DATABASE_URL` (the owner role; when given, migrations run at start),
//! `LEDGER_HTTP_ADDR` (default 127.0.0.1:8080), `LEDGER_IDEMPOTENCY_RETENTION_DAYS` (default 30).
//!
//! `LEDGER_MASTER_KEY` and `LEDGER_HASH_KEY` (the personal-data keys; both or neither), `LEDGER_CAMPAIGN_ID`,
//! `LEDGER_DEMO` (load the demo dataset at start).
//!
//! Background tasks: the event notifier (wakes other replicas' subscriptions) and the hourly purge of
//! idempotency keys older than the retention.

mod health;

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

#[derive(Debug, Parser)]
#[command(
    name = "ledger-api",
    about = "Volunteer Ledger: event-sourced records of volunteer campaigns"
)]
struct Config {
    /// Postgres URL of the service role (INSERT/SELECT on the log only).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Postgres URL of the owner role; when set, pending migrations run before serving.
    #[arg(long, env = "MIGRATION_DATABASE_URL", hide_env_values = true)]
    migration_database_url: Option<String>,
    /// Address of the HTTP listener (REST, health).
    #[arg(long, env = "LEDGER_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    http_addr: SocketAddr,
    /// Connections in the service's pool.
    #[arg(long, env = "LEDGER_DB_POOL_SIZE", default_value_t = 16)]
    db_pool_size: u32,
    /// Master key wrapping the per-person data keys (64 hex digits or base64 of 32 bytes). Keep it
    /// outside the database: without it no personal data can be read.
    #[arg(long, env = "LEDGER_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// Secret of the keyed hashes (person de-duplication, command fingerprints); distinct from the
    /// master key.
    #[arg(long, env = "LEDGER_HASH_KEY", hide_env_values = true)]
    hash_key: Option<String>,
    /// The campaign whose rules apply (default: the demo's 百千万 campaign).
    #[arg(long, env = "LEDGER_CAMPAIGN_ID")]
    campaign_id: Option<uuid::Uuid>,
    /// Load the demo dataset (Shaoxing 百千万) at start; idempotent.
    #[arg(long, env = "LEDGER_DEMO")]
    demo: bool,
    /// Days an idempotency key is remembered: a retry within this period returns the first result.
    #[arg(long, env = "LEDGER_IDEMPOTENCY_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    idempotency_retention_days: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let config = Config::parse();

    if let Some(url) = &config.migration_database_url {
        let options = PgConnectOptions::from_str(url)
            .context("MIGRATION_DATABASE_URL is not a Postgres URL")?;
        let owner = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .context("connecting with MIGRATION_DATABASE_URL")?;
        schema::MIGRATOR
            .run(&owner)
            .await
            .context("running migrations")?;
        owner.close().await;
        tracing::info!(
            migrations = schema::MIGRATOR.iter().count(),
            "schema is current"
        );
    }

    let options = PgConnectOptions::from_str(&config.database_url)
        .context("DATABASE_URL is not a Postgres URL")?
        .application_name("ledger-api");
    let pool = PgPoolOptions::new()
        .max_connections(config.db_pool_size)
        .acquire_timeout(Duration::from_secs(5))
        // No ping before each acquire: it is a second round trip per request (measured −10% appends).
        // A connection broken by a database restart fails its next query, which is answered 503.
        .test_before_acquire(false)
        .connect_lazy_with(options);
    let store = eventstore::EventStore::new(pool.clone(), eventstore::StoreConfig::default());
    let ledger = match (&config.master_key, &config.hash_key) {
        (Some(master), Some(hash)) => {
            let master = personal_data::MasterKey::from_config_text(1, master)
                .context("LEDGER_MASTER_KEY")?;
            let hasher =
                personal_data::KeyedHasher::from_config_text(hash).context("LEDGER_HASH_KEY")?;
            hasher
                .ensure_distinct_from(&master)
                .context("LEDGER_HASH_KEY must differ from LEDGER_MASTER_KEY")?;
            let vault = person_vault::PersonVault::new(pool.clone(), std::sync::Arc::new(master));
            let campaign =
                domain::ids::CampaignId(config.campaign_id.unwrap_or(app::demo::DEMO_CAMPAIGN.0));
            Some(app::Ledger::new(
                store.clone(),
                vault,
                hasher,
                std::sync::Arc::new(eventstore::SystemClock),
                app::LedgerConfig { campaign },
            ))
        }
        (None, None) => None,
        (None, Some(_)) => anyhow::bail!("LEDGER_HASH_KEY is set but LEDGER_MASTER_KEY is not"),
        (Some(_), None) => anyhow::bail!("LEDGER_MASTER_KEY is set but LEDGER_HASH_KEY is not"),
    };
    if config.demo {
        let ledger = ledger
            .as_ref()
            .context("--demo needs LEDGER_MASTER_KEY and LEDGER_HASH_KEY")?;
        let report = app::demo::load(ledger)
            .await
            .map_err(|e| anyhow::anyhow!("loading the demo dataset: {e}"))?;
        tracing::info!(
            written = report.written,
            already_there = report.replayed,
            "demo dataset loaded"
        );
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let notifier = {
        let store = store.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            // Wakes other replicas' subscriptions; restarted after a database outage.
            loop {
                let shutdown = async {
                    let _ = stop.wait_for(|s| *s).await;
                };
                match store.run_notifier(Duration::from_millis(5), shutdown).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "event notifier stopped; restarting in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        })
    };

    let retention = {
        let store = store.clone();
        let days = config.idempotency_retention_days;
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
                match store.purge_idempotency_keys(cutoff).await {
                    Ok(n) => {
                        tracing::info!(purged = n, retention_days = days, "idempotency keys purged")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "purging idempotency keys failed; retrying next hour")
                    }
                }
            }
        })
    };

    let app = health::router(pool);
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding LEDGER_HTTP_ADDR {}", config.http_addr))?;
    tracing::info!(addr = %listener.local_addr()?, "serving HTTP");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            shutdown_signal().await;
            tracing::info!("shutting down: draining in-flight requests");
        })
        .await
        .context("HTTP server")?;
    let _ = stop_tx.send(true);
    let _ = notifier.await;
    let _ = retention.await;
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

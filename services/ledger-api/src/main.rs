//! The `ledger-api` binary: parse the configuration, bind the listeners, serve until SIGTERM/Ctrl-C,
//! then drain. Everything else is in the library (`lib.rs`), which the end-to-end tests start the same way.

use anyhow::Context;
use clap::Parser;
use ledger_api::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
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

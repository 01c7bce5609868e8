//! `ledger-audit`: the auditor's command line. Everything is in the library (`ledger_audit`), so the
//! tests drive the same code.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = ledger_audit::Cli::parse();
    let mut out = std::io::stdout();
    match ledger_audit::run(cli, &mut out).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("ledger-audit: {error:#}");
            ExitCode::from(2)
        }
    }
}

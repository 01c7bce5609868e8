//! `ledger-audit notarize`: cover everything committed now with signed checkpoints and exit — what the
//! service's notary does continuously, for an operator who runs the notary out of band (or a test).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use eventstore::{EventStore, StoreConfig};
use notary::{Keyring, Notary, NotaryConfig, NotaryKey};
use sqlx::postgres::PgPoolOptions;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database (the service role suffices: it may insert checkpoints).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// The notary's private key (PKCS#8 PEM).
    #[arg(long, env = "LEDGER_NOTARY_KEY_FILE")]
    pub key: PathBuf,
    /// After a key rotation: the public keys that signed the chain before `--key`, oldest first (a file
    /// of one or more SPKI PEM keys). The notary then continues the chain they signed.
    #[arg(long, env = "LEDGER_NOTARY_RETIRED_KEYS_FILE")]
    pub retired_keys: Option<PathBuf>,
    /// A checkpoint every this many events.
    #[arg(long, default_value_t = 10_000)]
    pub every_events: u64,
}

pub async fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let key = Arc::new(NotaryKey::from_file(&args.key)?);
    let retired = match &args.retired_keys {
        Some(path) => Keyring::from_file(path)?.keys().cloned().collect(),
        None => Vec::new(),
    };
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&args.database_url)
        .await
        .context("connecting to --database-url")?;
    let store = EventStore::new(pool, StoreConfig::default());
    let notary = Notary::new(
        store,
        key,
        NotaryConfig {
            every_events: args.every_events,
            ..NotaryConfig::default()
        },
    )
    .with_retired_keys(retired);
    match notary.run_once().await? {
        Some(cp) => writeln!(
            out,
            "checkpoint {} covers {} events up to token {} (signed {} by key {})",
            cp.sequence,
            cp.event_count,
            cp.token,
            cp.signed_at.to_rfc3339(),
            cp.key_id
        )?,
        None => writeln!(out, "the log is empty; nothing to sign")?,
    }
    Ok(ExitCode::SUCCESS)
}

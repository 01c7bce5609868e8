//! `ledger-audit export`: a bundle of the events after checkpoint `--from` (0: the start of the log) up
//! to checkpoint `--to` (default: the newest), with the checkpoints and the public key, that
//! `ledger-audit verify --bundle` checks offline (`audit::bundle`). Reads one snapshot, writes nothing to
//! the database; payloads stay as stored (personal data is ciphertext in the log).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sqlx::postgres::PgPoolOptions;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database (the service role suffices).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// The notary's public key (SPKI PEM), copied into the bundle; the key that signed the last
    /// checkpoint must be among them. After a key rotation, every key that signed, oldest first: repeat
    /// the option, or give a file holding several keys.
    #[arg(long, required = true)]
    pub public_key: Vec<PathBuf>,
    /// The checkpoint the bundle starts after (0: the start of the log).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// The last checkpoint in the bundle (default: the newest).
    #[arg(long)]
    pub to: Option<u64>,
    /// The bundle directory (created; must be empty if it exists).
    #[arg(long)]
    pub out: PathBuf,
}

pub async fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let keys = notary::Keyring::from_files(&args.public_key)?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&args.database_url)
        .await
        .context("connecting to --database-url")?;
    let manifest = audit::bundle::export(&pool, args.from, args.to, &keys, &args.out).await;
    pool.close().await;
    let manifest = manifest?;
    writeln!(
        out,
        "bundle {}: {} events after checkpoint {} up to checkpoint {} (token {}), key {}",
        args.out.display(),
        manifest.event_count,
        manifest.from_sequence,
        manifest.to_sequence,
        manifest.to_token,
        manifest.key_id
    )?;
    Ok(ExitCode::SUCCESS)
}

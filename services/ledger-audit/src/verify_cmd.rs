//! `ledger-audit verify` and `ledger-audit anchor`.
//!
//! `verify` checks the database (`--database-url`, `--public-key`) or a bundle offline (`--bundle`), with
//! an optional trust anchor (`--anchor`, a checkpoint written by `anchor` and kept outside the database):
//! every stream chain, every checkpoint and the global digest (`audit::verify`). It prints a summary and
//! `OK` (exit 0) or `FAILED: <the first failure, named>` (exit 1). A progress bar goes to stderr when it
//! is a terminal. Nothing it prints carries event content.
//!
//! `anchor` writes the newest (or a given) checkpoint as JSON, to be kept where the database's owner
//! cannot reach it; it never overwrites a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use audit::{Progress, Report, VerifyOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use notary::{ExportedCheckpoint, Keyring};
use sqlx::postgres::PgPoolOptions;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database to verify (the service role suffices; nothing is written). Ignored with --bundle.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        required_unless_present = "bundle"
    )]
    pub database_url: Option<String>,
    /// Verify this bundle directory (written by `ledger-audit export`) instead of the database.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// The notary's public key (SPKI PEM): the auditor's own copy. After a key rotation, every key that
    /// signed, oldest first: repeat the option, or give a file holding several keys. With --bundle,
    /// defaults to the bundle's copies (with a warning).
    #[arg(long, required_unless_present = "bundle")]
    pub public_key: Vec<PathBuf>,
    /// A checkpoint exported earlier (`ledger-audit anchor`) and kept outside the database: it must
    /// still be there, identical.
    #[arg(long)]
    pub anchor: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct AnchorArgs {
    /// The database (the service role suffices).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// The checkpoint to write (default: the newest).
    #[arg(long)]
    pub sequence: Option<u64>,
    /// Where to write it (JSON). Must not exist yet.
    #[arg(long)]
    pub out: PathBuf,
}

fn read_anchor(path: &Path) -> anyhow::Result<ExportedCheckpoint> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the anchor {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "the anchor {} is not an exported checkpoint",
            path.display()
        )
    })
}

/// "key K", or "keys A, B (oldest first)" after a rotation.
fn describe_keys(keys: &Keyring) -> String {
    if keys.keys().count() == 1 {
        format!("key {}", keys.current().key_id())
    } else {
        format!("keys {} (oldest first)", keys.key_ids())
    }
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} verifying [{bar:40}] {human_pos}/{human_len} events ({per_sec}, {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

pub async fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let anchor = args.anchor.as_deref().map(read_anchor).transpose()?;
    let bar = progress_bar();
    let on_progress = |p: Progress| {
        bar.set_length(p.estimated_total.max(p.events));
        bar.set_position(p.events);
    };
    // Limits of what an OK can mean, stated in the report itself (not only on stderr).
    let mut caveats: Vec<&str> = Vec::new();
    if anchor.is_none() {
        caveats.push(
            "no --anchor: deleting the newest checkpoints together with the events they cover cannot \
             be detected; keep an exported checkpoint outside the database and pass it",
        );
    }
    let report: Report = match &args.bundle {
        Some(dir) => {
            let keys = if args.public_key.is_empty() {
                caveats.push(
                    "checked against the public keys the bundle carries: anyone can sign a bundle \
                     with a key of their own; pass your own copy of the notary's keys with --public-key",
                );
                audit::bundle::bundled_keys(dir)?
            } else {
                Keyring::from_files(&args.public_key)?
            };
            writeln!(
                out,
                "verifying bundle {} against {}",
                dir.display(),
                describe_keys(&keys)
            )?;
            let options = VerifyOptions {
                keys: &keys,
                anchor: anchor.as_ref(),
                progress: Some(&on_progress),
            };
            audit::bundle::verify(dir, &options)?
        }
        None => {
            let url = args
                .database_url
                .as_deref()
                .context("--database-url (or DATABASE_URL) is required without --bundle")?;
            anyhow::ensure!(
                !args.public_key.is_empty(),
                "--public-key is required without --bundle"
            );
            let keys = Keyring::from_files(&args.public_key)?;
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .context("connecting to --database-url")?;
            writeln!(
                out,
                "verifying the database against {}",
                describe_keys(&keys)
            )?;
            let options = VerifyOptions {
                keys: &keys,
                anchor: anchor.as_ref(),
                progress: Some(&on_progress),
            };
            let report = audit::verify(&pool, &options).await;
            pool.close().await;
            report?
        }
    };
    bar.finish_and_clear();
    for caveat in &caveats {
        writeln!(out, "caveat: {caveat}")?;
    }
    write!(out, "{report}")?;
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn anchor(args: AnchorArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&args.database_url)
        .await
        .context("connecting to --database-url")?;
    let checkpoint = match args.sequence {
        Some(n) => notary::store::by_sequence(&pool, n)
            .await?
            .with_context(|| format!("there is no checkpoint {n}"))?,
        None => notary::store::latest(&pool)
            .await?
            .context("there is no checkpoint yet")?,
    };
    pool.close().await;
    let json = serde_json::to_string_pretty(&checkpoint.export())?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.out)
        .with_context(|| format!("creating {} (it must not exist)", args.out.display()))?;
    file.write_all(json.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", args.out.display()))?;
    writeln!(
        out,
        "checkpoint {} (token {}, {} events, key {}) written to {}; keep it outside the database",
        checkpoint.sequence,
        checkpoint.token,
        checkpoint.event_count,
        checkpoint.key_id,
        args.out.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

//! # ledger-audit — the auditor's command line
//!
//! Policy: every subcommand reads the database (or a bundle) and never writes to the log; `notarize`
//! writes checkpoints only, like the service's notary. Exit codes: 0 everything held, 1 a check failed
//! (the output names the first event or checkpoint that did not hold), 2 the command could not run
//! (bad arguments, unreachable database, unreadable file). Output goes to the writer passed in (stdout
//! in the binary), so the tests read exactly what an auditor reads. No personal data is ever printed:
//! events are shown by stream, version and token.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod diff_cmd;
pub mod export_cmd;
pub mod keygen;
pub mod notarize;
pub mod replay_cmd;
pub mod verify_cmd;

/// The auditor's command line for Volunteer Ledger.
#[derive(Debug, Parser)]
#[command(name = "ledger-audit", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate the notary's Ed25519 key pair (PKCS#8 private key, SPKI public key; PEM files).
    Keygen(keygen::Args),
    /// Cover everything committed now with signed checkpoints (what the service's notary does
    /// continuously), then exit.
    Notarize(notarize::Args),
    /// Verify every stream chain, the global digest and every checkpoint, from raw rows or a bundle.
    Verify(verify_cmd::Args),
    /// Write the newest checkpoint (or a given one) as a JSON trust anchor to keep outside the database.
    Anchor(verify_cmd::AnchorArgs),
    /// Export a bundle (events as NDJSON, checkpoints, public key) that `verify --bundle` checks offline.
    Export(export_cmd::Args),
    /// Rebuild every read model into a scratch schema as the system stood at a token or a time.
    Replay(replay_cmd::Args),
    /// Compare the read models in a scratch schema with the live ones.
    Diff(diff_cmd::Args),
}

/// Run one command, writing its report to `out`.
pub async fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Keygen(args) => keygen::run(args, out),
        Command::Notarize(args) => notarize::run(args, out).await,
        Command::Verify(args) => verify_cmd::run(args, out).await,
        Command::Anchor(args) => verify_cmd::anchor(args, out).await,
        Command::Export(args) => export_cmd::run(args, out).await,
        Command::Replay(args) => replay_cmd::run(args, out).await,
        Command::Diff(args) => diff_cmd::run(args, out).await,
    }
}

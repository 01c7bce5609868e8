//! # ledger-bench — benchmarks as runnable programs, never bare numbers
//!
//! Every benchmark measures the service path and a raw baseline side by side, in the same run, on the
//! same cluster, interleaved, and reports the ratio: the disk of the machines we run on swings by 2–5×
//! from minute to minute (docs/BENCHMARKS.md, /work/shared/reference/measurements.md), so only ratios
//! measured together mean anything.
//!
//! `ledger-bench append` — single-event appends through [`eventstore::EventStore::append`] against
//! `pgbench` inserting one row per transaction into a plain event table (see [`append`]).
//!
//! `ledger-bench grpc-record-activity` — `RecordActivity` through the real service over gRPC, interleaved
//! with both of `append`'s legs: the raw pgbench insert and the bare append path (see [`grpc`]).
//!
//! `ledger-bench verify` — whole-log verification (`audit::verify`) on a generated province-scale log,
//! interleaved with a plain scan of the same log (see [`verify`]).
//!
//! `ledger-bench rebuild` — every read model rebuilt from empty on a generated province-scale campaign
//! year, interleaved with a plain scan of the same log (see [`rebuild`]).
//!
//! `ledger-bench coverage` — the coverage query at 32 concurrent REST clients (`wrk`) against the real
//! service on that year, interleaved with `/livez` (see [`coverage`]).
//!
//! Run it through `deploy/bench`, which starts a private cluster with fsync on when `DATABASE_URL` is
//! unset.

mod append;
mod coverage;
mod grpc;
mod pgbench;
mod rebuild;
mod stats;
mod sysstat;
mod verify;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ledger-bench",
    about = "Volunteer Ledger benchmarks, each measured against a raw baseline in the same run"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Single-event appends through the event store vs pgbench single-row INSERTs.
    Append(append::AppendArgs),
    /// RecordActivity over gRPC (the real service in-process) vs pgbench inserts and bare appends.
    GrpcRecordActivity(grpc::GrpcArgs),
    /// Whole-log verification vs a plain scan of the same generated log.
    Verify(verify::VerifyArgs),
    /// Every projector rebuilt from empty vs a plain scan of the same generated campaign year.
    Rebuild(rebuild::RebuildArgs),
    /// The coverage query at 32 REST clients (wrk) vs /livez, on the generated campaign year.
    Coverage(coverage::CoverageArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Append(args) => append::run(args).await.context("ledger-bench append"),
        Command::GrpcRecordActivity(args) => grpc::run(args)
            .await
            .context("ledger-bench grpc-record-activity"),
        Command::Verify(args) => verify::run(args).await.context("ledger-bench verify"),
        Command::Rebuild(args) => rebuild::run(args).await.context("ledger-bench rebuild"),
        Command::Coverage(args) => coverage::run(args).await.context("ledger-bench coverage"),
    }
}

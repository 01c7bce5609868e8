//! `ledger-audit diff`: compare the read models replayed into a scratch schema with the live ones —
//! per table rows and digest, then the first differing rows on each side (`projections::replay::diff`).
//!
//! Policy: read-only. Each read model is compared in one snapshot, and the output says which token each
//! side reflects (the scratch schema's replay checkpoint, the live projector's checkpoint): live may be
//! ahead of a replay of the past, and then differences are expected. Exit 0 when every compared read
//! model is equal, 1 when one differs, 2 when the comparison could not run. Only read-model rows are
//! printed (ids, codes, dates, counts — no personal data).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use projections::replay::{self, ScratchSchema};

use crate::replay_cmd::{owner_pool, parse_schema, projector_ids, selected};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Postgres URL of the owner role (it owns the scratch schema).
    #[arg(long, env = "MIGRATION_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// The scratch schema a `replay` created.
    #[arg(long, value_name = "SCHEMA", value_parser = parse_schema)]
    pub schema: ScratchSchema,
    /// Compare only this read model (repeatable; default: every one replayed into the schema).
    #[arg(long = "projector", value_name = "ID", value_parser = clap::builder::PossibleValuesParser::new(projector_ids()))]
    pub projectors: Vec<String>,
    /// Differing rows shown per table and side.
    #[arg(long, default_value_t = 10)]
    pub rows: u32,
}

pub async fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let pool = owner_pool(&args.database_url).await?;
    let ids = if args.projectors.is_empty() {
        let present = replay::replayed(&pool, &args.schema)
            .await
            .with_context(|| format!("--schema {}", args.schema))?;
        // The read models this build knows (a newer replay may hold more), in the replay's order.
        let known: Vec<String> = replay::READ_MODELS
            .iter()
            .map(|m| m.model_id().to_owned())
            .filter(|id| present.contains(id))
            .collect();
        anyhow::ensure!(
            !known.is_empty(),
            "--schema {}: it holds no replayed read model",
            args.schema
        );
        known
    } else {
        args.projectors.clone()
    };
    let models = selected(&ids)?;
    let mut differing = Vec::new();
    for model in models {
        let d = replay::diff(&pool, model, &args.schema, args.rows)
            .await
            .with_context(|| format!("--schema {}: comparing {}", args.schema, model.model_id()))?;
        write!(out, "{d}")?;
        if !d.equal() {
            differing.push(d.projector);
        }
    }
    pool.close().await;
    if differing.is_empty() {
        writeln!(out, "all compared read models are equal")?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(out, "differing read models: {}", differing.join(", "))?;
        Ok(ExitCode::from(1))
    }
}

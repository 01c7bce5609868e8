//! `ledger-audit replay`: rebuild every read model into a scratch schema as the system stood at a moment —
//! a token, a time (the notary's fence then: its newest checkpoint signed at or before it) or now — with
//! the production projector code (`projections::replay`).
//!
//! Policy: the moment and the schema name are checked before anything is created (a bad one is an error
//! naming `--as-of` / `--into`, exit 2); the scratch schema is created fresh (`--replace` drops an earlier
//! replay's schema, never any other) and stays for `ledger-audit diff`. Output per read model: events
//! applied, checkpoint, digest — ids and counts only, no personal data. A progress bar per read model
//! goes to stderr.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use eventstore::{EventStore, StoreConfig, Token};
use indicatif::{ProgressBar, ProgressStyle};
use projections::replay::{
    self, READ_MODELS, ReadModel, ReplayError, ReplayOptions, ReplayProgress, ScratchSchema,
};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// The moment a replay reconstructs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Up to and including this token of the global order (`tx_id.position`).
    Token(Token),
    /// The notary's fence at this time: the newest checkpoint signed at or before it.
    Time(DateTime<Utc>),
    /// The committed end of the log now.
    Now,
}

impl fmt::Display for AsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(t) => write!(f, "token {t}"),
            Self::Time(t) => write!(f, "{}", t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Self::Now => f.write_str("now"),
        }
    }
}

impl FromStr for AsOf {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "now" {
            return Ok(Self::Now);
        }
        if let Ok(token) = s.parse::<Token>() {
            return Ok(Self::Token(token));
        }
        if let Ok(time) = DateTime::parse_from_rfc3339(s) {
            return Ok(Self::Time(time.with_timezone(&Utc)));
        }
        Err(format!(
            "{:?} is neither a token (tx_id.position), an RFC 3339 timestamp (e.g. \
             2025-01-06T00:00:00+08:00) nor `now`",
            s.chars().take(64).collect::<String>()
        ))
    }
}

pub(crate) fn parse_schema(s: &str) -> Result<ScratchSchema, String> {
    s.parse().map_err(|e: replay::BadSchemaName| e.to_string())
}

/// The projector ids a replay or diff may name.
pub(crate) fn projector_ids() -> Vec<&'static str> {
    READ_MODELS.iter().map(|m| m.model_id()).collect()
}

/// The read models named (all when none is).
pub(crate) fn selected(ids: &[String]) -> anyhow::Result<Vec<&'static dyn ReadModel>> {
    if ids.is_empty() {
        return Ok(READ_MODELS.to_vec());
    }
    ids.iter()
        .map(|id| {
            replay::read_model(id).with_context(|| {
                format!(
                    "--projector {id:?}: not a read model (one of {})",
                    projector_ids().join(", ")
                )
            })
        })
        .collect()
}

/// An owner-role pool on `url`.
pub(crate) async fn owner_pool(url: &str) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await
        .context("connecting to --database-url")
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Postgres URL of the owner role (the replay creates a schema and tables).
    #[arg(long, env = "MIGRATION_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// The moment: a token `tx_id.position` (every event up to and including it), an RFC 3339 timestamp
    /// (the notary's fence at that time) or `now` (the committed end of the log).
    #[arg(long, value_name = "TOKEN|TIMESTAMP|now")]
    pub as_of: AsOf,
    /// The scratch schema to create (lower-case letters, digits, `_`; not `public`, `pg_*`, `shadow_*`).
    #[arg(long, value_name = "SCHEMA", value_parser = parse_schema)]
    pub into: ScratchSchema,
    /// Drop an earlier replay's scratch schema of that name first (never a schema a replay did not make).
    #[arg(long)]
    pub replace: bool,
    /// Replay only this read model (repeatable; default: all of them).
    #[arg(long = "projector", value_name = "ID", value_parser = clap::builder::PossibleValuesParser::new(projector_ids()))]
    pub projectors: Vec<String>,
    /// Events applied per transaction.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(i64).range(1..))]
    pub batch_size: i64,
}

/// The token `as_of` stands for, and how it was found (for the report).
async fn resolve(
    pool: &PgPool,
    store: &EventStore,
    as_of: AsOf,
) -> anyhow::Result<(Token, String)> {
    let (token, how) = match as_of {
        AsOf::Token(t) => (t, format!("token {t}")),
        AsOf::Now => {
            let end = replay::end_of_log(store)
                .await
                .context("--as-of now: reading the end of the log")?;
            (
                end,
                format!("now: the committed end of the log, token {end}"),
            )
        }
        AsOf::Time(t) => {
            let Some(cp) = notary::store::at_or_before(pool, t)
                .await
                .context("--as-of: reading the notary's checkpoints")?
            else {
                let first = notary::store::list(pool, 0, 1)
                    .await
                    .context("--as-of: reading the notary's checkpoints")?;
                anyhow::bail!(
                    "--as-of {as_of}: no notary checkpoint was signed at or before it ({})",
                    first.first().map_or_else(
                        || "there is no checkpoint yet".to_owned(),
                        |cp| format!(
                            "the first, checkpoint {}, was signed at {}",
                            cp.sequence,
                            cp.signed_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
                        )
                    )
                );
            };
            (
                cp.token,
                format!(
                    "{as_of}: the notary's fence then, checkpoint {} (signed {}, {} events), token {}",
                    cp.sequence,
                    cp.signed_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    cp.event_count,
                    cp.token
                ),
            )
        }
    };
    match replay::check_final(store, token).await {
        Err(e @ ReplayError::NotFinal { .. }) => Err(anyhow::Error::new(e).context(format!(
            "--as-of {as_of}: beyond the committed end of the log"
        ))),
        other => other
            .map(|()| (token, how))
            .context("--as-of: reading the fence"),
    }
}

fn bar(model: &dyn ReadModel, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total).with_prefix(model.model_id());
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>14} [{bar:40}] {human_pos}/{human_len} events {per_sec} {elapsed}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

pub async fn run(args: Args, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let models = selected(&args.projectors)?;
    let pool = owner_pool(&args.database_url).await?;
    let store = EventStore::new(pool.clone(), StoreConfig::default());
    let (until, how) = resolve(&pool, &store, args.as_of).await?;
    let total = replay::events_until(&store, until).await?;
    replay::create_scratch(&pool, &args.into, args.replace)
        .await
        .with_context(|| format!("--into {}", args.into))?;
    writeln!(
        out,
        "replay into schema {} as of {how} ({total} events)",
        args.into
    )?;
    let mut parked = 0;
    for model in models {
        let progress = bar(model, total);
        let on_batch = |p: ReplayProgress| progress.set_position(p.events);
        let options = ReplayOptions {
            batch_size: args.batch_size,
            on_batch: Some(&on_batch),
            ..ReplayOptions::default()
        };
        let report = model
            .replay(&store, &args.into, until, options)
            .await
            .with_context(|| format!("replaying {}", model.model_id()))?;
        progress.finish_and_clear();
        parked += report.parked;
        writeln!(
            out,
            "{}: events {}  applied {}  parked {}  checkpoint {}  took {:.1?}",
            report.projector,
            report.events,
            report.applied,
            report.parked,
            report.checkpoint,
            report.took
        )?;
        writeln!(out, "  digest {}", report.digest)?;
    }
    if parked > 0 {
        writeln!(
            out,
            "{parked} event(s) could not be applied and were parked, as the live projectors would park \
             them: see {}.projection_parked",
            args.into
        )?;
    }
    pool.close().await;
    Ok(ExitCode::SUCCESS)
}

//! # ledger-api — the Volunteer Ledger service
//!
//! Thin adapters only: configuration, the listeners, health, and background tasks. Business rules live
//! in the domain crate and the application layer; the gRPC (`grpc-api`) and REST (`rest-api`) adapters
//! translate, nothing more. The binary (`main.rs`) parses [`Config`] and calls [`start`]; the end-to-end
//! tests call [`start`] the same way on ephemeral ports.
//!
//! What runs in one process:
//! - the REST listener (`/api/v1`, `/openapi.json`, `/swagger-ui`, `/livez`, `/readyz`, `/metrics`);
//! - the gRPC listener (the partner services, `grpc.health.v1`, reflection);
//! - the projectors (one runner each; across replicas one leads and the others stand by);
//! - the notary, when `LEDGER_NOTARY_KEY_FILE` names its key: signed checkpoints of the log every
//!   `LEDGER_NOTARY_EVERY_EVENTS` events or `LEDGER_NOTARY_EVERY_MS` (one notary leads across replicas);
//! - the event notifier (wakes other replicas' subscriptions) and the hourly idempotency-key purge.
//!
//! Telemetry (`telemetry` crate, ADR 0009): logs as text or JSON (`LEDGER_LOG_FORMAT`), spans exported
//! over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (as `OTEL_SERVICE_NAME`), a request span per
//! REST and gRPC call that continues the caller's W3C `traceparent`, and the append-latency histogram.
//! [`init_telemetry`] installs the process's subscriber (the binary first, with logs; [`start`] again,
//! a no-op then, for the tests); the exporter belongs to the [`Running`] service and is flushed by
//! [`Running::shutdown`].
//!
//! Policy: configuration is validated before anything listens, and each error names its variable.
//! Secrets are never printed (clap hides their values; `Debug` of [`Config`] redacts them). Development
//! tokens exist only with `--dev-tokens` and are refused when `LEDGER_ENV=production`.

pub mod config_file;
pub mod edge;
pub mod health;
pub mod metrics;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use app::{Actor, Audit, Ledger, ReadModels, Role};
use notary::{Keyring, Notary, NotaryConfig, NotaryKey};
use projections::{
    AuditHistoryProjector, ComplianceProjector, CoverageProjector, FrequencyProjector,
    JiangsuProjector, Progress, Projector, Runner, RunnerConfig, ServiceRecordProjector,
    SummaryBoardProjector,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
pub use telemetry::LogFormat;
use telemetry::context::Transport;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Where the service runs: development allows throwaway signing keys, production refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

/// How this process takes part in the projectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProjectorMode {
    /// Run every projector: lead when elected, stand by otherwise.
    #[value(alias = "true")]
    Lead,
    /// Never lead: mirror the checkpoints the leaders commit (read-your-writes here).
    Follow,
    /// No projector runner in this process.
    #[value(alias = "false")]
    Off,
}

/// The service's configuration (environment variables or flags).
#[derive(Clone, clap::Parser)]
#[command(
    name = "ledger-api",
    about = "Volunteer Ledger: event-sourced records of volunteer campaigns"
)]
pub struct Config {
    /// Postgres URL of the service role (INSERT/SELECT on the log only).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Postgres URL of the owner role; when set, pending migrations run before serving.
    #[arg(long, env = "MIGRATION_DATABASE_URL", hide_env_values = true)]
    pub migration_database_url: Option<String>,
    /// Address of the HTTP listener (REST, OpenAPI, health).
    #[arg(long, env = "LEDGER_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Address of the gRPC listener (partner services, health, reflection).
    #[arg(long, env = "LEDGER_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// Connections in the service's pool.
    #[arg(long, env = "LEDGER_DB_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub db_pool_size: u32,
    /// Master key wrapping the per-person data keys (64 hex digits or base64 of 32 bytes). Keep it
    /// outside the database: without it no personal data can be read.
    #[arg(long, env = "LEDGER_MASTER_KEY", hide_env_values = true)]
    pub master_key: String,
    /// Secret of the keyed hashes (person de-duplication, command fingerprints); distinct from the
    /// master key.
    #[arg(long, env = "LEDGER_HASH_KEY", hide_env_values = true)]
    pub hash_key: String,
    /// The campaign whose rules apply (default: the demo's 百千万 campaign).
    #[arg(long, env = "LEDGER_CAMPAIGN_ID")]
    pub campaign_id: Option<uuid::Uuid>,
    /// Load the demo dataset (Shaoxing 百千万) at start; idempotent.
    #[arg(long, env = "LEDGER_DEMO")]
    pub demo: bool,
    /// Days an idempotency key is remembered: a retry within this period returns the first result.
    #[arg(long, env = "LEDGER_IDEMPOTENCY_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub idempotency_retention_days: u32,
    /// `production` refuses development tokens.
    #[arg(long, env = "LEDGER_ENV", value_enum, default_value_t = Environment::Production)]
    pub env: Environment,
    /// Verify bearer tokens signed with this HS256 secret (at least 32 bytes).
    #[arg(long, env = "LEDGER_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<String>,
    /// Verify bearer tokens signed by the identity provider's Ed25519 key (PEM file of the public key).
    #[arg(long, env = "LEDGER_JWT_ED25519_PUBLIC_KEY_FILE")]
    pub jwt_ed25519_public_key_file: Option<std::path::PathBuf>,
    /// The `iss` claim tokens must carry.
    #[arg(long, env = "LEDGER_JWT_ISSUER", default_value = "volunteer-ledger")]
    pub jwt_issuer: String,
    /// The `aud` claim tokens must carry.
    #[arg(long, env = "LEDGER_JWT_AUDIENCE", default_value = "ledger-api")]
    pub jwt_audience: String,
    /// Development only: sign with a throwaway key and print a token per role at start.
    #[arg(long, env = "LEDGER_DEV_TOKENS")]
    pub dev_tokens: bool,
    /// Origins the front end is served from (CORS), comma-separated.
    #[arg(long, env = "LEDGER_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Largest REST request body, in bytes.
    #[arg(long, env = "LEDGER_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,
    /// How long a read with `min_token` waits for the read model to catch up before answering 503.
    #[arg(long, env = "LEDGER_READ_WAIT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub read_wait_ms: u64,
    /// The projectors in this process: `lead` (alias `true`: one leads across replicas, the others
    /// stand by), `follow` (never lead; mirror the leaders' checkpoints so `min_token` reads work here —
    /// for API replicas next to dedicated `ledger-projector` processes) or `off` (alias `false`).
    #[arg(long, env = "LEDGER_PROJECTORS", value_enum, default_value_t = ProjectorMode::Lead)]
    pub projectors: ProjectorMode,
    /// Serve REST and gRPC. `false` (what `ledger-projector` sets): only the projectors, the notary,
    /// the notifier and health/metrics on `LEDGER_HTTP_ADDR`; no bearer-token configuration needed.
    #[arg(long, env = "LEDGER_API", default_value_t = true, action = clap::ArgAction::Set)]
    pub api: bool,
    /// The notary's Ed25519 private key (PKCS#8 PEM file, e.g. from `ledger-audit keygen`). When set, the
    /// notary signs checkpoints of the log (one leads across replicas) and the public key is served;
    /// when unset, no notary runs in this process.
    #[arg(long, env = "LEDGER_NOTARY_KEY_FILE")]
    pub notary_key_file: Option<std::path::PathBuf>,
    /// After a notary key rotation: the public keys that signed the chain before
    /// `LEDGER_NOTARY_KEY_FILE`'s key, oldest first (a file of one or more SPKI PEM keys). The notary
    /// continues the chain they signed, the status checks their checkpoints, and the served public key
    /// file holds them all (the current key last).
    #[arg(long, env = "LEDGER_NOTARY_RETIRED_KEYS_FILE")]
    pub notary_retired_keys_file: Option<std::path::PathBuf>,
    /// The notary signs a checkpoint after this many events…
    #[arg(long, env = "LEDGER_NOTARY_EVERY_EVENTS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub notary_every_events: u64,
    /// …or after this many milliseconds when fewer arrived.
    #[arg(long, env = "LEDGER_NOTARY_EVERY_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(10..=86_400_000))]
    pub notary_every_ms: u64,
    /// Log lines as `text` (human-readable) or `json` (one object per line). `RUST_LOG` filters them.
    #[arg(long, env = "LEDGER_LOG_FORMAT", default_value = "text", value_parser = log_format)]
    pub log_format: LogFormat,
    /// OTLP/gRPC endpoint of a collector (`http://host:4317`, plain text): when set, spans are exported
    /// to it in batches; when unset, nothing is exported.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans.
    #[arg(long, env = "OTEL_SERVICE_NAME", default_value = "ledger-api")]
    pub otel_service_name: String,
}

fn log_format(text: &str) -> Result<LogFormat, String> {
    text.parse().map_err(|e| format!("LEDGER_LOG_FORMAT: {e}"))
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("http_addr", &self.http_addr)
            .field("grpc_addr", &self.grpc_addr)
            .field("db_pool_size", &self.db_pool_size)
            .field("campaign_id", &self.campaign_id)
            .field("env", &self.env)
            .field("dev_tokens", &self.dev_tokens)
            .field("notary_key_file", &self.notary_key_file)
            .field("notary_retired_keys_file", &self.notary_retired_keys_file)
            .field("notary_every_events", &self.notary_every_events)
            .field("notary_every_ms", &self.notary_every_ms)
            .field("log_format", &self.log_format)
            .field(
                "otel_exporter_otlp_endpoint",
                &self.otel_exporter_otlp_endpoint,
            )
            .field("otel_service_name", &self.otel_service_name)
            .finish_non_exhaustive()
    }
}

/// A start-up failure, naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{variable}: {reason}")]
    Config {
        variable: &'static str,
        reason: String,
    },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("running migrations: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("loading the demo dataset: {0}")]
    Demo(app::AppError),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error("gRPC: {0}")]
    Grpc(#[from] grpc_api::GrpcError),
    #[error("telemetry: {0}")]
    Telemetry(telemetry::TelemetryError),
}

fn config_error(variable: &'static str, reason: impl std::fmt::Display) -> StartError {
    StartError::Config {
        variable,
        reason: reason.to_string(),
    }
}

/// A running service.
pub struct Running {
    pub http_addr: SocketAddr,
    /// `None` in a projector process.
    pub grpc_addr: Option<SocketAddr>,
    /// `(role, bearer token)` per development actor (only with `--dev-tokens`).
    pub dev_tokens: Vec<(Role, String)>,
    pub ledger: Ledger,
    /// The progress of this process's notary (`None` without `LEDGER_NOTARY_KEY_FILE`).
    pub notary: Option<watch::Receiver<notary::NotaryProgress>>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The span exporter (`None` without `OTEL_EXPORTER_OTLP_ENDPOINT`).
    otlp: Option<telemetry::OtlpExporter>,
}

impl Running {
    /// Stop accepting, drain in-flight requests and projector batches, wait for every task, then export
    /// the spans still queued.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        if let Some(exporter) = self.otlp.take()
            && let Err(e) = exporter.shutdown().await
        {
            tracing::warn!(error = %e, "exporting the last spans failed");
        }
    }
}

/// Install the process's tracing subscriber: logs in `logs` format to stdout (none when `None`), the
/// OTLP export layer (idle until [`start`] starts an exporter), and the append-latency histogram.
///
/// The binary calls it first, with its configured format; [`start`] calls it with `None`, which changes
/// nothing when it is installed already (and installs it without logs for in-process tests). Another
/// global subscriber is not replaced: the service then runs without the histogram and cannot export.
pub fn init_telemetry(logs: Option<LogFormat>) -> Result<telemetry::Installed, StartError> {
    telemetry::install(logs, vec![metrics::append_timer_layer()]).map_err(|e| match e {
        telemetry::TelemetryError::LogFilter(reason) => config_error("RUST_LOG", reason),
        other => StartError::Telemetry(other),
    })
}

/// Start the span exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
fn otlp_exporter(config: &Config) -> Result<Option<telemetry::OtlpExporter>, StartError> {
    let name = config.otel_service_name.trim();
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(config_error(
            "OTEL_SERVICE_NAME",
            "must be 1 to 255 characters without control characters",
        ));
    }
    let Some(endpoint) = &config.otel_exporter_otlp_endpoint else {
        return Ok(None);
    };
    let endpoint = telemetry::otlp::parse_endpoint(endpoint)
        .map_err(|e| config_error("OTEL_EXPORTER_OTLP_ENDPOINT", e))?;
    if !telemetry::is_installed() {
        return Err(config_error(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "another global tracing subscriber is installed in this process: spans cannot be exported",
        ));
    }
    telemetry::OtlpExporter::start(&endpoint, name)
        .map(Some)
        .map_err(|e| config_error("OTEL_EXPORTER_OTLP_ENDPOINT", e))
}

/// The request span of a gRPC call: a child of the caller's `traceparent`, named by the method
/// (`package.Service/Method`; anything else, or longer than 200 bytes, is `unknown`).
fn grpc_request_span(request: &axum::http::Request<()>) -> tracing::Span {
    let path = request.uri().path().trim_start_matches('/');
    let method = if path.len() <= 200
        && path.contains('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/'))
    {
        path
    } else {
        "unknown"
    };
    telemetry::context::server_span(Transport::Grpc, method, request.headers())
}

fn authenticator(
    config: &Config,
) -> Result<(access::Authenticator, Option<access::DevIssuer>), StartError> {
    let configured = config.jwt_hs256_secret.is_some() as u8
        + config.jwt_ed25519_public_key_file.is_some() as u8;
    if config.dev_tokens {
        if config.env == Environment::Production {
            return Err(config_error(
                "LEDGER_DEV_TOKENS",
                "development tokens are refused when LEDGER_ENV=production",
            ));
        }
        if configured > 0 {
            return Err(config_error(
                "LEDGER_DEV_TOKENS",
                "development tokens use a throwaway key; do not also configure LEDGER_JWT_*",
            ));
        }
        let issuer = access::DevIssuer::random(&config.jwt_issuer, &config.jwt_audience)
            .map_err(|e| config_error("LEDGER_DEV_TOKENS", e))?;
        let auth = issuer
            .authenticator()
            .map_err(|e| config_error("LEDGER_DEV_TOKENS", e))?;
        return Ok((auth, Some(issuer)));
    }
    match (
        &config.jwt_hs256_secret,
        &config.jwt_ed25519_public_key_file,
    ) {
        (Some(secret), None) => Ok((
            access::Authenticator::hs256(
                secret.as_bytes(),
                &config.jwt_issuer,
                &config.jwt_audience,
            )
            .map_err(|e| config_error("LEDGER_JWT_HS256_SECRET", e))?,
            None,
        )),
        (None, Some(path)) => {
            let pem = std::fs::read(path).map_err(|e| {
                config_error(
                    "LEDGER_JWT_ED25519_PUBLIC_KEY_FILE",
                    format!("{}: {e}", path.display()),
                )
            })?;
            Ok((
                access::Authenticator::ed25519_pem(&pem, &config.jwt_issuer, &config.jwt_audience)
                    .map_err(|e| config_error("LEDGER_JWT_ED25519_PUBLIC_KEY_FILE", e))?,
                None,
            ))
        }
        (Some(_), Some(_)) => Err(config_error(
            "LEDGER_JWT_HS256_SECRET",
            "configure either LEDGER_JWT_HS256_SECRET or LEDGER_JWT_ED25519_PUBLIC_KEY_FILE, not both",
        )),
        (None, None) => Err(config_error(
            "LEDGER_JWT_ED25519_PUBLIC_KEY_FILE",
            "no token verification key: set LEDGER_JWT_ED25519_PUBLIC_KEY_FILE or LEDGER_JWT_HS256_SECRET \
             (or LEDGER_DEV_TOKENS with LEDGER_ENV=development)",
        )),
    }
}

/// The notary's key and its keyring (retired keys, then its own), read and checked at start (`None`,
/// with one warning, when not configured).
fn notary_key(config: &Config) -> Result<Option<(Arc<NotaryKey>, Keyring)>, StartError> {
    let Some(path) = &config.notary_key_file else {
        if config.notary_retired_keys_file.is_some() {
            return Err(config_error(
                "LEDGER_NOTARY_RETIRED_KEYS_FILE",
                "is set without LEDGER_NOTARY_KEY_FILE: retired keys only matter to a notary",
            ));
        }
        tracing::warn!(
            "LEDGER_NOTARY_KEY_FILE is not set: no notary runs in this process (no signed checkpoints \
             from here) and no notary public key is served"
        );
        return Ok(None);
    };
    let key = NotaryKey::from_file(path).map_err(|e| config_error("LEDGER_NOTARY_KEY_FILE", e))?;
    let retired: Vec<notary::PublicKey> = match &config.notary_retired_keys_file {
        Some(file) => Keyring::from_file(file)
            .map_err(|e| config_error("LEDGER_NOTARY_RETIRED_KEYS_FILE", e))?
            .keys()
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let ring = Keyring::rotated(&retired, key.public())
        .map_err(|e| config_error("LEDGER_NOTARY_RETIRED_KEYS_FILE", e))?;
    Ok(Some((Arc::new(key), ring)))
}

fn ledger(
    config: &Config,
    pool: &sqlx::PgPool,
    store: &eventstore::EventStore,
) -> Result<Ledger, StartError> {
    let master = personal_data::MasterKey::from_config_text(1, &config.master_key)
        .map_err(|e| config_error("LEDGER_MASTER_KEY", e))?;
    let hasher = personal_data::KeyedHasher::from_config_text(&config.hash_key)
        .map_err(|e| config_error("LEDGER_HASH_KEY", e))?;
    hasher
        .ensure_distinct_from(&master)
        .map_err(|_| config_error("LEDGER_HASH_KEY", "must differ from LEDGER_MASTER_KEY"))?;
    let vault = person_vault::PersonVault::new(pool.clone(), Arc::new(master));
    let campaign =
        domain::ids::CampaignId(config.campaign_id.unwrap_or(app::demo::DEMO_CAMPAIGN.0));
    Ok(Ledger::new(
        store.clone(),
        vault,
        hasher,
        Arc::new(eventstore::SystemClock),
        app::LedgerConfig { campaign },
    ))
}

async fn migrate(url: &str) -> Result<(), StartError> {
    let options =
        PgConnectOptions::from_str(url).map_err(|e| config_error("MIGRATION_DATABASE_URL", e))?;
    let owner = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    schema::MIGRATOR.run(&owner).await?;
    owner.close().await;
    tracing::info!(
        migrations = schema::MIGRATOR.iter().count(),
        "schema is current"
    );
    Ok(())
}

/// Validate `config`, migrate, load the demo if asked, and serve on the given listeners until
/// [`Running::shutdown`].
pub async fn start(
    config: Config,
    http: TcpListener,
    grpc: TcpListener,
) -> Result<Running, StartError> {
    if !config.api {
        return Err(config_error(
            "LEDGER_API",
            "is false: start a projector process with ledger-projector (start_projector)",
        ));
    }
    start_inner(config, http, Some(grpc)).await
}

/// Start a projector process (`ledger-projector`): the projectors (leading when elected), the notary
/// when a key is configured, the notifier, and `/livez`, `/readyz` and `/metrics` on `http`; no REST or
/// gRPC API and no bearer-token configuration.
pub async fn start_projector(mut config: Config, http: TcpListener) -> Result<Running, StartError> {
    config.api = false;
    if config.projectors == ProjectorMode::Off {
        return Err(config_error(
            "LEDGER_PROJECTORS",
            "is off: a projector process runs the projectors (lead or follow)",
        ));
    }
    start_inner(config, http, None).await
}

async fn start_inner(
    config: Config,
    http: TcpListener,
    grpc: Option<TcpListener>,
) -> Result<Running, StartError> {
    if let Err(e) = init_telemetry(None) {
        // Another subscriber was installed by whoever embeds the service: it logs; nothing is exported
        // and the append histogram stays empty.
        tracing::warn!(error = %e, "the service's telemetry is not installed");
    }
    let (auth, dev_issuer) = if config.api {
        let (auth, dev_issuer) = authenticator(&config)?;
        (Some(Arc::new(auth)), dev_issuer)
    } else {
        (None, None)
    };
    let notary_key = notary_key(&config)?;
    let otlp = otlp_exporter(&config)?;
    if let Some(url) = &config.migration_database_url {
        migrate(url).await?;
    }
    let options = PgConnectOptions::from_str(&config.database_url)
        .map_err(|e| config_error("DATABASE_URL", e))?
        .application_name("ledger-api");
    let pool = PgPoolOptions::new()
        .max_connections(config.db_pool_size)
        .acquire_timeout(Duration::from_secs(5))
        // No ping before each acquire: it is a second round trip per request (measured −10% appends).
        // A connection broken by a database restart fails its next query, which is answered 503.
        .test_before_acquire(false)
        .connect_lazy_with(options);
    let store = eventstore::EventStore::new(pool.clone(), eventstore::StoreConfig::default());
    let ledger = ledger(&config, &pool, &store)?;
    if config.demo {
        let report = app::demo::load(&ledger).await.map_err(StartError::Demo)?;
        tracing::info!(
            written = report.written,
            already_there = report.replayed,
            "demo dataset loaded"
        );
    }

    let (stop, stop_rx) = watch::channel(false);
    let stopped = move |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut tasks = JoinSet::new();

    // Projectors: one runner per read model; progress feeds read-your-writes.
    let mut progress = BTreeMap::new();
    let runner_config = RunnerConfig {
        lead: config.projectors == ProjectorMode::Lead,
        ..RunnerConfig::default()
    };
    if config.projectors != ProjectorMode::Off {
        for p in RUNNERS {
            p.spawn(
                &mut tasks,
                &mut progress,
                &store,
                runner_config.clone(),
                &stop_rx,
            );
        }
    }

    // The notary: signed checkpoints of the log (one leads across replicas; the others stand by).
    let notary_progress = notary_key.as_ref().map(|(key, ring)| {
        let notary = Notary::new(
            store.clone(),
            key.clone(),
            NotaryConfig {
                every_events: config.notary_every_events,
                every: Duration::from_millis(config.notary_every_ms),
                ..NotaryConfig::default()
            },
        )
        .with_retired_keys(ring.retired().to_vec());
        let progress = notary.progress();
        let mut rx = stop_rx.clone();
        tasks.spawn(async move {
            notary
                .run(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
        });
        tracing::info!(key_id = key.key_id(), "notary started");
        progress
    });
    let commands = metrics::CommandCounters::default();
    let metrics_state = metrics::MetricsState {
        pool: pool.clone(),
        projectors: RUNNERS.iter().map(|p| p.runner_id()).collect(),
        progress: progress.clone(),
        commands: commands.clone(),
        notary: notary_progress.clone(),
    };
    let reads = ReadModels::new(
        ledger.clone(),
        progress,
        Duration::from_millis(config.read_wait_ms),
    );
    let audit = match &notary_key {
        Some((_, ring)) => Audit::new(ledger.clone(), reads.clone()).with_notary_keys(ring.clone()),
        None => Audit::new(ledger.clone(), reads.clone()),
    };

    // The notifier wakes other replicas' subscriptions; restarted after a database outage.
    {
        let store = store.clone();
        let rx = stop_rx.clone();
        tasks.spawn(async move {
            loop {
                match store
                    .run_notifier(Duration::from_millis(5), stopped(rx.clone()))
                    .await
                {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "event notifier stopped; restarting in 1 s");
                        let mut rx = rx.clone();
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = rx.wait_for(|s| *s) => return,
                        }
                    }
                }
            }
        });
    }

    // Idempotency keys older than the retention are purged hourly.
    {
        let store = store.clone();
        let days = config.idempotency_retention_days;
        let mut rx = stop_rx.clone();
        tasks.spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = rx.wait_for(|s| *s) => return,
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
        });
    }

    // REST + health (health and metrics only in a projector process).
    let service_routes = health::router(pool.clone()).merge(metrics::router(metrics_state));
    let api = match (&auth, grpc) {
        (Some(auth), Some(grpc)) => Some((auth.clone(), grpc)),
        _ => None,
    };
    let http_routes = match &api {
        Some((auth, _)) => rest_api::router(rest_api::RestState::new(rest_api::RestParts {
            ledger: ledger.clone(),
            reads: reads.clone(),
            audit: audit.clone(),
            auth: auth.clone(),
            config: rest_api::RestConfig {
                cors_origins: config.cors_origins.clone(),
                max_body_bytes: config.max_body_bytes,
                ..rest_api::RestConfig::default()
            },
        }))
        .layer(edge::RestEdgeLayer::new(commands.clone()))
        .merge(service_routes),
        None => service_routes,
    };
    let http_addr = http.local_addr()?;
    {
        let rx = stop_rx.clone();
        tasks.spawn(async move {
            if let Err(e) = axum::serve(http, http_routes)
                .with_graceful_shutdown(stopped(rx))
                .await
            {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });
    }

    // gRPC.
    let grpc_addr = match api {
        Some((auth, grpc)) => {
            let routes = grpc_api::routes(grpc_api::GrpcState {
                ledger: ledger.clone(),
                reads,
                audit,
                auth,
            })?;
            let grpc_addr = grpc.local_addr()?;
            let rx = stop_rx.clone();
            tasks.spawn(async move {
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(grpc);
                if let Err(e) = tonic::transport::Server::builder()
                    .trace_fn(grpc_request_span)
                    .layer(metrics::GrpcCommandLayer(commands))
                    .add_routes(routes)
                    .serve_with_incoming_shutdown(incoming, stopped(rx))
                    .await
                {
                    tracing::error!(error = %e, "gRPC server failed");
                }
            });
            tracing::info!(%http_addr, %grpc_addr, "serving REST and gRPC");
            Some(grpc_addr)
        }
        None => {
            tracing::info!(%http_addr, "projector process: health and metrics only");
            None
        }
    };

    let dev_tokens = match &dev_issuer {
        None => Vec::new(),
        Some(issuer) => dev_tokens(issuer)?,
    };
    Ok(Running {
        http_addr,
        grpc_addr,
        dev_tokens,
        ledger,
        notary: notary_progress,
        stop,
        tasks,
        otlp,
    })
}

/// Resolves on Ctrl-C or SIGTERM (what systemd and Kubernetes send).
pub async fn shutdown_signal() {
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

/// Run a projector process until Ctrl-C or SIGTERM, then drain (the `ledger-projector` binary, and
/// `ledger-api` with `LEDGER_API=false`).
pub async fn run_projector_until_signal(
    config: Config,
    http: TcpListener,
) -> Result<(), StartError> {
    let running = start_projector(config, http).await?;
    shutdown_signal().await;
    tracing::info!("shutting down: finishing the current projector batches");
    running.shutdown().await;
    Ok(())
}

/// Every read model the service keeps: one line per projector.
const RUNNERS: &[&dyn SpawnRunner] = &[
    &CoverageProjector,
    &ComplianceProjector,
    &FrequencyProjector,
    &SummaryBoardProjector,
    &AuditHistoryProjector,
    &ServiceRecordProjector,
    &JiangsuProjector,
];

/// A projector the service can run, as an object (the list above).
trait SpawnRunner: Sync {
    fn runner_id(&self) -> &'static str;
    fn spawn(
        &self,
        tasks: &mut JoinSet<()>,
        progress: &mut BTreeMap<&'static str, watch::Receiver<Progress>>,
        store: &eventstore::EventStore,
        config: RunnerConfig,
        stop: &watch::Receiver<bool>,
    );
}

impl<P: Projector + Clone> SpawnRunner for P {
    fn runner_id(&self) -> &'static str {
        self.id()
    }

    fn spawn(
        &self,
        tasks: &mut JoinSet<()>,
        progress: &mut BTreeMap<&'static str, watch::Receiver<Progress>>,
        store: &eventstore::EventStore,
        config: RunnerConfig,
        stop: &watch::Receiver<bool>,
    ) {
        spawn_projector(tasks, progress, store, self.clone(), config, stop);
    }
}

/// Run `projector` until the stop signal (as leader, or standing by while another replica leads).
fn spawn_projector<P: Projector>(
    tasks: &mut JoinSet<()>,
    progress: &mut BTreeMap<&'static str, watch::Receiver<Progress>>,
    store: &eventstore::EventStore,
    projector: P,
    config: RunnerConfig,
    stop: &watch::Receiver<bool>,
) {
    let runner = Arc::new(Runner::new(store.clone(), Arc::new(projector), config));
    progress.insert(runner.id(), runner.progress());
    let mut stop = stop.clone();
    tasks.spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = runner.run(stopped).await {
            tracing::error!(projector = runner.id(), error = %e, "projector stopped");
        }
    });
}

/// One bearer token per development actor, valid for 12 hours.
fn dev_tokens(issuer: &access::DevIssuer) -> Result<Vec<(Role, String)>, StartError> {
    let actors: Vec<Actor> =
        access::demo_actors().map_err(|e| config_error("LEDGER_DEV_TOKENS", e))?;
    let now = chrono::Utc::now().timestamp();
    actors
        .iter()
        .map(|a| {
            issuer
                .mint(a, now, 12 * 3600)
                .map(|t| (a.role, t))
                .map_err(|e| config_error("LEDGER_DEV_TOKENS", e))
        })
        .collect()
}

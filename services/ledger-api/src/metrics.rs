//! `/metrics`: Prometheus metrics of the service, computed at scrape time (OpenMetrics text, which
//! Prometheus scrapes natively).
//!
//! Policy of this module:
//! - **Computed when scraped.** Nothing is counted on the request path: each scrape reads the projector
//!   runners' progress watches, the pool's counters and a few bounded SQL queries (the consts in [`sql`]),
//!   and encodes a fresh registry. A scrape costs four or five queries on the service's pool (the
//!   notary's newest checkpoint is read from the database unless this process's notary leads).
//! - **Every projector, running here or not.** The projectors known to this binary and every row of
//!   `projection_checkpoints` are listed, so a replica started with `LEDGER_PROJECTORS=false` (or a
//!   standby) still shows the lag of the read models it serves.
//! - **Never fails the scrape for one query.** A query that fails omits the families it feeds and logs a
//!   warning; the others are still served.
//! - **No personal data.** Labels are projector ids, pool states and, for the fence, the holding backend's
//!   `application_name`, pid, database and xid.
//!
//! Families:
//! - `ledger_projector_checkpoint_lag_events{projector}`: committed events after the projector's
//!   checkpoint in the global order (counted up to [`LAG_COUNT_CAP`], where it saturates).
//! - `ledger_projector_lag_seconds{projector}`: now − `recorded_at` of the next unprocessed event in the
//!   global order; 0 when caught up.
//! - `ledger_projector_leader{projector}`: 1 if a runner in this process holds the projector's lease.
//! - `ledger_projector_parked_events{projector}`: events parked for the projector (all replicas).
//! - `ledger_log_fence_xid`: the global-order fence (oldest running transaction id in the cluster).
//! - `ledger_log_fence_held_by{application_name,pid,database,xid}`: the backends holding the oldest
//!   transaction ids (up to [`FENCE_HOLDERS`], oldest first): the one whose xid is the fence (modulo
//!   2^32) holds it. The value is the age of its transaction in seconds (NaN when the service role may
//!   not see it: grant `pg_read_all_stats` to show it).
//! - `ledger_log_fence_hold_seconds`: the age of the oldest of those transactions (0 when none holds an
//!   xid, NaN when not visible). A large value means the projectors are held back: events committed
//!   after that transaction started are not delivered until it ends.
//! - `ledger_db_pool_connections{state="idle"|"in_use"}`, `ledger_db_pool_max_connections`.
//!
//! - `ledger_commands_total{adapter,command,outcome}`: commands answered by an adapter, counted at the
//!   listeners (not in the application layer): REST `POST`s under `/api/v1` labelled by method and route
//!   template, and gRPC calls of the partner services labelled by method name (queries — `Get*`,
//!   `Read*`, `List*`, `Subscribe*` — and the `grpc.*` services are not counted). `outcome` is `ok`,
//!   `rejected` (4xx; a gRPC status the caller caused) or `failed` (5xx; a gRPC status of the service or
//!   the database).
//!
//! - `ledger_notary_leader`: 1 if the notary in this process holds the notary lock (0 when it stands by
//!   or no notary key is configured here).
//! - `ledger_notary_checkpoint_sequence`: the newest signed checkpoint's sequence (0 before the first):
//!   from the leading notary's progress, else from the database (a standby or a replica without a key).
//! - `ledger_notary_checkpoint_age_seconds`: now − the newest checkpoint's `signed_at` (absent before
//!   the first checkpoint). Alert when it exceeds a few `LEDGER_NOTARY_EVERY_MS` while events arrive.
//! - `ledger_notary_uncovered_events`: committed events (below the fence) after the newest checkpoint —
//!   the tail no signature covers yet (an unbounded count: it stays small while a notary runs).
//!
//! - `ledger_append_duration_seconds{outcome}` (histogram, [`append_buckets`]: 0.5 ms doubling to
//!   4.1 s, then +Inf): the wall time of each event-store append as this process's application layer
//!   sees it (pool wait, validation, the statement, the explanation of a conflict), from the
//!   `eventstore.append` span. `outcome` is `ok` (written or replayed), `conflict` (expected version,
//!   uniqueness claim or idempotency key) or `error` (invalid request, database, or abandoned before it
//!   finished). The one exception to "computed when scraped": it is observed by a `tracing` layer
//!   ([`append_timer_layer`], part of the process's subscriber, `telemetry::install`) and is
//!   process-wide — every service started in one process (tests) shares it.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use notary::NotaryProgress;
use projections::Progress;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use sqlx::PgPool;
use tokio::sync::watch;

/// The lag in events is counted up to this many (a bounded query; beyond it the gauge saturates).
pub const LAG_COUNT_CAP: i64 = 1_000_000;

/// How many fence-holding backends are listed.
pub const FENCE_HOLDERS: i64 = 5;

/// The content type of the OpenMetrics text exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub mod sql {
    /// Binds: $1 projector ids known to this binary (text[]), $2 cap of the count. One row per projector
    /// (those known here and every checkpoint row): lag in events (bounded), lag in seconds, parked count.
    pub const PROJECTOR_LAG: &str = "WITH p AS (
    SELECT projector FROM unnest($1::text[]) AS u(projector)
    UNION
    SELECT projector FROM projection_checkpoints
), c AS (
    SELECT p.projector, coalesce(pc.tx_id, '0'::xid8) AS tx_id, coalesce(pc.position, 0) AS position
    FROM p LEFT JOIN projection_checkpoints pc ON pc.projector = p.projector
)
SELECT c.projector,
    (SELECT count(*) FROM (
        SELECT 1 FROM events e WHERE (e.tx_id, e.position) > (c.tx_id, c.position) LIMIT $2
    ) AS b) AS lag_events,
    coalesce((
        SELECT greatest(0, extract(epoch FROM clock_timestamp() - e.recorded_at))::float8
        FROM events e WHERE (e.tx_id, e.position) > (c.tx_id, c.position)
        ORDER BY e.tx_id, e.position LIMIT 1
    ), 0)::float8 AS lag_seconds,
    (SELECT count(*) FROM projection_parked pp WHERE pp.projector = c.projector) AS parked
FROM c ORDER BY c.projector";

    /// The fence of the global order (as `EventStore::fence`).
    pub const FENCE: &str = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS fence";

    /// Binds: $1 limit. The backends holding the oldest transaction ids, oldest first. `xact_start` is
    /// NULL for other roles' backends unless the service role has `pg_read_all_stats`.
    pub const FENCE_HOLDERS: &str =
        "SELECT a.pid, coalesce(a.application_name, '') AS application_name,
    coalesce(a.datname::text, '') AS database, a.backend_xid::text AS xid,
    greatest(0, extract(epoch FROM clock_timestamp() - a.xact_start))::float8 AS age_seconds
FROM pg_stat_activity a
WHERE a.backend_xid IS NOT NULL
ORDER BY age(a.backend_xid) DESC, a.pid
LIMIT $1";
}

/// Commands counted at the adapters (shared by the REST middleware, the gRPC layer and the scrape).
#[derive(Clone, Default)]
pub struct CommandCounters {
    total: Family<Labels, Counter>,
}

impl CommandCounters {
    pub(crate) fn record(&self, adapter: &'static str, command: String, outcome: &'static str) {
        self.total
            .get_or_create(&vec![
                ("adapter", adapter.to_owned()),
                ("command", command),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }
}

pub(crate) fn http_outcome(status: StatusCode) -> &'static str {
    if status.is_server_error() {
        "failed"
    } else if status.is_client_error() {
        "rejected"
    } else {
        "ok"
    }
}

/// The gRPC method of a call path `/package.Service/Method`, if it is a command of a partner service.
fn grpc_command(path: &str) -> Option<&str> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    if service.starts_with("grpc.") {
        return None;
    }
    let query = ["Get", "Read", "List", "Subscribe", "Watch"]
        .iter()
        .any(|p| method.starts_with(p));
    (!query && !method.is_empty()).then_some(method)
}

fn grpc_outcome(headers: &axum::http::HeaderMap) -> &'static str {
    // A unary call that fails is answered "trailers only": its status is in the headers. A status in the
    // trailers (success, or a failure after the first message) is not seen here and counts as ok.
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32);
    match code {
        tonic::Code::Ok => "ok",
        tonic::Code::Cancelled
        | tonic::Code::InvalidArgument
        | tonic::Code::NotFound
        | tonic::Code::AlreadyExists
        | tonic::Code::PermissionDenied
        | tonic::Code::FailedPrecondition
        | tonic::Code::Aborted
        | tonic::Code::OutOfRange
        | tonic::Code::Unauthenticated => "rejected",
        _ => "failed",
    }
}

/// The gRPC layer (`tonic::transport::Server::layer`) counting partner-service commands.
#[derive(Clone)]
pub struct GrpcCommandLayer(pub CommandCounters);

impl<S> tower::Layer<S> for GrpcCommandLayer {
    type Service = GrpcCommandService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcCommandService {
            inner,
            counters: self.0.clone(),
        }
    }
}

/// See [`GrpcCommandLayer`].
#[derive(Clone)]
pub struct GrpcCommandService<S> {
    inner: S,
    counters: CommandCounters,
}

impl<S, B, RB> tower::Service<axum::http::Request<B>> for GrpcCommandService<S>
where
    S: tower::Service<axum::http::Request<B>, Response = axum::http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let command = grpc_command(request.uri().path()).map(str::to_owned);
        let future = self.inner.call(request);
        let counters = self.counters.clone();
        Box::pin(async move {
            let result = future.await;
            if let Some(command) = command {
                let outcome = match &result {
                    Ok(response) => grpc_outcome(response.headers()),
                    Err(_) => "failed",
                };
                counters.record("grpc", command, outcome);
            }
            result
        })
    }
}

/// The buckets of `ledger_append_duration_seconds`: 0.5 ms, doubling, to 4.096 s (and +Inf).
pub fn append_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0005, 2.0, 14)
}

type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// The process-wide append histogram, with every outcome present from the start (zero counts).
fn append_histogram() -> &'static HistogramFamily {
    static APPENDS: OnceLock<HistogramFamily> = OnceLock::new();
    APPENDS.get_or_init(|| {
        let family: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(append_buckets()));
        for outcome in APPEND_OUTCOMES {
            let _ = family.get_or_create(&outcome_label(outcome));
        }
        family
    })
}

const APPEND_OUTCOMES: [&str; 3] = ["ok", "conflict", "error"];

fn outcome_label(outcome: &str) -> Labels {
    vec![("outcome", outcome.to_owned())]
}

/// When an `eventstore.append` span started, and the outcome it recorded.
struct AppendTiming {
    started: Instant,
    outcome: Option<&'static str>,
}

struct OutcomeVisitor<'a>(&'a mut Option<&'static str>);

impl tracing::field::Visit for OutcomeVisitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "outcome" {
            *self.0 = APPEND_OUTCOMES.into_iter().find(|o| *o == value);
        }
    }

    fn record_debug(&mut self, _field: &tracing::field::Field, _value: &dyn std::fmt::Debug) {}
}

/// Times `eventstore.append` spans into `ledger_append_duration_seconds` (see the module docs).
struct AppendTimer;

impl<S> tracing_subscriber::Layer<S> for AppendTimer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(AppendTiming {
                started: Instant::now(),
                outcome: None,
            });
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id)
            && let Some(timing) = span.extensions_mut().get_mut::<AppendTiming>()
        {
            values.record(&mut OutcomeVisitor(&mut timing.outcome));
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(timing) = span.extensions_mut().remove::<AppendTiming>() else {
            return;
        };
        append_histogram()
            .get_or_create(&outcome_label(timing.outcome.unwrap_or("error")))
            .observe(timing.started.elapsed().as_secs_f64());
    }
}

/// The layer observing `ledger_append_duration_seconds`, filtered to the `eventstore.append` spans (so
/// `RUST_LOG` does not turn it off). `ledger_api::init_telemetry` adds it to the process's subscriber.
pub fn append_timer_layer() -> telemetry::ExtraLayer {
    use tracing_subscriber::Layer as _;
    AppendTimer
        .with_filter(
            tracing_subscriber::filter::filter_fn(|meta| {
                meta.is_span() && meta.name() == "eventstore.append"
            })
            .with_max_level_hint(tracing::Level::INFO),
        )
        .boxed()
}

/// What the `/metrics` handler reads.
#[derive(Clone)]
pub struct MetricsState {
    /// The service's pool (queries and pool counters).
    pub pool: PgPool,
    /// Projector ids known to this binary (listed even when no runner runs here).
    pub projectors: Vec<&'static str>,
    /// The progress of the runners in this process.
    pub progress: BTreeMap<&'static str, watch::Receiver<Progress>>,
    /// Commands counted at the adapters.
    pub commands: CommandCounters,
    /// The progress of the notary in this process (`None`: no notary key configured here).
    pub notary: Option<watch::Receiver<NotaryProgress>>,
}

/// `GET /metrics`.
pub fn router(state: MetricsState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(scrape))
        .with_state(Arc::new(state))
}

type Labels = Vec<(&'static str, String)>;
type IntFamily = Family<Labels, Gauge>;
type FloatFamily = Family<Labels, Gauge<f64, AtomicU64>>;

fn projector_label(id: &str) -> Labels {
    vec![("projector", id.to_owned())]
}

async fn scrape(State(state): State<Arc<MetricsState>>) -> Response {
    let mut registry = Registry::default();
    projector_metrics(&state, &mut registry).await;
    fence_metrics(&state.pool, &mut registry).await;
    notary_metrics(&state, &mut registry).await;
    pool_metrics(&state.pool, &mut registry);
    registry.register(
        "ledger_commands",
        "Commands answered by an adapter, by outcome (ok, rejected, failed)",
        state.commands.total.clone(),
    );
    registry.register_with_unit(
        "ledger_append_duration",
        "Event-store appends as the service sees them, by outcome (ok, conflict, error)",
        Unit::Seconds,
        append_histogram().clone(),
    );
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &registry) {
        Ok(()) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "encoding the metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(sqlx::FromRow)]
struct LagRow {
    projector: String,
    lag_events: i64,
    lag_seconds: f64,
    parked: i64,
}

async fn projector_metrics(state: &MetricsState, registry: &mut Registry) {
    let leader = IntFamily::default();
    for id in state.progress.keys().chain(state.projectors.iter()) {
        let is_leader = state.progress.get(id).is_some_and(|rx| rx.borrow().leader);
        leader
            .get_or_create(&projector_label(id))
            .set(i64::from(is_leader));
    }
    registry.register(
        "ledger_projector_leader",
        "1 if a runner in this process holds the projector's lease",
        leader,
    );

    let ids: Vec<String> = state
        .projectors
        .iter()
        .chain(state.progress.keys())
        .map(|s| (*s).to_owned())
        .collect();
    let rows = sqlx::query_as::<_, LagRow>(sql::PROJECTOR_LAG)
        .bind(&ids)
        .bind(LAG_COUNT_CAP)
        .fetch_all(&state.pool)
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: projector lag query failed; lag and parked omitted");
            return;
        }
    };
    let lag_events = IntFamily::default();
    let lag_seconds = FloatFamily::default();
    let parked = IntFamily::default();
    for row in &rows {
        let labels = projector_label(&row.projector);
        lag_events.get_or_create(&labels).set(row.lag_events);
        lag_seconds.get_or_create(&labels).set(row.lag_seconds);
        parked.get_or_create(&labels).set(row.parked);
    }
    registry.register(
        "ledger_projector_checkpoint_lag_events",
        "Committed events after the projector's checkpoint in the global order (saturates at 1000000)",
        lag_events,
    );
    registry.register(
        "ledger_projector_lag_seconds",
        "Seconds since the next unprocessed event was recorded; 0 when caught up",
        lag_seconds,
    );
    registry.register(
        "ledger_projector_parked_events",
        "Events parked for the projector (all replicas)",
        parked,
    );
}

#[derive(sqlx::FromRow)]
struct HolderRow {
    pid: i32,
    application_name: String,
    database: String,
    xid: String,
    age_seconds: Option<f64>,
}

async fn fence_metrics(pool: &PgPool, registry: &mut Registry) {
    match sqlx::query_scalar::<_, String>(sql::FENCE)
        .fetch_one(pool)
        .await
    {
        Ok(text) => match text.parse::<i64>() {
            Ok(fence) => {
                let gauge: Gauge = Gauge::default();
                gauge.set(fence);
                registry.register(
                    "ledger_log_fence_xid",
                    "The global-order fence: the oldest transaction id still running in the cluster",
                    gauge,
                );
            }
            Err(_) => {
                tracing::warn!(fence = %text, "metrics: the fence is not an integer; omitted")
            }
        },
        Err(e) => tracing::warn!(error = %e, "metrics: fence query failed; omitted"),
    }

    let rows = sqlx::query_as::<_, HolderRow>(sql::FENCE_HOLDERS)
        .bind(FENCE_HOLDERS)
        .fetch_all(pool)
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: fence holders query failed; omitted");
            return;
        }
    };
    let held_by = FloatFamily::default();
    for row in &rows {
        let labels = vec![
            ("application_name", row.application_name.clone()),
            ("pid", row.pid.to_string()),
            ("database", row.database.clone()),
            ("xid", row.xid.clone()),
        ];
        held_by
            .get_or_create(&labels)
            .set(row.age_seconds.unwrap_or(f64::NAN));
    }
    let hold = Gauge::<f64, AtomicU64>::default();
    hold.set(
        rows.first()
            .map_or(0.0, |r| r.age_seconds.unwrap_or(f64::NAN)),
    );
    registry.register(
        "ledger_log_fence_held_by",
        "Backends holding the oldest transaction ids, oldest first (the one whose xid is the fence holds \
         it); value: age of the transaction in seconds (NaN when not visible to the service role)",
        held_by,
    );
    registry.register(
        "ledger_log_fence_hold_seconds",
        "Age of the oldest transaction holding an xid (0 when none)",
        hold,
    );
}

async fn notary_metrics(state: &MetricsState, registry: &mut Registry) {
    // Never hold the watch's lock across an await: copy what is needed.
    let (leader, led) = match &state.notary {
        Some(rx) => {
            let p = rx.borrow();
            (p.leader, p.leader.then(|| p.latest.clone()))
        }
        None => (false, None),
    };
    let gauge: Gauge = Gauge::default();
    gauge.set(i64::from(leader));
    registry.register(
        "ledger_notary_leader",
        "1 if the notary in this process holds the notary lock (it signs the checkpoints)",
        gauge,
    );

    // The leader knows its newest checkpoint; anyone else reads it from the database.
    let latest = match led {
        Some(latest) => latest,
        None => match notary::store::latest(&state.pool).await {
            Ok(latest) => latest,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: newest checkpoint query failed; notary checkpoint metrics omitted");
                return;
            }
        },
    };
    let sequence: Gauge = Gauge::default();
    sequence.set(
        latest
            .as_ref()
            .map_or(0, |c| i64::try_from(c.sequence).unwrap_or(i64::MAX)),
    );
    registry.register(
        "ledger_notary_checkpoint_sequence",
        "Sequence of the newest signed checkpoint (0 before the first)",
        sequence,
    );
    if let Some(cp) = &latest {
        let age = Gauge::<f64, AtomicU64>::default();
        let micros = (chrono::Utc::now() - cp.signed_at)
            .num_microseconds()
            .unwrap_or(i64::MAX);
        age.set(micros.max(0) as f64 / 1e6);
        registry.register(
            "ledger_notary_checkpoint_age_seconds",
            "Seconds since the newest checkpoint was signed",
            age,
        );
    }
    let after = latest
        .as_ref()
        .map_or(eventstore::Token::START, |c| c.token);
    match notary::store::count_after(&state.pool, after).await {
        Ok(n) => {
            let uncovered: Gauge = Gauge::default();
            uncovered.set(i64::try_from(n).unwrap_or(i64::MAX));
            registry.register(
                "ledger_notary_uncovered_events",
                "Committed events after the newest checkpoint (not yet covered by a signature)",
                uncovered,
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: uncovered events query failed; omitted");
        }
    }
}

fn pool_metrics(pool: &PgPool, registry: &mut Registry) {
    let size = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
    let connections = IntFamily::default();
    connections
        .get_or_create(&vec![("state", "idle".to_owned())])
        .set(i64::from(idle));
    connections
        .get_or_create(&vec![("state", "in_use".to_owned())])
        .set(i64::from(size - idle));
    registry.register(
        "ledger_db_pool_connections",
        "Connections of the service's pool by state",
        connections,
    );
    let max: Gauge = Gauge::default();
    max.set(i64::from(pool.options().get_max_connections()));
    registry.register(
        "ledger_db_pool_max_connections",
        "Most connections the service's pool opens",
        max,
    );
}

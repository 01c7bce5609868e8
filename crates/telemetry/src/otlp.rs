//! Spans exported over OTLP/gRPC (opentelemetry-otlp over our tonic), through a batch processor.
//!
//! Policy of this module:
//! - **One export layer per process, exporters come and go.** The `tracing-opentelemetry` layer and its
//!   tracer are process-wide (they live in the global subscriber, [`crate::install`]); what is switched
//!   is the batch span processor behind them. [`OtlpExporter::start`] builds an OTLP exporter and a batch
//!   processor and makes them current; [`OtlpExporter::shutdown`] (or dropping it) takes them out and
//!   exports what is still queued. While no exporter runs, the export layer's filter turns every span
//!   away (one atomic load per callsite visit), so an unconfigured service pays nothing.
//! - **Why not a provider per exporter:** the tracer must be fixed for the subscriber's lifetime (span
//!   parents are looked up through it, and the subscriber is global and cannot be swapped), while the
//!   tonic channel of an exporter belongs to the tokio runtime that built it — in the end-to-end tests a
//!   runtime per test. So the exporter is built in the caller's runtime, and only it is switched.
//! - **Last started wins.** Several services in one process (tests only) share the layer: spans go to the
//!   exporter started last; an exporter that is shut down only clears the switch if it is still the
//!   current one.
//! - **Plain-text gRPC only** (`http://host:port`, e.g. a collector on the same host or pod): the TLS
//!   features of opentelemetry-otlp are not built. `OTEL_EXPORTER_OTLP_HEADERS` and
//!   `OTEL_EXPORTER_OTLP_TIMEOUT` are honoured by the exporter itself; `OTEL_BSP_*` by the batch processor.
//! - **Not exported:** spans and events below `info`; the export path's own transports (`h2`, `hyper`,
//!   `tonic`, `tower`) and OpenTelemetry's diagnostics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SdkTracerProvider, Span, SpanData, SpanExporter as _, SpanProcessor,
};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Filter};

use crate::{ExtraLayer, TelemetryError};

/// Instrumentation scope of the exported spans.
const SCOPE: &str = "volunteer-ledger";

/// How long a shutdown waits for the last batch to be exported.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The processor behind the process-wide tracer: forwards to the current exporter's batch processor.
#[derive(Debug, Default)]
struct Switch {
    active: AtomicBool,
    next_id: AtomicU64,
    current: RwLock<Option<(u64, Arc<BatchSpanProcessor>)>>,
}

impl Switch {
    fn current(&self) -> Option<Arc<BatchSpanProcessor>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(_, p)| p.clone())
    }

    fn set(&self, processor: Arc<BatchSpanProcessor>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some((id, processor));
        self.active.store(true, Ordering::Release);
        // Callsites that were never interesting before may be now.
        tracing::callsite::rebuild_interest_cache();
        id
    }

    /// Clear the switch if `id` is still current.
    fn clear(&self, id: u64) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|(c, _)| *c == id) {
            *current = None;
            self.active.store(false, Ordering::Release);
        }
    }
}

#[derive(Debug)]
struct SwitchProcessor(Arc<Switch>);

impl SpanProcessor for SwitchProcessor {
    fn on_start(&self, span: &mut Span, cx: &opentelemetry::Context) {
        if let Some(p) = self.0.current() {
            p.on_start(span, cx);
        }
    }

    fn on_end(&self, span: SpanData) {
        if let Some(p) = self.0.current() {
            p.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.current().map_or(Ok(()), |p| p.force_flush())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        // Each exporter is shut down by its owner; the process-wide provider outlives them all.
        Ok(())
    }
}

struct Global {
    switch: Arc<Switch>,
    tracer: opentelemetry_sdk::trace::Tracer,
}

fn global() -> &'static Global {
    static GLOBAL: OnceLock<Global> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let switch = Arc::new(Switch::default());
        let provider = SdkTracerProvider::builder()
            .with_span_processor(SwitchProcessor(switch.clone()))
            .build();
        let tracer = provider.tracer(SCOPE);
        Global { switch, tracer }
    })
}

/// The export layer's filter: `info` and above, never the export path itself, and only while an
/// exporter runs (checked per span, so it is never cached as "never" for a callsite that may export).
struct ExportFilter {
    targets: Targets,
    switch: Arc<Switch>,
}

impl ExportFilter {
    fn new(switch: Arc<Switch>) -> Self {
        let targets = Targets::new().with_default(Level::INFO).with_targets([
            ("h2", LevelFilter::OFF),
            ("hyper", LevelFilter::OFF),
            ("hyper_util", LevelFilter::OFF),
            ("tonic", LevelFilter::OFF),
            ("tower", LevelFilter::OFF),
            ("opentelemetry", LevelFilter::OFF),
            ("opentelemetry_sdk", LevelFilter::OFF),
            ("opentelemetry_otlp", LevelFilter::OFF),
            ("sqlx", LevelFilter::WARN),
        ]);
        ExportFilter { targets, switch }
    }
}

impl<S> Filter<S> for ExportFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        self.switch.active.load(Ordering::Acquire)
            && self.targets.would_enable(meta.target(), meta.level())
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.targets.would_enable(meta.target(), meta.level()) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::INFO)
    }
}

/// The export layer of the process's subscriber (see the module docs).
pub(crate) fn export_layer() -> ExtraLayer {
    let g = global();
    tracing_opentelemetry::layer()
        .with_tracer(g.tracer.clone())
        .with_filter(ExportFilter::new(g.switch.clone()))
        .boxed()
}

/// Check an OTLP/gRPC endpoint: `http://host:port` (a path is not used by gRPC).
pub fn parse_endpoint(endpoint: &str) -> Result<String, TelemetryError> {
    // The value is echoed to help with typos, unless it may hold credentials.
    let shown = if endpoint.contains('@') {
        "the endpoint".to_owned()
    } else {
        format!("{endpoint:?}")
    };
    let bad = |reason: &str| Err(TelemetryError::Endpoint(format!("{shown}: {reason}")));
    let Ok(uri) = endpoint.trim().parse::<http::Uri>() else {
        return bad("not a URL (expected http://host:port)");
    };
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return bad(
                "TLS is not built into this service: export in plain text to a collector on the \
                 same host or pod (http://host:port)",
            );
        }
        _ => return bad("the scheme must be http:// (OTLP over gRPC)"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return bad("no host");
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return bad(
            "credentials do not belong in the URL: send them with OTEL_EXPORTER_OTLP_HEADERS",
        );
    }
    Ok(uri.to_string().trim_end_matches('/').to_owned())
}

/// A running OTLP exporter: spans of this process go to its endpoint until it is shut down or dropped.
#[derive(Debug)]
pub struct OtlpExporter {
    id: u64,
    endpoint: String,
    processor: Arc<BatchSpanProcessor>,
}

impl OtlpExporter {
    /// Export spans to `endpoint` (see [`parse_endpoint`]) as service `service_name`. Must run inside a
    /// tokio runtime, which must outlive the exporter (the gRPC channel runs on it). Nothing is exported
    /// unless this crate's subscriber is installed ([`crate::install`]): that is an error.
    pub fn start(endpoint: &str, service_name: &str) -> Result<Self, TelemetryError> {
        let endpoint = parse_endpoint(endpoint)?;
        if !crate::is_installed() {
            return Err(TelemetryError::ForeignSubscriber);
        }
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        exporter.set_resource(
            &Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        );
        let processor = Arc::new(BatchSpanProcessor::builder(exporter).build());
        let id = global().switch.set(processor.clone());
        tracing::info!(endpoint = %endpoint, service_name, "exporting spans over OTLP/gRPC");
        Ok(OtlpExporter {
            id,
            endpoint,
            processor,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Export what is queued now (spans ended so far).
    pub async fn flush(&self) -> Result<(), TelemetryError> {
        let processor = self.processor.clone();
        // Blocking: it waits for the export, whose gRPC channel needs this runtime to make progress.
        tokio::task::spawn_blocking(move || processor.force_flush())
            .await
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?
            .map_err(|e| TelemetryError::Exporter(e.to_string()))
    }

    /// Stop exporting (spans ended from now on are dropped unless another exporter runs) and export
    /// what is queued.
    pub async fn shutdown(self) -> Result<(), TelemetryError> {
        global().switch.clear(self.id);
        let processor = self.processor.clone();
        tokio::task::spawn_blocking(move || processor.shutdown_with_timeout(SHUTDOWN_TIMEOUT))
            .await
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?
            .map_err(|e| TelemetryError::Exporter(e.to_string()))
    }
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        // Without a shutdown (a service dropped without draining): stop sending spans to it. Its worker
        // thread ends when the processor is dropped.
        global().switch.clear(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_plain_grpc_urls_with_a_host() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:4317/").ok().as_deref(),
            Some("http://127.0.0.1:4317")
        );
        assert_eq!(
            parse_endpoint("http://otel-collector:4317").ok().as_deref(),
            Some("http://otel-collector:4317")
        );
        for bad in [
            "https://collector:4317",
            "collector:4317",
            "grpc://collector:4317",
            "",
            "http://",
            "http://user:secret@collector:4317",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
    }
}

//! W3C trace context (`traceparent`, `tracestate`) on incoming calls, HTTP headers and gRPC metadata
//! alike (tonic's `MetadataMap::as_ref()` is the `http::HeaderMap`).
//!
//! Policy of this module:
//! - **The caller's trace is continued.** [`server_span`] makes the request span a child of the caller's
//!   `traceparent` (parsed by OpenTelemetry's [`TraceContextPropagator`]; a malformed one is ignored, as
//!   the W3C recommendation says, and the request starts a new trace).
//! - **The trace id is the correlation id** when the caller sent none: [`correlation_trace_id`] is the
//!   caller's trace id (32 lowercase hex digits), even when no exporter runs; failing that, the trace this
//!   process started for the request while an exporter runs; else nothing. An explicit correlation id of
//!   the caller always wins (the adapters check it first).
//! - **Ids only on the request span:** the transport, the route template or gRPC method, the HTTP method,
//!   and `trace_id` (the caller's trace, else the exported span's own; absent when there is neither), so
//!   that JSON log lines of a request can be joined to its trace; never the path as sent, the query
//!   string or any header value.

use http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::{TraceContextExt as _, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The W3C trace-context header a caller sends.
pub const TRACEPARENT: &str = "traceparent";

/// Reads propagation headers out of an `http::HeaderMap` (values that are not visible ASCII are absent,
/// and so is a `traceparent` whose fields do not have the W3C lengths: the propagator is lenient there).
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(key).and_then(|v| v.to_str().ok())?;
        (!key.eq_ignore_ascii_case(TRACEPARENT) || well_formed(value.trim())).then_some(value)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// `version-traceid-parentid-flags` with 2, 32, 16 and 2 lowercase hex digits (later versions may append
/// fields after another `-`).
fn well_formed(traceparent: &str) -> bool {
    let mut fields = traceparent.split('-');
    [2, 32, 16, 2].iter().all(|&len| {
        fields.next().is_some_and(|f| {
            f.len() == len
                && f.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    })
}

/// The caller's trace context (an empty context when there is no valid `traceparent`).
pub fn incoming(headers: &HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&Headers(headers))
}

/// The caller's trace id, when it sent a valid `traceparent`.
pub fn incoming_trace_id(headers: &HeaderMap) -> Option<TraceId> {
    let cx = incoming(headers);
    let span = cx.span();
    let sc = span.span_context();
    (sc.is_valid() && sc.is_remote()).then(|| sc.trace_id())
}

/// The trace id of the current span, when it is exported (an exporter runs and the span is recorded).
pub fn current_trace_id() -> Option<TraceId> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id())
}

/// The correlation id of a command whose caller sent none: the caller's trace id, else the trace this
/// process started for the current request (only while spans are exported). 32 lowercase hex digits.
pub fn correlation_trace_id(headers: &HeaderMap) -> Option<String> {
    incoming_trace_id(headers)
        .or_else(current_trace_id)
        .map(|id| id.to_string())
}

/// The transport of a request span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    Grpc,
}

/// The span of one incoming call, a child of the caller's `traceparent` when it sent one.
///
/// `operation` is the route template (`POST /api/v1/teams`) or the gRPC method
/// (`volunteer_ledger.v1.ActivityService/RecordActivity`); it names the exported span. The HTTP status
/// is recorded later with `span.record("http.response.status_code", …)` by the caller.
pub fn server_span(transport: Transport, operation: &str, headers: &HeaderMap) -> tracing::Span {
    let span = match transport {
        Transport::Http => tracing::info_span!(
            "http.request",
            otel.name = operation,
            otel.kind = "server",
            http.route = operation,
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        ),
        Transport::Grpc => tracing::info_span!(
            "grpc.request",
            otel.name = operation,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = operation,
            trace_id = tracing::field::Empty,
        ),
    };
    let parent = incoming(headers);
    let remote = parent.span().span_context().clone();
    if remote.is_valid() {
        // Fails only when the span is not exported (no exporter, or filtered out): nothing to parent then.
        let _ = span.set_parent(parent);
    }
    let trace_id = if remote.is_valid() && remote.is_remote() {
        Some(remote.trace_id())
    } else {
        let cx = span.context();
        let own = cx.span().span_context().clone();
        own.is_valid().then(|| own.trace_id())
    };
    if let Some(id) = trace_id {
        span.record("trace_id", tracing::field::display(id));
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_valid_traceparent_gives_its_trace_id_as_correlation_id() {
        let h = headers(&[(
            TRACEPARENT,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )]);
        assert_eq!(
            correlation_trace_id(&h).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }

    #[test]
    fn a_malformed_or_missing_traceparent_gives_no_correlation_id_without_an_exporter() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "not a traceparent",
        ] {
            assert_eq!(
                correlation_trace_id(&headers(&[(TRACEPARENT, bad)])),
                None,
                "{bad}"
            );
        }
        assert_eq!(correlation_trace_id(&HeaderMap::new()), None);
    }
}

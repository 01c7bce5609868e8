//! # telemetry — tracing for the Volunteer Ledger binaries
//!
//! One `tracing` subscriber per process, shared by the binaries and by the end-to-end tests that start
//! the service in-process:
//! - **logs** ([`LogFormat`]): human-readable text (the default) or one JSON object per line, filtered by
//!   `RUST_LOG` (default [`DEFAULT_LOG_FILTER`]);
//! - **spans exported over OTLP/gRPC** ([`OtlpExporter`]) while an exporter is started: the export layer
//!   is always part of the subscriber, and is switched on and off with the exporter (see [`otlp`]);
//! - **extra layers** of the caller (the service's append-latency histogram), each with its own filter.
//!
//! W3C trace context ([`context`]): the request span of each call is a child of the caller's
//! `traceparent`, and its trace id is the command's correlation id when the caller sent none.
//!
//! Policy of this crate:
//! - **Installed once, never replaced.** [`install`] sets the global subscriber the first time; later calls
//!   change nothing (a second `start` in the same process, the tests). If another global subscriber is
//!   already set, [`install`] says so and the process runs without ours.
//! - **Every layer has its own filter**, so `RUST_LOG` only governs what is logged: spans are exported at
//!   `info` and above whatever `RUST_LOG` says, and an extra layer sees what its own filter lets through.
//! - **The exporter never exports itself.** The transports it uses (`h2`, `hyper`, `tonic`, `tower`) and
//!   OpenTelemetry's own diagnostics are never exported (they are still logged as `RUST_LOG` says).
//! - **Ids only.** Span and event fields name streams, versions, commands, routes and methods; callers
//!   must never record payloads, personal data, tokens, raw URLs or query strings (this crate records
//!   the route template and the gRPC method, never the path as sent).

pub mod context;
pub mod otlp;

use std::io::IsTerminal as _;
use std::sync::OnceLock;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, Registry};

pub use otlp::OtlpExporter;

/// What is logged when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn";

/// A layer of the process's subscriber besides the logs and the export (it brings its own filter).
pub type ExtraLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// How log lines are written (`LEDGER_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (colours only on a terminal).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with `message`), `span`.
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LogFormat {
    type Err = TelemetryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(TelemetryError::LogFormat(s.to_owned())),
        }
    }
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("{0:?} is not a log format: expected `text` or `json`")]
    LogFormat(String),
    #[error("RUST_LOG: {0}")]
    LogFilter(String),
    #[error(
        "another global tracing subscriber is installed; this process logs and exports through it"
    )]
    ForeignSubscriber,
    #[error("{0}")]
    Endpoint(String),
    #[error("OTLP exporter: {0}")]
    Exporter(String),
}

/// Whether [`install`] set the global subscriber now or found ours already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    Now,
    Already,
}

static INSTALLED: OnceLock<()> = OnceLock::new();

/// Whether this crate's subscriber is the process's global one.
pub fn is_installed() -> bool {
    INSTALLED.get().is_some()
}

/// The log layer: text or JSON lines to `writer`, unfiltered (the caller adds the filter).
pub fn log_layer<S, W>(format: LogFormat, writer: W, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(ansi)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(writer)
            .boxed(),
    }
}

/// The filter of the logs: `RUST_LOG` when set (an invalid value is an error naming it), else
/// [`DEFAULT_LOG_FILTER`].
pub fn log_filter() -> Result<EnvFilter, TelemetryError> {
    match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::builder()
            .parse(&directives)
            .map_err(|e| TelemetryError::LogFilter(e.to_string())),
        _ => Ok(EnvFilter::new(DEFAULT_LOG_FILTER)),
    }
}

/// Install the process's global subscriber: logs to stdout in `logs` format (none when `None`: a test
/// process, or a library start without a binary), the OTLP export layer, and `extra` layers.
///
/// Idempotent: once ours is installed, later calls return [`Installed::Already`] and drop `extra`.
pub fn install(
    logs: Option<LogFormat>,
    extra: Vec<ExtraLayer>,
) -> Result<Installed, TelemetryError> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if is_installed() {
        return Ok(Installed::Already);
    }
    let mut layers: Vec<ExtraLayer> = Vec::with_capacity(extra.len() + 2);
    if let Some(format) = logs {
        let ansi = format == LogFormat::Text && std::io::stdout().is_terminal();
        layers.push(
            log_layer(format, std::io::stdout, ansi)
                .with_filter(log_filter()?)
                .boxed(),
        );
    }
    layers.push(otlp::export_layer());
    layers.extend(extra);
    // The global dispatcher only: `log` records (none of our dependencies on the serving path uses
    // `log`) are not bridged, so a `log` logger set elsewhere does not stop this.
    tracing::subscriber::set_global_default(Registry::default().with(layers))
        .map_err(|_| TelemetryError::ForeignSubscriber)?;
    let _ = INSTALLED.set(());
    Ok(Installed::Now)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// A `MakeWriter` into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn json_logs_are_one_object_per_line_with_level_target_and_message() {
        let buffer = Buffer::default();
        let subscriber =
            Registry::default().with(log_layer(LogFormat::Json, buffer.clone(), false));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("ledger.command", command = "RecordActivity");
            let _entered = span.enter();
            tracing::info!(stream_id = "activity-1", version = 3, "command applied");
            tracing::warn!(target: "ledger::test", "second\nline in one record");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "one line per event: {text}");
        let first: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON object");
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["target"], module_path!());
        assert_eq!(first["fields"]["message"], "command applied");
        assert_eq!(first["fields"]["stream_id"], "activity-1");
        assert_eq!(first["fields"]["version"], 3);
        assert_eq!(first["span"]["name"], "ledger.command");
        assert_eq!(first["span"]["command"], "RecordActivity");
        let second: serde_json::Value = serde_json::from_str(lines[1]).expect("a JSON object");
        assert_eq!(second["level"], "WARN");
        assert_eq!(second["target"], "ledger::test");
        assert_eq!(second["fields"]["message"], "second\nline in one record");
    }

    #[test]
    fn json_log_lines_of_a_request_carry_the_callers_trace_id_in_nested_spans() {
        let buffer = Buffer::default();
        let subscriber =
            Registry::default().with(log_layer(LogFormat::Json, buffer.clone(), false));
        let mut headers = http::HeaderMap::new();
        headers.insert(
            context::TRACEPARENT,
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        tracing::subscriber::with_default(subscriber, || {
            {
                let request =
                    context::server_span(context::Transport::Http, "POST /api/v1/teams", &headers);
                let _request = request.enter();
                let command = tracing::info_span!("ledger.command", command = "RegisterTeam");
                let _command = command.enter();
                tracing::info!("command applied");
            }
            // Without a traceparent and without an exporter there is no trace: no trace id.
            let other = context::server_span(
                context::Transport::Grpc,
                "volunteer_ledger.v1.TeamService/RegisterTeam",
                &http::HeaderMap::new(),
            );
            let _other = other.enter();
            tracing::info!("untraced");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON object"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["span"]["name"], "ledger.command");
        assert_eq!(lines[0]["spans"][0]["name"], "http.request");
        assert_eq!(
            lines[0]["spans"][0]["trace_id"],
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(lines[0]["spans"][1]["command"], "RegisterTeam");
        assert_eq!(lines[1]["spans"][0]["name"], "grpc.request");
        assert!(lines[1]["spans"][0].get("trace_id").is_none(), "{text}");
    }

    #[test]
    fn text_logs_are_plain_lines() {
        let buffer = Buffer::default();
        let subscriber =
            Registry::default().with(log_layer(LogFormat::Text, buffer.clone(), false));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(version = 3, "command applied");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains(" INFO "), "{text}");
        assert!(text.contains("command applied version=3"), "{text}");
        assert!(serde_json::from_str::<serde_json::Value>(text.trim()).is_err());
    }

    #[test]
    fn log_formats_parse_by_name_and_refuse_others() {
        assert_eq!("text".parse::<LogFormat>().unwrap(), LogFormat::Text);
        assert_eq!(" JSON ".parse::<LogFormat>().unwrap(), LogFormat::Json);
        let err = "xml".parse::<LogFormat>().unwrap_err().to_string();
        assert!(err.contains("`text` or `json`"), "{err}");
    }
}

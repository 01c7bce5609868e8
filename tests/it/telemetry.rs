//! Telemetry of the real service (issue #7): spans of one call exported over OTLP to an in-process
//! receiver (opentelemetry-proto's tonic `TraceService`), the caller's W3C trace id as the command's
//! correlation id in the event metadata, and the append-latency histogram at `/metrics`.
//!
//! Why this works in a test binary that runs many services in parallel: the tracing subscriber is
//! process-wide, so `ledger_api::start` installs the service's subscriber once (idempotently, without
//! log output) and its OTLP export layer is always there but idle. Starting a service with
//! `--otel-exporter-otlp-endpoint` switches a batch exporter on, built in that test's runtime;
//! `Running::shutdown` exports what is queued and switches it off (`telemetry::otlp`). Other tests'
//! spans may reach this receiver while the switch is on; the assertions only look at the trace this
//! test started (a random trace id), so they are not disturbed — and only one test here exports. The
//! append histogram is process-wide too: the metrics test asserts on increases, never on totals.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::Role;
use clap::Parser;
use grpc_api::pb;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use pb::activity_service_client::ActivityServiceClient;
use pb::volunteer_service_client::VolunteerServiceClient;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tonic::Request;
use tonic::transport::Channel;

use crate::api_support::TestService;
use crate::support::{TEST_HASH_KEY, TEST_MASTER_KEY, resident_id};

const DEADLINE: Duration = Duration::from_secs(30);

/// A span as received, with the `service.name` of its resource.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

/// The in-process OTLP trace receiver: keeps every span and wakes waiters on each export.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
}

fn text(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(kv.value.as_ref()))
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| attribute(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    received.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        self.spans.lock().unwrap().extend(received);
        self.arrived.notify_waiters();
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    /// Serve on an ephemeral port; the endpoint to export to.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .unwrap();
        });
        format!("http://{addr}")
    }

    /// The spans of `trace_id` once `done` holds for them (waits on exports, never sleeps).
    async fn trace(&self, trace_id: &[u8], done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let of_trace = || -> Vec<Received> {
            self.spans
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.span.trace_id == trace_id)
                .cloned()
                .collect()
        };
        let wait = async {
            loop {
                let arrived = self.arrived.notified();
                let spans = of_trace();
                if done(&spans) {
                    return spans;
                }
                arrived.await;
            }
        };
        match tokio::time::timeout(DEADLINE, wait).await {
            Ok(spans) => spans,
            Err(_) => {
                let names: Vec<String> = of_trace().into_iter().map(|r| r.span.name).collect();
                panic!(
                    "the spans of the trace did not all arrive within {DEADLINE:?}; of this trace: \
                     {names:?}; {} spans received in all",
                    self.all().len()
                )
            }
        }
    }

    fn all(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }
}

fn named<'a>(spans: &'a [Received], name: &str) -> &'a Span {
    let found: Vec<&Received> = spans.iter().filter(|r| r.span.name == name).collect();
    assert_eq!(found.len(), 1, "one span named {name}: {spans:#?}");
    &found[0].span
}

fn bytes(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text).unwrap()
}

fn authed<T>(bearer: &str, message: T) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut()
        .insert("authorization", bearer.parse().unwrap());
    r
}

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A fresh W3C trace id (32 lowercase hex digits).
fn trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The event metadata of the newest event of `stream`.
async fn metadata(svc: &TestService, stream: &str) -> Value {
    let events = svc.ledger().store().read_stream(stream).await.unwrap();
    serde_json::from_str(&events.last().unwrap().metadata).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_receives_the_spans_of_one_record_activity_call_with_the_correlation_id_in_the_event()
{
    let receiver = Receiver::default();
    let endpoint = receiver.start().await;
    let svc = TestService::start_with(&[
        "--demo",
        "--otel-exporter-otlp-endpoint",
        &endpoint,
        "--otel-service-name",
        "ledger-api-otlp-test",
    ])
    .await;
    let ch = Channel::from_shared(svc.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let cdc = svc.dev_bearer(Role::CountyCdc); // 330602 越城区
    let mut volunteers = VolunteerServiceClient::new(ch.clone());
    let mut activities = ActivityServiceClient::new(ch);

    // A volunteer (personal data: name and ID number) joins the demo's 越城区 team.
    let team = app::demo::demo_team(1).0.to_string();
    let volunteer = key();
    let name = format!("遥测测试{}", &volunteer[..6]);
    let document = resident_id("330602", "19880808", "417");
    volunteers
        .register_volunteer(authed(
            &cdc,
            pb::RegisterVolunteerRequest {
                idempotency_key: key(),
                volunteer_id: volunteer.clone(),
                document_kind: pb::DocumentKind::ResidentIdCard.into(),
                document_number: document.clone(),
                declared_birth_date: None,
                name: name.clone(),
                phone: None,
                home_region: "330602".to_owned(),
                attestation: Some(pb::Attestation {
                    law_abiding: true,
                    capable: true,
                    understands_tb_core_messages: true,
                }),
                skills: vec![],
                reserve_tier: pb::ReserveTier::None.into(),
                registered_on: "2025-01-10".to_owned(),
            },
        ))
        .await
        .unwrap();
    volunteers
        .join_team(authed(
            &cdc,
            pb::JoinTeamRequest {
                idempotency_key: key(),
                volunteer_id: volunteer.clone(),
                team_id: team.clone(),
                joined_on: "2025-01-10".to_owned(),
            },
        ))
        .await
        .unwrap();

    // One RecordActivity, continuing the caller's trace; no x-correlation-id.
    let trace = trace_id();
    let caller_span = "00f067aa0ba902b7";
    let mut call = authed(
        &cdc,
        pb::RecordActivityRequest {
            idempotency_key: key(),
            activity_id: key(),
            details: Some(pb::ActivityDetails {
                team_id: team,
                kind: pb::ActivityKind::KeyDayCampaign.into(),
                key_day: Some(pb::KeyDay::VolunteerDay.into()),
                date: "2025-03-05".to_owned(),
                start_time: Some("09:00".to_owned()),
                end_time: Some("11:30".to_owned()),
                place: "越城区府山街道社区服务中心".to_owned(),
                grid: None,
                participants: vec![pb::Participant {
                    volunteer_id: volunteer.clone(),
                    minutes: 150,
                }],
                people_reached: 120,
                media_pieces: 0,
                materials_distributed: 80,
                record: Some(pb::ActivityRecord {
                    recorder: Some(pb::activity_record::Recorder::RecorderVolunteerId(
                        volunteer.clone(),
                    )),
                    content: "志愿者日结核病防治知识宣传".to_owned(),
                    summary: "发放资料，现场咨询".to_owned(),
                    attachments: vec![],
                }),
            }),
        },
    );
    call.metadata_mut().insert(
        "traceparent",
        format!("00-{trace}-{caller_span}-01").parse().unwrap(),
    );
    let done = activities
        .record_activity(call)
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();

    // The event carries the trace id as its correlation id.
    let meta = metadata(&svc, &done.stream_id).await;
    assert_eq!(meta["correlation_id"], json!(trace), "{meta}");
    assert_eq!(meta["command"], "RecordActivity", "{meta}");

    // Draining the service exports the queued spans; then the receiver has the whole trace.
    svc.stop().await;
    let spans = receiver
        .trace(&bytes(&trace), |spans| {
            ["ledger.command", "eventstore.append"]
                .iter()
                .all(|n| spans.iter().any(|r| r.span.name == *n))
                && spans
                    .iter()
                    .any(|r| r.span.name.ends_with("/RecordActivity"))
        })
        .await;

    // The request span is the child of the caller's span, the command of the request (possibly through
    // intermediate spans), the append of the command; all of one trace, as this service.
    let request = named(&spans, "volunteer_ledger.v1.ActivityService/RecordActivity");
    let command = named(&spans, "ledger.command");
    let append = named(&spans, "eventstore.append");
    assert_eq!(request.parent_span_id, bytes(caller_span));
    assert_eq!(
        request.kind,
        opentelemetry_proto::tonic::trace::v1::span::SpanKind::Server as i32
    );
    assert_eq!(
        attribute(&request.attributes, "rpc.system").as_deref(),
        Some("grpc")
    );
    // The request span names its trace (what JSON log lines of the request carry).
    assert_eq!(
        attribute(&request.attributes, "trace_id").as_deref(),
        Some(trace.as_str())
    );
    let parent_of = |span: &Span| {
        spans
            .iter()
            .find(|r| r.span.span_id == span.parent_span_id)
            .map(|r| &r.span)
    };
    let mut up = command;
    while up.span_id != request.span_id {
        up = parent_of(up)
            .unwrap_or_else(|| panic!("the command span descends from the request: {spans:#?}"));
    }
    assert_eq!(append.parent_span_id, command.span_id);
    assert_eq!(
        attribute(&command.attributes, "command").as_deref(),
        Some("RecordActivity")
    );
    assert_eq!(
        attribute(&command.attributes, "stream_id").as_deref(),
        Some(done.stream_id.as_str())
    );
    assert_eq!(
        attribute(&append.attributes, "stream_id").as_deref(),
        Some(done.stream_id.as_str())
    );
    assert_eq!(
        attribute(&append.attributes, "outcome").as_deref(),
        Some("ok")
    );
    for r in &spans {
        assert_eq!(r.service, "ledger-api-otlp-test", "{:?}", r.span.name);
    }

    // Ids only: the volunteer's name and ID number are in no exported span of any trace.
    for r in receiver.all() {
        let texts = r
            .span
            .attributes
            .iter()
            .chain(r.span.events.iter().flat_map(|e| e.attributes.iter()))
            .filter_map(|kv| text(kv.value.as_ref()))
            .chain(std::iter::once(r.span.name.clone()))
            .chain(r.span.events.iter().map(|e| e.name.clone()));
        for t in texts {
            assert!(
                !t.contains(&name) && !t.contains(&document),
                "personal data in span {}: {t}",
                r.span.name
            );
        }
    }
}

async fn post_host_unit(svc: &TestService, bearer: &str, headers: &[(&str, &str)]) -> String {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1/host-units", svc.http))
        .header("authorization", bearer)
        .header("idempotency-key", key())
        .json(
            &json!({"host_unit_id": uuid::Uuid::new_v4(), "kind": "tb_free_community_pilot",
                      "pilot_level": "city", "name": "越城区无结核社区试点", "region": "330602"}),
        );
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["stream_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rest_writes_take_the_traceparent_trace_id_as_correlation_id_unless_one_is_sent() {
    let svc = TestService::start_with_demo().await;
    let county = svc.dev_bearer(Role::CountyCdc);

    let trace = trace_id();
    let traceparent = format!("00-{trace}-b7ad6b7169203331-01");
    let stream = post_host_unit(&svc, &county, &[("traceparent", &traceparent)]).await;
    assert_eq!(
        metadata(&svc, &stream).await["correlation_id"],
        json!(trace)
    );

    // A correlation id the client sends wins over the trace id.
    let stream = post_host_unit(
        &svc,
        &county,
        &[
            ("traceparent", &traceparent),
            ("x-correlation-id", "partner-batch-9"),
        ],
    )
    .await;
    assert_eq!(
        metadata(&svc, &stream).await["correlation_id"],
        "partner-batch-9"
    );

    // A malformed traceparent is ignored: no correlation id (and no exporter runs in this service).
    let stream = post_host_unit(
        &svc,
        &county,
        &[("traceparent", "00-xyz-b7ad6b7169203331-01")],
    )
    .await;
    let meta = metadata(&svc, &stream).await;
    assert!(meta.get("correlation_id").is_none(), "{meta}");
    svc.stop().await;
}

/// `name{labels} value` samples of `/metrics` whose labels contain `outcome="<outcome>"`.
fn samples(body: &str, name: &str, outcome: &str) -> Vec<(String, f64)> {
    let label = format!("outcome=\"{outcome}\"");
    body.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
        .filter(|l| l.contains(&label))
        .map(|l| {
            let (labels, value) = l.rsplit_once("} ").unwrap();
            (labels.to_owned(), value.trim().parse().unwrap())
        })
        .collect()
}

async fn scrape(svc: &TestService) -> String {
    let response = reqwest::get(format!("{}/metrics", svc.http)).await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_show_the_append_latency_histogram_by_outcome_after_a_write() {
    let svc = TestService::start_with_demo().await;
    let county = svc.dev_bearer(Role::CountyCdc);
    let before = scrape(&svc).await;
    let count = |body: &str| samples(body, "ledger_append_duration_seconds_count", "ok")[0].1;
    let ok_before = count(&before);

    post_host_unit(&svc, &county, &[]).await;

    let body = scrape(&svc).await;
    assert!(
        body.contains("# TYPE ledger_append_duration_seconds histogram"),
        "{body}"
    );
    assert!(
        body.contains("# UNIT ledger_append_duration_seconds seconds"),
        "{body}"
    );
    // Every outcome is present, with the buckets from 0.5 ms to ~4 s and +Inf.
    for outcome in ["ok", "conflict", "error"] {
        let buckets = samples(&body, "ledger_append_duration_seconds_bucket", outcome);
        let bounds: Vec<&str> = buckets
            .iter()
            .map(|(labels, _)| {
                labels
                    .split("le=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(bounds.len(), 15, "{outcome}: {bounds:?}\n{body}");
        assert_eq!(
            bounds[0].parse::<f64>().ok(),
            Some(0.0005),
            "{bounds:?}\n{body}"
        );
        assert!(
            (4.0..=5.0).contains(&bounds[13].parse::<f64>().unwrap()),
            "{bounds:?}"
        );
        assert_eq!(bounds[14], "+Inf");
    }
    // The write was observed: the ok count went up, and +Inf holds every observation.
    let ok = samples(&body, "ledger_append_duration_seconds_bucket", "ok");
    let total = count(&body);
    assert!(
        total > ok_before,
        "ok appends before {ok_before}, after {total}"
    );
    assert_eq!(ok.last().unwrap().1, total);
    assert!(
        ok.windows(2).all(|w| w[0].1 <= w[1].1),
        "cumulative: {ok:?}"
    );
    let sum = samples(&body, "ledger_append_duration_seconds_sum", "ok")[0].1;
    assert!(sum > 0.0, "{sum}");
    svc.stop().await;
}

fn config(extra: &[&str]) -> Result<ledger_api::Config, clap::Error> {
    let mut args = vec![
        "ledger-api",
        "--database-url",
        "postgres://ledger_app@127.0.0.1:1/none",
        "--master-key",
        TEST_MASTER_KEY,
        "--hash-key",
        TEST_HASH_KEY,
        "--jwt-hs256-secret",
        "0123456789abcdef0123456789abcdef",
    ];
    args.extend_from_slice(extra);
    ledger_api::Config::try_parse_from(args)
}

async fn start_error(extra: &[&str]) -> String {
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    match ledger_api::start(config(extra).unwrap(), http, grpc).await {
        Ok(_) => panic!("the service started with a bad telemetry configuration"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn telemetry_settings_are_validated_at_start_naming_the_variable() {
    let defaults = config(&[]).unwrap();
    assert_eq!(defaults.log_format, telemetry_format("text"));
    assert_eq!(defaults.otel_exporter_otlp_endpoint, None);
    assert_eq!(defaults.otel_service_name, "ledger-api");
    assert_eq!(
        config(&["--log-format", "json"]).unwrap().log_format,
        telemetry_format("json")
    );
    let err = config(&["--log-format", "xml"]).unwrap_err().to_string();
    assert!(err.contains("LEDGER_LOG_FORMAT"), "{err}");

    for (endpoint, why) in [
        ("https://collector:4317", "TLS"),
        ("collector:4317", "http://"),
        (
            "http://user:secret@collector:4317",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ),
    ] {
        let err = start_error(&["--otel-exporter-otlp-endpoint", endpoint]).await;
        assert!(err.starts_with("OTEL_EXPORTER_OTLP_ENDPOINT:"), "{err}");
        assert!(err.contains(why), "{err}");
        assert!(!err.contains("secret@"), "no credentials echoed: {err}");
    }
    let err = start_error(&["--otel-service-name", " "]).await;
    assert!(err.starts_with("OTEL_SERVICE_NAME:"), "{err}");
}

fn telemetry_format(name: &str) -> ledger_api::LogFormat {
    name.parse().unwrap()
}

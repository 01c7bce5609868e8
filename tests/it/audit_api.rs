//! Auditor and supervisor access through both APIs (#6 part 1 and 4, #5 read model 5 / A20, #7 notary
//! metric), against the real service: its notary signs checkpoints while commands arrive; the checkpoint
//! served over REST verifies with the public key served at the well-known path; the status shows nothing
//! uncovered once the notary caught up; the audit history filtered by actor, record, correlation id and
//! time answers exactly the expected events over REST and gRPC, paged, scoped to the caller's regions;
//! roles without the permission are refused; bad parameters name their field; `/metrics` shows the
//! notary's checkpoint age.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use app::{Actor, Role};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::ids::RegionCode;
use grpc_api::pb;
use pb::audit_service_client::AuditServiceClient;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::api_support::TestService;
use crate::support::{count_events, within};

const DEADLINE: Duration = Duration::from_secs(30);

/// A fresh notary key in a file of its own; removed when dropped.
struct KeyFile {
    path: PathBuf,
    key: notary::NotaryKey,
}

impl KeyFile {
    fn new() -> KeyFile {
        let key = notary::NotaryKey::generate().unwrap();
        let path = std::env::temp_dir().join(format!("vl-notary-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&path, key.to_pem().unwrap()).unwrap();
        KeyFile { path, key }
    }

    fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn county_cdc(code: &str) -> Actor {
    Actor {
        subject: format!("acct-cdc-{code}"),
        role: Role::CountyCdc,
        regions: vec![RegionCode::parse("r", code).unwrap()],
        teams: vec![],
        grants: vec![],
    }
}

fn supervisor_of(code: &str) -> Actor {
    Actor {
        subject: format!("acct-supervisor-{code}"),
        role: Role::Supervisor,
        regions: vec![RegionCode::parse("r", code).unwrap()],
        teams: vec![],
        grants: vec![],
    }
}

// ---------------------------------------------------------------------------------------------------------
// REST client
// ---------------------------------------------------------------------------------------------------------

struct Api {
    http: Client,
    base: String,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
    body: Value,
}

impl Answer {
    #[track_caller]
    fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        &self.body
    }

    #[track_caller]
    fn problem(&self, status: u16, code: &str, field: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.headers.get("content-type").unwrap(),
            "application/problem+json"
        );
        assert_eq!(self.body["code"], code, "{}", self.text);
        if let Some(f) = field {
            assert_eq!(self.body["field"], f, "{}", self.text);
        }
    }
}

impl Api {
    fn new(svc: &TestService) -> Api {
        Api {
            http: Client::new(),
            base: svc.http.clone(),
        }
    }

    async fn answer(res: reqwest::Response) -> Answer {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// `GET path?query` (the query URL-encoded), with a bearer token when given.
    async fn get(&self, path: &str, bearer: Option<&str>, query: &[(&str, &str)]) -> Answer {
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let url = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{}", self.base, query.join("&"))
        };
        let mut req = self.http.get(url);
        if let Some(b) = bearer {
            req = req.header("authorization", b);
        }
        Self::answer(req.send().await.unwrap()).await
    }

    /// Register a host unit (a designated TB hospital) in `region`, carrying `correlation`.
    async fn host_unit(&self, bearer: &str, region: &str, correlation: &str) -> Value {
        let res = self
            .http
            .post(format!("{}/api/v1/host-units", self.base))
            .header("authorization", bearer)
            .header("idempotency-key", key())
            .header("x-correlation-id", correlation)
            .json(
                &json!({"host_unit_id": key(), "kind": "designated_tb_hospital",
                          "name": "审计测试定点医院", "region": region}),
            )
            .send()
            .await
            .unwrap();
        let a = Self::answer(res).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        a.body
    }
}

/// Percent-encode a query component (everything but RFC 3986 unreserved characters).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn token_of(v: &str) -> eventstore::Token {
    v.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// gRPC client
// ---------------------------------------------------------------------------------------------------------

async fn audit_client(svc: &TestService) -> AuditServiceClient<Channel> {
    let channel = Channel::from_shared(svc.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    AuditServiceClient::new(channel)
}

fn authed<T>(bearer: &str, message: T) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut()
        .insert("authorization", bearer.parse().unwrap());
    r
}

/// `r` recorded in `[from, to)` (the `Timestamp` type is the generated code's, named by inference).
fn between(
    mut r: pb::ListAuditHistoryRequest,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> pb::ListAuditHistoryRequest {
    let mut f = r.from.take().unwrap_or_default();
    f.seconds = from.timestamp();
    f.nanos = i32::try_from(from.timestamp_subsec_nanos()).unwrap();
    r.from = Some(f);
    let mut t = r.to.take().unwrap_or_default();
    t.seconds = to.timestamp();
    t.nanos = i32::try_from(to.timestamp_subsec_nanos()).unwrap();
    r.to = Some(t);
    r
}

// ---------------------------------------------------------------------------------------------------------
// The notary in the service
// ---------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_notary_signs_checkpoints_that_verify_with_the_key_served_at_the_well_known_path()
 {
    let key = KeyFile::new();
    let svc = TestService::start_with(&[
        "--demo",
        "--notary-key-file",
        key.arg(),
        "--notary-every-events",
        "50",
        "--notary-every-ms",
        "50",
    ])
    .await;
    let api = Api::new(&svc);
    let auditor = svc.dev_bearer(Role::Auditor);
    let county = svc.dev_bearer(Role::CountyCdc);
    let mut progress = svc.notary_progress().unwrap();

    // Commands arrive while the notary runs; it covers each of them within the deadline.
    let mut last = eventstore::Token::START;
    for i in 0..6 {
        let written = api
            .host_unit(&county, "330602", &format!("notary-{i}"))
            .await;
        last = token_of(written["token"].as_str().unwrap());
        if i % 2 == 1 {
            within(
                DEADLINE,
                "the notary covers the last write",
                progress.wait_for(|p| p.latest.as_ref().is_some_and(|c| c.token >= last)),
            )
            .await
            .unwrap();
        }
    }
    assert!(progress.borrow().leader, "the only notary leads");

    // The public key at the well-known path, without credentials.
    let pem = api
        .get("/.well-known/vledger/notary-public-key.pem", None, &[])
        .await;
    assert_eq!(pem.status, StatusCode::OK, "{}", pem.text);
    assert_eq!(
        pem.headers.get("content-type").unwrap(),
        "application/x-pem-file"
    );
    assert_eq!(
        pem.headers.get("x-notary-key-id").unwrap(),
        key.key.key_id()
    );
    let public = notary::PublicKey::from_pem(&pem.text).unwrap();
    assert_eq!(public, key.key.public());

    // The newest checkpoint over REST: exactly the exported JSON (unknown fields would not parse), and
    // it verifies under the served key.
    let latest = api
        .get("/api/v1/audit/checkpoints/latest", Some(&auditor), &[])
        .await;
    let exported: notary::ExportedCheckpoint = serde_json::from_value(latest.ok().clone()).unwrap();
    let checkpoint = notary::Checkpoint::try_from(&exported).unwrap();
    assert!(public.verify(&checkpoint), "{exported:?}");
    assert!(checkpoint.token >= last);
    let mut forged = checkpoint.clone();
    forged.event_count += 1;
    forged.hash = forged.unsigned().hash();
    assert!(!public.verify(&forged), "a re-hashed edit must not verify");

    // Every checkpoint, paged: a chain of signed checkpoints, the newest covering the whole log.
    let mut all = Vec::new();
    let mut after = 0u64;
    loop {
        let page = api
            .get(
                "/api/v1/audit/checkpoints",
                Some(&auditor),
                &[("after_sequence", &after.to_string()), ("limit", "7")],
            )
            .await;
        let page = page.ok().clone();
        for item in page["items"].as_array().unwrap() {
            let e: notary::ExportedCheckpoint = serde_json::from_value(item.clone()).unwrap();
            all.push(notary::Checkpoint::try_from(&e).unwrap());
        }
        if !page["has_more"].as_bool().unwrap() {
            assert!(page["next_after_sequence"].is_null());
            break;
        }
        after = page["next_after_sequence"].as_u64().unwrap();
    }
    assert!(
        all.len() >= 3,
        "checkpoints while commands arrive: {}",
        all.len()
    );
    let mut prev = [0u8; 32];
    for (i, cp) in all.iter().enumerate() {
        assert_eq!(cp.sequence, u64::try_from(i).unwrap() + 1);
        assert_eq!(cp.prev_hash, prev, "checkpoint {} is chained", cp.sequence);
        assert!(public.verify(cp), "checkpoint {} verifies", cp.sequence);
        prev = cp.hash;
    }
    let newest = all.last().unwrap();
    assert!(newest.sequence >= checkpoint.sequence);

    // Caught up: the status names nothing uncovered and a valid signature.
    within(
        DEADLINE,
        "the notary covers everything",
        progress.wait_for(|p| p.latest.as_ref().is_some_and(|c| c.token >= last)),
    )
    .await
    .unwrap();
    let status = api.get("/api/v1/audit/status", Some(&auditor), &[]).await;
    let status = status.ok();
    assert_eq!(status["uncovered_events"], 0, "{status}");
    assert_eq!(status["signature_valid"], true, "{status}");
    assert_eq!(status["public_key_id"], key.key.key_id());
    assert!(status["age_seconds"].as_f64().unwrap() >= 0.0, "{status}");
    let events = u64::try_from(count_events(svc.ledger().store()).await).unwrap();
    assert_eq!(status["latest"]["event_count"], events, "{status}");

    // The same over gRPC; the key without credentials.
    let mut grpc = audit_client(&svc).await;
    let served = grpc
        .get_notary_public_key(pb::GetNotaryPublicKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(served.pem, pem.text);
    assert_eq!(served.key_id, key.key.key_id());
    let s = grpc
        .get_audit_status(authed(&auditor, pb::GetAuditStatusRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.uncovered_events, 0);
    assert_eq!(s.signature_valid, Some(true));
    assert_eq!(s.latest.as_ref().unwrap().event_count, events);
    let listed = grpc
        .list_checkpoints(authed(
            &auditor,
            pb::ListCheckpointsRequest {
                after_sequence: newest.sequence - 1,
                page_size: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.checkpoints.len(), 1);
    assert_eq!(listed.checkpoints[0].hash, hex::encode(newest.hash));
    assert_eq!(listed.next_after_sequence, None);

    // /metrics: this process leads; the newest checkpoint's sequence and age; nothing uncovered.
    let metrics = api.get("/metrics", None, &[]).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let sample = |name: &str| {
        metrics
            .text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .map(|v| v.trim().parse::<f64>().unwrap())
            .unwrap_or_else(|| panic!("{name} missing:\n{}", metrics.text))
    };
    assert_eq!(sample("ledger_notary_leader"), 1.0);
    assert!(sample("ledger_notary_checkpoint_age_seconds") >= 0.0);
    assert!(sample("ledger_notary_checkpoint_sequence") >= newest.sequence as f64);
    assert_eq!(sample("ledger_notary_uncovered_events"), 0.0);
    svc.stop().await;
}

/// What `ledger_api::start` refuses with, given `extra` arguments after a configuration that never
/// reaches a database: `(variable, reason)` of its configuration error.
async fn start_refused(extra: &[&str]) -> (String, String) {
    use clap::Parser;
    let base = crate::api_support::service_args("postgres://nobody@127.0.0.1:1/none");
    let config = ledger_api::Config::try_parse_from(base.iter().chain(extra)).unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    match ledger_api::start(config, http, grpc).await {
        Err(ledger_api::StartError::Config { variable, reason }) => (variable.to_string(), reason),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("started with {extra:?}"),
    }
}

#[tokio::test]
async fn a_notary_key_file_that_cannot_be_read_stops_the_start_naming_its_variable() {
    let missing = std::env::temp_dir().join(format!("vl-no-such-key-{}.pem", key()));
    let not_a_key = std::env::temp_dir().join(format!("vl-not-a-key-{}.pem", key()));
    std::fs::write(
        &not_a_key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    for path in [&missing, &not_a_key] {
        let (variable, reason) =
            start_refused(&["--notary-key-file", path.to_str().unwrap()]).await;
        assert_eq!(variable, "LEDGER_NOTARY_KEY_FILE");
        assert!(reason.contains(path.to_str().unwrap()), "{reason}");
    }
    let _ = std::fs::remove_file(&not_a_key);
}

#[tokio::test]
async fn after_a_key_rotation_the_service_serves_every_key_oldest_first_and_signs_with_the_new_one()
{
    let (retired, current) = (KeyFile::new(), KeyFile::new());
    let retired_pub = std::env::temp_dir().join(format!("vl-notary-retired-{}.pub", key()));
    std::fs::write(&retired_pub, retired.key.public().to_pem().unwrap()).unwrap();
    let svc = TestService::start_with(&[
        "--demo",
        "--notary-key-file",
        current.arg(),
        "--notary-retired-keys-file",
        retired_pub.to_str().unwrap(),
        "--notary-every-ms",
        "50",
    ])
    .await;
    let api = Api::new(&svc);
    let mut progress = svc.notary_progress().unwrap();
    within(
        DEADLINE,
        "the notary signs a checkpoint",
        progress.wait_for(|p| p.latest.is_some()),
    )
    .await
    .unwrap();

    let pem = api
        .get("/.well-known/vledger/notary-public-key.pem", None, &[])
        .await;
    assert_eq!(pem.status, StatusCode::OK, "{}", pem.text);
    assert_eq!(
        notary::Keyring::from_pem(&pem.text).unwrap(),
        notary::Keyring::rotated(&[retired.key.public()], current.key.public()).unwrap()
    );
    assert_eq!(
        pem.headers.get("x-notary-key-id").unwrap(),
        current.key.key_id()
    );
    let auditor = svc.dev_bearer(Role::Auditor);
    let status = api.get("/api/v1/audit/status", Some(&auditor), &[]).await;
    let status = status.ok();
    assert_eq!(status["signature_valid"], true, "{status}");
    assert_eq!(status["public_key_id"], current.key.key_id(), "{status}");
    assert_eq!(status["latest"]["key_id"], current.key.key_id(), "{status}");
    svc.stop().await;
    let _ = std::fs::remove_file(&retired_pub);
}

#[tokio::test]
async fn a_retired_keys_file_without_a_key_or_repeating_the_key_stops_the_start_naming_its_variable()
 {
    let current = KeyFile::new();
    let repeated = std::env::temp_dir().join(format!("vl-notary-retired-{}.pub", key()));
    std::fs::write(&repeated, current.key.public().to_pem().unwrap()).unwrap();
    let retired = ["--notary-retired-keys-file", repeated.to_str().unwrap()];
    for (extra, reason_has) in [
        (&[][..], "without LEDGER_NOTARY_KEY_FILE"),
        (&["--notary-key-file", current.arg()][..], "listed twice"),
    ] {
        let (variable, reason) = start_refused(&[&retired[..], extra].concat()).await;
        assert_eq!(variable, "LEDGER_NOTARY_RETIRED_KEYS_FILE");
        assert!(reason.contains(reason_has), "{reason}");
    }
    let _ = std::fs::remove_file(&repeated);
}

// ---------------------------------------------------------------------------------------------------------
// The audit history
// ---------------------------------------------------------------------------------------------------------

/// `(token, stream_id, stream_version, correlation_id)` of REST history items.
fn rest_rows(items: &Value) -> Vec<(String, String, u64, String)> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["token"].as_str().unwrap().to_owned(),
                i["stream_id"].as_str().unwrap().to_owned(),
                i["stream_version"].as_u64().unwrap(),
                i["correlation_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn grpc_rows(entries: &[pb::AuditHistoryEntry]) -> Vec<(String, String, u64, String)> {
    entries
        .iter()
        .map(|e| {
            (
                e.token.clone(),
                e.stream_id.clone(),
                e.stream_version,
                e.correlation_id.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a20_audit_history_answers_exactly_the_filtered_events_of_the_callers_regions() {
    let svc = TestService::start_with_demo().await;
    let api = Api::new(&svc);
    let auditor = svc.dev_bearer(Role::Auditor); // 330600: the city and its counties
    let yuecheng = county_cdc("330602");
    let keqiao = county_cdc("330603");
    let run = key();

    // Six writes in two counties, each with its correlation id; the log's own rows are the expectation.
    let mut expected = Vec::new();
    let mut last = String::new();
    for (i, actor) in [&yuecheng, &keqiao, &yuecheng, &keqiao, &yuecheng, &yuecheng]
        .into_iter()
        .enumerate()
    {
        let region = actor.regions[0].as_str().to_owned();
        let correlation = format!("{run}-{i}");
        let written = api
            .host_unit(&svc.bearer(actor), &region, &correlation)
            .await;
        let stream = written["stream_id"].as_str().unwrap();
        for e in svc.ledger().store().read_stream(stream).await.unwrap() {
            expected.push((
                e.token.to_string(),
                e.stream_id.clone(),
                e.stream_version,
                correlation.clone(),
                actor.subject.clone(),
            ));
        }
        last = written["token"].as_str().unwrap().to_owned();
    }
    let of = |who: &Actor| -> Vec<(String, String, u64, String)> {
        expected
            .iter()
            .filter(|e| e.4 == who.subject)
            .map(|e| (e.0.clone(), e.1.clone(), e.2, e.3.clone()))
            .collect()
    };

    // By actor, read after the last write (min_token): exactly that actor's events, in the global order.
    let answer = api
        .get(
            "/api/v1/audit/history",
            Some(&auditor),
            &[("actor", &yuecheng.subject), ("min_token", &last)],
        )
        .await;
    let page = answer.ok();
    assert_eq!(rest_rows(&page["items"]), of(&yuecheng), "{page}");
    assert!(token_of(page["as_of"].as_str().unwrap()) >= token_of(&last));
    assert_eq!(page["has_more"], false);
    let first = &page["items"][0];
    assert_eq!(first["role"], "county_cdc");
    assert_eq!(first["command"], "RegisterHostUnit");
    assert_eq!(first["subject_region"], "330602");
    assert_eq!(first["category"], "hostunit");

    // By record: one stream.
    let stream = &of(&keqiao)[0].1;
    let by_stream = api
        .get(
            "/api/v1/audit/history",
            Some(&auditor),
            &[("stream_id", stream.as_str())],
        )
        .await;
    assert_eq!(
        rest_rows(&by_stream.ok()["items"]),
        vec![of(&keqiao)[0].clone()]
    );

    // By correlation id, and by command together with the actor.
    let by_correlation = api
        .get(
            "/api/v1/audit/history",
            Some(&auditor),
            &[("correlation_id", &format!("{run}-3"))],
        )
        .await;
    assert_eq!(
        rest_rows(&by_correlation.ok()["items"]),
        vec![of(&keqiao)[1].clone()]
    );
    let by_command = api
        .get(
            "/api/v1/audit/history",
            Some(&auditor),
            &[
                ("command", "RegisterHostUnit"),
                ("actor", &keqiao.subject),
                ("role", "county_cdc"),
            ],
        )
        .await;
    assert_eq!(rest_rows(&by_command.ok()["items"]), of(&keqiao));

    // By time: [recorded_at of Yuecheng's 2nd event, recorded_at of its 3rd), given in +08:00.
    let mine = &page["items"].as_array().unwrap().clone();
    let at = |i: usize| -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(mine[i]["recorded_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let shanghai = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let from = at(1)
        .with_timezone(&shanghai)
        .to_rfc3339_opts(SecondsFormat::Micros, false);
    let to = at(2)
        .with_timezone(&shanghai)
        .to_rfc3339_opts(SecondsFormat::Micros, false);
    let by_time = api
        .get(
            "/api/v1/audit/history",
            Some(&auditor),
            &[("actor", &yuecheng.subject), ("from", &from), ("to", &to)],
        )
        .await;
    assert_eq!(
        rest_rows(&by_time.ok()["items"]),
        vec![of(&yuecheng)[1].clone()]
    );

    // Pages of one walk the same events.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = api
            .get(
                "/api/v1/audit/history",
                Some(&auditor),
                &[
                    ("actor", &yuecheng.subject),
                    ("limit", "1"),
                    ("cursor", &cursor),
                ],
            )
            .await;
        let page = page.ok().clone();
        paged.extend(rest_rows(&page["items"]));
        if !page["has_more"].as_bool().unwrap() {
            assert!(page["next_cursor"].is_null());
            break;
        }
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
    }
    assert_eq!(paged, of(&yuecheng));

    // gRPC: the same filters, the same events.
    let mut grpc = audit_client(&svc).await;
    let by_actor = grpc
        .list_audit_history(authed(
            &auditor,
            pb::ListAuditHistoryRequest {
                actor: keqiao.subject.clone(),
                min_token: last.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(grpc_rows(&by_actor.entries), of(&keqiao));
    assert!(by_actor.next_page_token.is_empty());
    let e = &by_actor.entries[0];
    assert_eq!(e.role.as_deref(), Some("county_cdc"));
    assert_eq!(e.subject_region.as_deref(), Some("330603"));
    let by_time = grpc
        .list_audit_history(authed(
            &auditor,
            between(
                pb::ListAuditHistoryRequest {
                    actor: yuecheng.subject.clone(),
                    ..Default::default()
                },
                at(1),
                at(2),
            ),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(grpc_rows(&by_time.entries), vec![of(&yuecheng)[1].clone()]);
    let mut paged = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = grpc
            .list_audit_history(authed(
                &auditor,
                pb::ListAuditHistoryRequest {
                    correlation_id: format!("{run}-4"),
                    page_size: 1,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        paged.extend(grpc_rows(&page.entries));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(paged, vec![of(&yuecheng)[2].clone()]);

    // Scope: a supervisor of 越城区 sees its county's events only; the city's supervisor sees both.
    let all_of_run: BTreeSet<String> = expected.iter().map(|e| e.0.clone()).collect();
    let seen_by = |items: &Value| -> BTreeSet<String> {
        rest_rows(items)
            .into_iter()
            .map(|r| r.0)
            .filter(|t| all_of_run.contains(t))
            .collect()
    };
    let county_supervisor = svc.bearer(&supervisor_of("330602"));
    let scoped = api
        .get(
            "/api/v1/audit/history",
            Some(&county_supervisor),
            &[("command", "RegisterHostUnit"), ("limit", "1000")],
        )
        .await;
    let scoped = scoped.ok();
    assert_eq!(
        seen_by(&scoped["items"]),
        of(&yuecheng)
            .into_iter()
            .map(|r| r.0)
            .collect::<BTreeSet<_>>()
    );
    assert!(
        scoped["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["subject_region"] == "330602"),
        "{scoped}"
    );
    let keqiao_only = api
        .get(
            "/api/v1/audit/history",
            Some(&county_supervisor),
            &[("actor", &keqiao.subject)],
        )
        .await;
    assert_eq!(keqiao_only.ok()["items"], json!([]));
    let grpc_scoped = grpc
        .list_audit_history(authed(
            &county_supervisor,
            pb::ListAuditHistoryRequest {
                actor: keqiao.subject.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(grpc_scoped.entries.is_empty());
    let city_supervisor = svc.dev_bearer(Role::Supervisor);
    let city = api
        .get(
            "/api/v1/audit/history",
            Some(&city_supervisor),
            &[("command", "RegisterHostUnit"), ("limit", "1000")],
        )
        .await;
    assert_eq!(seen_by(&city.ok()["items"]), all_of_run);

    // No grant: a team leader, a county CDC and a partner are refused on both transports.
    for role in [Role::TeamLeader, Role::CountyCdc, Role::IntegrationPartner] {
        let bearer = svc.dev_bearer(role);
        for path in [
            "/api/v1/audit/history",
            "/api/v1/audit/status",
            "/api/v1/audit/checkpoints",
            "/api/v1/audit/checkpoints/latest",
        ] {
            api.get(path, Some(&bearer), &[])
                .await
                .problem(403, "forbidden", None);
        }
        let denied = grpc
            .list_audit_history(authed(&bearer, pb::ListAuditHistoryRequest::default()))
            .await
            .unwrap_err();
        assert_eq!(
            denied.code(),
            Code::PermissionDenied,
            "{role:?}: {denied:?}"
        );
        let denied = grpc
            .get_audit_status(authed(&bearer, pb::GetAuditStatusRequest {}))
            .await
            .unwrap_err();
        assert_eq!(
            denied.code(),
            Code::PermissionDenied,
            "{role:?}: {denied:?}"
        );
    }
    api.get("/api/v1/audit/history", None, &[])
        .await
        .problem(401, "unauthenticated", None);

    // Bad parameters name their field.
    for (query, field) in [
        (("limit", "0"), "limit"),
        (("limit", "1001"), "limit"),
        (("cursor", "abc"), "cursor"),
        (("min_token", "1-2"), "min_token"),
        (("role", "mayor"), "role"),
        (("command", "DropTable"), "command"),
        (("actor", ""), "actor"),
        (("from", "yesterday"), "from"),
        (("to", "2025-13-01T00:00:00Z"), "to"),
    ] {
        api.get("/api/v1/audit/history", Some(&auditor), &[query])
            .await
            .problem(400, "invalid_argument", Some(field));
    }
    api.get(
        "/api/v1/audit/history",
        Some(&auditor),
        &[
            ("from", "2025-03-02T00:00:00Z"),
            ("to", "2025-03-01T00:00:00Z"),
        ],
    )
    .await
    .problem(400, "invalid_argument", Some("to"));
    for (query, field) in [
        (("after_sequence", "-1"), "after_sequence"),
        (("after_sequence", "9223372036854775808"), "after_sequence"),
        (("limit", "x"), "limit"),
    ] {
        api.get("/api/v1/audit/checkpoints", Some(&auditor), &[query])
            .await
            .problem(400, "invalid_argument", Some(field));
    }
    for (request, field) in [
        (
            pb::ListAuditHistoryRequest {
                page_size: 5000,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::ListAuditHistoryRequest {
                page_token: "abc".to_owned(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            pb::ListAuditHistoryRequest {
                role: "mayor".to_owned(),
                ..Default::default()
            },
            "role",
        ),
    ] {
        let bad = grpc
            .list_audit_history(authed(&auditor, request))
            .await
            .unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
        assert_eq!(
            bad.metadata()
                .get("x-error-field")
                .unwrap()
                .to_str()
                .unwrap(),
            field
        );
    }

    // Without a notary key the service says so: no public key, no signature to check.
    api.get("/.well-known/vledger/notary-public-key.pem", None, &[])
        .await
        .problem(404, "not_found", Some("notary"));
    let status = api.get("/api/v1/audit/status", Some(&auditor), &[]).await;
    let status = status.ok();
    assert!(status["public_key_id"].is_null() && status["signature_valid"].is_null());
    assert!(status["uncovered_events"].as_u64().unwrap() > 0, "{status}");
    svc.stop().await;
}

// ---------------------------------------------------------------------------------------------------------
// The projector: every event, never parked, rebuilt from the log byte-identically
// ---------------------------------------------------------------------------------------------------------

fn with_metadata(event_type: &str, metadata: &str) -> eventstore::NewEvent {
    eventstore::NewEvent {
        metadata: metadata.to_owned(),
        ..crate::support::event(event_type, r#"{"n":1}"#)
    }
}

#[tokio::test]
async fn the_audit_history_keeps_every_event_parks_none_and_rebuilds_byte_identically() {
    use eventstore::{EventStore, ExpectedVersion, StoreConfig};
    use projections::rebuild::{RebuildOptions, digest, rebuild};
    use projections::{AuditHistoryProjector, HistoryFilter, Projector, Runner, RunnerConfig};

    let (store, db) = crate::support::store().await;
    let team = uuid::Uuid::new_v4();
    let pipeline = format!(
        r#"{{"actor":"acct-1","role":"county_cdc","actor_regions":["330602"],"subject_region":"330602",
            "subject_team":"{team}","command":"RecordActivity","idempotency_key":"k","correlation_id":"c-1",
            "causation_id":"c-0","client":"test"}}"#
    );
    // Pipeline metadata, a city-level subject, and metadata no pipeline wrote: all are kept.
    let streams = [
        (
            "activity-a",
            vec![with_metadata("ActivityRecorded", &pipeline)],
        ),
        (
            "team-b",
            vec![
                with_metadata(
                    "TeamRegistered",
                    r#"{"actor":"acct-2","subject_region":"330600"}"#,
                ),
                with_metadata("TeamAmended", r#"{"actor":"test"}"#),
                with_metadata("TeamAmended", "{}"),
                with_metadata(
                    "TeamAmended",
                    r#"{"subject_region":"not-a-code","subject_team":7}"#,
                ),
            ],
        ),
    ];
    for (stream, events) in streams {
        store
            .append(&crate::support::request(
                stream,
                ExpectedVersion::NoStream,
                events,
                &key(),
            ))
            .await
            .unwrap();
    }
    let head = crate::support::head(&store).await;
    let runner = Runner::new(
        store.clone(),
        std::sync::Arc::new(AuditHistoryProjector),
        RunnerConfig::default(),
    );
    let p = within(
        DEADLINE,
        "audit history catching up",
        runner.run_until(head),
    )
    .await
    .unwrap();
    assert_eq!((p.checkpoint, p.parked_events), (head, 0));

    let incremental = digest(store.pool(), &AuditHistoryProjector).await.unwrap();
    assert_eq!(incremental.tables[0].rows, 5, "{incremental}");

    // The pipeline's event, as the history shows it; scope by the city covers the county.
    let city = [RegionCode::parse("r", "330600").unwrap()];
    let all = projections::history(
        store.pool(),
        &city,
        &HistoryFilter::default(),
        eventstore::Token::START,
        100,
    )
    .await
    .unwrap();
    let a = &all.rows[0];
    assert_eq!(a.stream_id, "activity-a");
    assert_eq!(
        (a.actor.as_deref(), a.role.as_deref(), a.command.as_deref()),
        (Some("acct-1"), Some("county_cdc"), Some("RecordActivity"))
    );
    assert_eq!(
        (a.correlation_id.as_deref(), a.causation_id.as_deref()),
        (Some("c-1"), Some("c-0"))
    );
    assert_eq!(
        (a.subject_region.as_deref(), a.subject_team),
        (Some("330602"), Some(team))
    );
    // Rows without a subject region (or with one that is not a code) are in no region's scope.
    let streams_seen: Vec<(&str, u64)> = all
        .rows
        .iter()
        .map(|r| (r.stream_id.as_str(), r.stream_version))
        .collect();
    assert_eq!(streams_seen, vec![("activity-a", 1), ("team-b", 1)]);
    let county = [RegionCode::parse("r", "330602").unwrap()];
    let county_rows = projections::history(
        store.pool(),
        &county,
        &HistoryFilter::default(),
        eventstore::Token::START,
        100,
    )
    .await
    .unwrap();
    assert_eq!(
        county_rows.rows.len(),
        1,
        "a county does not see its city's record"
    );

    // Rebuilt from the log as the owner: the same rows, the migration's index names, still readable.
    let index_names = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT indexname::text FROM pg_indexes WHERE tablename = 'audit_history' ORDER BY 1",
        )
        .fetch_all(store.pool())
        .await
        .unwrap()
    };
    let indexes = index_names().await;
    let owner = EventStore::new(db.owner_pool().await.unwrap(), StoreConfig::default());
    let report = within(
        DEADLINE,
        "rebuild",
        rebuild(&owner, &AuditHistoryProjector, &RebuildOptions::default()),
    )
    .await
    .unwrap();
    assert_eq!(report.checkpoint, head, "{report}");
    assert_eq!(report.parked, 0, "{report}");
    assert_eq!(report.after.as_ref(), Some(&incremental), "{report}");
    assert_eq!(index_names().await, indexes);
    let again = projections::history(
        store.pool(),
        &city,
        &HistoryFilter::default(),
        eventstore::Token::START,
        100,
    )
    .await
    .unwrap();
    assert_eq!(again.rows, all.rows);
    assert_eq!(AuditHistoryProjector.id(), "audit_history");
}

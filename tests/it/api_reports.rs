//! The report endpoints end to end (issue #5): compliance (A3–A6), activity frequency (A13/A17) and the
//! summary board (A16), over REST and gRPC against the real service with the Shaoxing demo. Each report
//! is read after writes with the last write's token as `min_token` and must reflect them; the long
//! lists page by cursor; out-of-scope regions are refused; bad dates, ranges and groupings are a 400 /
//! INVALID_ARGUMENT naming the field.

use std::collections::BTreeSet;

use app::Role;
use grpc_api::pb;
use pb::activity_service_client::ActivityServiceClient;
use pb::report_service_client::ReportServiceClient;
use pb::summary_service_client::SummaryServiceClient;
use pb::team_service_client::TeamServiceClient;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::api_support::TestService;

/// The demo's 越城区 CDC host unit (`app::demo`: kind 1, county 1).
const YUECHENG_CDC: &str = "7f1a0000-0000-4000-8000-000100000001";

/// The demo's `k`-th volunteer of 越城区 (member of `demo_team(1)` since 2024-01-10).
fn demo_volunteer(k: u128) -> String {
    uuid::Uuid::from_u128(0x7f1a_0000_0000_4000_8000_0000_0000_0000 | (3 << 32) | (100 + k))
        .to_string()
}

fn demo_team() -> String {
    app::demo::demo_team(1).0.to_string()
}

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
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
    body: Value,
}

impl Answer {
    #[track_caller]
    fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        &self.body
    }

    #[track_caller]
    fn created_token(&self) -> String {
        assert_eq!(self.status, StatusCode::CREATED, "{}", self.body);
        self.body["token"].as_str().unwrap().to_owned()
    }

    #[track_caller]
    fn problem(&self, status: u16, code: &str, field: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body["code"], code, "{}", self.body);
        if let Some(f) = field {
            assert_eq!(self.body["field"], f, "{}", self.body);
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
        let bytes = res.bytes().await.unwrap();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn get(&self, path: &str, bearer: &str) -> Answer {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("authorization", bearer)
            .send()
            .await
            .unwrap();
        Self::answer(res).await
    }

    async fn post(&self, path: &str, bearer: &str, body: &Value) -> Answer {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("authorization", bearer)
            .header("idempotency-key", key())
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap())
            .send()
            .await
            .unwrap();
        Self::answer(res).await
    }
}

fn token_of(v: &str) -> (u64, u64) {
    let (a, b) = v.split_once('.').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

// ---------------------------------------------------------------------------------------------------------
// gRPC client
// ---------------------------------------------------------------------------------------------------------

async fn channel(svc: &TestService) -> Channel {
    Channel::from_shared(svc.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn authed<T>(bearer: &str, message: T) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut()
        .insert("authorization", bearer.parse().unwrap());
    r
}

fn person() -> Option<pb::Person> {
    Some(pb::Person {
        name: "报表测试队长".to_owned(),
        id_number: None,
        phone: Some("13800003333".to_owned()),
    })
}

fn register_team(team: &str) -> pb::RegisterTeamRequest {
    pb::RegisterTeamRequest {
        idempotency_key: key(),
        team_id: team.to_owned(),
        host_unit_id: YUECHENG_CDC.to_owned(),
        region: "330602".to_owned(),
        level: pb::TeamLevel::County.into(),
        profile: Some(pb::TeamProfile {
            name: "越城区报表测试志愿服务分队".to_owned(),
            national_platform_id: None,
            leader: person(),
            on_call_contact: person(),
            party_member_team: false,
            student_team: false,
        }),
        registered_on: "2025-01-05".to_owned(),
    }
}

fn header<'a>(s: &'a Status, key: &str) -> &'a str {
    s.metadata()
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing from {s:?}"))
        .to_str()
        .unwrap()
}

#[track_caller]
fn assert_invalid(status: &Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(header(status, "x-error-field"), field, "{status:?}");
}

// ---------------------------------------------------------------------------------------------------------
// Compliance (A3–A6)
// ---------------------------------------------------------------------------------------------------------

/// The A5 team ids among REST findings.
fn rest_a5_teams(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .filter(|f| f["rule"] == "A5")
        .map(|f| f["team"]["team_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_reflects_new_teams_and_hosts_over_rest_and_grpc() {
    let svc = TestService::start_with_demo().await;
    let api = Api::new(&svc);
    let county = svc.dev_bearer(Role::CountyCdc); // 330602
    let city = svc.dev_bearer(Role::CityCdc); // 330600

    // REST: a designated TB hospital without a team (A4), and a new team with no activity (A5).
    let hospital = key();
    api.post(
        "/api/v1/host-units",
        &county,
        &json!({"host_unit_id": hospital, "kind": "designated_tb_hospital",
                "name": "越城区结核病定点医院", "region": "330602"}),
    )
    .await
    .created_token();
    let team = key();
    let last = api
        .post(
            "/api/v1/teams",
            &county,
            &json!({
                "team_id": team, "host_unit_id": YUECHENG_CDC, "region": "330602", "level": "county",
                "profile": {"name": "越城区报表测试队", "national_platform_id": null,
                            "leader": {"name": "测试队长", "phone": "13800001111"},
                            "on_call_contact": {"name": "测试队长", "phone": "13800001111"},
                            "party_member_team": false, "student_team": false},
                "registered_on": "2025-01-02"
            }),
        )
        .await
        .created_token();

    let answer = api
        .get(
            &format!("/api/v1/reports/compliance?region=330602&date=2025-03-31&min_token={last}"),
            &county,
        )
        .await;
    let c = answer.ok();
    assert_eq!(c["region"], "330602");
    assert_eq!(c["year"], 2025);
    assert!(token_of(c["as_of"].as_str().unwrap()) >= token_of(&last));
    // The demo team and the new one are active; neither has an activity in 2025.
    assert_eq!(c["teams_checked"], 2, "{c}");
    assert_eq!(c["teams_below_minimum"], 2, "{c}");
    assert_eq!(c["volunteers_checked"], 5, "{c}");
    assert_eq!(c["volunteers_below_minimum"], 5, "{c}");
    let items = c["items"].as_array().unwrap();
    assert_eq!(c["total"], items.len(), "{c}");
    assert_eq!(c["has_more"], false);
    assert!(rest_a5_teams(items).contains(&team), "{c}");
    let mine = items
        .iter()
        .find(|f| f["team"]["team_id"] == team.as_str())
        .unwrap();
    assert_eq!(mine["team"]["activity_ids"], json!([]));
    assert!(mine["volunteer"].is_null() && mine["host_unit"].is_null());
    let a4 = items
        .iter()
        .find(|f| f["host_unit"]["host_unit_id"] == hospital.as_str())
        .unwrap_or_else(|| panic!("the hospital without a team is an A4 finding: {c}"));
    assert_eq!(a4["rule"], "A4");
    assert_eq!(a4["host_unit"]["kind"], "designated_tb_hospital");
    assert_eq!(a4["host_unit"]["inactive_team_ids"], json!([]));

    // Pages (city-wide, 3 at a time) walk the same findings as one page, in the same order.
    let whole = api
        .get(
            "/api/v1/reports/compliance?region=330600&date=2025-03-31&limit=1000",
            &city,
        )
        .await;
    let whole = whole.ok().clone();
    let total = whole["total"].as_u64().unwrap();
    assert!(
        total > 30,
        "six demo teams and thirty volunteers fall short: {whole}"
    );
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = api
            .get(
                &format!(
                    "/api/v1/reports/compliance?region=330600&date=2025-03-31&limit=3&cursor={cursor}&min_token={}",
                    whole["as_of"].as_str().unwrap()
                ),
                &city,
            )
            .await;
        let page = page.ok();
        assert!(page["items"].as_array().unwrap().len() <= 3);
        paged.extend(page["items"].as_array().unwrap().iter().cloned());
        if !page["has_more"].as_bool().unwrap() {
            assert!(page["next_cursor"].is_null());
            break;
        }
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
    }
    assert_eq!(Value::Array(paged), whole["items"]);

    // gRPC: another new team; with its token the answer lists it too.
    let ch = channel(&svc).await;
    let grpc_team = key();
    let written = TeamServiceClient::new(ch.clone())
        .register_team(authed(&county, register_team(&grpc_team)))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    let mut reports = ReportServiceClient::new(ch);
    let mut seen = BTreeSet::new();
    let mut page_token = String::new();
    let mut totals = Vec::new();
    loop {
        let r = reports
            .get_compliance(authed(
                &county,
                pb::GetComplianceRequest {
                    region: "330602".to_owned(),
                    date: "2025-03-31".to_owned(),
                    min_token: written.token.clone(),
                    page_size: 2,
                    page_token: page_token.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(token_of(&r.as_of_token) >= token_of(&written.token));
        assert_eq!(r.teams_checked, 3);
        assert_eq!(r.teams_below_minimum, 3);
        totals.push(r.total_findings);
        for f in r.findings {
            if let Some(pb::compliance_finding::Subject::Team(t)) = f.subject {
                assert_eq!(f.rule, "A5");
                assert!(t.activity_ids.is_empty());
                seen.insert(t.team_id);
            }
        }
        if r.next_page_token.is_empty() {
            break;
        }
        page_token = r.next_page_token;
    }
    assert_eq!(
        seen,
        BTreeSet::from([demo_team(), team.clone(), grpc_team.clone()])
    );
    // Every page states the same total: three teams, five volunteers, at least the demo's hosts.
    assert!(totals.windows(2).all(|w| w[0] == w[1]), "{totals:?}");
    assert!(totals[0] >= 3 + 5, "{totals:?}");

    // Out of scope: the county CDC of 越城区 asks for 柯桥区.
    api.get(
        "/api/v1/reports/compliance?region=330603&date=2025-03-31",
        &county,
    )
    .await
    .problem(403, "forbidden", None);
    let denied = reports
        .get_compliance(authed(
            &county,
            pb::GetComplianceRequest {
                region: "330603".to_owned(),
                date: "2025-03-31".to_owned(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    // Bad input names the field.
    api.get(
        "/api/v1/reports/compliance?region=330602&date=2025-02-30",
        &county,
    )
    .await
    .problem(400, "invalid_argument", Some("date"));
    api.get(
        "/api/v1/reports/compliance?region=330602&date=2025-03-31&limit=0",
        &county,
    )
    .await
    .problem(400, "invalid_argument", Some("limit"));
    api.get(
        "/api/v1/reports/compliance?region=330602&date=2025-03-31&cursor=abc",
        &county,
    )
    .await
    .problem(400, "invalid_argument", Some("cursor"));
    let bad = reports
        .get_compliance(authed(
            &county,
            pb::GetComplianceRequest {
                region: "330602".to_owned(),
                date: "2025-13-01".to_owned(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_invalid(&bad, "date");
}

// ---------------------------------------------------------------------------------------------------------
// Frequency (A13/A17)
// ---------------------------------------------------------------------------------------------------------

fn grpc_activity(activity: &str) -> pb::RecordActivityRequest {
    pb::RecordActivityRequest {
        idempotency_key: key(),
        activity_id: activity.to_owned(),
        details: Some(pb::ActivityDetails {
            team_id: demo_team(),
            kind: pb::ActivityKind::KeyDayCampaign.into(),
            key_day: Some(pb::KeyDay::VolunteerDay.into()),
            date: "2025-03-05".to_owned(),
            start_time: Some("09:00".to_owned()),
            end_time: Some("11:30".to_owned()),
            place: "越城区府山街道社区服务中心".to_owned(),
            grid: None,
            participants: (0..3)
                .map(|k| pb::Participant {
                    volunteer_id: demo_volunteer(k),
                    minutes: 100,
                })
                .collect(),
            people_reached: 80,
            media_pieces: 2,
            materials_distributed: 50,
            record: Some(pb::ActivityRecord {
                recorder: Some(pb::activity_record::Recorder::RecorderVolunteerId(
                    demo_volunteer(0),
                )),
                content: "志愿者日结核病防治知识宣传".to_owned(),
                summary: "发放资料，现场咨询".to_owned(),
                attachments: vec![],
            }),
        }),
    }
}

/// Coverage answers are kept while the read model is unchanged (`app::answers`): a write moves the
/// checkpoint, so its writer's next read (with its token) is computed afresh and counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_coverage_answer_never_hides_a_later_write_from_its_writer() {
    let svc = TestService::start_with_demo().await;
    let api = Api::new(&svc);
    let county = svc.dev_bearer(Role::CountyCdc);
    let coverage = |wait: String| {
        let api = &api;
        let county = &county;
        async move {
            api.get(
                &format!("/api/v1/reports/coverage?region=330602&date=2025-03-31{wait}"),
                county,
            )
            .await
            .ok()
            .clone()
        }
    };
    let demo = crate::support::head(svc.ledger().store()).await;
    let before = coverage(format!("&min_token={demo}")).await;
    assert_eq!(
        before["registered_volunteers"], 5,
        "the demo team: {before}"
    );
    assert_eq!(
        before["active_volunteers"], 0,
        "the demo has no 2025 activity: {before}"
    );
    assert_eq!(
        coverage(String::new()).await,
        before,
        "nothing written: the same answer"
    );

    let last = api
        .post(
            "/api/v1/activities",
            &county,
            &json!({
                "activity_id": key(),
                "details": {
                    "team_id": demo_team(), "kind": "knowledge_publicity",
                    "date": "2025-02-10", "start_time": "09:00", "end_time": "11:30",
                    "place": "越城区社区服务中心",
                    "participants": [{"volunteer_id": demo_volunteer(0), "minutes": 150},
                                     {"volunteer_id": demo_volunteer(1), "minutes": 120}],
                    "people_reached": 300, "media_pieces": 1, "materials_distributed": 200,
                    "record": {"recorder": "volunteer", "recorder_volunteer_id": demo_volunteer(0),
                               "content": "结核病防治知识宣传", "summary": "发放资料，现场咨询"}
                }
            }),
        )
        .await
        .created_token();
    let after = coverage(format!("&min_token={last}")).await;
    assert_eq!(after["active_volunteers"], 2, "{after}");
    assert_eq!(
        after["registered_volunteers"],
        before["registered_volunteers"]
    );
    assert!(token_of(after["as_of"].as_str().unwrap()) >= token_of(&last));
    assert!(
        token_of(after["as_of"].as_str().unwrap()) > token_of(before["as_of"].as_str().unwrap())
    );
    // Without a token, a later read is never older than what the writer was shown.
    let later = coverage(String::new()).await;
    assert_eq!(later["active_volunteers"], 2, "{later}");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frequency_reflects_recorded_activities_over_rest_and_grpc() {
    let svc = TestService::start_with_demo().await;
    let api = Api::new(&svc);
    let county = svc.dev_bearer(Role::CountyCdc);

    // REST: an activity of the demo team with two of its members.
    let activity = key();
    let last = api
        .post(
            "/api/v1/activities",
            &county,
            &json!({
                "activity_id": activity,
                "details": {
                    "team_id": demo_team(), "kind": "knowledge_publicity",
                    "date": "2025-02-10", "start_time": "09:00", "end_time": "11:30",
                    "place": "越城区社区服务中心",
                    "participants": [{"volunteer_id": demo_volunteer(0), "minutes": 150},
                                     {"volunteer_id": demo_volunteer(1), "minutes": 120}],
                    "people_reached": 300, "media_pieces": 1, "materials_distributed": 200,
                    "record": {"recorder": "volunteer", "recorder_volunteer_id": demo_volunteer(0),
                               "content": "结核病防治知识宣传", "summary": "发放资料，现场咨询"}
                }
            }),
        )
        .await
        .created_token();
    let answer = api
        .get(
            &format!(
                "/api/v1/reports/frequency?region=330602&from=2025-01-01&to=2025-03-31&group_by=team,kind&min_token={last}"
            ),
            &county,
        )
        .await;
    let f = answer.ok();
    assert!(token_of(f["as_of"].as_str().unwrap()) >= token_of(&last));
    assert_eq!(f["group_by"], json!(["team", "kind"]));
    assert_eq!(f["total"], 1, "{f}");
    let row = &f["items"][0];
    assert_eq!(row["team_id"], demo_team());
    assert_eq!(row["kind"], "knowledge_publicity");
    assert!(row["region"].is_null() && row["month"].is_null() && row["key_day"].is_null());
    assert_eq!(
        row["figures"],
        json!({"activities": 1, "participations": 2, "volunteer_minutes": 270,
               "people_reached": 300, "media_pieces": 1, "materials_distributed": 200})
    );

    // gRPC: a 3·5 activity with three members; by month and key day, two groups.
    let ch = channel(&svc).await;
    let written = ActivityServiceClient::new(ch.clone())
        .record_activity(authed(&county, grpc_activity(&key())))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    let mut reports = ReportServiceClient::new(ch);
    let request = |page_token: &str| pb::GetFrequencyRequest {
        region: "330602".to_owned(),
        from: "2025-01-01".to_owned(),
        to: "2025-12-31".to_owned(),
        group_by: vec![
            pb::FrequencyDimension::Month.into(),
            pb::FrequencyDimension::KeyDay.into(),
        ],
        min_token: written.token.clone(),
        page_size: 1,
        page_token: page_token.to_owned(),
    };
    let first = reports
        .get_frequency(authed(&county, request("")))
        .await
        .unwrap()
        .into_inner();
    assert!(token_of(&first.as_of_token) >= token_of(&written.token));
    assert_eq!(first.total_rows, 2);
    assert_eq!(first.group_by.len(), 2);
    assert_eq!(first.rows.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let second = reports
        .get_frequency(authed(&county, request(&first.next_page_token)))
        .await
        .unwrap()
        .into_inner();
    assert!(second.next_page_token.is_empty());
    let rows: Vec<pb::FrequencyRow> = first.rows.into_iter().chain(second.rows).collect();
    assert_eq!(rows[0].month.as_deref(), Some("2025-02-01"));
    assert_eq!(rows[0].key_day, None);
    assert_eq!(rows[0].figures.as_ref().unwrap().volunteer_minutes, 270);
    assert_eq!(rows[1].month.as_deref(), Some("2025-03-01"));
    assert_eq!(rows[1].key_day.as_deref(), Some("volunteer_day_03_05"));
    assert!(rows[1].team_id.is_none() && rows[1].kind.is_none());
    let march = rows[1].figures.as_ref().unwrap();
    assert_eq!(
        (
            march.activities,
            march.participations,
            march.volunteer_minutes
        ),
        (1, 3, 300)
    );
    assert_eq!(
        (
            march.people_reached,
            march.media_pieces,
            march.materials_distributed
        ),
        (80, 2, 50)
    );

    // Totals for the city, over REST.
    let totals = api
        .get(
            "/api/v1/reports/frequency?region=330600&from=2025-01-01&to=2025-12-31",
            &svc.dev_bearer(Role::CityCdc),
        )
        .await;
    let totals = totals.ok();
    assert_eq!(totals["group_by"], json!([]));
    assert_eq!(totals["items"][0]["figures"]["activities"], 2, "{totals}");
    assert_eq!(totals["items"][0]["figures"]["volunteer_minutes"], 570);

    // Out of scope.
    api.get(
        "/api/v1/reports/frequency?region=330603&from=2025-01-01&to=2025-03-31",
        &county,
    )
    .await
    .problem(403, "forbidden", None);
    let denied = reports
        .get_frequency(authed(
            &county,
            pb::GetFrequencyRequest {
                region: "330603".to_owned(),
                from: "2025-01-01".to_owned(),
                to: "2025-03-31".to_owned(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    // Bad grouping, order and span name the field.
    api.get(
        "/api/v1/reports/frequency?region=330602&from=2025-01-01&to=2025-03-31&group_by=team,week",
        &county,
    )
    .await
    .problem(400, "invalid_argument", Some("group_by"));
    api.get(
        "/api/v1/reports/frequency?region=330602&from=2025-03-01&to=2025-02-01",
        &county,
    )
    .await
    .problem(400, "invalid_argument", Some("to"));
    api.get(
        "/api/v1/reports/frequency?region=330602&from=2024-01-01&to=2025-01-01",
        &county,
    )
    .await
    .problem(400, "invalid_argument", Some("to"));
    api.get(
        "/api/v1/reports/frequency?region=330602&from=2025-1-1&to=2025-03-31",
        &county,
    )
    .await
    .problem(400, "invalid_argument", Some("from"));
    let bad = reports
        .get_frequency(authed(
            &county,
            pb::GetFrequencyRequest {
                region: "330602".to_owned(),
                from: "2025-01-01".to_owned(),
                to: "2025-03-31".to_owned(),
                group_by: vec![pb::FrequencyDimension::Team.into(), 0],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_invalid(&bad, "group_by[1]");
}

// ---------------------------------------------------------------------------------------------------------
// Summary board (A16)
// ---------------------------------------------------------------------------------------------------------

fn summary_key() -> Option<pb::CountyYear> {
    Some(pb::CountyYear {
        county: "330602".to_owned(),
        year: 2025,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_board_reflects_the_workflow_over_rest_and_grpc() {
    let svc = TestService::start_with_demo().await;
    let api = Api::new(&svc);
    let county = svc.dev_bearer(Role::CountyCdc);
    let city = svc.dev_bearer(Role::CityCdc);

    // REST: 越城区 drafts its 2025 summary; the city's board shows it as a draft, the rest not started.
    let last = api
        .post(
            "/api/v1/summaries",
            &county,
            &json!({"county": "330602", "year": 2025, "typical_cases": [], "sections": {
                "team_buildup": "新建志愿服务队1支", "support": "落实专项经费",
                "activities": "3·24主题宣传1次", "effect": "覆盖群众300余人次"}}),
        )
        .await
        .created_token();
    let answer = api
        .get(
            &format!("/api/v1/reports/summary-board?region=330600&year=2025&min_token={last}"),
            &city,
        )
        .await;
    let b = answer.ok();
    assert!(token_of(b["as_of"].as_str().unwrap()) >= token_of(&last));
    assert_eq!(b["city"], "330600");
    assert_eq!(b["in_window"], true);
    let rows = b["rows"].as_array().unwrap();
    let counties: Vec<&str> = rows.iter().map(|r| r["county"].as_str().unwrap()).collect();
    assert_eq!(
        counties,
        ["330602", "330603", "330604", "330624", "330681", "330683"]
    );
    assert_eq!(rows[0]["status"], "draft", "{b}");
    assert_eq!(rows[0]["revision"], 1, "{b}");
    assert_eq!(rows[0]["partial_year"], true, "{b}");
    assert!(rows[0]["first_submitted_at"].is_null());
    assert!(
        rows[1..].iter().all(|r| r["status"] == "not_drafted"),
        "{b}"
    );

    // The county's own board holds its county only; 2024 shows the demo's accepted (late) summary.
    let own = api
        .get(
            "/api/v1/reports/summary-board?region=330602&year=2024",
            &county,
        )
        .await;
    let own = own.ok();
    assert_eq!(own["rows"].as_array().unwrap().len(), 1, "{own}");
    assert_eq!(own["rows"][0]["county"], "330602");
    assert_eq!(own["rows"][0]["status"], "accepted", "{own}");
    assert_eq!(own["rows"][0]["timeliness"], "late", "{own}");
    assert!(own["rows"][0]["first_submitted_at"].is_string());

    // gRPC: submitted for approval; with that token the board shows it awaiting approval.
    let ch = channel(&svc).await;
    let written = SummaryServiceClient::new(ch.clone())
        .submit_summary_for_approval(authed(
            &county,
            pb::SubmitSummaryForApprovalRequest {
                idempotency_key: key(),
                summary: summary_key(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    let mut reports = ReportServiceClient::new(ch);
    let board = reports
        .get_summary_board(authed(
            &county,
            pb::GetSummaryBoardRequest {
                region: "330602".to_owned(),
                year: 2025,
                min_token: written.token.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(token_of(&board.as_of_token) >= token_of(&written.token));
    assert_eq!(board.city.as_deref(), Some("330600"));
    assert!(board.in_window && board.deadline.is_some() && board.judged_at.is_some());
    assert_eq!(board.rows.len(), 1);
    assert_eq!(board.rows[0].county, "330602");
    assert_eq!(board.rows[0].status, "awaiting_approval");

    // Out of scope: a county CDC for the city; a team leader for any region.
    api.get(
        "/api/v1/reports/summary-board?region=330600&year=2025",
        &county,
    )
    .await
    .problem(403, "forbidden", None);
    let denied = reports
        .get_summary_board(authed(
            &svc.dev_bearer(Role::TeamLeader),
            pb::GetSummaryBoardRequest {
                region: "330602".to_owned(),
                year: 2025,
                min_token: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    // Bad input names the field.
    api.get(
        "/api/v1/reports/summary-board?region=330600&year=twenty",
        &city,
    )
    .await
    .problem(400, "invalid_argument", Some("year"));
    api.get(
        "/api/v1/reports/summary-board?region=33060&year=2025",
        &city,
    )
    .await
    .problem(400, "invalid_argument", Some("region"));
    let bad = reports
        .get_summary_board(authed(
            &city,
            pb::GetSummaryBoardRequest {
                region: "330600".to_owned(),
                year: 0,
                min_token: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_invalid(&bad, "year");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_endpoints_are_in_the_openapi_document() {
    let svc = TestService::start().await;
    let doc: Value = Client::new()
        .get(format!("{}/openapi.json", svc.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, params) in [
        (
            "/api/v1/reports/compliance",
            &["region", "date", "min_token", "limit", "cursor"][..],
        ),
        (
            "/api/v1/reports/frequency",
            &[
                "region",
                "from",
                "to",
                "group_by",
                "min_token",
                "limit",
                "cursor",
            ][..],
        ),
        (
            "/api/v1/reports/summary-board",
            &["region", "year", "min_token"][..],
        ),
    ] {
        let op = &doc["paths"][path]["get"];
        assert_eq!(op["tags"], json!(["reports"]), "{path}");
        let names: BTreeSet<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, params.iter().copied().collect(), "{path}");
        assert!(op["responses"]["200"]["content"]["application/json"].is_object());
    }
    for schema in ["ComplianceDto", "FrequencyDto", "SummaryBoardDto"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// The annual evaluation as files (XLSX / CSV / SVG)
// ---------------------------------------------------------------------------------------------------------

async fn download(svc: &TestService, query: &str, bearer: &str) -> reqwest::Response {
    Client::new()
        .get(format!("{}/api/v1/reports/evaluation?{query}", svc.http))
        .header("authorization", bearer)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evaluation_files_show_the_same_figures_as_the_coverage_report() {
    let svc = TestService::start_with_demo().await;
    let api = Api::new(&svc);
    let city = svc.dev_bearer(Role::CityCdc);
    let date = "2024-12-31";
    // Every read model has taken in the demo before anything is compared.
    let head = crate::support::head(svc.ledger().store()).await;
    let wait = format!("&min_token={head}");

    let res = download(
        &svc,
        &format!("region=330600&date={date}&format=csv{wait}"),
        &city,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"evaluation-330600-2024-12-31.csv\""
    );
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "UTF-8 BOM");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), exports::COLUMNS.join(","));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert!(rows.len() >= 3, "the demo's counties and the city: {text}");
    assert_eq!(rows.last().unwrap()[0], "330600", "the city row is last");
    for row in &rows {
        let c = api
            .get(
                &format!(
                    "/api/v1/reports/coverage?region={}&date={date}{wait}",
                    row[0]
                ),
                &city,
            )
            .await;
        let c = c.ok();
        assert_eq!(row[5], c["registered_volunteers"].to_string(), "{row:?}");
        assert_eq!(row[6], c["per_100k"].as_str().unwrap_or(""), "{row:?}");
        let passes = match c["passes"].as_bool() {
            Some(true) => "达标",
            Some(false) => "未达标",
            None => "无人口数据",
        };
        assert_eq!(row[7], passes, "{row:?}");
        assert_eq!(row[9], c["active_volunteers"].to_string(), "{row:?}");
    }

    let xlsx = download(
        &svc,
        &format!("region=330600&date={date}&format=xlsx"),
        &city,
    )
    .await;
    assert_eq!(xlsx.status(), StatusCode::OK);
    assert_eq!(
        xlsx.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK\x03\x04"));

    let svg = download(
        &svc,
        &format!("region=330600&date={date}&format=svg"),
        &city,
    )
    .await;
    assert_eq!(svg.status(), StatusCode::OK);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    assert_eq!(
        svg.matches("<rect ").count(),
        rows.len() - 1,
        "a bar per county"
    );
    assert!(svg.contains("达标线 10/10万"));

    // Bad input names the parameter; a county CDC cannot export the city.
    let bad = api
        .get(
            &format!("/api/v1/reports/evaluation?region=330600&date={date}&format=pdf"),
            &city,
        )
        .await;
    bad.problem(400, "invalid_argument", Some("format"));
    let county = svc.dev_bearer(Role::CountyCdc);
    let out = api
        .get(
            &format!("/api/v1/reports/evaluation?region=330600&date={date}&format=csv"),
            &county,
        )
        .await;
    assert_eq!(out.status, StatusCode::FORBIDDEN, "{}", out.body);
    svc.stop().await;
}

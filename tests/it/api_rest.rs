//! The REST front door end to end: the real service on an ephemeral port, driven with reqwest.
//! A campaign year through `/api/v1` (A16 workflow, read-your-writes on coverage A1), idempotent
//! retries, problem+json for bad input / missing or foreign credentials, the OpenAPI 3.1 document and
//! the vendored Swagger UI.

use std::time::Duration;

use app::Role;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::api_support::TestService;
use crate::support::{resident_id, within};

const PROBLEM: &str = "application/problem+json";

struct Api {
    http: Client,
    base: String,
}

/// A response: status, headers, JSON body (`Null` when not JSON).
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Assert a problem with `status`, `code` and `field`.
    #[track_caller]
    fn problem(&self, status: u16, code: &str, field: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.content_type(), PROBLEM, "{}", self.body);
        assert_eq!(self.body["status"], status, "{}", self.body);
        assert_eq!(self.body["code"], code, "{}", self.body);
        assert!(self.body["type"].is_string() && self.body["title"].is_string());
        assert!(self.body["detail"].is_string());
        if let Some(f) = field {
            assert_eq!(self.body["field"], f, "{}", self.body);
        }
    }

    #[track_caller]
    fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        &self.body
    }
}

impl Api {
    fn new(svc: &TestService) -> Api {
        Api {
            http: Client::new(),
            base: svc.http.clone(),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = bearer {
            req = req.header("authorization", b);
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(b).unwrap());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, bearer: &str) -> Answer {
        self.send(Method::GET, path, Some(bearer), None, None).await
    }

    /// A write with a fresh idempotency key.
    async fn post(&self, path: &str, bearer: &str, body: Option<&Value>) -> Answer {
        let key = uuid::Uuid::new_v4().to_string();
        self.send(Method::POST, path, Some(bearer), Some(&key), body)
            .await
    }
}

fn token_of(v: &Value) -> (u64, u64) {
    let t = v.as_str().unwrap();
    let (a, b) = t.split_once('.').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

fn sections() -> Value {
    json!({
        "team_buildup": "新建志愿服务队1支，注册志愿者2名",
        "support": "落实专项经费，印发年度工作计划",
        "activities": "3·24世界防治结核病日主题宣传1次",
        "effect": "覆盖群众300余人次"
    })
}

/// Every event type of a stream, read through `/streams/{id}/events` page by page (`limit` 2).
async fn stream_types(api: &Api, bearer: &str, stream: &str) -> Vec<String> {
    let mut types = Vec::new();
    let mut after = "0".to_owned();
    loop {
        let page = api
            .get(
                &format!("/api/v1/streams/{stream}/events?after={after}&limit=2"),
                bearer,
            )
            .await;
        let page = page.ok(200);
        for e in page["items"].as_array().unwrap() {
            assert_eq!(e["stream_id"], stream);
            assert!(e["payload"].is_object() && e["metadata"].is_object());
            types.push(e["event_type"].as_str().unwrap().to_owned());
        }
        after = page["next_cursor"].as_str().unwrap().to_owned();
        if !page["has_more"].as_bool().unwrap() {
            return types;
        }
    }
}

#[tokio::test]
async fn rest_campaign_year_end_to_end() {
    let svc = TestService::start_with_demo().await;
    let api = Api::new(&svc);
    let county = svc.dev_bearer(Role::CountyCdc); // 330602 越城区
    let bureau = svc.dev_bearer(Role::HealthBureauApprover);
    let city = svc.dev_bearer(Role::CityCdc);

    // A host unit and a team, registered by the county CDC.
    let host_unit = uuid::Uuid::new_v4();
    api.post(
        "/api/v1/host-units",
        &county,
        Some(&json!({"host_unit_id": host_unit, "kind": "tb_free_community_pilot", "pilot_level": "city",
                     "name": "越城区无结核社区试点", "region": "330602"})),
    )
    .await
    .ok(201);
    let team = uuid::Uuid::new_v4();
    let register_team = json!({
        "team_id": team, "host_unit_id": host_unit, "region": "330602", "level": "county",
        "profile": {"name": "越城区社区结核病防治志愿服务队", "national_platform_id": null,
                    "leader": {"name": "测试队长", "phone": "13800001111"},
                    "on_call_contact": {"name": "测试队长", "phone": "13800001111"},
                    "party_member_team": true, "student_team": false},
        "registered_on": "2025-01-02"
    });
    let key = uuid::Uuid::new_v4().to_string();
    let first = api
        .send(
            Method::POST,
            "/api/v1/teams",
            Some(&county),
            Some(&key),
            Some(&register_team),
        )
        .await;
    let first = first.ok(201).clone();
    assert_eq!(first["stream_id"], format!("team-{team}"));
    assert_eq!(first["version"], 1);
    assert_eq!(first["replayed"], false);
    // A retry with the same Idempotency-Key answers the first outcome again.
    let retry = api
        .send(
            Method::POST,
            "/api/v1/teams",
            Some(&county),
            Some(&key),
            Some(&register_team),
        )
        .await;
    let retry = retry.ok(201);
    assert_eq!(retry["replayed"], true);
    assert_eq!(retry["token"], first["token"]);
    assert_eq!(retry["version"], 1);

    // Two volunteers join the team.
    let mut volunteers = Vec::new();
    for k in 0..2 {
        let v = uuid::Uuid::new_v4();
        api.post(
            "/api/v1/volunteers",
            &county,
            Some(&json!({
                "volunteer_id": v, "document_kind": "resident_id_card",
                "document_number": resident_id("330602", "19850607", &format!("97{k}")),
                "name": format!("接口志愿者{k}"), "phone": "13900002222", "home_region": "330602",
                "attestation": {"law_abiding": true, "capable": true, "understands_tb_core_messages": true},
                "skills": ["健康宣教"], "registered_on": "2025-01-03"
            })),
        )
        .await
        .ok(201);
        api.post(
            &format!("/api/v1/volunteers/{v}/join"),
            &county,
            Some(&json!({"team_id": team, "joined_on": "2025-01-03"})),
        )
        .await
        .ok(200);
        volunteers.push(v);
    }

    // An activity on World TB Day with both of them.
    let activity = uuid::Uuid::new_v4();
    let recorded = api
        .post(
            "/api/v1/activities",
            &county,
            Some(&json!({
                "activity_id": activity,
                "details": {
                    "team_id": team, "kind": "key_day_campaign", "key_day": "world_tb_day_03_24",
                    "date": "2025-03-24", "start_time": "09:00", "end_time": "11:30",
                    "place": "越城区社区服务中心",
                    "participants": [{"volunteer_id": volunteers[0], "minutes": 150},
                                     {"volunteer_id": volunteers[1], "minutes": 120}],
                    "people_reached": 300, "media_pieces": 1, "materials_distributed": 200,
                    "record": {"recorder": "volunteer", "recorder_volunteer_id": volunteers[0],
                               "content": "世界防治结核病日主题宣传", "summary": "发放资料，现场咨询"}
                }
            })),
        )
        .await;
    assert_eq!(
        recorded.ok(201)["stream_id"],
        format!("activity-{activity}")
    );

    // The 2025 summary (a partial year of the window): draft → approval → approve → city → accept.
    let draft = api
        .post(
            "/api/v1/summaries",
            &county,
            Some(&json!({"county": "330602", "year": 2025, "sections": sections(), "typical_cases": []})),
        )
        .await;
    assert_eq!(draft.ok(201)["stream_id"], "summary-330602-2025");
    let path = "/api/v1/summaries/330602/2025";
    api.post(&format!("{path}/submit-for-approval"), &county, None)
        .await
        .ok(200);
    // Only the health bureau approves (A16): the county CDC is refused.
    api.post(&format!("{path}/approve"), &county, None)
        .await
        .problem(403, "forbidden", None);
    api.post(&format!("{path}/approve"), &bureau, None)
        .await
        .ok(200);
    api.post(&format!("{path}/submit-to-city"), &county, None)
        .await
        .ok(200);
    let accepted = api.post(&format!("{path}/accept"), &city, None).await;
    let accepted = accepted.ok(200).clone();
    assert_eq!(accepted["version"], 5);
    let last_token = accepted["token"].clone();

    // The written streams, read back.
    assert_eq!(
        stream_types(&api, &city, "summary-330602-2025").await,
        [
            "SummaryDrafted",
            "SummarySubmittedForApproval",
            "SummaryApproved",
            "SummarySubmittedToCity",
            "SummaryAccepted"
        ]
    );
    assert_eq!(
        stream_types(&api, &county, &format!("team-{team}")).await,
        ["TeamRegistered"]
    );
    assert_eq!(
        stream_types(&api, &county, &format!("volunteer-{}", volunteers[0])).await,
        ["VolunteerRegistered", "VolunteerJoinedTeam"]
    );
    let raw = api
        .get(
            &format!("/api/v1/streams/volunteer-{}/events", volunteers[0]),
            &county,
        )
        .await;
    assert!(
        !raw.body.to_string().contains("接口志愿者0"),
        "personal data stays sealed in the stream"
    );
    let view = api
        .get(&format!("/api/v1/volunteers/{}", volunteers[0]), &county)
        .await;
    let view = view.ok(200);
    assert_eq!(view["home_region"], "330602");
    assert_eq!(view["teams"], json!([team]));
    assert_ne!(view["masked_name"], "接口志愿者0");
    assert!(view["masked_name"].as_str().unwrap().contains('*'));

    // The whole log by cursor, filtered to summaries: the new stream's five events, in order, each once.
    // A page ends at the fence (events of transactions still in flight come later), so the reader
    // resumes from its cursor until it has seen them, as a front end polling the log would.
    let mut after = String::new();
    let mut ours = Vec::new();
    within(
        Duration::from_secs(20),
        "the summary events in /events",
        async {
            while ours.len() < 5 {
                let page = api
                    .get(
                        &format!("/api/v1/events?after={after}&limit=7&category=summary"),
                        &city,
                    )
                    .await;
                let page = page.ok(200);
                for e in page["items"].as_array().unwrap() {
                    assert_eq!(e["category"], "summary");
                    if e["stream_id"] == "summary-330602-2025" {
                        ours.push(e["stream_version"].as_u64().unwrap());
                    }
                }
                after = page["next_cursor"].as_str().unwrap().to_owned();
            }
        },
    )
    .await;
    assert_eq!(ours, [1, 2, 3, 4, 5]);

    // Read-your-writes (A1): with the last write's token, coverage counts the two new members besides
    // the demo team's five, both active in 2025.
    let coverage = api
        .get(
            &format!(
                "/api/v1/reports/coverage?region=330602&date=2025-03-31&min_token={}",
                last_token.as_str().unwrap()
            ),
            &county,
        )
        .await;
    let coverage = coverage.ok(200);
    assert_eq!(coverage["registered_volunteers"], 7, "{coverage}");
    assert_eq!(coverage["active_volunteers"], 2, "{coverage}");
    assert_eq!(coverage["population"]["count"], 1_130_600);
    assert!(token_of(&coverage["as_of"]) >= token_of(&last_token));
    svc.stop().await;
}

#[tokio::test]
async fn rest_bad_input_is_4xx_problem_naming_the_field() {
    let svc = TestService::start().await;
    let api = Api::new(&svc);
    let county = svc.dev_bearer(Role::CountyCdc);
    let team = json!({
        "team_id": uuid::Uuid::new_v4(), "host_unit_id": uuid::Uuid::new_v4(), "region": "330602",
        "level": "county",
        "profile": {"name": "队", "leader": {"name": "甲"}, "on_call_contact": {"name": "甲"},
                    "party_member_team": false, "student_team": false},
        "registered_on": "2025-01-02"
    });

    // Missing field (top level and nested).
    let mut missing = team.clone();
    missing.as_object_mut().unwrap().remove("region");
    api.post("/api/v1/teams", &county, Some(&missing))
        .await
        .problem(400, "invalid_argument", Some("region"));
    let mut nested = team.clone();
    nested["profile"]
        .as_object_mut()
        .unwrap()
        .remove("on_call_contact");
    api.post("/api/v1/teams", &county, Some(&nested))
        .await
        .problem(400, "invalid_argument", Some("profile.on_call_contact"));
    // Unknown enum value.
    let mut level = team.clone();
    level["level"] = json!("village");
    api.post("/api/v1/teams", &county, Some(&level))
        .await
        .problem(400, "invalid_argument", Some("level"));
    // Wrong type and an invalid UUID deep in a list.
    let activity = |participants: Value| {
        json!({
            "activity_id": uuid::Uuid::new_v4(),
            "details": {
                "team_id": uuid::Uuid::new_v4(), "kind": "patient_care", "date": "2025-03-01",
                "place": "x", "participants": participants, "people_reached": 1, "media_pieces": 0,
                "materials_distributed": 0,
                "record": {"recorder": "team_leader", "content": "c", "summary": "s"}
            }
        })
    };
    let v = uuid::Uuid::new_v4();
    api.post(
        "/api/v1/activities",
        &county,
        Some(&activity(json!([{"volunteer_id": v, "minutes": 10},
                               {"volunteer_id": v, "minutes": "ten"}]))),
    )
    .await
    .problem(
        400,
        "invalid_argument",
        Some("details.participants[1].minutes"),
    );
    api.post(
        "/api/v1/activities",
        &county,
        Some(&activity(json!([{"volunteer_id": v, "minutes": 10},
                               {"volunteer_id": v, "minutes": 10},
                               {"volunteer_id": "not-a-uuid", "minutes": 10}]))),
    )
    .await
    .problem(
        400,
        "invalid_argument",
        Some("details.participants[2].volunteer_id"),
    );
    // A domain value the adapter checks (a GB/T 2260 code).
    let mut code = team.clone();
    code["region"] = json!("33060x");
    api.post("/api/v1/teams", &county, Some(&code))
        .await
        .problem(400, "invalid_argument", Some("region"));
    // Invalid id in the path, bad query parameters.
    api.post(
        "/api/v1/teams/not-a-uuid/suspend",
        &county,
        Some(&json!({"from": "2025-01-01", "reason": "r"})),
    )
    .await
    .problem(400, "invalid_argument", Some("team_id"));
    api.get("/api/v1/events?limit=abc", &county).await.problem(
        400,
        "invalid_argument",
        Some("limit"),
    );
    api.get("/api/v1/events?after=garbage", &county)
        .await
        .problem(400, "invalid_argument", Some("after"));
    api.get(
        "/api/v1/reports/coverage?region=330602&date=2025-13-01",
        &county,
    )
    .await
    .problem(400, "invalid_argument", Some("date"));
    // Malformed JSON, wrong content type.
    let res = api
        .http
        .post(format!("{}/api/v1/teams", api.base))
        .header("authorization", &county)
        .header("idempotency-key", "k-1")
        .header("content-type", "application/json")
        .body("{\"team_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], PROBLEM);
    let res = api
        .http
        .post(format!("{}/api/v1/teams", api.base))
        .header("authorization", &county)
        .header("idempotency-key", "k-2")
        .header("content-type", "text/plain")
        .body(team.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(res.headers()["content-type"], PROBLEM);
    // Oversized body (the limit is 256 KiB by default).
    let mut big = team.clone();
    big["profile"]["name"] = json!("x".repeat(300 * 1024));
    let too_big = api.post("/api/v1/teams", &county, Some(&big)).await;
    too_big.problem(413, "invalid_argument", Some("body"));
    // Idempotency-Key: missing, too long.
    api.send(
        Method::POST,
        "/api/v1/teams",
        Some(&county),
        None,
        Some(&team),
    )
    .await
    .problem(400, "invalid_argument", Some("Idempotency-Key"));
    let long = "k".repeat(201);
    api.send(
        Method::POST,
        "/api/v1/teams",
        Some(&county),
        Some(&long),
        Some(&team),
    )
    .await
    .problem(400, "invalid_argument", Some("Idempotency-Key"));
    // Unknown route, wrong method.
    api.get("/api/v1/nothing-here", &county)
        .await
        .problem(404, "not_found", None);
    let wrong = api.get("/api/v1/teams", &county).await;
    wrong.problem(405, "invalid_argument", None);
    assert!(wrong.headers["allow"].to_str().unwrap().contains("POST"));
    svc.stop().await;
}

#[tokio::test]
async fn rest_without_token_is_401_problem() {
    let svc = TestService::start().await;
    let api = Api::new(&svc);
    for (method, path, bearer) in [
        (Method::GET, "/api/v1/events", None),
        (Method::POST, "/api/v1/teams", None),
        (Method::GET, "/api/v1/events", Some("Bearer not-a-jwt")),
        (Method::GET, "/api/v1/events", Some("Basic dXNlcjpwYXNz")),
    ] {
        let res = api
            .send(method, path, bearer, Some("k"), Some(&json!({})))
            .await;
        res.problem(401, "unauthenticated", None);
        assert_eq!(res.headers["www-authenticate"], "Bearer");
    }
    svc.stop().await;
}

#[tokio::test]
async fn rest_out_of_scope_is_403_problem() {
    let svc = TestService::start_with_demo().await;
    let api = Api::new(&svc);
    let county = svc.dev_bearer(Role::CountyCdc); // 330602 only
    let bureau = svc.dev_bearer(Role::HealthBureauApprover); // 330602 only
    api.get(
        "/api/v1/reports/coverage?region=330603&date=2024-12-31",
        &county,
    )
    .await
    .problem(403, "forbidden", None);
    // 柯桥区's 2024 summary (drafted by the demo) is not this bureau's to approve.
    api.post(
        "/api/v1/summaries/330603/2024/submit-for-approval",
        &county,
        None,
    )
    .await
    .problem(403, "forbidden", None);
    api.post("/api/v1/summaries/330603/2024/approve", &bureau, None)
        .await
        .problem(403, "forbidden", None);
    // A team leader cannot read region figures at all.
    api.get(
        "/api/v1/reports/coverage?region=330602&date=2024-12-31",
        &svc.dev_bearer(Role::TeamLeader),
    )
    .await
    .problem(403, "forbidden", None);
    svc.stop().await;
}

#[tokio::test]
async fn rest_openapi_is_3_1_and_lists_the_routes() {
    let svc = TestService::start().await;
    let res = reqwest::get(format!("{}/openapi.json", svc.http))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/regions", "post"),
        ("/api/v1/campaigns", "post"),
        ("/api/v1/host-units", "post"),
        ("/api/v1/teams", "post"),
        ("/api/v1/teams/{team_id}/suspend", "post"),
        ("/api/v1/volunteers", "post"),
        ("/api/v1/volunteers/{volunteer_id}", "get"),
        ("/api/v1/activities", "post"),
        ("/api/v1/summaries", "post"),
        ("/api/v1/summaries/{county}/{year}/approve", "post"),
        ("/api/v1/streams/{stream_id}/events", "get"),
        ("/api/v1/events", "get"),
        ("/api/v1/reports/coverage", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert_eq!(
        doc["components"]["schemas"]["TeamLevelDto"]["enum"],
        json!(["city", "county"])
    );
    // Every operation: described responses incl. problems; writes document Idempotency-Key.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for (status, r) in responses {
                assert!(
                    r["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{method} {path} {status} has no description"
                );
            }
            for status in ["400", "401", "403", "500"] {
                assert!(
                    responses[status]["content"][PROBLEM].is_object(),
                    "{method} {path} lacks the {status} problem"
                );
            }
            if method == "post" {
                let params = op["parameters"].as_array().unwrap();
                assert!(
                    params.iter().any(|p| p["name"] == "Idempotency-Key"
                        && p["in"] == "header"
                        && p["required"] == true),
                    "{method} {path} lacks Idempotency-Key"
                );
            }
        }
    }
    svc.stop().await;
}

#[tokio::test]
async fn rest_swagger_ui_is_served_without_a_cdn() {
    let svc = TestService::start().await;
    let page = reqwest::get(format!("{}/swagger-ui/", svc.http))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"));
    assert!(
        !html.contains("https://"),
        "the page loads nothing from elsewhere"
    );
    let bundle = reqwest::get(format!("{}/swagger-ui/swagger-ui-bundle.js", svc.http))
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
    let init = reqwest::get(format!("{}/swagger-ui/swagger-initializer.js", svc.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"));
    svc.stop().await;
}

/// An id of the demo dataset (`app::demo`): kind 2 = team, 3 = volunteer, 4 = activity.
fn demo_id(kind: u128, n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x7f1a_0000_0000_4000_8000_0000_0000_0000 | (kind << 32) | n)
}

#[tokio::test]
async fn rest_remaining_areas_accept_valid_commands_and_name_bad_fields() {
    let svc = TestService::start_with_demo().await;
    let api = Api::new(&svc);
    let county = svc.dev_bearer(Role::CountyCdc); // 330602
    let city = svc.dev_bearer(Role::CityCdc); // 330600
    let supervisor = svc.dev_bearer(Role::Supervisor); // 330600
    let leader = svc.dev_bearer(Role::TeamLeader); // the demo's 越城区 team
    let team = app::demo::demo_team(1);
    assert_eq!(team.0, demo_id(2, 1));
    let volunteer = demo_id(3, 100); // 越城区's first demo volunteer, in both demo activities
    let (activity_a, activity_b) = (demo_id(4, 10), demo_id(4, 11));
    let id = uuid::Uuid::new_v4;

    // ---- certificates
    let certificate = id();
    let issue = |activities: Value| {
        json!({"certificate_id": certificate, "number": format!("YC-{certificate}"),
               "volunteer_id": volunteer, "issuing_team_id": team.0,
               "activity_ids": activities, "issued_on": "2024-06-01"})
    };
    api.post(
        "/api/v1/certificates",
        &county,
        Some(&issue(json!([activity_a, "nope"]))),
    )
    .await
    .problem(400, "invalid_argument", Some("activity_ids[1]"));
    let issued = api
        .post(
            "/api/v1/certificates",
            &county,
            Some(&issue(json!([activity_a, activity_b]))),
        )
        .await;
    assert_eq!(
        issued.ok(201)["stream_id"],
        format!("certificate-{certificate}")
    );

    // ---- typical cases: nominate → select → forward; another nominated and withdrawn
    let nominate = |case: uuid::Uuid, activity: uuid::Uuid, qualities: Value| {
        json!({"case_id": case, "county": "330602", "year": 2024, "title": "世界防治结核病日进社区",
               "description": "有创新、有实效的宣传活动", "activity_ids": [activity],
               "qualities": qualities})
    };
    api.post(
        "/api/v1/cases",
        &county,
        Some(&nominate(id(), activity_a, json!(["innovative", "boring"]))),
    )
    .await
    .problem(400, "invalid_argument", Some("qualities[1]"));
    let case = id();
    api.post(
        "/api/v1/cases",
        &county,
        Some(&nominate(
            case,
            activity_a,
            json!(["innovative", "effective"]),
        )),
    )
    .await
    .ok(201);
    api.post("/api/v1/cases/not-a-uuid/select", &city, None)
        .await
        .problem(400, "invalid_argument", Some("case_id"));
    api.post(&format!("/api/v1/cases/{case}/select"), &city, None)
        .await
        .ok(200);
    let forwarded = api
        .post(
            &format!("/api/v1/cases/{case}/forward-to-province"),
            &city,
            None,
        )
        .await;
    assert_eq!(forwarded.ok(200)["version"], 3);
    let other = id();
    api.post(
        "/api/v1/cases",
        &county,
        Some(&nominate(other, activity_b, json!(["moving"]))),
    )
    .await
    .ok(201);
    api.post(
        &format!("/api/v1/cases/{other}/withdraw"),
        &county,
        Some(&json!({"reason": "材料不全"})),
    )
    .await
    .ok(200);

    // ---- evaluations (the city CDC)
    let item = |score: u32| json!({"score": score, "comment": "良好"});
    let evaluation = |county: &str, form: u32| {
        json!({"evaluation": {"county": county, "year": 2024},
               "items": {"form": item(form), "scale": item(80), "frequency": item(80),
                         "population_reached": item(80), "media_dissemination": item(80),
                         "effect": item(80)}})
    };
    api.post(
        "/api/v1/evaluations",
        &city,
        Some(&evaluation("33060x", 80)),
    )
    .await
    .problem(400, "invalid_argument", Some("evaluation.county"));
    api.post(
        "/api/v1/evaluations",
        &city,
        Some(&evaluation("330602", 300)),
    )
    .await
    .problem(400, "invalid_argument", Some("items.form.score"));
    let evaluated = api
        .post(
            "/api/v1/evaluations",
            &city,
            Some(&evaluation("330602", 85)),
        )
        .await;
    assert_eq!(evaluated.ok(201)["stream_id"], "evaluation-330602-2024");

    // ---- supervision findings: the supervisor records, the team leader responds, the supervisor closes
    let finding = id();
    let record = |subject: Value, severity: &str| {
        json!({"finding_id": finding, "jurisdiction": "330600", "subject": subject,
               "description": "志愿服务记录不完整", "severity": severity, "spot_check": false})
    };
    api.post(
        "/api/v1/findings",
        &supervisor,
        Some(&record(json!({"team_id": team.0}), "catastrophic")),
    )
    .await
    .problem(400, "invalid_argument", Some("severity"));
    api.post(
        "/api/v1/findings",
        &supervisor,
        Some(&record(
            json!({"summary": {"county": "330600", "year": 2024}}),
            "minor",
        )),
    )
    .await
    .problem(400, "invalid_argument", Some("subject.summary.county"));
    api.post(
        "/api/v1/findings",
        &supervisor,
        Some(&record(json!({"team_id": "nope"}), "minor")),
    )
    .await
    .problem(400, "invalid_argument", Some("subject.team_id"));
    api.post(
        "/api/v1/findings",
        &supervisor,
        Some(&record(json!({"team_id": team.0}), "minor")),
    )
    .await
    .ok(201);
    api.post(
        &format!("/api/v1/findings/{finding}/respond"),
        &leader,
        Some(&json!({"response": "已补录"})),
    )
    .await
    .ok(200);
    let closed = api
        .post(
            &format!("/api/v1/findings/{finding}/close"),
            &supervisor,
            Some(&json!({"resolution": "整改完成"})),
        )
        .await;
    assert_eq!(closed.ok(200)["version"], 3);

    // ---- dispatches
    let dispatch = id();
    let issue_dispatch = |reserves: Value| {
        json!({"dispatch_id": dispatch, "hq": "越城区疫情防控指挥部", "region": "330602",
               "team_ids": [team.0], "reserve_volunteers": reserves, "reason": "核酸采样点支援",
               "at": "2024-05-01T01:00:00Z"})
    };
    api.post(
        "/api/v1/dispatches",
        &county,
        Some(&issue_dispatch(
            json!([{"volunteer_id": volunteer, "role": "pilot"}]),
        )),
    )
    .await
    .problem(400, "invalid_argument", Some("reserve_volunteers[0].role"));
    api.post(
        "/api/v1/dispatches",
        &county,
        Some(&issue_dispatch(json!([]))),
    )
    .await
    .ok(201);
    api.post(
        &format!("/api/v1/dispatches/{dispatch}/close"),
        &county,
        Some(&json!({"at": "yesterday"})),
    )
    .await
    .problem(400, "invalid_argument", Some("at"));
    let closed = api
        .post(
            &format!("/api/v1/dispatches/{dispatch}/close"),
            &county,
            Some(&json!({"at": "2024-05-02T01:00:00Z", "note": "任务完成"})),
        )
        .await;
    assert_eq!(closed.ok(200)["version"], 2);

    // ---- deployments
    let deployment = id();
    let deploy = |region: &str| {
        json!({"deployment_id": deployment, "volunteer_id": volunteer, "home_unit": "越城区卫生健康局",
               "region": region, "grid": "府山街道 第3网格", "from": "2024-05-01",
               "planned_end": "2024-05-31"})
    };
    api.post("/api/v1/deployments", &county, Some(&deploy("3306")))
        .await
        .problem(400, "invalid_argument", Some("region"));
    api.post("/api/v1/deployments", &county, Some(&deploy("330602")))
        .await
        .ok(201);
    api.post(
        "/api/v1/deployments/not-a-uuid/end",
        &county,
        Some(&json!({"on": "2024-05-20"})),
    )
    .await
    .problem(400, "invalid_argument", Some("deployment_id"));
    api.post(
        &format!("/api/v1/deployments/{deployment}/end"),
        &county,
        Some(&json!({"on": "2024-05-20"})),
    )
    .await
    .ok(200);

    // ---- medicine boxes: register, donate, dispense
    let medbox = id();
    let boxes = format!("/api/v1/medicine-boxes/{medbox}");
    api.post(
        "/api/v1/medicine-boxes",
        &county,
        Some(
            &json!({"medicine_box_id": medbox, "name": "府山街道共享药箱", "kind": "physical",
                     "region": "330602", "keeper_unit": "府山街道社区卫生服务中心"}),
        ),
    )
    .await
    .ok(201);
    let line = |medicine: &str, quantity: u32| json!({"medicine": medicine, "unit": "盒", "quantity": quantity});
    api.post(
        &format!("{boxes}/donations"),
        &county,
        Some(&json!({"donor": {"category": "pharmacy", "organisation": "某大药房"},
                     "items": [line("布洛芬缓释胶囊 0.3g", 10), line("  ", 5)], "on": "2024-05-01"})),
    )
    .await
    .problem(400, "invalid_argument", Some("items[1].medicine"));
    api.post(
        &format!("{boxes}/donations"),
        &county,
        Some(
            &json!({"donor": {"category": "pharmacy", "organisation": "某大药房"},
                     "items": [line("布洛芬缓释胶囊 0.3g", 10)], "on": "2024-05-01"}),
        ),
    )
    .await
    .ok(201);
    api.post(
        &format!("{boxes}/dispensings"),
        &county,
        Some(
            &json!({"recipient": "alien", "items": [line("布洛芬缓释胶囊 0.3g", 3)],
                     "on": "2024-05-02"}),
        ),
    )
    .await
    .problem(400, "invalid_argument", Some("recipient"));
    let dispensed = api
        .post(
            &format!("{boxes}/dispensings"),
            &county,
            Some(&json!({"recipient": "elderly_living_alone",
                         "items": [line("布洛芬缓释胶囊 0.3g", 3)], "on": "2024-05-02"})),
        )
        .await;
    assert_eq!(dispensed.ok(201)["version"], 3);

    // ---- needs: post → verify → take → fulfil (team leader); another posted and rejected
    let post = |need: uuid::Uuid, category: &str| {
        json!({"need_id": need, "region": "330602", "community": "府山街道 第3网格",
               "description": "独居老人代购药品", "category": category})
    };
    api.post("/api/v1/needs", &county, Some(&post(id(), "luxury")))
        .await
        .problem(400, "invalid_argument", Some("category"));
    let need = id();
    api.post("/api/v1/needs", &county, Some(&post(need, "medicine")))
        .await
        .ok(201);
    api.post(&format!("/api/v1/needs/{need}/verify"), &county, None)
        .await
        .ok(200);
    api.post(
        &format!("/api/v1/needs/{need}/take"),
        &leader,
        Some(&json!({"team_id": "team-1"})),
    )
    .await
    .problem(400, "invalid_argument", Some("team_id"));
    api.post(
        &format!("/api/v1/needs/{need}/take"),
        &leader,
        Some(&json!({"team_id": team.0})),
    )
    .await
    .ok(200);
    let fulfilled = api
        .post(
            &format!("/api/v1/needs/{need}/fulfil"),
            &leader,
            Some(&json!({"team_id": team.0, "note": "已送达"})),
        )
        .await;
    assert_eq!(fulfilled.ok(200)["stream_id"], format!("need-{need}"));
    assert_eq!(fulfilled.body["version"], 4);
    let rejected = id();
    api.post("/api/v1/needs", &county, Some(&post(rejected, "food")))
        .await
        .ok(201);
    api.post(
        &format!("/api/v1/needs/{rejected}/reject"),
        &county,
        Some(&json!({"reason": "重复发布"})),
    )
    .await
    .ok(200);

    // The new operations are in the OpenAPI document.
    let doc: Value = reqwest::get(format!("{}/openapi.json", svc.http))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/certificates",
        "/api/v1/cases/{case_id}/forward-to-province",
        "/api/v1/evaluations",
        "/api/v1/findings/{finding_id}/close",
        "/api/v1/dispatches/{dispatch_id}/close",
        "/api/v1/deployments/{deployment_id}/end",
        "/api/v1/medicine-boxes/{medicine_box_id}/dispensings",
        "/api/v1/needs/{need_id}/fulfil",
    ] {
        assert!(
            doc["paths"][path]["post"].is_object(),
            "post {path} missing"
        );
    }
    svc.stop().await;
}

//! Both front doors on one service: what one transport writes, the other reads back identically (same
//! events, same tokens), and both refuse or allow a command for each role exactly as `app::policy`
//! decides — the policy is applied once, below the transports.

use app::policy::{Subject, authorize};
use app::{CommandKind, Role};
use domain::ids::{RegionCode, TeamId};
use grpc_api::pb;
use pb::event_service_client::EventServiceClient;
use pb::team_service_client::TeamServiceClient;
use serde_json::{Value, json};
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::api_support::TestService;

/// The demo's 越城区 CDC host unit (`app::demo`: kind 1, county 1).
const YUECHENG_CDC: &str = "7f1a0000-0000-4000-8000-000100000001";

fn authed<T>(bearer: &str, message: T) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut()
        .insert("authorization", bearer.parse().unwrap());
    r
}

fn grpc_team(team: &str, region: &str, student: bool) -> pb::RegisterTeamRequest {
    let person = Some(pb::Person {
        name: "跨端队长".to_owned(),
        id_number: None,
        phone: Some("13800003333".to_owned()),
    });
    pb::RegisterTeamRequest {
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        team_id: team.to_owned(),
        host_unit_id: YUECHENG_CDC.to_owned(),
        region: region.to_owned(),
        level: pb::TeamLevel::County.into(),
        profile: Some(pb::TeamProfile {
            name: "跨端测试志愿服务队".to_owned(),
            national_platform_id: None,
            leader: person.clone(),
            on_call_contact: person,
            party_member_team: false,
            student_team: student,
        }),
        registered_on: "2025-01-06".to_owned(),
    }
}

fn rest_team(team: &str, region: &str, student: bool) -> Value {
    json!({
        "team_id": team, "host_unit_id": YUECHENG_CDC, "region": region, "level": "county",
        "profile": {"name": "跨端测试志愿服务队", "national_platform_id": null,
                    "leader": {"name": "跨端队长", "phone": "13800003333"},
                    "on_call_contact": {"name": "跨端队长", "phone": "13800003333"},
                    "party_member_team": false, "student_team": student},
        "registered_on": "2025-01-06"
    })
}

async fn rest_post(svc: &TestService, path: &str, bearer: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", svc.http))
        .header("authorization", bearer)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn rest_stream(svc: &TestService, bearer: &str, stream: &str) -> Vec<(String, String)> {
    let r = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/streams/{stream}/events?limit=100",
            svc.http
        ))
        .header("authorization", bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap().to_owned(),
                e["token"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn grpc_stream(ch: &Channel, bearer: &str, stream: &str) -> Vec<(String, String)> {
    EventServiceClient::new(ch.clone())
        .read_stream(authed(
            bearer,
            pb::ReadStreamRequest {
                stream_id: stream.to_owned(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .events
        .into_iter()
        .map(|e| (e.event_type, e.token))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_transport_writes_the_other_reads_back_with_the_same_tokens() {
    let svc = TestService::start_with_demo().await;
    let ch = Channel::from_shared(svc.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let county = svc.dev_bearer(Role::CountyCdc);

    // Written over gRPC, read over REST.
    let by_grpc = uuid::Uuid::new_v4().to_string();
    let written = TeamServiceClient::new(ch.clone())
        .register_team(authed(&county, grpc_team(&by_grpc, "330602", false)))
        .await
        .unwrap()
        .into_inner();
    let written = written.result.unwrap();
    let read = rest_stream(&svc, &county, &format!("team-{by_grpc}")).await;
    assert_eq!(
        read,
        vec![("TeamRegistered".to_owned(), written.token.clone())]
    );

    // Written over REST, read over gRPC.
    let by_rest = uuid::Uuid::new_v4().to_string();
    let (status, answer) = rest_post(
        &svc,
        "/api/v1/teams",
        &county,
        &rest_team(&by_rest, "330602", false),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let read = grpc_stream(&ch, &county, &format!("team-{by_rest}")).await;
    assert_eq!(
        read,
        vec![(
            "TeamRegistered".to_owned(),
            answer["token"].as_str().unwrap().to_owned()
        )]
    );
    svc.stop().await;
}

/// Every role, in scope (越城区 330602) and out of scope (柯桥区 330603): RegisterTeam is refused over
/// both transports exactly when `app::policy::authorize` refuses it, with 403 / PERMISSION_DENIED (a
/// Youth League team is a student team, so A21's own check does not interfere).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_transports_refuse_exactly_what_the_policy_refuses() {
    let svc = TestService::start_with_demo().await;
    let ch = Channel::from_shared(svc.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut decided = 0;
    for role in Role::ALL {
        let actor = svc.dev_actor(role);
        let bearer = svc.bearer(&actor);
        // The Youth League registers student teams only (A21, checked beyond the policy table).
        let student = role == Role::YouthLeague;
        for region in ["330602", "330603"] {
            let subject = Subject {
                region: RegionCode::parse("region", region).unwrap(),
                team: None::<TeamId>,
            };
            let allowed = authorize(&actor, CommandKind::RegisterTeam, &subject).is_ok();

            let grpc = TeamServiceClient::new(ch.clone())
                .register_team(authed(
                    &bearer,
                    grpc_team(&uuid::Uuid::new_v4().to_string(), region, student),
                ))
                .await;
            let grpc_denied = matches!(&grpc, Err(s) if s.code() == Code::PermissionDenied);
            assert_eq!(grpc_denied, !allowed, "gRPC {role:?} in {region}: {grpc:?}");

            let (status, body) = rest_post(
                &svc,
                "/api/v1/teams",
                &bearer,
                &rest_team(&uuid::Uuid::new_v4().to_string(), region, student),
            )
            .await;
            assert_eq!(
                status == 403,
                !allowed,
                "REST {role:?} in {region}: {status} {body}"
            );
            if status == 403 {
                assert_eq!(body["code"], "forbidden");
            }
            decided += 1;
        }
    }
    assert_eq!(decided, Role::ALL.len() * 2);
    svc.stop().await;
}

//! The gRPC front door end to end: the real service on ephemeral ports against a real Postgres, driven by
//! the clients generated from `proto/`. A campaign year through the partner contract (A16 summary
//! workflow included), field-named INVALID_ARGUMENT for bad input, authentication and scope, a
//! resumable subscription that delivers every event exactly once, and health plus reflection.

use std::collections::BTreeSet;
use std::time::Duration;

use app::{Actor, Role};
use domain::ids::RegionCode;
use grpc_api::pb;
use pb::activity_service_client::ActivityServiceClient;
use pb::event_service_client::EventServiceClient;
use pb::summary_service_client::SummaryServiceClient;
use pb::team_service_client::TeamServiceClient;
use pb::volunteer_service_client::VolunteerServiceClient;
use tokio_stream::StreamExt as _;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::api_support::TestService;
use crate::support::{resident_id, within};

const DEADLINE: Duration = Duration::from_secs(60);

/// The demo's 越城区 CDC host unit (`app::demo`: kind 1, county 1).
const YUECHENG_CDC: &str = "7f1a0000-0000-4000-8000-000100000001";
/// The demo's 柯桥区 CDC host unit (kind 1, county 2).
const KEQIAO_CDC: &str = "7f1a0000-0000-4000-8000-000100000002";

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

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn person(name: &str, phone: &str) -> Option<pb::Person> {
    Some(pb::Person {
        name: name.to_owned(),
        id_number: None,
        phone: Some(phone.to_owned()),
    })
}

fn register_team(team: &str, host_unit: &str, region: &str) -> pb::RegisterTeamRequest {
    pb::RegisterTeamRequest {
        idempotency_key: key(),
        team_id: team.to_owned(),
        host_unit_id: host_unit.to_owned(),
        region: region.to_owned(),
        level: pb::TeamLevel::County.into(),
        profile: Some(pb::TeamProfile {
            name: "越城区无结核校园志愿服务分队".to_owned(),
            national_platform_id: Some("ZJ-330602-0042".to_owned()),
            leader: person("测试队长甲", "13800001111"),
            on_call_contact: person("测试队长甲", "13800001111"),
            party_member_team: true,
            student_team: false,
        }),
        registered_on: "2025-01-05".to_owned(),
    }
}

fn register_volunteer(volunteer: &str, n: u32) -> pb::RegisterVolunteerRequest {
    pb::RegisterVolunteerRequest {
        idempotency_key: key(),
        volunteer_id: volunteer.to_owned(),
        document_kind: pb::DocumentKind::ResidentIdCard.into(),
        document_number: resident_id("330602", "19900101", &format!("{:03}", 100 + n)),
        declared_birth_date: None,
        name: format!("测试志愿者{n:02}"),
        phone: None,
        home_region: "330602".to_owned(),
        attestation: Some(pb::Attestation {
            law_abiding: true,
            capable: true,
            understands_tb_core_messages: true,
        }),
        skills: vec!["健康宣教".to_owned()],
        reserve_tier: pb::ReserveTier::None.into(),
        registered_on: "2025-01-10".to_owned(),
    }
}

fn record_activity(activity: &str, team: &str, members: &[String]) -> pb::RecordActivityRequest {
    pb::RecordActivityRequest {
        idempotency_key: key(),
        activity_id: activity.to_owned(),
        details: Some(pb::ActivityDetails {
            team_id: team.to_owned(),
            kind: pb::ActivityKind::KeyDayCampaign.into(),
            key_day: Some(pb::KeyDay::VolunteerDay.into()),
            date: "2025-03-05".to_owned(),
            start_time: Some("09:00".to_owned()),
            end_time: Some("11:30".to_owned()),
            place: "越城区府山街道社区服务中心".to_owned(),
            grid: None,
            participants: members
                .iter()
                .map(|v| pb::Participant {
                    volunteer_id: v.clone(),
                    minutes: 150,
                })
                .collect(),
            people_reached: 200,
            media_pieces: 1,
            materials_distributed: 300,
            record: Some(pb::ActivityRecord {
                recorder: Some(pb::activity_record::Recorder::RecorderVolunteerId(
                    members[0].clone(),
                )),
                content: "志愿者日结核病防治知识宣传".to_owned(),
                summary: "发放资料，现场咨询".to_owned(),
                attachments: vec![],
            }),
        }),
    }
}

fn summary_key() -> Option<pb::CountyYear> {
    Some(pb::CountyYear {
        county: "330602".to_owned(),
        year: 2025,
    })
}

fn types(events: &[pb::Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

fn header<'a>(s: &'a Status, key: &str) -> &'a str {
    s.metadata()
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing from {s:?}"))
        .to_str()
        .unwrap()
}

/// `status` is INVALID_ARGUMENT naming `field` in the metadata and in the message.
fn assert_invalid(status: &Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(header(status, "x-error-field"), field, "{status:?}");
    assert_eq!(header(status, "x-error-code"), "invalid_argument");
    assert!(
        status.message().starts_with(&format!("{field}: ")),
        "message names the field: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_campaign_year_end_to_end() {
    let svc = TestService::start_with_demo().await;
    let ch = channel(&svc).await;
    let cdc = svc.dev_bearer(Role::CountyCdc);
    let bureau = svc.dev_bearer(Role::HealthBureauApprover);
    let mut teams = TeamServiceClient::new(ch.clone());
    let mut volunteers = VolunteerServiceClient::new(ch.clone());
    let mut activities = ActivityServiceClient::new(ch.clone());
    let mut summaries = SummaryServiceClient::new(ch.clone());
    let events = EventServiceClient::new(ch.clone());

    // A team of 越城区 on its CDC, as the county CDC.
    let team = key();
    let request = register_team(&team, YUECHENG_CDC, "330602");
    let mut first = authed(&cdc, request.clone());
    first
        .metadata_mut()
        .insert("x-correlation-id", "partner-batch-7".parse().unwrap());
    let registered = teams
        .register_team(first)
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert!(!registered.replayed);
    assert!(!registered.token.is_empty());
    assert_eq!(registered.stream_id, format!("team-{team}"));

    // A retry with the same idempotency key is answered from the first write.
    let retried = teams
        .register_team(authed(&cdc, request))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert!(retried.replayed);
    assert_eq!(retried.token, registered.token);
    assert_eq!(retried.version, registered.version);

    // Volunteers register and join it.
    let mut members = Vec::new();
    for n in 0..3 {
        let volunteer = key();
        let done = volunteers
            .register_volunteer(authed(&cdc, register_volunteer(&volunteer, n)))
            .await
            .unwrap()
            .into_inner()
            .result
            .unwrap();
        assert_eq!(done.stream_id, format!("volunteer-{volunteer}"));
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
        members.push(volunteer);
    }

    // Two activities on 3·5 with all of them.
    let mut activity_streams = Vec::new();
    for _ in 0..2 {
        let activity = key();
        let done = activities
            .record_activity(authed(&cdc, record_activity(&activity, &team, &members)))
            .await
            .unwrap()
            .into_inner()
            .result
            .unwrap();
        activity_streams.push(done.stream_id);
    }

    // The 2025 summary (a partial year): drafted and submitted by the county CDC, approved by the
    // county health bureau, submitted to the city by the county CDC (A16).
    let drafted = summaries
        .draft_summary(authed(
            &cdc,
            pb::DraftSummaryRequest {
                idempotency_key: key(),
                summary: summary_key(),
                sections: Some(pb::SummarySections {
                    team_buildup: "新建志愿服务分队1支，注册志愿者3名".to_owned(),
                    support: "落实专项经费".to_owned(),
                    activities: "3·5志愿者日开展主题宣传2次".to_owned(),
                    effect: "覆盖群众400人次".to_owned(),
                }),
                typical_cases: vec![],
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    // The county CDC may not approve its own summary: only the health bureau does.
    let refused = summaries
        .approve_summary(authed(
            &cdc,
            pb::ApproveSummaryRequest {
                idempotency_key: key(),
                summary: summary_key(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    summaries
        .submit_summary_for_approval(authed(
            &cdc,
            pb::SubmitSummaryForApprovalRequest {
                idempotency_key: key(),
                summary: summary_key(),
            },
        ))
        .await
        .unwrap();
    summaries
        .approve_summary(authed(
            &bureau,
            pb::ApproveSummaryRequest {
                idempotency_key: key(),
                summary: summary_key(),
            },
        ))
        .await
        .unwrap();
    let submitted = summaries
        .submit_summary_to_city(authed(
            &cdc,
            pb::SubmitSummaryToCityRequest {
                idempotency_key: key(),
                summary: summary_key(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(submitted.stream_id, drafted.stream_id);
    assert_eq!(submitted.version, 4);

    // The written streams read back through EventService.
    let read = |stream: String| {
        let mut events = events.clone();
        let cdc = cdc.clone();
        async move {
            events
                .read_stream(authed(&cdc, pb::ReadStreamRequest { stream_id: stream }))
                .await
                .unwrap()
                .into_inner()
                .events
        }
    };
    let summary_events = read(drafted.stream_id.clone()).await;
    assert_eq!(
        types(&summary_events),
        [
            "SummaryDrafted",
            "SummarySubmittedForApproval",
            "SummaryApproved",
            "SummarySubmittedToCity"
        ]
    );
    assert_eq!(summary_events.last().unwrap().token, submitted.token);
    let team_events = read(format!("team-{team}")).await;
    assert_eq!(types(&team_events), ["TeamRegistered"]);
    assert_eq!(team_events[0].token, registered.token);
    assert_eq!(team_events[0].category, "team");
    let metadata: serde_json::Value = serde_json::from_str(&team_events[0].metadata_json).unwrap();
    assert_eq!(metadata["correlation_id"], "partner-batch-7");
    assert_eq!(metadata["command"], "RegisterTeam");
    assert!(team_events[0].occurred_at.is_some() && team_events[0].recorded_at.is_some());
    assert!(
        !team_events[0].payload_json.contains("测试队长甲"),
        "personal data stays sealed in the stream"
    );
    let volunteer_events = read(format!("volunteer-{}", members[0])).await;
    assert_eq!(
        types(&volunteer_events),
        ["VolunteerRegistered", "VolunteerJoinedTeam"]
    );
    assert!(!volunteer_events[0].payload_json.contains("测试志愿者"));
    for stream in activity_streams {
        let activity_events = read(stream).await;
        assert_eq!(types(&activity_events), ["ActivityRecorded"]);
        let payload: serde_json::Value =
            serde_json::from_str(&activity_events[0].payload_json).unwrap();
        assert_eq!(
            payload["details"]["participants"].as_array().unwrap().len(),
            3
        );
        let metadata: serde_json::Value =
            serde_json::from_str(&activity_events[0].metadata_json).unwrap();
        assert_eq!(metadata["subject_region"], "330602");
        assert_eq!(
            metadata["actor"].as_str(),
            Some(svc.dev_actor(Role::CountyCdc).subject.as_str()),
            "the authenticated actor goes into the event's metadata"
        );
        assert_eq!(metadata["role"], "county_cdc");
    }
}

/// A change that makes a valid request invalid in one field.
type Spoil = fn(&mut pb::RegisterTeamRequest);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_bad_input_is_invalid_argument_naming_the_field() {
    let svc = TestService::start_with_demo().await;
    let ch = channel(&svc).await;
    let cdc = svc.dev_bearer(Role::CountyCdc);
    let mut teams = TeamServiceClient::new(ch.clone());
    let mut activities = ActivityServiceClient::new(ch.clone());
    let mut events = EventServiceClient::new(ch.clone());
    let team = key();
    let good = register_team(&team, YUECHENG_CDC, "330602");

    let cases: [(&str, Spoil); 11] = [
        ("team_id", |r| r.team_id = "not-a-uuid".into()),
        ("host_unit_id", |r| r.host_unit_id = String::new()),
        ("level", |r| r.level = pb::TeamLevel::Unspecified.into()),
        ("level", |r| r.level = 99),
        ("region", |r| r.region = "33060x".into()),
        ("registered_on", |r| r.registered_on = "2025-13-01".into()),
        ("registered_on", |r| r.registered_on = "5 Jan 2025".into()),
        ("profile", |r| r.profile = None),
        ("profile.name", |r| {
            r.profile.as_mut().unwrap().name = "  ".into();
        }),
        ("profile.leader", |r| {
            r.profile.as_mut().unwrap().leader = None
        }),
        ("idempotency_key", |r| r.idempotency_key = String::new()),
    ];
    for (field, spoil) in cases {
        let mut bad = good.clone();
        spoil(&mut bad);
        let status = teams.register_team(authed(&cdc, bad)).await.unwrap_err();
        assert_invalid(&status, field);
    }

    // Nested paths name the element.
    let members = vec![key(), "nobody".to_owned()];
    let status = activities
        .record_activity(authed(&cdc, record_activity(&key(), &team, &members)))
        .await
        .unwrap_err();
    assert_invalid(&status, "details.participants[1].volunteer_id");
    let mut unknown_key_day = record_activity(&key(), &team, &[key()]);
    unknown_key_day.details.as_mut().unwrap().key_day = Some(pb::KeyDay::Unspecified.into());
    let status = activities
        .record_activity(authed(&cdc, unknown_key_day))
        .await
        .unwrap_err();
    assert_invalid(&status, "details.key_day");

    // A bad resume token of a subscription.
    let status = events
        .subscribe_events(authed(
            &cdc,
            pb::SubscribeEventsRequest {
                from_token: "yesterday".into(),
                categories: vec![],
                event_types: vec![],
            },
        ))
        .await
        .unwrap_err();
    assert_invalid(&status, "from_token");

    // None of it wrote anything; the good request still goes through.
    let done = teams
        .register_team(authed(&cdc, good))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(done.version, 1, "the team's stream held nothing before");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_without_token_is_unauthenticated() {
    let svc = TestService::start_with_demo().await;
    let ch = channel(&svc).await;
    let mut teams = TeamServiceClient::new(ch.clone());
    let mut events = EventServiceClient::new(ch.clone());

    let anonymous = teams
        .register_team(Request::new(register_team(&key(), YUECHENG_CDC, "330602")))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous:?}");
    assert_eq!(header(&anonymous, "x-error-code"), "unauthenticated");

    // Authentication comes before the body is looked at.
    let mut bad = register_team("not-a-uuid", YUECHENG_CDC, "330602");
    bad.level = 0;
    let status = teams.register_team(Request::new(bad)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let forged = teams
        .register_team(authed(
            "Bearer not.a.jwt",
            register_team(&key(), YUECHENG_CDC, "330602"),
        ))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated, "{forged:?}");

    let read = events
        .read_stream(Request::new(pb::ReadStreamRequest {
            stream_id: format!("team-{}", app::demo::demo_team(1)),
        }))
        .await
        .unwrap_err();
    assert_eq!(read.code(), Code::Unauthenticated, "{read:?}");

    let subscribe = events
        .subscribe_events(Request::new(pb::SubscribeEventsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(subscribe.code(), Code::Unauthenticated, "{subscribe:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_out_of_scope_is_permission_denied() {
    let svc = TestService::start_with_demo().await;
    let ch = channel(&svc).await;
    let yuecheng = svc.dev_bearer(Role::CountyCdc);
    let mut teams = TeamServiceClient::new(ch.clone());
    let mut events = EventServiceClient::new(ch.clone());

    // 越城区's CDC registering a team of 柯桥区.
    let team = key();
    let denied = teams
        .register_team(authed(
            &yuecheng,
            register_team(&team, KEQIAO_CDC, "330603"),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert_eq!(header(&denied, "x-error-code"), "forbidden");

    // Reading 柯桥区's team stream.
    let read = events
        .read_stream(authed(
            &yuecheng,
            pb::ReadStreamRequest {
                stream_id: format!("team-{}", app::demo::demo_team(2)),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(read.code(), Code::PermissionDenied, "{read:?}");

    // A partner without the ReadEvents grant cannot subscribe.
    let partner = Actor {
        subject: "partner-no-events".into(),
        role: Role::IntegrationPartner,
        regions: vec![RegionCode::parse("regions", "330600").unwrap()],
        teams: vec![],
        grants: vec!["RegisterTeam".into()],
    };
    let subscribe = events
        .subscribe_events(authed(
            &svc.bearer(&partner),
            pb::SubscribeEventsRequest::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(subscribe.code(), Code::PermissionDenied, "{subscribe:?}");

    // 柯桥区's own CDC may register it: the refusal above was about scope.
    let keqiao = Actor {
        subject: "cdc-330603".into(),
        role: Role::CountyCdc,
        regions: vec![RegionCode::parse("regions", "330603").unwrap()],
        teams: vec![],
        grants: vec![],
    };
    teams
        .register_team(authed(
            &svc.bearer(&keqiao),
            register_team(&team, KEQIAO_CDC, "330603"),
        ))
        .await
        .unwrap();
}

/// Open a subscription after `from` for `bearer`.
async fn subscribe(
    events: &mut EventServiceClient<Channel>,
    bearer: &str,
    from: &str,
) -> tonic::Streaming<pb::SubscribeEventsResponse> {
    events
        .subscribe_events(authed(
            bearer,
            pb::SubscribeEventsRequest {
                from_token: from.to_owned(),
                categories: vec![],
                event_types: vec![],
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn next_event(stream: &mut tonic::Streaming<pb::SubscribeEventsResponse>) -> pb::Event {
    within(DEADLINE, "the next event", stream.next())
        .await
        .unwrap_or_else(|| panic!("the subscription ended"))
        .unwrap()
        .event
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_subscription_resumes_after_disconnect_and_sees_every_event_once() {
    let svc = TestService::start_with_demo().await;
    let ch = channel(&svc).await;
    let partner = Actor {
        subject: "partner-cdc-sync".into(),
        role: Role::IntegrationPartner,
        regions: vec![RegionCode::parse("regions", "330600").unwrap()],
        teams: vec![],
        grants: vec!["ReadEvents".into()],
    };
    let bearer = svc.bearer(&partner);
    let cdc = svc.dev_bearer(Role::CountyCdc);

    // The writer registers volunteers in two rounds: the first while the partner catches up and
    // follows live, the second after the partner disconnected.
    let first: Vec<String> = (0..10).map(|_| key()).collect();
    let second: Vec<String> = (0..10).map(|_| key()).collect();
    let written: BTreeSet<String> = first
        .iter()
        .chain(&second)
        .map(|v| format!("volunteer-{v}"))
        .collect();
    let (disconnected_tx, disconnected_rx) = tokio::sync::oneshot::channel::<()>();
    let writer = {
        let mut volunteers = VolunteerServiceClient::new(ch.clone());
        let (first, second, cdc) = (first.clone(), second.clone(), cdc.clone());
        tokio::spawn(async move {
            let mut n = 0;
            for v in &first {
                volunteers
                    .register_volunteer(authed(&cdc, register_volunteer(v, n)))
                    .await
                    .unwrap();
                n += 1;
            }
            disconnected_rx.await.unwrap();
            for v in &second {
                volunteers
                    .register_volunteer(authed(&cdc, register_volunteer(v, n)))
                    .await
                    .unwrap();
                n += 1;
            }
        })
    };

    // Subscribe from the start; leave after the first five of the writer's events.
    let mut events = EventServiceClient::new(ch.clone());
    let mut got: Vec<pb::Event> = Vec::new();
    let mut stream = subscribe(&mut events, &bearer, "").await;
    while got
        .iter()
        .filter(|e| written.contains(&e.stream_id))
        .count()
        < 5
    {
        got.push(next_event(&mut stream).await);
    }
    drop(stream);
    disconnected_tx.send(()).unwrap();

    // Resume from the last token seen, until the writer is done and every written event arrived.
    let last = got.last().unwrap().token.clone();
    let mut stream = subscribe(&mut events, &bearer, &last).await;
    within(DEADLINE, "the writer", writer).await.unwrap();
    while got
        .iter()
        .filter(|e| written.contains(&e.stream_id))
        .count()
        < written.len()
    {
        got.push(next_event(&mut stream).await);
    }

    // What the partner should have seen: every event of the log it may see, in the global order.
    let mut expected = Vec::new();
    let mut after = eventstore::Token::START;
    loop {
        let page = svc
            .ledger()
            .store()
            .read_all_after(after, 500)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.token;
        expected.extend(
            page.iter()
                .filter(|e| app::events::visible_to(&partner, e))
                .map(|e| (e.token.to_string(), e.stream_id.clone(), e.stream_version)),
        );
    }
    let seen: Vec<(String, String, u64)> = got
        .iter()
        .map(|e| (e.token.clone(), e.stream_id.clone(), e.stream_version))
        .collect();
    assert_eq!(seen, expected, "every visible event exactly once, in order");
    let distinct: BTreeSet<&String> = seen.iter().map(|(t, _, _)| t).collect();
    assert_eq!(distinct.len(), seen.len(), "no event twice");
    assert!(
        seen.len() > written.len(),
        "the demo's events came first, then the writer's"
    );
    assert!(
        got.iter()
            .all(|e| !e.stream_id.starts_with("region-330000")),
        "the province is outside the partner's scope"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_health_and_reflection_list_the_services() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

    let services = [
        "RegionService",
        "CampaignService",
        "HostUnitService",
        "TeamService",
        "VolunteerService",
        "ActivityService",
        "SummaryService",
        "CertificateService",
        "CaseService",
        "SupervisionService",
        "DispatchService",
        "DeploymentService",
        "MedicineBoxService",
        "NeedService",
        "EventService",
        "ReportService",
    ]
    .map(|s| format!("volunteer_ledger.v1.{s}"));

    let svc = TestService::start().await;
    let ch = channel(&svc).await;
    let mut health = HealthClient::new(ch.clone());
    for name in services.iter().map(String::as_str).chain([""]) {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: name.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{name}");
    }
    let unknown = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "volunteer_ledger.v1.NoSuchService".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let mut reflection = ServerReflectionClient::new(ch);
    let ask = |request: MessageRequest| {
        tokio_stream::iter([ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        }])
    };
    let mut answers = reflection
        .server_reflection_info(ask(MessageRequest::ListServices(String::new())))
        .await
        .unwrap()
        .into_inner();
    let answer: ServerReflectionResponse = answers.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("not a service list: {answer:?}");
    };
    let listed: BTreeSet<String> = list.service.into_iter().map(|s| s.name).collect();
    for name in &services {
        assert!(listed.contains(name), "{name} not listed: {listed:?}");
    }
    assert!(listed.contains("grpc.health.v1.Health"), "{listed:?}");

    // A generic client can fetch the descriptor of a service to call it.
    let mut answers = reflection
        .server_reflection_info(ask(MessageRequest::FileContainingSymbol(
            "volunteer_ledger.v1.EventService".into(),
        )))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.next().await.unwrap().unwrap();
    let Some(MessageResponse::FileDescriptorResponse(files)) = answer.message_response else {
        panic!("no descriptor: {answer:?}");
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

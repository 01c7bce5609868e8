//! The application layer on activities and certificates: participants must be members on the activity
//! date, team leaders act only for their own team, a rejected command writes nothing, certificates come
//! only from the team that recorded the service and their numbers are unique.

use app::{CommandOutcome, ErrorCode, RegisterVolunteerInput, Role, VolunteerInput};
use chrono::NaiveDate;
use domain::activity::{
    ActivityCommand, ActivityDetails, ActivityKind, ActivityRecord, CorrectActivity, KeyDay,
    Participant, RecordActivity, Recorder, VoidActivity,
};
use domain::certificate::IssueCertificate;
use domain::host_unit::{HostUnitCommand, HostUnitKind, RegisterHostUnit};
use domain::identity::DocumentKind;
use domain::ids::{
    ActivityId, CampaignId, CertificateId, HostUnitId, RegionCode, Sealed, TeamId, Text,
    VolunteerId,
};
use domain::team::{RegisterTeam, TeamCommand, TeamLevel, TeamProfile};
use domain::volunteer::{Attestation, JoinTeam, ReserveTier, VolunteerCommand};
use personal_data::PersonalRecord;

use crate::support::{TestLedger, count_events, ctx, ledger, resident_id};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn text(s: &str) -> Text {
    Text::parse("t", s, 1000).unwrap()
}

fn region(s: &str) -> RegionCode {
    RegionCode::parse("region", s).unwrap()
}

fn person(name: &str) -> PersonalRecord {
    PersonalRecord {
        name: name.to_owned(),
        id_number: None,
        phone: Some("13800000000".into()),
    }
}

/// 越城区: a CDC host unit, a team, and volunteers who joined it on 2024-05-21.
struct Yuecheng {
    t: TestLedger,
    team: TeamId,
    members: Vec<VolunteerId>,
    outsider: VolunteerId,
}

async fn yuecheng() -> Yuecheng {
    let t = ledger(CampaignId(uuid::Uuid::new_v4())).await;
    let cdc = || ctx(Role::CountyCdc, &["330602"], &[]);
    let host = HostUnitId(uuid::Uuid::new_v4());
    let register_host = HostUnitCommand::Register(RegisterHostUnit {
        host_unit: host,
        kind: HostUnitKind::Cdc,
        name: text("越城区疾病预防控制中心"),
        region: region("330602"),
    });
    t.ledger
        .host_unit(&cdc(), host, register_host, None)
        .await
        .unwrap();
    let team = TeamId(uuid::Uuid::new_v4());
    let register_team = TeamCommand::Register(RegisterTeam {
        team,
        host_unit: host,
        region: region("330602"),
        level: TeamLevel::County,
        profile: TeamProfile {
            name: text("越城区结核病防治志愿服务队"),
            national_platform_id: Some(text("ZJ-330602-0001")),
            leader: Sealed(String::new()),
            on_call_contact: Sealed(String::new()),
            party_member_team: false,
            student_team: false,
        },
        registered_on: date(2024, 5, 1),
    });
    t.ledger
        .team(
            &cdc(),
            team,
            register_team,
            Some(&person("王队长")),
            Some(&person("王队长")),
        )
        .await
        .unwrap();
    let mut volunteers = Vec::new();
    for (i, birth) in ["19900307", "19851111", "19700101"].iter().enumerate() {
        let id = VolunteerId(uuid::Uuid::new_v4());
        let input = RegisterVolunteerInput {
            volunteer: id,
            document_kind: DocumentKind::ResidentIdCard,
            document_number: resident_id("330602", birth, &format!("{:03}", 100 + i)),
            declared_birth_date: None,
            name: format!("志愿者{i}"),
            phone: None,
            home_region: region("330602"),
            attestation: Attestation {
                law_abiding: true,
                capable: true,
                understands_tb_core_messages: true,
            },
            skills: vec![],
            reserve_tier: ReserveTier::None,
            registered_on: date(2024, 5, 20),
        };
        t.ledger
            .volunteer(&cdc(), VolunteerInput::Register(input))
            .await
            .unwrap();
        volunteers.push(id);
    }
    let outsider = volunteers.pop().unwrap();
    for v in &volunteers {
        let join = VolunteerCommand::JoinTeam(JoinTeam {
            team,
            joined_on: date(2024, 5, 21),
        });
        t.ledger
            .volunteer(
                &cdc(),
                VolunteerInput::Other {
                    volunteer: *v,
                    command: join,
                },
            )
            .await
            .unwrap();
    }
    Yuecheng {
        t,
        team,
        members: volunteers,
        outsider,
    }
}

fn details(team: TeamId, on: NaiveDate, participants: &[VolunteerId]) -> ActivityDetails {
    ActivityDetails {
        team_id: team,
        kind: ActivityKind::KnowledgePublicity,
        key_day: None,
        date: on,
        start_time: None,
        end_time: None,
        place: text("塔山街道社区卫生服务中心"),
        grid: None,
        participants: participants
            .iter()
            .map(|v| Participant {
                volunteer_id: *v,
                minutes: 120,
            })
            .collect(),
        people_reached: 80,
        media_pieces: 1,
        materials_distributed: 200,
        record: ActivityRecord {
            recorder: Recorder::TeamLeader,
            content: text("结核病防治核心信息宣传"),
            summary: text("发放宣传资料200份"),
            attachments: vec![],
        },
    }
}

async fn record(
    y: &Yuecheng,
    c: &app::CommandContext,
    on: NaiveDate,
    who: &[VolunteerId],
) -> Result<(ActivityId, CommandOutcome), app::AppError> {
    let id = ActivityId(uuid::Uuid::new_v4());
    let cmd = ActivityCommand::Record(RecordActivity {
        activity: id,
        details: details(y.team, on, who),
    });
    y.t.ledger.activity(c, id, cmd).await.map(|o| (id, o))
}

#[tokio::test]
async fn a13_an_activity_of_members_on_its_date_is_recorded_with_the_team_as_subject() {
    let y = yuecheng().await;
    let leader = ctx(Role::TeamLeader, &[], &[y.team]);
    let (_, out) = record(&y, &leader, date(2024, 5, 25), &y.members)
        .await
        .unwrap();
    assert_eq!(out.version, 1);
    let metadata: String = sqlx::query_scalar(
        "SELECT metadata::text FROM events WHERE event_type = 'ActivityRecorded'",
    )
    .fetch_one(y.t.ledger.store().pool())
    .await
    .unwrap();
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["subject_team"], y.team.to_string().as_str());
    assert_eq!(metadata["subject_region"], "330602");
    assert_eq!(
        (&metadata["actor_regions"], &metadata["actor_teams"]),
        (
            &serde_json::json!([]),
            &serde_json::json!([y.team.to_string()])
        ),
        "the actor's scope is recorded"
    );
    let occurred: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT occurred_at FROM events WHERE event_type = 'ActivityRecorded'")
            .fetch_one(y.t.ledger.store().pool())
            .await
            .unwrap();
    assert_eq!(
        occurred.to_rfc3339(),
        "2024-05-24T16:00:00+00:00",
        "business time: the activity date in Asia/Shanghai"
    );
}

#[tokio::test]
async fn a_participant_who_is_not_a_member_on_the_activity_date_is_refused_naming_the_participant()
{
    let y = yuecheng().await;
    let before = count_events(y.t.ledger.store()).await;
    let cdc = ctx(Role::CountyCdc, &["330602"], &[]);
    let err = record(&y, &cdc, date(2024, 5, 25), &[y.members[0], y.outsider])
        .await
        .unwrap_err();
    assert_eq!(
        err.field.as_deref(),
        Some("participants[1].volunteer_id"),
        "{err:?}"
    );
    assert_eq!(err.code, ErrorCode::RuleViolation);
    // Members, but the activity is before they joined (2024-05-21).
    let err = record(&y, &cdc, date(2024, 5, 20), &y.members)
        .await
        .unwrap_err();
    assert_eq!(
        err.field.as_deref(),
        Some("participants[0].volunteer_id"),
        "{err:?}"
    );
    assert_eq!(
        count_events(y.t.ledger.store()).await,
        before,
        "a rejected activity writes nothing"
    );
}

#[tokio::test]
async fn a_team_leader_records_only_for_their_own_team() {
    let y = yuecheng().await;
    let before = count_events(y.t.ledger.store()).await;
    let other_leader = ctx(Role::TeamLeader, &[], &[TeamId(uuid::Uuid::new_v4())]);
    let err = record(&y, &other_leader, date(2024, 5, 25), &y.members)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    let other_county = ctx(Role::CountyCdc, &["330603"], &[]);
    assert_eq!(
        record(&y, &other_county, date(2024, 5, 25), &y.members)
            .await
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
    assert_eq!(count_events(y.t.ledger.store()).await, before);
}

#[tokio::test]
async fn a13_a_key_day_tag_must_match_the_activity_date() {
    let y = yuecheng().await;
    let id = ActivityId(uuid::Uuid::new_v4());
    let mut d = details(y.team, date(2024, 5, 25), &y.members);
    d.kind = ActivityKind::KeyDayCampaign;
    d.key_day = Some(KeyDay::WorldNoTobaccoDay);
    let cdc = ctx(Role::CountyCdc, &["330602"], &[]);
    let err =
        y.t.ledger
            .activity(
                &cdc,
                id,
                ActivityCommand::Record(RecordActivity {
                    activity: id,
                    details: d.clone(),
                }),
            )
            .await
            .unwrap_err();
    assert_eq!(
        (err.rule.as_deref(), err.field.as_deref()),
        (Some("A13"), Some("key_day")),
        "{err:?}"
    );
    y.t.clock.set(
        chrono::DateTime::parse_from_rfc3339("2024-06-02T02:00:00Z")
            .unwrap()
            .into(),
    );
    d.date = date(2024, 5, 31);
    y.t.ledger
        .activity(
            &cdc,
            id,
            ActivityCommand::Record(RecordActivity {
                activity: id,
                details: d,
            }),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_voided_activity_cannot_be_corrected_and_the_refusal_writes_nothing() {
    let y = yuecheng().await;
    let cdc = || ctx(Role::CountyCdc, &["330602"], &[]);
    let (id, _) = record(&y, &cdc(), date(2024, 5, 25), &y.members)
        .await
        .unwrap();
    let void = ActivityCommand::Void(VoidActivity {
        reason: text("重复录入"),
    });
    assert_eq!(
        y.t.ledger.activity(&cdc(), id, void).await.unwrap().version,
        2
    );
    let before = count_events(y.t.ledger.store()).await;
    let correct = ActivityCommand::Correct(CorrectActivity {
        details: details(y.team, date(2024, 5, 25), &y.members),
        reason: text("补充"),
    });
    let err = y.t.ledger.activity(&cdc(), id, correct).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RuleViolation, "{err:?}");
    assert_eq!(count_events(y.t.ledger.store()).await, before);
}

/// The activity path looks a retry up only when the command fails now: a retry that still decides is
/// answered by the append, one that no longer decides (the activity exists, was voided since) by the
/// stored outcome — both return the first answer and write nothing; the same activity under a new key
/// is refused.
#[tokio::test]
async fn a_retried_record_returns_the_first_outcome_even_after_the_activity_changed() {
    let y = yuecheng().await;
    let first_ctx = ctx(Role::CountyCdc, &["330602"], &[]);
    let id = ActivityId(uuid::Uuid::new_v4());
    let cmd = || {
        ActivityCommand::Record(RecordActivity {
            activity: id,
            details: details(y.team, date(2024, 5, 25), &y.members),
        })
    };
    let first = y.t.ledger.activity(&first_ctx, id, cmd()).await.unwrap();
    assert!(!first.replayed);
    let retried = y.t.ledger.activity(&first_ctx, id, cmd()).await.unwrap();
    assert!(retried.replayed);
    assert_eq!(
        (retried.token, retried.version),
        (first.token, first.version)
    );

    let void = ActivityCommand::Void(VoidActivity {
        reason: text("重复录入"),
    });
    let cdc = ctx(Role::CountyCdc, &["330602"], &[]);
    y.t.ledger.activity(&cdc, id, void).await.unwrap();
    let before = count_events(y.t.ledger.store()).await;
    let late_retry = y.t.ledger.activity(&first_ctx, id, cmd()).await.unwrap();
    assert!(late_retry.replayed);
    assert_eq!((late_retry.token, late_retry.version), (first.token, 1));

    let new_key = ctx(Role::CountyCdc, &["330602"], &[]);
    let err = y.t.ledger.activity(&new_key, id, cmd()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::AlreadyExists, "{err:?}");
    assert_eq!(count_events(y.t.ledger.store()).await, before);
}

#[tokio::test]
async fn certificates_come_from_the_recording_team_and_their_numbers_are_unique() {
    let y = yuecheng().await;
    let cdc = || ctx(Role::CountyCdc, &["330602"], &[]);
    let (a1, _) = record(&y, &cdc(), date(2024, 5, 25), &y.members)
        .await
        .unwrap();
    let (a2, _) = record(&y, &cdc(), date(2024, 5, 26), &[y.members[0]])
        .await
        .unwrap();
    let issue =
        |number: &str, volunteer: VolunteerId, activities: Vec<ActivityId>| IssueCertificate {
            certificate: CertificateId(uuid::Uuid::new_v4()),
            number: text(number),
            volunteer,
            issuing_team: y.team,
            activities,
            issued_on: date(2024, 5, 31),
        };
    y.t.ledger
        .issue_certificate(&cdc(), issue("YC-2024-0001", y.members[0], vec![a1, a2]))
        .await
        .unwrap();
    let before = count_events(y.t.ledger.store()).await;
    // The same number again, for another volunteer: refused, nothing written.
    let err =
        y.t.ledger
            .issue_certificate(&cdc(), issue("YC-2024-0001", y.members[1], vec![a1]))
            .await
            .unwrap_err();
    assert_eq!(err.code, ErrorCode::AlreadyExists, "{err:?}");
    // A service the volunteer did not take part in cannot be certified.
    let err =
        y.t.ledger
            .issue_certificate(&cdc(), issue("YC-2024-0002", y.members[1], vec![a2]))
            .await
            .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("activities[0]"), "{err:?}");
    // Another team cannot certify this team's services.
    let mut foreign = issue("YC-2024-0003", y.members[1], vec![a1]);
    foreign.issuing_team = TeamId(uuid::Uuid::new_v4());
    assert_eq!(
        y.t.ledger
            .issue_certificate(&cdc(), foreign)
            .await
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    assert_eq!(count_events(y.t.ledger.store()).await, before);
}

//! The application layer on regions, campaigns, host units, teams, typical cases, evaluations,
//! supervision findings and the Jiangsu aggregates (dispatch, deployment, medicine box, need), against a
//! real Postgres: happy paths, scope (A19-A21 roles), rule violations that write nothing, retries, and
//! personal data that never reaches the log in plaintext.
//!
//! Volunteers and activities the facts need are seeded as domain events straight through the store (their
//! handlers are tested in their own module).

use std::collections::BTreeSet;

use app::{AppError, CommandContext, CommandOutcome, ErrorCode, Ledger, Role};
use chrono::{NaiveDate, TimeZone, Utc};
use domain::DomainEvent;
use domain::activity::{
    ActivityDetails, ActivityEvent, ActivityKind, ActivityRecord, ActivityRecorded, Participant,
    Recorder,
};
use domain::campaign::{AmendCampaignRules, CampaignCommand, DefineCampaign, RuleSet};
use domain::evaluation::{EvaluationCommand, EvaluationItems, ItemAssessment, RecordEvaluation};
use domain::host_unit::{
    AssignDesignatedManager, EndManagerAssignment, HostUnitCommand, HostUnitKind, RegisterHostUnit,
};
use domain::identity::DocumentKind;
use domain::ids::{
    ActivityId, CampaignId, CaseId, DeploymentId, DispatchId, FindingId, HostUnitId, MedicineBoxId,
    NeedId, RegionCode, Sealed, TeamId, Text, VolunteerId,
};
use domain::jiangsu::deployment::{DeployToGrid, DeploymentCommand, EndDeployment};
use domain::jiangsu::dispatch::{
    CloseDispatch, DispatchCommand, DispatchedVolunteer, IssueDispatch, ProfessionalRole,
};
use domain::jiangsu::medicine_box::{
    BoxKind, Donor, DonorCategory, MedicineBoxCommand, MedicineItem, RecipientCategory,
    RecordDispensing, RecordDonation, RegisterMedicineBox,
};
use domain::jiangsu::need::{
    FulfilNeed, NeedCategory, NeedCommand, PostNeed, TakeNeed, VerifyNeed,
};
use domain::region::{
    DefineRegion, RecordResidentPopulation, RegionCommand, RegionLevel, RetireRegion,
};
use domain::summary::CountyYear;
use domain::supervision::{
    CloseFinding, FindingCommand, RecordRef, RecordSupervisionFinding, RespondToFinding, Severity,
};
use domain::team::{
    AmendTeam, DissolveTeam, RegisterTeam, ReinstateTeam, SuspendTeam, TeamCommand, TeamLevel,
    TeamProfile,
};
use domain::typical_case::{CaseCommand, CaseQuality, ForwardToProvince, NominateCase, SelectCase};
use domain::volunteer::{
    self, Attestation, ReserveTier, VolunteerErased, VolunteerEvent,
    VolunteerQualificationRecorded, VolunteerRegistered,
};
use eventstore::{AppendRequest, CommandIdentity, EventStore, ExpectedVersion, NewEvent};
use personal_data::PersonalRecord;

const LEADER_NAME: &str = "测试队长欧阳明";
const LEADER_PHONE: &str = "13957512345";
const LEADER_ID: &str = "33060219900307123X";
const TEAM_NAME: &str = "越城区结核病防治志愿服务队";

// ---- harness ------------------------------------------------------------------------------------------

struct Env {
    ledger: Ledger,
    store: EventStore,
    campaign: CampaignId,
}

/// A ledger on a fresh database (`support::ledger`); the service's clock reads 2024-06-01 10:00 in Shanghai.
async fn env() -> Env {
    let campaign = CampaignId(uuid::Uuid::new_v4());
    let t = crate::support::ledger(campaign).await;
    Env {
        store: t.ledger.store().clone(),
        ledger: t.ledger,
        campaign,
    }
}

/// A command context for `role` in `regions` / `teams`, with a fresh idempotency key.
fn as_(role: Role, regions: &[&str], teams: &[TeamId]) -> CommandContext {
    crate::support::ctx(role, regions, teams)
}

fn city() -> CommandContext {
    as_(Role::CityCdc, &["330600"], &[])
}
/// A city CDC account acting for the province (only to define 330000 above Shaoxing).
fn province() -> CommandContext {
    as_(Role::CityCdc, &["330000"], &[])
}
fn county(region: &str) -> CommandContext {
    as_(Role::CountyCdc, &[region], &[])
}
fn leader_of(team: TeamId) -> CommandContext {
    as_(Role::TeamLeader, &[], &[team])
}

fn text(s: &str) -> Text {
    Text::parse("t", s, 10_000).unwrap()
}
fn code(s: &str) -> RegionCode {
    RegionCode::parse("region", s).unwrap()
}
fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}
fn uuid() -> uuid::Uuid {
    uuid::Uuid::new_v4()
}

async fn count_events(env: &Env) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(env.store.pool())
        .await
        .unwrap()
}

/// Rows whose payload or metadata contains `needle`.
async fn events_containing(env: &Env, needle: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%' OR metadata::text LIKE '%' || $1 || '%'",
    )
    .bind(needle)
    .fetch_one(env.store.pool())
    .await
    .unwrap()
}

/// Data keys held for `subject` (e.g. `team-<id>`).
async fn keys_of(env: &Env, subject: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM person_keys WHERE subject = $1")
        .bind(subject)
        .fetch_one(env.store.pool())
        .await
        .unwrap()
}

#[track_caller]
fn assert_error(e: &AppError, code: ErrorCode, rule: Option<&str>, field: Option<&str>) {
    assert_eq!(e.code, code, "{e:?}");
    if rule.is_some() {
        assert_eq!(e.rule.as_deref(), rule, "{e:?}");
    }
    assert_eq!(e.field.as_deref(), field, "{e:?}");
}

/// Append domain events straight through the store (for records whose handlers live elsewhere).
async fn seed<E: DomainEvent>(env: &Env, stream: &str, events: &[E]) {
    let request = AppendRequest {
        stream_id: stream.to_owned(),
        expected: ExpectedVersion::Any,
        events: events
            .iter()
            .map(|e| NewEvent {
                event_type: e.event_type().to_owned(),
                schema_version: e.schema_version(),
                payload: e.to_payload().unwrap(),
                metadata: r#"{"actor":"seed"}"#.to_owned(),
                occurred_at: Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap(),
            })
            .collect(),
        command: CommandIdentity {
            principal: "seed".into(),
            idempotency_key: uuid().to_string(),
            fingerprint: [0; 32],
        },
        claims: vec![],
    };
    env.store.append(&request).await.unwrap();
}

// ---- fixtures -----------------------------------------------------------------------------------------

/// 浙江省 → 绍兴市 → 越城区, 柯桥区, defined by the provincial-level city CDC account.
async fn regions(env: &Env) {
    for (c, name, level, parent) in [
        ("330000", "浙江省", RegionLevel::Province, None),
        ("330600", "绍兴市", RegionLevel::City, Some("330000")),
        ("330602", "越城区", RegionLevel::County, Some("330600")),
        ("330603", "柯桥区", RegionLevel::County, Some("330600")),
    ] {
        let define = RegionCommand::Define(DefineRegion {
            code: code(c),
            name: text(name),
            level,
            parent: parent.map(code),
            valid_from: d(2013, 10, 18),
            valid_to: None,
        });
        env.ledger
            .region(&province(), code(c), define)
            .await
            .unwrap();
    }
}

async fn host_unit(env: &Env, kind: HostUnitKind, region: &str) -> HostUnitId {
    let id = HostUnitId(uuid());
    let register = HostUnitCommand::Register(RegisterHostUnit {
        host_unit: id,
        kind,
        name: text("绍兴市越城区疾病预防控制中心"),
        region: code(region),
    });
    let who = if region.ends_with("00") {
        city()
    } else {
        county(region)
    };
    env.ledger
        .host_unit(&who, id, register, None)
        .await
        .unwrap();
    id
}

fn leader() -> PersonalRecord {
    PersonalRecord {
        name: LEADER_NAME.into(),
        id_number: Some(LEADER_ID.into()),
        phone: Some(LEADER_PHONE.into()),
    }
}
fn on_call() -> PersonalRecord {
    PersonalRecord {
        name: LEADER_NAME.into(),
        id_number: None,
        phone: Some(LEADER_PHONE.into()),
    }
}

/// A profile as the caller sends it: the sealed fields left empty (the people travel beside it).
fn profile(student_team: bool) -> TeamProfile {
    TeamProfile {
        name: text(TEAM_NAME),
        national_platform_id: Some(text("ZJ-330602-0001")),
        leader: Sealed(String::new()),
        on_call_contact: Sealed(String::new()),
        party_member_team: true,
        student_team,
    }
}

fn register_team(team: TeamId, host: HostUnitId, region: &str, student_team: bool) -> TeamCommand {
    TeamCommand::Register(RegisterTeam {
        team,
        host_unit: host,
        region: code(region),
        level: TeamLevel::County,
        profile: profile(student_team),
        registered_on: d(2024, 1, 10),
    })
}

/// A registered county team of `region` (its CDC host unit registered first).
async fn team(env: &Env, region: &str) -> TeamId {
    let host = host_unit(env, HostUnitKind::Cdc, region).await;
    let id = TeamId(uuid());
    env.ledger
        .team(
            &county(region),
            id,
            register_team(id, host, region, false),
            Some(&leader()),
            Some(&on_call()),
        )
        .await
        .unwrap();
    id
}

/// The 百千万 campaign (2023-12-01..2025-03-31) with one relevant department, as configured.
async fn campaign(env: &Env) {
    let dept = host_unit(env, HostUnitKind::GovernmentDepartment, "330600").await;
    env.ledger
        .campaign_command(&city(), env.campaign, define_campaign(env.campaign, dept))
        .await
        .unwrap();
}

fn define_campaign(id: CampaignId, dept: HostUnitId) -> CampaignCommand {
    CampaignCommand::Define(DefineCampaign {
        campaign: id,
        name: text("绍兴市结核病防治百千万志愿者行动"),
        city: code("330600"),
        window_start: d(2023, 12, 1),
        window_end: d(2025, 3, 31),
        rules: RuleSet::baiqianwan(vec![dept]),
    })
}

/// A volunteer of 330602 seeded as events; `driver` adds a driver qualification (training passed or not).
async fn volunteer(
    env: &Env,
    tier: ReserveTier,
    driver: Option<Option<NaiveDate>>,
    erased: bool,
) -> VolunteerId {
    let id = VolunteerId(uuid());
    let mut events = vec![VolunteerEvent::Registered(VolunteerRegistered {
        volunteer_id: id,
        document_kind: DocumentKind::ResidentIdCard,
        adult_on: d(2008, 3, 7),
        personal: Sealed("seeded-ciphertext".into()),
        home_region: code("330602"),
        attestation: Attestation {
            law_abiding: true,
            capable: true,
            understands_tb_core_messages: true,
        },
        skills: vec![],
        reserve_tier: tier,
        registered_on: d(2024, 1, 15),
    })];
    if let Some(passed_training_on) = driver {
        events.push(VolunteerEvent::QualificationRecorded(
            VolunteerQualificationRecorded {
                role: volunteer::ProfessionalRole::Driver,
                certificate: Sealed("seeded-ciphertext".into()),
                valid_from: d(2024, 1, 20),
                passed_training_on,
            },
        ));
    }
    if erased {
        events.push(VolunteerEvent::Erased(VolunteerErased {
            reason: text("本人申请删除"),
            erased_at: Utc.with_ymd_and_hms(2024, 4, 1, 0, 0, 0).unwrap(),
        }));
    }
    seed(env, &format!("volunteer-{id}"), &events).await;
    id
}

/// An activity run by `team`, seeded as an event.
async fn activity(env: &Env, team: TeamId) -> ActivityId {
    let id = ActivityId(uuid());
    let details = ActivityDetails {
        team_id: team,
        kind: ActivityKind::KnowledgePublicity,
        key_day: None,
        date: d(2024, 3, 24),
        start_time: None,
        end_time: None,
        place: text("越城区府山街道"),
        grid: None,
        participants: vec![Participant {
            volunteer_id: VolunteerId(uuid()),
            minutes: 120,
        }],
        people_reached: 300,
        media_pieces: 2,
        materials_distributed: 500,
        record: ActivityRecord {
            recorder: Recorder::TeamLeader,
            content: text("结核病防治核心信息宣传"),
            summary: text("发放宣传材料500份"),
            attachments: vec![],
        },
    };
    seed(
        env,
        &format!("activity-{id}"),
        &[ActivityEvent::Recorded(ActivityRecorded {
            activity_id: id,
            details,
        })],
    )
    .await;
    id
}

// ---- regions and campaigns ------------------------------------------------------------------------------

#[tokio::test]
async fn gbt2260_a_city_cdc_defines_regions_records_a1_population_and_retires_330621() {
    let env = env().await;
    regions(&env).await;
    let shaoxing_county = RegionCommand::Define(DefineRegion {
        code: code("330621"),
        name: text("绍兴县"),
        level: RegionLevel::County,
        parent: Some(code("330600")),
        valid_from: d(1983, 7, 1),
        valid_to: None,
    });
    env.ledger
        .region(&province(), code("330621"), shaoxing_county)
        .await
        .unwrap();
    let population = RegionCommand::RecordResidentPopulation(RecordResidentPopulation {
        year: 2023,
        count: 5_394_000,
        source: text("2023年绍兴市统计公报"),
        reason: None,
    });
    let out = env
        .ledger
        .region(&city(), code("330600"), population)
        .await
        .unwrap();
    assert_eq!(
        (out.stream_id.as_str(), out.version, out.replayed),
        ("region-330600", 2, false)
    );
    let retire = RegionCommand::Retire(RetireRegion {
        valid_to: d(2013, 10, 18),
        successor: Some(code("330603")),
    });
    let out = env
        .ledger
        .region(&city(), code("330621"), retire)
        .await
        .unwrap();
    assert_eq!((out.stream_id.as_str(), out.version), ("region-330621", 2));
    assert_eq!(count_events(&env).await, 7);

    // A successor that is not defined: not found, naming the field; nothing written.
    let retire = RegionCommand::Retire(RetireRegion {
        valid_to: d(2020, 1, 1),
        successor: Some(code("330699")),
    });
    let e = env
        .ledger
        .region(&city(), code("330602"), retire)
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::NotFound, None, Some("successor"));
    assert_eq!(count_events(&env).await, 7);
}

#[tokio::test]
async fn a19_a_county_cdc_may_not_record_resident_population_and_nothing_is_written() {
    let env = env().await;
    regions(&env).await;
    let before = count_events(&env).await;
    let population = RegionCommand::RecordResidentPopulation(RecordResidentPopulation {
        year: 2023,
        count: 1_130_600,
        source: text("2023年绍兴市统计公报"),
        reason: None,
    });
    let e = env
        .ledger
        .region(&county("330602"), code("330602"), population)
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
    assert_eq!(count_events(&env).await, before);
}

#[tokio::test]
async fn a3_a_campaigns_relevant_department_must_be_a_registered_government_department() {
    let env = env().await;
    regions(&env).await;
    let cdc = host_unit(&env, HostUnitKind::Cdc, "330602").await;
    let before = count_events(&env).await;
    let e = env
        .ledger
        .campaign_command(&city(), env.campaign, define_campaign(env.campaign, cdc))
        .await
        .unwrap_err();
    assert_error(
        &e,
        ErrorCode::RuleViolation,
        Some("A3"),
        Some("rules.relevant_departments[0]"),
    );
    assert_eq!(count_events(&env).await, before);

    // Amending an undefined campaign: its city (the subject) is unknown.
    let amend = CampaignCommand::AmendRules(AmendCampaignRules {
        rules: RuleSet::baiqianwan(vec![]),
        effective_from: d(2024, 7, 1),
        reason: text("调整"),
    });
    let e = env
        .ledger
        .campaign_command(&city(), env.campaign, amend.clone())
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::NotFound, None, Some("campaign"));

    campaign(&env).await;
    let out = env
        .ledger
        .campaign_command(&city(), env.campaign, amend)
        .await
        .unwrap();
    assert_eq!(
        (out.stream_id, out.version),
        (format!("campaign-{}", env.campaign), 2)
    );
    // A county CDC cannot amend the city's campaign.
    let amend = CampaignCommand::AmendRules(AmendCampaignRules {
        rules: RuleSet::baiqianwan(vec![]),
        effective_from: d(2024, 8, 1),
        reason: text("调整"),
    });
    let e = env
        .ledger
        .campaign_command(&county("330602"), env.campaign, amend)
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
}

// ---- host units and teams -----------------------------------------------------------------------------

#[tokio::test]
async fn a10_a_cdcs_designated_manager_is_sealed_and_never_stored_in_plaintext() {
    let env = env().await;
    regions(&env).await;
    let cdc = host_unit(&env, HostUnitKind::Cdc, "330602").await;
    let manager = PersonalRecord {
        name: "测试经理司马光".into(),
        id_number: None,
        phone: Some("13800571234".into()),
    };
    let assign = HostUnitCommand::AssignDesignatedManager(AssignDesignatedManager {
        person: Sealed(String::new()),
        from: d(2024, 1, 1),
        until: None,
    });
    let e = env
        .ledger
        .host_unit(&county("330602"), cdc, assign.clone(), None)
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::InvalidArgument, None, Some("person"));
    let out = env
        .ledger
        .host_unit(&county("330602"), cdc, assign, Some(&manager))
        .await
        .unwrap();
    assert_eq!((out.stream_id, out.version), (format!("hostunit-{cdc}"), 2));
    assert_eq!(events_containing(&env, "测试经理司马光").await, 0);
    assert_eq!(events_containing(&env, "13800571234").await, 0);
    let end = HostUnitCommand::EndManagerAssignment(EndManagerAssignment {
        until: d(2024, 7, 1),
    });
    assert_eq!(
        env.ledger
            .host_unit(&county("330602"), cdc, end, None)
            .await
            .unwrap()
            .version,
        3
    );

    // A host unit that is not registered has no region to scope by: not found.
    let end = HostUnitCommand::EndManagerAssignment(EndManagerAssignment {
        until: d(2024, 7, 1),
    });
    let e = env
        .ledger
        .host_unit(&county("330602"), HostUnitId(uuid()), end, None)
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::NotFound, None, Some("host_unit"));
}

#[tokio::test]
async fn a9_b3_a_team_is_registered_amended_suspended_reinstated_and_dissolved() {
    let env = env().await;
    regions(&env).await;
    let team = team(&env, "330602").await;
    let cdc = || county("330602");
    let amend = TeamCommand::Amend(AmendTeam {
        profile: TeamProfile {
            name: text("越城区结核病防治志愿服务总队"),
            ..profile(false)
        },
    });
    assert_eq!(
        env.ledger
            .team(
                &cdc(),
                team,
                amend.clone(),
                Some(&leader()),
                Some(&on_call())
            )
            .await
            .unwrap()
            .version,
        2
    );
    // The same people again: their sealed values are kept, so the amendment changes nothing.
    let before = count_events(&env).await;
    let same = env
        .ledger
        .team(&cdc(), team, amend, Some(&leader()), Some(&on_call()))
        .await
        .unwrap();
    assert_eq!((same.version, same.token, same.replayed), (2, None, false));
    assert_eq!(count_events(&env).await, before);
    let suspend = TeamCommand::Suspend(SuspendTeam {
        from: d(2024, 3, 1),
        reason: text("整改"),
    });
    assert_eq!(
        env.ledger
            .team(&cdc(), team, suspend, None, None)
            .await
            .unwrap()
            .version,
        3
    );
    let reinstate = TeamCommand::Reinstate(ReinstateTeam { on: d(2024, 4, 1) });
    assert_eq!(
        env.ledger
            .team(&cdc(), team, reinstate, None, None)
            .await
            .unwrap()
            .version,
        4
    );
    let dissolve = TeamCommand::Dissolve(DissolveTeam {
        on: d(2024, 5, 1),
        reason: text("合并"),
    });
    let out = env
        .ledger
        .team(&cdc(), team, dissolve, None, None)
        .await
        .unwrap();
    assert_eq!(
        (out.stream_id, out.version, out.replayed),
        (format!("team-{team}"), 5, false)
    );
}

#[tokio::test]
async fn b3_a_team_leaders_plaintext_never_enters_the_events_table() {
    let env = env().await;
    regions(&env).await;
    let team = team(&env, "330602").await;
    assert_eq!(
        keys_of(&env, &format!("team-{team}")).await,
        1,
        "sealed with the team's own key"
    );
    assert!(
        events_containing(&env, TEAM_NAME).await > 0,
        "the search finds Chinese text that is stored"
    );
    assert_eq!(events_containing(&env, LEADER_NAME).await, 0);
    assert_eq!(events_containing(&env, LEADER_PHONE).await, 0);
    assert_eq!(events_containing(&env, LEADER_ID).await, 0);
}

#[tokio::test]
async fn b3_registering_a_team_without_an_on_call_phone_is_invalid() {
    let env = env().await;
    regions(&env).await;
    let host = host_unit(&env, HostUnitKind::Cdc, "330602").await;
    let id = TeamId(uuid());
    let no_phone = PersonalRecord {
        name: LEADER_NAME.into(),
        id_number: None,
        phone: None,
    };
    let e = env
        .ledger
        .team(
            &county("330602"),
            id,
            register_team(id, host, "330602", false),
            Some(&leader()),
            Some(&no_phone),
        )
        .await
        .unwrap_err();
    assert_error(
        &e,
        ErrorCode::InvalidArgument,
        Some("B3"),
        Some("profile.on_call_contact.phone"),
    );
    assert!(!e.message.contains(LEADER_NAME));
}

#[tokio::test]
async fn a9_a_team_registration_rejected_after_sealing_leaves_no_data_key_behind() {
    let env = env().await;
    regions(&env).await;
    let id = TeamId(uuid());
    let unknown_host = HostUnitId(uuid());
    let e = env
        .ledger
        .team(
            &county("330602"),
            id,
            register_team(id, unknown_host, "330602", false),
            Some(&leader()),
            Some(&on_call()),
        )
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::NotFound, None, Some("host_unit"));
    assert_eq!(
        keys_of(&env, &format!("team-{id}")).await,
        0,
        "the key created for sealing was forgotten"
    );
    assert_eq!(count_events(&env).await, 4, "only the regions");
}

#[tokio::test]
async fn a21_the_youth_league_registers_student_teams_only() {
    let env = env().await;
    regions(&env).await;
    let host = host_unit(&env, HostUnitKind::School, "330602").await;
    let youth = as_(Role::YouthLeague, &["330602"], &[]);
    let before = count_events(&env).await;
    let id = TeamId(uuid());
    let e = env
        .ledger
        .team(
            &youth,
            id,
            register_team(id, host, "330602", false),
            Some(&leader()),
            Some(&on_call()),
        )
        .await
        .unwrap_err();
    assert_error(
        &e,
        ErrorCode::Forbidden,
        Some("A21"),
        Some("profile.student_team"),
    );
    assert_eq!(count_events(&env).await, before);
    let out = env
        .ledger
        .team(
            &youth,
            id,
            register_team(id, host, "330602", true),
            Some(&leader()),
            Some(&on_call()),
        )
        .await
        .unwrap();
    assert_eq!(out.version, 1);
}

#[tokio::test]
async fn a19_an_actor_outside_the_teams_scope_is_forbidden_and_nothing_is_written() {
    let env = env().await;
    regions(&env).await;
    let team = team(&env, "330602").await;
    let host = host_unit(&env, HostUnitKind::Cdc, "330602").await;
    let before = count_events(&env).await;
    let id = TeamId(uuid());
    let e = env
        .ledger
        .team(
            &county("330603"),
            id,
            register_team(id, host, "330602", false),
            Some(&leader()),
            Some(&on_call()),
        )
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
    let suspend = TeamCommand::Suspend(SuspendTeam {
        from: d(2024, 3, 1),
        reason: text("整改"),
    });
    let e = env
        .ledger
        .team(&leader_of(team), team, suspend.clone(), None, None)
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
    let e = env
        .ledger
        .team(&county("330603"), team, suspend, None, None)
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
    assert_eq!(count_events(&env).await, before);
}

#[tokio::test]
async fn idempotency_a_retried_team_registration_is_replayed_with_the_same_token() {
    let env = env().await;
    regions(&env).await;
    let host = host_unit(&env, HostUnitKind::Cdc, "330602").await;
    // One context: a retry carries the same idempotency key.
    let cdc = county("330602");
    let id = TeamId(uuid());
    let first = env
        .ledger
        .team(
            &cdc,
            id,
            register_team(id, host, "330602", false),
            Some(&leader()),
            Some(&on_call()),
        )
        .await
        .unwrap();
    let before = count_events(&env).await;
    let again = env
        .ledger
        .team(
            &cdc,
            id,
            register_team(id, host, "330602", false),
            Some(&leader()),
            Some(&on_call()),
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        CommandOutcome {
            replayed: true,
            ..first.clone()
        },
        "same stream, version and token; only `replayed` differs"
    );
    assert!(again.token.is_some());
    assert_eq!(count_events(&env).await, before);

    // The same key with another leader is another request: the fingerprint covers the plaintext.
    let mut other = leader();
    other.name = "测试队长诸葛亮".into();
    let e = env
        .ledger
        .team(
            &cdc,
            id,
            register_team(id, host, "330602", false),
            Some(&other),
            Some(&on_call()),
        )
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::AlreadyExists, None, Some("idempotency_key"));
    assert_eq!(count_events(&env).await, before);
}

#[tokio::test]
async fn lifecycle_commands_on_records_that_do_not_exist_are_not_found_naming_the_field() {
    let env = env().await;
    regions(&env).await;
    let suspend = TeamCommand::Suspend(SuspendTeam {
        from: d(2024, 3, 1),
        reason: text("整改"),
    });
    let e = env
        .ledger
        .team(&county("330602"), TeamId(uuid()), suspend, None, None)
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::NotFound, None, Some("team"));
    let take = NeedCommand::Take(TakeNeed {
        need: NeedId(uuid()),
        team: TeamId(uuid()),
    });
    let e = env.ledger.need(&county("330602"), take).await.unwrap_err();
    assert_error(&e, ErrorCode::NotFound, None, Some("need"));
    let donation = MedicineBoxCommand::Donation(RecordDonation {
        medbox: MedicineBoxId(uuid()),
        donor: Donor {
            category: DonorCategory::Pharmacy,
            organisation: None,
        },
        items: vec![item("布洛芬缓释胶囊 0.3g", 1)],
        on: d(2024, 5, 1),
    });
    let e = env
        .ledger
        .medicine_box(&county("330602"), donation)
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::NotFound, None, Some("medbox"));
    let close = DispatchCommand::Close(CloseDispatch {
        dispatch: DispatchId(uuid()),
        at: Utc::now(),
        note: None,
    });
    let e = env
        .ledger
        .dispatch(&county("330602"), close)
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::NotFound, None, Some("dispatch"));
    let end = DeploymentCommand::End(EndDeployment {
        deployment: DeploymentId(uuid()),
        on: d(2024, 5, 1),
    });
    let e = env
        .ledger
        .deployment(&county("330602"), end)
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::NotFound, None, Some("deployment"));
    assert_eq!(count_events(&env).await, 4, "only the regions");
}

// ---- typical cases, evaluations, supervision -----------------------------------------------------------

fn nominate(case: CaseId, county: &str, activities: Vec<ActivityId>) -> CaseCommand {
    CaseCommand::Nominate(NominateCase {
        case,
        county: code(county),
        year: 2024,
        title: text("世界防治结核病日进社区"),
        description: text("有创新、有实效的宣传活动"),
        activities,
        qualities: BTreeSet::from([CaseQuality::Innovative, CaseQuality::Effective]),
    })
}

#[tokio::test]
async fn a18_a_county_nominates_a_case_the_city_selects_and_forwards_it() {
    let env = env().await;
    regions(&env).await;
    let yuecheng = team(&env, "330602").await;
    let keqiao = team(&env, "330603").await;
    let ours = activity(&env, yuecheng).await;
    let theirs = activity(&env, keqiao).await;
    let case = CaseId(uuid());
    env.ledger
        .typical_case(&county("330602"), nominate(case, "330602", vec![ours]))
        .await
        .unwrap();
    let e = env
        .ledger
        .typical_case(&county("330602"), CaseCommand::Select(SelectCase { case }))
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
    env.ledger
        .typical_case(&city(), CaseCommand::Select(SelectCase { case }))
        .await
        .unwrap();
    let out = env
        .ledger
        .typical_case(&city(), CaseCommand::Forward(ForwardToProvince { case }))
        .await
        .unwrap();
    assert_eq!((out.stream_id, out.version), (format!("case-{case}"), 3));

    // Another county's activity cannot be this county's case.
    let before = count_events(&env).await;
    let e = env
        .ledger
        .typical_case(
            &county("330602"),
            nominate(CaseId(uuid()), "330602", vec![theirs]),
        )
        .await
        .unwrap_err();
    assert_error(
        &e,
        ErrorCode::RuleViolation,
        Some("A18"),
        Some("activities[0]"),
    );
    assert_eq!(count_events(&env).await, before);
}

fn items(score: u8) -> EvaluationItems {
    let item = || ItemAssessment {
        score,
        comment: text("良好"),
    };
    EvaluationItems {
        form: item(),
        scale: item(),
        frequency: item(),
        population_reached: item(),
        media_dissemination: item(),
        effect: item(),
    }
}

fn evaluate(county: &str, year: i32) -> EvaluationCommand {
    EvaluationCommand::Record(RecordEvaluation {
        evaluation: CountyYear::new("evaluation", code(county), year).unwrap(),
        items: items(80),
        reason: None,
    })
}

#[tokio::test]
async fn a17_the_city_cdc_evaluates_a_countys_year_and_a14_rejects_a_year_outside_the_window() {
    let env = env().await;
    regions(&env).await;
    campaign(&env).await;
    let out = env
        .ledger
        .evaluation(&city(), evaluate("330602", 2024))
        .await
        .unwrap();
    assert_eq!(
        (out.stream_id.as_str(), out.version),
        ("evaluation-330602-2024", 1)
    );
    let before = count_events(&env).await;
    let e = env
        .ledger
        .evaluation(&city(), evaluate("330602", 2022))
        .await
        .unwrap_err();
    assert_error(
        &e,
        ErrorCode::RuleViolation,
        Some("A14"),
        Some("evaluation.year"),
    );
    let e = env
        .ledger
        .evaluation(&county("330602"), evaluate("330602", 2025))
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
    assert_eq!(count_events(&env).await, before);
}

fn finding(id: FindingId, jurisdiction: &str, subject: RecordRef) -> FindingCommand {
    FindingCommand::Record(RecordSupervisionFinding {
        finding: id,
        jurisdiction: code(jurisdiction),
        subject,
        description: text("志愿服务记录不完整"),
        severity: Severity::Minor,
        spot_check: false,
        sampled: vec![],
    })
}

#[tokio::test]
async fn a20_the_supervisor_records_a_finding_the_team_leader_responds_the_supervisor_closes() {
    let env = env().await;
    regions(&env).await;
    let team = team(&env, "330602").await;
    let supervisor = || as_(Role::Supervisor, &["330600"], &[]);
    let id = FindingId(uuid());
    env.ledger
        .supervision_finding(&supervisor(), finding(id, "330600", RecordRef::Team(team)))
        .await
        .unwrap();
    let respond = FindingCommand::Respond(RespondToFinding {
        finding: id,
        response: text("已补录"),
    });
    let e = env
        .ledger
        .supervision_finding(&leader_of(TeamId(uuid())), respond.clone())
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
    env.ledger
        .supervision_finding(&leader_of(team), respond)
        .await
        .unwrap();
    let close = FindingCommand::Close(CloseFinding {
        finding: id,
        resolution: text("整改完成"),
    });
    let out = env
        .ledger
        .supervision_finding(&supervisor(), close)
        .await
        .unwrap();
    assert_eq!((out.stream_id, out.version), (format!("finding-{id}"), 3));

    // Outside the supervisor's jurisdiction (A20), and not the supervisor's to write (A19): nothing written.
    let before = count_events(&env).await;
    let keqiao = as_(Role::Supervisor, &["330603"], &[]);
    let e = env
        .ledger
        .supervision_finding(
            &keqiao,
            finding(FindingId(uuid()), "330603", RecordRef::Team(team)),
        )
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::RuleViolation, Some("A20"), Some("subject"));
    let e = env
        .ledger
        .supervision_finding(
            &city(),
            finding(FindingId(uuid()), "330600", RecordRef::Team(team)),
        )
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
    assert_eq!(count_events(&env).await, before);
}

// ---- Jiangsu: dispatch, deployment, medicine boxes, needs ---------------------------------------------------

fn issue(
    id: DispatchId,
    teams: Vec<TeamId>,
    volunteers: Vec<DispatchedVolunteer>,
) -> DispatchCommand {
    DispatchCommand::Issue(IssueDispatch {
        dispatch: id,
        hq: text("越城区疫情防控指挥部"),
        region: code("330602"),
        teams,
        reserve_volunteers: volunteers,
        reason: text("核酸采样点支援"),
        at: Utc.with_ymd_and_hms(2024, 5, 1, 1, 0, 0).unwrap(),
    })
}

#[tokio::test]
async fn b3_b4_b7_a_dispatch_sends_active_teams_and_qualified_first_echelon_reserves() {
    let env = env().await;
    regions(&env).await;
    let team = team(&env, "330602").await;
    let driver = volunteer(
        &env,
        ReserveTier::FirstEchelon,
        Some(Some(d(2024, 2, 1))),
        false,
    )
    .await;
    let not_reserve = volunteer(&env, ReserveTier::None, None, false).await;
    let untrained = volunteer(&env, ReserveTier::FirstEchelon, Some(None), false).await;
    let erased = volunteer(&env, ReserveTier::FirstEchelon, None, true).await;
    let cdc = || county("330602");
    let as_driver = |v| DispatchedVolunteer {
        volunteer: v,
        role: Some(ProfessionalRole::Driver),
    };
    let id = DispatchId(uuid());
    env.ledger
        .dispatch(&cdc(), issue(id, vec![team], vec![as_driver(driver)]))
        .await
        .unwrap();
    let close = DispatchCommand::Close(CloseDispatch {
        dispatch: id,
        at: Utc.with_ymd_and_hms(2024, 5, 2, 1, 0, 0).unwrap(),
        note: None,
    });
    assert_eq!(env.ledger.dispatch(&cdc(), close).await.unwrap().version, 2);

    let before = count_events(&env).await;
    let plain = |v| DispatchedVolunteer {
        volunteer: v,
        role: None,
    };
    for (volunteer, rule, field) in [
        (plain(not_reserve), "B4", "reserve_volunteers[0].volunteer"),
        (plain(erased), "B4", "reserve_volunteers[0].volunteer"),
        (as_driver(untrained), "B7", "reserve_volunteers[0].role"),
        (
            DispatchedVolunteer {
                volunteer: driver,
                role: Some(ProfessionalRole::Nurse),
            },
            "B7",
            "reserve_volunteers[0].role",
        ),
    ] {
        let e = env
            .ledger
            .dispatch(&cdc(), issue(DispatchId(uuid()), vec![], vec![volunteer]))
            .await
            .unwrap_err();
        assert_error(&e, ErrorCode::RuleViolation, Some(rule), Some(field));
    }
    let e = env
        .ledger
        .dispatch(
            &cdc(),
            issue(DispatchId(uuid()), vec![TeamId(uuid())], vec![]),
        )
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::NotFound, None, Some("teams[0]"));
    assert_eq!(count_events(&env).await, before);
}

fn deploy(id: DeploymentId, volunteer: VolunteerId) -> DeploymentCommand {
    DeploymentCommand::Deploy(DeployToGrid {
        deployment: id,
        volunteer,
        home_unit: text("越城区卫生健康局"),
        region: code("330602"),
        grid: text("府山街道 第3网格"),
        from: d(2024, 5, 1),
        planned_end: Some(d(2024, 5, 31)),
    })
}

#[tokio::test]
async fn b5_a_registered_volunteer_is_deployed_to_a_grid_an_erased_one_is_refused() {
    let env = env().await;
    regions(&env).await;
    let live = volunteer(&env, ReserveTier::None, None, false).await;
    let erased = volunteer(&env, ReserveTier::None, None, true).await;
    let cdc = || county("330602");
    let id = DeploymentId(uuid());
    env.ledger
        .deployment(&cdc(), deploy(id, live))
        .await
        .unwrap();
    let end = DeploymentCommand::End(EndDeployment {
        deployment: id,
        on: d(2024, 5, 20),
    });
    let out = env.ledger.deployment(&cdc(), end).await.unwrap();
    assert_eq!(
        (out.stream_id, out.version),
        (format!("deployment-{id}"), 2)
    );

    let before = count_events(&env).await;
    let e = env
        .ledger
        .deployment(&cdc(), deploy(DeploymentId(uuid()), erased))
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::RuleViolation, Some("B5"), Some("volunteer"));
    let e = env
        .ledger
        .deployment(&county("330603"), deploy(DeploymentId(uuid()), live))
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
    assert_eq!(count_events(&env).await, before);
}

fn item(medicine: &str, quantity: u32) -> MedicineItem {
    MedicineItem {
        medicine: text(medicine),
        unit: text("盒"),
        quantity,
    }
}

#[tokio::test]
async fn b9_dispensing_more_than_the_stock_is_rejected_naming_the_item_and_writes_nothing() {
    let env = env().await;
    regions(&env).await;
    let team = team(&env, "330602").await;
    let cdc = || county("330602");
    let medbox = MedicineBoxId(uuid());
    let register = MedicineBoxCommand::Register(RegisterMedicineBox {
        medbox,
        name: text("府山街道共享药箱"),
        kind: BoxKind::Physical,
        region: code("330602"),
        keeper_unit: text("府山街道社区卫生服务中心"),
    });
    env.ledger.medicine_box(&cdc(), register).await.unwrap();
    let donation = MedicineBoxCommand::Donation(RecordDonation {
        medbox,
        donor: Donor {
            category: DonorCategory::Pharmacy,
            organisation: Some(text("某大药房")),
        },
        items: vec![item("布洛芬缓释胶囊 0.3g", 10), item("连花清瘟胶囊", 5)],
        on: d(2024, 5, 1),
    });
    env.ledger.medicine_box(&cdc(), donation).await.unwrap();
    let dispense = |first: u32, second: u32| {
        MedicineBoxCommand::Dispensing(RecordDispensing {
            medbox,
            recipient: RecipientCategory::ElderlyLivingAlone,
            items: vec![
                item("布洛芬缓释胶囊 0.3g", first),
                item("连花清瘟胶囊", second),
            ],
            on: d(2024, 5, 2),
        })
    };
    assert_eq!(
        env.ledger
            .medicine_box(&cdc(), dispense(3, 1))
            .await
            .unwrap()
            .version,
        3
    );

    let before = count_events(&env).await;
    let e = env
        .ledger
        .medicine_box(&cdc(), dispense(1, 5))
        .await
        .unwrap_err();
    assert_error(
        &e,
        ErrorCode::RuleViolation,
        Some("B9"),
        Some("items[1].quantity"),
    );
    // A medicine box belongs to no team: a team leader cannot record on it.
    let e = env
        .ledger
        .medicine_box(&leader_of(team), dispense(1, 1))
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
    assert_eq!(count_events(&env).await, before);
}

async fn verified_need(env: &Env) -> NeedId {
    let cdc = || county("330602");
    let need = NeedId(uuid());
    let post = NeedCommand::Post(PostNeed {
        need,
        region: code("330602"),
        community: text("府山街道 第3网格"),
        description: text("独居老人代购药品"),
        category: NeedCategory::Medicine,
    });
    env.ledger.need(&cdc(), post).await.unwrap();
    env.ledger
        .need(&cdc(), NeedCommand::Verify(VerifyNeed { need }))
        .await
        .unwrap();
    need
}

#[tokio::test]
async fn b10_a_need_is_posted_verified_then_taken_and_fulfilled_by_the_teams_leader() {
    let env = env().await;
    regions(&env).await;
    let team = team(&env, "330602").await;
    let need = verified_need(&env).await;
    let e = env
        .ledger
        .need(
            &leader_of(TeamId(uuid())),
            NeedCommand::Take(TakeNeed { need, team }),
        )
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::Forbidden, None, None);
    env.ledger
        .need(&leader_of(team), NeedCommand::Take(TakeNeed { need, team }))
        .await
        .unwrap();
    let fulfil = NeedCommand::Fulfil(FulfilNeed {
        need,
        team,
        note: text("已送达"),
    });
    let out = env.ledger.need(&leader_of(team), fulfil).await.unwrap();
    assert_eq!((out.stream_id, out.version), (format!("need-{need}"), 4));
}

#[tokio::test]
async fn b10_a_dissolved_team_cannot_take_a_need_and_nothing_is_written() {
    let env = env().await;
    regions(&env).await;
    let team = team(&env, "330602").await;
    let dissolve = TeamCommand::Dissolve(DissolveTeam {
        on: d(2024, 5, 1),
        reason: text("合并"),
    });
    env.ledger
        .team(&county("330602"), team, dissolve, None, None)
        .await
        .unwrap();
    let need = verified_need(&env).await;
    let before = count_events(&env).await;
    let e = env
        .ledger
        .need(
            &county("330602"),
            NeedCommand::Take(TakeNeed { need, team }),
        )
        .await
        .unwrap_err();
    assert_error(&e, ErrorCode::RuleViolation, Some("B10"), Some("team"));
    assert_eq!(count_events(&env).await, before);
}

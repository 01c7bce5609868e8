//! The volunteer service record and the Jiangsu read models (#5 read models 6 and 7), built from commands
//! through the application layer and asked through `app::ReadModels` (scope, read-your-writes), and end
//! to end over REST and gRPC: hours counted once per activity, voided activities not counted, corrected
//! ones at their new minutes, certificates listed; deployments in force up to their last day; the
//! reserve roster; medicine stock after donations and dispensings; fulfilled needs no longer open;
//! out-of-scope callers refused; applying the log again changes nothing; a rebuild from scratch equals
//! the incremental read models.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use app::records::ServiceHoursPage;
use app::{Actor, ErrorCode, ReadModels, RegisterVolunteerInput, Role, VolunteerInput};
use chrono::NaiveDate;
use domain::activity::{
    ActivityCommand, ActivityDetails, ActivityKind, ActivityRecord, CorrectActivity, Participant,
    RecordActivity, Recorder, VoidActivity,
};
use domain::certificate::IssueCertificate;
use domain::identity::DocumentKind;
use domain::ids::{
    ActivityId, CertificateId, DeploymentId, DispatchId, MedicineBoxId, NeedId, TeamId, VolunteerId,
};
use domain::jiangsu::deployment::{DeployToGrid, DeploymentCommand, EndDeployment};
use domain::jiangsu::dispatch::{
    CloseDispatch, DispatchCommand, DispatchedVolunteer, IssueDispatch,
};
use domain::jiangsu::medicine_box::{
    BoxKind, Donor, DonorCategory, MedicineBoxCommand, MedicineItem, RecipientCategory,
    RecordDispensing, RecordDonation, RegisterMedicineBox,
};
use domain::jiangsu::need::{
    FulfilNeed, NeedCategory, NeedCommand, NeedStatus, PostNeed, RejectNeed, TakeNeed, VerifyNeed,
};
use domain::volunteer::{Attestation, EraseVolunteer, JoinTeam, ReserveTier, VolunteerCommand};
use eventstore::Token;
use projections::rebuild::{RebuildOptions, digest, rebuild};
use projections::{
    HoursOf, JiangsuProjector, Projector, Runner, RunnerConfig, ServiceRecordProjector,
};

use crate::rebuild::{Fixture, cdc};
use crate::support::{at, code, ctx, date, head, resident_id, text, within};

const DEADLINE: Duration = Duration::from_secs(30);

/// The read models of `f`'s database, without runners in this process (queries need no `min_token`).
fn reads(f: &Fixture) -> ReadModels {
    ReadModels::new(f.ledger.clone(), BTreeMap::new(), DEADLINE)
}

fn actor(role: Role, regions: &[&str], teams: &[TeamId]) -> Actor {
    ctx(role, regions, teams).actor
}

fn partner(grants: &[&str]) -> Actor {
    Actor {
        subject: "partner-1".into(),
        role: Role::IntegrationPartner,
        regions: vec![code("330600")],
        teams: vec![],
        grants: grants.iter().map(|g| (*g).to_owned()).collect(),
    }
}

async fn project(f: &Fixture) {
    f.project(ServiceRecordProjector).await;
    f.project(JiangsuProjector).await;
}

fn details(team: TeamId, on: NaiveDate, who: &[(VolunteerId, u32)]) -> ActivityDetails {
    ActivityDetails {
        team_id: team,
        kind: ActivityKind::KnowledgePublicity,
        key_day: None,
        date: on,
        start_time: None,
        end_time: None,
        place: text("社区卫生服务中心"),
        grid: None,
        participants: who
            .iter()
            .map(|(v, minutes)| Participant {
                volunteer_id: *v,
                minutes: *minutes,
            })
            .collect(),
        people_reached: 30,
        media_pieces: 0,
        materials_distributed: 10,
        record: ActivityRecord {
            recorder: Recorder::TeamLeader,
            content: text("结核病防治核心信息宣传"),
            summary: text("宣传"),
            attachments: vec![],
        },
    }
}

async fn activity(
    f: &Fixture,
    region: &str,
    team: TeamId,
    on: NaiveDate,
    who: &[(VolunteerId, u32)],
) -> ActivityId {
    let id = ActivityId(uuid::Uuid::new_v4());
    let record = ActivityCommand::Record(RecordActivity {
        activity: id,
        details: details(team, on, who),
    });
    f.ledger.activity(&cdc(region), id, record).await.unwrap();
    id
}

async fn join(f: &Fixture, region: &str, volunteer: VolunteerId, team: TeamId) {
    let join = VolunteerCommand::JoinTeam(JoinTeam {
        team,
        joined_on: date(2024, 2, 1),
    });
    f.ledger
        .volunteer(
            &cdc(region),
            VolunteerInput::Other {
                volunteer,
                command: join,
            },
        )
        .await
        .unwrap();
}

/// A first-echelon reserve volunteer of `region` (no team); `seq` keeps document numbers apart.
async fn reserve_volunteer(f: &Fixture, region: &str, seq: u32) -> VolunteerId {
    let id = VolunteerId(uuid::Uuid::new_v4());
    let input = RegisterVolunteerInput {
        volunteer: id,
        document_kind: DocumentKind::ResidentIdCard,
        document_number: resident_id("330602", "19850101", &format!("{seq:03}")),
        declared_birth_date: None,
        name: format!("储备志愿者{seq}"),
        phone: None,
        home_region: code(region),
        attestation: Attestation {
            law_abiding: true,
            capable: true,
            understands_tb_core_messages: true,
        },
        skills: vec![],
        reserve_tier: ReserveTier::FirstEchelon,
        registered_on: date(2024, 1, 15),
    };
    f.ledger
        .volunteer(&cdc(region), VolunteerInput::Register(input))
        .await
        .unwrap();
    id
}

pub(crate) fn item(medicine: &str, quantity: u32) -> MedicineItem {
    MedicineItem {
        medicine: text(medicine),
        unit: text("盒"),
        quantity,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Volunteer service record
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn service_record_counts_an_activity_once_for_a_volunteer_in_two_teams() {
    let mut f = Fixture::new(&["330602"]).await;
    let t1 = f.team("330602").await;
    let t2 = f.team("330602").await;
    let a = f.member("330602", t1).await;
    join(&f, "330602", a, t2).await;
    let first = activity(&f, "330602", t1, date(2024, 3, 24), &[(a, 90)]).await;
    let second = activity(&f, "330602", t2, date(2024, 4, 2), &[(a, 60)]).await;
    project(&f).await;

    let county = actor(Role::CountyCdc, &["330602"], &[]);
    let r = reads(&f)
        .service_record(&county, a, Some(2024), None)
        .await
        .unwrap();
    assert_eq!(r.teams.len(), 2, "a member of two teams");
    assert_eq!(r.years.len(), 1);
    let y = &r.years[0];
    assert_eq!(
        (y.year, y.activities, y.minutes),
        (2024, 2, 150),
        "each activity once, whatever the memberships"
    );
    assert_eq!(
        (y.first_activity, y.last_activity),
        (date(2024, 3, 24), date(2024, 4, 2))
    );
    let listed: Vec<ActivityId> = y.items.iter().map(|i| i.activity).collect();
    assert_eq!(listed, vec![first, second]);

    // The region list counts the person once with both activities; each team list its own.
    let page = reads(&f)
        .service_hours(
            &county,
            HoursOf::Region(code("330602")),
            2024,
            None,
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!((page.items[0].activities, page.items[0].minutes), (2, 150));
    let team = reads(&f)
        .service_hours(&county, HoursOf::Team(t2), 2024, None, 10, None)
        .await
        .unwrap();
    assert_eq!((team.items[0].activities, team.items[0].minutes), (1, 60));
    // Another year has nothing.
    let other = reads(&f)
        .service_record(&county, a, Some(2023), None)
        .await
        .unwrap();
    assert!(other.years.is_empty());
}

#[tokio::test]
async fn service_record_does_not_count_a_voided_activity() {
    let mut f = Fixture::new(&["330602"]).await;
    let t = f.team("330602").await;
    let a = f.member("330602", t).await;
    let kept = activity(&f, "330602", t, date(2024, 3, 5), &[(a, 120)]).await;
    let voided = activity(&f, "330602", t, date(2024, 3, 24), &[(a, 240)]).await;
    let void = ActivityCommand::Void(VoidActivity {
        reason: text("重复登记"),
    });
    f.ledger
        .activity(&cdc("330602"), voided, void)
        .await
        .unwrap();
    project(&f).await;

    let county = actor(Role::CountyCdc, &["330602"], &[]);
    let r = reads(&f)
        .service_record(&county, a, None, None)
        .await
        .unwrap();
    let y = &r.years[0];
    assert_eq!((y.activities, y.minutes), (1, 120));
    assert_eq!(
        y.last_activity,
        date(2024, 3, 5),
        "the voided date is not the last"
    );
    assert_eq!(
        y.items.iter().map(|i| i.activity).collect::<Vec<_>>(),
        vec![kept]
    );
    let page = reads(&f)
        .service_hours(&county, HoursOf::Team(t), 2024, None, 10, None)
        .await
        .unwrap();
    assert_eq!((page.items[0].activities, page.items[0].minutes), (1, 120));
}

#[tokio::test]
async fn service_record_counts_a_corrected_activity_at_its_new_minutes_and_participants() {
    let mut f = Fixture::new(&["330602"]).await;
    let t = f.team("330602").await;
    let a = f.member("330602", t).await;
    let b = f.member("330602", t).await;
    let corrected = activity(&f, "330602", t, date(2024, 3, 1), &[(a, 60), (b, 60)]).await;
    let correct = ActivityCommand::Correct(CorrectActivity {
        details: details(t, date(2024, 4, 1), &[(a, 150)]),
        reason: text("更正服务时长，b 未参加"),
    });
    f.ledger
        .activity(&cdc("330602"), corrected, correct)
        .await
        .unwrap();
    project(&f).await;

    let county = actor(Role::CountyCdc, &["330602"], &[]);
    let r = reads(&f)
        .service_record(&county, a, Some(2024), None)
        .await
        .unwrap();
    let y = &r.years[0];
    assert_eq!(
        (y.activities, y.minutes),
        (1, 150),
        "the correction's minutes"
    );
    assert_eq!(y.first_activity, date(2024, 4, 1), "the correction's date");
    assert_eq!(y.items[0].revision, 2);
    let b_record = reads(&f)
        .service_record(&county, b, Some(2024), None)
        .await
        .unwrap();
    assert!(
        b_record.years.is_empty(),
        "a participant the correction removed no longer counts"
    );
}

#[tokio::test]
async fn service_record_lists_the_certificates_issued() {
    let mut f = Fixture::new(&["330602"]).await;
    let t = f.team("330602").await;
    let a = f.member("330602", t).await;
    let x = activity(&f, "330602", t, date(2024, 3, 5), &[(a, 90)]).await;
    let y = activity(&f, "330602", t, date(2024, 3, 24), &[(a, 45)]).await;
    let certificate = CertificateId(uuid::Uuid::new_v4());
    f.ledger
        .issue_certificate(
            &cdc("330602"),
            IssueCertificate {
                certificate,
                number: text("SX-2024-0001"),
                volunteer: a,
                issuing_team: t,
                activities: vec![x, y],
                issued_on: date(2024, 5, 20),
            },
        )
        .await
        .unwrap();
    project(&f).await;

    let county = actor(Role::CountyCdc, &["330602"], &[]);
    let r = reads(&f)
        .service_record(&county, a, Some(2024), None)
        .await
        .unwrap();
    assert_eq!(r.certificates.len(), 1);
    let c = &r.certificates[0];
    assert_eq!(c.certificate, certificate);
    assert_eq!(c.number, "SX-2024-0001");
    assert_eq!(c.issuing_team, t);
    assert_eq!(c.issued_on, date(2024, 5, 20));
    assert_eq!(c.total_minutes, 135);
    assert_eq!(c.activities, vec![x, y]);
    assert_eq!(c.sha256.len(), 64);
    let earlier = reads(&f)
        .service_record(&county, a, Some(2023), None)
        .await
        .unwrap();
    assert!(earlier.certificates.is_empty(), "issued in 2024, not 2023");
}

#[tokio::test]
async fn service_hours_are_paged_by_volunteer_id_and_waits_for_min_token() {
    let mut f = Fixture::new(&["330602"]).await;
    let t = f.team("330602").await;
    let mut who = Vec::new();
    for _ in 0..3 {
        who.push(f.member("330602", t).await);
    }
    who.sort();
    let with: Vec<(VolunteerId, u32)> = who.iter().map(|v| (*v, 30)).collect();

    // A live runner serves a ReadModels that waits for the write's token.
    let runner = Arc::new(Runner::new(
        f.store().clone(),
        Arc::new(ServiceRecordProjector),
        RunnerConfig {
            lease_retry: Duration::from_millis(20),
            error_backoff: Duration::from_millis(20),
            ..RunnerConfig::default()
        },
    ));
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let r = runner.clone();
    let task = tokio::spawn(async move {
        r.run(async move {
            let _ = rx.wait_for(|s| *s).await;
        })
        .await
        .unwrap();
    });
    let reads = ReadModels::new(
        f.ledger.clone(),
        BTreeMap::from([(ServiceRecordProjector::ID, runner.progress())]),
        DEADLINE,
    );
    let id = ActivityId(uuid::Uuid::new_v4());
    let outcome = f
        .ledger
        .activity(
            &cdc("330602"),
            id,
            ActivityCommand::Record(RecordActivity {
                activity: id,
                details: details(t, date(2024, 5, 1), &with),
            }),
        )
        .await
        .unwrap();
    let city = actor(Role::CityCdc, &["330600"], &[]);
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page: ServiceHoursPage = within(
            DEADLINE,
            "service hours",
            reads.service_hours(
                &city,
                HoursOf::Region(code("330600")),
                2024,
                after,
                2,
                outcome.token,
            ),
        )
        .await
        .unwrap();
        assert!(page.as_of >= outcome.token.unwrap());
        seen.extend(page.items.iter().map(|h| h.volunteer));
        match page.next_cursor {
            Some(c) => after = app::records::parse_cursor("cursor", Some(&c)).unwrap(),
            None => break,
        }
    }
    assert_eq!(seen, who, "every volunteer once, by id, across pages");
    stop.send_replace(true);
    within(DEADLINE, "runner stopping", task).await.unwrap();
}

// ---------------------------------------------------------------------------------------------------------
// Jiangsu
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_deployment_ending_on_a_day_is_in_force_that_day_and_not_after() {
    let f = Fixture::new(&["330602"]).await;
    let v = reserve_volunteer(&f, "330602", 1).await;
    let w = reserve_volunteer(&f, "330602", 2).await;
    let ended = DeploymentId(uuid::Uuid::new_v4());
    let ongoing = DeploymentId(uuid::Uuid::new_v4());
    for (d, who, grid) in [
        (ended, v, "府山街道第3网格"),
        (ongoing, w, "府山街道第5网格"),
    ] {
        let deploy = DeploymentCommand::Deploy(DeployToGrid {
            deployment: d,
            volunteer: who,
            home_unit: text("越城区人民医院"),
            region: code("330602"),
            grid: text(grid),
            from: date(2024, 4, 1),
            planned_end: Some(date(2024, 4, 30)),
        });
        f.ledger.deployment(&cdc("330602"), deploy).await.unwrap();
    }
    let end = DeploymentCommand::End(EndDeployment {
        deployment: ended,
        on: date(2024, 4, 15),
    });
    f.ledger.deployment(&cdc("330602"), end).await.unwrap();
    project(&f).await;

    let county = actor(Role::CountyCdc, &["330602"], &[]);
    let on = |d: NaiveDate| {
        let reads = reads(&f);
        let county = county.clone();
        async move {
            reads
                .deployments_in_force(&county, Some(code("330602")), None, d, None)
                .await
                .unwrap()
                .rows
                .iter()
                .map(|r| r.deployment)
                .collect::<Vec<_>>()
        }
    };
    assert!(
        on(date(2024, 3, 31)).await.is_empty(),
        "before the first day"
    );
    assert_eq!(on(date(2024, 4, 15)).await.len(), 2, "the last day counts");
    assert_eq!(on(date(2024, 4, 16)).await, vec![ongoing], "not after it");
    assert_eq!(
        on(date(2024, 5, 10)).await,
        vec![ongoing],
        "a planned end ends nothing"
    );

    // Per grid, without a region: the caller's regions.
    let grid = reads(&f)
        .deployments_in_force(
            &county,
            None,
            Some(" 府山街道第3网格 "),
            date(2024, 4, 10),
            None,
        )
        .await
        .unwrap();
    assert_eq!(grid.rows.len(), 1);
    let row = &grid.rows[0];
    assert_eq!(
        (row.deployment, row.volunteer, row.grid.as_str()),
        (ended, v, "府山街道第3网格")
    );
    assert_eq!(row.ended_on, Some(date(2024, 4, 15)));
    assert_eq!(row.version, 2, "decided by the end (version 2)");
    let e = reads(&f)
        .deployments_in_force(&county, None, None, date(2024, 4, 10), None)
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("region"));
}

#[tokio::test]
async fn reserve_roster_lists_reserve_volunteers_with_dispatches_in_force_and_not_erased_ones() {
    let mut f = Fixture::new(&["330602", "330603"]).await;
    let t = f.team("330602").await;
    let not_reserve = f.member("330602", t).await;
    let a = reserve_volunteer(&f, "330602", 1).await;
    let b = reserve_volunteer(&f, "330602", 2).await;
    let elsewhere = reserve_volunteer(&f, "330603", 3).await;
    let open = DispatchId(uuid::Uuid::new_v4());
    let closed = DispatchId(uuid::Uuid::new_v4());
    for d in [open, closed] {
        let issue = DispatchCommand::Issue(IssueDispatch {
            dispatch: d,
            hq: text("越城区疫情防控指挥部"),
            region: code("330602"),
            teams: vec![],
            reserve_volunteers: vec![DispatchedVolunteer {
                volunteer: a,
                role: None,
            }],
            reason: text("核酸检测点支援"),
            at: at("2024-05-20T08:00:00+08:00"),
        });
        f.ledger.dispatch(&cdc("330602"), issue).await.unwrap();
    }
    let close = DispatchCommand::Close(CloseDispatch {
        dispatch: closed,
        at: at("2024-05-21T08:00:00+08:00"),
        note: None,
    });
    f.ledger.dispatch(&cdc("330602"), close).await.unwrap();
    let erase = VolunteerCommand::Erase(EraseVolunteer {
        reason: text("本人申请删除"),
    });
    f.ledger
        .volunteer(
            &cdc("330602"),
            VolunteerInput::Other {
                volunteer: b,
                command: erase,
            },
        )
        .await
        .unwrap();
    project(&f).await;

    let county = actor(Role::CountyCdc, &["330602"], &[]);
    let roster = reads(&f)
        .reserve_roster(
            &county,
            code("330602"),
            Some(ReserveTier::FirstEchelon),
            None,
        )
        .await
        .unwrap();
    let ids: Vec<VolunteerId> = roster.rows.iter().map(|m| m.volunteer).collect();
    assert_eq!(
        ids,
        vec![a],
        "b is erased, the member is no reserve, c lives elsewhere"
    );
    assert!(!ids.contains(&not_reserve) && !ids.contains(&elsewhere));
    assert_eq!(roster.rows[0].tier, ReserveTier::FirstEchelon);
    assert_eq!(
        roster.rows[0].dispatches,
        vec![open],
        "only the dispatch in force"
    );
    let city = actor(Role::CityCdc, &["330600"], &[]);
    let all = reads(&f)
        .reserve_roster(&city, code("330600"), None, None)
        .await
        .unwrap();
    assert_eq!(all.rows.len(), 2, "a and the reserve of 330603");
    let e = reads(&f)
        .reserve_roster(&county, code("330602"), Some(ReserveTier::None), None)
        .await
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("tier"));
}

#[tokio::test]
async fn medicine_stock_is_donations_minus_dispensings_per_box_and_item() {
    let f = Fixture::new(&["330602"]).await;
    let boxes = [
        MedicineBoxId(uuid::Uuid::new_v4()),
        MedicineBoxId(uuid::Uuid::new_v4()),
    ];
    for (i, medbox) in boxes.iter().enumerate() {
        let register = MedicineBoxCommand::Register(RegisterMedicineBox {
            medbox: *medbox,
            name: text(&format!("府山社区共享药箱{i}")),
            kind: BoxKind::Physical,
            region: code("330602"),
            keeper_unit: text("府山社区卫生服务站"),
        });
        f.ledger
            .medicine_box(&cdc("330602"), register)
            .await
            .unwrap();
    }
    let [first, second] = boxes;
    let donate = |medbox, items, on| {
        MedicineBoxCommand::Donation(RecordDonation {
            medbox,
            donor: Donor {
                category: DonorCategory::Pharmacy,
                organisation: None,
            },
            items,
            on,
        })
    };
    for command in [
        donate(
            first,
            vec![item("布洛芬缓释胶囊 0.3g", 20), item("连花清瘟胶囊", 10)],
            date(2024, 5, 1),
        ),
        donate(
            first,
            vec![item("布洛芬缓释胶囊 0.3g", 5)],
            date(2024, 5, 2),
        ),
        donate(
            second,
            vec![item("布洛芬缓释胶囊 0.3g", 7)],
            date(2024, 5, 2),
        ),
        MedicineBoxCommand::Dispensing(RecordDispensing {
            medbox: first,
            recipient: RecipientCategory::ElderlyLivingAlone,
            items: vec![item("布洛芬缓释胶囊 0.3g", 8)],
            on: date(2024, 5, 3),
        }),
    ] {
        f.ledger
            .medicine_box(&cdc("330602"), command)
            .await
            .unwrap();
    }
    project(&f).await;

    let county = actor(Role::CountyCdc, &["330602"], &[]);
    let stock = reads(&f)
        .medicine_stock(&county, code("330602"), None)
        .await
        .unwrap();
    let of = |medbox: MedicineBoxId, medicine: &str| {
        stock
            .rows
            .iter()
            .find(|r| r.medbox == medbox && r.medicine == medicine)
            .unwrap()
    };
    let ibuprofen = of(first, "布洛芬缓释胶囊 0.3g");
    assert_eq!(
        (ibuprofen.donated, ibuprofen.dispensed, ibuprofen.stock),
        (25, 8, 17)
    );
    assert_eq!(ibuprofen.unit, "盒");
    assert_eq!(
        ibuprofen.donations,
        vec![2, 3],
        "the donations that decided it"
    );
    assert_eq!(ibuprofen.dispensings, vec![4]);
    let lianhua = of(first, "连花清瘟胶囊");
    assert_eq!(
        (lianhua.donated, lianhua.dispensed, lianhua.stock),
        (10, 0, 10)
    );
    let other = of(second, "布洛芬缓释胶囊 0.3g");
    assert_eq!(other.stock, 7, "each box its own stock");
    assert_eq!(other.kind, BoxKind::Physical);
    assert_eq!(stock.rows.len(), 3);
}

#[tokio::test]
async fn a_fulfilled_need_is_no_longer_open() {
    let f = Fixture::new(&["330602"]).await;
    let team = f.team("330602").await;
    let [fulfilled, taken, rejected] = [
        NeedId(uuid::Uuid::new_v4()),
        NeedId(uuid::Uuid::new_v4()),
        NeedId(uuid::Uuid::new_v4()),
    ];
    let need = |command| {
        let ledger = f.ledger.clone();
        async move { ledger.need(&cdc("330602"), command).await.unwrap() }
    };
    for n in [fulfilled, taken, rejected] {
        need(NeedCommand::Post(PostNeed {
            need: n,
            region: code("330602"),
            community: text("府山街道某社区"),
            description: text("独居老人需要常用药品"),
            category: NeedCategory::Medicine,
        }))
        .await;
    }
    for n in [fulfilled, taken] {
        need(NeedCommand::Verify(VerifyNeed { need: n })).await;
        need(NeedCommand::Take(TakeNeed { need: n, team })).await;
    }
    need(NeedCommand::Fulfil(FulfilNeed {
        need: fulfilled,
        team,
        note: text("已送达"),
    }))
    .await;
    need(NeedCommand::Reject(RejectNeed {
        need: rejected,
        reason: text("重复发布"),
    }))
    .await;
    project(&f).await;

    let county = actor(Role::CountyCdc, &["330602"], &[]);
    let open = reads(&f)
        .needs(&county, code("330602"), None, None)
        .await
        .unwrap();
    assert_eq!(
        open.rows.iter().map(|n| n.need).collect::<Vec<_>>(),
        vec![taken],
        "fulfilled and rejected needs are not open"
    );
    assert_eq!(open.rows[0].status, NeedStatus::Taken);
    assert_eq!(open.rows[0].team, Some(team));
    assert_eq!(open.rows[0].category, NeedCategory::Medicine);
    let done = reads(&f)
        .needs(&county, code("330602"), Some(NeedStatus::Fulfilled), None)
        .await
        .unwrap();
    assert_eq!(done.rows.len(), 1);
    assert_eq!(
        (done.rows[0].need, done.rows[0].version),
        (fulfilled, 4),
        "decided by the fulfilment (version 4)"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Scope
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn records_and_jiangsu_lists_outside_the_callers_scope_are_refused() {
    let mut f = Fixture::new(&["330602", "330603"]).await;
    let t = f.team("330602").await;
    let other_team = f.team("330603").await;
    let a = f.member("330602", t).await;
    activity(&f, "330602", t, date(2024, 3, 5), &[(a, 60)]).await;
    project(&f).await;
    let reads = reads(&f);
    let forbidden = |e: app::AppError| assert_eq!(e.code, ErrorCode::Forbidden, "{e:?}");

    let neighbour = actor(Role::CountyCdc, &["330603"], &[]);
    forbidden(
        reads
            .service_record(&neighbour, a, None, None)
            .await
            .unwrap_err(),
    );
    forbidden(
        reads
            .service_hours(
                &neighbour,
                HoursOf::Region(code("330602")),
                2024,
                None,
                10,
                None,
            )
            .await
            .unwrap_err(),
    );
    forbidden(
        reads
            .service_hours(&neighbour, HoursOf::Team(t), 2024, None, 10, None)
            .await
            .unwrap_err(),
    );
    forbidden(
        reads
            .deployments_in_force(
                &neighbour,
                Some(code("330602")),
                None,
                date(2024, 4, 1),
                None,
            )
            .await
            .unwrap_err(),
    );
    forbidden(
        reads
            .reserve_roster(&neighbour, code("330602"), None, None)
            .await
            .unwrap_err(),
    );
    forbidden(
        reads
            .medicine_stock(&neighbour, code("330602"), None)
            .await
            .unwrap_err(),
    );
    forbidden(
        reads
            .needs(&neighbour, code("330602"), None, None)
            .await
            .unwrap_err(),
    );

    // Team roles: their members' records and their team's hours, nothing else.
    let leader = actor(Role::TeamLeader, &["330602"], &[t]);
    assert_eq!(
        reads
            .service_record(&leader, a, None, None)
            .await
            .unwrap()
            .years[0]
            .minutes,
        60
    );
    assert_eq!(
        reads
            .service_hours(&leader, HoursOf::Team(t), 2024, None, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let stranger = actor(Role::TeamLeader, &["330603"], &[other_team]);
    forbidden(
        reads
            .service_record(&stranger, a, None, None)
            .await
            .unwrap_err(),
    );
    forbidden(
        reads
            .service_hours(
                &leader,
                HoursOf::Region(code("330602")),
                2024,
                None,
                10,
                None,
            )
            .await
            .unwrap_err(),
    );

    // Partners need ReadVolunteers for people, ReadReports for the rest.
    forbidden(
        reads
            .service_record(&partner(&[]), a, None, None)
            .await
            .unwrap_err(),
    );
    assert!(
        reads
            .service_record(&partner(&["ReadVolunteers"]), a, None, None)
            .await
            .is_ok()
    );
    forbidden(
        reads
            .medicine_stock(&partner(&["ReadVolunteers"]), code("330602"), None)
            .await
            .unwrap_err(),
    );
    assert!(
        reads
            .medicine_stock(&partner(&["ReadReports"]), code("330602"), None)
            .await
            .is_ok()
    );

    // Unknown records are not found; bad years name their field.
    let unknown = reads
        .service_record(&neighbour, VolunteerId(uuid::Uuid::new_v4()), None, None)
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::NotFound);
    let e = reads
        .service_record(&neighbour, a, Some(1999), None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::InvalidArgument, Some("year"))
    );
}

// ---------------------------------------------------------------------------------------------------------
// Replays and rebuilds
// ---------------------------------------------------------------------------------------------------------

/// Every kind of event both projectors consume, with a correction, a void, an end, a close, an erasure.
async fn everything() -> Fixture {
    let mut f = Fixture::new(&["330602", "330603"]).await;
    let t1 = f.team("330602").await;
    let t2 = f.team("330603").await;
    let a = f.member("330602", t1).await;
    let b = f.member("330603", t2).await;
    join(&f, "330602", b, t1).await;
    let x = activity(&f, "330602", t1, date(2024, 3, 5), &[(a, 60), (b, 30)]).await;
    let y = activity(&f, "330602", t1, date(2024, 3, 24), &[(a, 90)]).await;
    activity(&f, "330603", t2, date(2024, 4, 1), &[(b, 45)]).await;
    let correct = ActivityCommand::Correct(CorrectActivity {
        details: details(t1, date(2024, 3, 6), &[(a, 75), (b, 30)]),
        reason: text("更正"),
    });
    f.ledger.activity(&cdc("330602"), x, correct).await.unwrap();
    let void = ActivityCommand::Void(VoidActivity {
        reason: text("重复"),
    });
    f.ledger.activity(&cdc("330602"), y, void).await.unwrap();
    let z = activity(&f, "330602", t1, date(2024, 5, 1), &[(a, 30)]).await;
    f.ledger
        .issue_certificate(
            &cdc("330602"),
            IssueCertificate {
                certificate: CertificateId(uuid::Uuid::new_v4()),
                number: text("SX-2024-0002"),
                volunteer: a,
                issuing_team: t1,
                activities: vec![x, z],
                issued_on: date(2024, 5, 20),
            },
        )
        .await
        .unwrap();

    let r = reserve_volunteer(&f, "330602", 1).await;
    let gone = reserve_volunteer(&f, "330603", 2).await;
    let dispatch = DispatchId(uuid::Uuid::new_v4());
    let issue = DispatchCommand::Issue(IssueDispatch {
        dispatch,
        hq: text("越城区疫情防控指挥部"),
        region: code("330602"),
        teams: vec![t1],
        reserve_volunteers: vec![DispatchedVolunteer {
            volunteer: r,
            role: None,
        }],
        reason: text("支援"),
        at: at("2024-05-20T08:00:00+08:00"),
    });
    f.ledger.dispatch(&cdc("330602"), issue).await.unwrap();
    let close = DispatchCommand::Close(CloseDispatch {
        dispatch,
        at: at("2024-05-22T08:00:00+08:00"),
        note: None,
    });
    f.ledger.dispatch(&cdc("330602"), close).await.unwrap();
    let erase = VolunteerCommand::Erase(EraseVolunteer {
        reason: text("本人申请删除"),
    });
    f.ledger
        .volunteer(
            &cdc("330603"),
            VolunteerInput::Other {
                volunteer: gone,
                command: erase,
            },
        )
        .await
        .unwrap();
    let deployment = DeploymentId(uuid::Uuid::new_v4());
    f.ledger
        .deployment(
            &cdc("330602"),
            DeploymentCommand::Deploy(DeployToGrid {
                deployment,
                volunteer: r,
                home_unit: text("越城区人民医院"),
                region: code("330602"),
                grid: text("府山街道第3网格"),
                from: date(2024, 4, 1),
                planned_end: None,
            }),
        )
        .await
        .unwrap();
    f.ledger
        .deployment(
            &cdc("330602"),
            DeploymentCommand::End(EndDeployment {
                deployment,
                on: date(2024, 4, 20),
            }),
        )
        .await
        .unwrap();
    let medbox = MedicineBoxId(uuid::Uuid::new_v4());
    for command in [
        MedicineBoxCommand::Register(RegisterMedicineBox {
            medbox,
            name: text("共享药箱"),
            kind: BoxKind::Virtual,
            region: code("330602"),
            keeper_unit: text("社区卫生服务站"),
        }),
        MedicineBoxCommand::Donation(RecordDonation {
            medbox,
            donor: Donor {
                category: DonorCategory::Enterprise,
                organisation: Some(text("某医药公司")),
            },
            items: vec![item("布洛芬缓释胶囊 0.3g", 10), item("对乙酰氨基酚片", 4)],
            on: date(2024, 5, 1),
        }),
        MedicineBoxCommand::Dispensing(RecordDispensing {
            medbox,
            recipient: RecipientCategory::FeverPatient,
            items: vec![item("布洛芬缓释胶囊 0.3g", 3)],
            on: date(2024, 5, 2),
        }),
    ] {
        f.ledger
            .medicine_box(&cdc("330602"), command)
            .await
            .unwrap();
    }
    let need = NeedId(uuid::Uuid::new_v4());
    for command in [
        NeedCommand::Post(PostNeed {
            need,
            region: code("330602"),
            community: text("某社区"),
            description: text("需要退烧药"),
            category: NeedCategory::Medicine,
        }),
        NeedCommand::Verify(VerifyNeed { need }),
        NeedCommand::Take(TakeNeed { need, team: t1 }),
    ] {
        f.ledger.need(&cdc("330602"), command).await.unwrap();
    }
    f
}

/// Apply every event of the log that `p` handles once more, directly (in `reverse` order when asked),
/// on the live read model.
async fn apply_log_again<P: Projector>(f: &Fixture, p: &P, reverse: bool) {
    let mut events = f
        .store()
        .read_all_after(Token::START, 100_000)
        .await
        .unwrap();
    if reverse {
        events.reverse();
    }
    let mut conn = f.store().pool().acquire().await.unwrap();
    for e in events.iter().filter(|e| p.handles(e)) {
        p.apply(&mut conn, e).await.unwrap();
    }
}

#[tokio::test]
async fn applying_the_log_again_changes_neither_read_model() {
    let f = everything().await;
    project(&f).await;
    for (p, name) in [
        (
            &ServiceRecordProjector as &dyn ReplayCheck,
            "service_record",
        ),
        (&JiangsuProjector as &dyn ReplayCheck, "jiangsu"),
    ] {
        let before = p.digest_of(&f).await;
        assert!(
            before.tables.iter().all(|t| t.rows > 0),
            "{name}: the fixture must fill every table: {before}"
        );
        p.again(&f, false).await;
        assert_eq!(p.digest_of(&f).await, before, "{name}: in order");
        p.again(&f, true).await;
        assert_eq!(p.digest_of(&f).await, before, "{name}: in reverse order");
    }
}

/// The two projectors behind one object, for the loops above and below.
trait ReplayCheck: Sync {
    fn digest_of<'a>(
        &'a self,
        f: &'a Fixture,
    ) -> std::pin::Pin<Box<dyn Future<Output = projections::rebuild::Digest> + Send + 'a>>;
    fn again<'a>(
        &'a self,
        f: &'a Fixture,
        reverse: bool,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

impl<P: Projector> ReplayCheck for P {
    fn digest_of<'a>(
        &'a self,
        f: &'a Fixture,
    ) -> std::pin::Pin<Box<dyn Future<Output = projections::rebuild::Digest> + Send + 'a>> {
        Box::pin(async move { digest(f.store().pool(), self).await.unwrap() })
    }

    fn again<'a>(
        &'a self,
        f: &'a Fixture,
        reverse: bool,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(apply_log_again(f, self, reverse))
    }
}

async fn rebuilt_equals_incremental<P: Projector + Copy>(f: &Fixture, p: P) {
    f.project(p).await;
    let incremental = digest(f.store().pool(), &p).await.unwrap();
    let owner = f.owner().await;
    let options = RebuildOptions {
        batch_size: 5,
        ..RebuildOptions::default()
    };
    let report = within(DEADLINE, "rebuild", rebuild(&owner, &p, &options))
        .await
        .unwrap();
    assert_eq!(report.checkpoint, head(f.store()).await, "{report}");
    assert_eq!(report.after.as_ref(), Some(&incremental), "{report}");
    assert_eq!(digest(f.store().pool(), &p).await.unwrap(), incremental);
    assert_eq!(
        projections::parked_count(f.store().pool(), p.id())
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn rebuild_from_scratch_equals_the_incremental_service_record_and_jiangsu_models() {
    let f = everything().await;
    rebuilt_equals_incremental(&f, ServiceRecordProjector).await;
    rebuilt_equals_incremental(&f, JiangsuProjector).await;
}

// ---------------------------------------------------------------------------------------------------------
// REST and gRPC
// ---------------------------------------------------------------------------------------------------------

/// The demo's `k`-th volunteer of 越城区 (member of `demo_team(1)` since 2024-01-10).
fn demo_volunteer(k: u128) -> VolunteerId {
    VolunteerId(uuid::Uuid::from_u128(
        0x7f1a_0000_0000_4000_8000_0000_0000_0000 | (3 << 32) | (100 + k),
    ))
}

fn authed<T>(bearer: &str, message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut()
        .insert("authorization", bearer.parse().unwrap());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_over_rest_and_grpc_wait_for_min_token_and_name_bad_fields() {
    use grpc_api::pb;
    use pb::records_service_client::RecordsServiceClient;

    let svc = crate::api_support::TestService::start_with_demo().await;
    let v = demo_volunteer(1);
    let team = app::demo::demo_team(1);
    let id = ActivityId(uuid::Uuid::new_v4());
    let outcome = svc
        .ledger()
        .activity(
            &ctx(Role::CountyCdc, &["330602"], &[]),
            id,
            ActivityCommand::Record(RecordActivity {
                activity: id,
                details: details(team, date(2025, 3, 5), &[(v, 77)]),
            }),
        )
        .await
        .unwrap();
    let token = outcome.token.unwrap().to_string();
    let bearer = svc.dev_bearer(Role::CountyCdc);
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let bearer = bearer.clone();
        let base = svc.http.clone();
        async move {
            let res = http
                .get(format!("{base}{path}"))
                .header("authorization", bearer)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap_or(serde_json::Value::Null);
            (status, body)
        }
    };

    let (status, body) = get(format!(
        "/api/v1/records/volunteers/{v}?year=2025&min_token={token}"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let items = body["years"][0]["items"].as_array().unwrap();
    let mine = items
        .iter()
        .find(|i| i["activity_id"] == id.to_string())
        .unwrap_or_else(|| panic!("the new activity is in the record: {body}"));
    assert_eq!(mine["minutes"], 77);
    let (status, body) = get(format!(
        "/api/v1/records/service-hours?team={team}&year=2025&limit=1000&min_token={token}"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["volunteer_id"] == v.to_string()),
        "{body}"
    );
    for (path, field) in [
        (format!("/api/v1/records/volunteers/{v}?year=1999"), "year"),
        ("/api/v1/records/volunteers/nope".to_owned(), "volunteer_id"),
        (
            "/api/v1/records/service-hours?year=2025".to_owned(),
            "region",
        ),
        (
            format!("/api/v1/records/service-hours?region=330602&team={team}&year=2025"),
            "team",
        ),
        (
            "/api/v1/records/service-hours?region=330602&year=2025&cursor=x".to_owned(),
            "cursor",
        ),
        (
            "/api/v1/jiangsu/deployments?date=2025-03-01".to_owned(),
            "region",
        ),
        (
            "/api/v1/jiangsu/deployments?region=330602&date=2025-02-30".to_owned(),
            "date",
        ),
        (
            "/api/v1/jiangsu/reserve?region=330602&tier=none".to_owned(),
            "tier",
        ),
        (
            "/api/v1/jiangsu/needs?region=330602&status=open".to_owned(),
            "status",
        ),
        (
            "/api/v1/jiangsu/medicine-boxes?region=33060".to_owned(),
            "region",
        ),
        (
            "/api/v1/jiangsu/needs?region=330602&limit=0".to_owned(),
            "limit",
        ),
    ] {
        let (status, body) = get(path.clone()).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["field"], field, "{path}: {body}");
    }
    let (status, _) = get("/api/v1/jiangsu/needs?region=330603".to_owned()).await;
    assert_eq!(status, 403, "the county CDC of 330602 does not see 330603");
    let (status, body) =
        get("/api/v1/jiangsu/needs?region=330602&status=fulfilled".to_owned()).await;
    assert_eq!(status, 200, "{body}");

    let channel = tonic::transport::Channel::from_shared(svc.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = RecordsServiceClient::new(channel);
    let record = client
        .get_service_record(authed(
            &bearer,
            pb::GetServiceRecordRequest {
                volunteer_id: v.to_string(),
                year: Some(2025),
                min_token: token.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        record.years[0]
            .items
            .iter()
            .any(|i| i.activity_id == id.to_string() && i.minutes == 77)
    );
    let bad = client
        .get_service_record(authed(
            &bearer,
            pb::GetServiceRecordRequest {
                volunteer_id: v.to_string(),
                year: Some(1999),
                min_token: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert_eq!(bad.metadata().get("x-error-field").unwrap(), "year");
    let needs = client
        .list_needs(authed(
            &bearer,
            pb::ListNeedsRequest {
                region: "330602".to_owned(),
                status: pb::NeedStatus::Unspecified.into(),
                page_size: 0,
                page_token: String::new(),
                min_token: token,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(needs.statuses, ["posted", "verified", "taken"]);
    svc.stop().await;
}

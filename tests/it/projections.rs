//! Projections: the projector runtime (checkpoint exactly once, one leader, fencing, parking) and the
//! coverage read model (A1, A2), with fixtures built through the application layer.

use std::sync::Arc;
use std::time::Duration;

use app::{RegisterVolunteerInput, Role, VolunteerInput};
use chrono::NaiveDate;
use domain::activity::{
    ActivityCommand, ActivityDetails, ActivityKind, ActivityRecord, Participant, RecordActivity,
    Recorder, VoidActivity,
};
use domain::host_unit::{HostUnitCommand, HostUnitKind, RegisterHostUnit};
use domain::identity::DocumentKind;
use domain::ids::{ActivityId, CampaignId, HostUnitId, Sealed, TeamId, VolunteerId};
use domain::region::{RecordResidentPopulation, RegionCommand};
use domain::team::{DissolveTeam, RegisterTeam, TeamCommand, TeamLevel, TeamProfile};
use domain::volunteer::{Attestation, JoinTeam, ReserveTier, VolunteerCommand};
use eventstore::{EventStore, ExpectedVersion, Token};
use projections::{
    A1_PER_100K, BatchOutcome, CoverageProjector, Runner, RunnerConfig, apply_batch, coverage,
};

use crate::support::{
    TestLedger, code, ctx, date, event, head, ledger, person, request, resident_id, text, within,
};

const DEADLINE: Duration = Duration::from_secs(20);

fn config() -> RunnerConfig {
    RunnerConfig {
        batch_size: 500,
        lease_retry: Duration::from_millis(20),
        error_backoff: Duration::from_millis(20),
        idle_check: Duration::from_secs(1),
        lead: true,
    }
}

fn runner(store: &EventStore, config: RunnerConfig) -> Arc<Runner<CoverageProjector>> {
    Arc::new(Runner::new(
        store.clone(),
        Arc::new(CoverageProjector),
        config,
    ))
}

async fn rows(store: &EventStore, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// A campaign fixture built from commands.
struct Fixture {
    t: TestLedger,
    next_person: u32,
}

impl Fixture {
    /// 浙江省 → 绍兴市 and the given synthetic counties of 绍兴市.
    async fn new(counties: &[&str]) -> Self {
        let t = ledger(CampaignId(uuid::Uuid::new_v4())).await;
        crate::support::define_regions(&t.ledger, counties).await;
        Self { t, next_person: 0 }
    }

    fn store(&self) -> &EventStore {
        self.t.ledger.store()
    }

    fn cdc(region: &str) -> app::CommandContext {
        if region.ends_with("00") {
            ctx(Role::CityCdc, &[region], &[])
        } else {
            ctx(Role::CountyCdc, &[region], &[])
        }
    }

    async fn population(&self, region: &str, year: i32, count: u64, source: &str) {
        let record = RegionCommand::RecordResidentPopulation(RecordResidentPopulation {
            year,
            count,
            source: text(source),
            reason: None,
        });
        self.t
            .ledger
            .region(&ctx(Role::CityCdc, &["330600"], &[]), code(region), record)
            .await
            .unwrap();
    }

    /// A CDC host unit and a team of `region` registered on 2024-05-01.
    async fn team(&self, region: &str) -> TeamId {
        let host = HostUnitId(uuid::Uuid::new_v4());
        let register_host = HostUnitCommand::Register(RegisterHostUnit {
            host_unit: host,
            kind: HostUnitKind::Cdc,
            name: text(&format!("{region}疾病预防控制中心")),
            region: code(region),
        });
        self.t
            .ledger
            .host_unit(&Self::cdc(region), host, register_host, None)
            .await
            .unwrap();
        let team = TeamId(uuid::Uuid::new_v4());
        let level = if region.ends_with("00") {
            TeamLevel::City
        } else {
            TeamLevel::County
        };
        let register = TeamCommand::Register(RegisterTeam {
            team,
            host_unit: host,
            region: code(region),
            level,
            profile: TeamProfile {
                name: text(&format!("{region}结核病防治志愿服务队")),
                national_platform_id: None,
                leader: Sealed(String::new()),
                on_call_contact: Sealed(String::new()),
                party_member_team: false,
                student_team: false,
            },
            registered_on: date(2024, 5, 1),
        });
        self.t
            .ledger
            .team(
                &Self::cdc(region),
                team,
                register,
                Some(&person("王队长")),
                Some(&person("王队长")),
            )
            .await
            .unwrap();
        team
    }

    async fn dissolve(&self, region: &str, team: TeamId, on: NaiveDate) {
        let dissolve = TeamCommand::Dissolve(DissolveTeam {
            on,
            reason: text("合并"),
        });
        self.t
            .ledger
            .team(&Self::cdc(region), team, dissolve, None, None)
            .await
            .unwrap();
    }

    /// A volunteer registered by `region`'s CDC on 2024-05-20.
    async fn volunteer(&mut self, region: &str) -> VolunteerId {
        self.next_person += 1;
        let id = VolunteerId(uuid::Uuid::new_v4());
        let input = RegisterVolunteerInput {
            volunteer: id,
            document_kind: DocumentKind::ResidentIdCard,
            document_number: resident_id("330602", "19900307", &format!("{:03}", self.next_person)),
            declared_birth_date: None,
            name: format!("志愿者{}", self.next_person),
            phone: None,
            home_region: code(region),
            attestation: Attestation {
                law_abiding: true,
                capable: true,
                understands_tb_core_messages: true,
            },
            skills: vec![],
            reserve_tier: ReserveTier::None,
            registered_on: date(2024, 5, 20),
        };
        self.t
            .ledger
            .volunteer(&Self::cdc(region), VolunteerInput::Register(input))
            .await
            .unwrap();
        id
    }

    async fn join(&self, region: &str, volunteer: VolunteerId, team: TeamId, on: NaiveDate) {
        let join = VolunteerCommand::JoinTeam(JoinTeam {
            team,
            joined_on: on,
        });
        self.t
            .ledger
            .volunteer(
                &Self::cdc(region),
                VolunteerInput::Other {
                    volunteer,
                    command: join,
                },
            )
            .await
            .unwrap();
    }

    /// `n` new volunteers of `region`, members of `team` from `on`.
    async fn members(
        &mut self,
        region: &str,
        team: TeamId,
        n: usize,
        on: NaiveDate,
    ) -> Vec<VolunteerId> {
        let mut out = Vec::new();
        for _ in 0..n {
            let v = self.volunteer(region).await;
            self.join(region, v, team, on).await;
            out.push(v);
        }
        out
    }

    async fn activity(
        &self,
        region: &str,
        team: TeamId,
        on: NaiveDate,
        who: &[VolunteerId],
    ) -> ActivityId {
        let id = ActivityId(uuid::Uuid::new_v4());
        let details = ActivityDetails {
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
                .map(|v| Participant {
                    volunteer_id: *v,
                    minutes: 90,
                })
                .collect(),
            people_reached: 50,
            media_pieces: 0,
            materials_distributed: 100,
            record: ActivityRecord {
                recorder: Recorder::TeamLeader,
                content: text("结核病防治核心信息宣传"),
                summary: text("宣传"),
                attachments: vec![],
            },
        };
        let record = ActivityCommand::Record(RecordActivity {
            activity: id,
            details,
        });
        self.t
            .ledger
            .activity(&Self::cdc(region), id, record)
            .await
            .unwrap();
        id
    }

    async fn void(&self, region: &str, activity: ActivityId) {
        let void = ActivityCommand::Void(VoidActivity {
            reason: text("重复登记"),
        });
        self.t
            .ledger
            .activity(&Self::cdc(region), activity, void)
            .await
            .unwrap();
    }

    /// Run the coverage projector until it has processed the whole log.
    async fn project(&self) -> Arc<Runner<CoverageProjector>> {
        let r = runner(self.store(), config());
        let target = head(self.store()).await;
        within(DEADLINE, "projector catching up", r.run_until(target))
            .await
            .unwrap();
        r
    }

    async fn coverage(&self, region: &str, on: NaiveDate) -> projections::Coverage {
        coverage(self.store().pool(), code(region), on, A1_PER_100K)
            .await
            .unwrap()
    }
}

// ---- coverage (A1, A2) ------------------------------------------------------------------------------------

#[tokio::test]
async fn a1_county_passes_at_exactly_ten_per_hundred_thousand_and_one_person_below_fails() {
    let mut f = Fixture::new(&["330691"]).await;
    f.population("330691", 2023, 100_000, "合成统计公报2023")
        .await;
    let team = f.team("330691").await;
    let nine = f.members("330691", team, 9, date(2024, 5, 21)).await;
    f.members("330691", team, 1, date(2024, 5, 22)).await;
    // Active count: two take part in 2024; a voided activity of a third does not count.
    f.activity("330691", team, date(2024, 5, 25), &nine[..2])
        .await;
    let voided = f
        .activity("330691", team, date(2024, 5, 26), &[nine[2]])
        .await;
    f.void("330691", voided).await;
    f.project().await;

    // 9 × 100000 < 10 × 100000: one person short.
    let below = f.coverage("330691", date(2024, 5, 21)).await;
    assert_eq!(below.registered_volunteers, 9);
    assert_eq!(below.passes, Some(false));
    assert_eq!(below.shortfall, Some(1));
    assert_eq!(below.per_100k.unwrap().to_string(), "9.00");

    // A2: evaluated at 2024-12-31. 10 × 100000 = 10 × 100000: "以上" includes equality.
    let at = f.coverage("330691", date(2024, 12, 31)).await;
    assert_eq!(at.registered_volunteers, 10);
    assert_eq!(at.passes, Some(true));
    assert_eq!(at.shortfall, Some(0));
    assert_eq!(at.per_100k.unwrap().to_string(), "10.00");
    assert_eq!(
        at.active_volunteers, 2,
        "the voided activity's participant is not active"
    );
    assert_eq!(at.parked_events, 0);
    assert_eq!(
        at.population.as_ref().map(|p| (p.year, p.count)),
        Some((2023, 100_000))
    );
    // The next year starts with nobody active.
    let next_year = f.coverage("330691", date(2025, 1, 1)).await;
    assert_eq!(
        (next_year.registered_volunteers, next_year.active_volunteers),
        (10, 0)
    );
}

#[tokio::test]
async fn a1_a_volunteer_in_two_teams_is_counted_once_and_a_dissolved_team_does_not_count() {
    let mut f = Fixture::new(&["330691"]).await;
    f.population("330691", 2022, 90_000, "合成统计公报2022")
        .await;
    f.population("330691", 2024, 100_000, "合成统计公报2024")
        .await;
    f.population("330600", 2023, 5_394_000, "2023年绍兴市统计公报")
        .await;
    let t1 = f.team("330691").await;
    let t2 = f.team("330691").await;
    let t3 = f.team("330691").await;
    let city_team = f.team("330600").await;
    let joined = date(2024, 5, 21);
    let both = f.members("330691", t1, 1, joined).await[0];
    f.join("330691", both, t2, joined).await;
    let only_t1 = f.members("330691", t1, 1, joined).await[0];
    let only_t3 = f.members("330691", t3, 1, joined).await[0];
    f.dissolve("330691", t3, date(2024, 5, 25)).await;
    // The city's figure: its counties' and its city-level teams', distinct persons.
    let city_only = f.members("330600", city_team, 1, joined).await[0];
    f.join("330600", both, city_team, joined).await;
    f.project().await;

    let before = f.coverage("330691", date(2024, 5, 24)).await;
    assert_eq!(
        before.registered_volunteers, 3,
        "{both}, {only_t1} and {only_t3} while t3 is active"
    );
    let after = f.coverage("330691", date(2024, 12, 31)).await;
    assert_eq!(
        after.registered_volunteers, 2,
        "{both} once, {only_t1}; t3 was dissolved on 2024-05-25"
    );
    let population = after.population.unwrap();
    assert_eq!(
        (
            population.year,
            population.count,
            population.source.as_str()
        ),
        (2024, 100_000, "合成统计公报2024"),
        "the latest year not after 2024"
    );
    let in_2023 = f.coverage("330691", date(2023, 12, 31)).await;
    assert_eq!(in_2023.registered_volunteers, 0);
    assert_eq!(
        in_2023.population.map(|p| (p.year, p.count)),
        Some((2022, 90_000)),
        "2024's figure is not used for 2023"
    );
    assert_eq!(
        f.coverage("330691", date(2021, 12, 31)).await.population,
        None
    );

    let city = f.coverage("330600", date(2024, 12, 31)).await;
    assert_eq!(
        city.registered_volunteers, 3,
        "{both} (county and city team) once, {only_t1}, {city_only}"
    );
    assert_eq!(city.population.map(|p| p.year), Some(2023));
    assert_eq!(city.shortfall, Some(540 - 3));
}

// ---- runtime --------------------------------------------------------------------------------------------

#[tokio::test]
async fn checkpoint_is_exactly_once_across_an_aborted_runner_a_restart_and_a_stale_batch() {
    let mut f = Fixture::new(&["330691"]).await;
    f.population("330691", 2023, 100_000, "合成统计公报2023")
        .await;
    let team = f.team("330691").await;
    f.members("330691", team, 6, date(2024, 5, 21)).await;
    let target = head(f.store()).await;

    // One event per batch, so the abort lands between (or inside) many small transactions.
    let first = runner(
        f.store(),
        RunnerConfig {
            batch_size: 1,
            ..config()
        },
    );
    let task = tokio::spawn({
        let r = first.clone();
        async move { r.run(std::future::pending()).await }
    });
    let mut progress = first.progress();
    within(
        DEADLINE,
        "a few batches",
        progress.wait_for(|p| p.batches_here >= 5),
    )
    .await
    .unwrap();
    task.abort();
    let _ = task.await;
    let stopped_at = first.current().checkpoint;
    assert!(stopped_at < target, "aborted before the end of the log");

    // A new runner resumes from the committed checkpoint; running again changes nothing.
    let second = runner(f.store(), config());
    within(DEADLINE, "restart", second.run_until(target))
        .await
        .unwrap();
    within(DEADLINE, "run again", second.run_until(target))
        .await
        .unwrap();
    assert_eq!(
        rows(f.store(), "SELECT count(*) FROM coverage_memberships").await,
        6
    );
    assert_eq!(
        rows(f.store(), "SELECT count(*) FROM coverage_teams").await,
        1
    );
    assert_eq!(
        f.coverage("330691", date(2024, 6, 1))
            .await
            .registered_volunteers,
        6
    );
    assert_eq!(f.coverage("330691", date(2024, 6, 1)).await.as_of, target);

    // Fencing: a stale leader that still believes the checkpoint is START applies nothing.
    let log = f.store().read_all_after(Token::START, 1000).await.unwrap();
    let outcome = apply_batch(f.store().pool(), &CoverageProjector, Token::START, &log)
        .await
        .unwrap();
    assert_eq!(outcome, BatchOutcome::Fenced { found: target });
    assert_eq!(
        rows(f.store(), "SELECT count(*) FROM coverage_memberships").await,
        6
    );
}

#[tokio::test]
async fn two_runners_on_one_database_exactly_one_applies_and_the_other_takes_over() {
    let mut f = Fixture::new(&["330691"]).await;
    let team = f.team("330691").await;
    f.members("330691", team, 2, date(2024, 5, 21)).await;
    let t1 = head(f.store()).await;

    let a = runner(f.store(), config());
    let a_task = tokio::spawn({
        let r = a.clone();
        async move { r.run(std::future::pending()).await }
    });
    within(DEADLINE, "a catches up", a.wait_for(t1, DEADLINE))
        .await
        .unwrap();
    assert!(a.current().leader);

    let b = runner(f.store(), config());
    let b_task = tokio::spawn({
        let r = b.clone();
        async move { r.run(std::future::pending()).await }
    });
    // The standby sees the leader's checkpoint (it refreshes while polling for the lock) and applies nothing.
    within(DEADLINE, "b sees t1", b.wait_for(t1, DEADLINE))
        .await
        .unwrap();
    f.members("330691", team, 1, date(2024, 5, 21)).await;
    let t2 = head(f.store()).await;
    within(DEADLINE, "a applies t2", a.wait_for(t2, DEADLINE))
        .await
        .unwrap();
    within(DEADLINE, "b sees t2", b.wait_for(t2, DEADLINE))
        .await
        .unwrap();
    let standby = b.current();
    assert!(!standby.leader);
    assert_eq!((standby.applied_here, standby.batches_here), (0, 0));
    assert!(a.current().applied_here > 0);

    // The leader goes away (its lock connection is dropped with it): the standby takes over.
    a_task.abort();
    let _ = a_task.await;
    let mut b_progress = b.progress();
    within(DEADLINE, "b takes over", b_progress.wait_for(|p| p.leader))
        .await
        .unwrap();
    f.members("330691", team, 1, date(2024, 5, 21)).await;
    let t3 = head(f.store()).await;
    within(DEADLINE, "b applies t3", b.wait_for(t3, DEADLINE))
        .await
        .unwrap();
    assert!(b.current().applied_here > 0);
    assert_eq!(
        rows(f.store(), "SELECT count(*) FROM coverage_memberships").await,
        4,
        "every membership once"
    );
    b_task.abort();
    let _ = b_task.await;
}

#[tokio::test]
async fn a_poisoned_event_is_parked_with_its_error_with_the_rest_of_its_stream_and_others_continue()
{
    let mut f = Fixture::new(&["330691"]).await;
    f.population("330691", 2023, 100_000, "合成统计公报2023")
        .await;
    let team = f.team("330691").await;

    // A team stream whose registration does not decode, then a valid-looking later event of it.
    let poisoned = format!("team-{}", uuid::Uuid::new_v4());
    f.store()
        .append(&request(
            &poisoned,
            ExpectedVersion::NoStream,
            vec![event("TeamRegistered", r#"{"team_id":"not-a-uuid"}"#)],
            "poison-1",
        ))
        .await
        .unwrap();
    f.store()
        .append(&request(
            &poisoned,
            ExpectedVersion::Exact(1),
            vec![event(
                "TeamSuspended",
                r#"{"from":"2024-05-02","reason":"整顿"}"#,
            )],
            "poison-2",
        ))
        .await
        .unwrap();
    // Other streams after the poisoned one are still applied.
    f.members("330691", team, 2, date(2024, 5, 21)).await;

    let r = f.project().await;
    assert_eq!(r.current().parked_events, 2);
    let parked: Vec<(String, i64, String, String)> = sqlx::query_as(
        "SELECT stream_id, stream_version, event_type, error FROM projection_parked
         WHERE projector = 'coverage' ORDER BY stream_version",
    )
    .fetch_all(f.store().pool())
    .await
    .unwrap();
    assert_eq!(parked.len(), 2, "{parked:?}");
    assert_eq!(
        (parked[0].0.as_str(), parked[0].1, parked[0].2.as_str()),
        (poisoned.as_str(), 1, "TeamRegistered")
    );
    assert!(parked[0].3.contains("does not decode"), "{}", parked[0].3);
    assert_eq!(
        (parked[1].0.as_str(), parked[1].1, parked[1].2.as_str()),
        (poisoned.as_str(), 2, "TeamSuspended")
    );
    assert!(
        parked[1].3.contains("parked since version 1"),
        "{}",
        parked[1].3
    );

    let c = f.coverage("330691", date(2024, 6, 1)).await;
    assert_eq!(
        c.registered_volunteers, 2,
        "other streams continue past the poisoned one"
    );
    assert_eq!(c.parked_events, 2, "the answer says events are parked");
    assert_eq!(c.as_of, head(f.store()).await);

    // A later event of the parked stream is parked too, also in a later batch and by another runner.
    f.store()
        .append(&request(
            &poisoned,
            ExpectedVersion::Exact(2),
            vec![event("TeamReinstated", r#"{"on":"2024-05-03"}"#)],
            "poison-3",
        ))
        .await
        .unwrap();
    let r = f.project().await;
    assert_eq!(r.current().parked_events, 3);
    assert_eq!(
        projections::parked_count(f.store().pool(), "coverage")
            .await
            .unwrap(),
        3
    );
}

#[tokio::test]
async fn a_leaders_lock_connection_lets_the_server_drop_a_dead_host_within_seconds() {
    let (store, _db) = crate::support::store().await;
    let mut conn = store.leader_connection().await.unwrap();
    let (over_tcp, idle, interval, count): (bool, String, String, String) = sqlx::query_as(
        "SELECT inet_server_addr() IS NOT NULL, current_setting('tcp_keepalives_idle'), \
         current_setting('tcp_keepalives_interval'), current_setting('tcp_keepalives_count')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(over_tcp, "the test clusters are reached over TCP");
    assert_eq!(
        (idle.as_str(), interval.as_str(), count.as_str()),
        ("10", "5", "3")
    );
}

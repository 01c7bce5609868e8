//! Read models of #5 beyond coverage, with fixtures built through the application layer: compliance
//! (A3 relevant departments, A4 mandatory hosts, A5 team frequency, A6 volunteer frequency), activity
//! frequency and reach (A13, A17) and the annual-summary board (A16).

use std::sync::Arc;
use std::time::Duration;

use app::{RegisterVolunteerInput, Role, VolunteerInput};
use chrono::{DateTime, NaiveDate, Utc};
use domain::activity::{
    ActivityCommand, ActivityDetails, ActivityKind, ActivityRecord, CorrectActivity, KeyDay,
    Participant, RecordActivity, Recorder, VoidActivity,
};
use domain::campaign::{Campaign, CampaignCommand, CampaignEvent, DefineCampaign, RuleSet};
use domain::host_unit::{HostUnitCommand, HostUnitKind, PilotLevel, RegisterHostUnit};
use domain::identity::DocumentKind;
use domain::ids::{ActivityId, CampaignId, HostUnitId, RegionCode, Sealed, TeamId, VolunteerId};
use domain::summary::{
    AcceptSummary, ApproveSummary, CountyYear, DraftSummary, ReturnSummary, ReturnToCounty,
    ReviseSummary, SubmitForApproval, SubmitToCity, SummaryCommand, SummarySections, SummaryStatus,
};
use domain::team::{DissolveTeam, RegisterTeam, TeamCommand, TeamLevel, TeamProfile};
use domain::volunteer::{Attestation, JoinTeam, ReserveTier, VolunteerCommand};
use domain::{Aggregate, DomainEvent};
use eventstore::EventStore;
use projections::{
    BoardRow, Compliance, ComplianceProjector, Figures, Frequency, FrequencyGrouping,
    FrequencyProjector, Projector, Runner, RunnerConfig, SummaryBoard, SummaryBoardProjector,
    Timeliness, compliance, frequency, missing_summaries, summary_board,
};

use crate::support::{
    TestLedger, at, code, ctx, date, head, ledger, person, resident_id, text, within,
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

/// Activity details of `team` on `on` with `who` (volunteer, minutes); the A17 figures are set by callers.
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
        people_reached: 0,
        media_pieces: 0,
        materials_distributed: 0,
        record: ActivityRecord {
            recorder: Recorder::TeamLeader,
            content: text("结核病防治核心信息宣传"),
            summary: text("宣传"),
            attachments: vec![],
        },
    }
}

/// A campaign fixture built from commands.
struct Fixture {
    t: TestLedger,
    campaign: CampaignId,
    next_person: u32,
}

impl Fixture {
    /// 浙江省 → 绍兴市 and the given counties of 绍兴市.
    async fn new(counties: &[&str]) -> Self {
        let campaign = CampaignId(uuid::Uuid::new_v4());
        let t = ledger(campaign).await;
        crate::support::define_regions(&t.ledger, counties).await;
        Self {
            t,
            campaign,
            next_person: 0,
        }
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

    /// 百千万 (2023-12-01..=2025-03-31) with its default rules, defined by the city CDC.
    async fn define_campaign(&self, rules: RuleSet) {
        let define = CampaignCommand::Define(DefineCampaign {
            campaign: self.campaign,
            name: text("绍兴市“百千万”结核病防治志愿服务活动"),
            city: code("330600"),
            window_start: date(2023, 12, 1),
            window_end: date(2025, 3, 31),
            rules,
        });
        self.t
            .ledger
            .campaign_command(&Self::cdc("330600"), self.campaign, define)
            .await
            .unwrap();
    }

    /// The campaign as its stream says (what the caller of the board passes).
    async fn campaign(&self) -> Campaign {
        let stream = Campaign::stream_id(&self.campaign.to_string());
        let events: Vec<CampaignEvent> = self
            .store()
            .read_stream(&stream)
            .await
            .unwrap()
            .iter()
            .map(|e| {
                CampaignEvent::from_payload(&e.event_type, e.schema_version, &e.payload).unwrap()
            })
            .collect();
        Campaign::replay(&events)
    }

    async fn host_unit(&self, region: &str, kind: HostUnitKind) -> HostUnitId {
        let host = HostUnitId(uuid::Uuid::new_v4());
        let register = HostUnitCommand::Register(RegisterHostUnit {
            host_unit: host,
            kind,
            name: text(&format!("{region}依托单位")),
            region: code(region),
        });
        self.t
            .ledger
            .host_unit(&Self::cdc(region), host, register, None)
            .await
            .unwrap();
        host
    }

    /// A team of `region` hosted by `host`, registered on 2024-01-10.
    async fn team_of(&self, region: &str, host: HostUnitId) -> TeamId {
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
            registered_on: date(2024, 1, 10),
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

    /// A team of `region` on a CDC host unit of its own.
    async fn team(&self, region: &str) -> TeamId {
        let host = self.host_unit(region, HostUnitKind::Cdc).await;
        self.team_of(region, host).await
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

    /// A volunteer registered by `region`'s CDC on 2024-01-15.
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
            registered_on: date(2024, 1, 15),
        };
        self.t
            .ledger
            .volunteer(&Self::cdc(region), VolunteerInput::Register(input))
            .await
            .unwrap();
        id
    }

    async fn join(&self, region: &str, volunteer: VolunteerId, team: TeamId) {
        let join = VolunteerCommand::JoinTeam(JoinTeam {
            team,
            joined_on: date(2024, 1, 20),
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

    /// A new volunteer of `region`, member of `team` from 2024-01-20.
    async fn member(&mut self, region: &str, team: TeamId) -> VolunteerId {
        let v = self.volunteer(region).await;
        self.join(region, v, team).await;
        v
    }

    async fn record(&self, region: &str, details: ActivityDetails) -> ActivityId {
        let id = ActivityId(uuid::Uuid::new_v4());
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

    /// A knowledge-publicity activity of `team` on `on`, 90 minutes for each of `who`.
    async fn activity(
        &self,
        region: &str,
        team: TeamId,
        on: NaiveDate,
        who: &[VolunteerId],
    ) -> ActivityId {
        let who: Vec<(VolunteerId, u32)> = who.iter().map(|v| (*v, 90)).collect();
        self.record(region, details(team, on, &who)).await
    }

    async fn correct(&self, region: &str, activity: ActivityId, details: ActivityDetails) {
        let correct = ActivityCommand::Correct(CorrectActivity {
            details,
            reason: text("更正参与人数和覆盖人数"),
        });
        self.t
            .ledger
            .activity(&Self::cdc(region), activity, correct)
            .await
            .unwrap();
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

    /// Run `projector` until it has processed the whole log; it must have parked nothing.
    async fn project<P: Projector>(&self, projector: P) {
        let r = Runner::new(self.store().clone(), Arc::new(projector), config());
        let target = head(self.store()).await;
        let progress = within(DEADLINE, "projector catching up", r.run_until(target))
            .await
            .unwrap();
        assert_eq!(progress.checkpoint, target);
        assert_eq!(progress.parked_events, 0, "{} parked events", r.id());
    }

    async fn compliance(&self, region: &str, on: NaiveDate, rules: &RuleSet) -> Compliance {
        self.project(ComplianceProjector).await;
        let c = compliance(self.store().pool(), code(region), on, rules)
            .await
            .unwrap();
        assert_eq!(c.parked_events, 0);
        assert_eq!(c.as_of, head(self.store()).await);
        c
    }

    async fn frequency(
        &self,
        region: &str,
        from: NaiveDate,
        to: NaiveDate,
        grouping: FrequencyGrouping,
    ) -> Frequency {
        let f = frequency(self.store().pool(), code(region), from, to, grouping)
            .await
            .unwrap();
        assert_eq!(f.parked_events, 0);
        assert_eq!(f.as_of, head(self.store()).await);
        f
    }

    async fn summary(&self, role: Role, region: &str, command: SummaryCommand) {
        self.t
            .ledger
            .summary(&ctx(role, &[region], &[]), command)
            .await
            .unwrap();
    }

    async fn board(&self, year: i32, now: DateTime<Utc>) -> SummaryBoard {
        self.project(SummaryBoardProjector).await;
        let b = summary_board(self.store().pool(), &self.campaign().await, year, now)
            .await
            .unwrap();
        assert_eq!(b.parked_events, 0);
        assert_eq!(b.as_of, head(self.store()).await);
        b
    }

    async fn row(&self, county: &str, year: i32, now: DateTime<Utc>) -> BoardRow {
        let board = self.board(year, now).await;
        board
            .rows
            .into_iter()
            .find(|r| r.county == code(county))
            .unwrap_or_else(|| panic!("no row for {county}"))
    }
}

fn rules() -> RuleSet {
    RuleSet::baiqianwan(vec![])
}

// ---- compliance: A5 teams --------------------------------------------------------------------------------

#[tokio::test]
async fn a5_team_without_activity_in_year_is_listed_and_a_voided_activity_does_not_count() {
    let mut f = Fixture::new(&["330691"]).await;
    let idle = f.team("330691").await;
    let only_voided = f.team("330691").await;
    let v = f.member("330691", only_voided).await;
    let voided = f
        .activity("330691", only_voided, date(2024, 5, 12), &[v])
        .await;
    f.void("330691", voided).await;

    let c = f.compliance("330691", date(2024, 12, 31), &rules()).await;
    assert_eq!((c.year, c.teams_checked), (2024, 2));
    let listed: Vec<TeamId> = c.teams_below_minimum.iter().map(|t| t.team).collect();
    let mut expected = vec![idle, only_voided];
    expected.sort();
    assert_eq!(listed, expected, "both teams fall short of A5");
    let row = c
        .teams_below_minimum
        .iter()
        .find(|t| t.team == only_voided)
        .unwrap();
    assert!(
        row.activities.is_empty(),
        "the voided activity does not count"
    );
    assert_eq!(row.voided, vec![voided], "the row names what did not count");
    assert_eq!(row.region, code("330691"));
    // The city's answer covers its counties' teams.
    let city = f.compliance("330600", date(2024, 12, 31), &rules()).await;
    assert_eq!(city.teams_below_minimum.len(), 2);
}

#[tokio::test]
async fn a5_team_with_exactly_one_activity_in_year_is_not_listed_and_the_next_year_starts_at_zero()
{
    let mut f = Fixture::new(&["330691"]).await;
    let one = f.team("330691").await;
    let v = f.member("330691", one).await;
    let counted = f.activity("330691", one, date(2024, 5, 12), &[v]).await;

    let c = f.compliance("330691", date(2024, 12, 31), &rules()).await;
    assert_eq!(c.teams_checked, 1);
    assert!(
        c.teams_below_minimum.is_empty(),
        "one activity meets A5's minimum of 1: {:?}",
        c.teams_below_minimum
    );
    // Evaluated before the activity's date, the team has none yet.
    let before = f.compliance("330691", date(2024, 5, 11), &rules()).await;
    assert_eq!(before.teams_below_minimum.len(), 1);
    // 2024's activity does not count for 2025.
    let next = f.compliance("330691", date(2025, 12, 31), &rules()).await;
    assert_eq!(next.year, 2025);
    assert_eq!(
        next.teams_below_minimum
            .iter()
            .map(|t| (t.team, t.activities.len()))
            .collect::<Vec<_>>(),
        vec![(one, 0)]
    );
    assert!(!next.teams_below_minimum[0].activities.contains(&counted));
}

// ---- compliance: A6 volunteers ---------------------------------------------------------------------------

#[tokio::test]
async fn a6_volunteer_with_one_participation_is_listed_two_is_not() {
    let mut f = Fixture::new(&["330691", "330692"]).await;
    let team = f.team("330691").await;
    let other_county_team = f.team("330692").await;
    let once = f.member("330691", team).await;
    let twice = f.member("330691", team).await;
    let never = f.member("330691", team).await;
    // A6 is per person: an activity of a team of another county counts too.
    let across = f.member("330691", team).await;
    f.join("330600", across, other_county_team).await;

    let first = f
        .activity("330691", team, date(2024, 3, 24), &[once, twice, across])
        .await;
    // Recorded with `once` too, then corrected: the correction's participants replace the first list.
    let second = f
        .activity("330691", team, date(2024, 5, 12), &[once, twice])
        .await;
    f.correct(
        "330691",
        second,
        details(team, date(2024, 5, 12), &[(twice, 90)]),
    )
    .await;
    f.activity("330692", other_county_team, date(2024, 5, 13), &[across])
        .await;
    // A voided second activity does not lift `once` to two.
    let voided = f.activity("330691", team, date(2024, 5, 14), &[once]).await;
    f.void("330691", voided).await;

    let c = f.compliance("330691", date(2024, 12, 31), &rules()).await;
    assert_eq!(c.volunteers_checked, 4);
    let mut listed: Vec<(VolunteerId, Vec<ActivityId>)> = c
        .volunteers_below_minimum
        .iter()
        .map(|v| (v.volunteer, v.activities.clone()))
        .collect();
    listed.sort();
    let mut expected = vec![(once, vec![first]), (never, vec![])];
    expected.sort();
    assert_eq!(
        listed, expected,
        "one participation is listed with the activity that counted; two are not"
    );
    let row = &c.volunteers_below_minimum[0];
    assert_eq!(row.teams, vec![team]);
}

// ---- compliance: A3 relevant departments, A4 mandatory hosts ----------------------------------------------

#[tokio::test]
async fn a4_mandatory_host_without_team_is_listed() {
    let f = Fixture::new(&["330691"]).await;
    let hospital_without = f
        .host_unit("330691", HostUnitKind::DesignatedTbHospital)
        .await;
    let hospital_with = f
        .host_unit("330691", HostUnitKind::DesignatedTbHospital)
        .await;
    f.team_of("330691", hospital_with).await;
    let hospital_dissolved = f
        .host_unit("330691", HostUnitKind::DesignatedTbHospital)
        .await;
    let gone = f.team_of("330691", hospital_dissolved).await;
    f.dissolve("330691", gone, date(2024, 5, 10)).await;
    let city_pilot = f
        .host_unit(
            "330600",
            HostUnitKind::TbFreeCommunityPilot(PilotLevel::City),
        )
        .await;
    // A county-level pilot and a school need no team under the 百千万 rules.
    f.host_unit(
        "330691",
        HostUnitKind::TbFreeCommunityPilot(PilotLevel::County),
    )
    .await;
    f.host_unit("330691", HostUnitKind::School).await;

    let c = f.compliance("330600", date(2024, 12, 31), &rules()).await;
    let mut listed: Vec<(HostUnitId, &str, Vec<TeamId>)> = c
        .hosts_without_team
        .iter()
        .map(|h| (h.host_unit, h.rule.0, h.teams_not_active.clone()))
        .collect();
    listed.sort();
    let mut expected = vec![
        (hospital_without, "A4", vec![]),
        (hospital_dissolved, "A4", vec![gone]),
        (city_pilot, "A4", vec![]),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    // Before its dissolution the team counted for its hospital.
    let earlier = f.compliance("330691", date(2024, 5, 9), &rules()).await;
    assert!(
        earlier
            .hosts_without_team
            .iter()
            .all(|h| h.host_unit != hospital_dissolved)
    );
    assert_eq!(
        earlier.hosts_without_team.len(),
        1,
        "the city-level pilot is outside the county"
    );
}

#[tokio::test]
async fn a3_relevant_department_without_team_is_listed() {
    let f = Fixture::new(&["330691"]).await;
    let without = f
        .host_unit("330600", HostUnitKind::GovernmentDepartment)
        .await;
    let with = f
        .host_unit("330600", HostUnitKind::GovernmentDepartment)
        .await;
    f.team_of("330600", with).await;
    // A department the campaign does not name is not owed a team.
    f.host_unit("330600", HostUnitKind::GovernmentDepartment)
        .await;
    let rules = RuleSet::baiqianwan(vec![without, with]);
    f.define_campaign(rules.clone()).await;
    let campaign = f.campaign().await;
    let in_force = &campaign.rules_on(date(2024, 12, 31)).unwrap().rules;
    assert_eq!(in_force, &rules);

    let c = f.compliance("330600", date(2024, 12, 31), in_force).await;
    assert_eq!(
        c.hosts_without_team
            .iter()
            .map(|h| (h.host_unit, h.rule.0, h.kind))
            .collect::<Vec<_>>(),
        vec![(without, "A3", HostUnitKind::GovernmentDepartment)]
    );
}

#[tokio::test]
async fn a3_the_city_lists_a_relevant_department_registered_outside_it_and_a_county_only_its_own() {
    let f = Fixture::new(&["330691"]).await;
    let provincial = f
        .host_unit("330000", HostUnitKind::GovernmentDepartment)
        .await;
    let in_county = f
        .host_unit("330691", HostUnitKind::GovernmentDepartment)
        .await;
    // A provincial department the campaign does not name is nobody's to list.
    f.host_unit("330000", HostUnitKind::GovernmentDepartment)
        .await;
    let rules = RuleSet::baiqianwan(vec![provincial, in_county]);
    f.define_campaign(rules).await;
    let campaign = f.campaign().await;
    let in_force = &campaign.rules_on(date(2024, 12, 31)).unwrap().rules;
    let a3 = |c: &Compliance| {
        let mut listed: Vec<(HostUnitId, String)> = c
            .hosts_without_team
            .iter()
            .filter(|h| h.rule.0 == "A3")
            .map(|h| (h.host_unit, h.region.to_string()))
            .collect();
        listed.sort();
        listed
    };
    let mut both = vec![
        (provincial, "330000".to_owned()),
        (in_county, "330691".to_owned()),
    ];
    both.sort();

    let city = f.compliance("330600", date(2024, 12, 31), in_force).await;
    assert_eq!(
        a3(&city),
        both,
        "the city answers for every named department"
    );
    let county = f.compliance("330691", date(2024, 12, 31), in_force).await;
    assert_eq!(
        a3(&county),
        vec![(in_county, "330691".to_owned())],
        "a county answers for its own"
    );
    // Once the county's department hosts an active team, neither lists it. (The provincial one can host
    // no team of the city: a team is registered within its host unit's city.)
    f.team_of("330691", in_county).await;
    let later = f.compliance("330600", date(2024, 12, 31), in_force).await;
    assert_eq!(a3(&later), vec![(provincial, "330000".to_owned())]);
    let county = f.compliance("330691", date(2024, 12, 31), in_force).await;
    assert_eq!(a3(&county), vec![]);
}

// ---- activity frequency and reach (A13, A17) ------------------------------------------------------------

#[tokio::test]
async fn a17_frequency_counts_minutes_and_reach_and_correction_replaces_figures() {
    let mut f = Fixture::new(&["330691", "330692"]).await;
    let t1 = f.team("330691").await;
    let t2 = f.team("330692").await;
    let a = f.member("330691", t1).await;
    let b = f.member("330691", t1).await;
    let c = f.member("330692", t2).await;

    let mut tb_day = details(t1, date(2024, 3, 24), &[(a, 60), (b, 90)]);
    tb_day.kind = ActivityKind::KeyDayCampaign;
    tb_day.key_day = Some(KeyDay::WorldTbDay);
    (
        tb_day.people_reached,
        tb_day.media_pieces,
        tb_day.materials_distributed,
    ) = (300, 2, 500);
    f.record("330691", tb_day).await;

    let mut no_tobacco = details(t1, date(2024, 5, 31), &[(a, 120)]);
    no_tobacco.kind = ActivityKind::KeyDayCampaign;
    no_tobacco.key_day = Some(KeyDay::WorldNoTobaccoDay);
    (no_tobacco.people_reached, no_tobacco.media_pieces) = (100, 1);
    f.record("330691", no_tobacco).await;

    let mut publicity = details(t1, date(2024, 5, 10), &[(a, 30), (b, 30)]);
    (publicity.people_reached, publicity.materials_distributed) = (50, 40);
    let corrected = f.record("330691", publicity).await;

    let mut voided = details(t2, date(2024, 5, 12), &[(c, 60)]);
    voided.people_reached = 1000;
    let voided = f.record("330692", voided).await;
    f.void("330692", voided).await;

    let mut care = details(t2, date(2024, 5, 13), &[(c, 15)]);
    care.kind = ActivityKind::PatientCare;
    (care.people_reached, care.media_pieces) = (20, 1);
    f.record("330692", care).await;

    let year = (date(2024, 1, 1), date(2024, 12, 31));
    f.project(FrequencyProjector).await;
    let by_month = FrequencyGrouping {
        month: true,
        ..FrequencyGrouping::TOTALS
    };
    let before = f.frequency("330691", year.0, year.1, by_month).await;
    assert_eq!(
        before
            .rows
            .iter()
            .map(|r| (
                r.month.unwrap(),
                r.figures.activities,
                r.figures.volunteer_minutes
            ))
            .collect::<Vec<_>>(),
        vec![(date(2024, 3, 1), 1, 150), (date(2024, 5, 1), 2, 180)]
    );

    // The correction moves the activity to April, one participant, more reach: its figures are replaced.
    let mut fixed = details(t1, date(2024, 4, 12), &[(a, 45)]);
    fixed.kind = ActivityKind::PatientCare;
    (
        fixed.people_reached,
        fixed.media_pieces,
        fixed.materials_distributed,
    ) = (80, 3, 40);
    f.correct("330691", corrected, fixed).await;
    f.project(FrequencyProjector).await;

    // City totals: the voided activity stopped counting.
    let totals = f
        .frequency("330600", year.0, year.1, FrequencyGrouping::TOTALS)
        .await;
    assert_eq!(totals.rows.len(), 1);
    assert_eq!(
        totals.rows[0].figures,
        Figures {
            activities: 4,
            participations: 2 + 1 + 1 + 1,
            volunteer_minutes: 150 + 120 + 45 + 15,
            people_reached: 300 + 100 + 80 + 20,
            media_pieces: 2 + 1 + 3 + 1,
            materials_distributed: 500 + 40,
        }
    );

    let after = f.frequency("330691", year.0, year.1, by_month).await;
    assert_eq!(
        after
            .rows
            .iter()
            .map(|r| (
                r.month.unwrap(),
                r.figures.activities,
                r.figures.volunteer_minutes
            ))
            .collect::<Vec<_>>(),
        vec![
            (date(2024, 3, 1), 1, 150),
            (date(2024, 4, 1), 1, 45),
            (date(2024, 5, 1), 1, 120),
        ]
    );

    // A13: by kind and by key day (None: activities without a key-day tag).
    let by_kind = f
        .frequency(
            "330600",
            year.0,
            year.1,
            FrequencyGrouping {
                kind: true,
                ..FrequencyGrouping::TOTALS
            },
        )
        .await;
    let mut kinds: Vec<(ActivityKind, u64, u64)> = by_kind
        .rows
        .iter()
        .map(|r| {
            (
                r.kind.unwrap(),
                r.figures.activities,
                r.figures.people_reached,
            )
        })
        .collect();
    kinds.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(
        kinds,
        vec![
            (ActivityKind::KeyDayCampaign, 2, 400),
            (ActivityKind::PatientCare, 2, 100),
        ]
    );
    let by_key_day = f
        .frequency(
            "330691",
            year.0,
            year.1,
            FrequencyGrouping {
                key_day: true,
                ..FrequencyGrouping::TOTALS
            },
        )
        .await;
    let mut key_days: Vec<(Option<KeyDay>, u64, u64)> = by_key_day
        .rows
        .iter()
        .map(|r| (r.key_day, r.figures.activities, r.figures.media_pieces))
        .collect();
    key_days.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(
        key_days,
        vec![
            (None, 1, 3),
            (Some(KeyDay::WorldNoTobaccoDay), 1, 1),
            (Some(KeyDay::WorldTbDay), 1, 2),
        ]
    );

    // Per county and per team, and a date range that holds only the corrected activity.
    let by_region = f
        .frequency(
            "330600",
            year.0,
            year.1,
            FrequencyGrouping {
                region: true,
                team: true,
                ..FrequencyGrouping::TOTALS
            },
        )
        .await;
    let mut regions: Vec<(TeamId, RegionCode, u64, u64)> = by_region
        .rows
        .iter()
        .map(|r| {
            (
                r.team.unwrap(),
                r.region.unwrap(),
                r.figures.activities,
                r.figures.participations,
            )
        })
        .collect();
    regions.sort();
    let mut expected = vec![(t1, code("330691"), 3, 4), (t2, code("330692"), 1, 1)];
    expected.sort();
    assert_eq!(regions, expected);
    let april = f
        .frequency(
            "330691",
            date(2024, 4, 1),
            date(2024, 4, 30),
            FrequencyGrouping::TOTALS,
        )
        .await;
    assert_eq!(
        april.rows.iter().map(|r| r.figures).collect::<Vec<_>>(),
        vec![Figures {
            activities: 1,
            participations: 1,
            volunteer_minutes: 45,
            people_reached: 80,
            media_pieces: 3,
            materials_distributed: 40,
        }]
    );
}

// ---- annual-summary board (A16) --------------------------------------------------------------------------

fn key(county: &str, year: i32) -> CountyYear {
    CountyYear::new("summary", code(county), year).unwrap()
}

fn sections(activities: &str) -> SummarySections {
    SummarySections {
        team_buildup: text("建立志愿服务队伍12支，志愿者130人"),
        support: text("经费5万元，工作计划已印发"),
        activities: text(activities),
        effect: text("核心知识知晓率提升"),
    }
}

impl Fixture {
    async fn draft(&self, county: &str, year: i32) {
        let draft = SummaryCommand::Draft(DraftSummary {
            summary: key(county, year),
            sections: sections("开展活动36次"),
            typical_cases: vec![],
        });
        self.summary(Role::CountyCdc, county, draft).await;
    }

    async fn submit_for_approval(&self, county: &str, year: i32) {
        let submit = SummaryCommand::SubmitForApproval(SubmitForApproval {
            summary: key(county, year),
        });
        self.summary(Role::CountyCdc, county, submit).await;
    }

    async fn approve(&self, county: &str, year: i32) {
        let approve = SummaryCommand::Approve(ApproveSummary {
            summary: key(county, year),
        });
        self.summary(Role::HealthBureauApprover, county, approve)
            .await;
    }

    async fn revise(&self, county: &str, year: i32) {
        let revise = SummaryCommand::Revise(ReviseSummary {
            summary: key(county, year),
            sections: sections("开展活动38次（补充2次）"),
            typical_cases: vec![],
        });
        self.summary(Role::CountyCdc, county, revise).await;
    }

    async fn submit_to_city(&self, county: &str, year: i32, at_time: DateTime<Utc>) {
        self.t.clock.set(at_time);
        let submit = SummaryCommand::SubmitToCity(SubmitToCity {
            summary: key(county, year),
        });
        self.summary(Role::CountyCdc, county, submit).await;
    }

    async fn approved(&self, county: &str, year: i32) {
        self.draft(county, year).await;
        self.submit_for_approval(county, year).await;
        self.approve(county, year).await;
    }
}

#[tokio::test]
async fn a16_summary_submitted_2359_on_5_january_is_on_time() {
    let f = Fixture::new(&["330602"]).await;
    f.define_campaign(rules()).await;
    f.approved("330602", 2024).await;
    let received = at("2025-01-05T23:59:00+08:00");
    f.submit_to_city("330602", 2024, received).await;

    let now = at("2025-01-06T00:01:00+08:00");
    let row = f.row("330602", 2024, now).await;
    assert_eq!(row.status, SummaryStatus::SubmittedToCity);
    assert_eq!(
        row.timeliness,
        Timeliness::OnTime {
            received_at: received
        }
    );
    let first = row.first_submission.unwrap();
    assert_eq!(
        (first.received_at, first.deadline, first.on_time),
        (received, at("2025-01-05T16:00:00Z"), true)
    );
    assert_eq!(row.submissions_to_city, 1);
    let board = f.board(2024, now).await;
    assert_eq!(board.deadline, Some(at("2025-01-06T00:00:00+08:00")));
    assert!(
        missing_summaries(f.store().pool(), &f.campaign().await, 2024, now)
            .await
            .unwrap()
            .rows
            .is_empty()
    );
}

#[tokio::test]
async fn a16_summary_submitted_0001_on_6_january_is_late() {
    let f = Fixture::new(&["330602", "330603"]).await;
    f.define_campaign(rules()).await;
    f.approved("330602", 2024).await;
    f.approved("330603", 2024).await;
    // Judged just before the submission arrives: missing.
    let just_after_deadline = at("2025-01-06T00:00:00+08:00");
    let row = f.row("330602", 2024, just_after_deadline).await;
    assert_eq!(
        (row.status, row.timeliness),
        (SummaryStatus::Approved, Timeliness::Missing)
    );

    let received = at("2025-01-06T00:01:00+08:00");
    f.submit_to_city("330602", 2024, received).await;
    let row = f.row("330602", 2024, at("2025-01-07T09:00:00+08:00")).await;
    assert_eq!(row.status, SummaryStatus::SubmittedToCity);
    assert_eq!(
        row.timeliness,
        Timeliness::Late {
            received_at: received
        },
        "a late submission is flagged late with its timestamp"
    );
    assert_eq!(row.first_submission.map(|s| s.on_time), Some(false));
    // The deadline is exclusive: 00:00:00 on 6 January is already late.
    let midnight = at("2025-01-06T00:00:00+08:00");
    f.submit_to_city("330603", 2024, midnight).await;
    assert_eq!(
        f.row("330603", 2024, midnight).await.timeliness,
        Timeliness::Late {
            received_at: midnight
        }
    );
    assert!(
        missing_summaries(
            f.store().pool(),
            &f.campaign().await,
            2024,
            at("2025-01-07T09:00:00+08:00")
        )
        .await
        .unwrap()
        .rows
        .is_empty(),
        "late is not missing"
    );
}

#[tokio::test]
async fn a16_board_follows_the_workflow_and_lists_missing_summaries_after_the_deadline() {
    let f = Fixture::new(&["330602", "330603", "330604"]).await;
    f.define_campaign(rules()).await;
    let early = at("2024-06-01T10:00:00+08:00");
    let status = |row: BoardRow| (row.status, row.revision, row.timeliness);

    // Not started: every county of the city is on the board.
    let board = f.board(2024, early).await;
    assert_eq!(
        board.rows.iter().map(|r| r.county).collect::<Vec<_>>(),
        vec![code("330602"), code("330603"), code("330604")]
    );
    assert!(
        board
            .rows
            .iter()
            .all(|r| (r.status, r.timeliness, r.last_event_at)
                == (SummaryStatus::NotDrafted, Timeliness::NotDue, None))
    );
    assert!(!board.rows[0].partial_year);
    // 2023 and 2025 are partial years of the window (A14).
    assert!(
        f.board(2023, early)
            .await
            .rows
            .iter()
            .all(|r| r.partial_year)
    );

    f.draft("330602", 2024).await;
    assert_eq!(
        status(f.row("330602", 2024, early).await),
        (SummaryStatus::Draft, 1, Timeliness::NotDue)
    );
    f.submit_for_approval("330602", 2024).await;
    assert_eq!(
        f.row("330602", 2024, early).await.status,
        SummaryStatus::AwaitingApproval
    );
    let bureau_return = SummaryCommand::Return(ReturnSummary {
        summary: key("330602", 2024),
        reason: text("请补充经费使用情况"),
    });
    f.summary(Role::HealthBureauApprover, "330602", bureau_return)
        .await;
    assert_eq!(
        f.row("330602", 2024, early).await.status,
        SummaryStatus::ReturnedByBureau
    );
    f.revise("330602", 2024).await;
    assert_eq!(
        status(f.row("330602", 2024, early).await),
        (SummaryStatus::Draft, 2, Timeliness::NotDue)
    );
    f.submit_for_approval("330602", 2024).await;
    f.approve("330602", 2024).await;
    assert_eq!(
        f.row("330602", 2024, early).await.status,
        SummaryStatus::Approved
    );
    let on_time = at("2025-01-03T10:00:00+08:00");
    f.submit_to_city("330602", 2024, on_time).await;
    let city_return = SummaryCommand::ReturnToCounty(ReturnToCounty {
        summary: key("330602", 2024),
        reason: text("典型案例不足"),
    });
    f.summary(Role::CityCdc, "330600", city_return).await;
    assert_eq!(
        f.row("330602", 2024, on_time).await.status,
        SummaryStatus::ReturnedByCity
    );
    // 330603 drafts but never submits; 330604 never starts.
    f.draft("330603", 2024).await;

    // Before the deadline nothing is missing; from the deadline instant on, the two unsubmitted are.
    let campaign = f.campaign().await;
    f.project(SummaryBoardProjector).await;
    let before = missing_summaries(
        f.store().pool(),
        &campaign,
        2024,
        at("2025-01-05T15:59:59Z"),
    )
    .await
    .unwrap();
    assert!(before.rows.is_empty(), "{:?}", before.rows);
    let missing = missing_summaries(
        f.store().pool(),
        &campaign,
        2024,
        at("2025-01-05T16:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(
        missing
            .rows
            .iter()
            .map(|r| (r.county, r.status))
            .collect::<Vec<_>>(),
        vec![
            (code("330603"), SummaryStatus::Draft),
            (code("330604"), SummaryStatus::NotDrafted),
        ]
    );

    // Resubmitted late after the city's return: timeliness stays the first submission's.
    f.revise("330602", 2024).await;
    f.submit_for_approval("330602", 2024).await;
    f.approve("330602", 2024).await;
    let resubmitted = at("2025-01-10T10:00:00+08:00");
    f.submit_to_city("330602", 2024, resubmitted).await;
    let accept = SummaryCommand::Accept(AcceptSummary {
        summary: key("330602", 2024),
    });
    f.summary(Role::CityCdc, "330600", accept).await;
    let row = f.row("330602", 2024, resubmitted).await;
    assert_eq!(
        (
            row.status,
            row.revision,
            row.submissions_to_city,
            row.timeliness,
            row.last_submitted_at,
        ),
        (
            SummaryStatus::Accepted,
            3,
            2,
            Timeliness::OnTime {
                received_at: on_time
            },
            Some(resubmitted),
        )
    );
    assert_eq!(row.last_event_at, Some(resubmitted));
}

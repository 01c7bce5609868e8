//! Rebuilding read models into a shadow table set and swapping them in with no downtime (#5): a rebuild
//! from scratch equals the incrementally built model (digests), writes during a rebuild are not lost, and
//! the service role and a live runner carry on after the swap. Fixtures go through the application layer.

use std::sync::Arc;
use std::time::Duration;

use app::{RegisterVolunteerInput, Role, VolunteerInput};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::activity::{
    ActivityCommand, ActivityDetails, ActivityKind, ActivityRecord, CorrectActivity, Participant,
    RecordActivity, Recorder, VoidActivity,
};
use domain::campaign::{CampaignCommand, DefineCampaign, RuleSet};
use domain::host_unit::{HostUnitCommand, HostUnitKind, RegisterHostUnit};
use domain::identity::DocumentKind;
use domain::ids::{ActivityId, CampaignId, HostUnitId, Sealed, TeamId, VolunteerId};
use domain::region::{RecordResidentPopulation, RegionCommand};
use domain::summary::{
    ApproveSummary, CountyYear, DraftSummary, SubmitForApproval, SubmitToCity, SummaryCommand,
    SummarySections,
};
use domain::team::{RegisterTeam, TeamCommand, TeamLevel, TeamProfile};
use domain::volunteer::{Attestation, JoinTeam, ReserveTier, VolunteerCommand};
use eventstore::RecordedEvent;
use eventstore::{EventStore, StoreConfig};
use pg_harness::{Cluster, TestDb};
use projections::rebuild::{Digest, RebuildOptions, digest, feed, rebuild, rebuild_from};
use projections::replay::{READ_MODELS, ReadModel, rebuild_all};
use projections::{
    A1_PER_100K, ApplyError, ComplianceProjector, CoverageProjector, FrequencyProjector, Projector,
    Runner, RunnerConfig, SummaryBoardProjector, coverage,
};
use sqlx::PgConnection;
use tokio::sync::watch;

use crate::support::{
    TEST_HASH_KEY, TEST_MASTER_KEY, TestClock, at, code, ctx, date, head, person, resident_id,
    text, within,
};

const DEADLINE: Duration = Duration::from_secs(30);

fn config() -> RunnerConfig {
    RunnerConfig {
        batch_size: 7,
        lease_retry: Duration::from_millis(20),
        error_backoff: Duration::from_millis(20),
        idle_check: Duration::from_secs(1),
        lead: true,
    }
}

fn options() -> RebuildOptions {
    RebuildOptions {
        batch_size: 11,
        ..RebuildOptions::default()
    }
}

pub(crate) fn cdc(region: &str) -> app::CommandContext {
    if region.ends_with("00") {
        ctx(Role::CityCdc, &[region], &[])
    } else {
        ctx(Role::CountyCdc, &[region], &[])
    }
}

pub(crate) fn details(
    team: TeamId,
    on: NaiveDate,
    who: &[VolunteerId],
    reached: u32,
) -> ActivityDetails {
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
            .map(|v| Participant {
                volunteer_id: *v,
                minutes: 90,
            })
            .collect(),
        people_reached: reached,
        media_pieces: 1,
        materials_distributed: 20,
        record: ActivityRecord {
            recorder: Recorder::TeamLeader,
            content: text("结核病防治核心信息宣传"),
            summary: text("宣传"),
            attachments: vec![],
        },
    }
}

pub(crate) async fn record(
    ledger: &app::Ledger,
    region: &str,
    team: TeamId,
    on: NaiveDate,
    who: &[VolunteerId],
) -> ActivityId {
    let id = ActivityId(uuid::Uuid::new_v4());
    let record = ActivityCommand::Record(RecordActivity {
        activity: id,
        details: details(team, on, who, 50),
    });
    ledger.activity(&cdc(region), id, record).await.unwrap();
    id
}

/// The four sections of a summary (A15), filled.
pub(crate) fn sections() -> SummarySections {
    SummarySections {
        team_buildup: text("建立志愿服务队伍12支，志愿者130人"),
        support: text("经费5万元，工作计划已印发"),
        activities: text("开展活动36次"),
        effect: text("核心知识知晓率提升"),
    }
}

/// A campaign year built from commands, on a database whose owner the test also holds.
pub(crate) struct Fixture {
    pub(crate) db: TestDb,
    pub(crate) ledger: app::Ledger,
    clock: Arc<TestClock>,
    campaign: CampaignId,
    next_person: u32,
}

impl Fixture {
    pub(crate) async fn new(counties: &[&str]) -> Self {
        let db = Cluster::shared().unwrap().database().await.unwrap();
        let pool = db.app_pool(10).await.unwrap();
        let clock = TestClock::at(Utc.with_ymd_and_hms(2024, 6, 1, 2, 0, 0).unwrap());
        let store = EventStore::with_clock(pool.clone(), StoreConfig::default(), clock.clone());
        let master = personal_data::MasterKey::from_config_text(1, TEST_MASTER_KEY).unwrap();
        let vault = person_vault::PersonVault::new(pool, Arc::new(master));
        let hasher = personal_data::KeyedHasher::from_config_text(TEST_HASH_KEY).unwrap();
        let campaign = CampaignId(uuid::Uuid::new_v4());
        let ledger = app::Ledger::new(
            store,
            vault,
            hasher,
            clock.clone(),
            app::LedgerConfig { campaign },
        );
        let f = Self {
            db,
            ledger,
            clock,
            campaign,
            next_person: 0,
        };
        crate::support::define_regions(&f.ledger, counties).await;
        f
    }

    pub(crate) fn store(&self) -> &EventStore {
        self.ledger.store()
    }

    /// A store on the owner pool (what a rebuild needs).
    pub(crate) async fn owner(&self) -> EventStore {
        EventStore::new(self.db.owner_pool().await.unwrap(), StoreConfig::default())
    }

    pub(crate) async fn population(&self, region: &str, count: u64) {
        let record = RegionCommand::RecordResidentPopulation(RecordResidentPopulation {
            year: 2023,
            count,
            source: text("2023年统计公报"),
            reason: None,
        });
        self.ledger
            .region(&ctx(Role::CityCdc, &["330600"], &[]), code(region), record)
            .await
            .unwrap();
    }

    pub(crate) async fn define_campaign(&self) {
        let define = CampaignCommand::Define(DefineCampaign {
            campaign: self.campaign,
            name: text("绍兴市“百千万”结核病防治志愿服务活动"),
            city: code("330600"),
            window_start: date(2023, 12, 1),
            window_end: date(2025, 3, 31),
            rules: RuleSet::baiqianwan(vec![]),
        });
        self.ledger
            .campaign_command(&cdc("330600"), self.campaign, define)
            .await
            .unwrap();
    }

    pub(crate) async fn team(&self, region: &str) -> TeamId {
        let host = HostUnitId(uuid::Uuid::new_v4());
        let register_host = HostUnitCommand::Register(RegisterHostUnit {
            host_unit: host,
            kind: HostUnitKind::Cdc,
            name: text(&format!("{region}疾病预防控制中心")),
            region: code(region),
        });
        self.ledger
            .host_unit(&cdc(region), host, register_host, None)
            .await
            .unwrap();
        let team = TeamId(uuid::Uuid::new_v4());
        let register = TeamCommand::Register(RegisterTeam {
            team,
            host_unit: host,
            region: code(region),
            level: TeamLevel::County,
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
        self.ledger
            .team(
                &cdc(region),
                team,
                register,
                Some(&person("王队长")),
                Some(&person("王队长")),
            )
            .await
            .unwrap();
        team
    }

    /// A new volunteer of `region`, member of `team` from 2024-01-20.
    pub(crate) async fn member(&mut self, region: &str, team: TeamId) -> VolunteerId {
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
        self.ledger
            .volunteer(&cdc(region), VolunteerInput::Register(input))
            .await
            .unwrap();
        let join = VolunteerCommand::JoinTeam(JoinTeam {
            team,
            joined_on: date(2024, 1, 20),
        });
        self.ledger
            .volunteer(
                &cdc(region),
                VolunteerInput::Other {
                    volunteer: id,
                    command: join,
                },
            )
            .await
            .unwrap();
        id
    }

    pub(crate) async fn summary(&self, role: Role, region: &str, command: SummaryCommand) {
        self.ledger
            .summary(&ctx(role, &[region], &[]), command)
            .await
            .unwrap();
    }

    /// Drafted, approved and submitted to the city at `at_time`.
    pub(crate) async fn submitted_summary(&self, county: &str, at_time: DateTime<Utc>) {
        let key = CountyYear::new("summary", code(county), 2024).unwrap();
        let draft = SummaryCommand::Draft(DraftSummary {
            summary: key,
            sections: sections(),
            typical_cases: vec![],
        });
        self.summary(Role::CountyCdc, county, draft).await;
        let submit = SummaryCommand::SubmitForApproval(SubmitForApproval { summary: key });
        self.summary(Role::CountyCdc, county, submit).await;
        let approve = SummaryCommand::Approve(ApproveSummary { summary: key });
        self.summary(Role::HealthBureauApprover, county, approve)
            .await;
        self.clock.set(at_time);
        let to_city = SummaryCommand::SubmitToCity(SubmitToCity { summary: key });
        self.summary(Role::CountyCdc, county, to_city).await;
    }

    /// Two counties, populations, teams, volunteers (one in two teams), activities with a correction and
    /// a void, and a submitted annual summary.
    async fn year() -> Self {
        let mut f = Self::new(&["330602", "330603"]).await;
        f.define_campaign().await;
        f.population("330602", 464_000).await;
        f.population("330603", 1_000).await;
        let t1 = f.team("330602").await;
        let t2 = f.team("330602").await;
        let t3 = f.team("330603").await;
        let a = f.member("330602", t1).await;
        let b = f.member("330602", t1).await;
        let c = f.member("330603", t3).await;
        // a is in two teams.
        let join = VolunteerCommand::JoinTeam(JoinTeam {
            team: t2,
            joined_on: date(2024, 2, 1),
        });
        f.ledger
            .volunteer(
                &cdc("330602"),
                VolunteerInput::Other {
                    volunteer: a,
                    command: join,
                },
            )
            .await
            .unwrap();
        record(&f.ledger, "330602", t1, date(2024, 3, 24), &[a, b]).await;
        let corrected = record(&f.ledger, "330602", t2, date(2024, 4, 2), &[a]).await;
        let voided = record(&f.ledger, "330603", t3, date(2024, 5, 12), &[c]).await;
        record(&f.ledger, "330603", t3, date(2024, 5, 13), &[c]).await;
        let correct = ActivityCommand::Correct(CorrectActivity {
            details: details(t2, date(2024, 4, 3), &[a], 80),
            reason: text("更正参与人数和覆盖人数"),
        });
        f.ledger
            .activity(&cdc("330602"), corrected, correct)
            .await
            .unwrap();
        let void = ActivityCommand::Void(VoidActivity {
            reason: text("重复登记"),
        });
        f.ledger
            .activity(&cdc("330603"), voided, void)
            .await
            .unwrap();
        f.submitted_summary("330602", at("2025-01-05T23:59:00+08:00"))
            .await;
        f
    }

    /// Run `projector` incrementally (small batches) up to the head of the log.
    pub(crate) async fn project<P: Projector>(&self, projector: P) {
        let r = Runner::new(self.store().clone(), Arc::new(projector), config());
        let target = head(self.store()).await;
        let p = within(DEADLINE, "projector catching up", r.run_until(target))
            .await
            .unwrap();
        assert_eq!(p.checkpoint, target);
        assert_eq!(p.parked_events, 0, "{} parked events", r.id());
    }

    async fn index_names(&self) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT tablename::text, indexname::text FROM pg_indexes WHERE schemaname = 'public' \
             ORDER BY 1, 2",
        )
        .fetch_all(self.store().pool())
        .await
        .unwrap()
    }

    async fn foreign_keys(&self) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE contype = 'f' AND connamespace = 'public'::regnamespace ORDER BY 1, 2",
        )
        .fetch_all(self.store().pool())
        .await
        .unwrap()
    }
}

async fn rebuilt_equals_incremental<P: Projector + Copy>(f: &Fixture, owner: &EventStore, p: P) {
    f.project(p).await;
    let incremental = digest(f.store().pool(), &p).await.unwrap();
    assert!(
        incremental.tables.iter().any(|t| t.rows > 0),
        "{}: the fixture must fill the read model: {incremental}",
        p.id()
    );
    let report = within(DEADLINE, "rebuild", rebuild(owner, &p, &options()))
        .await
        .unwrap();
    assert_eq!(report.checkpoint, head(f.store()).await, "{report}");
    assert!(report.election_lock_held, "no runner was leading: {report}");
    assert_eq!(report.before.as_ref(), Some(&incremental), "{report}");
    assert_eq!(report.after.as_ref(), Some(&incremental), "{report}");
    let rebuilt = digest(f.store().pool(), &p).await.unwrap();
    assert_eq!(rebuilt, incremental, "{}", p.id());
    assert_eq!(
        projections::parked_count(f.store().pool(), p.id())
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn rebuild_from_scratch_is_byte_identical_to_the_incremental_read_model() {
    let f = Fixture::year().await;
    let owner = f.owner().await;
    let indexes = f.index_names().await;
    let fks = f.foreign_keys().await;
    rebuilt_equals_incremental(&f, &owner, CoverageProjector).await;
    rebuilt_equals_incremental(&f, &owner, ComplianceProjector).await;
    rebuilt_equals_incremental(&f, &owner, FrequencyProjector).await;
    rebuilt_equals_incremental(&f, &owner, SummaryBoardProjector).await;
    assert_eq!(
        f.index_names().await,
        indexes,
        "swapped tables keep the migrations' index names"
    );
    assert_eq!(
        f.foreign_keys().await,
        fks,
        "swapped tables keep their foreign keys"
    );
    let shadows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'shadow\\_%'")
            .fetch_one(f.store().pool())
            .await
            .unwrap();
    assert_eq!(shadows, 0, "shadow schemas are dropped after the swap");
}

#[tokio::test]
async fn rebuild_all_rebuilds_every_read_model_side_by_side_into_what_the_runners_built() {
    let f = Fixture::year().await;
    let target = head(f.store()).await;
    run_all_live(&f).await;
    let owner = f.owner().await;
    let reports = within(
        DEADLINE,
        "rebuild all",
        projections::replay::rebuild_all(&owner, projections::replay::READ_MODELS, &options()),
    )
    .await;
    assert_eq!(reports.len(), projections::replay::READ_MODELS.len());
    for (m, report) in projections::replay::READ_MODELS.iter().zip(reports) {
        let report = report.unwrap();
        assert_eq!(report.projector, m.model_id());
        assert_eq!((report.checkpoint, report.parked), (target, 0), "{report}");
        assert!(report.applied > 0, "the fixture feeds {report}");
        assert_eq!(
            report.before, report.after,
            "rebuilt equals incremental: {report}"
        );
        assert!(report.after.is_some(), "{report}");
    }
}

/// Every read model run live up to the head of the log; their digests, in [`READ_MODELS`] order.
async fn run_all_live(f: &Fixture) -> Vec<Digest> {
    let target = head(f.store()).await;
    let mut digests = Vec::new();
    for m in READ_MODELS {
        let p = within(
            DEADLINE,
            "live",
            m.run_live_until(f.store(), config(), target),
        )
        .await
        .unwrap();
        assert_eq!(
            (p.checkpoint, p.parked_events),
            (target, 0),
            "{}",
            m.model_id()
        );
        digests.push(m.live_digest(f.store().pool()).await.unwrap());
    }
    digests
}

async fn log_events(f: &Fixture) -> u64 {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(f.store().pool())
        .await
        .unwrap();
    u64::try_from(n).unwrap()
}

/// `relpersistence` of each live table of `model` (`p`: an ordinary logged table).
async fn persistence(f: &Fixture, model: &dyn ReadModel) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for table in model.model_tables() {
        let p: String = sqlx::query_scalar(
            "SELECT relpersistence::text FROM pg_class WHERE oid = ('public.' || $1)::regclass",
        )
        .bind(*table)
        .fetch_one(f.store().pool())
        .await
        .unwrap();
        out.push(((*table).to_owned(), p));
    }
    out
}

#[tokio::test]
async fn rebuild_all_reads_the_log_once_for_every_shadow_and_equals_rebuilding_each_alone() {
    let f = Fixture::year().await;
    let live = run_all_live(&f).await;
    let events = log_events(&f).await;
    let owner = f.owner().await;
    let reports = within(
        DEADLINE,
        "rebuild all",
        rebuild_all(&owner, READ_MODELS, &options()),
    )
    .await;
    let mut together = Vec::new();
    for (m, report) in READ_MODELS.iter().zip(reports) {
        let report = report.unwrap();
        // The whole log came from the one reader: the catch-ups found nothing more to read.
        assert_eq!(
            (report.fed_events, report.events),
            (events, events),
            "{report}"
        );
        together.push(m.live_digest(f.store().pool()).await.unwrap());
    }
    assert_eq!(together, live, "rebuilt side by side equals incremental");
    for (m, expected) in READ_MODELS.iter().zip(&together) {
        let report = within(DEADLINE, "rebuild one", m.rebuild(&owner, &options()))
            .await
            .unwrap();
        assert_eq!(report.fed_events, events, "{report}");
        assert_eq!(
            &m.live_digest(f.store().pool()).await.unwrap(),
            expected,
            "{} rebuilt alone equals rebuilt with the others",
            m.model_id()
        );
    }
}

#[tokio::test]
async fn a_bulk_pass_whose_reader_stops_reads_on_by_itself() {
    let f = Fixture::year().await;
    f.project(ComplianceProjector).await;
    let incremental = digest(f.store().pool(), &ComplianceProjector)
        .await
        .unwrap();
    let owner = f.owner().await;
    let (feeder, pages) = feed();
    drop(feeder);
    let report = within(
        DEADLINE,
        "rebuild without a reader",
        rebuild_from(&owner, &ComplianceProjector, &options(), pages),
    )
    .await
    .unwrap();
    assert_eq!(report.fed_events, 0, "{report}");
    assert_eq!(report.events, log_events(&f).await, "{report}");
    assert_eq!(report.checkpoint, head(f.store()).await, "{report}");
    assert_eq!(
        digest(f.store().pool(), &ComplianceProjector)
            .await
            .unwrap(),
        incremental
    );
}

#[tokio::test]
async fn a_rebuild_waiting_for_another_of_its_model_lets_the_shared_reader_feed_the_others() {
    let f = Fixture::year().await;
    f.project(CoverageProjector).await;
    f.project(ComplianceProjector).await;
    let coverage_before = coverage_digest(&f).await;
    let compliance_before = digest(f.store().pool(), &ComplianceProjector)
        .await
        .unwrap();
    let owner = f.owner().await;
    // Another rebuild of coverage "runs": its lock is held on a connection of its own.
    let mut other = owner.pool().acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(projections::runtime::lock_key("rebuild.coverage"))
        .execute(&mut *other)
        .await
        .unwrap();
    // Pages of a few events, so the reader would fill the waiting rebuild's feed long before the end.
    let options = RebuildOptions {
        batch_size: 3,
        ..options()
    };
    assert!(log_events(&f).await > 20);
    let (for_coverage, coverage_pages) = feed();
    let (for_compliance, compliance_pages) = feed();
    let reader = tokio::spawn({
        let owner = owner.clone();
        async move {
            projections::rebuild::feed_log(&owner, 3, vec![for_coverage, for_compliance]).await
        }
    });
    let waiting = tokio::spawn({
        let (owner, options) = (owner.clone(), options.clone());
        async move { rebuild_from(&owner, &CoverageProjector, &options, coverage_pages).await }
    });
    // Compliance is rebuilt from the shared reader while coverage waits for the other rebuild.
    let compliance = within(
        DEADLINE,
        "compliance while coverage waits",
        rebuild_from(&owner, &ComplianceProjector, &options, compliance_pages),
    )
    .await
    .unwrap();
    assert_eq!(compliance.before, compliance.after, "{compliance}");
    assert_eq!(compliance.after, Some(compliance_before));
    assert!(
        !waiting.is_finished(),
        "coverage still waits for the other rebuild"
    );
    within(DEADLINE, "the reader", reader)
        .await
        .unwrap()
        .unwrap();

    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(projections::runtime::lock_key("rebuild.coverage"))
        .execute(&mut *other)
        .await
        .unwrap();
    let coverage = within(DEADLINE, "coverage after the other", waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(coverage.fed_events, 0, "it let its feed go: {coverage}");
    assert_eq!(coverage.events, log_events(&f).await, "{coverage}");
    assert_eq!(coverage_digest(&f).await, coverage_before);
}

/// A read model whose shadow cannot be created (its table does not exist).
#[derive(Debug, Clone, Copy)]
struct Missing;

impl Projector for Missing {
    fn id(&self) -> &'static str {
        "missing_model"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["missing_model_table"]
    }

    fn handles(&self, _: &RecordedEvent) -> bool {
        true
    }

    async fn apply(&self, _: &mut PgConnection, _: &RecordedEvent) -> Result<(), ApplyError> {
        Ok(())
    }
}

static MISSING: Missing = Missing;

#[tokio::test]
async fn a_failing_shadow_drops_out_of_rebuild_all_and_the_others_are_rebuilt() {
    let f = Fixture::year().await;
    f.project(CoverageProjector).await;
    f.project(FrequencyProjector).await;
    let coverage_before = coverage_digest(&f).await;
    let frequency_before = digest(f.store().pool(), &FrequencyProjector).await.unwrap();
    let owner = f.owner().await;
    let models: [&'static dyn ReadModel; 3] = [&CoverageProjector, &MISSING, &FrequencyProjector];
    let reports = within(
        DEADLINE,
        "rebuild all",
        rebuild_all(&owner, &models, &options()),
    )
    .await;
    let [coverage_report, missing, frequency_report] = <[_; 3]>::try_from(reports).unwrap();
    assert!(missing.is_err(), "{missing:?}");
    let events = log_events(&f).await;
    for report in [coverage_report.unwrap(), frequency_report.unwrap()] {
        assert_eq!(report.fed_events, events, "{report}");
    }
    assert_eq!(coverage_digest(&f).await, coverage_before);
    assert_eq!(
        digest(f.store().pool(), &FrequencyProjector).await.unwrap(),
        frequency_before
    );
}

#[tokio::test]
async fn an_unlogged_bulk_pass_swaps_in_ordinary_logged_tables_with_their_foreign_keys() {
    let f = Fixture::year().await;
    let fks = f.foreign_keys().await;
    let owner = f.owner().await;
    // Compliance and coverage have foreign keys between their tables: parents are made logged first.
    for p in [&ComplianceProjector as &dyn ReadModel, &CoverageProjector] {
        let live = within(
            DEADLINE,
            "live",
            p.run_live_until(f.store(), config(), head(f.store()).await),
        )
        .await
        .unwrap();
        assert_eq!(live.parked_events, 0);
        let incremental = p.live_digest(f.store().pool()).await.unwrap();
        let unlogged = RebuildOptions {
            unlogged_bulk: true,
            ..options()
        };
        let report = within(DEADLINE, "rebuild", p.rebuild(&owner, &unlogged))
            .await
            .unwrap();
        assert_eq!(
            report.built_unlogged,
            p.model_tables().len(),
            "every read-model table was built unlogged: {report}"
        );
        assert_eq!(report.after.as_ref(), Some(&incremental), "{report}");
        for (table, persistence) in persistence(&f, p).await {
            assert_eq!(persistence, "p", "{table} is swapped in as a logged table");
        }
        // The default bulk pass is logged throughout.
        let report = within(DEADLINE, "rebuild", p.rebuild(&owner, &options()))
            .await
            .unwrap();
        assert_eq!(report.built_unlogged, 0, "{report}");
        assert_eq!(report.after.as_ref(), Some(&incremental), "{report}");
        for (table, persistence) in persistence(&f, p).await {
            assert_eq!(persistence, "p", "{table}");
        }
    }
    assert_eq!(
        f.foreign_keys().await,
        fks,
        "the foreign keys, added after the bulk pass, are all there"
    );
}

/// A live runner of `P` until the returned sender is told to stop.
fn live<P: Projector>(
    store: &EventStore,
    projector: P,
) -> (
    Arc<Runner<P>>,
    watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let runner = Arc::new(Runner::new(store.clone(), Arc::new(projector), config()));
    let (stop, mut rx) = watch::channel(false);
    let r = runner.clone();
    let task = tokio::spawn(async move {
        r.run(async move {
            let _ = rx.wait_for(|s| *s).await;
        })
        .await
        .unwrap();
    });
    (runner, stop, task)
}

async fn coverage_digest(f: &Fixture) -> Digest {
    digest(f.store().pool(), &CoverageProjector).await.unwrap()
}

#[tokio::test]
async fn a_rebuild_while_writes_continue_loses_nothing() {
    let mut f = Fixture::year().await;
    let team = f.team("330602").await;
    let v = f.member("330602", team).await;
    let owner = f.owner().await;
    let (runner, stop, task) = live(f.store(), CoverageProjector);
    within(
        DEADLINE,
        "live runner catching up",
        runner.wait_for(head(f.store()).await, DEADLINE),
    )
    .await
    .unwrap();

    // A writer records activities until told to stop; `written` counts them.
    let (written_tx, mut written) = watch::channel(0u32);
    let (halt, mut halted) = watch::channel(false);
    let ledger = f.ledger.clone();
    let writer = tokio::spawn(async move {
        let mut n = 0u32;
        while !*halted.borrow_and_update() {
            record(&ledger, "330602", team, date(2024, 6, 1), &[v]).await;
            n += 1;
            written_tx.send_replace(n);
        }
        n
    });
    within(DEADLINE, "first writes", written.wait_for(|n| *n >= 2))
        .await
        .unwrap();
    let report = within(
        DEADLINE,
        "rebuild",
        rebuild(&owner, &CoverageProjector, &options()),
    )
    .await
    .unwrap();
    let at_swap = *written.borrow();
    // The runner continues after the swap: more writes, then it reaches the head.
    within(
        DEADLINE,
        "writes after the swap",
        written.wait_for(|n| *n >= at_swap + 3),
    )
    .await
    .unwrap();
    halt.send_replace(true);
    let total = within(DEADLINE, "writer stopping", writer).await.unwrap();
    let end = head(f.store()).await;
    let progress = within(
        DEADLINE,
        "live runner after the swap",
        runner.wait_for(end, DEADLINE),
    )
    .await
    .unwrap();
    assert!(
        progress.checkpoint >= end && report.checkpoint <= end,
        "{report}"
    );
    assert_eq!(progress.parked_events, 0);

    // Independent count: every activity written during the test is in the live model exactly once.
    let participations: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(cardinality(participants)), 0)::int8 FROM coverage_activities \
             WHERE team_id = $1",
    )
    .bind(team.0)
    .fetch_one(f.store().pool())
    .await
    .unwrap();
    assert_eq!(participations, i64::from(total), "{report}");

    // And the whole model equals a second rebuild from scratch (no runner applies during it: stopped).
    let live_digest = coverage_digest(&f).await;
    stop.send_replace(true);
    within(DEADLINE, "runner stopping", task).await.unwrap();
    let again = within(
        DEADLINE,
        "second rebuild",
        rebuild(&owner, &CoverageProjector, &options()),
    )
    .await
    .unwrap();
    assert_eq!(again.checkpoint, end);
    assert_eq!(coverage_digest(&f).await, live_digest, "{again}");
}

#[tokio::test]
async fn the_service_role_can_still_read_and_the_runner_continues_after_a_swap() {
    let mut f = Fixture::year().await;
    let owner = f.owner().await;
    let (runner, stop, task) = live(f.store(), CoverageProjector);
    within(
        DEADLINE,
        "live runner catching up",
        runner.wait_for(head(f.store()).await, DEADLINE),
    )
    .await
    .unwrap();
    let on = date(2024, 12, 31);
    let before = coverage(f.store().pool(), code("330602"), on, A1_PER_100K)
        .await
        .unwrap();
    assert_eq!(before.registered_volunteers, 2);

    let report = within(
        DEADLINE,
        "rebuild",
        rebuild(&owner, &CoverageProjector, &options()),
    )
    .await
    .unwrap();
    assert!(
        !report.election_lock_held,
        "a live runner leads, so the rebuild relies on the fence: {report}"
    );

    // The service role keeps its grants on every swapped table.
    for table in CoverageProjector.tables() {
        let granted: bool = sqlx::query_scalar(
            "SELECT has_table_privilege('ledger_service', ('public.' || $1)::regclass, \
             'SELECT, INSERT, UPDATE, DELETE')",
        )
        .bind(*table)
        .fetch_one(f.store().pool())
        .await
        .unwrap();
        assert!(granted, "ledger_service lost its grants on {table}");
    }
    let after = coverage(f.store().pool(), code("330602"), on, A1_PER_100K)
        .await
        .unwrap();
    assert_eq!(after.registered_volunteers, before.registered_volunteers);
    assert_eq!(after.active_volunteers, before.active_volunteers);

    // The live runner continues on the swapped tables.
    let team = f.team("330602").await;
    f.member("330602", team).await;
    let end = head(f.store()).await;
    within(
        DEADLINE,
        "live runner after the swap",
        runner.wait_for(end, DEADLINE),
    )
    .await
    .unwrap();
    let now = coverage(f.store().pool(), code("330602"), on, A1_PER_100K)
        .await
        .unwrap();
    assert_eq!(now.registered_volunteers, before.registered_volunteers + 1);
    assert_eq!(now.as_of, end);
    stop.send_replace(true);
    within(DEADLINE, "runner stopping", task).await.unwrap();
}

/// Migration 0009 folds each read model's participation rows into its activity rows, participants (and
/// their minutes) sorted by volunteer id, exactly as the projectors now write them. Run on a database
/// migrated to 0008 holding rows in the old shape.
#[tokio::test]
async fn migration_0009_folds_participations_into_activity_rows_sorted_by_volunteer() {
    let cluster = Cluster::shared().unwrap();
    let name = format!("vl_m9_{}", uuid::Uuid::new_v4().simple());
    let mut admin =
        <PgConnection as sqlx::Connection>::connect_with(&cluster.admin_options("postgres"))
            .await
            .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut db = <PgConnection as sqlx::Connection>::connect_with(&cluster.admin_options(&name))
        .await
        .unwrap();
    let sql_of = |version: i64| {
        schema::MIGRATOR
            .iter()
            .find(|m| m.version == version)
            .unwrap()
            .sql
            .clone()
    };
    // sqlx's bookkeeping table, which migration 0001 grants the service to read.
    sqlx::raw_sql("CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY)")
        .execute(&mut db)
        .await
        .unwrap();
    for version in 1..=8 {
        sqlx::raw_sql(sql_of(version))
            .execute(&mut db)
            .await
            .unwrap();
    }
    let (a1, a2, team) = (
        uuid::Uuid::from_u128(1),
        uuid::Uuid::from_u128(2),
        uuid::Uuid::from_u128(9),
    );
    let (v_low, v_mid, v_high) = (
        uuid::Uuid::from_u128(10),
        uuid::Uuid::from_u128(20),
        uuid::Uuid::from_u128(30),
    );
    // Inserted out of volunteer order; a2 is voided.
    for sql in [
        "INSERT INTO coverage_participations (activity_id, volunteer_id, team_id, on_date, voided)
         VALUES ($1, $3, $6, '2024-03-05', false), ($1, $4, $6, '2024-03-05', false),
                ($1, $5, $6, '2024-03-05', false), ($2, $4, $6, '2024-05-31', true)",
        "INSERT INTO compliance_activities (activity_id, team_id, on_date, voided)
         VALUES ($1, $6, '2024-03-05', false), ($2, $6, '2024-05-31', true)",
        "INSERT INTO compliance_participations (activity_id, volunteer_id)
         VALUES ($1, $3), ($1, $4), ($1, $5), ($2, $4)",
        "INSERT INTO service_record_activities
             (activity_id, team_id, on_date, revision, voided, stream_version)
         VALUES ($1, $6, '2024-03-05', 1, false, 0), ($2, $6, '2024-05-31', 1, true, 1)",
        "INSERT INTO service_record_participations (activity_id, volunteer_id, minutes)
         VALUES ($1, $3, 30), ($1, $4, 10), ($1, $5, 20), ($2, $4, 40)",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(a1)
            .bind(a2)
            .bind(v_high)
            .bind(v_low)
            .bind(v_mid)
            .bind(team)
            .execute(&mut db)
            .await
            .unwrap();
    }

    sqlx::raw_sql(sql_of(9)).execute(&mut db).await.unwrap();

    let sorted = vec![v_low, v_mid, v_high];
    let coverage: Vec<(uuid::Uuid, uuid::Uuid, NaiveDate, bool, Vec<uuid::Uuid>)> = sqlx::query_as(
        "SELECT activity_id, team_id, on_date, voided, participants FROM coverage_activities
         ORDER BY activity_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        coverage,
        vec![
            (a1, team, date(2024, 3, 5), false, sorted.clone()),
            (a2, team, date(2024, 5, 31), true, vec![v_low]),
        ]
    );
    let compliance: Vec<(uuid::Uuid, Vec<uuid::Uuid>)> = sqlx::query_as(
        "SELECT activity_id, participants FROM compliance_activities ORDER BY activity_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(compliance, vec![(a1, sorted.clone()), (a2, vec![v_low])]);
    let served: Vec<(uuid::Uuid, Vec<uuid::Uuid>, Vec<i32>)> = sqlx::query_as(
        "SELECT activity_id, participants, minutes FROM service_record_activities
         ORDER BY activity_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        served,
        vec![(a1, sorted, vec![10, 20, 30]), (a2, vec![v_low], vec![40])],
        "minutes follow their volunteers"
    );
    let gone: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN
         ('coverage_participations', 'compliance_participations', 'service_record_participations')",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(gone, 0, "the participation tables are dropped");
    let granted: bool = sqlx::query_scalar(
        "SELECT has_table_privilege('ledger_service', 'coverage_activities', 'SELECT, INSERT, UPDATE')",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert!(granted, "the service may read and write the new table");
    drop(db);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
}

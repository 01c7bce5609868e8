//! Replay as of any moment, and diff against live (#6): a replay as of a past token equals what the read
//! models said at that token (digests recorded during the run), a replay as of now equals live, a time
//! means the notary's fence at that time, `diff` tells equal from different (and which token each side
//! reflects), and bad inputs are refused before anything is created. Fixtures go through the application
//! layer; the CLI is driven through `ledger_audit::run`, exactly as the binary does.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use app::Role;
use chrono::{NaiveDate, SecondsFormat};
use clap::Parser;
use domain::activity::{ActivityCommand, CorrectActivity, VoidActivity};
use domain::ids::{ActivityId, MedicineBoxId, TeamId, VolunteerId};
use domain::jiangsu::medicine_box::{
    BoxKind, Donor, DonorCategory, MedicineBoxCommand, RecipientCategory, RecordDispensing,
    RecordDonation, RegisterMedicineBox,
};
use domain::summary::{CountyYear, DraftSummary, SummaryCommand};
use domain::team::{ReinstateTeam, SuspendTeam, TeamCommand};
use domain::volunteer::{JoinTeam, LeaveTeam, VolunteerCommand};
use eventstore::Token;
use notary::{Checkpoint, Notary, NotaryConfig, NotaryKey};
use projections::rebuild::Digest;
use projections::replay::{
    self, READ_MODELS, ReplayOptions, ScratchSchema, create_scratch, scratch_digest,
};
use projections::{ApplyMode, CoverageProjector, RunnerConfig};

use crate::rebuild::{cdc, details, record, sections};
use crate::records::item;
use crate::support::{at, code, date, head, text, within};

const DEADLINE: Duration = Duration::from_secs(60);

/// Digests of every read model, by projector id.
type Digests = BTreeMap<&'static str, Digest>;

/// The rebuild tests' campaign fixture (two counties), with what replays need besides.
struct Fixture {
    base: crate::rebuild::Fixture,
    /// The notary's key: every checkpoint of a log is signed with the same one.
    key: Arc<NotaryKey>,
}

impl std::ops::Deref for Fixture {
    type Target = crate::rebuild::Fixture;
    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl std::ops::DerefMut for Fixture {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.base
    }
}

impl Fixture {
    /// Regions only (the province, the city and two counties).
    async fn regions() -> Self {
        Self {
            base: crate::rebuild::Fixture::new(&["330602", "330603"]).await,
            key: Arc::new(NotaryKey::generate().unwrap()),
        }
    }

    /// The owner's URL (`--database-url` of `replay` and `diff`): the configured admin URL with this
    /// database, or the private cluster's trusted loopback login.
    fn owner_url(&self) -> String {
        let configured = ["VL_TEST_ADMIN_URL", "DATABASE_URL"]
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|u| !u.trim().is_empty()));
        match configured {
            Some(url) => {
                let (base, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
                let scheme_end = base.find("://").unwrap() + 3;
                let server = base[scheme_end..]
                    .find('/')
                    .map_or(base, |slash| &base[..scheme_end + slash]);
                let query = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                };
                format!("{server}/{}{query}", self.db.name)
            }
            None => format!(
                "postgres://{}@{}:{}/{}?sslmode=disable",
                self.db.owner.get_username(),
                self.db.owner.get_host(),
                self.db.owner.get_port(),
                self.db.name
            ),
        }
    }

    async fn record(
        &self,
        region: &str,
        team: TeamId,
        on: NaiveDate,
        who: &[VolunteerId],
    ) -> ActivityId {
        record(&self.ledger, region, team, on, who).await
    }

    async fn first_part(&mut self) -> FirstPart {
        self.define_campaign().await;
        self.population("330602", 464_000).await;
        self.population("330603", 1_000).await;
        let t1 = self.team("330602").await;
        let t3 = self.team("330603").await;
        let a = self.member("330602", t1).await;
        let b = self.member("330602", t1).await;
        let c = self.member("330603", t3).await;
        let corrected = self.record("330602", t1, date(2024, 3, 24), &[a, b]).await;
        let voided = self.record("330603", t3, date(2024, 5, 12), &[c]).await;
        self.record("330603", t3, date(2024, 5, 13), &[c]).await;
        self.submitted_summary("330602", at("2025-01-05T23:59:00+08:00"))
            .await;
        let medbox = self.medicine_box().await;
        FirstPart {
            medbox,
            t1,
            a,
            corrected,
            voided,
        }
    }

    /// After T1: a new team with a member and an activity, an activity corrected, one voided, and a
    /// second county's summary drafted — each read model changes.
    async fn second_part(&mut self, p: &FirstPart) {
        let t4 = self.team("330603").await;
        let d = self.member("330603", t4).await;
        self.record("330603", t4, date(2024, 6, 1), &[d]).await;
        let correct = ActivityCommand::Correct(CorrectActivity {
            details: details(p.t1, date(2024, 3, 25), &[p.a], 80),
            reason: text("更正参与人数和覆盖人数"),
        });
        self.ledger
            .activity(&cdc("330602"), p.corrected, correct)
            .await
            .unwrap();
        let void = ActivityCommand::Void(VoidActivity {
            reason: text("重复登记"),
        });
        self.ledger
            .activity(&cdc("330603"), p.voided, void)
            .await
            .unwrap();
        let draft = SummaryCommand::Draft(DraftSummary {
            summary: CountyYear::new("summary", code("330603"), 2024).unwrap(),
            sections: sections(),
            typical_cases: vec![],
        });
        self.summary(Role::CountyCdc, "330603", draft).await;
        let dispense = MedicineBoxCommand::Dispensing(RecordDispensing {
            medbox: p.medbox,
            recipient: RecipientCategory::ElderlyLivingAlone,
            items: vec![item("布洛芬缓释胶囊 0.3g", 8)],
            on: date(2024, 5, 3),
        });
        self.ledger
            .medicine_box(&cdc("330602"), dispense)
            .await
            .unwrap();
    }

    /// Run every read model's projector (the service role, small batches) to the head of the log; the
    /// head.
    async fn project_to_head(&self) -> Token {
        let target = head(self.store()).await;
        for m in READ_MODELS {
            let p = within(
                DEADLINE,
                "projector catching up",
                m.run_live_until(self.store(), config(), target),
            )
            .await
            .unwrap();
            assert_eq!(p.checkpoint, target, "{}", m.model_id());
            assert_eq!(p.parked_events, 0, "{} parked events", m.model_id());
        }
        target
    }

    /// The live read models' digests (service role).
    async fn live_digests(&self) -> Digests {
        let mut out = Digests::new();
        for m in READ_MODELS {
            out.insert(
                m.model_id(),
                m.live_digest(self.store().pool()).await.unwrap(),
            );
        }
        out
    }

    /// A medicine box with a donation (Jiangsu); its id.
    async fn medicine_box(&self) -> MedicineBoxId {
        let medbox = MedicineBoxId(uuid::Uuid::new_v4());
        let register = MedicineBoxCommand::Register(RegisterMedicineBox {
            medbox,
            name: text("府山社区共享药箱"),
            kind: BoxKind::Physical,
            region: code("330602"),
            keeper_unit: text("府山社区卫生服务站"),
        });
        let donate = MedicineBoxCommand::Donation(RecordDonation {
            medbox,
            donor: Donor {
                category: DonorCategory::Pharmacy,
                organisation: None,
            },
            items: vec![item("布洛芬缓释胶囊 0.3g", 20)],
            on: date(2024, 5, 1),
        });
        for command in [register, donate] {
            self.ledger
                .medicine_box(&cdc("330602"), command)
                .await
                .unwrap();
        }
        medbox
    }

    /// The digests of every read model in a scratch schema (owner).
    async fn scratch_digests(&self, schema: &str) -> Digests {
        let pool = self.db.owner_pool().await.unwrap();
        let schema: ScratchSchema = schema.parse().unwrap();
        let mut out = Digests::new();
        for m in READ_MODELS {
            out.insert(
                m.model_id(),
                scratch_digest(&pool, *m, &schema).await.unwrap(),
            );
        }
        pool.close().await;
        out
    }

    async fn schema_exists(&self, schema: &str) -> bool {
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(self.store().pool())
            .await
            .unwrap()
    }

    async fn checkpoint(&self) -> Checkpoint {
        let notary = Notary::new(
            self.store().clone(),
            self.key.clone(),
            NotaryConfig::default(),
        );
        within(DEADLINE, "notary checkpoint", notary.run_once())
            .await
            .unwrap()
            .unwrap()
    }
}

struct FirstPart {
    medbox: MedicineBoxId,
    t1: TeamId,
    a: VolunteerId,
    corrected: ActivityId,
    voided: ActivityId,
}

fn config() -> RunnerConfig {
    RunnerConfig {
        batch_size: 7,
        lease_retry: Duration::from_millis(20),
        error_backoff: Duration::from_millis(20),
        idle_check: Duration::from_secs(1),
        lead: true,
    }
}

/// Run the CLI as the binary does; its exit code (2 for an error, as `main` maps it) and output.
async fn audit(args: &[&str]) -> (ExitCode, String, Option<String>) {
    let cli =
        ledger_audit::Cli::parse_from(std::iter::once("ledger-audit").chain(args.iter().copied()));
    let mut out = Vec::new();
    let result = within(DEADLINE, "ledger-audit", ledger_audit::run(cli, &mut out)).await;
    let out = String::from_utf8(out).unwrap();
    match result {
        Ok(code) => (code, out, None),
        Err(e) => (ExitCode::from(2), out, Some(format!("{e:#}"))),
    }
}

/// What the CLI's argument parser says about `args` (an error message, or `None` when they parse).
fn parse_error(args: &[&str]) -> Option<String> {
    ledger_audit::Cli::try_parse_from(std::iter::once("ledger-audit").chain(args.iter().copied()))
        .err()
        .map(|e| e.to_string())
}

fn assert_no_personal_data(out: &str) {
    for plaintext in ["志愿者", "王队长", "13800000000", "19900307"] {
        assert!(
            !out.contains(plaintext),
            "the output shows personal data ({plaintext}):\n{out}"
        );
    }
}

#[tokio::test]
async fn replay_as_of_a_past_token_equals_the_read_models_at_that_token_and_as_of_now_equals_live()
{
    let mut f = Fixture::regions().await;
    let first = f.first_part().await;
    let t1 = f.project_to_head().await;
    let at_t1 = f.live_digests().await;
    for (id, d) in &at_t1 {
        assert!(
            d.tables.iter().any(|t| t.rows > 0),
            "{id}: the fixture must fill the read model: {d}"
        );
    }
    f.second_part(&first).await;
    let t2 = f.project_to_head().await;
    let at_t2 = f.live_digests().await;
    for (id, d) in &at_t2 {
        assert_ne!(
            d, &at_t1[id],
            "{id}: the second part must change the read model"
        );
    }

    // The library: every read model replayed as of T1 into one scratch schema.
    let owner = f.owner().await;
    let scratch: ScratchSchema = "audit_t1".parse().unwrap();
    create_scratch(owner.pool(), &scratch, false).await.unwrap();
    for m in READ_MODELS {
        let report = within(
            DEADLINE,
            "replay as of T1",
            m.replay(
                &owner,
                &scratch,
                t1,
                ReplayOptions {
                    batch_size: 5,
                    ..ReplayOptions::default()
                },
            ),
        )
        .await
        .unwrap();
        assert_eq!(report.checkpoint, t1, "{report}");
        assert_eq!(report.parked, 0, "{report}");
        assert_eq!(
            &report.digest,
            &at_t1[m.model_id()],
            "replay as of T1 equals the read model at T1: {report}"
        );
        assert_ne!(&report.digest, &at_t2[m.model_id()], "{report}");
    }
    assert_eq!(f.scratch_digests("audit_t1").await, at_t1);

    // The CLI: as of now equals live.
    let url = f.owner_url();
    let (code, out, error) = audit(&[
        "replay",
        "--database-url",
        &url,
        "--as-of",
        "now",
        "--into",
        "audit_now",
        "--batch-size",
        "3",
    ])
    .await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}{error:?}");
    assert!(out.contains(&format!("token {t2}")), "{out}");
    for m in READ_MODELS {
        assert!(out.contains(&format!("{}: events", m.model_id())), "{out}");
    }
    assert_eq!(f.scratch_digests("audit_now").await, at_t2);

    let (code, out, error) =
        audit(&["diff", "--database-url", &url, "--schema", "audit_now"]).await;
    assert_eq!(
        code,
        ExitCode::SUCCESS,
        "a replay as of now equals live: {out}{error:?}"
    );
    assert!(out.contains("all compared read models are equal"), "{out}");
    assert!(!out.contains("DIFFERENT"), "{out}");

    let (code, out, error) = audit(&[
        "diff",
        "--database-url",
        &url,
        "--schema",
        "audit_t1",
        "--rows",
        "3",
    ])
    .await;
    assert_eq!(
        code,
        ExitCode::from(1),
        "live is ahead of T1: {out}{error:?}"
    );
    for m in READ_MODELS {
        assert!(
            out.contains(&format!("{}: DIFFERENT", m.model_id())),
            "{out}"
        );
    }
    assert!(out.contains(&format!("reflects token {t1}")), "{out}");
    assert!(out.contains(&format!("reflects token {t2}")), "{out}");
    assert!(out.contains("live is ahead of the replay"), "{out}");
    assert!(out.contains("only in live: "), "{out}");
    assert_no_personal_data(&out);

    // The same comparison through the library: which rows, and which side.
    let diff = replay::diff(owner.pool(), &CoverageProjector, &scratch, 100)
        .await
        .unwrap();
    assert!(!diff.equal());
    assert_eq!((diff.scratch.checkpoint, diff.live.checkpoint), (t1, t2));
    let memberships = diff
        .tables
        .iter()
        .find(|t| t.table == "coverage_memberships")
        .unwrap();
    assert_eq!(
        (
            memberships.only_in_live.total,
            memberships.only_in_scratch.total
        ),
        (1, 0),
        "one member joined after T1: {diff}"
    );
    assert_eq!(memberships.only_in_live.first.len(), 1);

    // Replays read the live models and write only the scratch schemas.
    assert_eq!(f.live_digests().await, at_t2);
}

/// The same row touched twice in one batch: a team suspended and reinstated, a volunteer who leaves and
/// joins again (on the day they left, so the same membership row is reopened).
async fn rows_touched_twice(f: &Fixture, p: &FirstPart) {
    let team = |command| async {
        f.ledger
            .team(&cdc("330602"), p.t1, command, None, None)
            .await
            .unwrap();
    };
    team(TeamCommand::Suspend(SuspendTeam {
        from: date(2024, 7, 1),
        reason: text("整改"),
    }))
    .await;
    team(TeamCommand::Reinstate(ReinstateTeam {
        on: date(2024, 8, 1),
    }))
    .await;
    for command in [
        VolunteerCommand::LeaveTeam(LeaveTeam {
            team: p.t1,
            left_on: date(2024, 9, 1),
        }),
        VolunteerCommand::JoinTeam(JoinTeam {
            team: p.t1,
            joined_on: date(2024, 9, 1),
        }),
        VolunteerCommand::LeaveTeam(LeaveTeam {
            team: p.t1,
            left_on: date(2024, 10, 1),
        }),
    ] {
        f.ledger
            .volunteer(
                &cdc("330602"),
                app::VolunteerInput::Other {
                    volunteer: p.a,
                    command,
                },
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn every_read_model_is_the_same_built_set_based_as_built_one_event_at_a_time() {
    let mut f = Fixture::regions().await;
    let first = f.first_part().await;
    rows_touched_twice(&f, &first).await;
    f.second_part(&first).await;
    let now = f.project_to_head().await;
    let live = f.live_digests().await;

    // The whole log in one batch (runs of many operations), then one event per batch.
    let owner = f.owner().await;
    for (schema, mode, batch_size) in [
        ("set_based", ApplyMode::SetBased, 10_000),
        ("one_by_one", ApplyMode::OneByOne, 10_000),
        ("single_events", ApplyMode::SetBased, 1),
    ] {
        let scratch: ScratchSchema = schema.parse().unwrap();
        create_scratch(owner.pool(), &scratch, false).await.unwrap();
        for m in READ_MODELS {
            let options = ReplayOptions {
                batch_size,
                mode,
                ..ReplayOptions::default()
            };
            let report = within(DEADLINE, "replay", m.replay(&owner, &scratch, now, options))
                .await
                .unwrap();
            assert_eq!((report.checkpoint, report.parked), (now, 0), "{report}");
        }
        assert_eq!(
            f.scratch_digests(schema).await,
            live,
            "{mode:?} in batches of {batch_size} builds the live read models"
        );
    }
}

#[tokio::test]
async fn replay_as_of_a_timestamp_uses_the_notary_fence_at_that_time() {
    let mut f = Fixture::regions().await;
    let first = f.first_part().await;
    let t1 = f.project_to_head().await;
    let at_t1 = f.live_digests().await;
    let cp1 = f.checkpoint().await;
    assert_eq!(
        cp1.token, t1,
        "the first checkpoint covers the log up to T1"
    );
    f.second_part(&first).await;
    let t2 = head(f.store()).await;
    let cp2 = f.checkpoint().await;
    assert_eq!(cp2.token, t2);
    assert!(cp2.signed_at > cp1.signed_at);

    // A time after the first checkpoint and before the second: the fence then was the first.
    let between = cp1.signed_at + (cp2.signed_at - cp1.signed_at) / 2;
    let as_of = between.to_rfc3339_opts(SecondsFormat::Micros, true);
    let url = f.owner_url();
    let (code, out, error) = audit(&[
        "replay",
        "--database-url",
        &url,
        "--as-of",
        &as_of,
        "--into",
        "audit_at",
    ])
    .await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}{error:?}");
    assert!(
        out.contains(&format!("checkpoint {}", cp1.sequence))
            && out.contains(&format!("token {t1}")),
        "{out}"
    );
    assert_eq!(
        f.scratch_digests("audit_at").await,
        at_t1,
        "replay as of the first checkpoint's time equals the read models at T1"
    );

    // Exactly the first checkpoint's signing time is the same moment.
    let exact = cp1.signed_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let (code, out, error) = audit(&[
        "replay",
        "--database-url",
        &url,
        "--as-of",
        &exact,
        "--into",
        "audit_at",
        "--replace",
        "--projector",
        "coverage",
    ])
    .await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}{error:?}");
    let owner = f.owner().await;
    let scratch: ScratchSchema = "audit_at".parse().unwrap();
    assert_eq!(
        replay::replayed(owner.pool(), &scratch).await.unwrap(),
        vec!["coverage".to_owned()],
        "--replace starts the scratch schema afresh"
    );
    assert_eq!(
        scratch_digest(owner.pool(), &CoverageProjector, &scratch)
            .await
            .unwrap(),
        at_t1[CoverageProjector::ID]
    );
}

#[tokio::test]
async fn bad_replay_inputs_are_refused_naming_the_argument_and_create_nothing() {
    // Refused by the argument parser (exit 2 in the binary), before any connection.
    let replay = |as_of: &str, into: &str| {
        parse_error(&[
            "replay",
            "--database-url",
            "postgres://nowhere/none",
            "--as-of",
            as_of,
            "--into",
            into,
        ])
    };
    for as_of in ["yesterday", "12", "1.-3", "2024-13-01T00:00:00Z", ""] {
        let error = replay(as_of, "audit_x").unwrap_or_else(|| panic!("{as_of:?} parsed"));
        assert!(error.contains("--as-of"), "{as_of:?}: {error}");
    }
    for into in [
        "public",
        "x;drop",
        "pg_temp",
        "Audit",
        "1st",
        "shadow_coverage",
        "",
    ] {
        let error = replay("now", into).unwrap_or_else(|| panic!("{into:?} parsed"));
        assert!(error.contains("--into"), "{into:?}: {error}");
    }
    let error = parse_error(&[
        "diff",
        "--database-url",
        "postgres://nowhere/none",
        "--schema",
        "public",
    ])
    .unwrap();
    assert!(error.contains("--schema"), "{error}");
    assert!(replay("now", "audit_ok").is_none());

    // Refused against the database, before anything is created.
    let f = Fixture::regions().await;
    let url = f.owner_url();
    let run = |as_of: String, into: &'static str| {
        let url = url.clone();
        async move {
            audit(&[
                "replay",
                "--database-url",
                &url,
                "--as-of",
                &as_of,
                "--into",
                into,
            ])
            .await
        }
    };
    let (code, _, error) = run("2024-06-01T00:00:00Z".to_owned(), "audit_early").await;
    assert_eq!(code, ExitCode::from(2));
    let error = error.unwrap();
    assert!(
        error.contains("--as-of") && error.contains("no notary checkpoint"),
        "{error}"
    );
    let cp = f.checkpoint().await;
    let before = (cp.signed_at - chrono::Duration::hours(1)).to_rfc3339();
    let (code, _, error) = run(before, "audit_early").await;
    assert_eq!(code, ExitCode::from(2));
    let error = error.unwrap();
    assert!(
        error.contains("--as-of") && error.contains("the first, checkpoint 1, was signed at"),
        "a time before the first checkpoint: {error}"
    );
    assert!(!f.schema_exists("audit_early").await, "nothing created");

    let (code, _, error) = run("9000000000000000000.1".to_owned(), "audit_future").await;
    assert_eq!(code, ExitCode::from(2));
    let error = error.unwrap();
    assert!(
        error.contains("--as-of") && error.contains("not final"),
        "a token beyond the committed log: {error}"
    );
    assert!(!f.schema_exists("audit_future").await, "nothing created");

    let (code, _, error) = run("now".to_owned(), "select").await;
    assert_eq!(code, ExitCode::from(2));
    let error = error.unwrap();
    assert!(
        error.contains("--into") && error.contains("keyword"),
        "{error}"
    );
    assert!(!f.schema_exists("select").await);

    // A schema a replay did not create is never replaced.
    let owner = f.db.owner_pool().await.unwrap();
    sqlx::query("CREATE SCHEMA kept")
        .execute(&owner)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE kept.notes (n int)")
        .execute(&owner)
        .await
        .unwrap();
    let url2 = f.owner_url();
    let (code, _, error) = audit(&[
        "replay",
        "--database-url",
        &url2,
        "--as-of",
        "now",
        "--into",
        "kept",
        "--replace",
    ])
    .await;
    assert_eq!(code, ExitCode::from(2));
    let error = error.unwrap();
    assert!(
        error.contains("--into") && error.contains("not created by a replay"),
        "{error}"
    );
    let kept: bool = sqlx::query_scalar("SELECT to_regclass('kept.notes') IS NOT NULL")
        .fetch_one(&owner)
        .await
        .unwrap();
    assert!(kept, "the schema is left alone");

    // A replay into an existing scratch schema needs --replace.
    let (code, out, error) = run("now".to_owned(), "audit_twice").await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}{error:?}");
    let (code, _, error) = run("now".to_owned(), "audit_twice").await;
    assert_eq!(code, ExitCode::from(2));
    let error = error.unwrap();
    assert!(
        error.contains("--into") && error.contains("already exists"),
        "{error}"
    );

    // diff of a schema no replay made.
    let (code, _, error) =
        audit(&["diff", "--database-url", &url2, "--schema", "never_made"]).await;
    assert_eq!(code, ExitCode::from(2));
    let error = error.unwrap();
    assert!(
        error.contains("--schema") && error.contains("does not exist"),
        "{error}"
    );
}

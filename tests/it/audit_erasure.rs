//! Erasure that keeps the proof (#6): after EraseVolunteer the person's data key is gone, yet `verify`
//! still passes, the read models count the same, and the person's plaintext is nowhere — not in the
//! log, the read models, any table, an exported bundle or the log lines written meanwhile.

use std::io::Write;
use std::sync::{Arc, Mutex};

use app::{RegisterVolunteerInput, Role, VolunteerInput};
use clap::Parser;
use domain::identity::DocumentKind;
use domain::ids::VolunteerId;
use domain::volunteer::{Attestation, EraseVolunteer, JoinTeam, ReserveTier, VolunteerCommand};
use notary::{Notary, NotaryConfig, NotaryKey};
use projections::{
    A1_PER_100K, ComplianceProjector, CoverageProjector, FrequencyProjector, SummaryBoardProjector,
    coverage,
};

use crate::rebuild::{Fixture, cdc, record};
use crate::support::{code, ctx, date, resident_id, text};

const NAME: &str = "抹除测试员欧阳";
const PHONE: &str = "13912345678";

/// Every log line written on this test's thread (the tokio test runtime is single-threaded, so the
/// service code under test logs here), at TRACE.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn assert_no_plaintext(place: &str, haystack: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !haystack.contains(s),
            "{place} contains the erased person's plaintext {s:?}"
        );
    }
}

async fn run_cli(args: &[&str]) -> (std::process::ExitCode, String) {
    let mut out = Vec::new();
    let code = ledger_audit::run(ledger_audit::Cli::try_parse_from(args).unwrap(), &mut out)
        .await
        .unwrap();
    (code, String::from_utf8(out).unwrap())
}

async fn project_all(f: &Fixture) {
    f.project(CoverageProjector).await;
    f.project(ComplianceProjector).await;
    f.project(FrequencyProjector).await;
    f.project(SummaryBoardProjector).await;
}

/// Every row of every table of the database as text (the log, the read models, the vault, claims, …).
async fn every_row_as_text(pool: &sqlx::PgPool) -> String {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(tables.iter().any(|t| t == "public.events"));
    let mut all = String::new();
    for t in tables {
        // Table names come from the catalog, quoted by format('%I').
        let rows: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT t::text FROM {t} AS t")))
                .fetch_all(pool)
                .await
                .unwrap();
        all.push_str(&rows.join("\n"));
    }
    all
}

#[tokio::test]
async fn erasure_keeps_the_proof_and_the_counts_and_leaves_no_plaintext_anywhere() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let document = resident_id("330602", "19850611", "217");
    let secrets = [NAME, PHONE, document.as_str()];

    let mut f = Fixture::new(&["330602"]).await;
    f.define_campaign().await;
    f.population("330602", 20_000).await;
    let team = f.team("330602").await;
    let other = f.member("330602", team).await;
    let erased = VolunteerId(uuid::Uuid::new_v4());
    let register = RegisterVolunteerInput {
        volunteer: erased,
        document_kind: DocumentKind::ResidentIdCard,
        document_number: document.clone(),
        declared_birth_date: None,
        name: NAME.to_owned(),
        phone: Some(PHONE.to_owned()),
        home_region: code("330602"),
        attestation: Attestation {
            law_abiding: true,
            capable: true,
            understands_tb_core_messages: true,
        },
        skills: vec![text("外语")],
        reserve_tier: ReserveTier::None,
        registered_on: date(2024, 1, 15),
    };
    f.ledger
        .volunteer(&cdc("330602"), VolunteerInput::Register(register))
        .await
        .unwrap();
    let join = VolunteerCommand::JoinTeam(JoinTeam {
        team,
        joined_on: date(2024, 1, 20),
    });
    f.ledger
        .volunteer(
            &cdc("330602"),
            VolunteerInput::Other {
                volunteer: erased,
                command: join,
            },
        )
        .await
        .unwrap();
    record(
        &f.ledger,
        "330602",
        team,
        date(2024, 3, 24),
        &[erased, other],
    )
    .await;
    let reader = ctx(Role::CountyCdc, &["330602"], &[]).actor;
    let before_view = f.ledger.volunteer_view(&reader, erased).await.unwrap();
    assert!(!before_view.erased);
    assert!(
        before_view.masked_name.is_some(),
        "the person is readable before"
    );

    project_all(&f).await;
    let evaluated = |f: &Fixture| {
        let pool = f.store().pool().clone();
        async move {
            coverage(&pool, code("330602"), date(2024, 12, 31), A1_PER_100K)
                .await
                .unwrap()
        }
    };
    let counts_before = evaluated(&f).await;
    assert_eq!(
        (
            counts_before.registered_volunteers,
            counts_before.active_volunteers
        ),
        (2, 2)
    );

    let key_dir = tempdir();
    let private = key_dir.join("notary.pem");
    let public = key_dir.join("notary.pub");
    let key = NotaryKey::generate().unwrap();
    std::fs::write(&private, key.to_pem().unwrap()).unwrap();
    std::fs::write(&public, key.public().to_pem().unwrap()).unwrap();
    let notary = Notary::new(
        f.store().clone(),
        Arc::new(key),
        NotaryConfig {
            every_events: 5,
            ..NotaryConfig::default()
        },
    );
    let covered_before = notary.run_once().await.unwrap().unwrap();

    // The erasure.
    let erase = VolunteerCommand::Erase(EraseVolunteer {
        reason: text("本人申请删除个人信息"),
    });
    f.ledger
        .volunteer(
            &cdc("330602"),
            VolunteerInput::Other {
                volunteer: erased,
                command: erase,
            },
        )
        .await
        .unwrap();
    project_all(&f).await;
    let covered_after = notary.run_once().await.unwrap().unwrap();
    assert!(covered_after.sequence > covered_before.sequence);

    // The person is unreadable; the counts are the same.
    let view = f.ledger.volunteer_view(&reader, erased).await.unwrap();
    assert!(view.erased);
    assert_eq!(
        (
            view.masked_name,
            view.masked_document_number,
            view.masked_phone
        ),
        (None, None, None)
    );
    let counts_after = evaluated(&f).await;
    assert_eq!(
        (
            counts_after.registered_volunteers,
            counts_after.active_volunteers,
            counts_after.passes
        ),
        (
            counts_before.registered_volunteers,
            counts_before.active_volunteers,
            counts_before.passes
        ),
        "erasure must not change the statistics"
    );

    // The proof still holds: every chain, the digest and both checkpoints.
    let url = f.db.app_url();
    let public_arg = public.to_str().unwrap();
    let (code_verify, report) = run_cli(&[
        "ledger-audit",
        "verify",
        "--database-url",
        &url,
        "--public-key",
        public_arg,
    ])
    .await;
    assert_eq!(code_verify, std::process::ExitCode::SUCCESS, "{report}");
    assert!(report.contains("OK"), "{report}");

    // No plaintext anywhere: the database (every table, the log included), an exported bundle, the
    // audit tool's output and every log line written during the test.
    assert_no_plaintext(
        "the database",
        &every_row_as_text(&f.db.owner_pool().await.unwrap()).await,
        &secrets,
    );
    let bundle = key_dir.join("bundle");
    let (code_export, exported) = run_cli(&[
        "ledger-audit",
        "export",
        "--database-url",
        &url,
        "--public-key",
        public_arg,
        "--out",
        bundle.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code_export, std::process::ExitCode::SUCCESS, "{exported}");
    let mut files = 0;
    for entry in std::fs::read_dir(&bundle).unwrap() {
        let path = entry.unwrap().path();
        let content = std::fs::read(&path).unwrap();
        assert_no_plaintext(
            &path.display().to_string(),
            &String::from_utf8_lossy(&content),
            &secrets,
        );
        files += 1;
    }
    assert!(files >= 3, "the bundle has its files");
    let (code_bundle, bundle_report) = run_cli(&[
        "ledger-audit",
        "verify",
        "--bundle",
        bundle.to_str().unwrap(),
        "--public-key",
        public_arg,
    ])
    .await;
    assert_eq!(
        code_bundle,
        std::process::ExitCode::SUCCESS,
        "{bundle_report}"
    );
    assert_no_plaintext(
        "the audit reports",
        &format!("{report}{exported}{bundle_report}"),
        &secrets,
    );
    let logged = logs.text();
    assert!(
        logged.contains("command applied"),
        "the capture saw the service's log lines (every command logs one)"
    );
    assert_no_plaintext("the log lines", &logged, &secrets);
    std::fs::remove_dir_all(&key_dir).unwrap();
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vl-erasure-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

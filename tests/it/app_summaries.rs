//! The application layer on annual summaries (A16): the campaign's deadline decides timeliness by the
//! service's receipt time; only the county's own health bureau approves; the city accepts once.

use app::{ErrorCode, Role};
use chrono::{DateTime, NaiveDate, Utc};
use domain::campaign::{CampaignCommand, DefineCampaign, RuleSet};
use domain::ids::{CampaignId, RegionCode, Text};
use domain::summary::{
    AcceptSummary, ApproveSummary, CountyYear, DraftSummary, SubmitForApproval, SubmitToCity,
    SummaryCommand, SummarySections,
};

use crate::support::{TestLedger, count_events, ctx, ledger};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().into()
}

fn text(s: &str) -> Text {
    Text::parse("t", s, 1000).unwrap()
}

async fn with_campaign() -> TestLedger {
    let campaign = CampaignId(uuid::Uuid::new_v4());
    let t = ledger(campaign).await;
    let define = CampaignCommand::Define(DefineCampaign {
        campaign,
        name: text("绍兴市“百千万”结核病防治志愿服务活动"),
        city: RegionCode::parse("city", "330600").unwrap(),
        window_start: NaiveDate::from_ymd_opt(2023, 12, 1).unwrap(),
        window_end: NaiveDate::from_ymd_opt(2025, 3, 31).unwrap(),
        rules: RuleSet::baiqianwan(vec![]),
    });
    t.ledger
        .campaign_command(&ctx(Role::CityCdc, &["330600"], &[]), campaign, define)
        .await
        .unwrap();
    t
}

fn key(county: &str, year: i32) -> CountyYear {
    CountyYear::new(
        "summary",
        RegionCode::parse("county", county).unwrap(),
        year,
    )
    .unwrap()
}

async fn approved(t: &TestLedger, county: &str, year: i32) {
    let k = key(county, year);
    let cdc = || ctx(Role::CountyCdc, &[county], &[]);
    let sections = SummarySections {
        team_buildup: text("建立志愿服务队伍12支，志愿者130人"),
        support: text("经费5万元，工作计划已印发"),
        activities: text("开展活动36次"),
        effect: text("核心知识知晓率提升"),
    };
    t.ledger
        .summary(
            &cdc(),
            SummaryCommand::Draft(DraftSummary {
                summary: k,
                sections,
                typical_cases: vec![],
            }),
        )
        .await
        .unwrap();
    t.ledger
        .summary(
            &cdc(),
            SummaryCommand::SubmitForApproval(SubmitForApproval { summary: k }),
        )
        .await
        .unwrap();
    let bureau = ctx(Role::HealthBureauApprover, &[county], &[]);
    t.ledger
        .summary(
            &bureau,
            SummaryCommand::Approve(ApproveSummary { summary: k }),
        )
        .await
        .unwrap();
}

async fn submitted_on_time(t: &TestLedger, stream: &str) -> Option<bool> {
    let payload: String = sqlx::query_scalar(
        "SELECT payload::text FROM events WHERE stream_id = $1 AND event_type = 'SummarySubmittedToCity' ORDER BY stream_version LIMIT 1",
    )
    .bind(stream)
    .fetch_one(t.ledger.store().pool())
    .await
    .unwrap();
    serde_json::from_str::<serde_json::Value>(&payload).unwrap()["on_time"].as_bool()
}

#[tokio::test]
async fn a16_a_health_bureau_cannot_approve_another_countys_summary() {
    let t = with_campaign().await;
    let k = key("330602", 2024);
    let cdc = ctx(Role::CountyCdc, &["330602"], &[]);
    let sections = SummarySections {
        team_buildup: text("a"),
        support: text("b"),
        activities: text("c"),
        effect: text("d"),
    };
    t.ledger
        .summary(
            &cdc,
            SummaryCommand::Draft(DraftSummary {
                summary: k,
                sections,
                typical_cases: vec![],
            }),
        )
        .await
        .unwrap();
    t.ledger
        .summary(
            &ctx(Role::CountyCdc, &["330602"], &[]),
            SummaryCommand::SubmitForApproval(SubmitForApproval { summary: k }),
        )
        .await
        .unwrap();
    let before = count_events(t.ledger.store()).await;
    let other_bureau = ctx(Role::HealthBureauApprover, &["330603"], &[]);
    let err = t
        .ledger
        .summary(
            &other_bureau,
            SummaryCommand::Approve(ApproveSummary { summary: k }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    // Nor may the county CDC approve its own summary.
    let err = t
        .ledger
        .summary(
            &ctx(Role::CountyCdc, &["330602"], &[]),
            SummaryCommand::Approve(ApproveSummary { summary: k }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert_eq!(count_events(t.ledger.store()).await, before);
}

#[tokio::test]
async fn a16_submission_at_2359_on_5_january_shanghai_is_on_time_and_at_0001_on_6_january_is_late()
{
    let t = with_campaign().await;
    approved(&t, "330602", 2024).await;
    approved(&t, "330603", 2024).await;
    t.clock.set(at("2025-01-05T23:59:00+08:00"));
    t.ledger
        .summary(
            &ctx(Role::CountyCdc, &["330602"], &[]),
            SummaryCommand::SubmitToCity(SubmitToCity {
                summary: key("330602", 2024),
            }),
        )
        .await
        .unwrap();
    t.clock.set(at("2025-01-06T00:01:00+08:00"));
    let late = t
        .ledger
        .summary(
            &ctx(Role::CountyCdc, &["330603"], &[]),
            SummaryCommand::SubmitToCity(SubmitToCity {
                summary: key("330603", 2024),
            }),
        )
        .await;
    assert!(
        late.is_ok(),
        "a late submission is accepted, never rejected: {late:?}"
    );
    assert_eq!(
        submitted_on_time(&t, "summary-330602-2024").await,
        Some(true)
    );
    assert_eq!(
        submitted_on_time(&t, "summary-330603-2024").await,
        Some(false)
    );
    // The city accepts once; a second acceptance is refused and writes nothing.
    let city = || ctx(Role::CityCdc, &["330600"], &[]);
    t.ledger
        .summary(
            &city(),
            SummaryCommand::Accept(AcceptSummary {
                summary: key("330603", 2024),
            }),
        )
        .await
        .unwrap();
    let before = count_events(t.ledger.store()).await;
    let err = t
        .ledger
        .summary(
            &city(),
            SummaryCommand::Accept(AcceptSummary {
                summary: key("330603", 2024),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.rule.as_deref()),
        (ErrorCode::RuleViolation, Some("A16"))
    );
    assert_eq!(count_events(t.ledger.store()).await, before);
}

#[tokio::test]
async fn a14_a_summary_for_a_year_outside_the_campaign_window_is_refused() {
    let t = with_campaign().await;
    let sections = SummarySections {
        team_buildup: text("a"),
        support: text("b"),
        activities: text("c"),
        effect: text("d"),
    };
    let before = count_events(t.ledger.store()).await;
    let err = t
        .ledger
        .summary(
            &ctx(Role::CountyCdc, &["330602"], &[]),
            SummaryCommand::Draft(DraftSummary {
                summary: key("330602", 2026),
                sections,
                typical_cases: vec![],
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.rule.as_deref(), Some("A14"), "{err:?}");
    assert_eq!(count_events(t.ledger.store()).await, before);
}

/// A16 with retries: a submission retried after the summary moved on (accepted, so the command itself
/// would now be refused) answers the first outcome and writes nothing; the same step under a new key is
/// refused.
#[tokio::test]
async fn a16_a_retried_submission_returns_the_first_outcome_even_after_the_summary_moved_on() {
    let t = with_campaign().await;
    approved(&t, "330602", 2024).await;
    let k = key("330602", 2024);
    let submit = ctx(Role::CountyCdc, &["330602"], &[]);
    let cmd = || SummaryCommand::SubmitToCity(SubmitToCity { summary: k });
    let first = t.ledger.summary(&submit, cmd()).await.unwrap();
    assert!(!first.replayed);
    let city = ctx(Role::CityCdc, &["330600"], &[]);
    t.ledger
        .summary(&city, SummaryCommand::Accept(AcceptSummary { summary: k }))
        .await
        .unwrap();
    let before = count_events(t.ledger.store()).await;
    let retried = t.ledger.summary(&submit, cmd()).await.unwrap();
    assert!(retried.replayed);
    assert_eq!(
        (retried.token, retried.version),
        (first.token, first.version)
    );
    let again = ctx(Role::CountyCdc, &["330602"], &[]);
    let err = t.ledger.summary(&again, cmd()).await.unwrap_err();
    assert_ne!(err.code, ErrorCode::Internal, "{err:?}");
    assert_eq!(count_events(t.ledger.store()).await, before);
}

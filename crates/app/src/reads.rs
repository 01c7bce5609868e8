//! Queries of the read models, with read-your-writes.
//!
//! Policy of this module:
//! - **Read-your-writes by token.** A write answers with the token of what it wrote; a read may pass it as
//!   `min_token` and then waits until the projector serving that read has passed it — at most
//!   [`ReadModels::max_wait`], after which the answer is `Unavailable` ("not caught up yet, retry"),
//!   never a stale answer silently presented as fresh.
//! - **Scope.** A region query needs the actor's scope to cover the region (partners need the
//!   `ReadReports` grant as well); team-scoped roles cannot query region figures.
//! - Read models never hold personal data; nothing here decrypts.
//! - **Coverage answers are kept** per (region, date) while the coverage projector's checkpoint, as this
//!   process sees it, is unchanged ([`crate::answers`]; at most [`COVERAGE_ANSWER_MAX_AGE`]): the read
//!   model only changes when the checkpoint moves, and `min_token` waits come first.
//! - **Thresholds come from the configured campaign** (`Campaign::rules_on(date)`), never from an adapter.
//! - **Bad input names its field** (`date`, `to`, `year`, `group_by`, `cursor`, …) and is a 400, never a
//!   500. Database failures are `Internal` ("internal error" only at the boundary).
//! - **Long lists are paged by an offset cursor** ([`page`]) over the read model's deterministic order;
//!   each answer states the checkpoint (`as_of`) it reflects, so a client can pin later pages with
//!   `min_token = as_of`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Months, NaiveDate};
use domain::campaign::RuleSet;
use domain::ids::RegionCode;
use eventstore::Token;
/// The read models' answers, for the adapters (which do not depend on `projections`).
pub use projections::{
    BoardRow, Compliance, Coverage, Figures, Frequency, FrequencyGrouping, FrequencyRow,
    HostWithoutTeam, SummaryBoard, TeamShortfall, Timeliness, VolunteerShortfall,
};
use projections::{Progress, WaitError};
use serde::Serialize;
use tokio::sync::watch;

use crate::actor::{Actor, Role, covers};
use crate::answers::Answers;
use crate::error::{AppError, ErrorCode};
use crate::ledger::Ledger;

/// The grant that lets a partner query reports.
pub const READ_REPORTS_GRANT: &str = "ReadReports";

/// The largest page of a report's list.
pub const MAX_REPORT_PAGE: usize = 1000;

/// Years a summary board may be asked for.
pub const BOARD_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// The read models this process can answer from, with the progress of each projector. Cheap to clone
/// (every request's state holds one).
#[derive(Clone)]
pub struct ReadModels {
    ledger: Ledger,
    progress: Arc<BTreeMap<&'static str, watch::Receiver<Progress>>>,
    max_wait: Duration,
    /// Coverage answers by (region, date), kept while the coverage checkpoint is unchanged.
    coverage_answers: Arc<Answers<(RegionCode, NaiveDate), Arc<Coverage>>>,
}

/// Coverage answers kept at most (regions × dates asked about).
pub const COVERAGE_ANSWERS: usize = 4096;

/// How long a coverage answer is reused at most, even when the checkpoint has not moved.
pub const COVERAGE_ANSWER_MAX_AGE: Duration = Duration::from_secs(1);

impl std::fmt::Debug for ReadModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModels")
            .field("projectors", &self.progress.keys().collect::<Vec<_>>())
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

impl ReadModels {
    /// `progress` maps projector ids to their runners' progress (`Runner::progress`).
    pub fn new(
        ledger: Ledger,
        progress: BTreeMap<&'static str, watch::Receiver<Progress>>,
        max_wait: Duration,
    ) -> Self {
        Self {
            ledger,
            progress: Arc::new(progress),
            max_wait,
            coverage_answers: Arc::new(Answers::new(COVERAGE_ANSWERS, COVERAGE_ANSWER_MAX_AGE)),
        }
    }

    pub(crate) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// The checkpoint of a projector as this process last saw it.
    pub fn checkpoint(&self, projector: &str) -> Option<Token> {
        self.progress.get(projector).map(|p| p.borrow().checkpoint)
    }

    /// Wait until `projector` has passed `min_token` (no wait without one).
    pub async fn caught_up(
        &self,
        projector: &str,
        min_token: Option<Token>,
    ) -> Result<(), AppError> {
        let Some(wanted) = min_token else {
            return Ok(());
        };
        let Some(rx) = self.progress.get(projector) else {
            return Err(AppError::internal(
                "read models",
                &format!("projector {projector} is not running in this process"),
            ));
        };
        let mut rx = rx.clone();
        let waited = tokio::time::timeout(self.max_wait, rx.wait_for(|p| p.checkpoint >= wanted))
            .await
            .map(|r| r.map(|p| p.checkpoint));
        let reached = rx.borrow().checkpoint;
        let err = match waited {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(_)) => WaitError::RunnerGone { wanted, reached },
            Err(_) => WaitError::Timeout { wanted, reached },
        };
        Err(AppError {
            code: ErrorCode::Unavailable,
            rule: None,
            field: Some("min_token".into()),
            message: format!("the {projector} read model has not caught up yet ({err}); retry"),
        })
    }

    /// Coverage (A1/A2) of `region` on `date`.
    #[tracing::instrument(name = "reads.coverage", skip_all, fields(region = %region, %date))]
    pub async fn coverage(
        &self,
        actor: &Actor,
        region: RegionCode,
        date: NaiveDate,
        min_token: Option<Token>,
    ) -> Result<Arc<Coverage>, AppError> {
        may_read_region(actor, &region)?;
        let id = projections::CoverageProjector::ID;
        self.caught_up(id, min_token).await?;
        let compute = || async {
            let campaign = self.ledger.campaign().await?;
            let required = campaign
                .rules_on(date)
                .or_else(|| campaign.versions().first())
                .map_or(projections::A1_PER_100K, |v| v.rules.coverage_per_100k);
            projections::coverage(self.ledger.store().pool(), region, date, required)
                .await
                .map(Arc::new)
                .map_err(|e| AppError::internal("coverage query", &e))
        };
        // The campaign's rules change by an event, which moves the checkpoint too.
        match self.checkpoint(id) {
            Some(checkpoint) => {
                self.coverage_answers
                    .get_or_compute((region, date), checkpoint, compute)
                    .await
            }
            None => compute().await,
        }
    }

    /// Compliance (A3–A6) of `region` on `date`, judged by the campaign's rules in force on the date.
    #[tracing::instrument(name = "reads.compliance", skip_all, fields(region = %region, %date))]
    pub async fn compliance(
        &self,
        actor: &Actor,
        region: RegionCode,
        date: NaiveDate,
        min_token: Option<Token>,
    ) -> Result<Compliance, AppError> {
        may_read_region(actor, &region)?;
        self.caught_up(projections::ComplianceProjector::ID, min_token)
            .await?;
        let campaign = self.ledger.campaign().await?;
        let rules: RuleSet = campaign
            .rules_on(date)
            .or_else(|| campaign.versions().first())
            .map(|v| v.rules.clone())
            .ok_or_else(|| AppError::not_found("campaign", "the campaign has no rules"))?;
        projections::compliance(self.ledger.store().pool(), region, date, &rules)
            .await
            .map_err(|e| AppError::internal("compliance query", &e))
    }

    /// Activity frequency and reach (A13/A17) of `region` over `from..=to` (at most a year), grouped.
    #[tracing::instrument(name = "reads.frequency", skip_all, fields(region = %region, %from, %to))]
    pub async fn frequency(
        &self,
        actor: &Actor,
        region: RegionCode,
        from: NaiveDate,
        to: NaiveDate,
        grouping: FrequencyGrouping,
        min_token: Option<Token>,
    ) -> Result<Frequency, AppError> {
        check_range(from, to)?;
        may_read_region(actor, &region)?;
        self.caught_up(projections::FrequencyProjector::ID, min_token)
            .await?;
        projections::frequency(self.ledger.store().pool(), region, from, to, grouping)
            .await
            .map_err(|e| AppError::internal("frequency query", &e))
    }

    /// The A16 summary board of `year`, restricted to the counties `region` (a county, or the city)
    /// covers, judged at the ledger's clock.
    #[tracing::instrument(name = "reads.summary_board", skip_all, fields(region = %region, year))]
    pub async fn summary_board(
        &self,
        actor: &Actor,
        region: RegionCode,
        year: i32,
        min_token: Option<Token>,
    ) -> Result<SummaryBoard, AppError> {
        if !BOARD_YEARS.contains(&year) {
            return Err(AppError::invalid(
                "year",
                format!(
                    "must be a year from {} to {}",
                    BOARD_YEARS.start(),
                    BOARD_YEARS.end()
                ),
            ));
        }
        may_read_region(actor, &region)?;
        self.caught_up(projections::SummaryBoardProjector::ID, min_token)
            .await?;
        let campaign = self.ledger.campaign().await?;
        let now = self.ledger.now();
        let mut board =
            projections::summary_board(self.ledger.store().pool(), &campaign, year, now)
                .await
                .map_err(|e| AppError::internal("summary board query", &e))?;
        board.rows.retain(|r| covers(&region, &r.county));
        Ok(board)
    }
}

/// `from..=to` is a range of at most one year (`to` before the same day a year after `from`).
pub fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), AppError> {
    if to < from {
        return Err(AppError::invalid("to", "must not be before from"));
    }
    let limit = from
        .checked_add_months(Months::new(12))
        .ok_or_else(|| AppError::invalid("from", "is out of range"))?;
    if to >= limit {
        return Err(AppError::invalid(
            "to",
            format!("the range spans at most one year: to must be before {limit}"),
        ));
    }
    Ok(())
}

/// The dimensions of [`FrequencyGrouping`] by name, in the order rows are sorted.
pub const FREQUENCY_DIMENSIONS: [&str; 5] = ["team", "region", "month", "kind", "key_day"];

/// A comma-separated list of dimensions (`team,month,kind,key_day,region`; empty: totals only).
pub fn parse_grouping(field: &str, s: &str) -> Result<FrequencyGrouping, AppError> {
    let mut g = FrequencyGrouping::TOTALS;
    for d in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        set_dimension(field, &mut g, d)?;
    }
    Ok(g)
}

/// Add the dimension named `d` to `g`.
pub fn set_dimension(field: &str, g: &mut FrequencyGrouping, d: &str) -> Result<(), AppError> {
    let slot = match d {
        "team" => &mut g.team,
        "region" => &mut g.region,
        "month" => &mut g.month,
        "kind" => &mut g.kind,
        "key_day" => &mut g.key_day,
        other => {
            return Err(AppError::invalid(
                field,
                format!(
                    "{other:?} is not a dimension (one of {})",
                    FREQUENCY_DIMENSIONS.join(", ")
                ),
            ));
        }
    };
    *slot = true;
    Ok(())
}

/// The names of the dimensions of `g`, in [`FREQUENCY_DIMENSIONS`] order.
pub fn grouping_names(g: FrequencyGrouping) -> Vec<&'static str> {
    let on = [g.team, g.region, g.month, g.kind, g.key_day];
    FREQUENCY_DIMENSIONS
        .iter()
        .zip(on)
        .filter(|(_, on)| *on)
        .map(|(d, _)| *d)
        .collect()
}

/// One row of a compliance answer, flattened: A5 teams (by id), then A6 volunteers (by id), then A3/A4
/// host units (by id, A3 before A4) — the order pages follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComplianceFinding {
    Team(TeamShortfall),
    Volunteer(VolunteerShortfall),
    Host(HostWithoutTeam),
}

impl ComplianceFinding {
    /// The rule the row falls short of (`A3`…`A6`).
    pub fn rule(&self) -> String {
        match self {
            Self::Team(_) => domain::rules::A5.to_string(),
            Self::Volunteer(_) => domain::rules::A6.to_string(),
            Self::Host(h) => h.rule.to_string(),
        }
    }
}

/// Every row of `c`, in page order (see [`ComplianceFinding`]).
pub fn findings(c: &Compliance) -> Vec<ComplianceFinding> {
    c.teams_below_minimum
        .iter()
        .cloned()
        .map(ComplianceFinding::Team)
        .chain(
            c.volunteers_below_minimum
                .iter()
                .cloned()
                .map(ComplianceFinding::Volunteer),
        )
        .chain(
            c.hosts_without_team
                .iter()
                .cloned()
                .map(ComplianceFinding::Host),
        )
        .collect()
}

/// One page of a report's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the next page (`None`: this is the last one).
    pub next_cursor: Option<String>,
    /// How many items the whole list holds.
    pub total: u64,
}

/// The page of `all` starting at the offset `cursor` (empty or absent: the start), of at most `limit`
/// (1 to [`MAX_REPORT_PAGE`]) items. `cursor_field` / `limit_field` name the request's fields.
pub fn page<T>(
    all: Vec<T>,
    cursor_field: &str,
    cursor: Option<&str>,
    limit_field: &str,
    limit: usize,
) -> Result<Page<T>, AppError> {
    if !(1..=MAX_REPORT_PAGE).contains(&limit) {
        return Err(AppError::invalid(
            limit_field,
            format!("must be an integer from 1 to {MAX_REPORT_PAGE}"),
        ));
    }
    let offset = match cursor {
        None | Some("") => 0,
        Some(c) => c.parse::<usize>().map_err(|_| {
            AppError::invalid(
                cursor_field,
                "is not a cursor of this list (use next_cursor)",
            )
        })?,
    };
    let total = u64::try_from(all.len()).unwrap_or(u64::MAX);
    let end = offset.saturating_add(limit);
    let next_cursor = (end < all.len()).then(|| end.to_string());
    let items = all.into_iter().skip(offset).take(limit).collect();
    Ok(Page {
        items,
        next_cursor,
        total,
    })
}

/// The domain's persisted name of a value (its serde form): `"knowledge_publicity"`,
/// `"world_tb_day_03_24"`, `"awaiting_approval"`; a data-carrying variant as `name:value`
/// (`"tb_free_community_pilot:city"`).
pub fn report_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}:{s}"),
                other => format!("{k}:{other}"),
            })
            .collect::<Vec<_>>()
            .join(","),
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Region-level reports: region-scoped roles over their regions; partners with `ReadReports`.
pub fn may_read_region(actor: &Actor, region: &RegionCode) -> Result<(), AppError> {
    let allowed = match actor.role {
        Role::TeamLeader | Role::YouthLeague => false,
        Role::IntegrationPartner => {
            actor.grants.iter().any(|g| g == READ_REPORTS_GRANT) && actor.covers_region(region)
        }
        _ => actor.covers_region(region),
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "reports of region {region} are outside your scope"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn pages_walk_the_list_by_offset_and_name_their_fields() {
        let p = page((0..5).collect(), "cursor", None, "limit", 2).unwrap();
        assert_eq!(
            (p.items, p.next_cursor.as_deref(), p.total),
            (vec![0, 1], Some("2"), 5)
        );
        let p = page((0..5).collect(), "cursor", Some("4"), "limit", 2).unwrap();
        assert_eq!((p.items, p.next_cursor), (vec![4], None));
        let p = page(
            (0..5).collect::<Vec<i32>>(),
            "cursor",
            Some("9"),
            "limit",
            2,
        )
        .unwrap();
        assert!(p.items.is_empty() && p.next_cursor.is_none());
        let e = page(vec![1], "page_token", Some("x"), "page_size", 2).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("page_token"));
        let e = page(vec![1], "cursor", None, "limit", 0).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("limit"));
    }

    #[test]
    fn groupings_parse_by_name_and_reject_unknown_dimensions() {
        let g = parse_grouping("group_by", "team, month,key_day").unwrap();
        assert!(g.team && g.month && g.key_day && !g.kind && !g.region);
        assert_eq!(grouping_names(g), ["team", "month", "key_day"]);
        assert_eq!(
            parse_grouping("group_by", "").unwrap(),
            FrequencyGrouping::TOTALS
        );
        let e = parse_grouping("group_by", "team,week").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.field.as_deref(), Some("group_by"));
    }

    #[test]
    fn ranges_are_ordered_and_at_most_a_year() {
        assert!(check_range(d("2024-01-01"), d("2024-12-31")).is_ok());
        assert!(check_range(d("2024-03-05"), d("2024-03-05")).is_ok());
        let e = check_range(d("2024-03-05"), d("2024-03-04")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("to"));
        let e = check_range(d("2024-01-01"), d("2025-01-01")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("to"));
    }

    #[test]
    fn report_names_are_the_persisted_names() {
        use domain::host_unit::{HostUnitKind, PilotLevel};
        assert_eq!(
            report_name(&HostUnitKind::TbFreeCommunityPilot(PilotLevel::City)),
            "tb_free_community_pilot:city"
        );
        assert_eq!(
            report_name(&HostUnitKind::DesignatedTbHospital),
            "designated_tb_hospital"
        );
        assert_eq!(report_name(&domain::summary::SummaryStatus::Draft), "draft");
    }
}

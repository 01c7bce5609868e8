//! The city's annual evaluation (A1, A3–A6, A16, A17) assembled from the read models, and its files:
//! XLSX and CSV with Chinese headers and an SVG chart of coverage by county (`exports`).
//!
//! Policy of this module:
//! - **Same answers as the reports.** Every figure comes from the same read-model queries the report
//!   endpoints use ([`ReadModels::coverage`], `compliance`, `frequency`, `summary_board`), with the same
//!   scope checks and read-your-writes wait; nothing is recomputed here.
//! - **One region, its counties.** The region asked for (the city) is the total row; its counties are
//!   the counties of the summary board (every county of the campaign city, ordered by code) that the
//!   region covers. Names come from the region streams.
//! - The year is the evaluation date's calendar year, from 1 January up to the date (A2, A17).

use chrono::{Datelike, NaiveDate};
use domain::ids::RegionCode;
use domain::region::Region;
use domain::summary::SummaryStatus;
use eventstore::Token;
use exports::{Evaluation, PopulationFigure, RegionRow};
use projections::{FrequencyGrouping, Timeliness};

use crate::actor::Actor;
use crate::error::AppError;
use crate::reads::{BoardRow, ReadModels};

/// The file formats of the evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvaluationFormat {
    Xlsx,
    Csv,
    /// The coverage chart.
    Svg,
}

impl EvaluationFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Svg => "image/svg+xml",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Xlsx => "xlsx",
            Self::Csv => "csv",
            Self::Svg => "svg",
        }
    }
}

/// A rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationFile {
    pub format: EvaluationFormat,
    /// e.g. `evaluation-330600-2024-12-31.xlsx`.
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A16 as a Chinese label.
fn status_label(r: &BoardRow) -> String {
    let status = match r.status {
        SummaryStatus::NotDrafted => "未开始",
        SummaryStatus::Draft => "草稿",
        SummaryStatus::AwaitingApproval => "待审批",
        SummaryStatus::Approved => "已审批",
        SummaryStatus::ReturnedByBureau => "卫健局退回",
        SummaryStatus::SubmittedToCity => "已报送",
        SummaryStatus::ReturnedByCity => "市级退回",
        SummaryStatus::Accepted => "市级已接收",
    };
    let timeliness = match r.timeliness {
        Timeliness::NotDue => "",
        Timeliness::Missing => "（逾期未报）",
        Timeliness::OnTime { .. } => "（按时）",
        Timeliness::Late { .. } => "（逾期报送）",
    };
    format!("{status}{timeliness}")
}

impl ReadModels {
    async fn region_row(
        &self,
        actor: &Actor,
        region: RegionCode,
        date: NaiveDate,
        min_token: Option<Token>,
    ) -> Result<RegionRow, AppError> {
        let year_start = NaiveDate::from_ymd_opt(date.year(), 1, 1)
            .ok_or_else(|| AppError::invalid("date", "is out of range"))?;
        let coverage = self.coverage(actor, region, date, min_token).await?;
        let compliance = self.compliance(actor, region, date, min_token).await?;
        let frequency = self
            .frequency(
                actor,
                region,
                year_start,
                date,
                FrequencyGrouping::TOTALS,
                min_token,
            )
            .await?;
        let totals = frequency
            .rows
            .first()
            .map(|r| r.figures)
            .unwrap_or_default();
        let name = self
            .ledger()
            .load::<Region>(region.as_str())
            .await?
            .state
            .name()
            .map_or_else(|| region.as_str().to_owned(), |n| n.as_str().to_owned());
        Ok(RegionRow {
            code: region.as_str().to_owned(),
            name,
            population: coverage.population.as_ref().map(|p| PopulationFigure {
                count: p.count,
                year: p.year,
                source: p.source.clone(),
            }),
            registered_volunteers: coverage.registered_volunteers,
            per_100k: coverage.per_100k.map(|r| r.decimal(2)),
            passes: coverage.passes,
            shortfall: coverage.shortfall,
            active_volunteers: coverage.active_volunteers,
            teams: compliance.teams_checked,
            teams_below_minimum: compliance.teams_below_minimum.len() as u64,
            volunteers_below_minimum: compliance.volunteers_below_minimum.len() as u64,
            hosts_without_team: compliance.hosts_without_team.len() as u64,
            activities: totals.activities,
            participations: totals.participations,
            volunteer_minutes: totals.volunteer_minutes,
            people_reached: totals.people_reached,
            media_pieces: totals.media_pieces,
            summary_status: String::new(),
        })
    }

    /// The evaluation of `region` (normally the campaign city) and its counties on `date`.
    pub async fn evaluation(
        &self,
        actor: &Actor,
        region: RegionCode,
        date: NaiveDate,
        min_token: Option<Token>,
    ) -> Result<Evaluation, AppError> {
        let board = self
            .summary_board(actor, region, date.year(), min_token)
            .await?;
        let city = self.region_row(actor, region, date, min_token).await?;
        let mut counties = Vec::with_capacity(board.rows.len());
        for b in board.rows.iter().filter(|b| b.county != region) {
            let mut row = self.region_row(actor, b.county, date, min_token).await?;
            row.summary_status = status_label(b);
            counties.push(row);
        }
        let required = self
            .coverage(actor, region, date, None)
            .await
            .map(|c| c.required_per_100k)?;
        let as_of = [
            projections::CoverageProjector::ID,
            projections::ComplianceProjector::ID,
            projections::FrequencyProjector::ID,
            projections::SummaryBoardProjector::ID,
        ]
        .iter()
        .filter_map(|p| self.checkpoint(p))
        .min()
        .map_or_else(String::new, |t| t.to_string());
        Ok(Evaluation {
            city_code: region.as_str().to_owned(),
            city_name: city.name.clone(),
            date,
            required_per_100k: required,
            as_of,
            counties,
            city,
        })
    }

    /// The evaluation rendered as a file.
    #[tracing::instrument(name = "reads.evaluation_file", skip_all, fields(region = %region, %date, ?format))]
    pub async fn evaluation_file(
        &self,
        actor: &Actor,
        region: RegionCode,
        date: NaiveDate,
        format: EvaluationFormat,
        min_token: Option<Token>,
    ) -> Result<EvaluationFile, AppError> {
        let e = self.evaluation(actor, region, date, min_token).await?;
        let bytes = match format {
            EvaluationFormat::Xlsx => exports::to_xlsx(&e),
            EvaluationFormat::Csv => exports::to_csv(&e),
            EvaluationFormat::Svg => Ok(exports::coverage_svg(&e).into_bytes()),
        }
        .map_err(|err| AppError::internal("evaluation export", &err))?;
        Ok(EvaluationFile {
            format,
            file_name: format!(
                "evaluation-{}-{}.{}",
                region.as_str(),
                date,
                format.extension()
            ),
            bytes,
        })
    }
}

//! Reports from the read models, with read-your-writes (`min_token`: wait, bounded, then 503).
//!
//! Policy: coverage (A1/A2), compliance (A3–A6), activity frequency (A13/A17), the summary board
//! (A16), and the annual evaluation as XLSX/CSV/SVG files (`app::evaluation`). Scope is the app
//! layer's (`ReadModels`); this module only parses the query (every bad value a 400 naming its
//! parameter) and shapes the answer. Long lists — compliance findings and frequency rows —
//! are paged by `limit` / `cursor` (an offset over the read model's deterministic order,
//! `app::reads::page`), answering `next_cursor` and `has_more`; pass the answer's `as_of` as `min_token`
//! to page one state of the read model. Enumerated values are the domain's names
//! (`app::reads::report_name`).

use app::evaluation::EvaluationFormat;
use app::reads::{self, ComplianceFinding, Timeliness};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{limit, min_token, required_date, required_region};
use crate::RestState;
use crate::error::ApiError;
use crate::extract::{Caller, QueryParams};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(coverage))
        .routes(routes!(compliance))
        .routes(routes!(frequency))
        .routes(routes!(summary_board))
        .routes(routes!(evaluation))
}

/// The coverage query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoverageQuery {
    /// GB/T 2260 code of a county or the city.
    #[param(required = true, value_type = String, pattern = "^[1-9][0-9]{5}$")]
    pub region: Option<String>,
    /// Evaluation date (A2: 2024-12-31 for the campaign).
    #[param(required = true, value_type = String, format = Date)]
    pub date: Option<String>,
    /// A write's token: wait until the read model has passed it (bounded; 503 when it has not).
    pub min_token: Option<String>,
}

/// A resident population figure with its year and source.
#[derive(Debug, Serialize, ToSchema)]
pub struct PopulationDto {
    pub year: i32,
    pub count: u64,
    pub source: String,
}

/// A1/A2 coverage of a region on a date.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageDto {
    pub region: String,
    pub date: NaiveDate,
    /// Distinct members of active teams of the region on the date (A1's volunteers).
    pub registered_volunteers: u64,
    /// Of those, the ones with at least one participation in the date's year up to the date.
    pub active_volunteers: u64,
    /// The latest recorded population not after the date's year (`null`: none recorded).
    pub population: Option<PopulationDto>,
    /// The threshold (volunteers per 100 000 residents).
    pub required_per_100k: u32,
    /// Registered volunteers per 100 000 residents, two decimals, truncated.
    pub per_100k: Option<String>,
    /// Whether the region passes A1 (`null` without a population).
    pub passes: Option<bool>,
    /// Persons missing to pass.
    pub shortfall: Option<u64>,
    /// Events the projector has parked: when not 0, the figures may miss them.
    pub parked_events: u64,
    /// The read model's checkpoint the answer was computed from.
    pub as_of: String,
}

#[utoipa::path(get, path = "/api/v1/reports/coverage", tag = "reports", params(CoverageQuery),
    responses((status = 200, description = "Coverage of the region on the date", body = CoverageDto)))]
async fn coverage(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<CoverageQuery>,
) -> Result<Response, ApiError> {
    let code = required_region(q.region.as_deref())?;
    let date = required_date("date", q.date.as_deref())?;
    let min_token = min_token(q.min_token.as_deref())?;
    let answer = s.reads.coverage(&actor, code, date, min_token).await?;
    // A kept answer is rendered once (`crate::rendered`): the same bytes `Json(coverage_dto(…))` writes.
    let body = s.coverage_bodies().body((code, date), &answer, |c| {
        serde_json::to_vec(&coverage_dto(c))
            .map(Bytes::from)
            .map_err(|e| ApiError::from(app::AppError::internal("coverage body", &e)))
    })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

fn coverage_dto(c: &reads::Coverage) -> CoverageDto {
    CoverageDto {
        region: c.region.to_string(),
        date: c.date,
        registered_volunteers: c.registered_volunteers,
        active_volunteers: c.active_volunteers,
        population: c.population.as_ref().map(|p| PopulationDto {
            year: p.year,
            count: p.count,
            source: p.source.clone(),
        }),
        required_per_100k: c.required_per_100k,
        per_100k: c.per_100k.map(|p| p.decimal(2)),
        passes: c.passes,
        shortfall: c.shortfall,
        parked_events: c.parked_events,
        as_of: c.as_of.to_string(),
    }
}

/// The compliance query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComplianceQuery {
    /// GB/T 2260 code of a county or the city.
    #[param(required = true, value_type = String, pattern = "^[1-9][0-9]{5}$")]
    pub region: Option<String>,
    /// Evaluation date; activities count from 1 January of its year up to it.
    #[param(required = true, value_type = String, format = Date)]
    pub date: Option<String>,
    /// A write's token: wait until the read model has passed it (bounded; 503 when it has not).
    pub min_token: Option<String>,
    /// Page size (default: the service's configured page size, 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (absent: the first page).
    pub cursor: Option<String>,
}

/// A5: a team below the minimum number of activities in the year.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamShortfallDto {
    pub team_id: uuid::Uuid,
    pub region: String,
    pub host_unit_id: uuid::Uuid,
    /// The non-voided activities of the year up to the date that counted (their number is the count).
    pub activity_ids: Vec<uuid::Uuid>,
    /// The team's voided activities in the same period (not counted).
    pub voided_activity_ids: Vec<uuid::Uuid>,
}

/// A6: a volunteer below the minimum number of activities in the year.
#[derive(Debug, Serialize, ToSchema)]
pub struct VolunteerShortfallDto {
    pub volunteer_id: uuid::Uuid,
    /// The region's active teams the volunteer belongs to on the date.
    pub team_ids: Vec<uuid::Uuid>,
    pub activity_ids: Vec<uuid::Uuid>,
}

/// A3/A4: a host unit that must host a team and hosts none active on the date.
#[derive(Debug, Serialize, ToSchema)]
pub struct HostWithoutTeamDto {
    pub host_unit_id: uuid::Uuid,
    /// The domain's name of the kind (`designated_tb_hospital`, `tb_free_community_pilot:city`, …).
    pub kind: String,
    pub region: String,
    /// Teams it hosts, none active on the date (empty: it never hosted one).
    pub inactive_team_ids: Vec<uuid::Uuid>,
}

/// One finding: exactly one of `team`, `volunteer`, `host_unit` is set.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplianceFindingDto {
    /// `A3`, `A4`, `A5` or `A6`.
    pub rule: String,
    pub team: Option<TeamShortfallDto>,
    pub volunteer: Option<VolunteerShortfallDto>,
    pub host_unit: Option<HostWithoutTeamDto>,
}

/// A3–A6 compliance of a region on a date, with a page of its findings (A5 teams, A6 volunteers, then
/// A3/A4 host units, each by id).
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplianceDto {
    pub region: String,
    pub date: NaiveDate,
    pub year: i32,
    /// A5: active teams of the region judged.
    pub teams_checked: u64,
    pub teams_below_minimum: u64,
    /// A6: distinct members of those teams judged.
    pub volunteers_checked: u64,
    pub volunteers_below_minimum: u64,
    /// A3/A4 findings.
    pub hosts_without_team: u64,
    /// All findings of the answer (every page).
    pub total: u64,
    pub items: Vec<ComplianceFindingDto>,
    /// Pass as `cursor` for the next page (`null`: this is the last one).
    pub next_cursor: Option<String>,
    pub has_more: bool,
    pub parked_events: u64,
    pub as_of: String,
}

fn finding(f: ComplianceFinding) -> ComplianceFindingDto {
    let mut dto = ComplianceFindingDto {
        rule: f.rule(),
        team: None,
        volunteer: None,
        host_unit: None,
    };
    match f {
        ComplianceFinding::Team(t) => {
            dto.team = Some(TeamShortfallDto {
                team_id: t.team.0,
                region: t.region.to_string(),
                host_unit_id: t.host_unit.0,
                activity_ids: t.activities.iter().map(|a| a.0).collect(),
                voided_activity_ids: t.voided.iter().map(|a| a.0).collect(),
            });
        }
        ComplianceFinding::Volunteer(v) => {
            dto.volunteer = Some(VolunteerShortfallDto {
                volunteer_id: v.volunteer.0,
                team_ids: v.teams.iter().map(|t| t.0).collect(),
                activity_ids: v.activities.iter().map(|a| a.0).collect(),
            });
        }
        ComplianceFinding::Host(h) => {
            dto.host_unit = Some(HostWithoutTeamDto {
                host_unit_id: h.host_unit.0,
                kind: reads::report_name(&h.kind),
                region: h.region.to_string(),
                inactive_team_ids: h.teams_not_active.iter().map(|t| t.0).collect(),
            });
        }
    }
    dto
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[utoipa::path(get, path = "/api/v1/reports/compliance", tag = "reports", params(ComplianceQuery),
    responses((status = 200, description = "A3–A6 compliance of the region on the date, with a page of the findings", body = ComplianceDto)))]
async fn compliance(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<ComplianceQuery>,
) -> Result<Json<ComplianceDto>, ApiError> {
    let code = required_region(q.region.as_deref())?;
    let date = required_date("date", q.date.as_deref())?;
    let min_token = min_token(q.min_token.as_deref())?;
    let limit = limit(&s, q.limit.as_deref())?;
    let c = s.reads.compliance(&actor, code, date, min_token).await?;
    let page = reads::page(
        reads::findings(&c),
        "cursor",
        q.cursor.as_deref(),
        "limit",
        limit,
    )?;
    Ok(Json(ComplianceDto {
        region: c.region.to_string(),
        date: c.date,
        year: c.year,
        teams_checked: c.teams_checked,
        teams_below_minimum: count(c.teams_below_minimum.len()),
        volunteers_checked: c.volunteers_checked,
        volunteers_below_minimum: count(c.volunteers_below_minimum.len()),
        hosts_without_team: count(c.hosts_without_team.len()),
        total: page.total,
        items: page.items.into_iter().map(finding).collect(),
        has_more: page.next_cursor.is_some(),
        next_cursor: page.next_cursor,
        parked_events: c.parked_events,
        as_of: c.as_of.to_string(),
    }))
}

/// The frequency query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FrequencyQuery {
    /// GB/T 2260 code of a county or the city.
    #[param(required = true, value_type = String, pattern = "^[1-9][0-9]{5}$")]
    pub region: Option<String>,
    /// First day (inclusive).
    #[param(required = true, value_type = String, format = Date)]
    pub from: Option<String>,
    /// Last day (inclusive); at most a year after `from`.
    #[param(required = true, value_type = String, format = Date)]
    pub to: Option<String>,
    /// Comma-separated dimensions: `team`, `region`, `month`, `kind`, `key_day` (absent: totals).
    pub group_by: Option<String>,
    /// A write's token: wait until the read model has passed it (bounded; 503 when it has not).
    pub min_token: Option<String>,
    /// Page size (default: the service's configured page size, 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (absent: the first page).
    pub cursor: Option<String>,
}

/// The A17 figures of a group of non-voided activities.
#[derive(Debug, Serialize, ToSchema)]
pub struct FiguresDto {
    pub activities: u64,
    /// Participants listed, summed over the activities.
    pub participations: u64,
    pub volunteer_minutes: u64,
    pub people_reached: u64,
    pub media_pieces: u64,
    pub materials_distributed: u64,
}

/// One group; a dimension not grouped by is `null`. Grouped by key day, `key_day: null` is the group of
/// activities without a key-day tag.
#[derive(Debug, Serialize, ToSchema)]
pub struct FrequencyRowDto {
    pub team_id: Option<uuid::Uuid>,
    pub region: Option<String>,
    /// First day of the month.
    pub month: Option<NaiveDate>,
    /// The domain's name (`knowledge_publicity`, …).
    pub kind: Option<String>,
    /// The domain's name (`world_tb_day_03_24`, …).
    pub key_day: Option<String>,
    pub figures: FiguresDto,
}

/// A13/A17 frequency and reach of a region over a date range, with a page of the rows (ordered by team,
/// region, month, kind, key day).
#[derive(Debug, Serialize, ToSchema)]
pub struct FrequencyDto {
    pub region: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: Vec<String>,
    /// All rows of the answer (every page).
    pub total: u64,
    pub items: Vec<FrequencyRowDto>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
    pub parked_events: u64,
    pub as_of: String,
}

#[utoipa::path(get, path = "/api/v1/reports/frequency", tag = "reports", params(FrequencyQuery),
    responses((status = 200, description = "Activity frequency and reach of the region over the range", body = FrequencyDto)))]
async fn frequency(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<FrequencyQuery>,
) -> Result<Json<FrequencyDto>, ApiError> {
    let code = required_region(q.region.as_deref())?;
    let from = required_date("from", q.from.as_deref())?;
    let to = required_date("to", q.to.as_deref())?;
    let grouping = reads::parse_grouping("group_by", q.group_by.as_deref().unwrap_or(""))?;
    let min_token = min_token(q.min_token.as_deref())?;
    let limit = limit(&s, q.limit.as_deref())?;
    let f = s
        .reads
        .frequency(&actor, code, from, to, grouping, min_token)
        .await?;
    let page = reads::page(f.rows, "cursor", q.cursor.as_deref(), "limit", limit)?;
    Ok(Json(FrequencyDto {
        region: f.region.to_string(),
        from: f.from,
        to: f.to,
        group_by: reads::grouping_names(f.grouping)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        total: page.total,
        items: page
            .items
            .into_iter()
            .map(|r| FrequencyRowDto {
                team_id: r.team.map(|t| t.0),
                region: r.region.map(|c| c.to_string()),
                month: r.month,
                kind: r.kind.map(|k| reads::report_name(&k)),
                key_day: r.key_day.map(|k| reads::report_name(&k)),
                figures: FiguresDto {
                    activities: r.figures.activities,
                    participations: r.figures.participations,
                    volunteer_minutes: r.figures.volunteer_minutes,
                    people_reached: r.figures.people_reached,
                    media_pieces: r.figures.media_pieces,
                    materials_distributed: r.figures.materials_distributed,
                },
            })
            .collect(),
        has_more: page.next_cursor.is_some(),
        next_cursor: page.next_cursor,
        parked_events: f.parked_events,
        as_of: f.as_of.to_string(),
    }))
}

/// The summary-board query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryBoardQuery {
    /// A county, or the city (all its counties).
    #[param(required = true, value_type = String, pattern = "^[1-9][0-9]{5}$")]
    pub region: Option<String>,
    /// The summary year.
    #[param(required = true, value_type = i32, minimum = 2000, maximum = 2100)]
    pub year: Option<String>,
    /// A write's token: wait until the read model has passed it (bounded; 503 when it has not).
    pub min_token: Option<String>,
}

/// One county's summary of the year.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryBoardRowDto {
    pub county: String,
    /// `not_drafted`, `draft`, `awaiting_approval`, `approved`, `returned_by_bureau`,
    /// `submitted_to_city`, `returned_by_city` or `accepted`.
    pub status: String,
    /// `not_due`, `missing` (deadline passed, never submitted), `on_time` or `late`.
    pub timeliness: String,
    /// Receipt of the first submission to the city (timeliness is judged on it).
    pub first_submitted_at: Option<DateTime<Utc>>,
    pub partial_year: bool,
    pub revision: u32,
    pub submissions_to_city: u32,
    pub last_submitted_at: Option<DateTime<Utc>>,
    pub last_event_at: Option<DateTime<Utc>>,
}

/// The A16 board of a year for the counties the region covers (one row per county, by code).
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryBoardDto {
    pub region: String,
    pub year: i32,
    /// The campaign's city.
    pub city: Option<String>,
    /// The year is inside the campaign window (outside it nothing is owed).
    pub in_window: bool,
    /// The exclusive deadline of the year's summaries.
    pub deadline: Option<DateTime<Utc>>,
    /// The instant the board was judged at.
    pub judged_at: DateTime<Utc>,
    pub rows: Vec<SummaryBoardRowDto>,
    pub parked_events: u64,
    pub as_of: String,
}

fn timeliness(t: Timeliness) -> &'static str {
    match t {
        Timeliness::NotDue => "not_due",
        Timeliness::Missing => "missing",
        Timeliness::OnTime { .. } => "on_time",
        Timeliness::Late { .. } => "late",
    }
}

#[utoipa::path(get, path = "/api/v1/reports/summary-board", tag = "reports", params(SummaryBoardQuery),
    responses((status = 200, description = "The A16 summary board of the year", body = SummaryBoardDto)))]
async fn summary_board(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<SummaryBoardQuery>,
) -> Result<Json<SummaryBoardDto>, ApiError> {
    let code = required_region(q.region.as_deref())?;
    let Some(y) = q.year.as_deref() else {
        return Err(ApiError::invalid(
            "year",
            "the year query parameter is required",
        ));
    };
    let year = y
        .parse::<i32>()
        .map_err(|_| ApiError::invalid("year", format!("{y:?} is not a year")))?;
    let min_token = min_token(q.min_token.as_deref())?;
    let b = s.reads.summary_board(&actor, code, year, min_token).await?;
    Ok(Json(SummaryBoardDto {
        region: code.to_string(),
        year: b.year,
        city: b.city.map(|c| c.to_string()),
        in_window: b.window_year.is_some(),
        deadline: b.deadline,
        judged_at: b.now,
        rows: b
            .rows
            .into_iter()
            .map(|r| SummaryBoardRowDto {
                county: r.county.to_string(),
                status: reads::report_name(&r.status),
                timeliness: timeliness(r.timeliness).to_owned(),
                first_submitted_at: r.first_submission.map(|f| f.received_at),
                partial_year: r.partial_year,
                revision: r.revision,
                submissions_to_city: r.submissions_to_city,
                last_submitted_at: r.last_submitted_at,
                last_event_at: r.last_event_at,
            })
            .collect(),
        parked_events: b.parked_events,
        as_of: b.as_of.to_string(),
    }))
}

/// The evaluation export query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EvaluationQuery {
    /// GB/T 2260 code of the city (or a county): the total row; its counties are the other rows.
    #[param(required = true, value_type = String, pattern = "^[1-9][0-9]{5}$")]
    pub region: Option<String>,
    /// Evaluation date (A2: 2024-12-31); the year's figures count from 1 January up to it.
    #[param(required = true, value_type = String, format = Date)]
    pub date: Option<String>,
    /// `xlsx` or `csv` (the table, Chinese headers), or `svg` (coverage by county against the A1 line).
    #[param(required = true, value_type = String, pattern = "^(xlsx|csv|svg)$")]
    pub format: Option<String>,
    /// A write's token: wait until the read models have passed it (bounded; 503 when they have not).
    pub min_token: Option<String>,
}

fn evaluation_format(s: Option<&str>) -> Result<EvaluationFormat, ApiError> {
    match s {
        Some("xlsx") => Ok(EvaluationFormat::Xlsx),
        Some("csv") => Ok(EvaluationFormat::Csv),
        Some("svg") => Ok(EvaluationFormat::Svg),
        Some(other) => Err(ApiError::invalid(
            "format",
            format!("{other:?} is not one of xlsx, csv, svg"),
        )),
        None => Err(ApiError::invalid(
            "format",
            "the format query parameter is required (xlsx, csv or svg)",
        )),
    }
}

#[utoipa::path(get, path = "/api/v1/reports/evaluation", tag = "reports", params(EvaluationQuery),
    responses((status = 200, description = "The annual evaluation as a file (attachment)",
        content(
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "text/csv"),
            (String = "image/svg+xml")
        ))))]
async fn evaluation(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<EvaluationQuery>,
) -> Result<Response, ApiError> {
    let code = required_region(q.region.as_deref())?;
    let date = required_date("date", q.date.as_deref())?;
    let format = evaluation_format(q.format.as_deref())?;
    let min_token = min_token(q.min_token.as_deref())?;
    let file = s
        .reads
        .evaluation_file(&actor, code, date, format, min_token)
        .await?;
    let disposition = format!("attachment; filename=\"{}\"", file.file_name);
    Ok((
        [
            (header::CONTENT_TYPE, file.format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        file.bytes,
    )
        .into_response())
}

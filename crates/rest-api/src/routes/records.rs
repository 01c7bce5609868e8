//! The volunteer service record (`/api/v1/records/…`) and the Jiangsu read models (`/api/v1/jiangsu/…`),
//! with read-your-writes (`min_token`: wait, bounded, then 503).
//!
//! Policy: scope is the app layer's (`app::records`); this module only parses the query (every bad value
//! a 400 naming its parameter) and shapes the answer. Ids only — no names: the front end shows masked
//! names through `GET /api/v1/volunteers/{volunteer_id}`. Service hours are paged by volunteer id
//! (`cursor` = the previous page's `next_cursor`); the Jiangsu lists by an offset over the read model's
//! deterministic order (`app::reads::page`) — pass the answer's `as_of` as `min_token` to page one state
//! of the read model. Enumerated values are the domain's names (`app::reads::report_name`).

use app::reads::{self};
use app::records::{
    self, GridDeployment, HoursOf, IssuedCertificate, MedicineStock, NeedRow, ReserveMember,
    ServiceYear,
};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use domain::ids::{TeamId, VolunteerId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{limit, min_token, required_date, required_region};
use crate::RestState;
use crate::dto::{region, uuid_param};
use crate::error::ApiError;
use crate::extract::{Caller, PathParams, QueryParams};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(service_record))
        .routes(routes!(service_hours))
        .routes(routes!(deployments))
        .routes(routes!(reserve))
        .routes(routes!(medicine_boxes))
        .routes(routes!(needs))
}

fn year(s: &str) -> Result<i32, ApiError> {
    let y = s
        .parse::<i32>()
        .map_err(|_| ApiError::invalid("year", format!("{s:?} is not a year")))?;
    Ok(records::check_year("year", y)?)
}

// ---- volunteer service record ------------------------------------------------------------------------------

/// The service-record query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceRecordQuery {
    /// Only this calendar year (absent: every year).
    #[param(value_type = Option<i32>, minimum = 2000, maximum = 2100)]
    pub year: Option<String>,
    /// A write's token: wait until the read model has passed it (bounded; 503 when it has not).
    pub min_token: Option<String>,
}

/// An activity of the record, at its current revision.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServedActivityDto {
    pub activity_id: uuid::Uuid,
    /// The team that recorded it (and may certify it).
    pub team_id: uuid::Uuid,
    pub date: NaiveDate,
    pub revision: u32,
    /// The volunteer's minutes in it.
    pub minutes: u32,
}

/// A volunteer's service in one calendar year (non-voided activities, current revisions).
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceYearDto {
    pub year: i32,
    /// Distinct activities.
    pub activities: u64,
    pub minutes: u64,
    pub first_activity: NaiveDate,
    pub last_activity: NaiveDate,
    /// The activities that decided the figures, by date.
    pub items: Vec<ServedActivityDto>,
}

impl From<ServiceYear> for ServiceYearDto {
    fn from(y: ServiceYear) -> Self {
        Self {
            year: y.year,
            activities: y.activities,
            minutes: y.minutes,
            first_activity: y.first_activity,
            last_activity: y.last_activity,
            items: y
                .items
                .into_iter()
                .map(|a| ServedActivityDto {
                    activity_id: a.activity.0,
                    team_id: a.team.0,
                    date: a.date,
                    revision: a.revision,
                    minutes: a.minutes,
                })
                .collect(),
        }
    }
}

/// A service certificate issued to the volunteer (志愿服务证明).
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateDto {
    pub certificate_id: uuid::Uuid,
    pub number: String,
    pub issuing_team_id: uuid::Uuid,
    pub issued_on: NaiveDate,
    pub total_minutes: u64,
    /// The activities it certifies.
    pub activity_ids: Vec<uuid::Uuid>,
    /// Lowercase hex SHA-256 of the certificate's canonical text.
    pub sha256: String,
}

impl From<IssuedCertificate> for CertificateDto {
    fn from(c: IssuedCertificate) -> Self {
        Self {
            certificate_id: c.certificate.0,
            number: c.number,
            issuing_team_id: c.issuing_team.0,
            issued_on: c.issued_on,
            total_minutes: c.total_minutes,
            activity_ids: c.activities.into_iter().map(|a| a.0).collect(),
            sha256: c.sha256,
        }
    }
}

/// A volunteer's service record: hours per year and certificates issued (ids only).
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRecordDto {
    pub volunteer_id: uuid::Uuid,
    pub home_region: String,
    /// Teams the volunteer has ever been a member of.
    pub team_ids: Vec<uuid::Uuid>,
    /// The year asked for (`null`: every year).
    pub year: Option<i32>,
    /// Years with service, oldest first.
    pub years: Vec<ServiceYearDto>,
    /// Certificates issued (in the year asked for), by date.
    pub certificates: Vec<CertificateDto>,
    /// Events the projector has parked: when not 0, the record may miss them.
    pub parked_events: u64,
    /// The read model's checkpoint the answer was computed from.
    pub as_of: String,
}

#[utoipa::path(get, path = "/api/v1/records/volunteers/{volunteer_id}", tag = "records",
    params(("volunteer_id" = Uuid, Path, description = "The volunteer"), ServiceRecordQuery),
    responses((status = 200, description = "The volunteer's service record: hours per year and certificates", body = ServiceRecordDto)))]
async fn service_record(
    State(s): State<RestState>,
    Caller(actor): Caller,
    PathParams(id): PathParams<String>,
    QueryParams(q): QueryParams<ServiceRecordQuery>,
) -> Result<Json<ServiceRecordDto>, ApiError> {
    let volunteer = VolunteerId(uuid_param("volunteer_id", &id)?);
    let year = q.year.as_deref().map(year).transpose()?;
    let min_token = min_token(q.min_token.as_deref())?;
    let r = s
        .reads
        .service_record(&actor, volunteer, year, min_token)
        .await?;
    Ok(Json(ServiceRecordDto {
        volunteer_id: r.volunteer.0,
        home_region: r.home_region.map(|h| h.to_string()).unwrap_or_default(),
        team_ids: r.teams.iter().map(|t| t.0).collect(),
        year,
        years: r.years.into_iter().map(ServiceYearDto::from).collect(),
        certificates: r
            .certificates
            .into_iter()
            .map(CertificateDto::from)
            .collect(),
        parked_events: r.parked_events,
        as_of: r.as_of.to_string(),
    }))
}

/// The service-hours query: exactly one of `region` and `team`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceHoursQuery {
    /// GB/T 2260 code: the activities of the teams of this county (or city, province).
    #[param(value_type = Option<String>, pattern = "^[1-9][0-9]{5}$")]
    pub region: Option<String>,
    /// A team: the activities it recorded.
    #[param(value_type = Option<uuid::Uuid>, format = Uuid)]
    pub team: Option<String>,
    /// The calendar year.
    #[param(required = true, value_type = i32, minimum = 2000, maximum = 2100)]
    pub year: Option<String>,
    /// Page size (default: the service's configured page size, 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (absent: the first page).
    pub cursor: Option<String>,
    /// A write's token: wait until the read model has passed it (bounded; 503 when it has not).
    pub min_token: Option<String>,
}

/// A volunteer's service in the year, in the activities the list covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct VolunteerHoursDto {
    pub volunteer_id: uuid::Uuid,
    /// Distinct non-voided activities.
    pub activities: u64,
    pub minutes: u64,
    pub first_activity: NaiveDate,
    pub last_activity: NaiveDate,
}

/// A page of the volunteers who served in the year, by volunteer id.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceHoursDto {
    pub region: Option<String>,
    pub team_id: Option<uuid::Uuid>,
    pub year: i32,
    pub items: Vec<VolunteerHoursDto>,
    /// Pass as `cursor` for the next page (`null`: this is the last one).
    pub next_cursor: Option<String>,
    pub has_more: bool,
    pub parked_events: u64,
    pub as_of: String,
}

#[utoipa::path(get, path = "/api/v1/records/service-hours", tag = "records", params(ServiceHoursQuery),
    responses((status = 200, description = "The volunteers who served in the year in the activities of the region's teams or of the team, with their hours", body = ServiceHoursDto)))]
async fn service_hours(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<ServiceHoursQuery>,
) -> Result<Json<ServiceHoursDto>, ApiError> {
    let of = match (q.region.as_deref(), q.team.as_deref()) {
        (Some(r), None) => HoursOf::Region(region("region", r)?),
        (None, Some(t)) => HoursOf::Team(TeamId(uuid_param("team", t)?)),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "team",
                "give either a region or a team, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "region",
                "give a region or a team (query parameter region or team)",
            ));
        }
    };
    let Some(y) = q.year.as_deref() else {
        return Err(ApiError::invalid(
            "year",
            "the year query parameter is required",
        ));
    };
    let year = year(y)?;
    let limit = limit(&s, q.limit.as_deref())?;
    let after = records::parse_cursor("cursor", q.cursor.as_deref())?;
    let min_token = min_token(q.min_token.as_deref())?;
    let page = s
        .reads
        .service_hours(&actor, of, year, after, limit, min_token)
        .await?;
    let (region, team_id) = match page.of {
        HoursOf::Region(r) => (Some(r.to_string()), None),
        HoursOf::Team(t) => (None, Some(t.0)),
    };
    Ok(Json(ServiceHoursDto {
        region,
        team_id,
        year: page.year,
        items: page
            .items
            .into_iter()
            .map(|h| VolunteerHoursDto {
                volunteer_id: h.volunteer.0,
                activities: h.activities,
                minutes: h.minutes,
                first_activity: h.first_activity,
                last_activity: h.last_activity,
            })
            .collect(),
        has_more: page.next_cursor.is_some(),
        next_cursor: page.next_cursor,
        parked_events: page.parked_events,
        as_of: page.as_of.to_string(),
    }))
}

// ---- Jiangsu -------------------------------------------------------------------------------------------------

/// The deployments query: a region, a grid, or both.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeploymentsQuery {
    /// GB/T 2260 code of a county (or city, province); absent: the caller's regions (then `grid` is
    /// required).
    #[param(value_type = Option<String>, pattern = "^[1-9][0-9]{5}$")]
    pub region: Option<String>,
    /// The grid reference, as deployed.
    #[param(min_length = 1, max_length = 200)]
    pub grid: Option<String>,
    /// The day (deployments in force from their first day to the day they ended, inclusive).
    #[param(required = true, value_type = String, format = Date)]
    pub date: Option<String>,
    /// Page size (default: the service's configured page size, 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (absent: the first page).
    pub cursor: Option<String>,
    /// A write's token: wait until the read model has passed it (bounded; 503 when it has not).
    pub min_token: Option<String>,
}

/// A second-grid-member deployment in force on the day (B5).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentDto {
    pub deployment_id: uuid::Uuid,
    pub volunteer_id: uuid::Uuid,
    pub region: String,
    pub grid: String,
    /// First day.
    pub from: NaiveDate,
    pub planned_end: Option<NaiveDate>,
    /// Last day, once ended.
    pub ended_on: Option<NaiveDate>,
    /// The deployment stream's version that decided the row.
    pub version: u64,
}

impl From<GridDeployment> for DeploymentDto {
    fn from(d: GridDeployment) -> Self {
        Self {
            deployment_id: d.deployment.0,
            volunteer_id: d.volunteer.0,
            region: d.region.to_string(),
            grid: d.grid,
            from: d.from,
            planned_end: d.planned_end,
            ended_on: d.ended_on,
            version: d.version,
        }
    }
}

/// Deployments in force on the day, ordered by region, grid, first day and id.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentsDto {
    pub date: NaiveDate,
    /// All rows of the answer (every page).
    pub total: u64,
    pub items: Vec<DeploymentDto>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
    pub parked_events: u64,
    pub as_of: String,
}

#[utoipa::path(get, path = "/api/v1/jiangsu/deployments", tag = "jiangsu", params(DeploymentsQuery),
    responses((status = 200, description = "Second-grid-member deployments in force on the day, per grid (B5)", body = DeploymentsDto)))]
async fn deployments(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<DeploymentsQuery>,
) -> Result<Json<DeploymentsDto>, ApiError> {
    let code = q
        .region
        .as_deref()
        .map(|r| region("region", r))
        .transpose()?;
    let grid = q
        .grid
        .as_deref()
        .map(|g| records::parse_grid("grid", g))
        .transpose()?;
    let date = required_date("date", q.date.as_deref())?;
    let limit = limit(&s, q.limit.as_deref())?;
    let min_token = min_token(q.min_token.as_deref())?;
    let d = s
        .reads
        .deployments_in_force(&actor, code, grid.as_deref(), date, min_token)
        .await?;
    let page = reads::page(d.rows, "cursor", q.cursor.as_deref(), "limit", limit)?;
    Ok(Json(DeploymentsDto {
        date: d.date,
        total: page.total,
        items: page.items.into_iter().map(DeploymentDto::from).collect(),
        has_more: page.next_cursor.is_some(),
        next_cursor: page.next_cursor,
        parked_events: d.parked_events,
        as_of: d.as_of.to_string(),
    }))
}

/// The reserve-roster query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReserveQuery {
    /// GB/T 2260 code: volunteers whose home region it covers.
    #[param(required = true, value_type = String, pattern = "^[1-9][0-9]{5}$")]
    pub region: Option<String>,
    /// Only this reserve tier (absent: every tier).
    #[param(value_type = Option<String>, pattern = "^first_echelon$")]
    pub tier: Option<String>,
    /// Page size (default: the service's configured page size, 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (absent: the first page).
    pub cursor: Option<String>,
    /// A write's token: wait until the read model has passed it (bounded; 503 when it has not).
    pub min_token: Option<String>,
}

/// A reserve volunteer (B4).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReserveMemberDto {
    pub volunteer_id: uuid::Uuid,
    pub home_region: String,
    /// The domain's name (`first_echelon`).
    pub tier: String,
    pub registered_on: NaiveDate,
    /// The volunteer stream's version that put them on the roster.
    pub version: u64,
    /// Dispatches in force (issued, not closed) that named them.
    pub dispatch_ids: Vec<uuid::Uuid>,
}

impl From<ReserveMember> for ReserveMemberDto {
    fn from(m: ReserveMember) -> Self {
        Self {
            volunteer_id: m.volunteer.0,
            home_region: m.home_region.to_string(),
            tier: reads::report_name(&m.tier),
            registered_on: m.registered_on,
            version: m.version,
            dispatch_ids: m.dispatches.into_iter().map(|d| d.0).collect(),
        }
    }
}

/// The reserve roster, ordered by tier, home region and volunteer id.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReserveDto {
    pub region: String,
    pub tier: Option<String>,
    pub total: u64,
    pub items: Vec<ReserveMemberDto>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
    pub parked_events: u64,
    pub as_of: String,
}

#[utoipa::path(get, path = "/api/v1/jiangsu/reserve", tag = "jiangsu", params(ReserveQuery),
    responses((status = 200, description = "The reserve roster by tier (B4), with the dispatches in force", body = ReserveDto)))]
async fn reserve(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<ReserveQuery>,
) -> Result<Json<ReserveDto>, ApiError> {
    let code = required_region(q.region.as_deref())?;
    let tier = q
        .tier
        .as_deref()
        .map(|t| records::parse_tier("tier", t))
        .transpose()?;
    let limit = limit(&s, q.limit.as_deref())?;
    let min_token = min_token(q.min_token.as_deref())?;
    let r = s
        .reads
        .reserve_roster(&actor, code, tier, min_token)
        .await?;
    let page = reads::page(r.rows, "cursor", q.cursor.as_deref(), "limit", limit)?;
    Ok(Json(ReserveDto {
        region: code.to_string(),
        tier: tier.map(|t| reads::report_name(&t)),
        total: page.total,
        items: page.items.into_iter().map(ReserveMemberDto::from).collect(),
        has_more: page.next_cursor.is_some(),
        next_cursor: page.next_cursor,
        parked_events: r.parked_events,
        as_of: r.as_of.to_string(),
    }))
}

/// The medicine-stock query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MedicineBoxesQuery {
    /// GB/T 2260 code: the boxes of this county (or city, province).
    #[param(required = true, value_type = String, pattern = "^[1-9][0-9]{5}$")]
    pub region: Option<String>,
    /// Page size (default: the service's configured page size, 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (absent: the first page).
    pub cursor: Option<String>,
    /// A write's token: wait until the read model has passed it (bounded; 503 when it has not).
    pub min_token: Option<String>,
}

/// The stock of one medicine and unit in one box (B8, B9).
#[derive(Debug, Serialize, ToSchema)]
pub struct MedicineStockDto {
    pub medicine_box_id: uuid::Uuid,
    /// `physical` or `virtual`.
    pub kind: String,
    pub region: String,
    pub medicine: String,
    pub unit: String,
    pub donated: u64,
    pub dispensed: u64,
    /// Donated minus dispensed.
    pub stock: i64,
    /// The box stream's versions of the donations that added to it.
    pub donation_versions: Vec<u64>,
    /// The box stream's versions of the dispensings that took from it.
    pub dispensing_versions: Vec<u64>,
}

impl From<MedicineStock> for MedicineStockDto {
    fn from(m: MedicineStock) -> Self {
        Self {
            medicine_box_id: m.medbox.0,
            kind: reads::report_name(&m.kind),
            region: m.region.to_string(),
            medicine: m.medicine,
            unit: m.unit,
            donated: m.donated,
            dispensed: m.dispensed,
            stock: m.stock,
            donation_versions: m.donations,
            dispensing_versions: m.dispensings,
        }
    }
}

/// Medicine-box stock, ordered by region, box, medicine and unit.
#[derive(Debug, Serialize, ToSchema)]
pub struct MedicineBoxesDto {
    pub region: String,
    pub total: u64,
    pub items: Vec<MedicineStockDto>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
    pub parked_events: u64,
    pub as_of: String,
}

#[utoipa::path(get, path = "/api/v1/jiangsu/medicine-boxes", tag = "jiangsu", params(MedicineBoxesQuery),
    responses((status = 200, description = "Medicine-box stock per box and item: donations minus dispensings (B8, B9)", body = MedicineBoxesDto)))]
async fn medicine_boxes(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<MedicineBoxesQuery>,
) -> Result<Json<MedicineBoxesDto>, ApiError> {
    let code = required_region(q.region.as_deref())?;
    let limit = limit(&s, q.limit.as_deref())?;
    let min_token = min_token(q.min_token.as_deref())?;
    let m = s.reads.medicine_stock(&actor, code, min_token).await?;
    let page = reads::page(m.rows, "cursor", q.cursor.as_deref(), "limit", limit)?;
    Ok(Json(MedicineBoxesDto {
        region: code.to_string(),
        total: page.total,
        items: page.items.into_iter().map(MedicineStockDto::from).collect(),
        has_more: page.next_cursor.is_some(),
        next_cursor: page.next_cursor,
        parked_events: m.parked_events,
        as_of: m.as_of.to_string(),
    }))
}

/// The needs query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NeedsQuery {
    /// GB/T 2260 code: the needs of this county (or city, province).
    #[param(required = true, value_type = String, pattern = "^[1-9][0-9]{5}$")]
    pub region: Option<String>,
    /// Only this status (absent: the open ones — posted, verified, taken).
    #[param(value_type = Option<String>, pattern = "^(posted|verified|taken|fulfilled|rejected)$")]
    pub status: Option<String>,
    /// Page size (default: the service's configured page size, 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (absent: the first page).
    pub cursor: Option<String>,
    /// A write's token: wait until the read model has passed it (bounded; 503 when it has not).
    pub min_token: Option<String>,
}

/// A community need (B10).
#[derive(Debug, Serialize, ToSchema)]
pub struct NeedDto {
    pub need_id: uuid::Uuid,
    pub region: String,
    /// The domain's name (`medicine`, `food`, …).
    pub category: String,
    /// The domain's name (`posted`, `verified`, `taken`, `fulfilled`, `rejected`).
    pub status: String,
    /// The team that took it.
    pub team_id: Option<uuid::Uuid>,
    pub posted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The need stream's version that decided the status.
    pub version: u64,
}

impl From<NeedRow> for NeedDto {
    fn from(n: NeedRow) -> Self {
        Self {
            need_id: n.need.0,
            region: n.region.to_string(),
            category: reads::report_name(&n.category),
            status: reads::report_name(&n.status),
            team_id: n.team.map(|t| t.0),
            posted_at: n.posted_at,
            updated_at: n.updated_at,
            version: n.version,
        }
    }
}

/// Needs of the region, ordered by region, time posted and id.
#[derive(Debug, Serialize, ToSchema)]
pub struct NeedsDto {
    pub region: String,
    /// The statuses listed.
    pub statuses: Vec<String>,
    pub total: u64,
    pub items: Vec<NeedDto>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
    pub parked_events: u64,
    pub as_of: String,
}

#[utoipa::path(get, path = "/api/v1/jiangsu/needs", tag = "jiangsu", params(NeedsQuery),
    responses((status = 200, description = "Needs of the region: the open ones, or those of a status (B10)", body = NeedsDto)))]
async fn needs(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<NeedsQuery>,
) -> Result<Json<NeedsDto>, ApiError> {
    let code = required_region(q.region.as_deref())?;
    let status = q
        .status
        .as_deref()
        .map(|t| records::parse_need_status("status", t))
        .transpose()?;
    let limit = limit(&s, q.limit.as_deref())?;
    let min_token = min_token(q.min_token.as_deref())?;
    let n = s.reads.needs(&actor, code, status, min_token).await?;
    let page = reads::page(n.rows, "cursor", q.cursor.as_deref(), "limit", limit)?;
    Ok(Json(NeedsDto {
        region: code.to_string(),
        statuses: n.statuses.iter().map(reads::report_name).collect(),
        total: page.total,
        items: page.items.into_iter().map(NeedDto::from).collect(),
        has_more: page.next_cursor.is_some(),
        next_cursor: page.next_cursor,
        parked_events: n.parked_events,
        as_of: n.as_of.to_string(),
    }))
}

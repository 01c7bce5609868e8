//! Reports from the read models, with read-your-writes (`min_token`: wait, bounded, then 503).

use app::events::parse_token;
use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::RestState;
use crate::dto::region;
use crate::error::ApiError;
use crate::extract::{Caller, QueryParams};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new().routes(routes!(coverage))
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
) -> Result<Json<CoverageDto>, ApiError> {
    let Some(r) = q.region.as_deref() else {
        return Err(ApiError::invalid(
            "region",
            "the region query parameter is required",
        ));
    };
    let code = region("region", r)?;
    let Some(d) = q.date.as_deref() else {
        return Err(ApiError::invalid(
            "date",
            "the date query parameter is required",
        ));
    };
    let date = NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid("date", format!("{d:?} is not a date YYYY-MM-DD")))?;
    let min_token = match q.min_token.as_deref() {
        None | Some("") => None,
        Some(t) => Some(parse_token("min_token", t)?),
    };
    let c = s.reads.coverage(&actor, code, date, min_token).await?;
    Ok(Json(CoverageDto {
        region: c.region.to_string(),
        date: c.date,
        registered_volunteers: c.registered_volunteers,
        active_volunteers: c.active_volunteers,
        population: c.population.map(|p| PopulationDto {
            year: p.year,
            count: p.count,
            source: p.source,
        }),
        required_per_100k: c.required_per_100k,
        per_100k: c.per_100k.map(|p| p.decimal(2)),
        passes: c.passes,
        shortfall: c.shortfall,
        parked_events: c.parked_events,
        as_of: c.as_of.to_string(),
    }))
}

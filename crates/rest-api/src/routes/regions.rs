//! Regions (GB/T 2260) and their resident populations (A1 denominators).

use axum::extract::State;
use chrono::NaiveDate;
use domain::region::{DefineRegion, RecordResidentPopulation, RegionCommand, RetireRegion};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{RegionLevelDto, WriteAccepted, opt_text, region, text};
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(define_region))
        .routes(routes!(retire_region))
        .routes(routes!(record_population))
}

/// Define a region.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DefineRegionRequest {
    /// Six-digit GB/T 2260 code.
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub code: String,
    pub name: String,
    pub level: RegionLevelDto,
    /// The parent region's code (`null` only for a province).
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub parent: Option<String>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

/// Retire a region code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RetireRegionRequest {
    /// First day the code is no longer valid.
    pub valid_to: NaiveDate,
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub successor: Option<String>,
}

/// Record a region's resident population for a year.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecordPopulationRequest {
    pub year: i32,
    pub count: u64,
    /// E.g. "2023年绍兴市统计公报".
    pub source: String,
    /// Required when the year has a figure already.
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/regions", tag = "regions", request_body = DefineRegionRequest,
    responses((status = 201, description = "Region defined", body = WriteAccepted)))]
async fn define_region(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<DefineRegionRequest>,
) -> Created {
    let code = region("code", &r.code)?;
    let command = RegionCommand::Define(DefineRegion {
        code,
        name: text("name", &r.name)?,
        level: r.level.into(),
        parent: r
            .parent
            .as_deref()
            .map(|p| region("parent", p))
            .transpose()?,
        valid_from: r.valid_from,
        valid_to: r.valid_to,
    });
    created(s.ledger.region(&ctx, code, command).await)
}

#[utoipa::path(post, path = "/api/v1/regions/{code}/retire", tag = "regions",
    params(("code" = String, Path, description = "GB/T 2260 code", pattern = "^[1-9][0-9]{5}$")),
    request_body = RetireRegionRequest,
    responses((status = 200, description = "Region retired", body = WriteAccepted)))]
async fn retire_region(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(code): PathParams<String>,
    Body(r): Body<RetireRegionRequest>,
) -> Done {
    let code = region("code", &code)?;
    let command = RegionCommand::Retire(RetireRegion {
        valid_to: r.valid_to,
        successor: r
            .successor
            .as_deref()
            .map(|p| region("successor", p))
            .transpose()?,
    });
    done(s.ledger.region(&ctx, code, command).await)
}

#[utoipa::path(post, path = "/api/v1/regions/{code}/populations", tag = "regions",
    params(("code" = String, Path, description = "GB/T 2260 code", pattern = "^[1-9][0-9]{5}$")),
    request_body = RecordPopulationRequest,
    responses((status = 201, description = "Population recorded", body = WriteAccepted)))]
async fn record_population(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(code): PathParams<String>,
    Body(r): Body<RecordPopulationRequest>,
) -> Created {
    let code = region("code", &code)?;
    let command = RegionCommand::RecordResidentPopulation(RecordResidentPopulation {
        year: r.year,
        count: r.count,
        source: text("source", &r.source)?,
        reason: opt_text("reason", r.reason.as_deref())?,
    });
    created(s.ledger.region(&ctx, code, command).await)
}

//! Supervision findings (A20): civil affairs' supervisor records a finding about a record in its
//! jurisdiction, the responsible CDC or team leader responds, the supervisor closes it.

use axum::extract::State;
use domain::ids::{ActivityId, FindingId, TeamId, VolunteerId};
use domain::supervision::{
    CloseFinding, FindingCommand, RecordRef, RecordSupervisionFinding, RespondToFinding,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{
    CountyYearInput, SeverityDto, WriteAccepted, county_year, region, text, uuid_param,
};
use crate::error::ApiError;
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(record_finding))
        .routes(routes!(respond_to_finding))
        .routes(routes!(close_finding))
}

/// The record a finding is about: exactly one of the four keys.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordRefInput {
    TeamId(Uuid),
    VolunteerId(Uuid),
    ActivityId(Uuid),
    /// A county's annual summary.
    Summary(CountyYearInput),
}

fn record_ref(field: &str, r: &RecordRefInput) -> Result<RecordRef, ApiError> {
    Ok(match r {
        RecordRefInput::TeamId(id) => RecordRef::Team(TeamId(*id)),
        RecordRefInput::VolunteerId(id) => RecordRef::Volunteer(VolunteerId(*id)),
        RecordRefInput::ActivityId(id) => RecordRef::Activity(ActivityId(*id)),
        RecordRefInput::Summary(k) => {
            RecordRef::Summary(county_year(&format!("{field}.summary"), k)?)
        }
    })
}

/// Record a supervision finding.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecordFindingRequest {
    pub finding_id: Uuid,
    /// The supervisor's jurisdiction (GB/T 2260 code).
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub jurisdiction: String,
    pub subject: RecordRefInput,
    /// What was found.
    pub description: String,
    pub severity: SeverityDto,
    pub spot_check: bool,
    /// Records sampled by a spot check.
    #[serde(default)]
    pub sampled: Vec<RecordRefInput>,
}

/// Respond to a finding.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RespondToFindingRequest {
    pub response: String,
}

/// Close a finding.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CloseFindingRequest {
    pub resolution: String,
}

fn finding_param(id: &str) -> Result<FindingId, ApiError> {
    Ok(FindingId(uuid_param("finding_id", id)?))
}

#[utoipa::path(post, path = "/api/v1/findings", tag = "findings", request_body = RecordFindingRequest,
    responses((status = 201, description = "Finding recorded", body = WriteAccepted)))]
async fn record_finding(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<RecordFindingRequest>,
) -> Created {
    let command = FindingCommand::Record(RecordSupervisionFinding {
        finding: FindingId(r.finding_id),
        jurisdiction: region("jurisdiction", &r.jurisdiction)?,
        subject: record_ref("subject", &r.subject)?,
        description: text("description", &r.description)?,
        severity: r.severity.into(),
        spot_check: r.spot_check,
        sampled: r
            .sampled
            .iter()
            .enumerate()
            .map(|(i, s)| record_ref(&format!("sampled[{i}]"), s))
            .collect::<Result<_, _>>()?,
    });
    created(s.ledger.supervision_finding(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/findings/{finding_id}/respond", tag = "findings",
    params(("finding_id" = Uuid, Path, description = "The finding")),
    request_body = RespondToFindingRequest,
    responses((status = 200, description = "Response recorded", body = WriteAccepted)))]
async fn respond_to_finding(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<RespondToFindingRequest>,
) -> Done {
    let command = FindingCommand::Respond(RespondToFinding {
        finding: finding_param(&id)?,
        response: text("response", &r.response)?,
    });
    done(s.ledger.supervision_finding(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/findings/{finding_id}/close", tag = "findings",
    params(("finding_id" = Uuid, Path, description = "The finding")),
    request_body = CloseFindingRequest,
    responses((status = 200, description = "Finding closed", body = WriteAccepted)))]
async fn close_finding(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<CloseFindingRequest>,
) -> Done {
    let command = FindingCommand::Close(CloseFinding {
        finding: finding_param(&id)?,
        resolution: text("resolution", &r.resolution)?,
    });
    done(s.ledger.supervision_finding(&ctx, command).await)
}

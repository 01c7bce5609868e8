//! Emergency dispatches (B3, B4, B7): an HQ dispatches active teams and first-echelon reserve volunteers,
//! optionally in a professional role, then closes the dispatch. Eligibility is the domain's to judge.

use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::ids::{DispatchId, TeamId, VolunteerId};
use domain::jiangsu::dispatch::{
    CloseDispatch, DispatchCommand, DispatchedVolunteer, IssueDispatch,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{DispatchRoleDto, WriteAccepted, opt_text, region, text, uuid_param};
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(issue_dispatch))
        .routes(routes!(close_dispatch))
}

/// A reserve volunteer sent by a dispatch.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DispatchedVolunteerInput {
    pub volunteer_id: Uuid,
    /// B7: the professional role, which needs a valid qualification.
    pub role: Option<DispatchRoleDto>,
}

/// Issue an emergency dispatch.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IssueDispatchRequest {
    pub dispatch_id: Uuid,
    /// Name of the emergency HQ (指挥部).
    pub hq: String,
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub region: String,
    #[serde(default)]
    pub team_ids: Vec<Uuid>,
    #[serde(default)]
    pub reserve_volunteers: Vec<DispatchedVolunteerInput>,
    pub reason: String,
    /// When the dispatch takes effect (RFC 3339).
    pub at: DateTime<Utc>,
}

/// Close a dispatch.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CloseDispatchRequest {
    /// When the dispatch ends (RFC 3339).
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/dispatches", tag = "dispatches", request_body = IssueDispatchRequest,
    responses((status = 201, description = "Dispatch issued", body = WriteAccepted)))]
async fn issue_dispatch(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<IssueDispatchRequest>,
) -> Created {
    let command = DispatchCommand::Issue(IssueDispatch {
        dispatch: DispatchId(r.dispatch_id),
        hq: text("hq", &r.hq)?,
        region: region("region", &r.region)?,
        teams: r.team_ids.into_iter().map(TeamId).collect(),
        reserve_volunteers: r
            .reserve_volunteers
            .into_iter()
            .map(|v| DispatchedVolunteer {
                volunteer: VolunteerId(v.volunteer_id),
                role: v.role.map(Into::into),
            })
            .collect(),
        reason: text("reason", &r.reason)?,
        at: r.at,
    });
    created(s.ledger.dispatch(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/dispatches/{dispatch_id}/close", tag = "dispatches",
    params(("dispatch_id" = Uuid, Path, description = "The dispatch")),
    request_body = CloseDispatchRequest,
    responses((status = 200, description = "Dispatch closed", body = WriteAccepted)))]
async fn close_dispatch(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<CloseDispatchRequest>,
) -> Done {
    let command = DispatchCommand::Close(CloseDispatch {
        dispatch: DispatchId(uuid_param("dispatch_id", &id)?),
        at: r.at,
        note: opt_text("note", r.note.as_deref())?,
    });
    done(s.ledger.dispatch(&ctx, command).await)
}

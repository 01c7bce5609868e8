//! Second-grid-member deployments (B5): a registered volunteer is deployed to a community grid, then
//! the deployment ends. Whether the volunteer may be deployed is the domain's to judge.

use axum::extract::State;
use chrono::NaiveDate;
use domain::ids::{DeploymentId, VolunteerId};
use domain::jiangsu::deployment::{DeployToGrid, DeploymentCommand, EndDeployment};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{WriteAccepted, region, text, uuid_param};
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(deploy_to_grid))
        .routes(routes!(end_deployment))
}

/// Deploy a volunteer to a community grid.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeployToGridRequest {
    pub deployment_id: Uuid,
    pub volunteer_id: Uuid,
    /// The volunteer's home unit (派出单位).
    pub home_unit: String,
    /// The region of the community (GB/T 2260 code).
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub region: String,
    /// Community and grid reference.
    pub grid: String,
    /// First day of service.
    pub from: NaiveDate,
    pub planned_end: Option<NaiveDate>,
}

/// End a deployment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EndDeploymentRequest {
    /// Last day of service.
    pub on: NaiveDate,
}

#[utoipa::path(post, path = "/api/v1/deployments", tag = "deployments", request_body = DeployToGridRequest,
    responses((status = 201, description = "Volunteer deployed", body = WriteAccepted)))]
async fn deploy_to_grid(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<DeployToGridRequest>,
) -> Created {
    let command = DeploymentCommand::Deploy(DeployToGrid {
        deployment: DeploymentId(r.deployment_id),
        volunteer: VolunteerId(r.volunteer_id),
        home_unit: text("home_unit", &r.home_unit)?,
        region: region("region", &r.region)?,
        grid: text("grid", &r.grid)?,
        from: r.from,
        planned_end: r.planned_end,
    });
    created(s.ledger.deployment(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/deployments/{deployment_id}/end", tag = "deployments",
    params(("deployment_id" = Uuid, Path, description = "The deployment")),
    request_body = EndDeploymentRequest,
    responses((status = 200, description = "Deployment ended", body = WriteAccepted)))]
async fn end_deployment(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<EndDeploymentRequest>,
) -> Done {
    let command = DeploymentCommand::End(EndDeployment {
        deployment: DeploymentId(uuid_param("deployment_id", &id)?),
        on: r.on,
    });
    done(s.ledger.deployment(&ctx, command).await)
}

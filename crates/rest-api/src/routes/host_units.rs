//! Host units (依托单位): register, assign the designated manager (A10, sealed), end the assignment.

use axum::extract::State;
use chrono::NaiveDate;
use domain::host_unit::{
    AssignDesignatedManager, EndManagerAssignment, HostUnitCommand, RegisterHostUnit,
};
use domain::ids::{HostUnitId, Sealed};
use personal_data::PersonalRecord;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{
    HostUnitKindDto, PersonInput, PilotLevelDto, WriteAccepted, host_unit_kind, region, text,
    uuid_param,
};
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(register_host_unit))
        .routes(routes!(assign_manager))
        .routes(routes!(end_manager_assignment))
}

/// Register a host unit.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterHostUnitRequest {
    pub host_unit_id: Uuid,
    pub kind: HostUnitKindDto,
    /// Required for `tb_free_community_pilot`, absent otherwise.
    pub pilot_level: Option<PilotLevelDto>,
    pub name: String,
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub region: String,
}

/// Name the CDC's designated manager (A10). The person is sealed by the service.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignManagerRequest {
    pub manager: PersonInput,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// End the current manager assignment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EndAssignmentRequest {
    pub until: NaiveDate,
}

#[utoipa::path(post, path = "/api/v1/host-units", tag = "host-units", request_body = RegisterHostUnitRequest,
    responses((status = 201, description = "Host unit registered", body = WriteAccepted)))]
async fn register_host_unit(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<RegisterHostUnitRequest>,
) -> Created {
    let id = HostUnitId(r.host_unit_id);
    let command = HostUnitCommand::Register(RegisterHostUnit {
        host_unit: id,
        kind: host_unit_kind("kind", r.kind, r.pilot_level)?,
        name: text("name", &r.name)?,
        region: region("region", &r.region)?,
    });
    created(s.ledger.host_unit(&ctx, id, command, None).await)
}

#[utoipa::path(post, path = "/api/v1/host-units/{host_unit_id}/assign-manager", tag = "host-units",
    params(("host_unit_id" = Uuid, Path, description = "The host unit")),
    request_body = AssignManagerRequest,
    responses((status = 200, description = "Manager assigned", body = WriteAccepted)))]
async fn assign_manager(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<AssignManagerRequest>,
) -> Done {
    let id = HostUnitId(uuid_param("host_unit_id", &id)?);
    let manager = PersonalRecord::from(r.manager);
    let command = HostUnitCommand::AssignDesignatedManager(AssignDesignatedManager {
        person: Sealed(String::new()),
        from: r.from,
        until: r.until,
    });
    done(s.ledger.host_unit(&ctx, id, command, Some(&manager)).await)
}

#[utoipa::path(post, path = "/api/v1/host-units/{host_unit_id}/end-manager-assignment", tag = "host-units",
    params(("host_unit_id" = Uuid, Path, description = "The host unit")),
    request_body = EndAssignmentRequest,
    responses((status = 200, description = "Assignment ended", body = WriteAccepted)))]
async fn end_manager_assignment(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<EndAssignmentRequest>,
) -> Done {
    let id = HostUnitId(uuid_param("host_unit_id", &id)?);
    let command = HostUnitCommand::EndManagerAssignment(EndManagerAssignment { until: r.until });
    done(s.ledger.host_unit(&ctx, id, command, None).await)
}

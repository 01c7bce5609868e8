//! `HostUnitService`: register host units (依托单位), assign and end the A10 designated manager.
//! Conversion only; the manager is passed in plaintext beside the command and sealed by the app layer.

use app::AppError;
use domain::host_unit::{
    AssignDesignatedManager, EndManagerAssignment, HostUnitCommand, HostUnitKind, PilotLevel,
    RegisterHostUnit,
};
use domain::ids::{HostUnitId, Sealed};
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{date, enumeration, opt_date, person, region, text, uuid, written};
use crate::pb;
use crate::pb::host_unit_service_server::HostUnitService;

api!(HostUnitApi);

/// A host unit kind (also used by the campaign rules, A4).
pub(crate) fn kind(field: &str, v: i32) -> Result<HostUnitKind, AppError> {
    use pb::HostUnitKind as K;
    Ok(match enumeration::<K>(field, v)? {
        K::Unspecified => return Err(AppError::invalid(field, "is required")),
        K::Cdc => HostUnitKind::Cdc,
        K::GovernmentDepartment => HostUnitKind::GovernmentDepartment,
        K::DesignatedTbHospital => HostUnitKind::DesignatedTbHospital,
        K::TbFreeCommunityPilotCounty => HostUnitKind::TbFreeCommunityPilot(PilotLevel::County),
        K::TbFreeCommunityPilotCity => HostUnitKind::TbFreeCommunityPilot(PilotLevel::City),
        K::TbFreeCommunityPilotProvince => HostUnitKind::TbFreeCommunityPilot(PilotLevel::Province),
        K::TbFreeCommunityPilotNational => HostUnitKind::TbFreeCommunityPilot(PilotLevel::National),
        K::TbFreeCampus => HostUnitKind::TbFreeCampus,
        K::School => HostUnitKind::School,
        K::Enterprise => HostUnitKind::Enterprise,
        K::SocialOrganisation => HostUnitKind::SocialOrganisation,
        K::CivilizationPracticeCentre => HostUnitKind::CivilizationPracticeCentre,
        K::CivilizationPracticeInstitute => HostUnitKind::CivilizationPracticeInstitute,
        K::CivilizationPracticeStation => HostUnitKind::CivilizationPracticeStation,
        K::PartyBranch => HostUnitKind::PartyBranch,
        K::Other => HostUnitKind::Other,
    })
}

#[tonic::async_trait]
impl HostUnitService for HostUnitApi {
    async fn register_host_unit(
        &self,
        request: Request<pb::RegisterHostUnitRequest>,
    ) -> Result<Response<pb::RegisterHostUnitResponse>, Status> {
        rpc!("HostUnitService/RegisterHostUnit", {
            let (ctx, r) = context::command(&self.state, request)?;
            let id = HostUnitId(uuid("host_unit_id", &r.host_unit_id)?);
            let command = HostUnitCommand::Register(RegisterHostUnit {
                host_unit: id,
                kind: kind("kind", r.kind)?,
                name: text("name", &r.name)?,
                region: region("region", &r.region)?,
            });
            let out = self.state.ledger.host_unit(&ctx, id, command, None).await?;
            Ok(pb::RegisterHostUnitResponse {
                result: written(out),
            })
        })
    }

    async fn assign_designated_manager(
        &self,
        request: Request<pb::AssignDesignatedManagerRequest>,
    ) -> Result<Response<pb::AssignDesignatedManagerResponse>, Status> {
        rpc!("HostUnitService/AssignDesignatedManager", {
            let (ctx, r) = context::command(&self.state, request)?;
            let id = HostUnitId(uuid("host_unit_id", &r.host_unit_id)?);
            let manager = person("person", &r.person)?;
            let command = HostUnitCommand::AssignDesignatedManager(AssignDesignatedManager {
                person: Sealed(String::new()),
                from: date("from", &r.from)?,
                until: opt_date("until", r.until.as_ref())?,
            });
            let out = self
                .state
                .ledger
                .host_unit(&ctx, id, command, Some(&manager))
                .await?;
            Ok(pb::AssignDesignatedManagerResponse {
                result: written(out),
            })
        })
    }

    async fn end_manager_assignment(
        &self,
        request: Request<pb::EndManagerAssignmentRequest>,
    ) -> Result<Response<pb::EndManagerAssignmentResponse>, Status> {
        rpc!("HostUnitService/EndManagerAssignment", {
            let (ctx, r) = context::command(&self.state, request)?;
            let id = HostUnitId(uuid("host_unit_id", &r.host_unit_id)?);
            let command = HostUnitCommand::EndManagerAssignment(EndManagerAssignment {
                until: date("until", &r.until)?,
            });
            let out = self.state.ledger.host_unit(&ctx, id, command, None).await?;
            Ok(pb::EndManagerAssignmentResponse {
                result: written(out),
            })
        })
    }
}

//! `RegionService`: define and retire regions, record resident populations (A1's denominators).
//! Conversion only; the domain and the app layer decide.

use app::AppError;
use domain::region::{
    DefineRegion, RecordResidentPopulation, RegionCommand, RegionLevel, RetireRegion,
};
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{date, enumeration, opt_date, opt_region, opt_text, region, text, written};
use crate::pb;
use crate::pb::region_service_server::RegionService;

api!(RegionApi);

fn level(field: &str, v: i32) -> Result<RegionLevel, AppError> {
    Ok(match enumeration::<pb::RegionLevel>(field, v)? {
        pb::RegionLevel::Unspecified => return Err(AppError::invalid(field, "is required")),
        pb::RegionLevel::Province => RegionLevel::Province,
        pb::RegionLevel::City => RegionLevel::City,
        pb::RegionLevel::County => RegionLevel::County,
        pb::RegionLevel::Township => RegionLevel::Township,
    })
}

#[tonic::async_trait]
impl RegionService for RegionApi {
    async fn define_region(
        &self,
        request: Request<pb::DefineRegionRequest>,
    ) -> Result<Response<pb::DefineRegionResponse>, Status> {
        rpc!("RegionService/DefineRegion", {
            let (ctx, r) = context::command(&self.state, request)?;
            let code = region("code", &r.code)?;
            let command = RegionCommand::Define(DefineRegion {
                code,
                name: text("name", &r.name)?,
                level: level("level", r.level)?,
                parent: opt_region("parent", r.parent.as_ref())?,
                valid_from: date("valid_from", &r.valid_from)?,
                valid_to: opt_date("valid_to", r.valid_to.as_ref())?,
            });
            let out = self.state.ledger.region(&ctx, code, command).await?;
            Ok(pb::DefineRegionResponse {
                result: written(out),
            })
        })
    }

    async fn retire_region(
        &self,
        request: Request<pb::RetireRegionRequest>,
    ) -> Result<Response<pb::RetireRegionResponse>, Status> {
        rpc!("RegionService/RetireRegion", {
            let (ctx, r) = context::command(&self.state, request)?;
            let code = region("code", &r.code)?;
            let command = RegionCommand::Retire(RetireRegion {
                valid_to: date("valid_to", &r.valid_to)?,
                successor: opt_region("successor", r.successor.as_ref())?,
            });
            let out = self.state.ledger.region(&ctx, code, command).await?;
            Ok(pb::RetireRegionResponse {
                result: written(out),
            })
        })
    }

    async fn record_resident_population(
        &self,
        request: Request<pb::RecordResidentPopulationRequest>,
    ) -> Result<Response<pb::RecordResidentPopulationResponse>, Status> {
        rpc!("RegionService/RecordResidentPopulation", {
            let (ctx, r) = context::command(&self.state, request)?;
            let code = region("code", &r.code)?;
            let command = RegionCommand::RecordResidentPopulation(RecordResidentPopulation {
                year: r.year,
                count: r.count,
                source: text("source", &r.source)?,
                reason: opt_text("reason", r.reason.as_ref())?,
            });
            let out = self.state.ledger.region(&ctx, code, command).await?;
            Ok(pb::RecordResidentPopulationResponse {
                result: written(out),
            })
        })
    }
}

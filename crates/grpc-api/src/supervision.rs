//! `SupervisionService`: civil affairs' supervision findings (A20): record, respond, close.
//! Conversion only.

use app::AppError;
use domain::ids::{ActivityId, FindingId, TeamId, VolunteerId};
use domain::supervision::{
    CloseFinding, FindingCommand, RecordRef, RecordSupervisionFinding, RespondToFinding, Severity,
};
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{at, county_year, dot, enumeration, message, region, text, uuid, written};
use crate::pb;
use crate::pb::supervision_service_server::SupervisionService;

api!(SupervisionApi);

fn severity(field: &str, v: i32) -> Result<Severity, AppError> {
    Ok(match enumeration::<pb::Severity>(field, v)? {
        pb::Severity::Unspecified => return Err(AppError::invalid(field, "is required")),
        pb::Severity::Info => Severity::Info,
        pb::Severity::Minor => Severity::Minor,
        pb::Severity::Major => Severity::Major,
    })
}

fn record_ref(field: &str, r: &pb::RecordRef) -> Result<RecordRef, AppError> {
    use pb::record_ref::Record as R;
    Ok(match &r.record {
        Some(R::TeamId(s)) => RecordRef::Team(TeamId(uuid(&dot(field, "team_id"), s)?)),
        Some(R::VolunteerId(s)) => {
            RecordRef::Volunteer(VolunteerId(uuid(&dot(field, "volunteer_id"), s)?))
        }
        Some(R::ActivityId(s)) => {
            RecordRef::Activity(ActivityId(uuid(&dot(field, "activity_id"), s)?))
        }
        Some(R::Summary(k)) => {
            RecordRef::Summary(county_year(&dot(field, "summary"), &Some(k.clone()))?)
        }
        None => {
            return Err(AppError::invalid(
                field,
                "is required: team_id, volunteer_id, activity_id or summary",
            ));
        }
    })
}

fn finding_id(s: &str) -> Result<FindingId, AppError> {
    Ok(FindingId(uuid("finding_id", s)?))
}

impl SupervisionApi {
    async fn run(
        &self,
        ctx: &app::CommandContext,
        command: FindingCommand,
    ) -> Result<Option<pb::WriteResult>, AppError> {
        Ok(written(
            self.state.ledger.supervision_finding(ctx, command).await?,
        ))
    }
}

#[tonic::async_trait]
impl SupervisionService for SupervisionApi {
    async fn record_supervision_finding(
        &self,
        request: Request<pb::RecordSupervisionFindingRequest>,
    ) -> Result<Response<pb::RecordSupervisionFindingResponse>, Status> {
        rpc!("SupervisionService/RecordSupervisionFinding", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = FindingCommand::Record(RecordSupervisionFinding {
                finding: finding_id(&r.finding_id)?,
                jurisdiction: region("jurisdiction", &r.jurisdiction)?,
                subject: record_ref("subject", message("subject", &r.subject)?)?,
                description: text("description", &r.description)?,
                severity: severity("severity", r.severity)?,
                spot_check: r.spot_check,
                sampled: r
                    .sampled
                    .iter()
                    .enumerate()
                    .map(|(i, s)| record_ref(&at("sampled", i), s))
                    .collect::<Result<_, _>>()?,
            });
            Ok(pb::RecordSupervisionFindingResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn respond_to_finding(
        &self,
        request: Request<pb::RespondToFindingRequest>,
    ) -> Result<Response<pb::RespondToFindingResponse>, Status> {
        rpc!("SupervisionService/RespondToFinding", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = FindingCommand::Respond(RespondToFinding {
                finding: finding_id(&r.finding_id)?,
                response: text("response", &r.response)?,
            });
            Ok(pb::RespondToFindingResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn close_finding(
        &self,
        request: Request<pb::CloseFindingRequest>,
    ) -> Result<Response<pb::CloseFindingResponse>, Status> {
        rpc!("SupervisionService/CloseFinding", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = FindingCommand::Close(CloseFinding {
                finding: finding_id(&r.finding_id)?,
                resolution: text("resolution", &r.resolution)?,
            });
            Ok(pb::CloseFindingResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }
}

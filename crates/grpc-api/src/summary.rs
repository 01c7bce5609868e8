//! `SummaryService`: the annual summary workflow (A15, A16). Conversion only; who may take which step
//! is the policy table's, the order of steps the domain's.

use app::AppError;
use domain::ids::CaseId;
use domain::summary::{
    AcceptSummary, ApproveSummary, DraftSummary, ReturnSummary, ReturnToCounty, ReviseSummary,
    SubmitForApproval, SubmitToCity, SummaryCommand, SummarySections,
};
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{county_year, dot, message, text, uuids, written};
use crate::pb;
use crate::pb::summary_service_server::SummaryService;

api!(SummaryApi);

fn sections(field: &str, s: &Option<pb::SummarySections>) -> Result<SummarySections, AppError> {
    let s = message(field, s)?;
    Ok(SummarySections {
        team_buildup: text(&dot(field, "team_buildup"), &s.team_buildup)?,
        support: text(&dot(field, "support"), &s.support)?,
        activities: text(&dot(field, "activities"), &s.activities)?,
        effect: text(&dot(field, "effect"), &s.effect)?,
    })
}

fn cases(list: &[String]) -> Result<Vec<CaseId>, AppError> {
    Ok(uuids("typical_cases", list)?
        .into_iter()
        .map(CaseId)
        .collect())
}

impl SummaryApi {
    async fn run(
        &self,
        ctx: &app::CommandContext,
        command: SummaryCommand,
    ) -> Result<Option<pb::WriteResult>, AppError> {
        Ok(written(self.state.ledger.summary(ctx, command).await?))
    }
}

#[tonic::async_trait]
impl SummaryService for SummaryApi {
    async fn draft_summary(
        &self,
        request: Request<pb::DraftSummaryRequest>,
    ) -> Result<Response<pb::DraftSummaryResponse>, Status> {
        rpc!("SummaryService/DraftSummary", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = SummaryCommand::Draft(DraftSummary {
                summary: county_year("summary", &r.summary)?,
                sections: sections("sections", &r.sections)?,
                typical_cases: cases(&r.typical_cases)?,
            });
            Ok(pb::DraftSummaryResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn revise_summary(
        &self,
        request: Request<pb::ReviseSummaryRequest>,
    ) -> Result<Response<pb::ReviseSummaryResponse>, Status> {
        rpc!("SummaryService/ReviseSummary", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = SummaryCommand::Revise(ReviseSummary {
                summary: county_year("summary", &r.summary)?,
                sections: sections("sections", &r.sections)?,
                typical_cases: cases(&r.typical_cases)?,
            });
            Ok(pb::ReviseSummaryResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn submit_summary_for_approval(
        &self,
        request: Request<pb::SubmitSummaryForApprovalRequest>,
    ) -> Result<Response<pb::SubmitSummaryForApprovalResponse>, Status> {
        rpc!("SummaryService/SubmitSummaryForApproval", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = SummaryCommand::SubmitForApproval(SubmitForApproval {
                summary: county_year("summary", &r.summary)?,
            });
            Ok(pb::SubmitSummaryForApprovalResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn approve_summary(
        &self,
        request: Request<pb::ApproveSummaryRequest>,
    ) -> Result<Response<pb::ApproveSummaryResponse>, Status> {
        rpc!("SummaryService/ApproveSummary", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = SummaryCommand::Approve(ApproveSummary {
                summary: county_year("summary", &r.summary)?,
            });
            Ok(pb::ApproveSummaryResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn return_summary(
        &self,
        request: Request<pb::ReturnSummaryRequest>,
    ) -> Result<Response<pb::ReturnSummaryResponse>, Status> {
        rpc!("SummaryService/ReturnSummary", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = SummaryCommand::Return(ReturnSummary {
                summary: county_year("summary", &r.summary)?,
                reason: text("reason", &r.reason)?,
            });
            Ok(pb::ReturnSummaryResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn submit_summary_to_city(
        &self,
        request: Request<pb::SubmitSummaryToCityRequest>,
    ) -> Result<Response<pb::SubmitSummaryToCityResponse>, Status> {
        rpc!("SummaryService/SubmitSummaryToCity", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = SummaryCommand::SubmitToCity(SubmitToCity {
                summary: county_year("summary", &r.summary)?,
            });
            Ok(pb::SubmitSummaryToCityResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn accept_summary(
        &self,
        request: Request<pb::AcceptSummaryRequest>,
    ) -> Result<Response<pb::AcceptSummaryResponse>, Status> {
        rpc!("SummaryService/AcceptSummary", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = SummaryCommand::Accept(AcceptSummary {
                summary: county_year("summary", &r.summary)?,
            });
            Ok(pb::AcceptSummaryResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn return_summary_to_county(
        &self,
        request: Request<pb::ReturnSummaryToCountyRequest>,
    ) -> Result<Response<pb::ReturnSummaryToCountyResponse>, Status> {
        rpc!("SummaryService/ReturnSummaryToCounty", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = SummaryCommand::ReturnToCounty(ReturnToCounty {
                summary: county_year("summary", &r.summary)?,
                reason: text("reason", &r.reason)?,
            });
            Ok(pb::ReturnSummaryToCountyResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }
}

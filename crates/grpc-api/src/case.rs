//! `CaseService`: typical cases (A18: nominate, select, forward, withdraw) and the city's yearly
//! evaluation of a county (A17). Conversion only.

use app::AppError;
use domain::evaluation::{EvaluationCommand, EvaluationItems, ItemAssessment, RecordEvaluation};
use domain::ids::{ActivityId, CaseId};
use domain::typical_case::{
    CaseCommand, CaseQuality, ForwardToProvince, NominateCase, SelectCase, WithdrawNomination,
};
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{
    county_year, dot, enumerations, message, opt_text, region, text, u8_score, uuid, uuids, written,
};
use crate::pb;
use crate::pb::case_service_server::CaseService;

api!(CaseApi);

fn quality(field: &str, q: pb::CaseQuality) -> Result<CaseQuality, AppError> {
    Ok(match q {
        pb::CaseQuality::Unspecified => return Err(AppError::invalid(field, "is required")),
        pb::CaseQuality::Innovative => CaseQuality::Innovative,
        pb::CaseQuality::Distinctive => CaseQuality::Distinctive,
        pb::CaseQuality::Effective => CaseQuality::Effective,
        pb::CaseQuality::Moving => CaseQuality::Moving,
    })
}

fn assessment(field: &str, a: &Option<pb::ItemAssessment>) -> Result<ItemAssessment, AppError> {
    let a = message(field, a)?;
    Ok(ItemAssessment {
        score: u8_score(&dot(field, "score"), a.score)?,
        comment: text(&dot(field, "comment"), &a.comment)?,
    })
}

fn items(field: &str, i: &Option<pb::EvaluationItems>) -> Result<EvaluationItems, AppError> {
    let i = message(field, i)?;
    Ok(EvaluationItems {
        form: assessment(&dot(field, "form"), &i.form)?,
        scale: assessment(&dot(field, "scale"), &i.scale)?,
        frequency: assessment(&dot(field, "frequency"), &i.frequency)?,
        population_reached: assessment(&dot(field, "population_reached"), &i.population_reached)?,
        media_dissemination: assessment(
            &dot(field, "media_dissemination"),
            &i.media_dissemination,
        )?,
        effect: assessment(&dot(field, "effect"), &i.effect)?,
    })
}

fn case_id(s: &str) -> Result<CaseId, AppError> {
    Ok(CaseId(uuid("case_id", s)?))
}

impl CaseApi {
    async fn run(
        &self,
        ctx: &app::CommandContext,
        command: CaseCommand,
    ) -> Result<Option<pb::WriteResult>, AppError> {
        Ok(written(self.state.ledger.typical_case(ctx, command).await?))
    }
}

#[tonic::async_trait]
impl CaseService for CaseApi {
    async fn nominate_case(
        &self,
        request: Request<pb::NominateCaseRequest>,
    ) -> Result<Response<pb::NominateCaseResponse>, Status> {
        rpc!("CaseService/NominateCase", {
            let (ctx, r) = context::command(&self.state, request)?;
            let qualities = enumerations::<pb::CaseQuality>("qualities", &r.qualities)?
                .into_iter()
                .enumerate()
                .map(|(i, q)| quality(&crate::convert::at("qualities", i), q))
                .collect::<Result<_, _>>()?;
            let command = CaseCommand::Nominate(NominateCase {
                case: case_id(&r.case_id)?,
                county: region("county", &r.county)?,
                year: r.year,
                title: text("title", &r.title)?,
                description: text("description", &r.description)?,
                activities: uuids("activity_ids", &r.activity_ids)?
                    .into_iter()
                    .map(ActivityId)
                    .collect(),
                qualities,
            });
            Ok(pb::NominateCaseResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn select_case(
        &self,
        request: Request<pb::SelectCaseRequest>,
    ) -> Result<Response<pb::SelectCaseResponse>, Status> {
        rpc!("CaseService/SelectCase", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = CaseCommand::Select(SelectCase {
                case: case_id(&r.case_id)?,
            });
            Ok(pb::SelectCaseResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn forward_case_to_province(
        &self,
        request: Request<pb::ForwardCaseToProvinceRequest>,
    ) -> Result<Response<pb::ForwardCaseToProvinceResponse>, Status> {
        rpc!("CaseService/ForwardCaseToProvince", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = CaseCommand::Forward(ForwardToProvince {
                case: case_id(&r.case_id)?,
            });
            Ok(pb::ForwardCaseToProvinceResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn withdraw_nomination(
        &self,
        request: Request<pb::WithdrawNominationRequest>,
    ) -> Result<Response<pb::WithdrawNominationResponse>, Status> {
        rpc!("CaseService/WithdrawNomination", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = CaseCommand::Withdraw(WithdrawNomination {
                case: case_id(&r.case_id)?,
                reason: text("reason", &r.reason)?,
            });
            Ok(pb::WithdrawNominationResponse {
                result: self.run(&ctx, command).await?,
            })
        })
    }

    async fn record_evaluation(
        &self,
        request: Request<pb::RecordEvaluationRequest>,
    ) -> Result<Response<pb::RecordEvaluationResponse>, Status> {
        rpc!("CaseService/RecordEvaluation", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = EvaluationCommand::Record(RecordEvaluation {
                evaluation: county_year("evaluation", &r.evaluation)?,
                items: items("items", &r.items)?,
                reason: opt_text("reason", r.reason.as_ref())?,
            });
            let out = self.state.ledger.evaluation(&ctx, command).await?;
            Ok(pb::RecordEvaluationResponse {
                result: written(out),
            })
        })
    }
}

//! The city CDC's yearly evaluation of a county (A17): six items, each a score `0..=100` and a comment.
//! A revision needs a reason; the campaign window (A14) is the domain's to check.

use axum::extract::State;
use domain::evaluation::{EvaluationCommand, EvaluationItems, ItemAssessment, RecordEvaluation};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Created, created};
use crate::RestState;
use crate::dto::{CountyYearInput, WriteAccepted, county_year, opt_text, text};
use crate::error::ApiError;
use crate::extract::{Body, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new().routes(routes!(record_evaluation))
}

/// One evaluated item.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ItemAssessmentInput {
    #[schema(maximum = 100)]
    pub score: u8,
    pub comment: String,
}

/// The six A17 items.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EvaluationItemsInput {
    /// 活动形式.
    pub form: ItemAssessmentInput,
    /// 活动规模.
    pub scale: ItemAssessmentInput,
    /// 活动频次.
    pub frequency: ItemAssessmentInput,
    /// 覆盖人群.
    pub population_reached: ItemAssessmentInput,
    /// 媒体传播.
    pub media_dissemination: ItemAssessmentInput,
    /// 活动效果.
    pub effect: ItemAssessmentInput,
}

/// Record (or revise) the evaluation of a county's year.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecordEvaluationRequest {
    pub evaluation: CountyYearInput,
    pub items: EvaluationItemsInput,
    /// Why the evaluation is revised: required from the second record on.
    pub reason: Option<String>,
}

fn assessment(field: &str, a: &ItemAssessmentInput) -> Result<ItemAssessment, ApiError> {
    Ok(ItemAssessment {
        score: a.score,
        comment: text(&format!("{field}.comment"), &a.comment)?,
    })
}

fn items(i: &EvaluationItemsInput) -> Result<EvaluationItems, ApiError> {
    Ok(EvaluationItems {
        form: assessment("items.form", &i.form)?,
        scale: assessment("items.scale", &i.scale)?,
        frequency: assessment("items.frequency", &i.frequency)?,
        population_reached: assessment("items.population_reached", &i.population_reached)?,
        media_dissemination: assessment("items.media_dissemination", &i.media_dissemination)?,
        effect: assessment("items.effect", &i.effect)?,
    })
}

#[utoipa::path(post, path = "/api/v1/evaluations", tag = "evaluations",
    request_body = RecordEvaluationRequest,
    responses((status = 201, description = "Evaluation recorded (a new revision)", body = WriteAccepted)))]
async fn record_evaluation(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<RecordEvaluationRequest>,
) -> Created {
    let command = EvaluationCommand::Record(RecordEvaluation {
        evaluation: county_year("evaluation", &r.evaluation)?,
        items: items(&r.items)?,
        reason: opt_text("reason", r.reason.as_deref())?,
    });
    created(s.ledger.evaluation(&ctx, command).await)
}

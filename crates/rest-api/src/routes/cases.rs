//! Typical cases (A18): a county CDC nominates or withdraws, the city CDC selects and forwards to the
//! province. The domain checks that the activities are the county's own.

use axum::extract::State;
use domain::ids::{ActivityId, CaseId};
use domain::typical_case::{
    CaseCommand, ForwardToProvince, NominateCase, SelectCase, WithdrawNomination,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{CaseQualityDto, WriteAccepted, region, text, uuid_param};
use crate::error::ApiError;
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(nominate_case))
        .routes(routes!(withdraw_nomination))
        .routes(routes!(select_case))
        .routes(routes!(forward_to_province))
}

/// Nominate a typical case of a county's year.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NominateCaseRequest {
    pub case_id: Uuid,
    /// The nominating county (county-level GB/T 2260 code).
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub county: String,
    /// The report year the case belongs to.
    pub year: i32,
    pub title: String,
    pub description: String,
    /// The county's activities the case is about.
    pub activity_ids: Vec<Uuid>,
    /// What makes it typical (有创新、有特色、有实效、感人).
    pub qualities: Vec<CaseQualityDto>,
}

/// Withdraw a nomination before the city selects it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WithdrawNominationRequest {
    pub reason: String,
}

fn case_param(id: &str) -> Result<CaseId, ApiError> {
    Ok(CaseId(uuid_param("case_id", id)?))
}

#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = NominateCaseRequest,
    responses((status = 201, description = "Case nominated", body = WriteAccepted)))]
async fn nominate_case(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<NominateCaseRequest>,
) -> Created {
    let command = CaseCommand::Nominate(NominateCase {
        case: CaseId(r.case_id),
        county: region("county", &r.county)?,
        year: r.year,
        title: text("title", &r.title)?,
        description: text("description", &r.description)?,
        activities: r.activity_ids.into_iter().map(ActivityId).collect(),
        qualities: r.qualities.into_iter().map(Into::into).collect(),
    });
    created(s.ledger.typical_case(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/cases/{case_id}/withdraw", tag = "cases",
    params(("case_id" = Uuid, Path, description = "The case")),
    request_body = WithdrawNominationRequest,
    responses((status = 200, description = "Nomination withdrawn", body = WriteAccepted)))]
async fn withdraw_nomination(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<WithdrawNominationRequest>,
) -> Done {
    let command = CaseCommand::Withdraw(WithdrawNomination {
        case: case_param(&id)?,
        reason: text("reason", &r.reason)?,
    });
    done(s.ledger.typical_case(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/cases/{case_id}/select", tag = "cases",
    params(("case_id" = Uuid, Path, description = "The case")),
    responses((status = 200, description = "Case selected by the city CDC", body = WriteAccepted)))]
async fn select_case(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
) -> Done {
    let command = CaseCommand::Select(SelectCase {
        case: case_param(&id)?,
    });
    done(s.ledger.typical_case(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/cases/{case_id}/forward-to-province", tag = "cases",
    params(("case_id" = Uuid, Path, description = "The case")),
    responses((status = 200, description = "Selected case forwarded to the provincial CDC", body = WriteAccepted)))]
async fn forward_to_province(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
) -> Done {
    let command = CaseCommand::Forward(ForwardToProvince {
        case: case_param(&id)?,
    });
    done(s.ledger.typical_case(&ctx, command).await)
}

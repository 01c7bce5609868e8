//! Community needs (B10): a CDC posts a need, verifies or rejects it; a team takes a verified need and
//! fulfils it. Whether the team may take it is the domain's to judge.

use axum::extract::State;
use domain::ids::{NeedId, TeamId};
use domain::jiangsu::need::{FulfilNeed, NeedCommand, PostNeed, RejectNeed, TakeNeed, VerifyNeed};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{NeedCategoryDto, WriteAccepted, region, text, uuid_param};
use crate::error::ApiError;
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(post_need))
        .routes(routes!(verify_need))
        .routes(routes!(reject_need))
        .routes(routes!(take_need))
        .routes(routes!(fulfil_need))
}

/// Post a community need.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PostNeedRequest {
    pub need_id: Uuid,
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub region: String,
    /// Community and grid, e.g. "梅园新村街道 第3网格".
    pub community: String,
    pub description: String,
    pub category: NeedCategoryDto,
}

/// Reject a need.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectNeedRequest {
    pub reason: String,
}

/// A team takes a verified need.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TakeNeedRequest {
    pub team_id: Uuid,
}

/// The team that took the need fulfils it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FulfilNeedRequest {
    pub team_id: Uuid,
    pub note: String,
}

fn need_param(id: &str) -> Result<NeedId, ApiError> {
    Ok(NeedId(uuid_param("need_id", id)?))
}

#[utoipa::path(post, path = "/api/v1/needs", tag = "needs", request_body = PostNeedRequest,
    responses((status = 201, description = "Need posted", body = WriteAccepted)))]
async fn post_need(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<PostNeedRequest>,
) -> Created {
    let command = NeedCommand::Post(PostNeed {
        need: NeedId(r.need_id),
        region: region("region", &r.region)?,
        community: text("community", &r.community)?,
        description: text("description", &r.description)?,
        category: r.category.into(),
    });
    created(s.ledger.need(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/needs/{need_id}/verify", tag = "needs",
    params(("need_id" = Uuid, Path, description = "The need")),
    responses((status = 200, description = "Need verified", body = WriteAccepted)))]
async fn verify_need(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
) -> Done {
    let command = NeedCommand::Verify(VerifyNeed {
        need: need_param(&id)?,
    });
    done(s.ledger.need(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/needs/{need_id}/reject", tag = "needs",
    params(("need_id" = Uuid, Path, description = "The need")),
    request_body = RejectNeedRequest,
    responses((status = 200, description = "Need rejected", body = WriteAccepted)))]
async fn reject_need(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<RejectNeedRequest>,
) -> Done {
    let command = NeedCommand::Reject(RejectNeed {
        need: need_param(&id)?,
        reason: text("reason", &r.reason)?,
    });
    done(s.ledger.need(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/needs/{need_id}/take", tag = "needs",
    params(("need_id" = Uuid, Path, description = "The need")),
    request_body = TakeNeedRequest,
    responses((status = 200, description = "Need taken by the team", body = WriteAccepted)))]
async fn take_need(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<TakeNeedRequest>,
) -> Done {
    let command = NeedCommand::Take(TakeNeed {
        need: need_param(&id)?,
        team: TeamId(r.team_id),
    });
    done(s.ledger.need(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/needs/{need_id}/fulfil", tag = "needs",
    params(("need_id" = Uuid, Path, description = "The need")),
    request_body = FulfilNeedRequest,
    responses((status = 200, description = "Need fulfilled", body = WriteAccepted)))]
async fn fulfil_need(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<FulfilNeedRequest>,
) -> Done {
    let command = NeedCommand::Fulfil(FulfilNeed {
        need: need_param(&id)?,
        team: TeamId(r.team_id),
        note: text("note", &r.note)?,
    });
    done(s.ledger.need(&ctx, command).await)
}

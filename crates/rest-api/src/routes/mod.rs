//! The `/api/v1` routes, one module per area. Each handler: authenticate (first extractor), convert the
//! DTO into a domain command (field-named errors), call `app::Ledger`, answer the outcome.

use app::CommandOutcome;
use axum::Json;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;

use crate::RestState;
use crate::dto::WriteAccepted;
use crate::error::ApiError;

mod activities;
mod audit;
mod campaigns;
mod cases;
mod certificates;
mod deployments;
mod dispatches;
mod evaluations;
mod events;
mod findings;
mod host_units;
mod medicine_boxes;
mod needs;
mod params;
mod records;
mod regions;
mod reports;
mod summaries;
mod teams;
mod volunteers;

/// A create: 201 with the outcome.
pub(crate) type Created = Result<(StatusCode, Json<WriteAccepted>), ApiError>;
/// A transition: 200 with the outcome.
pub(crate) type Done = Result<Json<WriteAccepted>, ApiError>;

pub(crate) fn created(outcome: Result<CommandOutcome, app::AppError>) -> Created {
    Ok((StatusCode::CREATED, Json(outcome?.into())))
}

pub(crate) fn done(outcome: Result<CommandOutcome, app::AppError>) -> Done {
    Ok(Json(outcome?.into()))
}

/// Every area's routes.
pub(crate) fn all(router: OpenApiRouter<RestState>) -> OpenApiRouter<RestState> {
    router
        .merge(regions::routes())
        .merge(campaigns::routes())
        .merge(host_units::routes())
        .merge(teams::routes())
        .merge(volunteers::routes())
        .merge(activities::routes())
        .merge(summaries::routes())
        .merge(certificates::routes())
        .merge(cases::routes())
        .merge(evaluations::routes())
        .merge(findings::routes())
        .merge(dispatches::routes())
        .merge(deployments::routes())
        .merge(medicine_boxes::routes())
        .merge(needs::routes())
        .merge(events::routes())
        .merge(reports::routes())
        .merge(records::routes())
        .merge(audit::routes())
}

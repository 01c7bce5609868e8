//! Reading the log: one stream's events, or the whole log by cursor (the app layer applies the actor's
//! scope per event; personal fields stay sealed).

use app::EventEnvelope;
use app::events::parse_token;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::RestState;
use crate::error::{ApiError, AppError};
use crate::extract::{Caller, PathParams, QueryParams};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(stream_events))
        .routes(routes!(events))
}

/// An event as the API delivers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventDto {
    /// Opaque resume token (`tx.position`).
    pub token: String,
    pub stream_id: String,
    /// Stream category (`team`, `volunteer`, `activity`, …).
    pub category: String,
    pub stream_version: u64,
    pub event_type: String,
    /// The schema version after upcasting.
    pub schema_version: u32,
    /// The payload as stored (personal fields sealed).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The metadata as stored (actor, role, subject, command, correlation ids).
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

fn json(what: &str, s: &str) -> Result<serde_json::Value, ApiError> {
    serde_json::from_str(s).map_err(|e| ApiError::from(AppError::internal(what, &e)))
}

fn dto(e: EventEnvelope) -> Result<EventDto, ApiError> {
    Ok(EventDto {
        token: e.token.to_string(),
        payload: json("event payload", &e.payload)?,
        metadata: json("event metadata", &e.metadata)?,
        stream_id: e.stream_id,
        category: e.category,
        stream_version: e.stream_version,
        event_type: e.event_type,
        schema_version: e.schema_version,
        occurred_at: e.occurred_at,
        recorded_at: e.recorded_at,
    })
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPageDto {
    pub items: Vec<EventDto>,
    /// Pass as `after` for the next page (`null` when the page is empty and there is nothing to resume).
    pub next_cursor: Option<String>,
    /// `true` when more events follow (as the log stands now).
    pub has_more: bool,
}

fn limit(state: &RestState, s: Option<&str>) -> Result<usize, ApiError> {
    match s {
        None => Ok(state
            .config
            .default_page_size
            .clamp(1, app::events::MAX_PAGE)),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=app::events::MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("must be an integer from 1 to {}", app::events::MAX_PAGE),
                )
            }),
    }
}

/// Query of a stream's events.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Return events after this stream version (the `next_cursor` of the previous page; default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub after: Option<String>,
    /// Page size (default: the service's configured page size, 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/streams/{stream_id}/events", tag = "events",
    params(("stream_id" = String, Path, description = "E.g. `team-<uuid>`, `summary-330602-2024`", min_length = 1, max_length = 200),
        StreamQuery),
    responses((status = 200, description = "The stream's events, oldest first", body = EventPageDto)))]
async fn stream_events(
    State(s): State<RestState>,
    Caller(actor): Caller,
    PathParams(stream_id): PathParams<String>,
    QueryParams(q): QueryParams<StreamQuery>,
) -> Result<Json<EventPageDto>, ApiError> {
    let after = match q.after.as_deref() {
        None => 0,
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| ApiError::invalid("after", "must be a stream version (an integer ≥ 0)"))?,
    };
    let limit = limit(&s, q.limit.as_deref())?;
    let all = s.ledger.stream_events(&actor, &stream_id).await?;
    let mut rest = all.into_iter().filter(|e| e.stream_version > after);
    let items = rest
        .by_ref()
        .take(limit)
        .map(dto)
        .collect::<Result<Vec<_>, _>>()?;
    let has_more = rest.next().is_some();
    let next_cursor = Some(items.last().map_or(after, |e| e.stream_version).to_string());
    Ok(Json(EventPageDto {
        items,
        next_cursor,
        has_more,
    }))
}

/// Query of the whole log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this token (`next_cursor` of the previous page; empty or absent = from the start).
    pub after: Option<String>,
    /// Page size (default: the service's configured page size, 100). A page may hold fewer events than the limit (events outside the
    /// caller's scope or the filter are skipped); follow `has_more`.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// Only these stream categories (comma-separated, e.g. `team,activity`).
    pub category: Option<String>,
    /// Only these event types (comma-separated, e.g. `ActivityRecorded`).
    pub event_type: Option<String>,
}

fn list(s: Option<&str>) -> Vec<String> {
    s.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses((status = 200, description = "A page of the log in the gap-free global order", body = EventPageDto)))]
async fn events(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<EventsQuery>,
) -> Result<Json<EventPageDto>, ApiError> {
    let after = parse_token("after", q.after.as_deref().unwrap_or(""))?;
    let limit = limit(&s, q.limit.as_deref())?;
    let filter = app::EventFilter {
        categories: list(q.category.as_deref()),
        event_types: list(q.event_type.as_deref()),
    };
    let page = s.ledger.events_page(&actor, after, limit, &filter).await?;
    Ok(Json(EventPageDto {
        items: page.events.into_iter().map(dto).collect::<Result<_, _>>()?,
        next_cursor: Some(page.next.to_string()),
        has_more: page.more,
    }))
}

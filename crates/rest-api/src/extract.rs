//! Request extractors: who calls, the write headers, the JSON body, path and query parameters.
//!
//! Policy of this module:
//! - **Authenticate first.** Every `/api/v1` handler takes [`Caller`] as its first extractor, so a request
//!   without a valid bearer token is a 401 before anything else is looked at.
//! - **Every write carries `Idempotency-Key`** (1 to [`MAX_KEY_LEN`] characters); `X-Correlation-Id` and
//!   `X-Causation-Id` are optional and bounded the same way. [`Write`] builds the app's `CommandContext`
//!   with `client = "rest"`.
//! - **Without `X-Correlation-Id`, the trace id is the correlation id**: the caller's W3C `traceparent`
//!   trace id, else the trace this service started for the request while spans are exported
//!   (`telemetry::context::correlation_trace_id`); else none. A sent `X-Correlation-Id` always wins.
//! - **Every rejection is a problem naming the field** (see [`crate::error`]); the body is JSON only
//!   (415 otherwise), bounded by `RestConfig::max_body_bytes` (413).

use app::{Actor, CommandContext};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::RestState;
use crate::error::{ApiError, ErrorCode};

/// Longest accepted `Idempotency-Key` / correlation / causation id, in characters.
pub const MAX_KEY_LEN: usize = 200;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl FromRequestParts<RestState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RestState) -> Result<Self, ApiError> {
        let header = match parts.headers.get(header::AUTHORIZATION) {
            None => None,
            Some(v) => Some(v.to_str().map_err(|_| {
                ApiError::from(app::AppError::new(
                    ErrorCode::Unauthenticated,
                    "the Authorization header must be `Bearer <jwt>`",
                ))
            })?),
        };
        Ok(Caller(state.auth.authenticate(header)?))
    }
}

/// The headers of a write (documented on every write operation).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(
    dead_code,
    reason = "documentation only: the values are read by `Write`"
)]
pub struct WriteHeaders {
    /// Client-chosen key that makes a retried write safe: the same key with the same request answers the
    /// first outcome again (`replayed: true`); with a different request it is a 409.
    #[serde(rename = "Idempotency-Key")]
    #[param(min_length = 1, max_length = 200, pattern = "^[!-~]+$")]
    idempotency_key: String,
    /// Correlation id recorded in the event metadata. Without it, the trace id of the W3C `traceparent`
    /// header (32 hex digits) is recorded.
    #[serde(rename = "X-Correlation-Id")]
    #[param(min_length = 1, max_length = 200, pattern = "^[!-~]+$")]
    correlation_id: Option<String>,
    /// Causation id recorded in the event metadata.
    #[serde(rename = "X-Causation-Id")]
    #[param(min_length = 1, max_length = 200, pattern = "^[!-~]+$")]
    causation_id: Option<String>,
}

fn header_text(
    headers: &HeaderMap,
    name: &'static str,
    required: bool,
) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(name) else {
        return if required {
            Err(ApiError::invalid(
                name,
                format!("the {name} header is required on every write"),
            ))
        } else {
            Ok(None)
        };
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::invalid(name, "must be visible ASCII"))?
        .trim();
    if text.is_empty() || text.len() > MAX_KEY_LEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            name,
            format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(Some(text.to_owned()))
}

/// A write: the caller and the write headers, as the app's command context.
#[derive(Debug, Clone)]
pub struct Write(pub CommandContext);

impl FromRequestParts<RestState> for Write {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RestState) -> Result<Self, ApiError> {
        let Caller(actor) = Caller::from_request_parts(parts, state).await?;
        let idempotency_key =
            header_text(&parts.headers, "Idempotency-Key", true)?.unwrap_or_default();
        let correlation_id = match header_text(&parts.headers, "X-Correlation-Id", false)? {
            Some(id) => Some(id),
            None => telemetry::context::correlation_trace_id(&parts.headers),
        };
        let causation_id = header_text(&parts.headers, "X-Causation-Id", false)?;
        Ok(Write(CommandContext {
            actor,
            idempotency_key,
            correlation_id,
            causation_id,
            client: "rest".to_owned(),
        }))
    }
}

/// A JSON body (`application/json` or `application/*+json`), deserialized with field-named errors.
#[derive(Debug)]
pub struct Body<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: DeserializeOwned> FromRequest<RestState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &RestState) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::with_status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::InvalidArgument,
                Some("Content-Type"),
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await?;
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Body(value))
    }
}

/// Path parameters, with problems naming the parameter.
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<T> FromRequestParts<RestState> for PathParams<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RestState) -> Result<Self, ApiError> {
        let axum::extract::Path(v) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(PathParams(v))
    }
}

/// Query parameters, with problems naming the parameter.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T> FromRequestParts<RestState> for QueryParams<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RestState) -> Result<Self, ApiError> {
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(QueryParams(v))
    }
}

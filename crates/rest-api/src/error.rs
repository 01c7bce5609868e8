//! Errors as `application/problem+json` (RFC 9457).
//!
//! Policy of this module:
//! - **One mapping.** [`status_of`] is the only place an [`ErrorCode`] becomes an HTTP status; every
//!   failure of a handler is an [`AppError`] rendered by [`ApiError`]'s `IntoResponse`.
//! - **Bad input is 4xx, naming the field.** axum's rejections (JSON syntax/type/missing field, content
//!   type, body size, path and query parameters) are turned into problems here too, with the offending
//!   field as a dotted path (`details.participants[2].volunteer_id`), never a 5xx.
//! - **Logged once, here,** with code, rule and field only: never the request body or personal data.
//!   Internal errors say "internal error" and nothing else (the app layer logged the details).
//! - An error response that did not come from here (axum's 405 with its `Allow` header, a body-limit
//!   413, …) is rewritten into a problem by [`problem_responses`], keeping its status and headers.

use axum::body::Body;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub use app::{AppError, ErrorCode};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error as the front end receives it (RFC 9457 problem details plus the service's fields).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:volunteer-ledger:problem:<code>`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short, stable summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Human-readable explanation; safe to show (no personal data, no internals).
    pub detail: String,
    /// The transport-neutral error code.
    #[schema(value_type = ProblemCode)]
    pub code: String,
    /// The business rule that decided it (`A7`, `A16`, `INPUT`, `LIFECYCLE`, …), when one did.
    pub rule: Option<String>,
    /// Dotted path of the offending input (a body field, `Idempotency-Key`, a path or query parameter).
    pub field: Option<String>,
}

/// The values of [`Problem::code`] (the app layer's `ErrorCode`, snake_case).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    InvalidArgument,
    RuleViolation,
    VersionConflict,
    AlreadyExists,
    Unauthenticated,
    Forbidden,
    NotFound,
    Unavailable,
    Internal,
}

/// THE mapping of [`ErrorCode`] to HTTP: status, code string, title.
pub fn status_of(code: ErrorCode) -> (StatusCode, &'static str, &'static str) {
    match code {
        ErrorCode::InvalidArgument => (
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "Invalid argument",
        ),
        ErrorCode::RuleViolation => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "rule_violation",
            "Business rule violated",
        ),
        ErrorCode::VersionConflict => (
            StatusCode::CONFLICT,
            "version_conflict",
            "Concurrent change; reload and retry",
        ),
        ErrorCode::AlreadyExists => (StatusCode::CONFLICT, "already_exists", "Already exists"),
        ErrorCode::Unauthenticated => (
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
        ),
        ErrorCode::Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
        ErrorCode::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
        ErrorCode::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable; retry",
        ),
        ErrorCode::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        ),
    }
}

/// A failed request: an [`AppError`], optionally rendered with a transport status other than the
/// code's own (413, 415, 404 for an unknown route, 405).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub error: AppError,
    /// Overrides the status of [`status_of`] (transport-level failures only).
    pub status: Option<StatusCode>,
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        Self {
            error,
            status: None,
        }
    }
}

impl From<domain::DomainError> for ApiError {
    fn from(e: domain::DomainError) -> Self {
        AppError::from(e).into()
    }
}

impl ApiError {
    /// `AppError::invalid(field, message)` as an [`ApiError`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::invalid(field, message).into()
    }

    /// A transport-level failure with its own status.
    pub fn with_status(
        status: StatusCode,
        code: ErrorCode,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            error: AppError {
                code,
                rule: field.map(|_| "INPUT".to_owned()),
                field: field.map(str::to_owned),
                message: message.into(),
            },
            status: Some(status),
        }
    }

    fn problem(&self) -> (StatusCode, Problem) {
        let (status, code, title) = status_of(self.error.code);
        let status = self.status.unwrap_or(status);
        let detail = if self.error.code == ErrorCode::Internal {
            "internal error".to_owned()
        } else {
            self.error.message.clone()
        };
        let title = match self.status {
            Some(s) => s.canonical_reason().unwrap_or(title),
            None => title,
        };
        (
            status,
            Problem {
                problem_type: format!("urn:volunteer-ledger:problem:{code}"),
                title: title.to_owned(),
                status: status.as_u16(),
                detail,
                code: code.to_owned(),
                rule: self.error.rule.clone(),
                field: self.error.field.clone(),
            },
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, problem) = self.problem();
        if status.is_server_error() {
            tracing::warn!(code = %problem.code, rule = problem.rule.as_deref(), field = problem.field.as_deref(), status = status.as_u16(), "request failed");
        } else {
            tracing::info!(code = %problem.code, rule = problem.rule.as_deref(), field = problem.field.as_deref(), status = status.as_u16(), "request rejected");
        }
        problem_response(status, &problem)
    }
}

fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Prefix of axum's JSON data errors; the rest is `serde_path_to_error`'s `path: message`.
const JSON_DATA_PREFIX: &str = "Failed to deserialize the JSON body into the target type: ";

/// The dotted field path and the reason of a JSON data error, from axum's `Json` rejection text
/// (`serde_path_to_error` renders `path: message`; a missing field is named in the message).
fn json_data_field(text: &str) -> (String, String) {
    let rest = text.strip_prefix(JSON_DATA_PREFIX).unwrap_or(text);
    let (path, message) = match rest.split_once(": ") {
        Some((p, m)) if !p.contains(' ') => (p, m),
        _ => (".", rest),
    };
    let message = match message.find(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    let base = if path == "." { "" } else { path };
    let field = match message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
    {
        Some(missing) if base.is_empty() => missing.to_owned(),
        Some(missing) => format!("{base}.{missing}"),
        None if base.is_empty() => "body".to_owned(),
        None => base.to_owned(),
    };
    (field, message.to_owned())
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => {
                let (field, message) = json_data_field(&e.body_text());
                ApiError::invalid(field, message)
            }
            JsonRejection::JsonSyntaxError(e) => {
                let text = e.body_text();
                let message = text
                    .strip_prefix("Failed to parse the request body as JSON: ")
                    .unwrap_or(&text);
                ApiError::invalid("body", format!("malformed JSON: {message}"))
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::with_status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::InvalidArgument,
                Some("Content-Type"),
                "the body must be JSON (Content-Type: application/json)",
            ),
            JsonRejection::BytesRejection(b) => b.into(),
            other => ApiError::with_status(
                other.status(),
                ErrorCode::InvalidArgument,
                Some("body"),
                other.body_text(),
            ),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::with_status(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::InvalidArgument,
                Some("body"),
                "the request body is larger than this service accepts",
            )
        } else {
            ApiError::with_status(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidArgument,
                Some("body"),
                "the request body could not be read",
            )
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        use axum::extract::path::ErrorKind;
        let field = match &r {
            PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                ErrorKind::ParseErrorAtKey { key, .. }
                | ErrorKind::InvalidUtf8InPathParam { key }
                | ErrorKind::DeserializeError { key, .. } => key.clone(),
                _ => "path".to_owned(),
            },
            _ => "path".to_owned(),
        };
        ApiError::invalid(field, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        let text = r.body_text();
        let message = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        let field = match message.split_once(": ") {
            Some((p, _)) if !p.contains(' ') => p.to_owned(),
            _ => "query".to_owned(),
        };
        ApiError::invalid(field, message.to_owned())
    }
}

/// Rewrite error responses that are not problems yet (axum's 405 with `Allow`, a 413 from the body
/// limit, …) into problems, keeping status and headers.
pub async fn problem_responses(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return response;
    }
    let code = match status {
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthenticated,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::InvalidArgument,
    };
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this resource does not support the method".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than this service accepts".to_owned()
        }
        s => s.canonical_reason().unwrap_or("error").to_owned(),
    };
    let field = (status == StatusCode::PAYLOAD_TOO_LARGE).then_some("body");
    let (mut parts, _) = response.into_parts();
    let fresh = ApiError::with_status(status, code, field, message).into_response();
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &fresh_parts.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, body)
}

/// The fallback for unknown routes: a 404 problem.
pub async fn unknown_route() -> ApiError {
    ApiError::with_status(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        Some("path"),
        "no such resource",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_data_errors_name_the_dotted_path() {
        let (f, m) = json_data_field(
            "Failed to deserialize the JSON body into the target type: details.participants[2].volunteer_id: UUID parsing failed at line 1 column 80",
        );
        assert_eq!(f, "details.participants[2].volunteer_id");
        assert_eq!(m, "UUID parsing failed");
        let (f, _) = json_data_field(
            "Failed to deserialize the JSON body into the target type: details: missing field `team_id` at line 1 column 3",
        );
        assert_eq!(f, "details.team_id");
        let (f, _) = json_data_field(
            "Failed to deserialize the JSON body into the target type: missing field `name` at line 1 column 2",
        );
        assert_eq!(f, "name");
    }
}

//! The one transport-neutral error of the service. Each adapter maps [`ErrorCode`] exactly once (HTTP
//! status, gRPC code); nothing else decides status codes.

use domain::{DomainError, ErrorKind};
use eventstore::{AppendError, StoreError};

/// What kind of failure, independent of transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed input (400 / INVALID_ARGUMENT).
    InvalidArgument,
    /// Well-formed but breaks a business rule (422 / FAILED_PRECONDITION).
    RuleViolation,
    /// The stream moved on since it was read (409 / ABORTED): reload and retry.
    VersionConflict,
    /// The thing exists already, or an idempotency key was reused for another request (409 / ALREADY_EXISTS).
    AlreadyExists,
    /// No or bad credentials (401 / UNAUTHENTICATED).
    Unauthenticated,
    /// Authenticated but not allowed (403 / PERMISSION_DENIED).
    Forbidden,
    /// (404 / NOT_FOUND)
    NotFound,
    /// A dependency (the database) is unavailable; retry later (503 / UNAVAILABLE).
    Unavailable,
    /// A bug or corrupt data; details are logged, never returned (500 / INTERNAL).
    Internal,
}

/// A failed command or query, ready for an adapter to render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct AppError {
    pub code: ErrorCode,
    /// Rule id from DOMAIN.md (`A7`, `B9`, `INPUT`, …) when a rule decided it.
    pub rule: Option<String>,
    /// Dotted path of the offending input field.
    pub field: Option<String>,
    /// Human-readable, safe to show (no personal data, no internals).
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            rule: None,
            field: None,
            message: message.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::InvalidArgument,
            rule: Some("INPUT".into()),
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::NotFound,
            rule: None,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// A failure whose details must not reach the caller: logged here, once, and returned generic.
    pub fn internal(context: &str, detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(context, error = %detail, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        let code = match e.kind {
            ErrorKind::InvalidArgument => ErrorCode::InvalidArgument,
            ErrorKind::RuleViolation => ErrorCode::RuleViolation,
            ErrorKind::NotFound => ErrorCode::NotFound,
            ErrorKind::AlreadyExists => ErrorCode::AlreadyExists,
        };
        Self {
            code,
            rule: Some(e.rule.0.to_owned()),
            field: Some(e.field),
            message: e.reason,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            ref unavailable if unavailable.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                Self::new(
                    ErrorCode::Unavailable,
                    "the database is unavailable; retry later",
                )
            }
            other => Self::internal("event store", &other),
        }
    }
}

impl From<AppendError> for AppError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::InvalidInput { field, reason } => Self::invalid(field, reason),
            AppendError::WrongVersion {
                stream_id,
                expected,
                actual,
            } => Self::new(
                ErrorCode::VersionConflict,
                format!(
                    "{stream_id} changed concurrently (expected {expected}, now at version {actual}); retry"
                ),
            ),
            AppendError::IdempotencyConflict { idempotency_key } => Self {
                code: ErrorCode::AlreadyExists,
                rule: None,
                field: Some("idempotency_key".into()),
                message: format!(
                    "idempotency key {idempotency_key:?} was already used for a different request"
                ),
            },
            AppendError::ClaimTaken { scope, .. } => Self {
                code: ErrorCode::AlreadyExists,
                rule: None,
                field: None,
                message: format!("{scope} is already registered"),
            },
            AppendError::Store(s) => s.into(),
        }
    }
}

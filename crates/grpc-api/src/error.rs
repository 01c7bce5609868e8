//! The one mapping of `app::AppError` to `tonic::Status`, and the one log line of a failed call.
//!
//! Policy: every `ErrorCode` maps to exactly one gRPC code here and nowhere else. The status message is
//! `"<field>: <reason>"` (just the reason without a field); `INTERNAL` says only "internal error" (the
//! app layer logged the details). The field, the rule id and the stable code travel as metadata
//! `x-error-field`, `x-error-rule`, `x-error-code`. Failed calls are logged once, here, with the method,
//! code, rule and field — never a request body or personal data.

use app::{AppError, ErrorCode};
use tonic::metadata::MetadataValue;
use tonic::{Code, Response, Status};

/// The gRPC code of an application error code.
pub fn code(c: ErrorCode) -> Code {
    match c {
        ErrorCode::InvalidArgument => Code::InvalidArgument,
        ErrorCode::RuleViolation => Code::FailedPrecondition,
        ErrorCode::VersionConflict => Code::Aborted,
        ErrorCode::AlreadyExists => Code::AlreadyExists,
        ErrorCode::Unauthenticated => Code::Unauthenticated,
        ErrorCode::Forbidden => Code::PermissionDenied,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::Internal => Code::Internal,
    }
}

/// The stable text of an error code (`x-error-code`), as the REST problem documents spell it.
pub fn code_name(c: ErrorCode) -> &'static str {
    match c {
        ErrorCode::InvalidArgument => "invalid_argument",
        ErrorCode::RuleViolation => "rule_violation",
        ErrorCode::VersionConflict => "version_conflict",
        ErrorCode::AlreadyExists => "already_exists",
        ErrorCode::Unauthenticated => "unauthenticated",
        ErrorCode::Forbidden => "forbidden",
        ErrorCode::NotFound => "not_found",
        ErrorCode::Unavailable => "unavailable",
        ErrorCode::Internal => "internal",
    }
}

/// The status an application error is answered with.
pub fn status(e: &AppError) -> Status {
    let message = match (e.code, &e.field) {
        (ErrorCode::Internal, _) => "internal error".to_owned(),
        (_, Some(field)) => format!("{field}: {}", e.message),
        (_, None) => e.message.clone(),
    };
    let mut status = Status::new(code(e.code), message);
    let meta = status.metadata_mut();
    meta.insert(
        "x-error-code",
        MetadataValue::from_static(code_name(e.code)),
    );
    if e.code != ErrorCode::Internal {
        if let Some(rule) = e
            .rule
            .as_deref()
            .and_then(|r| MetadataValue::try_from(r).ok())
        {
            meta.insert("x-error-rule", rule);
        }
        if let Some(field) = e
            .field
            .as_deref()
            .and_then(|f| MetadataValue::try_from(f).ok())
        {
            meta.insert("x-error-field", field);
        }
    }
    status
}

/// Finish a call: the answer, or the mapped status (logged once, here).
pub fn reply<T>(method: &'static str, result: Result<T, AppError>) -> Result<Response<T>, Status> {
    match result {
        Ok(answer) => Ok(Response::new(answer)),
        Err(e) => {
            log(method, &e);
            Err(status(&e))
        }
    }
}

/// The one log line of a failed call.
pub(crate) fn log(method: &'static str, e: &AppError) {
    let code = code_name(e.code);
    let rule = e.rule.as_deref().unwrap_or("");
    let field = e.field.as_deref().unwrap_or("");
    match e.code {
        ErrorCode::Unavailable | ErrorCode::Internal => {
            tracing::warn!(transport = "grpc", method, code, rule, field, "call failed");
        }
        _ => tracing::info!(
            transport = "grpc",
            method,
            code,
            rule,
            field,
            "call rejected"
        ),
    }
}

//! The one error type of the domain: every rejection names the rule it enforces (when there is one),
//! the offending field (a dotted path into the command, e.g. `participants[2].volunteer_id`) and a
//! human-readable reason. The application layer maps [`ErrorKind`] to its transport-neutral error code.

use std::fmt;

/// A rule id from `DOMAIN.md`, e.g. `A7`, `B10`; or [`RuleId::INPUT`] for plain input validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct RuleId(pub &'static str);

impl RuleId {
    /// Input that is malformed regardless of any business rule (empty name, bad code format, …).
    pub const INPUT: RuleId = RuleId("INPUT");
    /// The command does not fit the aggregate's lifecycle (e.g. amending a team that was never registered).
    pub const LIFECYCLE: RuleId = RuleId("LIFECYCLE");
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// What kind of rejection this is; decides the status code at the API boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Malformed input (400 / INVALID_ARGUMENT).
    InvalidArgument,
    /// Well-formed but breaks a business rule (422 / FAILED_PRECONDITION).
    RuleViolation,
    /// The thing referred to does not exist (404 / NOT_FOUND).
    NotFound,
    /// The thing to create exists already (409 / ALREADY_EXISTS).
    AlreadyExists,
}

/// A rejected command. Construct with the helpers ([`DomainError::invalid`], [`DomainError::rule`], …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {field}: {reason}")]
pub struct DomainError {
    pub kind: ErrorKind,
    pub rule: RuleId,
    /// Dotted path of the offending field in the command, e.g. `participants[0].volunteer_id`.
    pub field: String,
    pub reason: String,
}

impl DomainError {
    /// Malformed input in `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::InvalidArgument,
            rule: RuleId::INPUT,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Malformed input that a specific rule defines (e.g. an ID number failing the GB 11643 check digit).
    pub fn invalid_by(rule: RuleId, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::InvalidArgument,
            rule,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A business rule forbids the command.
    pub fn rule(rule: RuleId, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::RuleViolation,
            rule,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The aggregate is not in a state that allows the command.
    pub fn lifecycle(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::RuleViolation,
            rule: RuleId::LIFECYCLE,
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NotFound,
            rule: RuleId::LIFECYCLE,
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn already_exists(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::AlreadyExists,
            rule: RuleId::LIFECYCLE,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Prefix the field path, for errors from a nested value: `e.within("participants[2]")`.
    #[must_use]
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

//! What goes into the log and what comes out.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::token::Token;

/// The optimistic-concurrency expectation of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last version must be exactly this (≥ 1).
    Exact(u64),
    /// Append after whatever the stream holds (retried internally on a concurrent append).
    Any,
}

impl ExpectedVersion {
    /// From an external integer (API input): `0` means [`ExpectedVersion::NoStream`]; negative is invalid.
    pub fn from_i64(v: i64) -> Option<Self> {
        match v {
            0 => Some(Self::NoStream),
            n if n > 0 => u64::try_from(n).ok().map(Self::Exact),
            _ => None,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(n) => write!(f, "version {n}"),
            Self::Any => f.write_str("any version"),
        }
    }
}

/// One event to append. `payload` and `metadata` are JSON text stored byte-exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: u32,
    pub payload: String,
    pub metadata: String,
    /// Business time given by the command (e.g. the activity's date).
    pub occurred_at: DateTime<Utc>,
}

/// Who sent the command and how to recognise it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandIdentity {
    /// The authenticated caller; idempotency keys are scoped to it.
    pub principal: String,
    /// Client-chosen key, unique per principal for `retention` days.
    pub idempotency_key: String,
    /// Keyed hash of the *plaintext* command (encryption is randomised, so the events cannot be compared).
    pub fingerprint: [u8; 32],
}

/// A uniqueness claim across streams, taken in the same statement as the append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// What is unique, e.g. `"person"`, `"certificate-number"`.
    pub scope: String,
    /// The unique value within the scope (never plaintext personal data: a keyed hash).
    pub key: String,
}

/// One append: events for one stream, with the expectation, the command's identity and any claims.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub command: CommandIdentity,
    pub claims: Vec<Claim>,
}

/// What an append wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    pub stream_id: String,
    pub first_version: u64,
    pub last_version: u64,
    /// Global-order token of each written event, in version order.
    pub tokens: Vec<Token>,
}

impl AppendResult {
    /// The token of the last event written: what read-your-writes waits for.
    pub fn last_token(&self) -> Token {
        self.tokens.last().copied().unwrap_or(Token::START)
    }
}

/// The result of an append, and whether it was written now or replayed from an earlier identical command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    pub result: AppendResult,
    /// `true` when the idempotency key was seen before and nothing was written now.
    pub replayed: bool,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub token: Token,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: String,
    pub metadata: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

impl RecordedEvent {
    /// The stream category: the part of the stream id before the first `-`.
    pub fn category(&self) -> &str {
        self.stream_id
            .split_once('-')
            .map_or(self.stream_id.as_str(), |(c, _)| c)
    }

    pub fn canonical(&self) -> crate::hash::CanonicalEvent<'_> {
        crate::hash::CanonicalEvent {
            stream_id: &self.stream_id,
            stream_version: self.stream_version,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            occurred_at_micros: self.occurred_at.timestamp_micros(),
            recorded_at_micros: self.recorded_at.timestamp_micros(),
            metadata: &self.metadata,
            payload: &self.payload,
        }
    }
}

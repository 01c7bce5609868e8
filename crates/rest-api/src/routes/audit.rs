//! Auditor and supervisor access (#6 part 4, A20): the audit history, the notary's signed checkpoints and
//! the verification status under `/api/v1/audit`, and the notary's public key at a well-known path.
//!
//! Policy: read-only. Who may read what is the app layer's (`app::audit`, permission
//! `ReadAuditHistory`: the auditor and the civil-affairs supervisor within their regions); this module
//! parses the query (every bad value a 400 naming its parameter) and shapes the answer. The public key is
//! served without authentication — anyone may check a checkpoint. A checkpoint is answered in exactly the
//! exported JSON form `ledger-audit verify --anchor` reads, nothing added.

use app::audit::{self, ExportedCheckpoint, HistoryFilter, HistoryRow};
use app::events::parse_token;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use eventstore::Token;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::RestState;
use crate::error::ApiError;
use crate::extract::{Caller, QueryParams};

/// The media type of the public key.
pub const PEM: &str = "application/x-pem-file";

/// The response header naming the public key's id.
pub const KEY_ID_HEADER: &str = "x-notary-key-id";

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(checkpoints))
        .routes(routes!(latest_checkpoint))
        .routes(routes!(history))
        .routes(routes!(notary_public_key))
}

/// A signed checkpoint, exactly as exported (`ledger-audit verify --anchor` takes this JSON).
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointDto {
    /// Always `vledger/checkpoint/v1`.
    pub format: String,
    /// 1, 2, 3, …
    pub sequence: u64,
    /// The previous checkpoint's hash (hex; zeros for sequence 1).
    pub prev_hash: String,
    /// The last covered event's token (`tx_id.position`).
    pub token: String,
    pub tx_id: u64,
    pub position: i64,
    /// Events covered from the start of the log.
    pub event_count: u64,
    /// The global digest of those events (hex).
    pub digest: String,
    /// RFC 3339, UTC, microseconds.
    pub signed_at: String,
    /// Names the notary key (first 8 bytes of SHA-256 of the public key, hex).
    pub key_id: String,
    /// Ed25519 over the canonical bytes (hex).
    pub signature: String,
    /// SHA-256 of the canonical bytes (hex).
    pub hash: String,
}

impl From<ExportedCheckpoint> for CheckpointDto {
    fn from(e: ExportedCheckpoint) -> Self {
        Self {
            format: e.format,
            sequence: e.sequence,
            prev_hash: e.prev_hash,
            token: e.token,
            tx_id: e.tx_id,
            position: e.position,
            event_count: e.event_count,
            digest: e.digest,
            signed_at: e.signed_at,
            key_id: e.key_id,
            signature: e.signature,
            hash: e.hash,
        }
    }
}

/// What the notary has proven so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditStatusDto {
    /// The newest checkpoint (`null`: none signed yet).
    pub latest: Option<CheckpointDto>,
    /// The id of the notary public key this service holds (`null`: none configured).
    pub public_key_id: Option<String>,
    /// Whether the newest checkpoint's hash and signature verify under that key (`null`: no checkpoint or
    /// no key).
    pub signature_valid: Option<bool>,
    /// Seconds since the newest checkpoint was signed.
    pub age_seconds: Option<f64>,
    /// Committed events no checkpoint covers yet.
    pub uncovered_events: u64,
    /// When this status was computed.
    pub checked_at: DateTime<Utc>,
}

#[utoipa::path(get, path = "/api/v1/audit/status", tag = "audit",
    responses((status = 200, description = "The newest checkpoint, whether it verifies, its age and the events not yet covered", body = AuditStatusDto)))]
async fn status(
    State(s): State<RestState>,
    Caller(actor): Caller,
) -> Result<Json<AuditStatusDto>, ApiError> {
    let st = s.audit.audit_status(&actor).await?;
    Ok(Json(AuditStatusDto {
        latest: st.latest.map(CheckpointDto::from),
        public_key_id: st.public_key_id,
        signature_valid: st.signature_valid,
        age_seconds: st
            .age
            .and_then(|a| a.num_microseconds())
            .map(|us| us as f64 / 1e6),
        uncovered_events: st.uncovered_events,
        checked_at: st.checked_at,
    }))
}

/// The checkpoints query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointsQuery {
    /// Checkpoints with a higher sequence (the previous page's `next_after_sequence`; default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub after_sequence: Option<String>,
    /// Page size (default: the service's configured page size, 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// A page of checkpoints, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointPageDto {
    pub items: Vec<CheckpointDto>,
    /// Pass as `after_sequence` for the next page (`null`: this is the last page).
    pub next_after_sequence: Option<u64>,
    pub has_more: bool,
}

fn limit(state: &RestState, max: usize, s: Option<&str>) -> Result<usize, ApiError> {
    match s {
        None => Ok(state.config.default_page_size.clamp(1, max)),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::invalid("limit", format!("must be an integer from 1 to {max}"))
            }),
    }
}

#[utoipa::path(get, path = "/api/v1/audit/checkpoints", tag = "audit", params(CheckpointsQuery),
    responses((status = 200, description = "Signed checkpoints, oldest first", body = CheckpointPageDto)))]
async fn checkpoints(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<CheckpointsQuery>,
) -> Result<Json<CheckpointPageDto>, ApiError> {
    let after = match q.after_sequence.as_deref() {
        None => 0,
        Some(a) => a
            .parse::<u64>()
            .ok()
            .filter(|n| i64::try_from(*n).is_ok())
            .ok_or_else(|| {
                ApiError::invalid(
                    "after_sequence",
                    "must be a checkpoint sequence (an integer ≥ 0)",
                )
            })?,
    };
    let limit = limit(&s, audit::MAX_CHECKPOINT_PAGE, q.limit.as_deref())?;
    let page = s.audit.checkpoints(&actor, after, limit).await?;
    Ok(Json(CheckpointPageDto {
        has_more: page.next_after.is_some(),
        next_after_sequence: page.next_after,
        items: page.items.into_iter().map(CheckpointDto::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/audit/checkpoints/latest", tag = "audit",
    responses((status = 200, description = "The newest checkpoint, to keep outside the database as `ledger-audit verify --anchor` (404 before the first)", body = CheckpointDto)))]
async fn latest_checkpoint(
    State(s): State<RestState>,
    Caller(actor): Caller,
) -> Result<Json<CheckpointDto>, ApiError> {
    Ok(Json(s.audit.latest_checkpoint(&actor).await?.into()))
}

/// The audit-history query. Text filters are exact matches.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The record, e.g. `team-<uuid>`.
    #[param(min_length = 1, max_length = 200)]
    pub stream_id: Option<String>,
    /// The kind of record (`team`, `volunteer`, `activity`, …).
    #[param(min_length = 1, max_length = 200)]
    pub category: Option<String>,
    /// The actor's account id (the token's `sub`).
    #[param(min_length = 1, max_length = 200)]
    pub actor: Option<String>,
    /// The actor's role.
    #[param(value_type = Option<String>, pattern = "^(city_cdc|county_cdc|health_bureau_approver|supervisor|youth_league|team_leader|auditor|integration_partner)$")]
    pub role: Option<String>,
    /// The command, e.g. `RecordActivity`.
    #[param(min_length = 1, max_length = 200, pattern = "^[A-Z][A-Za-z]*$")]
    pub command: Option<String>,
    /// The event type, e.g. `ActivityRecorded`.
    #[param(min_length = 1, max_length = 200)]
    pub event_type: Option<String>,
    /// The correlation id the write carried (`X-Correlation-Id`).
    #[param(min_length = 1, max_length = 200)]
    pub correlation_id: Option<String>,
    /// Recorded at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<String>,
    /// Recorded before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<String>,
    /// The previous page's `next_cursor` (absent: from the start of the log).
    pub cursor: Option<String>,
    /// Page size (default: the service's configured page size, 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// A write's token: wait until the history has passed it (bounded; 503 when it has not).
    pub min_token: Option<String>,
}

/// One event of the audit history (ids and times only).
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItemDto {
    /// The event's token in the global order.
    pub token: String,
    pub stream_id: String,
    pub category: String,
    pub stream_version: u64,
    pub event_type: String,
    /// The actor's account id.
    pub actor: Option<String>,
    pub role: Option<String>,
    pub command: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    /// The region of the record the command touched.
    pub subject_region: Option<String>,
    /// Its team, where there is one.
    pub subject_team: Option<uuid::Uuid>,
    /// Business time of the event.
    pub occurred_at: DateTime<Utc>,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl From<HistoryRow> for HistoryItemDto {
    fn from(r: HistoryRow) -> Self {
        Self {
            token: r.token.to_string(),
            stream_id: r.stream_id,
            category: r.category,
            stream_version: r.stream_version,
            event_type: r.event_type,
            actor: r.actor,
            role: r.role,
            command: r.command,
            correlation_id: r.correlation_id,
            causation_id: r.causation_id,
            subject_region: r.subject_region,
            subject_team: r.subject_team,
            occurred_at: r.occurred_at,
            recorded_at: r.recorded_at,
        }
    }
}

/// A page of the audit history, in the global order.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPageDto {
    pub items: Vec<HistoryItemDto>,
    /// Pass as `cursor` for the next page (`null`: this is the last page).
    pub next_cursor: Option<String>,
    pub has_more: bool,
    /// Events the projector has parked (when not 0 the history may miss them).
    pub parked_events: u64,
    /// The read model's checkpoint the answer was computed from.
    pub as_of: String,
}

fn time(field: &str, s: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    s.map(|t| {
        DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::invalid(
                    field,
                    "is not an RFC 3339 time (e.g. 2025-03-05T09:00:00+08:00)",
                )
            })
    })
    .transpose()
}

fn token(field: &str, s: Option<&str>) -> Result<Option<Token>, ApiError> {
    match s {
        None | Some("") => Ok(None),
        Some(t) => Ok(Some(parse_token(field, t)?)),
    }
}

#[utoipa::path(get, path = "/api/v1/audit/history", tag = "audit", params(HistoryQuery),
    responses((status = 200, description = "The events of the caller's regions matching the filters, in the global order", body = HistoryPageDto)))]
async fn history(
    State(s): State<RestState>,
    Caller(actor): Caller,
    QueryParams(q): QueryParams<HistoryQuery>,
) -> Result<Json<HistoryPageDto>, ApiError> {
    let filter = HistoryFilter {
        from: time("from", q.from.as_deref())?,
        to: time("to", q.to.as_deref())?,
        stream_id: q.stream_id,
        category: q.category,
        actor: q.actor,
        role: q.role,
        command: q.command,
        event_type: q.event_type,
        correlation_id: q.correlation_id,
    };
    let after = token("cursor", q.cursor.as_deref())?.unwrap_or(Token::START);
    let min_token = token("min_token", q.min_token.as_deref())?;
    let limit = limit(&s, audit::MAX_HISTORY_PAGE, q.limit.as_deref())?;
    let page = s
        .audit
        .audit_history(&actor, &filter, after, limit, min_token)
        .await?;
    Ok(Json(HistoryPageDto {
        has_more: page.next_cursor.is_some(),
        next_cursor: page.next_cursor.map(|t| t.to_string()),
        items: page.items.into_iter().map(HistoryItemDto::from).collect(),
        parked_events: page.parked_events,
        as_of: page.as_of.to_string(),
    }))
}

#[utoipa::path(get, path = "/.well-known/vledger/notary-public-key.pem", tag = "audit",
    security(()),
    responses((status = 200, description = "The notary's Ed25519 public key (SPKI PEM): checks every checkpoint's signature. After a key rotation, one PEM block per key that signed the chain, oldest first, the current key last. No authentication.",
        content_type = "application/x-pem-file", body = String,
        headers(("x-notary-key-id" = String, description = "The current key's id, as the checkpoints it signs name it")))))]
async fn notary_public_key(State(s): State<RestState>) -> Result<Response, ApiError> {
    let key = s.audit.notary_public_key()?;
    let id = HeaderValue::from_str(&key.key_id)
        .map_err(|e| ApiError::from(app::AppError::internal("notary key id header", &e)))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(PEM)),
            (HeaderName::from_static(KEY_ID_HEADER), id),
        ],
        key.pem,
    )
        .into_response())
}

//! `AuditService`: the audit history (A20), the notary's signed checkpoints, the verification status and
//! the notary's public key — the same app calls as REST's `/api/v1/audit` (`app::audit`).
//!
//! Policy: read-only. The app layer decides who may read (permission `ReadAuditHistory`) and scopes the
//! history to the caller's regions; this adapter turns empty request strings into "no filter", names
//! bad fields as the proto does (`page_size`, `page_token`, `from`, …) and shapes the answers.
//! `GetNotaryPublicKey` needs no credentials: the key is public.

use app::AppError;
use app::audit::{self, ExportedCheckpoint, HistoryFilter, HistoryRow};
use eventstore::Token;
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{timestamp, to_timestamp};
use crate::pb;
use crate::pb::audit_service_server::AuditService;

api!(AuditApi);

fn checkpoint(e: ExportedCheckpoint) -> pb::Checkpoint {
    pb::Checkpoint {
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

fn entry(r: HistoryRow) -> pb::AuditHistoryEntry {
    pb::AuditHistoryEntry {
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
        subject_team: r.subject_team.map(|t| t.to_string()),
        occurred_at: Some(to_timestamp(r.occurred_at)),
        recorded_at: Some(to_timestamp(r.recorded_at)),
    }
}

/// `page_size`: 0 means 100; at most `max`.
fn page_size(n: u32, max: usize) -> Result<usize, AppError> {
    match usize::try_from(n) {
        Ok(0) => Ok(100),
        Ok(n) if n <= max => Ok(n),
        _ => Err(AppError::invalid(
            "page_size",
            format!("must be 0 (the default, 100) or at most {max}"),
        )),
    }
}

/// An empty proto3 string is "not given".
fn given(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn token(field: &str, s: &str) -> Result<Option<Token>, AppError> {
    if s.is_empty() {
        Ok(None)
    } else {
        Ok(Some(app::events::parse_token(field, s)?))
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn get_notary_public_key(
        &self,
        _request: Request<pb::GetNotaryPublicKeyRequest>,
    ) -> Result<Response<pb::GetNotaryPublicKeyResponse>, Status> {
        rpc!("AuditService/GetNotaryPublicKey", {
            let key = self.state.audit.notary_public_key()?;
            Ok(pb::GetNotaryPublicKeyResponse {
                pem: key.pem,
                key_id: key.key_id,
            })
        })
    }

    async fn get_audit_status(
        &self,
        request: Request<pb::GetAuditStatusRequest>,
    ) -> Result<Response<pb::GetAuditStatusResponse>, Status> {
        rpc!("AuditService/GetAuditStatus", {
            let actor = context::actor(&self.state, request.metadata())?;
            let s = self.state.audit.audit_status(&actor).await?;
            Ok(pb::GetAuditStatusResponse {
                latest: s.latest.map(checkpoint),
                public_key_id: s.public_key_id,
                signature_valid: s.signature_valid,
                age: s.age.map(|a| prost_types::Duration {
                    seconds: a.num_seconds(),
                    nanos: a.subsec_nanos(),
                }),
                uncovered_events: s.uncovered_events,
                checked_at: Some(to_timestamp(s.checked_at)),
            })
        })
    }

    async fn list_checkpoints(
        &self,
        request: Request<pb::ListCheckpointsRequest>,
    ) -> Result<Response<pb::ListCheckpointsResponse>, Status> {
        rpc!("AuditService/ListCheckpoints", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.get_ref();
            let limit = page_size(r.page_size, audit::MAX_CHECKPOINT_PAGE)?;
            if i64::try_from(r.after_sequence).is_err() {
                return Err(AppError::invalid("after_sequence", "is out of range"));
            }
            let page = self
                .state
                .audit
                .checkpoints(&actor, r.after_sequence, limit)
                .await?;
            Ok(pb::ListCheckpointsResponse {
                checkpoints: page.items.into_iter().map(checkpoint).collect(),
                next_after_sequence: page.next_after,
            })
        })
    }

    async fn list_audit_history(
        &self,
        request: Request<pb::ListAuditHistoryRequest>,
    ) -> Result<Response<pb::ListAuditHistoryResponse>, Status> {
        rpc!("AuditService/ListAuditHistory", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.into_inner();
            let limit = page_size(r.page_size, audit::MAX_HISTORY_PAGE)?;
            let after = token("page_token", &r.page_token)?.unwrap_or(Token::START);
            let min_token = token("min_token", &r.min_token)?;
            let filter = HistoryFilter {
                from: r
                    .from
                    .as_ref()
                    .map(|t| timestamp("from", Some(t)))
                    .transpose()?,
                to: r
                    .to
                    .as_ref()
                    .map(|t| timestamp("to", Some(t)))
                    .transpose()?,
                stream_id: given(r.stream_id),
                category: given(r.category),
                actor: given(r.actor),
                role: given(r.role),
                command: given(r.command),
                event_type: given(r.event_type),
                correlation_id: given(r.correlation_id),
            };
            let page = self
                .state
                .audit
                .audit_history(&actor, &filter, after, limit, min_token)
                .await?;
            Ok(pb::ListAuditHistoryResponse {
                entries: page.items.into_iter().map(entry).collect(),
                next_page_token: page.next_cursor.map(|t| t.to_string()).unwrap_or_default(),
                parked_events: page.parked_events,
                as_of_token: page.as_of.to_string(),
            })
        })
    }
}

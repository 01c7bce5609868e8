//! Who is calling, from the request metadata.
//!
//! Policy: `authorization` (`Bearer <jwt>`) is verified by `access::Authenticator` before anything else
//! of the request is looked at, so a call without valid credentials is `UNAUTHENTICATED` whatever its
//! body. `x-correlation-id` and `x-causation-id` are optional (at most [`MAX_ID_BYTES`] visible ASCII
//! characters); every write carries a client-chosen idempotency key. The client name is `grpc`. Without
//! `x-correlation-id`, the trace id is the correlation id: the caller's W3C `traceparent` trace id, else
//! the trace this service started for the call while spans are exported
//! (`telemetry::context::correlation_trace_id`); else none. A sent `x-correlation-id` always wins.

use app::{Actor, AppError, CommandContext};
use tonic::metadata::MetadataMap;

use crate::GrpcState;

/// The longest idempotency key, correlation id or causation id accepted.
pub const MAX_ID_BYTES: usize = 200;

/// The authenticated caller.
pub fn actor(state: &GrpcState, metadata: &MetadataMap) -> Result<Actor, AppError> {
    let header = match metadata.get("authorization") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            AppError::new(
                app::ErrorCode::Unauthenticated,
                "the authorization metadata is not a valid bearer token",
            )
        })?),
    };
    state.auth.authenticate(header)
}

fn optional_id(metadata: &MetadataMap, key: &'static str) -> Result<Option<String>, AppError> {
    let Some(v) = metadata.get(key) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| AppError::invalid(key, "must be visible ASCII"))?;
    if s.is_empty() || s.len() > MAX_ID_BYTES {
        return Err(AppError::invalid(
            key,
            format!("must be 1 to {MAX_ID_BYTES} characters"),
        ));
    }
    Ok(Some(s.to_owned()))
}

/// A write request: it names its idempotency key.
pub trait Write {
    fn idempotency_key(&self) -> &str;
}

/// The command context of a write: the authenticated actor, the request's idempotency key and the
/// correlation ids of the metadata. Consumes the request and hands back its body.
pub fn command<M: Write>(
    state: &GrpcState,
    request: tonic::Request<M>,
) -> Result<(CommandContext, M), AppError> {
    let (metadata, _, body) = request.into_parts();
    let actor = actor(state, &metadata)?;
    let key = body.idempotency_key();
    if key.trim().is_empty() {
        return Err(AppError::invalid(
            "idempotency_key",
            "is required: choose a unique key per intended write and reuse it on retries",
        ));
    }
    if key.len() > MAX_ID_BYTES || key.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "idempotency_key",
            format!("must be at most {MAX_ID_BYTES} bytes without control characters"),
        ));
    }
    let ctx = CommandContext {
        actor,
        idempotency_key: key.to_owned(),
        correlation_id: match optional_id(&metadata, "x-correlation-id")? {
            Some(id) => Some(id),
            None => telemetry::context::correlation_trace_id(metadata.as_ref()),
        },
        causation_id: optional_id(&metadata, "x-causation-id")?,
        client: "grpc".to_owned(),
    };
    Ok((ctx, body))
}

/// Implements [`Write`] for requests with an `idempotency_key` field.
macro_rules! writes {
    ($($t:ident),* $(,)?) => {
        $(impl Write for crate::pb::$t {
            fn idempotency_key(&self) -> &str {
                &self.idempotency_key
            }
        })*
    };
}

writes!(
    DefineRegionRequest,
    RetireRegionRequest,
    RecordResidentPopulationRequest,
    DefineCampaignRequest,
    AmendCampaignRulesRequest,
    RegisterHostUnitRequest,
    AssignDesignatedManagerRequest,
    EndManagerAssignmentRequest,
    RegisterTeamRequest,
    AmendTeamRequest,
    SuspendTeamRequest,
    ReinstateTeamRequest,
    DissolveTeamRequest,
    RegisterVolunteerRequest,
    JoinTeamRequest,
    LeaveTeamRequest,
    RecordTrainingRequest,
    RecordQualificationRequest,
    RequestCorrectionRequest,
    ResolveCorrectionRequest,
    EraseVolunteerRequest,
    DisclosePersonalDataRequest,
    RecordActivityRequest,
    CorrectActivityRequest,
    VoidActivityRequest,
    DraftSummaryRequest,
    ReviseSummaryRequest,
    SubmitSummaryForApprovalRequest,
    ApproveSummaryRequest,
    ReturnSummaryRequest,
    SubmitSummaryToCityRequest,
    AcceptSummaryRequest,
    ReturnSummaryToCountyRequest,
    IssueCertificateRequest,
    NominateCaseRequest,
    SelectCaseRequest,
    ForwardCaseToProvinceRequest,
    WithdrawNominationRequest,
    RecordEvaluationRequest,
    RecordSupervisionFindingRequest,
    RespondToFindingRequest,
    CloseFindingRequest,
    IssueDispatchRequest,
    CloseDispatchRequest,
    DeployToGridRequest,
    EndDeploymentRequest,
    RegisterMedicineBoxRequest,
    RecordDonationRequest,
    RecordDispensingRequest,
    PostNeedRequest,
    VerifyNeedRequest,
    RejectNeedRequest,
    TakeNeedRequest,
    FulfilNeedRequest,
);

//! Volunteers: registration (plaintext personal data, sealed by the app layer), memberships, trainings,
//! qualifications, corrections, erasure, the masked view, and unmasking for a recorded reason.

use app::{RecordQualificationInput, RegisterVolunteerInput, VolunteerInput};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use domain::disclosure::{DisclosedField, RecordDisclosure};
use domain::ids::{ActivityId, CorrectionId, TeamId, TrainingId, VolunteerId};
use domain::volunteer::{
    Attestation, EraseVolunteer, JoinTeam, LeaveTeam, RecordTraining, RequestCorrection,
    ResolveCorrection, VolunteerCommand,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{
    CorrectionOutcomeDto, DocumentKindDto, ProfessionalRoleDto, ReserveTierDto, TrainingTopicDto,
    WriteAccepted, region, text, uuid_param,
};
use crate::error::ApiError;
use crate::extract::{Body, Caller, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(register_volunteer))
        .routes(routes!(get_volunteer))
        .routes(routes!(join_team))
        .routes(routes!(leave_team))
        .routes(routes!(record_training))
        .routes(routes!(record_qualification))
        .routes(routes!(request_correction))
        .routes(routes!(resolve_correction))
        .routes(routes!(erase_volunteer))
        .routes(routes!(disclose_personal_data))
}

/// A8: the eligibility conditions besides age, attested at registration (all must be `true`).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub struct AttestationInput {
    pub law_abiding: bool,
    pub capable: bool,
    pub understands_tb_core_messages: bool,
}

/// Register a volunteer. Name, document number and phone are sealed by the service and never returned.
#[derive(Deserialize, ToSchema)]
pub struct RegisterVolunteerRequest {
    pub volunteer_id: Uuid,
    pub document_kind: DocumentKindDto,
    pub document_number: String,
    /// Required for documents that do not carry a birth date (passports, old residence cards).
    pub declared_birth_date: Option<NaiveDate>,
    pub name: String,
    pub phone: Option<String>,
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub home_region: String,
    pub attestation: AttestationInput,
    #[serde(default)]
    pub skills: Vec<String>,
    /// B4 (default `none`).
    pub reserve_tier: Option<ReserveTierDto>,
    pub registered_on: NaiveDate,
}

/// Join a team from a date (inclusive).
#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinTeamRequest {
    pub team_id: Uuid,
    pub joined_on: NaiveDate,
}

/// Leave a team: `left_on` is the first day no longer a member.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LeaveTeamRequest {
    pub team_id: Uuid,
    pub left_on: NaiveDate,
}

/// A11: a training the volunteer attended.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecordTrainingRequest {
    pub training_id: Uuid,
    pub on: NaiveDate,
    pub topics: Vec<TrainingTopicDto>,
}

/// B7: a professional qualification (the certificate reference is sealed).
#[derive(Deserialize, ToSchema)]
pub struct RecordQualificationRequest {
    pub role: ProfessionalRoleDto,
    pub certificate_reference: String,
    pub valid_from: NaiveDate,
    /// Drivers serve only after passing training.
    pub passed_training_on: Option<NaiveDate>,
}

/// Ask to correct a service record of an activity.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RequestCorrectionRequest {
    pub correction_id: Uuid,
    pub activity_id: Uuid,
    pub requested_change: String,
}

/// Resolve a correction request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResolveCorrectionRequest {
    pub outcome: CorrectionOutcomeDto,
    pub note: String,
}

/// Erase the person's data (PIPL): the data key is destroyed; statistics survive.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EraseVolunteerRequest {
    pub reason: String,
}

/// A volunteer as staff see it: masked personal data and the facts of the record.
#[derive(Debug, Serialize, ToSchema)]
pub struct VolunteerViewResponse {
    pub volunteer_id: Uuid,
    pub home_region: String,
    pub document_kind: Option<DocumentKindDto>,
    /// `true` once the person's data was erased: the masked fields are then `null`.
    pub erased: bool,
    pub masked_name: Option<String>,
    pub masked_document_number: Option<String>,
    pub masked_phone: Option<String>,
    /// Teams the volunteer has ever been a member of.
    pub teams: Vec<Uuid>,
    /// The volunteer stream's version.
    pub version: u64,
}

#[utoipa::path(post, path = "/api/v1/volunteers", tag = "volunteers", request_body = RegisterVolunteerRequest,
    responses((status = 201, description = "Volunteer registered", body = WriteAccepted)))]
async fn register_volunteer(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<RegisterVolunteerRequest>,
) -> Created {
    let skills = r
        .skills
        .iter()
        .enumerate()
        .map(|(i, k)| text(&format!("skills[{i}]"), k))
        .collect::<Result<_, _>>()?;
    let input = RegisterVolunteerInput {
        volunteer: VolunteerId(r.volunteer_id),
        document_kind: r.document_kind.into(),
        document_number: r.document_number,
        declared_birth_date: r.declared_birth_date,
        name: r.name,
        phone: r.phone,
        home_region: region("home_region", &r.home_region)?,
        attestation: Attestation {
            law_abiding: r.attestation.law_abiding,
            capable: r.attestation.capable,
            understands_tb_core_messages: r.attestation.understands_tb_core_messages,
        },
        skills,
        reserve_tier: r.reserve_tier.unwrap_or(ReserveTierDto::None).into(),
        registered_on: r.registered_on,
    };
    created(
        s.ledger
            .volunteer(&ctx, VolunteerInput::Register(input))
            .await,
    )
}

fn volunteer_param(id: &str) -> Result<VolunteerId, ApiError> {
    Ok(VolunteerId(uuid_param("volunteer_id", id)?))
}

#[utoipa::path(get, path = "/api/v1/volunteers/{volunteer_id}", tag = "volunteers",
    params(("volunteer_id" = Uuid, Path, description = "The volunteer")),
    responses((status = 200, description = "The volunteer, masked", body = VolunteerViewResponse)))]
async fn get_volunteer(
    State(s): State<RestState>,
    Caller(actor): Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<VolunteerViewResponse>, ApiError> {
    let v = s
        .ledger
        .volunteer_view(&actor, volunteer_param(&id)?)
        .await?;
    Ok(Json(VolunteerViewResponse {
        volunteer_id: v.volunteer.0,
        home_region: v.home_region.to_string(),
        document_kind: v.document_kind.map(Into::into),
        erased: v.erased,
        masked_name: v.masked_name,
        masked_document_number: v.masked_document_number,
        masked_phone: v.masked_phone,
        teams: v.teams.into_iter().map(|t| t.0).collect(),
        version: v.version,
    }))
}

async fn other(
    s: &RestState,
    ctx: &app::CommandContext,
    id: &str,
    command: VolunteerCommand,
) -> Done {
    let volunteer = volunteer_param(id)?;
    done(
        s.ledger
            .volunteer(ctx, VolunteerInput::Other { volunteer, command })
            .await,
    )
}

#[utoipa::path(post, path = "/api/v1/volunteers/{volunteer_id}/join", tag = "volunteers",
    params(("volunteer_id" = Uuid, Path, description = "The volunteer")),
    request_body = JoinTeamRequest,
    responses((status = 200, description = "Joined the team", body = WriteAccepted)))]
async fn join_team(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<JoinTeamRequest>,
) -> Done {
    let command = VolunteerCommand::JoinTeam(JoinTeam {
        team: TeamId(r.team_id),
        joined_on: r.joined_on,
    });
    other(&s, &ctx, &id, command).await
}

#[utoipa::path(post, path = "/api/v1/volunteers/{volunteer_id}/leave", tag = "volunteers",
    params(("volunteer_id" = Uuid, Path, description = "The volunteer")),
    request_body = LeaveTeamRequest,
    responses((status = 200, description = "Left the team", body = WriteAccepted)))]
async fn leave_team(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<LeaveTeamRequest>,
) -> Done {
    let command = VolunteerCommand::LeaveTeam(LeaveTeam {
        team: TeamId(r.team_id),
        left_on: r.left_on,
    });
    other(&s, &ctx, &id, command).await
}

#[utoipa::path(post, path = "/api/v1/volunteers/{volunteer_id}/record-training", tag = "volunteers",
    params(("volunteer_id" = Uuid, Path, description = "The volunteer")),
    request_body = RecordTrainingRequest,
    responses((status = 200, description = "Training recorded", body = WriteAccepted)))]
async fn record_training(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<RecordTrainingRequest>,
) -> Done {
    let command = VolunteerCommand::RecordTraining(RecordTraining {
        training: TrainingId(r.training_id),
        on: r.on,
        topics: r.topics.into_iter().map(Into::into).collect(),
    });
    other(&s, &ctx, &id, command).await
}

#[utoipa::path(post, path = "/api/v1/volunteers/{volunteer_id}/record-qualification", tag = "volunteers",
    params(("volunteer_id" = Uuid, Path, description = "The volunteer")),
    request_body = RecordQualificationRequest,
    responses((status = 200, description = "Qualification recorded", body = WriteAccepted)))]
async fn record_qualification(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<RecordQualificationRequest>,
) -> Done {
    let input = RecordQualificationInput {
        volunteer: volunteer_param(&id)?,
        role: r.role.into(),
        certificate_reference: r.certificate_reference,
        valid_from: r.valid_from,
        passed_training_on: r.passed_training_on,
    };
    done(
        s.ledger
            .volunteer(&ctx, VolunteerInput::RecordQualification(input))
            .await,
    )
}

#[utoipa::path(post, path = "/api/v1/volunteers/{volunteer_id}/request-correction", tag = "volunteers",
    params(("volunteer_id" = Uuid, Path, description = "The volunteer")),
    request_body = RequestCorrectionRequest,
    responses((status = 200, description = "Correction requested", body = WriteAccepted)))]
async fn request_correction(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<RequestCorrectionRequest>,
) -> Done {
    let command = VolunteerCommand::RequestCorrection(RequestCorrection {
        correction: CorrectionId(r.correction_id),
        activity: ActivityId(r.activity_id),
        requested_change: text("requested_change", &r.requested_change)?,
    });
    other(&s, &ctx, &id, command).await
}

#[utoipa::path(post, path = "/api/v1/volunteers/{volunteer_id}/corrections/{correction_id}/resolve", tag = "volunteers",
    params(
        ("volunteer_id" = Uuid, Path, description = "The volunteer"),
        ("correction_id" = Uuid, Path, description = "The correction request"),
    ),
    request_body = ResolveCorrectionRequest,
    responses((status = 200, description = "Correction resolved", body = WriteAccepted)))]
async fn resolve_correction(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams((id, correction)): PathParams<(String, String)>,
    Body(r): Body<ResolveCorrectionRequest>,
) -> Done {
    let correction = CorrectionId(uuid_param("correction_id", &correction)?);
    let command = VolunteerCommand::ResolveCorrection(ResolveCorrection {
        correction,
        outcome: r.outcome.into(),
        note: text("note", &r.note)?,
    });
    other(&s, &ctx, &id, command).await
}

#[utoipa::path(post, path = "/api/v1/volunteers/{volunteer_id}/erase", tag = "volunteers",
    params(("volunteer_id" = Uuid, Path, description = "The volunteer")),
    request_body = EraseVolunteerRequest,
    responses((status = 200, description = "Personal data erased", body = WriteAccepted)))]
async fn erase_volunteer(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<EraseVolunteerRequest>,
) -> Done {
    let command = VolunteerCommand::Erase(EraseVolunteer {
        reason: text("reason", &r.reason)?,
    });
    other(&s, &ctx, &id, command).await
}

/// A personal field that can be shown in clear.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisclosedFieldDto {
    Name,
    DocumentNumber,
    Phone,
}

impl From<DisclosedFieldDto> for DisclosedField {
    fn from(f: DisclosedFieldDto) -> Self {
        match f {
            DisclosedFieldDto::Name => Self::Name,
            DisclosedFieldDto::DocumentNumber => Self::DocumentNumber,
            DisclosedFieldDto::Phone => Self::Phone,
        }
    }
}

impl From<DisclosedField> for DisclosedFieldDto {
    fn from(f: DisclosedField) -> Self {
        match f {
            DisclosedField::Name => Self::Name,
            DisclosedField::DocumentNumber => Self::DocumentNumber,
            DisclosedField::Phone => Self::Phone,
        }
    }
}

/// Show personal fields in clear. The disclosure (who, which fields, why) is recorded in the log
/// before anything is shown.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DiscloseRequest {
    /// The fields to show (at least one, each once).
    pub fields: Vec<DisclosedFieldDto>,
    /// Why they must be seen (4–500 characters), kept in the log for the auditors.
    #[schema(min_length = 4, max_length = 500)]
    pub reason: String,
}

/// What was shown. Fields not asked for, or not on record, are `null`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisclosedResponse {
    pub volunteer_id: Uuid,
    pub fields: Vec<DisclosedFieldDto>,
    pub name: Option<String>,
    pub document_number: Option<String>,
    pub phone: Option<String>,
    /// The disclosure record's token in the log.
    pub token: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/volunteers/{volunteer_id}/disclosures", tag = "volunteers",
    params(("volunteer_id" = Uuid, Path, description = "The volunteer")),
    request_body = DiscloseRequest,
    responses((status = 200, description = "Recorded, then shown in clear (not cacheable)", body = DisclosedResponse)))]
async fn disclose_personal_data(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<DiscloseRequest>,
) -> Result<Response, ApiError> {
    let command = RecordDisclosure {
        volunteer: volunteer_param(&id)?,
        fields: r.fields.into_iter().map(Into::into).collect(),
        reason: text("reason", &r.reason)?,
    };
    let d = s.ledger.disclose_volunteer(&ctx, command).await?;
    let body = DisclosedResponse {
        volunteer_id: d.volunteer.0,
        fields: d.fields.into_iter().map(Into::into).collect(),
        name: d.name,
        document_number: d.document_number,
        phone: d.phone,
        token: d.recorded_at_token.map(|t| t.to_string()),
    };
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(body),
    )
        .into_response())
}

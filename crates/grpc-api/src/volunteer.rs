//! `VolunteerService`: registration (identity data in plaintext, validated and sealed by the app layer),
//! memberships, trainings (A11), qualifications (B7), service-record corrections, erasure, and the
//! masked view (PIPL). Conversion only; personal data is never logged or echoed.

use app::{AppError, RecordQualificationInput, RegisterVolunteerInput, VolunteerInput};
use domain::disclosure::{DisclosedField, RecordDisclosure};
use domain::identity::DocumentKind;
use domain::ids::{ActivityId, CorrectionId, TeamId, TrainingId, VolunteerId};
use domain::volunteer::{
    Attestation, CorrectionOutcome, EraseVolunteer, JoinTeam, LeaveTeam, ProfessionalRole,
    RecordTraining, RequestCorrection, ReserveTier, ResolveCorrection, TrainingTopic,
    VolunteerCommand,
};
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{
    date, enumeration, enumerations, message, opt_date, region, text, texts, uuid, written,
};
use crate::pb;
use crate::pb::volunteer_service_server::VolunteerService;

api!(VolunteerApi);

fn document_kind(field: &str, v: i32) -> Result<DocumentKind, AppError> {
    use pb::DocumentKind as K;
    Ok(match enumeration::<K>(field, v)? {
        K::Unspecified => return Err(AppError::invalid(field, "is required")),
        K::ResidentIdCard => DocumentKind::ResidentIdCard,
        K::HongKongResidencePermit => DocumentKind::HongKongResidencePermit,
        K::MacauResidencePermit => DocumentKind::MacauResidencePermit,
        K::TaiwanResidencePermit => DocumentKind::TaiwanResidencePermit,
        K::ForeignPermanentResidenceCard => DocumentKind::ForeignPermanentResidenceCard,
        K::Passport => DocumentKind::Passport,
    })
}

fn document_kind_out(k: DocumentKind) -> pb::DocumentKind {
    match k {
        DocumentKind::ResidentIdCard => pb::DocumentKind::ResidentIdCard,
        DocumentKind::HongKongResidencePermit => pb::DocumentKind::HongKongResidencePermit,
        DocumentKind::MacauResidencePermit => pb::DocumentKind::MacauResidencePermit,
        DocumentKind::TaiwanResidencePermit => pb::DocumentKind::TaiwanResidencePermit,
        DocumentKind::ForeignPermanentResidenceCard => {
            pb::DocumentKind::ForeignPermanentResidenceCard
        }
        DocumentKind::Passport => pb::DocumentKind::Passport,
    }
}

fn reserve_tier(field: &str, v: i32) -> Result<ReserveTier, AppError> {
    Ok(match enumeration::<pb::ReserveTier>(field, v)? {
        pb::ReserveTier::Unspecified => return Err(AppError::invalid(field, "is required")),
        pb::ReserveTier::None => ReserveTier::None,
        pb::ReserveTier::FirstEchelon => ReserveTier::FirstEchelon,
    })
}

fn topic(t: pb::TrainingTopic, field: &str) -> Result<TrainingTopic, AppError> {
    Ok(match t {
        pb::TrainingTopic::Unspecified => return Err(AppError::invalid(field, "is required")),
        pb::TrainingTopic::TbCoreMessages => TrainingTopic::TbCoreMessages,
        pb::TrainingTopic::ActivityMethods => TrainingTopic::ActivityMethods,
        pb::TrainingTopic::Recording => TrainingTopic::Recording,
        pb::TrainingTopic::Other => TrainingTopic::Other,
    })
}

/// A professional role (B7).
pub(crate) fn professional_role(field: &str, v: i32) -> Result<ProfessionalRole, AppError> {
    use pb::ProfessionalRole as R;
    Ok(match enumeration::<R>(field, v)? {
        R::Unspecified => return Err(AppError::invalid(field, "is required")),
        R::Doctor => ProfessionalRole::Doctor,
        R::Nurse => ProfessionalRole::Nurse,
        R::Pharmacist => ProfessionalRole::Pharmacist,
        R::Driver => ProfessionalRole::Driver,
        R::Dispatcher => ProfessionalRole::Dispatcher,
    })
}

fn outcome(field: &str, v: i32) -> Result<CorrectionOutcome, AppError> {
    Ok(match enumeration::<pb::CorrectionOutcome>(field, v)? {
        pb::CorrectionOutcome::Unspecified => {
            return Err(AppError::invalid(field, "is required"));
        }
        pb::CorrectionOutcome::Accepted => CorrectionOutcome::Accepted,
        pb::CorrectionOutcome::Rejected => CorrectionOutcome::Rejected,
    })
}

fn volunteer_id(s: &str) -> Result<VolunteerId, AppError> {
    Ok(VolunteerId(uuid("volunteer_id", s)?))
}

impl VolunteerApi {
    async fn other(
        &self,
        ctx: &app::CommandContext,
        volunteer: VolunteerId,
        command: VolunteerCommand,
    ) -> Result<Option<pb::WriteResult>, AppError> {
        let out = self
            .state
            .ledger
            .volunteer(ctx, VolunteerInput::Other { volunteer, command })
            .await?;
        Ok(written(out))
    }
}

#[tonic::async_trait]
impl VolunteerService for VolunteerApi {
    async fn register_volunteer(
        &self,
        request: Request<pb::RegisterVolunteerRequest>,
    ) -> Result<Response<pb::RegisterVolunteerResponse>, Status> {
        rpc!("VolunteerService/RegisterVolunteer", {
            let (ctx, r) = context::command(&self.state, request)?;
            let attestation = message("attestation", &r.attestation)?;
            let input = RegisterVolunteerInput {
                volunteer: volunteer_id(&r.volunteer_id)?,
                document_kind: document_kind("document_kind", r.document_kind)?,
                document_number: r.document_number,
                declared_birth_date: opt_date(
                    "declared_birth_date",
                    r.declared_birth_date.as_ref(),
                )?,
                name: r.name,
                phone: r.phone,
                home_region: region("home_region", &r.home_region)?,
                attestation: Attestation {
                    law_abiding: attestation.law_abiding,
                    capable: attestation.capable,
                    understands_tb_core_messages: attestation.understands_tb_core_messages,
                },
                skills: texts("skills", &r.skills)?,
                reserve_tier: reserve_tier("reserve_tier", r.reserve_tier)?,
                registered_on: date("registered_on", &r.registered_on)?,
            };
            let out = self
                .state
                .ledger
                .volunteer(&ctx, VolunteerInput::Register(input))
                .await?;
            Ok(pb::RegisterVolunteerResponse {
                result: written(out),
            })
        })
    }

    async fn join_team(
        &self,
        request: Request<pb::JoinTeamRequest>,
    ) -> Result<Response<pb::JoinTeamResponse>, Status> {
        rpc!("VolunteerService/JoinTeam", {
            let (ctx, r) = context::command(&self.state, request)?;
            let volunteer = volunteer_id(&r.volunteer_id)?;
            let command = VolunteerCommand::JoinTeam(JoinTeam {
                team: TeamId(uuid("team_id", &r.team_id)?),
                joined_on: date("joined_on", &r.joined_on)?,
            });
            Ok(pb::JoinTeamResponse {
                result: self.other(&ctx, volunteer, command).await?,
            })
        })
    }

    async fn leave_team(
        &self,
        request: Request<pb::LeaveTeamRequest>,
    ) -> Result<Response<pb::LeaveTeamResponse>, Status> {
        rpc!("VolunteerService/LeaveTeam", {
            let (ctx, r) = context::command(&self.state, request)?;
            let volunteer = volunteer_id(&r.volunteer_id)?;
            let command = VolunteerCommand::LeaveTeam(LeaveTeam {
                team: TeamId(uuid("team_id", &r.team_id)?),
                left_on: date("left_on", &r.left_on)?,
            });
            Ok(pb::LeaveTeamResponse {
                result: self.other(&ctx, volunteer, command).await?,
            })
        })
    }

    async fn record_training(
        &self,
        request: Request<pb::RecordTrainingRequest>,
    ) -> Result<Response<pb::RecordTrainingResponse>, Status> {
        rpc!("VolunteerService/RecordTraining", {
            let (ctx, r) = context::command(&self.state, request)?;
            let volunteer = volunteer_id(&r.volunteer_id)?;
            let topics = enumerations::<pb::TrainingTopic>("topics", &r.topics)?
                .into_iter()
                .enumerate()
                .map(|(i, t)| topic(t, &crate::convert::at("topics", i)))
                .collect::<Result<_, _>>()?;
            let command = VolunteerCommand::RecordTraining(RecordTraining {
                training: TrainingId(uuid("training_id", &r.training_id)?),
                on: date("on", &r.on)?,
                topics,
            });
            Ok(pb::RecordTrainingResponse {
                result: self.other(&ctx, volunteer, command).await?,
            })
        })
    }

    async fn record_qualification(
        &self,
        request: Request<pb::RecordQualificationRequest>,
    ) -> Result<Response<pb::RecordQualificationResponse>, Status> {
        rpc!("VolunteerService/RecordQualification", {
            let (ctx, r) = context::command(&self.state, request)?;
            let input = RecordQualificationInput {
                volunteer: volunteer_id(&r.volunteer_id)?,
                role: professional_role("role", r.role)?,
                certificate_reference: r.certificate_reference,
                valid_from: date("valid_from", &r.valid_from)?,
                passed_training_on: opt_date("passed_training_on", r.passed_training_on.as_ref())?,
            };
            let out = self
                .state
                .ledger
                .volunteer(&ctx, VolunteerInput::RecordQualification(input))
                .await?;
            Ok(pb::RecordQualificationResponse {
                result: written(out),
            })
        })
    }

    async fn request_correction(
        &self,
        request: Request<pb::RequestCorrectionRequest>,
    ) -> Result<Response<pb::RequestCorrectionResponse>, Status> {
        rpc!("VolunteerService/RequestCorrection", {
            let (ctx, r) = context::command(&self.state, request)?;
            let volunteer = volunteer_id(&r.volunteer_id)?;
            let command = VolunteerCommand::RequestCorrection(RequestCorrection {
                correction: CorrectionId(uuid("correction_id", &r.correction_id)?),
                activity: ActivityId(uuid("activity_id", &r.activity_id)?),
                requested_change: text("requested_change", &r.requested_change)?,
            });
            Ok(pb::RequestCorrectionResponse {
                result: self.other(&ctx, volunteer, command).await?,
            })
        })
    }

    async fn resolve_correction(
        &self,
        request: Request<pb::ResolveCorrectionRequest>,
    ) -> Result<Response<pb::ResolveCorrectionResponse>, Status> {
        rpc!("VolunteerService/ResolveCorrection", {
            let (ctx, r) = context::command(&self.state, request)?;
            let volunteer = volunteer_id(&r.volunteer_id)?;
            let command = VolunteerCommand::ResolveCorrection(ResolveCorrection {
                correction: CorrectionId(uuid("correction_id", &r.correction_id)?),
                outcome: outcome("outcome", r.outcome)?,
                note: text("note", &r.note)?,
            });
            Ok(pb::ResolveCorrectionResponse {
                result: self.other(&ctx, volunteer, command).await?,
            })
        })
    }

    async fn erase_volunteer(
        &self,
        request: Request<pb::EraseVolunteerRequest>,
    ) -> Result<Response<pb::EraseVolunteerResponse>, Status> {
        rpc!("VolunteerService/EraseVolunteer", {
            let (ctx, r) = context::command(&self.state, request)?;
            let volunteer = volunteer_id(&r.volunteer_id)?;
            let command = VolunteerCommand::Erase(EraseVolunteer {
                reason: text("reason", &r.reason)?,
            });
            Ok(pb::EraseVolunteerResponse {
                result: self.other(&ctx, volunteer, command).await?,
            })
        })
    }

    async fn disclose_personal_data(
        &self,
        request: Request<pb::DisclosePersonalDataRequest>,
    ) -> Result<Response<pb::DisclosePersonalDataResponse>, Status> {
        rpc!("VolunteerService/DisclosePersonalData", {
            let (ctx, r) = context::command(&self.state, request)?;
            let fields = r
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| disclosed_field_in(&format!("fields[{i}]"), *f))
                .collect::<Result<Vec<_>, AppError>>()?;
            let command = RecordDisclosure {
                volunteer: volunteer_id(&r.volunteer_id)?,
                fields,
                reason: text("reason", &r.reason)?,
            };
            let d = self.state.ledger.disclose_volunteer(&ctx, command).await?;
            Ok(pb::DisclosePersonalDataResponse {
                volunteer_id: d.volunteer.to_string(),
                fields: d
                    .fields
                    .iter()
                    .map(|f| i32::from(disclosed_field_out(*f)))
                    .collect(),
                name: d.name,
                document_number: d.document_number,
                phone: d.phone,
                token: d
                    .recorded_at_token
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            })
        })
    }

    async fn get_volunteer(
        &self,
        request: Request<pb::GetVolunteerRequest>,
    ) -> Result<Response<pb::GetVolunteerResponse>, Status> {
        rpc!("VolunteerService/GetVolunteer", {
            let actor = context::actor(&self.state, request.metadata())?;
            let volunteer = volunteer_id(&request.get_ref().volunteer_id)?;
            let v = self.state.ledger.volunteer_view(&actor, volunteer).await?;
            Ok(pb::GetVolunteerResponse {
                volunteer_id: v.volunteer.to_string(),
                home_region: v.home_region.to_string(),
                document_kind: v
                    .document_kind
                    .map_or(pb::DocumentKind::Unspecified, document_kind_out)
                    .into(),
                erased: v.erased,
                masked_name: v.masked_name,
                masked_document_number: v.masked_document_number,
                masked_phone: v.masked_phone,
                team_ids: v.teams.iter().map(ToString::to_string).collect(),
                version: v.version,
            })
        })
    }
}

fn disclosed_field_in(field: &str, v: i32) -> Result<DisclosedField, AppError> {
    Ok(match enumeration::<pb::DisclosedField>(field, v)? {
        pb::DisclosedField::Unspecified => return Err(AppError::invalid(field, "is required")),
        pb::DisclosedField::Name => DisclosedField::Name,
        pb::DisclosedField::DocumentNumber => DisclosedField::DocumentNumber,
        pb::DisclosedField::Phone => DisclosedField::Phone,
    })
}

fn disclosed_field_out(f: DisclosedField) -> pb::DisclosedField {
    match f {
        DisclosedField::Name => pb::DisclosedField::Name,
        DisclosedField::DocumentNumber => pb::DisclosedField::DocumentNumber,
        DisclosedField::Phone => pb::DisclosedField::Phone,
    }
}

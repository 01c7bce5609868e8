//! The Jiangsu services: `DispatchService` (B3, B4), `DeploymentService` (B5), `MedicineBoxService`
//! (B8, B9) and `NeedService` (B10). Conversion only; eligibility of dispatched volunteers and stock
//! are the domain's to judge.

use app::AppError;
use domain::ids::{DeploymentId, DispatchId, MedicineBoxId, NeedId, TeamId, VolunteerId};
use domain::jiangsu::deployment::{DeployToGrid, DeploymentCommand, EndDeployment};
use domain::jiangsu::dispatch::{
    CloseDispatch, DispatchCommand, DispatchedVolunteer, IssueDispatch, ProfessionalRole,
};
use domain::jiangsu::medicine_box::{
    BoxKind, Donor, DonorCategory, MedicineBoxCommand, MedicineItem, RecipientCategory,
    RecordDispensing, RecordDonation, RegisterMedicineBox,
};
use domain::jiangsu::need::{
    FulfilNeed, NeedCategory, NeedCommand, PostNeed, RejectNeed, TakeNeed, VerifyNeed,
};
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{
    at, date, dot, enumeration, message, opt_date, opt_text, region, text, timestamp, uuid, uuids,
    written,
};
use crate::pb;
use crate::pb::deployment_service_server::DeploymentService;
use crate::pb::dispatch_service_server::DispatchService;
use crate::pb::medicine_box_service_server::MedicineBoxService;
use crate::pb::need_service_server::NeedService;

api!(JiangsuApi);

fn dispatch_role(field: &str, v: Option<i32>) -> Result<Option<ProfessionalRole>, AppError> {
    use pb::ProfessionalRole as R;
    let Some(v) = v else {
        return Ok(None);
    };
    Ok(Some(match enumeration::<R>(field, v)? {
        R::Unspecified => return Err(AppError::invalid(field, "is required")),
        R::Doctor => ProfessionalRole::Doctor,
        R::Nurse => ProfessionalRole::Nurse,
        R::Pharmacist => ProfessionalRole::Pharmacist,
        R::Driver => ProfessionalRole::Driver,
        R::Dispatcher => ProfessionalRole::Dispatcher,
    }))
}

fn box_kind(field: &str, v: i32) -> Result<BoxKind, AppError> {
    Ok(match enumeration::<pb::MedicineBoxKind>(field, v)? {
        pb::MedicineBoxKind::Unspecified => return Err(AppError::invalid(field, "is required")),
        pb::MedicineBoxKind::Physical => BoxKind::Physical,
        pb::MedicineBoxKind::Virtual => BoxKind::Virtual,
    })
}

fn donor(field: &str, d: &Option<pb::Donor>) -> Result<Donor, AppError> {
    use pb::DonorCategory as C;
    let d = message(field, d)?;
    let category_field = dot(field, "category");
    let category = match enumeration::<C>(&category_field, d.category)? {
        C::Unspecified => return Err(AppError::invalid(category_field, "is required")),
        C::Enterprise => DonorCategory::Enterprise,
        C::Pharmacy => DonorCategory::Pharmacy,
        C::MedicalInstitution => DonorCategory::MedicalInstitution,
        C::SocialOrganisation => DonorCategory::SocialOrganisation,
        C::Government => DonorCategory::Government,
        C::Individual => DonorCategory::Individual,
        C::Other => DonorCategory::Other,
    };
    Ok(Donor {
        category,
        organisation: opt_text(&dot(field, "organisation"), d.organisation.as_ref())?,
    })
}

fn recipient(field: &str, v: i32) -> Result<RecipientCategory, AppError> {
    use pb::RecipientCategory as C;
    Ok(match enumeration::<C>(field, v)? {
        C::Unspecified => return Err(AppError::invalid(field, "is required")),
        C::ElderlyLivingAlone => RecipientCategory::ElderlyLivingAlone,
        C::ChronicPatient => RecipientCategory::ChronicPatient,
        C::FeverPatient => RecipientCategory::FeverPatient,
        C::Child => RecipientCategory::Child,
        C::Pregnant => RecipientCategory::Pregnant,
        C::Other => RecipientCategory::Other,
    })
}

fn items(field: &str, list: &[pb::MedicineItem]) -> Result<Vec<MedicineItem>, AppError> {
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let f = at(field, i);
            Ok(MedicineItem {
                medicine: text(&dot(&f, "medicine"), &m.medicine)?,
                unit: text(&dot(&f, "unit"), &m.unit)?,
                quantity: m.quantity,
            })
        })
        .collect()
}

fn need_category(field: &str, v: i32) -> Result<NeedCategory, AppError> {
    use pb::NeedCategory as C;
    Ok(match enumeration::<C>(field, v)? {
        C::Unspecified => return Err(AppError::invalid(field, "is required")),
        C::Medicine => NeedCategory::Medicine,
        C::Food => NeedCategory::Food,
        C::DailySupplies => NeedCategory::DailySupplies,
        C::Transport => NeedCategory::Transport,
        C::MedicalCare => NeedCategory::MedicalCare,
        C::PsychologicalSupport => NeedCategory::PsychologicalSupport,
        C::Other => NeedCategory::Other,
    })
}

fn need_id(s: &str) -> Result<NeedId, AppError> {
    Ok(NeedId(uuid("need_id", s)?))
}

fn medbox_id(s: &str) -> Result<MedicineBoxId, AppError> {
    Ok(MedicineBoxId(uuid("medicine_box_id", s)?))
}

impl JiangsuApi {
    async fn need(
        &self,
        ctx: &app::CommandContext,
        command: NeedCommand,
    ) -> Result<Option<pb::WriteResult>, AppError> {
        Ok(written(self.state.ledger.need(ctx, command).await?))
    }

    async fn medicine_box(
        &self,
        ctx: &app::CommandContext,
        command: MedicineBoxCommand,
    ) -> Result<Option<pb::WriteResult>, AppError> {
        Ok(written(self.state.ledger.medicine_box(ctx, command).await?))
    }
}

#[tonic::async_trait]
impl DispatchService for JiangsuApi {
    async fn issue_dispatch(
        &self,
        request: Request<pb::IssueDispatchRequest>,
    ) -> Result<Response<pb::IssueDispatchResponse>, Status> {
        rpc!("DispatchService/IssueDispatch", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = DispatchCommand::Issue(IssueDispatch {
                dispatch: DispatchId(uuid("dispatch_id", &r.dispatch_id)?),
                hq: text("hq", &r.hq)?,
                region: region("region", &r.region)?,
                teams: uuids("team_ids", &r.team_ids)?
                    .into_iter()
                    .map(TeamId)
                    .collect(),
                reserve_volunteers: r
                    .reserve_volunteers
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let f = at("reserve_volunteers", i);
                        Ok(DispatchedVolunteer {
                            volunteer: VolunteerId(uuid(
                                &dot(&f, "volunteer_id"),
                                &v.volunteer_id,
                            )?),
                            role: dispatch_role(&dot(&f, "role"), v.role)?,
                        })
                    })
                    .collect::<Result<_, AppError>>()?,
                reason: text("reason", &r.reason)?,
                at: timestamp("at", r.at.as_ref())?,
            });
            let out = self.state.ledger.dispatch(&ctx, command).await?;
            Ok(pb::IssueDispatchResponse {
                result: written(out),
            })
        })
    }

    async fn close_dispatch(
        &self,
        request: Request<pb::CloseDispatchRequest>,
    ) -> Result<Response<pb::CloseDispatchResponse>, Status> {
        rpc!("DispatchService/CloseDispatch", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = DispatchCommand::Close(CloseDispatch {
                dispatch: DispatchId(uuid("dispatch_id", &r.dispatch_id)?),
                at: timestamp("at", r.at.as_ref())?,
                note: opt_text("note", r.note.as_ref())?,
            });
            let out = self.state.ledger.dispatch(&ctx, command).await?;
            Ok(pb::CloseDispatchResponse {
                result: written(out),
            })
        })
    }
}

#[tonic::async_trait]
impl DeploymentService for JiangsuApi {
    async fn deploy_to_grid(
        &self,
        request: Request<pb::DeployToGridRequest>,
    ) -> Result<Response<pb::DeployToGridResponse>, Status> {
        rpc!("DeploymentService/DeployToGrid", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = DeploymentCommand::Deploy(DeployToGrid {
                deployment: DeploymentId(uuid("deployment_id", &r.deployment_id)?),
                volunteer: VolunteerId(uuid("volunteer_id", &r.volunteer_id)?),
                home_unit: text("home_unit", &r.home_unit)?,
                region: region("region", &r.region)?,
                grid: text("grid", &r.grid)?,
                from: date("from", &r.from)?,
                planned_end: opt_date("planned_end", r.planned_end.as_ref())?,
            });
            let out = self.state.ledger.deployment(&ctx, command).await?;
            Ok(pb::DeployToGridResponse {
                result: written(out),
            })
        })
    }

    async fn end_deployment(
        &self,
        request: Request<pb::EndDeploymentRequest>,
    ) -> Result<Response<pb::EndDeploymentResponse>, Status> {
        rpc!("DeploymentService/EndDeployment", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = DeploymentCommand::End(EndDeployment {
                deployment: DeploymentId(uuid("deployment_id", &r.deployment_id)?),
                on: date("on", &r.on)?,
            });
            let out = self.state.ledger.deployment(&ctx, command).await?;
            Ok(pb::EndDeploymentResponse {
                result: written(out),
            })
        })
    }
}

#[tonic::async_trait]
impl MedicineBoxService for JiangsuApi {
    async fn register_medicine_box(
        &self,
        request: Request<pb::RegisterMedicineBoxRequest>,
    ) -> Result<Response<pb::RegisterMedicineBoxResponse>, Status> {
        rpc!("MedicineBoxService/RegisterMedicineBox", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = MedicineBoxCommand::Register(RegisterMedicineBox {
                medbox: medbox_id(&r.medicine_box_id)?,
                name: text("name", &r.name)?,
                kind: box_kind("kind", r.kind)?,
                region: region("region", &r.region)?,
                keeper_unit: text("keeper_unit", &r.keeper_unit)?,
            });
            Ok(pb::RegisterMedicineBoxResponse {
                result: self.medicine_box(&ctx, command).await?,
            })
        })
    }

    async fn record_donation(
        &self,
        request: Request<pb::RecordDonationRequest>,
    ) -> Result<Response<pb::RecordDonationResponse>, Status> {
        rpc!("MedicineBoxService/RecordDonation", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = MedicineBoxCommand::Donation(RecordDonation {
                medbox: medbox_id(&r.medicine_box_id)?,
                donor: donor("donor", &r.donor)?,
                items: items("items", &r.items)?,
                on: date("on", &r.on)?,
            });
            Ok(pb::RecordDonationResponse {
                result: self.medicine_box(&ctx, command).await?,
            })
        })
    }

    async fn record_dispensing(
        &self,
        request: Request<pb::RecordDispensingRequest>,
    ) -> Result<Response<pb::RecordDispensingResponse>, Status> {
        rpc!("MedicineBoxService/RecordDispensing", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = MedicineBoxCommand::Dispensing(RecordDispensing {
                medbox: medbox_id(&r.medicine_box_id)?,
                recipient: recipient("recipient", r.recipient)?,
                items: items("items", &r.items)?,
                on: date("on", &r.on)?,
            });
            Ok(pb::RecordDispensingResponse {
                result: self.medicine_box(&ctx, command).await?,
            })
        })
    }
}

#[tonic::async_trait]
impl NeedService for JiangsuApi {
    async fn post_need(
        &self,
        request: Request<pb::PostNeedRequest>,
    ) -> Result<Response<pb::PostNeedResponse>, Status> {
        rpc!("NeedService/PostNeed", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = NeedCommand::Post(PostNeed {
                need: need_id(&r.need_id)?,
                region: region("region", &r.region)?,
                community: text("community", &r.community)?,
                description: text("description", &r.description)?,
                category: need_category("category", r.category)?,
            });
            Ok(pb::PostNeedResponse {
                result: self.need(&ctx, command).await?,
            })
        })
    }

    async fn verify_need(
        &self,
        request: Request<pb::VerifyNeedRequest>,
    ) -> Result<Response<pb::VerifyNeedResponse>, Status> {
        rpc!("NeedService/VerifyNeed", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = NeedCommand::Verify(VerifyNeed {
                need: need_id(&r.need_id)?,
            });
            Ok(pb::VerifyNeedResponse {
                result: self.need(&ctx, command).await?,
            })
        })
    }

    async fn reject_need(
        &self,
        request: Request<pb::RejectNeedRequest>,
    ) -> Result<Response<pb::RejectNeedResponse>, Status> {
        rpc!("NeedService/RejectNeed", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = NeedCommand::Reject(RejectNeed {
                need: need_id(&r.need_id)?,
                reason: text("reason", &r.reason)?,
            });
            Ok(pb::RejectNeedResponse {
                result: self.need(&ctx, command).await?,
            })
        })
    }

    async fn take_need(
        &self,
        request: Request<pb::TakeNeedRequest>,
    ) -> Result<Response<pb::TakeNeedResponse>, Status> {
        rpc!("NeedService/TakeNeed", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = NeedCommand::Take(TakeNeed {
                need: need_id(&r.need_id)?,
                team: TeamId(uuid("team_id", &r.team_id)?),
            });
            Ok(pb::TakeNeedResponse {
                result: self.need(&ctx, command).await?,
            })
        })
    }

    async fn fulfil_need(
        &self,
        request: Request<pb::FulfilNeedRequest>,
    ) -> Result<Response<pb::FulfilNeedResponse>, Status> {
        rpc!("NeedService/FulfilNeed", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = NeedCommand::Fulfil(FulfilNeed {
                need: need_id(&r.need_id)?,
                team: TeamId(uuid("team_id", &r.team_id)?),
                note: text("note", &r.note)?,
            });
            Ok(pb::FulfilNeedResponse {
                result: self.need(&ctx, command).await?,
            })
        })
    }
}

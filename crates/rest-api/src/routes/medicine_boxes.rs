//! Shared medicine boxes (B8, B9): register a box, record donations into it and dispensings out of it.
//! Donors and recipients are categories only; stock is the domain's to check.

use axum::extract::State;
use chrono::NaiveDate;
use domain::ids::MedicineBoxId;
use domain::jiangsu::medicine_box::{
    Donor, MedicineBoxCommand, MedicineItem, RecordDispensing, RecordDonation, RegisterMedicineBox,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, created};
use crate::RestState;
use crate::dto::{
    BoxKindDto, DonorCategoryDto, RecipientCategoryDto, WriteAccepted, opt_text, region, text,
    uuid_param,
};
use crate::error::ApiError;
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(register_medicine_box))
        .routes(routes!(record_donation))
        .routes(routes!(record_dispensing))
}

/// Register a shared medicine box.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterMedicineBoxRequest {
    pub medicine_box_id: Uuid,
    pub name: String,
    pub kind: BoxKindDto,
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub region: String,
    /// The unit keeping the box (e.g. a community health service station).
    pub keeper_unit: String,
}

/// One line of a donation or dispensing.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MedicineItemInput {
    /// e.g. "布洛芬缓释胶囊 0.3g".
    pub medicine: String,
    /// e.g. "盒".
    pub unit: String,
    pub quantity: u32,
}

/// A donor: a category and, for organisations, an optional name.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DonorInput {
    pub category: DonorCategoryDto,
    pub organisation: Option<String>,
}

/// Record a donation into a box.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecordDonationRequest {
    pub donor: DonorInput,
    pub items: Vec<MedicineItemInput>,
    pub on: NaiveDate,
}

/// Record a dispensing out of a box.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecordDispensingRequest {
    pub recipient: RecipientCategoryDto,
    pub items: Vec<MedicineItemInput>,
    pub on: NaiveDate,
}

fn items(list: &[MedicineItemInput]) -> Result<Vec<MedicineItem>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            Ok(MedicineItem {
                medicine: text(&format!("items[{i}].medicine"), &m.medicine)?,
                unit: text(&format!("items[{i}].unit"), &m.unit)?,
                quantity: m.quantity,
            })
        })
        .collect()
}

fn medbox_param(id: &str) -> Result<MedicineBoxId, ApiError> {
    Ok(MedicineBoxId(uuid_param("medicine_box_id", id)?))
}

#[utoipa::path(post, path = "/api/v1/medicine-boxes", tag = "medicine-boxes",
    request_body = RegisterMedicineBoxRequest,
    responses((status = 201, description = "Medicine box registered", body = WriteAccepted)))]
async fn register_medicine_box(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<RegisterMedicineBoxRequest>,
) -> Created {
    let command = MedicineBoxCommand::Register(RegisterMedicineBox {
        medbox: MedicineBoxId(r.medicine_box_id),
        name: text("name", &r.name)?,
        kind: r.kind.into(),
        region: region("region", &r.region)?,
        keeper_unit: text("keeper_unit", &r.keeper_unit)?,
    });
    created(s.ledger.medicine_box(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/medicine-boxes/{medicine_box_id}/donations", tag = "medicine-boxes",
    params(("medicine_box_id" = Uuid, Path, description = "The medicine box")),
    request_body = RecordDonationRequest,
    responses((status = 201, description = "Donation recorded", body = WriteAccepted)))]
async fn record_donation(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<RecordDonationRequest>,
) -> Created {
    let command = MedicineBoxCommand::Donation(RecordDonation {
        medbox: medbox_param(&id)?,
        donor: Donor {
            category: r.donor.category.into(),
            organisation: opt_text("donor.organisation", r.donor.organisation.as_deref())?,
        },
        items: items(&r.items)?,
        on: r.on,
    });
    created(s.ledger.medicine_box(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/medicine-boxes/{medicine_box_id}/dispensings", tag = "medicine-boxes",
    params(("medicine_box_id" = Uuid, Path, description = "The medicine box")),
    request_body = RecordDispensingRequest,
    responses((status = 201, description = "Dispensing recorded", body = WriteAccepted)))]
async fn record_dispensing(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<RecordDispensingRequest>,
) -> Created {
    let command = MedicineBoxCommand::Dispensing(RecordDispensing {
        medbox: medbox_param(&id)?,
        recipient: r.recipient.into(),
        items: items(&r.items)?,
        on: r.on,
    });
    created(s.ledger.medicine_box(&ctx, command).await)
}

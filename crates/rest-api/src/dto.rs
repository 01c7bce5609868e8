//! The API's own request and response types (serde + `utoipa::ToSchema`), shared by several areas.
//!
//! Policy of this module:
//! - **API types are not domain types.** Requests are plain DTOs; each area converts them into domain
//!   commands in its adapter with field-named errors (dotted paths). Domain enums get API twins here
//!   (snake_case strings, allowed values listed in the schema) with explicit conversions, so a domain
//!   rename never silently changes the API.
//! - Text is validated by the domain parsers (`Text::parse`, `RegionCode::parse`, the id newtypes) with
//!   the field path as given by the client.

use domain::ids::{RegionCode, Text};
use domain::summary::CountyYear;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// Longest free text accepted by the adapter; each domain command applies its own, smaller, bound.
pub const MAX_TEXT: usize = 20_000;

/// What a write answers: the token of what it wrote (for `min_token` reads), the stream and its version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WriteAccepted {
    /// Opaque token of the write (`tx.position`); pass it as `min_token` to read your write. `null` when
    /// the command changed nothing (e.g. an identical correction).
    pub token: Option<String>,
    /// The stream the command was appended to (e.g. `team-<uuid>`).
    pub stream_id: String,
    /// The stream's version after the write.
    pub version: u64,
    /// `true` when this answers an earlier request with the same `Idempotency-Key`.
    pub replayed: bool,
}

impl From<app::CommandOutcome> for WriteAccepted {
    fn from(o: app::CommandOutcome) -> Self {
        Self {
            token: o.token.map(|t| t.to_string()),
            stream_id: o.stream_id,
            version: o.version,
            replayed: o.replayed,
        }
    }
}

/// A person named in a record (team leader, on-call contact, designated manager). Sealed by the service;
/// never returned in plaintext.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PersonInput {
    /// Full name (1 to 50 characters).
    pub name: String,
    /// Identity document number, if recorded.
    pub id_number: Option<String>,
    /// Phone number (digits, a leading `+` and `-` allowed).
    pub phone: Option<String>,
}

impl From<PersonInput> for personal_data::PersonalRecord {
    fn from(p: PersonInput) -> Self {
        Self {
            name: p.name,
            id_number: p.id_number,
            phone: p.phone,
        }
    }
}

/// Bounded, trimmed, non-empty text named `field`.
pub fn text(field: &str, s: &str) -> Result<Text, ApiError> {
    Ok(Text::parse(field, s, MAX_TEXT)?)
}

/// Optional text; `None` stays `None`.
pub fn opt_text(field: &str, s: Option<&str>) -> Result<Option<Text>, ApiError> {
    s.map(|s| text(field, s)).transpose()
}

/// A GB/T 2260 region code named `field`.
pub fn region(field: &str, s: &str) -> Result<RegionCode, ApiError> {
    Ok(RegionCode::parse(field, s)?)
}

/// A UUID path parameter named `field`.
pub fn uuid_param(field: &str, s: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(s).map_err(|_| ApiError::invalid(field, format!("{s:?} is not a UUID")))
}

/// A county and a report year: the key of a summary or an evaluation.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CountyYearInput {
    /// County-level GB/T 2260 code.
    #[schema(pattern = "^[1-9][0-9]{3}([0-9][1-9]|[1-9][0-9])$")]
    pub county: String,
    /// Report year.
    #[schema(minimum = 2000, maximum = 2100)]
    pub year: i32,
}

/// The domain's county-year key; errors name `{field}.county` / `{field}.year`.
pub fn county_year(field: &str, k: &CountyYearInput) -> Result<CountyYear, ApiError> {
    let county = region(&format!("{field}.county"), &k.county)?;
    Ok(CountyYear::new(field, county, k.year)?)
}

/// An API twin of a domain unit enum: snake_case values, conversions both ways.
macro_rules! api_enum {
    ($(#[$m:meta])* $name:ident => $domain:path { $($(#[$vm:meta])* $variant:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),* }

        impl From<$name> for $domain {
            fn from(v: $name) -> Self {
                match v { $($name::$variant => <$domain>::$variant),* }
            }
        }

        impl From<$domain> for $name {
            fn from(v: $domain) -> Self {
                match v { $(<$domain>::$variant => $name::$variant),* }
            }
        }
    };
}

api_enum!(
    /// GB/T 2260 level of a region.
    RegionLevelDto => domain::region::RegionLevel { Province, City, County, Township }
);
api_enum!(
    /// Level of a TB-free community pilot.
    PilotLevelDto => domain::host_unit::PilotLevel { County, City, Province, National }
);
api_enum!(
    /// Level of a team.
    TeamLevelDto => domain::team::TeamLevel { City, County }
);
api_enum!(
    /// The identity document of a volunteer.
    DocumentKindDto => domain::identity::DocumentKind {
        ResidentIdCard, HongKongResidencePermit, MacauResidencePermit, TaiwanResidencePermit,
        ForeignPermanentResidenceCard, Passport
    }
);
api_enum!(
    /// B4 reserve tier.
    ReserveTierDto => domain::volunteer::ReserveTier { None, FirstEchelon }
);
api_enum!(
    /// A11 training topics.
    TrainingTopicDto => domain::volunteer::TrainingTopic { TbCoreMessages, ActivityMethods, Recording, Other }
);
api_enum!(
    /// B7 professional roles.
    ProfessionalRoleDto => domain::volunteer::ProfessionalRole { Doctor, Nurse, Pharmacist, Driver, Dispatcher }
);
api_enum!(
    /// How a correction request was resolved.
    CorrectionOutcomeDto => domain::volunteer::CorrectionOutcome { Accepted, Rejected }
);
api_enum!(
    /// A13 kinds of activity.
    ActivityKindDto => domain::activity::ActivityKind {
        KnowledgePublicity, PatientCare, TreatmentFollowUp, HealthCheckUp, PreventiveTherapyMobilisation,
        CampusFreshmanCheckUpPublicity, KeyDayCampaign, SummerPractice, Other
    }
);

/// Kinds of host unit (依托单位). `tb_free_community_pilot` needs `pilot_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostUnitKindDto {
    Cdc,
    GovernmentDepartment,
    DesignatedTbHospital,
    TbFreeCommunityPilot,
    TbFreeCampus,
    School,
    Enterprise,
    SocialOrganisation,
    CivilizationPracticeCentre,
    CivilizationPracticeInstitute,
    CivilizationPracticeStation,
    PartyBranch,
    Other,
}

/// The domain's host unit kind from the API's kind and pilot level (`field` names the kind).
pub fn host_unit_kind(
    field: &str,
    kind: HostUnitKindDto,
    pilot_level: Option<PilotLevelDto>,
) -> Result<domain::host_unit::HostUnitKind, ApiError> {
    use domain::host_unit::HostUnitKind as K;
    let level_field = field
        .strip_suffix("kind")
        .map_or_else(|| "pilot_level".to_owned(), |p| format!("{p}pilot_level"));
    Ok(match kind {
        HostUnitKindDto::TbFreeCommunityPilot => {
            let Some(level) = pilot_level else {
                return Err(ApiError::invalid(
                    level_field,
                    "a tb_free_community_pilot needs its pilot_level",
                ));
            };
            K::TbFreeCommunityPilot(level.into())
        }
        other => {
            if pilot_level.is_some() {
                return Err(ApiError::invalid(
                    level_field,
                    "only a tb_free_community_pilot has a pilot_level",
                ));
            }
            match other {
                HostUnitKindDto::Cdc => K::Cdc,
                HostUnitKindDto::GovernmentDepartment => K::GovernmentDepartment,
                HostUnitKindDto::DesignatedTbHospital => K::DesignatedTbHospital,
                HostUnitKindDto::TbFreeCampus => K::TbFreeCampus,
                HostUnitKindDto::School => K::School,
                HostUnitKindDto::Enterprise => K::Enterprise,
                HostUnitKindDto::SocialOrganisation => K::SocialOrganisation,
                HostUnitKindDto::CivilizationPracticeCentre => K::CivilizationPracticeCentre,
                HostUnitKindDto::CivilizationPracticeInstitute => K::CivilizationPracticeInstitute,
                HostUnitKindDto::CivilizationPracticeStation => K::CivilizationPracticeStation,
                HostUnitKindDto::PartyBranch => K::PartyBranch,
                HostUnitKindDto::Other | HostUnitKindDto::TbFreeCommunityPilot => K::Other,
            }
        }
    })
}

/// The domain host kind as the API's `(kind, pilot_level)` pair (for campaign rule sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HostKindInput {
    pub kind: HostUnitKindDto,
    /// Required for `tb_free_community_pilot` (the minimum level), absent otherwise.
    pub pilot_level: Option<PilotLevelDto>,
}

/// A13 key disease-prevention days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum KeyDayDto {
    /// 3·5 China Youth Volunteer Day / Zhejiang Volunteer Day.
    #[serde(rename = "volunteer_day_03_05")]
    VolunteerDay,
    /// 3·24 World TB Day.
    #[serde(rename = "world_tb_day_03_24")]
    WorldTbDay,
    /// 5·31 World No Tobacco Day.
    #[serde(rename = "world_no_tobacco_day_05_31")]
    WorldNoTobaccoDay,
    /// 12·1 World AIDS Day.
    #[serde(rename = "world_aids_day_12_01")]
    WorldAidsDay,
}

impl From<KeyDayDto> for domain::activity::KeyDay {
    fn from(k: KeyDayDto) -> Self {
        use domain::activity::KeyDay as K;
        match k {
            KeyDayDto::VolunteerDay => K::VolunteerDay,
            KeyDayDto::WorldTbDay => K::WorldTbDay,
            KeyDayDto::WorldNoTobaccoDay => K::WorldNoTobaccoDay,
            KeyDayDto::WorldAidsDay => K::WorldAidsDay,
        }
    }
}

api_enum!(
    /// A18 qualities of a typical case.
    CaseQualityDto => domain::typical_case::CaseQuality { Innovative, Distinctive, Effective, Moving }
);
api_enum!(
    /// A20 severity of a supervision finding.
    SeverityDto => domain::supervision::Severity { Info, Minor, Major }
);
api_enum!(
    /// B7 professional role a reserve volunteer is dispatched in.
    DispatchRoleDto => domain::jiangsu::dispatch::ProfessionalRole { Doctor, Nurse, Pharmacist, Driver, Dispatcher }
);
api_enum!(
    /// B8 kind of a shared medicine box.
    BoxKindDto => domain::jiangsu::medicine_box::BoxKind { Physical, Virtual }
);
api_enum!(
    /// B8 who donated, as a category (an individual is never named).
    DonorCategoryDto => domain::jiangsu::medicine_box::DonorCategory {
        Enterprise, Pharmacy, MedicalInstitution, SocialOrganisation, Government, Individual, Other
    }
);
api_enum!(
    /// B9 who received medicine, as a category only.
    RecipientCategoryDto => domain::jiangsu::medicine_box::RecipientCategory {
        ElderlyLivingAlone, ChronicPatient, FeverPatient, Child, Pregnant, Other
    }
);
api_enum!(
    /// B10 category of a community need.
    NeedCategoryDto => domain::jiangsu::need::NeedCategory {
        Medicine, Food, DailySupplies, Transport, MedicalCare, PsychologicalSupport, Other
    }
);

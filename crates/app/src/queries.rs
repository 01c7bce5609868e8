//! Queries that read streams directly (the read models come with the projections). Personal data is
//! shown masked by default (PIPL); after erasure it is gone, and the answer says so.

use domain::identity::DocumentKind;
use domain::ids::{RegionCode, TeamId, VolunteerId};
use domain::volunteer::Volunteer;
use personal_data::{mask_id_number, mask_name, mask_phone};

use crate::actor::{Actor, Role};
use crate::error::AppError;
use crate::ledger::Ledger;

/// A volunteer as staff see it: masked personal data and the facts of the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolunteerView {
    pub volunteer: VolunteerId,
    pub home_region: RegionCode,
    pub document_kind: Option<DocumentKind>,
    /// `true` once the person's data key was destroyed: the masked fields below are then `None`.
    pub erased: bool,
    pub masked_name: Option<String>,
    pub masked_document_number: Option<String>,
    pub masked_phone: Option<String>,
    /// Teams the volunteer has ever been a member of.
    pub teams: Vec<TeamId>,
    pub version: u64,
}

impl Ledger {
    /// A volunteer, masked. Region-scoped roles see volunteers of their regions; team-scoped roles those
    /// who were ever members of their teams; partners need the `ReadVolunteers` grant.
    #[tracing::instrument(name = "reads.volunteer_view", skip_all)]
    pub async fn volunteer_view(
        &self,
        actor: &Actor,
        volunteer: VolunteerId,
    ) -> Result<VolunteerView, AppError> {
        let loaded = self.load::<Volunteer>(&volunteer.to_string()).await?;
        let v = &loaded.state;
        let Some(home_region) = v.home_region().filter(|_| v.is_registered()) else {
            return Err(AppError::not_found(
                "volunteer",
                format!("volunteer {volunteer} is not registered"),
            ));
        };
        let teams: Vec<TeamId> = {
            let mut t: Vec<TeamId> = v.memberships().iter().map(|m| m.team).collect();
            t.sort();
            t.dedup();
            t
        };
        let allowed = match actor.role {
            Role::TeamLeader | Role::YouthLeague => teams.iter().any(|t| actor.has_team(t)),
            Role::IntegrationPartner => {
                actor.grants.iter().any(|g| g == "ReadVolunteers")
                    && actor.covers_region(&home_region)
            }
            _ => actor.covers_region(&home_region),
        };
        if !allowed {
            return Err(AppError::forbidden(
                "this volunteer is outside the caller's scope",
            ));
        }
        let record = match v.personal() {
            Some(sealed) if !v.is_erased() => {
                self.open_personal(&loaded.stream_id, "volunteer.personal", sealed)
                    .await?
            }
            _ => None,
        };
        Ok(VolunteerView {
            volunteer,
            home_region,
            document_kind: v.document_kind(),
            erased: record.is_none(),
            masked_name: record.as_ref().map(|r| mask_name(&r.name)),
            masked_document_number: record
                .as_ref()
                .and_then(|r| r.id_number.as_deref().map(mask_id_number)),
            masked_phone: record
                .as_ref()
                .and_then(|r| r.phone.as_deref().map(mask_phone)),
            teams,
            version: loaded.version,
        })
    }
}

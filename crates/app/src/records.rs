//! Queries of the volunteer service record (#5 read model 6) and of the Jiangsu read models (read model 7),
//! with read-your-writes.
//!
//! Policy of this module:
//! - **Read-your-writes by token**, as [`ReadModels::caught_up`]: with `min_token` an answer waits
//!   (bounded) until the projector serving it has passed that write, else `Unavailable`.
//! - **Scope.** A volunteer's record is scoped like `Ledger::volunteer_view`: region-scoped roles see
//!   the volunteers whose home region they cover, team-scoped roles (team leaders, the Youth League) the
//!   volunteers who were ever members of one of their teams, partners need the `ReadVolunteers` grant
//!   (and to cover the home region). Lists of volunteers — service hours of a region, deployments, the
//!   reserve roster — are for region-scoped roles covering the region (partners: `ReadVolunteers`);
//!   service hours of one team also for that team's own team-scoped roles. Medicine-box stock and
//!   needs carry no person and follow the region reports (`reads::may_read_region`: region-scoped roles,
//!   partners with `ReadReports`).
//! - **Ids only.** Read models hold no personal data and nothing here decrypts; a front end shows masked
//!   names through the volunteer view.
//! - **Bad input names its field** (`year`, `team`, `region`, `grid`, `tier`, `status`, `cursor`,
//!   `limit`, …) and is a 400, never a 500. A database that cannot be reached is `Unavailable`.
//! - **Paging.** Service hours are paged by volunteer id after a cursor (a page never shifts when others
//!   change); the Jiangsu lists are answered whole, for the adapters to page by offset
//!   (`reads::page`) — pin later pages with `min_token = as_of`.

use chrono::NaiveDate;
use domain::ids::{RegionCode, Text, VolunteerId};
use domain::jiangsu::deployment::GRID_MAX_CHARS;
use domain::jiangsu::need::NeedStatus;
use domain::volunteer::ReserveTier;
use eventstore::{StoreError, Token};
/// The read models' answers, for the adapters (which do not depend on `projections`).
pub use projections::{
    Deployments, GridDeployment, HoursOf, IssuedCertificate, MedicineStock, MedicineStocks,
    NeedRow, Needs, OPEN_NEEDS, ReserveMember, ReserveRoster, ServedActivity, ServiceRecord,
    ServiceYear, VolunteerHours,
};
use projections::{JiangsuProjector, ProjectionError, ServiceRecordProjector};

use crate::actor::{Actor, Role};
use crate::error::AppError;
use crate::reads::{BOARD_YEARS, MAX_REPORT_PAGE, ReadModels, may_read_region};

/// The grant that lets a partner read volunteers (their record, lists of them).
pub const READ_VOLUNTEERS_GRANT: &str = "ReadVolunteers";

/// One page of service hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceHoursPage {
    pub of: HoursOf,
    pub year: i32,
    /// By volunteer id.
    pub items: Vec<VolunteerHours>,
    /// The cursor of the next page (the last volunteer's id); `None`: this is the last page.
    pub next_cursor: Option<String>,
    /// Events the projector has parked: when not 0, the figures may miss them.
    pub parked_events: u64,
    /// The read model's checkpoint the answer was computed from.
    pub as_of: Token,
}

fn projection_error(context: &str, e: ProjectionError) -> AppError {
    match e {
        ProjectionError::Database(db) => match StoreError::Database(db) {
            unavailable if unavailable.is_unavailable() => unavailable.into(),
            other => AppError::internal(context, &other),
        },
        ProjectionError::Store(s) if s.is_unavailable() => s.into(),
        other => AppError::internal(context, &other),
    }
}

/// A year the records answer for ([`BOARD_YEARS`]), named `field`.
pub fn check_year(field: &str, year: i32) -> Result<i32, AppError> {
    if BOARD_YEARS.contains(&year) {
        Ok(year)
    } else {
        Err(AppError::invalid(
            field,
            format!(
                "must be a year from {} to {}",
                BOARD_YEARS.start(),
                BOARD_YEARS.end()
            ),
        ))
    }
}

/// A service-hours cursor (a volunteer id; empty: the first page), named `field`.
pub fn parse_cursor(field: &str, s: Option<&str>) -> Result<Option<VolunteerId>, AppError> {
    match s {
        None | Some("") => Ok(None),
        Some(c) => uuid::Uuid::parse_str(c)
            .map(|u| Some(VolunteerId(u)))
            .map_err(|_| {
                AppError::invalid(field, "is not a cursor of this list (use next_cursor)")
            }),
    }
}

/// A grid reference as the deployment recorded it (trimmed, 1 to the domain's bound), named `field`.
pub fn parse_grid(field: &str, s: &str) -> Result<String, AppError> {
    if s.chars().count() > GRID_MAX_CHARS {
        return Err(AppError::invalid(
            field,
            format!("at most {GRID_MAX_CHARS} characters"),
        ));
    }
    Ok(Text::parse(field, s, GRID_MAX_CHARS)?.as_str().to_owned())
}

/// A reserve tier by its domain name (`first_echelon`); `none` is no reserve and lists nothing.
pub fn parse_tier(field: &str, s: &str) -> Result<ReserveTier, AppError> {
    match s {
        "first_echelon" => Ok(ReserveTier::FirstEchelon),
        _ => Err(AppError::invalid(
            field,
            "is not a reserve tier (first_echelon)",
        )),
    }
}

/// The need statuses by domain name a list may ask for.
pub const NEED_STATUSES: [(&str, NeedStatus); 5] = [
    ("posted", NeedStatus::Posted),
    ("verified", NeedStatus::Verified),
    ("taken", NeedStatus::Taken),
    ("fulfilled", NeedStatus::Fulfilled),
    ("rejected", NeedStatus::Rejected),
];

/// A need status by its domain name (`posted`, `verified`, `taken`, `fulfilled`, `rejected`).
pub fn parse_need_status(field: &str, s: &str) -> Result<NeedStatus, AppError> {
    NEED_STATUSES
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, status)| *status)
        .ok_or_else(|| {
            AppError::invalid(
                field,
                "is not a need status (posted, verified, taken, fulfilled, rejected)",
            )
        })
}

fn partner_may_read_volunteers(actor: &Actor) -> bool {
    actor.grants.iter().any(|g| g == READ_VOLUNTEERS_GRANT)
}

/// Lists of volunteers of a region: region-scoped roles covering it, partners with `ReadVolunteers`.
pub fn may_list_volunteers(actor: &Actor, region: &RegionCode) -> Result<(), AppError> {
    let allowed = match actor.role {
        Role::TeamLeader | Role::YouthLeague => false,
        Role::IntegrationPartner => {
            partner_may_read_volunteers(actor) && actor.covers_region(region)
        }
        _ => actor.covers_region(region),
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "volunteers of region {region} are outside your scope"
        )))
    }
}

/// The regions whose volunteers `actor` may list without naming one (its own regions).
fn own_regions_for_volunteers(actor: &Actor) -> Result<Vec<RegionCode>, AppError> {
    let allowed = match actor.role {
        Role::TeamLeader | Role::YouthLeague => false,
        Role::IntegrationPartner => partner_may_read_volunteers(actor),
        _ => true,
    };
    if allowed && !actor.regions.is_empty() {
        Ok(actor.regions.clone())
    } else {
        Err(AppError::forbidden(
            "lists of volunteers are for region-scoped roles",
        ))
    }
}

impl ReadModels {
    /// The service record of `volunteer` (every year, or only `year`): per year the activities, minutes
    /// and first/last dates with the activities that decided them, and the certificates issued.
    #[tracing::instrument(name = "reads.service_record", skip_all)]
    pub async fn service_record(
        &self,
        actor: &Actor,
        volunteer: VolunteerId,
        year: Option<i32>,
        min_token: Option<Token>,
    ) -> Result<ServiceRecord, AppError> {
        if let Some(y) = year {
            check_year("year", y)?;
        }
        self.caught_up(ServiceRecordProjector::ID, min_token)
            .await?;
        let record = projections::service_record::service_record(
            self.ledger().store().pool(),
            volunteer,
            year,
        )
        .await
        .map_err(|e| projection_error("service record query", e))?;
        let Some(home_region) = record.home_region else {
            return Err(AppError::not_found(
                "volunteer_id",
                format!("volunteer {volunteer} is not registered"),
            ));
        };
        let allowed = match actor.role {
            Role::TeamLeader | Role::YouthLeague => record.teams.iter().any(|t| actor.has_team(t)),
            Role::IntegrationPartner => {
                partner_may_read_volunteers(actor) && actor.covers_region(&home_region)
            }
            _ => actor.covers_region(&home_region),
        };
        if !allowed {
            return Err(AppError::forbidden(
                "this volunteer is outside the caller's scope",
            ));
        }
        Ok(record)
    }

    /// Up to `limit` (1 to [`MAX_REPORT_PAGE`]) volunteers after `after` who served in `year` in the
    /// activities of a team or of a region's teams, with their activities and minutes.
    #[tracing::instrument(name = "reads.service_hours", skip_all)]
    pub async fn service_hours(
        &self,
        actor: &Actor,
        of: HoursOf,
        year: i32,
        after: Option<VolunteerId>,
        limit: usize,
        min_token: Option<Token>,
    ) -> Result<ServiceHoursPage, AppError> {
        check_year("year", year)?;
        if !(1..=MAX_REPORT_PAGE).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("must be an integer from 1 to {MAX_REPORT_PAGE}"),
            ));
        }
        self.caught_up(ServiceRecordProjector::ID, min_token)
            .await?;
        match of {
            HoursOf::Region(region) => may_list_volunteers(actor, &region)?,
            HoursOf::Team(team) => {
                let region =
                    projections::service_record::team_region(self.ledger().store().pool(), team)
                        .await
                        .map_err(|e| projection_error("service hours query", e))?
                        .ok_or_else(|| {
                            AppError::not_found("team", format!("team {team} is not registered"))
                        })?;
                let own_team = matches!(actor.role, Role::TeamLeader | Role::YouthLeague)
                    && actor.has_team(&team);
                if !own_team {
                    may_list_volunteers(actor, &region)?;
                }
            }
        }
        let limit = i64::try_from(limit).unwrap_or(projections::service_record::MAX_PAGE);
        let h = projections::service_record::service_hours(
            self.ledger().store().pool(),
            of,
            year,
            after,
            limit,
        )
        .await
        .map_err(|e| projection_error("service hours query", e))?;
        let next_cursor = if h.has_more {
            h.rows.last().map(|r| r.volunteer.to_string())
        } else {
            None
        };
        Ok(ServiceHoursPage {
            of: h.of,
            year: h.year,
            items: h.rows,
            next_cursor,
            parked_events: h.parked_events,
            as_of: h.as_of,
        })
    }

    /// The second-grid-member deployments (B5) in force on `date`: in `region`, or, without one, in the
    /// caller's regions; on `grid` only when given. One of the two is required.
    #[tracing::instrument(name = "reads.deployments", skip_all)]
    pub async fn deployments_in_force(
        &self,
        actor: &Actor,
        region: Option<RegionCode>,
        grid: Option<&str>,
        date: NaiveDate,
        min_token: Option<Token>,
    ) -> Result<Deployments, AppError> {
        let grid = grid.map(|g| parse_grid("grid", g)).transpose()?;
        let regions = match region {
            Some(r) => {
                may_list_volunteers(actor, &r)?;
                vec![r]
            }
            None if grid.is_some() => own_regions_for_volunteers(actor)?,
            None => {
                return Err(AppError::invalid(
                    "region",
                    "give a region, a grid, or both",
                ));
            }
        };
        self.caught_up(JiangsuProjector::ID, min_token).await?;
        projections::jiangsu::deployments_in_force(
            self.ledger().store().pool(),
            &regions,
            grid.as_deref(),
            date,
        )
        .await
        .map_err(|e| projection_error("deployments query", e))
    }

    /// The reserve roster (B4) of `region` by home region: every reserve tier, or only `tier`.
    #[tracing::instrument(name = "reads.reserve", skip_all)]
    pub async fn reserve_roster(
        &self,
        actor: &Actor,
        region: RegionCode,
        tier: Option<ReserveTier>,
        min_token: Option<Token>,
    ) -> Result<ReserveRoster, AppError> {
        if tier == Some(ReserveTier::None) {
            return Err(AppError::invalid(
                "tier",
                "`none` is no reserve tier (first_echelon)",
            ));
        }
        may_list_volunteers(actor, &region)?;
        self.caught_up(JiangsuProjector::ID, min_token).await?;
        projections::jiangsu::reserve_roster(self.ledger().store().pool(), &[region], tier)
            .await
            .map_err(|e| projection_error("reserve roster query", e))
    }

    /// The medicine-box stock (B8, B9) of the boxes of `region`, per box and (medicine, unit).
    #[tracing::instrument(name = "reads.medicine_stock", skip_all)]
    pub async fn medicine_stock(
        &self,
        actor: &Actor,
        region: RegionCode,
        min_token: Option<Token>,
    ) -> Result<MedicineStocks, AppError> {
        may_read_region(actor, &region)?;
        self.caught_up(JiangsuProjector::ID, min_token).await?;
        projections::jiangsu::medicine_stock(self.ledger().store().pool(), &[region])
            .await
            .map_err(|e| projection_error("medicine stock query", e))
    }

    /// The needs (B10) of `region`: the open ones (posted, verified, taken), or those of `status`.
    #[tracing::instrument(name = "reads.needs", skip_all)]
    pub async fn needs(
        &self,
        actor: &Actor,
        region: RegionCode,
        status: Option<NeedStatus>,
        min_token: Option<Token>,
    ) -> Result<Needs, AppError> {
        let statuses: Vec<NeedStatus> = match status {
            None => OPEN_NEEDS.to_vec(),
            Some(NeedStatus::NotPosted) => {
                return Err(AppError::invalid("status", "is not a need status"));
            }
            Some(s) => vec![s],
        };
        may_read_region(actor, &region)?;
        self.caught_up(JiangsuProjector::ID, min_token).await?;
        projections::jiangsu::needs(self.ledger().store().pool(), &[region], &statuses)
            .await
            .map_err(|e| projection_error("needs query", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, grants: &[&str]) -> Actor {
        Actor {
            subject: "t".into(),
            role,
            regions: vec![RegionCode::parse("r", "330602").unwrap()],
            teams: vec![],
            grants: grants.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    #[test]
    fn lists_of_volunteers_are_for_region_roles_and_granted_partners_only() {
        let here = RegionCode::parse("r", "330602").unwrap();
        let there = RegionCode::parse("r", "330603").unwrap();
        assert!(may_list_volunteers(&actor(Role::CountyCdc, &[]), &here).is_ok());
        assert!(may_list_volunteers(&actor(Role::CountyCdc, &[]), &there).is_err());
        assert!(may_list_volunteers(&actor(Role::TeamLeader, &[]), &here).is_err());
        assert!(may_list_volunteers(&actor(Role::IntegrationPartner, &[]), &here).is_err());
        assert!(
            may_list_volunteers(
                &actor(Role::IntegrationPartner, &[READ_VOLUNTEERS_GRANT]),
                &here
            )
            .is_ok()
        );
    }

    #[test]
    fn filters_parse_by_domain_name_and_name_their_field() {
        assert_eq!(
            parse_tier("tier", "first_echelon").unwrap(),
            ReserveTier::FirstEchelon
        );
        assert_eq!(
            parse_tier("tier", "none").unwrap_err().field.as_deref(),
            Some("tier")
        );
        assert_eq!(
            parse_need_status("status", "taken").unwrap(),
            NeedStatus::Taken
        );
        assert_eq!(
            parse_need_status("status", "not_posted")
                .unwrap_err()
                .field
                .as_deref(),
            Some("status")
        );
        assert_eq!(
            check_year("year", 1999).unwrap_err().field.as_deref(),
            Some("year")
        );
        assert_eq!(parse_cursor("cursor", Some("")).unwrap(), None);
        assert!(parse_cursor("cursor", Some("x")).is_err());
        assert_eq!(parse_grid("grid", "  第3网格 ").unwrap(), "第3网格");
        assert!(parse_grid("grid", "  ").is_err());
    }
}

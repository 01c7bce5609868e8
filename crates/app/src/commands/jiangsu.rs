//! Jiangsu epidemic-prevention volunteering (seed 003): dispatches (B3, B4, B7), second-grid-member
//! deployments (B5), shared medicine boxes (B8, B9) and community needs (B10).
//!
//! Loads, per aggregate (the domain's facts are plain booleans computed here from replayed streams):
//! - dispatch: for `Issue` every listed team (active on the dispatch date, Asia/Shanghai date of `at`) and
//!   every listed volunteer (first-echelon reserve and not erased; qualification for the given role valid
//!   on that date; driver training passed on or before it), one round trip each;
//! - deployment: for `Deploy` the volunteer (exists, erased);
//! - medicine box: nothing besides its own stream (stock is derived from it);
//! - need: for `Take` the team (exists; active on the receipt date in Asia/Shanghai).
//!
//! Subjects: the region the command names when it creates the record, else the record's own region from
//! its stream (not found when the record does not exist). Taking and fulfilling a need act for the team
//! named, so its leader may do it. Medicine boxes belong to no team: team leaders cannot reach them.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use domain::campaign::{shanghai_date, shanghai_start_of_day};
use domain::jiangsu::deployment::{Deployment, DeploymentCommand, DeploymentFacts};
use domain::jiangsu::dispatch::{
    Dispatch, DispatchCommand, DispatchFacts, DispatchTeamFact, DispatchVolunteerFact,
    IssueDispatch, ProfessionalRole,
};
use domain::jiangsu::medicine_box::{MedicineBox, MedicineBoxCommand};
use domain::jiangsu::need::{Need, NeedCommand, NeedFacts};
use domain::team::Team;
use domain::volunteer::{self, ReserveTier, Volunteer};

use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Prepared};
use crate::policy::{CommandKind, Subject};

impl Ledger {
    /// Issue or close an emergency dispatch.
    pub async fn dispatch(
        &self,
        ctx: &CommandContext,
        command: DispatchCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            DispatchCommand::Issue(_) => CommandKind::IssueDispatch,
            DispatchCommand::Close(_) => CommandKind::CloseDispatch,
        };
        let fingerprint = self.fingerprint(kind, &command);
        let result: Result<CommandOutcome, AppError> = async {
            let id = command.dispatch();
            let loaded = self.load::<Dispatch>(&id.to_string()).await?;
            let (region, facts, at) = match &command {
                DispatchCommand::Issue(c) => (c.region, self.dispatch_facts(c).await?, c.at),
                DispatchCommand::Close(c) => {
                    let issued = loaded.state.issued().ok_or_else(|| {
                        AppError::not_found("dispatch", format!("no dispatch {id}"))
                    })?;
                    (issued.region, DispatchFacts::default(), c.at)
                }
            };
            self.commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject: Subject { region, team: None },
                    command: &command,
                    facts: &facts,
                    fingerprint,
                    claims: vec![],
                    occurred_at: Some(at),
                },
            )
            .await
        }
        .await;
        self.or_replayed(ctx, fingerprint, result).await
    }

    /// B3/B4/B7 facts of the listed teams and volunteers on the dispatch date (absent: not registered).
    async fn dispatch_facts(&self, c: &IssueDispatch) -> Result<DispatchFacts, AppError> {
        let date = shanghai_date(c.at);
        let teams = self.load_states::<Team, _>(c.teams.iter().copied()).await?;
        let volunteers = self
            .load_states::<Volunteer, _>(c.reserve_volunteers.iter().map(|v| v.volunteer))
            .await?;
        let roles: BTreeMap<_, _> = c
            .reserve_volunteers
            .iter()
            .map(|v| (v.volunteer, v.role))
            .collect();
        Ok(DispatchFacts {
            teams: teams
                .into_iter()
                .filter(|(_, t)| t.is_registered())
                .map(|(id, t)| {
                    (
                        id,
                        DispatchTeamFact {
                            active: t.is_active_on(date),
                        },
                    )
                })
                .collect(),
            volunteers: volunteers
                .into_iter()
                .filter(|(_, v)| v.is_registered())
                .map(|(id, v)| {
                    (
                        id,
                        volunteer_fact(&v, roles.get(&id).copied().flatten(), date),
                    )
                })
                .collect(),
        })
    }

    /// Deploy a volunteer to a community grid, or end the deployment.
    pub async fn deployment(
        &self,
        ctx: &CommandContext,
        command: DeploymentCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            DeploymentCommand::Deploy(_) => CommandKind::DeployToGrid,
            DeploymentCommand::End(_) => CommandKind::EndDeployment,
        };
        let fingerprint = self.fingerprint(kind, &command);
        let result: Result<CommandOutcome, AppError> = async {
            let id = command.deployment();
            let loaded = self.load::<Deployment>(&id.to_string()).await?;
            let (region, facts, on) = match &command {
                DeploymentCommand::Deploy(c) => {
                    let v = self
                        .load::<Volunteer>(&c.volunteer.to_string())
                        .await?
                        .state;
                    (
                        c.region,
                        DeploymentFacts {
                            volunteer_exists: v.is_registered(),
                            volunteer_erased: v.is_erased(),
                        },
                        c.from,
                    )
                }
                DeploymentCommand::End(c) => {
                    let deployed = loaded.state.deployed().ok_or_else(|| {
                        AppError::not_found("deployment", format!("no deployment {id}"))
                    })?;
                    (deployed.region, DeploymentFacts::default(), c.on)
                }
            };
            self.commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject: Subject { region, team: None },
                    command: &command,
                    facts: &facts,
                    fingerprint,
                    claims: vec![],
                    occurred_at: shanghai_start_of_day(on),
                },
            )
            .await
        }
        .await;
        self.or_replayed(ctx, fingerprint, result).await
    }

    /// Register a shared medicine box, record a donation or a dispensing.
    pub async fn medicine_box(
        &self,
        ctx: &CommandContext,
        command: MedicineBoxCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            MedicineBoxCommand::Register(_) => CommandKind::RegisterMedicineBox,
            MedicineBoxCommand::Donation(_) => CommandKind::RecordDonation,
            MedicineBoxCommand::Dispensing(_) => CommandKind::RecordDispensing,
        };
        let fingerprint = self.fingerprint(kind, &command);
        let result: Result<CommandOutcome, AppError> = async {
            let id = command.medbox();
            let loaded = self.load::<MedicineBox>(&id.to_string()).await?;
            let registered_region =
                || {
                    loaded.state.registered().map(|r| r.region).ok_or_else(|| {
                        AppError::not_found("medbox", format!("no medicine box {id}"))
                    })
                };
            let (region, on) = match &command {
                MedicineBoxCommand::Register(c) => (c.region, None),
                MedicineBoxCommand::Donation(c) => (registered_region()?, Some(c.on)),
                MedicineBoxCommand::Dispensing(c) => (registered_region()?, Some(c.on)),
            };
            self.commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject: Subject { region, team: None },
                    command: &command,
                    facts: &(),
                    fingerprint,
                    claims: vec![],
                    occurred_at: on.and_then(shanghai_start_of_day),
                },
            )
            .await
        }
        .await;
        self.or_replayed(ctx, fingerprint, result).await
    }

    /// Post, verify, reject, take or fulfil a community need.
    pub async fn need(
        &self,
        ctx: &CommandContext,
        command: NeedCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            NeedCommand::Post(_) => CommandKind::PostNeed,
            NeedCommand::Verify(_) => CommandKind::VerifyNeed,
            NeedCommand::Reject(_) => CommandKind::RejectNeed,
            NeedCommand::Take(_) => CommandKind::TakeNeed,
            NeedCommand::Fulfil(_) => CommandKind::FulfilNeed,
        };
        let fingerprint = self.fingerprint(kind, &command);
        let result: Result<CommandOutcome, AppError> = async {
            let id = command.need();
            let loaded = self.load::<Need>(&id.to_string()).await?;
            let region = match &command {
                NeedCommand::Post(c) => c.region,
                _ => loaded.state.posted().map(|p| p.region).ok_or_else(|| {
                    AppError::not_found("need", format!("no need {id} was posted"))
                })?,
            };
            let (team, facts) = match &command {
                NeedCommand::Take(c) => {
                    let t = self.load::<Team>(&c.team.to_string()).await?.state;
                    let today = shanghai_date(self.now());
                    (
                        Some(c.team),
                        NeedFacts {
                            team_exists: t.is_registered(),
                            team_active: t.is_active_on(today),
                        },
                    )
                }
                NeedCommand::Fulfil(c) => (Some(c.team), NeedFacts::default()),
                NeedCommand::Post(_) | NeedCommand::Verify(_) | NeedCommand::Reject(_) => {
                    (None, NeedFacts::default())
                }
            };
            self.commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject: Subject { region, team },
                    command: &command,
                    facts: &facts,
                    fingerprint,
                    claims: vec![],
                    occurred_at: None,
                },
            )
            .await
        }
        .await;
        self.or_replayed(ctx, fingerprint, result).await
    }
}

/// B4/B7 facts of one volunteer on `date`; an erased volunteer is no reserve and holds no qualification.
fn volunteer_fact(
    v: &Volunteer,
    role: Option<ProfessionalRole>,
    date: NaiveDate,
) -> DispatchVolunteerFact {
    let live = !v.is_erased();
    let qualification = role.and_then(|r| v.qualification(volunteer_role(r)));
    DispatchVolunteerFact {
        first_echelon_reserve: live && v.reserve_tier() == ReserveTier::FirstEchelon,
        qualified_for_role: live && qualification.is_some_and(|q| q.valid_from <= date),
        driver_training_passed: live
            && v.qualification(volunteer::ProfessionalRole::Driver)
                .and_then(|q| q.passed_training_on)
                .is_some_and(|p| p <= date),
    }
}

/// The volunteer module's name for a dispatch's professional role (B7).
fn volunteer_role(role: ProfessionalRole) -> volunteer::ProfessionalRole {
    match role {
        ProfessionalRole::Doctor => volunteer::ProfessionalRole::Doctor,
        ProfessionalRole::Nurse => volunteer::ProfessionalRole::Nurse,
        ProfessionalRole::Pharmacist => volunteer::ProfessionalRole::Pharmacist,
        ProfessionalRole::Driver => volunteer::ProfessionalRole::Driver,
        ProfessionalRole::Dispatcher => volunteer::ProfessionalRole::Dispatcher,
    }
}

//! `TeamService`: register, amend, suspend, reinstate, dissolve teams (A9, B3, A21). Conversion only;
//! the leader and the on-call contact are passed in plaintext beside the command and sealed by the app
//! layer (the command's sealed fields stay empty).

use app::AppError;
use domain::ids::{HostUnitId, Sealed, TeamId};
use domain::team::{
    AmendTeam, DissolveTeam, RegisterTeam, ReinstateTeam, SuspendTeam, TeamCommand, TeamLevel,
    TeamProfile,
};
use personal_data::PersonalRecord;
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{
    date, dot, enumeration, message, opt_text, person, region, text, uuid, written,
};
use crate::pb;
use crate::pb::team_service_server::TeamService;

api!(TeamApi);

fn level(field: &str, v: i32) -> Result<TeamLevel, AppError> {
    Ok(match enumeration::<pb::TeamLevel>(field, v)? {
        pb::TeamLevel::Unspecified => return Err(AppError::invalid(field, "is required")),
        pb::TeamLevel::City => TeamLevel::City,
        pb::TeamLevel::County => TeamLevel::County,
    })
}

/// The profile with its sealed fields empty, and the two people in plaintext.
fn profile(
    field: &str,
    p: &Option<pb::TeamProfile>,
) -> Result<(TeamProfile, PersonalRecord, PersonalRecord), AppError> {
    let p = message(field, p)?;
    let profile = TeamProfile {
        name: text(&dot(field, "name"), &p.name)?,
        national_platform_id: opt_text(
            &dot(field, "national_platform_id"),
            p.national_platform_id.as_ref(),
        )?,
        leader: Sealed(String::new()),
        on_call_contact: Sealed(String::new()),
        party_member_team: p.party_member_team,
        student_team: p.student_team,
    };
    let leader = person(&dot(field, "leader"), &p.leader)?;
    let on_call = person(&dot(field, "on_call_contact"), &p.on_call_contact)?;
    Ok((profile, leader, on_call))
}

#[tonic::async_trait]
impl TeamService for TeamApi {
    async fn register_team(
        &self,
        request: Request<pb::RegisterTeamRequest>,
    ) -> Result<Response<pb::RegisterTeamResponse>, Status> {
        rpc!("TeamService/RegisterTeam", {
            let (ctx, r) = context::command(&self.state, request)?;
            let team = TeamId(uuid("team_id", &r.team_id)?);
            let (profile, leader, on_call) = profile("profile", &r.profile)?;
            let command = TeamCommand::Register(RegisterTeam {
                team,
                host_unit: HostUnitId(uuid("host_unit_id", &r.host_unit_id)?),
                region: region("region", &r.region)?,
                level: level("level", r.level)?,
                profile,
                registered_on: date("registered_on", &r.registered_on)?,
            });
            let out = self
                .state
                .ledger
                .team(&ctx, team, command, Some(&leader), Some(&on_call))
                .await?;
            Ok(pb::RegisterTeamResponse {
                result: written(out),
            })
        })
    }

    async fn amend_team(
        &self,
        request: Request<pb::AmendTeamRequest>,
    ) -> Result<Response<pb::AmendTeamResponse>, Status> {
        rpc!("TeamService/AmendTeam", {
            let (ctx, r) = context::command(&self.state, request)?;
            let team = TeamId(uuid("team_id", &r.team_id)?);
            let (profile, leader, on_call) = profile("profile", &r.profile)?;
            let command = TeamCommand::Amend(AmendTeam { profile });
            let out = self
                .state
                .ledger
                .team(&ctx, team, command, Some(&leader), Some(&on_call))
                .await?;
            Ok(pb::AmendTeamResponse {
                result: written(out),
            })
        })
    }

    async fn suspend_team(
        &self,
        request: Request<pb::SuspendTeamRequest>,
    ) -> Result<Response<pb::SuspendTeamResponse>, Status> {
        rpc!("TeamService/SuspendTeam", {
            let (ctx, r) = context::command(&self.state, request)?;
            let team = TeamId(uuid("team_id", &r.team_id)?);
            let command = TeamCommand::Suspend(SuspendTeam {
                from: date("from", &r.from)?,
                reason: text("reason", &r.reason)?,
            });
            let out = self
                .state
                .ledger
                .team(&ctx, team, command, None, None)
                .await?;
            Ok(pb::SuspendTeamResponse {
                result: written(out),
            })
        })
    }

    async fn reinstate_team(
        &self,
        request: Request<pb::ReinstateTeamRequest>,
    ) -> Result<Response<pb::ReinstateTeamResponse>, Status> {
        rpc!("TeamService/ReinstateTeam", {
            let (ctx, r) = context::command(&self.state, request)?;
            let team = TeamId(uuid("team_id", &r.team_id)?);
            let command = TeamCommand::Reinstate(ReinstateTeam {
                on: date("on", &r.on)?,
            });
            let out = self
                .state
                .ledger
                .team(&ctx, team, command, None, None)
                .await?;
            Ok(pb::ReinstateTeamResponse {
                result: written(out),
            })
        })
    }

    async fn dissolve_team(
        &self,
        request: Request<pb::DissolveTeamRequest>,
    ) -> Result<Response<pb::DissolveTeamResponse>, Status> {
        rpc!("TeamService/DissolveTeam", {
            let (ctx, r) = context::command(&self.state, request)?;
            let team = TeamId(uuid("team_id", &r.team_id)?);
            let command = TeamCommand::Dissolve(DissolveTeam {
                on: date("on", &r.on)?,
                reason: text("reason", &r.reason)?,
            });
            let out = self
                .state
                .ledger
                .team(&ctx, team, command, None, None)
                .await?;
            Ok(pb::DissolveTeamResponse {
                result: written(out),
            })
        })
    }
}

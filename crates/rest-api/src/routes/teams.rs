//! Teams: register, amend (leader and on-call contact are sealed by the service), suspend, reinstate,
//! dissolve.

use axum::extract::State;
use chrono::NaiveDate;
use domain::ids::{HostUnitId, Sealed, TeamId};
use domain::team::{
    AmendTeam, DissolveTeam, RegisterTeam, ReinstateTeam, SuspendTeam, TeamCommand, TeamProfile,
};
use personal_data::PersonalRecord;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{PersonInput, TeamLevelDto, WriteAccepted, opt_text, region, text, uuid_param};
use crate::error::ApiError;
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(register_team))
        .routes(routes!(amend_team))
        .routes(routes!(suspend_team))
        .routes(routes!(reinstate_team))
        .routes(routes!(dissolve_team))
}

/// A team's profile. The leader and the on-call contact are personal data: sealed, never returned.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TeamProfileInput {
    pub name: String,
    /// The team's id on 中国志愿服务网 (A9), once it has one.
    pub national_platform_id: Option<String>,
    pub leader: PersonInput,
    /// B3: the leader's 24-hour on-call contact.
    pub on_call_contact: PersonInput,
    /// B3: a party-member team.
    pub party_member_team: bool,
    /// A21: a student team mobilised by the Youth League.
    pub student_team: bool,
}

fn profile(r: TeamProfileInput) -> Result<(TeamProfile, PersonalRecord, PersonalRecord), ApiError> {
    Ok((
        TeamProfile {
            name: text("profile.name", &r.name)?,
            national_platform_id: opt_text(
                "profile.national_platform_id",
                r.national_platform_id.as_deref(),
            )?,
            leader: Sealed(String::new()),
            on_call_contact: Sealed(String::new()),
            party_member_team: r.party_member_team,
            student_team: r.student_team,
        },
        r.leader.into(),
        r.on_call_contact.into(),
    ))
}

/// Register a team.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterTeamRequest {
    pub team_id: Uuid,
    pub host_unit_id: Uuid,
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub region: String,
    pub level: TeamLevelDto,
    pub profile: TeamProfileInput,
    pub registered_on: NaiveDate,
}

/// Replace a team's profile.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AmendTeamRequest {
    pub profile: TeamProfileInput,
}

/// Suspend a team.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SuspendTeamRequest {
    /// First day the team is suspended.
    pub from: NaiveDate,
    pub reason: String,
}

/// Reinstate a suspended team.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReinstateTeamRequest {
    /// First day the team is active again.
    pub on: NaiveDate,
}

/// Dissolve a team.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DissolveTeamRequest {
    /// First day the team no longer exists.
    pub on: NaiveDate,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = RegisterTeamRequest,
    responses((status = 201, description = "Team registered", body = WriteAccepted)))]
async fn register_team(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<RegisterTeamRequest>,
) -> Created {
    let team = TeamId(r.team_id);
    let (profile, leader, on_call) = profile(r.profile)?;
    let command = TeamCommand::Register(RegisterTeam {
        team,
        host_unit: HostUnitId(r.host_unit_id),
        region: region("region", &r.region)?,
        level: r.level.into(),
        profile,
        registered_on: r.registered_on,
    });
    created(
        s.ledger
            .team(&ctx, team, command, Some(&leader), Some(&on_call))
            .await,
    )
}

fn team_param(id: &str) -> Result<TeamId, ApiError> {
    Ok(TeamId(uuid_param("team_id", id)?))
}

#[utoipa::path(post, path = "/api/v1/teams/{team_id}/amend", tag = "teams",
    params(("team_id" = Uuid, Path, description = "The team")),
    request_body = AmendTeamRequest,
    responses((status = 200, description = "Team amended", body = WriteAccepted)))]
async fn amend_team(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<AmendTeamRequest>,
) -> Done {
    let team = team_param(&id)?;
    let (profile, leader, on_call) = profile(r.profile)?;
    let command = TeamCommand::Amend(AmendTeam { profile });
    done(
        s.ledger
            .team(&ctx, team, command, Some(&leader), Some(&on_call))
            .await,
    )
}

#[utoipa::path(post, path = "/api/v1/teams/{team_id}/suspend", tag = "teams",
    params(("team_id" = Uuid, Path, description = "The team")),
    request_body = SuspendTeamRequest,
    responses((status = 200, description = "Team suspended", body = WriteAccepted)))]
async fn suspend_team(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<SuspendTeamRequest>,
) -> Done {
    let team = team_param(&id)?;
    let command = TeamCommand::Suspend(SuspendTeam {
        from: r.from,
        reason: text("reason", &r.reason)?,
    });
    done(s.ledger.team(&ctx, team, command, None, None).await)
}

#[utoipa::path(post, path = "/api/v1/teams/{team_id}/reinstate", tag = "teams",
    params(("team_id" = Uuid, Path, description = "The team")),
    request_body = ReinstateTeamRequest,
    responses((status = 200, description = "Team reinstated", body = WriteAccepted)))]
async fn reinstate_team(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<ReinstateTeamRequest>,
) -> Done {
    let team = team_param(&id)?;
    let command = TeamCommand::Reinstate(ReinstateTeam { on: r.on });
    done(s.ledger.team(&ctx, team, command, None, None).await)
}

#[utoipa::path(post, path = "/api/v1/teams/{team_id}/dissolve", tag = "teams",
    params(("team_id" = Uuid, Path, description = "The team")),
    request_body = DissolveTeamRequest,
    responses((status = 200, description = "Team dissolved", body = WriteAccepted)))]
async fn dissolve_team(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<DissolveTeamRequest>,
) -> Done {
    let team = team_param(&id)?;
    let command = TeamCommand::Dissolve(DissolveTeam {
        on: r.on,
        reason: text("reason", &r.reason)?,
    });
    done(s.ledger.team(&ctx, team, command, None, None).await)
}

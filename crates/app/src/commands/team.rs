//! Teams (A9, B3, A21): register, amend, suspend, reinstate, dissolve.
//!
//! Loads: the team's stream; for `Register` also the host unit it names ([`TeamFacts`]: kind and region).
//! The subject is the team's region with the team itself: from the command for `Register`, from the
//! stream otherwise (not found when unregistered).
//!
//! Personal data: `Register` and `Amend` carry the leader and the 24-hour on-call contact (B3). The caller
//! leaves the command's sealed fields (`profile.leader`, `profile.on_call_contact`) empty and passes the
//! people in plaintext beside the command; they are sealed with the team's data key (subject `team-<id>`,
//! purposes [`LEADER_PURPOSE`], [`ON_CALL_PURPOSE`]) only after the actor is authorised. The fingerprint is
//! computed over the plaintext (only ever HMACed, never logged). If a registration fails after the team's
//! key was created, the unused key is forgotten again.
//!
//! A21: the Youth League registers student teams only; anything else is refused before anything is sealed.

use std::collections::{BTreeMap, BTreeSet};

use domain::campaign::shanghai_start_of_day;
use domain::host_unit::HostUnit;
use domain::ids::{RegionCode, Sealed, TeamId};
use domain::team::{
    AmendTeam, HostUnitFacts, RegisterTeam, Team, TeamCommand, TeamFacts, TeamProfile,
};
use domain::{Aggregate, DomainError, rules};
use personal_data::PersonalRecord;

use crate::actor::Role;
use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Loaded, Prepared};
use crate::policy::{CommandKind, Subject, authorize};

/// Seal purpose of the team leader.
pub const LEADER_PURPOSE: &str = "team.leader";
/// Seal purpose of the leader's 24-hour on-call contact (B3).
pub const ON_CALL_PURPOSE: &str = "team.on_call";
const MAX_NAME_CHARS: usize = 50;
const MAX_ID_NUMBER_CHARS: usize = 32;

impl Ledger {
    /// Register, amend, suspend, reinstate or dissolve team `team`.
    ///
    /// `Register` and `Amend` need `leader` and `on_call_contact` in plaintext (the command's sealed
    /// fields left empty); every other command takes `None` for both.
    pub async fn team(
        &self,
        ctx: &CommandContext,
        team: TeamId,
        command: TeamCommand,
        leader: Option<&PersonalRecord>,
        on_call_contact: Option<&PersonalRecord>,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            TeamCommand::Register(_) => CommandKind::RegisterTeam,
            TeamCommand::Amend(_) => CommandKind::AmendTeam,
            TeamCommand::Suspend(_) => CommandKind::SuspendTeam,
            TeamCommand::Reinstate(_) => CommandKind::ReinstateTeam,
            TeamCommand::Dissolve(_) => CommandKind::DissolveTeam,
        };
        let people = people(&command, leader, on_call_contact)?;
        let fingerprint = match people {
            Some((l, o)) => self.fingerprint(
                kind,
                &format!("{team}|{command:?}|{}|{}", plaintext(l), plaintext(o)),
            ),
            None => self.fingerprint(kind, &(team, &command)),
        };
        if let Some(done) = self.replayed(ctx, fingerprint).await? {
            return Ok(done);
        }
        let loaded = self.load::<Team>(&team.to_string()).await?;
        let (region, occurred_at) = match &command {
            TeamCommand::Register(c) => {
                if c.team != team {
                    return Err(AppError::invalid(
                        "team",
                        format!(
                            "the command registers {} but is addressed to {team}",
                            c.team
                        ),
                    ));
                }
                if loaded.state.is_registered() {
                    return Err(DomainError::already_exists(
                        "team",
                        format!("team {team} is registered already"),
                    )
                    .into());
                }
                (c.region, shanghai_start_of_day(c.registered_on))
            }
            TeamCommand::Amend(_) => (team_region(&loaded, team)?, None),
            TeamCommand::Suspend(c) => (team_region(&loaded, team)?, shanghai_start_of_day(c.from)),
            TeamCommand::Reinstate(c) => (team_region(&loaded, team)?, shanghai_start_of_day(c.on)),
            TeamCommand::Dissolve(c) => (team_region(&loaded, team)?, shanghai_start_of_day(c.on)),
        };
        let subject = Subject {
            region,
            team: Some(team),
        };
        if people.is_some() {
            // Before the vault is touched (the pipeline authorises again; that is cheap).
            authorize(&ctx.actor, kind, &subject)?;
        }
        let mut facts = TeamFacts::default();
        if let TeamCommand::Register(c) = &command {
            if ctx.actor.role == Role::YouthLeague && !c.profile.student_team {
                return Err(AppError {
                    rule: Some(rules::A21.0.to_owned()),
                    field: Some("profile.student_team".into()),
                    ..AppError::forbidden("the Youth League registers student teams only")
                });
            }
            facts.host_unit =
                HostUnitFacts::of(&self.load::<HostUnit>(&c.host_unit.to_string()).await?.state);
        }
        let (stream_id, version) = (loaded.stream_id.clone(), loaded.version);
        let command = match people {
            Some((l, o)) => {
                self.seal_people(&stream_id, command, loaded.state.profile(), l, o)
                    .await?
            }
            None => command,
        };
        let result = self
            .commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject,
                    command: &command,
                    facts: &facts,
                    fingerprint,
                    claims: vec![],
                    occurred_at,
                },
            )
            .await;
        if result.is_err() && kind == CommandKind::RegisterTeam {
            self.forget_unused_key(&stream_id, version).await;
        }
        result
    }

    /// Seal the leader and the on-call contact into the command's profile with the team's key (created
    /// on first use). A person equal to the one `current` holds keeps its sealed value, so an amendment
    /// that changes nothing stays a no-op (sealing is randomised).
    async fn seal_people(
        &self,
        stream_id: &str,
        mut command: TeamCommand,
        current: Option<&TeamProfile>,
        leader: &PersonalRecord,
        on_call_contact: &PersonalRecord,
    ) -> Result<TeamCommand, AppError> {
        if let TeamCommand::Register(RegisterTeam { profile, .. })
        | TeamCommand::Amend(AmendTeam { profile }) = &mut command
        {
            profile.leader = self
                .seal_or_keep(
                    stream_id,
                    LEADER_PURPOSE,
                    leader,
                    current.map(|p| &p.leader),
                )
                .await?;
            profile.on_call_contact = self
                .seal_or_keep(
                    stream_id,
                    ON_CALL_PURPOSE,
                    on_call_contact,
                    current.map(|p| &p.on_call_contact),
                )
                .await?;
        }
        Ok(command)
    }

    async fn seal_or_keep(
        &self,
        stream_id: &str,
        purpose: &str,
        record: &PersonalRecord,
        current: Option<&Sealed>,
    ) -> Result<Sealed, AppError> {
        if let Some(sealed) = current
            && self
                .open_personal(stream_id, purpose, sealed)
                .await?
                .as_ref()
                == Some(record)
        {
            return Ok(sealed.clone());
        }
        self.seal_personal(stream_id, purpose, record).await
    }
}

/// The people a team command carries: both for `Register` / `Amend` (whose sealed fields must be empty),
/// none otherwise. Checks their shape.
fn people<'a>(
    command: &TeamCommand,
    leader: Option<&'a PersonalRecord>,
    on_call_contact: Option<&'a PersonalRecord>,
) -> Result<Option<(&'a PersonalRecord, &'a PersonalRecord)>, AppError> {
    let profile = match command {
        TeamCommand::Register(c) => Some(&c.profile),
        TeamCommand::Amend(c) => Some(&c.profile),
        TeamCommand::Suspend(_) | TeamCommand::Reinstate(_) | TeamCommand::Dissolve(_) => None,
    };
    match (profile, leader, on_call_contact) {
        (Some(p), Some(l), Some(o)) => {
            if !p.leader.0.is_empty() || !p.on_call_contact.0.is_empty() {
                return Err(AppError::invalid(
                    "profile.leader",
                    "leave the sealed fields empty: the service seals the plaintext given beside the command",
                ));
            }
            validate_person("profile.leader", l, false)?;
            validate_person("profile.on_call_contact", o, true)?;
            Ok(Some((l, o)))
        }
        (Some(_), None, _) => Err(AppError::invalid(
            "profile.leader",
            "the team leader is required",
        )),
        (Some(_), _, None) => Err(AppError {
            rule: Some(rules::B3.0.to_owned()),
            ..AppError::invalid(
                "profile.on_call_contact",
                "a team leader is on call 24 hours: the contact is required",
            )
        }),
        (None, None, None) => Ok(None),
        (None, _, _) => Err(AppError::invalid(
            "profile.leader",
            "only registering or amending a team carries people",
        )),
    }
}

impl Ledger {
    /// The states of the aggregates `ids` names (duplicates allowed), keyed by id, in one round trip.
    /// An id whose stream is empty maps to the default (unregistered) state.
    pub(crate) async fn load_states<A: Aggregate, Id: Ord + Copy + std::fmt::Display>(
        &self,
        ids: impl IntoIterator<Item = Id>,
    ) -> Result<BTreeMap<Id, A>, AppError> {
        let unique: BTreeSet<Id> = ids.into_iter().collect();
        if unique.is_empty() {
            return Ok(BTreeMap::new());
        }
        let keys: Vec<String> = unique.iter().map(ToString::to_string).collect();
        let loaded = self.load_many::<A>(&keys).await?;
        Ok(unique
            .into_iter()
            .zip(loaded)
            .map(|(id, l)| (id, l.state))
            .collect())
    }
}

/// The region of a registered team; not found (naming `team`) otherwise.
pub(crate) fn team_region(loaded: &Loaded<Team>, id: TeamId) -> Result<RegionCode, AppError> {
    loaded
        .state
        .region()
        .ok_or_else(|| AppError::not_found("team", format!("team {id} is not registered")))
}

/// Every field of a person, for a fingerprint only (never log or return this).
pub(crate) fn plaintext(r: &PersonalRecord) -> String {
    format!("{:?}/{:?}/{:?}", r.name, r.id_number, r.phone)
}

/// Shape checks on a person given in plaintext (`field` names it); the messages never echo the values.
pub(crate) fn validate_person(
    field: &str,
    r: &PersonalRecord,
    phone_required: bool,
) -> Result<(), AppError> {
    let name = r.name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AppError::invalid(
            format!("{field}.name"),
            format!("must be 1 to {MAX_NAME_CHARS} characters without control characters"),
        ));
    }
    if let Some(n) = &r.id_number
        && (n.is_empty()
            || n.chars().count() > MAX_ID_NUMBER_CHARS
            || !n.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(AppError::invalid(
            format!("{field}.id_number"),
            format!("must be 1 to {MAX_ID_NUMBER_CHARS} letters or digits"),
        ));
    }
    match &r.phone {
        None if phone_required => Err(AppError {
            rule: Some(rules::B3.0.to_owned()),
            ..AppError::invalid(
                format!("{field}.phone"),
                "a team leader is on call 24 hours: give a phone number",
            )
        }),
        None => Ok(()),
        Some(p) => {
            let digits = p.strip_prefix('+').unwrap_or(p);
            if (5..=20).contains(&digits.len())
                && digits.chars().all(|c| c.is_ascii_digit() || c == '-')
            {
                Ok(())
            } else {
                Err(AppError::invalid(
                    format!("{field}.phone"),
                    "must be 5 to 20 digits (a leading + and '-' allowed)",
                ))
            }
        }
    }
}

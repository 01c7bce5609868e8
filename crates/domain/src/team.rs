//! # Team (志愿服务组织 / 团队 / 分队) — rules A1 (what counts), A9, B3
//!
//! Policy of this module:
//! - Stream category `"team"`, instance id = [`TeamId`].
//! - **Registration.** A team has a name, a host unit (依托单位), a region, a level (city or county), the
//!   national platform's team id when it has one (A9, 中国志愿服务网), its leader and the leader's 24-hour
//!   on-call contact (B3) — both [`Sealed`] personal data — and two flags: party-member team (B3) and
//!   student team (Youth League, A21). The host unit must exist ([`TeamFacts`]); the team's region must lie
//!   within the host unit's city (A1 counts teams by region). A city-level team has a city code (`xxxx00`),
//!   a county-level team a county code.
//! - **Amendment** replaces the amendable fields (name, platform id, leader, on-call contact, flags); host
//!   unit, region and level never change. An amendment that changes nothing produces no event.
//! - **Active.** A team is *active* on a date when it is registered on or before it and is neither
//!   suspended nor dissolved on it ([`Team::is_active_on`]). Dates follow one convention: a command's date is
//!   the first day the new state holds — suspended from `from`, active again from the reinstatement's `on`,
//!   not active from the dissolution's `on`. Commands cannot be back-dated before the latest date already
//!   recorded, so periods never overlap.
//! - **Dissolution is final**: afterwards every command is rejected.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::domain_events;
use crate::error::DomainError;
use crate::host_unit::{HostUnit, HostUnitKind};
use crate::ids::{HostUnitId, RegionCode, Sealed, TeamId, Text};
use crate::rules;

/// Longest team name, in characters.
pub const NAME_MAX_CHARS: usize = 200;
/// Longest national platform team id, in characters (A9).
pub const PLATFORM_ID_MAX_CHARS: usize = 64;
/// Longest suspension / dissolution reason, in characters.
pub const REASON_MAX_CHARS: usize = 2_000;

/// Level of a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamLevel {
    City,
    County,
}

// ---------------------------------------------------------------------------------------------------------
// Commands and facts
// ---------------------------------------------------------------------------------------------------------

/// The amendable part of a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamProfile {
    pub name: Text,
    /// The team's id on 中国志愿服务网 (A9), once it has one.
    pub national_platform_id: Option<Text>,
    /// The team leader (name, phone, …), sealed.
    pub leader: Sealed,
    /// B3: the leader's 24-hour on-call contact, sealed.
    pub on_call_contact: Sealed,
    /// B3: a party-member team (党员志愿服务队).
    pub party_member_team: bool,
    /// A21: a student team mobilised by the Youth League.
    pub student_team: bool,
}

impl TeamProfile {
    fn validate(&self) -> Result<(), DomainError> {
        self.name.check_max("name", NAME_MAX_CHARS)?;
        if let Some(id) = &self.national_platform_id {
            id.check_max("national_platform_id", PLATFORM_ID_MAX_CHARS)
                .map_err(|e| DomainError::invalid_by(rules::A9, e.field, e.reason))?;
        }
        if self.leader.0.is_empty() {
            return Err(DomainError::invalid("leader", "must not be empty"));
        }
        if self.on_call_contact.0.is_empty() {
            return Err(DomainError::invalid_by(
                rules::B3,
                "on_call_contact",
                "a team leader is on call 24 hours; the contact must not be empty",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterTeam {
    pub team: TeamId,
    pub host_unit: HostUnitId,
    pub region: RegionCode,
    pub level: TeamLevel,
    pub profile: TeamProfile,
    pub registered_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmendTeam {
    pub profile: TeamProfile,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuspendTeam {
    /// First day the team is suspended.
    pub from: NaiveDate,
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReinstateTeam {
    /// First day the team is active again.
    pub on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DissolveTeam {
    /// First day the team no longer exists.
    pub on: NaiveDate,
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamCommand {
    Register(RegisterTeam),
    Amend(AmendTeam),
    Suspend(SuspendTeam),
    Reinstate(ReinstateTeam),
    Dissolve(DissolveTeam),
}

/// What the host unit of a team is, as loaded by the application layer from the `hostunit` stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostUnitFacts {
    pub kind: HostUnitKind,
    pub region: RegionCode,
}

impl HostUnitFacts {
    /// From a replayed host unit; `None` when it is not registered.
    pub fn of(host_unit: &HostUnit) -> Option<Self> {
        Some(Self {
            kind: host_unit.kind()?,
            region: host_unit.region()?,
        })
    }
}

/// Facts for [`TeamCommand::Register`]: the host unit named by the command (`None` = not registered).
/// Other commands need none (pass `TeamFacts::default()`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TeamFacts {
    pub host_unit: Option<HostUnitFacts>,
}

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRegistered {
    pub team_id: TeamId,
    pub host_unit_id: HostUnitId,
    /// The host unit's kind at registration (A3/A4 read models group by it).
    pub host_unit_kind: HostUnitKind,
    pub region: RegionCode,
    pub level: TeamLevel,
    pub profile: TeamProfile,
    pub registered_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamAmended {
    pub profile: TeamProfile,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamSuspended {
    pub from: NaiveDate,
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamReinstated {
    pub on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDissolved {
    pub on: NaiveDate,
    pub reason: Text,
}

domain_events! {
    /// Events of a team.
    pub enum TeamEvent {
        Registered(TeamRegistered) = ("TeamRegistered", 1),
        Amended(TeamAmended) = ("TeamAmended", 1),
        Suspended(TeamSuspended) = ("TeamSuspended", 1),
        Reinstated(TeamReinstated) = ("TeamReinstated", 1),
        Dissolved(TeamDissolved) = ("TeamDissolved", 1),
    }
}

// ---------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------

/// A suspension: from `from` (inclusive) until `until` (exclusive; `None` while it lasts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suspension {
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

impl Suspension {
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.from <= date && self.until.is_none_or(|u| date < u)
    }
}

/// The team aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Team {
    id: Option<TeamId>,
    host_unit: Option<HostUnitId>,
    host_unit_kind: Option<HostUnitKind>,
    region: Option<RegionCode>,
    level: Option<TeamLevel>,
    profile: Option<TeamProfile>,
    registered_on: Option<NaiveDate>,
    suspensions: Vec<Suspension>,
    dissolved_on: Option<NaiveDate>,
    /// The latest date any event recorded; later commands cannot go before it.
    latest_date: Option<NaiveDate>,
}

impl Team {
    pub fn id(&self) -> Option<TeamId> {
        self.id
    }
    pub fn is_registered(&self) -> bool {
        self.id.is_some()
    }
    pub fn host_unit(&self) -> Option<HostUnitId> {
        self.host_unit
    }
    pub fn host_unit_kind(&self) -> Option<HostUnitKind> {
        self.host_unit_kind
    }
    pub fn region(&self) -> Option<RegionCode> {
        self.region
    }
    pub fn level(&self) -> Option<TeamLevel> {
        self.level
    }
    pub fn profile(&self) -> Option<&TeamProfile> {
        self.profile.as_ref()
    }
    pub fn registered_on(&self) -> Option<NaiveDate> {
        self.registered_on
    }
    pub fn suspensions(&self) -> &[Suspension] {
        &self.suspensions
    }
    pub fn dissolved_on(&self) -> Option<NaiveDate> {
        self.dissolved_on
    }
    pub fn is_dissolved(&self) -> bool {
        self.dissolved_on.is_some()
    }
    /// Suspended with no reinstatement yet.
    pub fn is_suspended(&self) -> bool {
        self.suspensions.last().is_some_and(|s| s.until.is_none())
    }

    /// Registered on or before `date`, and neither suspended nor dissolved on it.
    pub fn is_active_on(&self, date: NaiveDate) -> bool {
        self.registered_on.is_some_and(|r| r <= date)
            && !self.suspensions.iter().any(|s| s.covers(date))
            && self.dissolved_on.is_none_or(|d| date < d)
    }

    fn require_open(&self) -> Result<(), DomainError> {
        if self.id.is_none() {
            return Err(DomainError::not_found("team", "the team is not registered"));
        }
        if let Some(on) = self.dissolved_on {
            return Err(DomainError::lifecycle(
                "team",
                format!("the team was dissolved on {on}; dissolution is final"),
            ));
        }
        Ok(())
    }

    fn not_before_latest(&self, field: &str, date: NaiveDate) -> Result<(), DomainError> {
        match self.latest_date {
            Some(latest) if date < latest => Err(DomainError::invalid(
                field,
                format!("{date} is before {latest}, the latest date already recorded for the team"),
            )),
            _ => Ok(()),
        }
    }

    fn bump(&mut self, date: NaiveDate) {
        self.latest_date = Some(self.latest_date.map_or(date, |l| l.max(date)));
    }
}

fn level_fits(level: TeamLevel, code: &RegionCode) -> bool {
    let s = code.as_str();
    match level {
        TeamLevel::City => s.ends_with("00") && !s.ends_with("0000"),
        TeamLevel::County => !s.ends_with("00"),
    }
}

impl Aggregate for Team {
    const CATEGORY: &'static str = "team";
    type Command = TeamCommand;
    type Event = TeamEvent;
    type Facts = TeamFacts;

    fn decide(
        &self,
        command: &TeamCommand,
        facts: &TeamFacts,
        _ctx: &Decision,
    ) -> Result<Vec<TeamEvent>, DomainError> {
        match command {
            TeamCommand::Register(c) => {
                if self.id.is_some() {
                    return Err(DomainError::already_exists(
                        "team",
                        "the team is registered already",
                    ));
                }
                c.profile.validate().map_err(|e| e.within("profile"))?;
                if !level_fits(c.level, &c.region) {
                    return Err(DomainError::invalid_by(
                        rules::GBT2260,
                        "region",
                        format!(
                            "{} is not a {} code",
                            c.region,
                            match c.level {
                                TeamLevel::City => "city-level (xxxx00)",
                                TeamLevel::County => "county-level",
                            }
                        ),
                    ));
                }
                let Some(host) = facts.host_unit else {
                    return Err(DomainError::not_found(
                        "host_unit",
                        format!("host unit {} is not registered", c.host_unit),
                    ));
                };
                if c.region.city() != host.region.city() {
                    return Err(DomainError::rule(
                        rules::A1,
                        "region",
                        format!(
                            "{} is not within the host unit's city {}",
                            c.region,
                            host.region.city()
                        ),
                    ));
                }
                Ok(vec![TeamEvent::Registered(TeamRegistered {
                    team_id: c.team,
                    host_unit_id: c.host_unit,
                    host_unit_kind: host.kind,
                    region: c.region,
                    level: c.level,
                    profile: c.profile.clone(),
                    registered_on: c.registered_on,
                })])
            }
            TeamCommand::Amend(c) => {
                self.require_open()?;
                c.profile.validate().map_err(|e| e.within("profile"))?;
                if self.profile.as_ref() == Some(&c.profile) {
                    return Ok(vec![]);
                }
                Ok(vec![TeamEvent::Amended(TeamAmended {
                    profile: c.profile.clone(),
                })])
            }
            TeamCommand::Suspend(c) => {
                self.require_open()?;
                if self.is_suspended() {
                    return Err(DomainError::lifecycle(
                        "team",
                        "the team is suspended already",
                    ));
                }
                c.reason.check_max("reason", REASON_MAX_CHARS)?;
                self.not_before_latest("from", c.from)?;
                Ok(vec![TeamEvent::Suspended(TeamSuspended {
                    from: c.from,
                    reason: c.reason.clone(),
                })])
            }
            TeamCommand::Reinstate(c) => {
                self.require_open()?;
                let Some(s) = self.suspensions.last().filter(|s| s.until.is_none()) else {
                    return Err(DomainError::lifecycle("team", "the team is not suspended"));
                };
                if c.on <= s.from {
                    return Err(DomainError::invalid(
                        "on",
                        format!("must be after the suspension's start {}", s.from),
                    ));
                }
                Ok(vec![TeamEvent::Reinstated(TeamReinstated { on: c.on })])
            }
            TeamCommand::Dissolve(c) => {
                self.require_open()?;
                c.reason.check_max("reason", REASON_MAX_CHARS)?;
                self.not_before_latest("on", c.on)?;
                Ok(vec![TeamEvent::Dissolved(TeamDissolved {
                    on: c.on,
                    reason: c.reason.clone(),
                })])
            }
        }
    }

    fn evolve(&mut self, event: &TeamEvent) {
        match event {
            TeamEvent::Registered(e) => {
                self.id = Some(e.team_id);
                self.host_unit = Some(e.host_unit_id);
                self.host_unit_kind = Some(e.host_unit_kind);
                self.region = Some(e.region);
                self.level = Some(e.level);
                self.profile = Some(e.profile.clone());
                self.registered_on = Some(e.registered_on);
                self.bump(e.registered_on);
            }
            TeamEvent::Amended(e) => self.profile = Some(e.profile.clone()),
            TeamEvent::Suspended(e) => {
                self.suspensions.push(Suspension {
                    from: e.from,
                    until: None,
                });
                self.bump(e.from);
            }
            TeamEvent::Reinstated(e) => {
                if let Some(s) = self.suspensions.last_mut() {
                    s.until = Some(e.on);
                }
                self.bump(e.on);
            }
            TeamEvent::Dissolved(e) => {
                self.dissolved_on = Some(e.on);
                self.bump(e.on);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::DomainEvent;
    use crate::host_unit::PilotLevel;
    use crate::{ErrorKind, RuleId};
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn ctx() -> Decision {
        Decision {
            received_at: chrono::DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
                .unwrap()
                .to_utc(),
        }
    }
    fn text(s: &str) -> Text {
        Text::parse("t", s, 10_000).unwrap()
    }
    fn region(s: &str) -> RegionCode {
        RegionCode::parse("r", s).unwrap()
    }
    pub(crate) fn team_id(n: u128) -> TeamId {
        TeamId(uuid::Uuid::from_u128(n))
    }
    fn hu(n: u128) -> HostUnitId {
        HostUnitId(uuid::Uuid::from_u128(n))
    }
    fn profile(name: &str) -> TeamProfile {
        TeamProfile {
            name: text(name),
            national_platform_id: Some(text("ZJ-330602-0001")),
            leader: Sealed("sealed:leader".into()),
            on_call_contact: Sealed("sealed:phone".into()),
            party_member_team: true,
            student_team: false,
        }
    }
    fn register_cmd(code: &str, level: TeamLevel, on: &str) -> TeamCommand {
        TeamCommand::Register(RegisterTeam {
            team: team_id(1),
            host_unit: hu(7),
            region: region(code),
            level,
            profile: profile("越城区结核病防治志愿服务队"),
            registered_on: d(on),
        })
    }
    fn host(code: &str) -> TeamFacts {
        TeamFacts {
            host_unit: Some(HostUnitFacts {
                kind: HostUnitKind::Cdc,
                region: region(code),
            }),
        }
    }
    fn run(s: &mut Team, c: TeamCommand, f: &TeamFacts) -> Vec<TeamEvent> {
        let events = s.decide(&c, f, &ctx()).unwrap();
        for e in &events {
            s.evolve(e);
        }
        events
    }
    fn rejected(s: &Team, c: TeamCommand) -> DomainError {
        s.decide(&c, &TeamFacts::default(), &ctx()).unwrap_err()
    }
    fn suspend(from: &str) -> TeamCommand {
        TeamCommand::Suspend(SuspendTeam {
            from: d(from),
            reason: text("整改"),
        })
    }
    fn reinstate(on: &str) -> TeamCommand {
        TeamCommand::Reinstate(ReinstateTeam { on: d(on) })
    }
    fn dissolve(on: &str) -> TeamCommand {
        TeamCommand::Dissolve(DissolveTeam {
            on: d(on),
            reason: text("合并"),
        })
    }

    /// A county team of 越城区 registered on 2024-01-10 (for other modules' tests).
    pub(crate) fn registered_team(n: u128, on: &str) -> Team {
        Team::replay(&[TeamEvent::Registered(TeamRegistered {
            team_id: team_id(n),
            host_unit_id: hu(7),
            host_unit_kind: HostUnitKind::Cdc,
            region: region("330602"),
            level: TeamLevel::County,
            profile: profile("队"),
            registered_on: d(on),
        })])
    }

    /// A team registered on `on` and dissolved on `dissolved`.
    pub(crate) fn dissolved_team(n: u128, on: &str, dissolved: &str) -> Team {
        let mut t = registered_team(n, on);
        t.evolve(&TeamEvent::Dissolved(TeamDissolved {
            on: d(dissolved),
            reason: text("合并"),
        }));
        t
    }

    fn team() -> Team {
        let mut s = Team::default();
        run(
            &mut s,
            register_cmd("330602", TeamLevel::County, "2024-01-10"),
            &host("330602"),
        );
        s
    }

    #[test]
    fn registering_a_county_team_records_host_region_and_profile() {
        let s = team();
        assert_eq!(s.id(), Some(team_id(1)));
        assert_eq!(s.host_unit(), Some(hu(7)));
        assert_eq!(s.host_unit_kind(), Some(HostUnitKind::Cdc));
        assert_eq!(s.region(), Some(region("330602")));
        assert_eq!(s.level(), Some(TeamLevel::County));
        assert!(s.profile().unwrap().party_member_team);
    }

    #[test]
    fn a1_a_city_level_team_of_a_county_host_unit_in_the_same_city_is_accepted() {
        let mut s = Team::default();
        run(
            &mut s,
            register_cmd("330600", TeamLevel::City, "2024-01-10"),
            &host("330602"),
        );
        assert_eq!(s.level(), Some(TeamLevel::City));
    }

    #[test]
    fn a1_team_region_outside_the_host_units_city_is_rejected() {
        let e = Team::default()
            .decide(
                &register_cmd("330602", TeamLevel::County, "2024-01-10"),
                &host("330102"),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!((e.rule, e.field.as_str()), (rules::A1, "region"));
    }

    #[test]
    fn registering_with_an_unknown_host_unit_is_rejected_as_not_found() {
        let e = Team::default()
            .decide(
                &register_cmd("330602", TeamLevel::County, "2024-01-10"),
                &TeamFacts::default(),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_str()),
            (ErrorKind::NotFound, "host_unit")
        );
    }

    #[test]
    fn gbt2260_team_level_must_fit_the_region_code() {
        for (code, level) in [
            ("330602", TeamLevel::City),
            ("330600", TeamLevel::County),
            ("330000", TeamLevel::City),
        ] {
            let e = Team::default()
                .decide(
                    &register_cmd(code, level, "2024-01-10"),
                    &host("330602"),
                    &ctx(),
                )
                .unwrap_err();
            assert_eq!(
                (e.rule, e.field.as_str()),
                (rules::GBT2260, "region"),
                "{code}"
            );
        }
    }

    #[test]
    fn b3_an_empty_on_call_contact_is_rejected() {
        let mut c = register_cmd("330602", TeamLevel::County, "2024-01-10");
        if let TeamCommand::Register(r) = &mut c {
            r.profile.on_call_contact = Sealed(String::new());
        }
        let e = Team::default()
            .decide(&c, &host("330602"), &ctx())
            .unwrap_err();
        assert_eq!(
            (e.rule, e.field.as_str()),
            (rules::B3, "profile.on_call_contact")
        );
    }

    #[test]
    fn a9_an_overlong_platform_id_is_rejected() {
        let mut c = register_cmd("330602", TeamLevel::County, "2024-01-10");
        if let TeamCommand::Register(r) = &mut c {
            r.profile.national_platform_id = Some(text(&"1".repeat(PLATFORM_ID_MAX_CHARS + 1)));
        }
        let e = Team::default()
            .decide(&c, &host("330602"), &ctx())
            .unwrap_err();
        assert_eq!(
            (e.rule, e.field.as_str()),
            (rules::A9, "profile.national_platform_id")
        );
    }

    #[test]
    fn registering_twice_is_rejected_as_already_existing() {
        let e = team()
            .decide(
                &register_cmd("330602", TeamLevel::County, "2024-01-10"),
                &host("330602"),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn amending_replaces_the_profile_and_a_no_op_amendment_emits_nothing() {
        let mut s = team();
        let mut p = profile("越城区志愿服务总队");
        p.national_platform_id = None;
        let events = run(
            &mut s,
            TeamCommand::Amend(AmendTeam { profile: p.clone() }),
            &TeamFacts::default(),
        );
        assert_eq!(events.len(), 1);
        assert_eq!(s.profile(), Some(&p));
        let again = s
            .decide(
                &TeamCommand::Amend(AmendTeam { profile: p }),
                &TeamFacts::default(),
                &ctx(),
            )
            .unwrap();
        assert!(again.is_empty());
    }

    #[test]
    fn amending_an_unregistered_team_is_rejected_as_not_found() {
        let e = rejected(
            &Team::default(),
            TeamCommand::Amend(AmendTeam {
                profile: profile("x"),
            }),
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    #[test]
    fn active_team_is_registered_and_not_suspended_or_dissolved_on_the_date() {
        let mut s = team();
        assert!(!s.is_active_on(d("2024-01-09")));
        assert!(s.is_active_on(d("2024-01-10")));
        run(&mut s, suspend("2024-03-01"), &TeamFacts::default());
        assert!(s.is_suspended());
        assert!(s.is_active_on(d("2024-02-29")));
        assert!(!s.is_active_on(d("2024-03-01")));
        assert!(!s.is_active_on(d("2030-01-01")));
        run(&mut s, reinstate("2024-04-01"), &TeamFacts::default());
        assert!(!s.is_active_on(d("2024-03-31")));
        assert!(s.is_active_on(d("2024-04-01")));
        run(&mut s, dissolve("2024-12-01"), &TeamFacts::default());
        assert!(s.is_active_on(d("2024-11-30")));
        assert!(!s.is_active_on(d("2024-12-01")));
        assert!(s.is_dissolved());
    }

    #[test]
    fn suspending_twice_or_reinstating_an_unsuspended_team_is_rejected() {
        let mut s = team();
        assert_eq!(
            rejected(&s, reinstate("2024-02-01")).rule,
            RuleId::LIFECYCLE
        );
        run(&mut s, suspend("2024-03-01"), &TeamFacts::default());
        assert_eq!(rejected(&s, suspend("2024-03-05")).rule, RuleId::LIFECYCLE);
        assert_eq!(rejected(&s, reinstate("2024-03-01")).field, "on");
    }

    #[test]
    fn commands_cannot_be_back_dated_before_the_latest_recorded_date() {
        let mut s = team();
        assert_eq!(rejected(&s, suspend("2024-01-09")).field, "from");
        assert_eq!(rejected(&s, dissolve("2024-01-09")).field, "on");
        run(&mut s, suspend("2024-03-01"), &TeamFacts::default());
        run(&mut s, reinstate("2024-04-01"), &TeamFacts::default());
        assert_eq!(rejected(&s, suspend("2024-03-15")).field, "from");
        assert_eq!(rejected(&s, dissolve("2024-03-31")).field, "on");
    }

    #[test]
    fn dissolution_is_final() {
        let mut s = team();
        run(&mut s, dissolve("2024-06-01"), &TeamFacts::default());
        for c in [
            TeamCommand::Amend(AmendTeam {
                profile: profile("x"),
            }),
            suspend("2024-07-01"),
            reinstate("2024-07-01"),
            dissolve("2024-07-01"),
        ] {
            assert_eq!(rejected(&s, c).rule, RuleId::LIFECYCLE);
        }
    }

    #[test]
    fn a_suspended_team_may_be_dissolved() {
        let mut s = team();
        run(&mut s, suspend("2024-03-01"), &TeamFacts::default());
        run(&mut s, dissolve("2024-03-01"), &TeamFacts::default());
        assert!(s.is_dissolved());
    }

    fn golden(e: &TeamEvent, ty: &str, json: &str) {
        assert_eq!(e.event_type(), ty);
        assert_eq!(e.schema_version(), 1);
        assert_eq!(e.to_payload().unwrap(), json, "payload of {ty}");
        assert_eq!(&TeamEvent::from_payload(ty, 1, json).unwrap(), e);
    }

    #[test]
    fn golden_json_of_every_team_event() {
        let p = profile("越城区队");
        let pj = r#"{"name":"越城区队","national_platform_id":"ZJ-330602-0001","leader":"sealed:leader","on_call_contact":"sealed:phone","party_member_team":true,"student_team":false}"#;
        golden(
            &TeamEvent::Registered(TeamRegistered {
                team_id: team_id(1),
                host_unit_id: hu(7),
                host_unit_kind: HostUnitKind::TbFreeCommunityPilot(PilotLevel::Province),
                region: region("330602"),
                level: TeamLevel::County,
                profile: p.clone(),
                registered_on: d("2024-01-10"),
            }),
            "TeamRegistered",
            &format!(
                r#"{{"team_id":"00000000-0000-0000-0000-000000000001","host_unit_id":"00000000-0000-0000-0000-000000000007","host_unit_kind":{{"tb_free_community_pilot":"province"}},"region":"330602","level":"county","profile":{pj},"registered_on":"2024-01-10"}}"#
            ),
        );
        golden(
            &TeamEvent::Amended(TeamAmended { profile: p }),
            "TeamAmended",
            &format!(r#"{{"profile":{pj}}}"#),
        );
        golden(
            &TeamEvent::Suspended(TeamSuspended {
                from: d("2024-03-01"),
                reason: text("整改"),
            }),
            "TeamSuspended",
            r#"{"from":"2024-03-01","reason":"整改"}"#,
        );
        golden(
            &TeamEvent::Reinstated(TeamReinstated {
                on: d("2024-04-01"),
            }),
            "TeamReinstated",
            r#"{"on":"2024-04-01"}"#,
        );
        golden(
            &TeamEvent::Dissolved(TeamDissolved {
                on: d("2024-12-01"),
                reason: text("合并"),
            }),
            "TeamDissolved",
            r#"{"on":"2024-12-01","reason":"合并"}"#,
        );
        assert_eq!(TeamEvent::TYPES.len(), 5);
    }

    proptest! {
        #[test]
        fn decisions_hold_after_replay_and_a_dissolved_team_stays_inactive(
            steps in proptest::collection::vec((0u8..4, 0i64..400), 0..40),
        ) {
            let mut s = Team::default();
            let mut history = s
                .decide(&register_cmd("330602", TeamLevel::County, "2024-01-10"), &host("330602"), &ctx())
                .unwrap();
            for e in &history { s.evolve(e); }
            let base = d("2024-01-01");
            for (op, offset) in steps {
                let date = base + chrono::Duration::days(offset);
                let ds = date.to_string();
                let cmd = match op {
                    0 => suspend(&ds),
                    1 => reinstate(&ds),
                    2 => dissolve(&ds),
                    _ => TeamCommand::Amend(AmendTeam { profile: profile(&format!("队{offset}")) }),
                };
                let was_dissolved = s.dissolved_on();
                match s.decide(&cmd, &TeamFacts::default(), &ctx()) {
                    Ok(events) => {
                        prop_assert!(was_dissolved.is_none());
                        for e in &events { s.evolve(e); }
                        history.extend(events);
                        prop_assert_eq!(&Team::replay(&history), &s);
                        match &cmd {
                            TeamCommand::Suspend(c) => prop_assert!(!s.is_active_on(c.from)),
                            TeamCommand::Reinstate(c) => prop_assert!(s.is_active_on(c.on)),
                            TeamCommand::Dissolve(c) => {
                                prop_assert!(!s.is_active_on(c.on));
                                prop_assert!(!s.is_active_on(c.on + chrono::Duration::days(1000)));
                            }
                            _ => {}
                        }
                    }
                    Err(_) => prop_assert_eq!(&Team::replay(&history), &s),
                }
            }
        }
    }
}

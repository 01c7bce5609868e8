//! # Emergency dispatch (调度) — rules B3, B4, B7
//!
//! Policy of this module:
//! - An emergency HQ issues a dispatch (stream category `"dispatch"`, id a caller-chosen [`DispatchId`]):
//!   HQ name, region, the teams and the reserve volunteers it sends, a reason and the business time `at`.
//!   It sends at least one team or volunteer, each listed once.
//! - **B3:** only teams that are active (registered, neither suspended nor dissolved) can be dispatched.
//! - **B4:** only first-echelon reserve volunteers (第一梯队储备志愿者) can be activated by a dispatch.
//! - **B7:** a volunteer dispatched in a professional role (doctor, nurse, pharmacist, driver, dispatcher)
//!   must hold a recorded qualification for that role valid on the dispatch date (Asia/Shanghai date of
//!   `at`); a driver must in addition have passed the training.
//! - A dispatch is closed once, at or after the time it was issued.
//!
//! The application layer loads [`DispatchFacts`] (per team: active on the dispatch date; per volunteer:
//! reserve tier, qualification and training on that date). An erased volunteer is reported as not a
//! first-echelon reserve.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::first_duplicate;
use crate::aggregate::{Aggregate, Decision};
use crate::domain_events;
use crate::error::DomainError;
use crate::ids::{DispatchId, RegionCode, TeamId, Text, VolunteerId};
use crate::rules;
use crate::summary::check_text;

pub const NAME_MAX_CHARS: usize = 200;
pub const REASON_MAX_CHARS: usize = 2_000;
/// Most teams plus volunteers one dispatch may list.
pub const MAX_DISPATCHED: usize = 1_000;

/// Professional roles that need a qualification (B7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfessionalRole {
    Doctor,
    Nurse,
    Pharmacist,
    Driver,
    Dispatcher,
}

/// A reserve volunteer sent by a dispatch, optionally in a professional role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchedVolunteer {
    pub volunteer: VolunteerId,
    pub role: Option<ProfessionalRole>,
}

/// An emergency HQ dispatches teams and reserve volunteers (B3, B4, B7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueDispatch {
    pub dispatch: DispatchId,
    /// Name of the emergency HQ (指挥部).
    pub hq: Text,
    pub region: RegionCode,
    pub teams: Vec<TeamId>,
    pub reserve_volunteers: Vec<DispatchedVolunteer>,
    pub reason: Text,
    /// When the dispatch takes effect (business time).
    pub at: DateTime<Utc>,
}

/// The HQ closes the dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseDispatch {
    pub dispatch: DispatchId,
    pub at: DateTime<Utc>,
    pub note: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchCommand {
    Issue(IssueDispatch),
    Close(CloseDispatch),
}

impl DispatchCommand {
    pub fn dispatch(&self) -> DispatchId {
        match self {
            Self::Issue(c) => c.dispatch,
            Self::Close(c) => c.dispatch,
        }
    }
}

/// A dispatched team on the dispatch date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchTeamFact {
    /// Registered, neither suspended nor dissolved.
    pub active: bool,
}

/// A dispatched volunteer on the dispatch date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchVolunteerFact {
    /// In the first-echelon reserve tier (B4); `false` for an erased volunteer.
    pub first_echelon_reserve: bool,
    /// Holds a recorded qualification for the role the command gives them, valid on the date (B7).
    /// Ignored when no role is given.
    pub qualified_for_role: bool,
    /// Has passed the driver training (B7). Only read for the driver role.
    pub driver_training_passed: bool,
}

/// Facts for [`IssueDispatch`]: one entry per listed team and volunteer that exists; a missing entry means
/// it does not exist. [`CloseDispatch`] passes `DispatchFacts::default()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchFacts {
    pub teams: BTreeMap<TeamId, DispatchTeamFact>,
    pub volunteers: BTreeMap<VolunteerId, DispatchVolunteerFact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchIssued {
    pub hq: Text,
    pub region: RegionCode,
    pub teams: Vec<TeamId>,
    pub reserve_volunteers: Vec<DispatchedVolunteer>,
    pub reason: Text,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchClosed {
    pub at: DateTime<Utc>,
    pub note: Option<Text>,
}

domain_events! {
    /// Events of an emergency dispatch.
    pub enum DispatchEvent {
        Issued(DispatchIssued) = ("DispatchIssued", 1),
        Closed(DispatchClosed) = ("DispatchClosed", 1),
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DispatchStatus {
    #[default]
    NotIssued,
    Issued,
    Closed,
}

/// The dispatch aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dispatch {
    status: DispatchStatus,
    issued: Option<DispatchIssued>,
    closed_at: Option<DateTime<Utc>>,
}

impl Dispatch {
    pub fn status(&self) -> DispatchStatus {
        self.status
    }
    pub fn issued(&self) -> Option<&DispatchIssued> {
        self.issued.as_ref()
    }
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.closed_at
    }

    fn decide_issue(
        &self,
        c: &IssueDispatch,
        facts: &DispatchFacts,
    ) -> Result<Vec<DispatchEvent>, DomainError> {
        if self.status != DispatchStatus::NotIssued {
            return Err(DomainError::already_exists(
                "dispatch",
                format!("dispatch {} is issued already", c.dispatch),
            ));
        }
        check_text("hq", &c.hq, NAME_MAX_CHARS)?;
        check_text("reason", &c.reason, REASON_MAX_CHARS)?;
        if c.teams.is_empty() && c.reserve_volunteers.is_empty() {
            return Err(DomainError::invalid_by(
                rules::B3,
                "teams",
                "a dispatch sends at least one team or reserve volunteer",
            ));
        }
        if c.teams.len().saturating_add(c.reserve_volunteers.len()) > MAX_DISPATCHED {
            return Err(DomainError::invalid(
                "teams",
                format!("at most {MAX_DISPATCHED} teams and volunteers per dispatch"),
            ));
        }
        if let Some(i) = first_duplicate(&c.teams) {
            return Err(DomainError::invalid(
                format!("teams[{i}]"),
                "team listed twice",
            ));
        }
        let ids: Vec<VolunteerId> = c.reserve_volunteers.iter().map(|v| v.volunteer).collect();
        if let Some(i) = first_duplicate(&ids) {
            return Err(DomainError::invalid(
                format!("reserve_volunteers[{i}].volunteer"),
                "volunteer listed twice",
            ));
        }
        for (i, t) in c.teams.iter().enumerate() {
            let field = format!("teams[{i}]");
            match facts.teams.get(t) {
                None => return Err(DomainError::not_found(field, format!("no team {t}"))),
                Some(f) if !f.active => {
                    return Err(DomainError::rule(
                        rules::B3,
                        field,
                        format!("team {t} is not active and cannot be dispatched"),
                    ));
                }
                Some(_) => {}
            }
        }
        for (i, v) in c.reserve_volunteers.iter().enumerate() {
            let field = format!("reserve_volunteers[{i}]");
            let Some(f) = facts.volunteers.get(&v.volunteer) else {
                return Err(DomainError::not_found(
                    format!("{field}.volunteer"),
                    format!("no volunteer {}", v.volunteer),
                ));
            };
            if !f.first_echelon_reserve {
                return Err(DomainError::rule(
                    rules::B4,
                    format!("{field}.volunteer"),
                    "only first-echelon reserve volunteers can be activated by a dispatch",
                ));
            }
            if let Some(role) = v.role {
                if !f.qualified_for_role {
                    return Err(DomainError::rule(
                        rules::B7,
                        format!("{field}.role"),
                        format!(
                            "the volunteer holds no {role:?} qualification valid on the dispatch date"
                        ),
                    ));
                }
                if role == ProfessionalRole::Driver && !f.driver_training_passed {
                    return Err(DomainError::rule(
                        rules::B7,
                        format!("{field}.role"),
                        "a driver serves only after passing the training",
                    ));
                }
            }
        }
        Ok(vec![DispatchEvent::Issued(DispatchIssued {
            hq: c.hq.clone(),
            region: c.region,
            teams: c.teams.clone(),
            reserve_volunteers: c.reserve_volunteers.clone(),
            reason: c.reason.clone(),
            at: c.at,
        })])
    }
}

impl Aggregate for Dispatch {
    const CATEGORY: &'static str = "dispatch";
    type Command = DispatchCommand;
    type Event = DispatchEvent;
    type Facts = DispatchFacts;

    fn decide(
        &self,
        command: &DispatchCommand,
        facts: &DispatchFacts,
        _ctx: &Decision,
    ) -> Result<Vec<DispatchEvent>, DomainError> {
        match command {
            DispatchCommand::Issue(c) => self.decide_issue(c, facts),
            DispatchCommand::Close(c) => {
                let Some(issued) = &self.issued else {
                    return Err(DomainError::not_found(
                        "dispatch",
                        format!("no dispatch {}", c.dispatch),
                    ));
                };
                if self.status == DispatchStatus::Closed {
                    return Err(DomainError::lifecycle(
                        "dispatch",
                        "the dispatch is closed already",
                    ));
                }
                if c.at < issued.at {
                    return Err(DomainError::rule(
                        rules::B3,
                        "at",
                        format!(
                            "a dispatch cannot close before it was issued ({})",
                            issued.at
                        ),
                    ));
                }
                if let Some(n) = &c.note {
                    check_text("note", n, REASON_MAX_CHARS)?;
                }
                Ok(vec![DispatchEvent::Closed(DispatchClosed {
                    at: c.at,
                    note: c.note.clone(),
                })])
            }
        }
    }

    fn evolve(&mut self, event: &DispatchEvent) {
        match event {
            DispatchEvent::Issued(e) => {
                self.status = DispatchStatus::Issued;
                self.issued = Some(e.clone());
            }
            DispatchEvent::Closed(e) => {
                self.status = DispatchStatus::Closed;
                self.closed_at = Some(e.at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::DomainEvent;
    use crate::jiangsu::test_support::{at, ctx, region, text};
    use crate::{ErrorKind, RuleId};
    use proptest::prelude::*;

    const D: DispatchId = DispatchId(uuid::Uuid::from_u128(0xD1));
    fn team(n: u128) -> TeamId {
        TeamId(uuid::Uuid::from_u128(n))
    }
    fn vol(n: u128) -> VolunteerId {
        VolunteerId(uuid::Uuid::from_u128(n))
    }
    const OK_VOL: DispatchVolunteerFact = DispatchVolunteerFact {
        first_echelon_reserve: true,
        qualified_for_role: true,
        driver_training_passed: true,
    };

    fn facts() -> DispatchFacts {
        DispatchFacts {
            teams: [
                (team(1), DispatchTeamFact { active: true }),
                (team(2), DispatchTeamFact { active: false }),
            ]
            .into_iter()
            .collect(),
            volunteers: [
                (vol(10), OK_VOL),
                (
                    vol(11),
                    DispatchVolunteerFact {
                        first_echelon_reserve: false,
                        ..OK_VOL
                    },
                ),
                (
                    vol(12),
                    DispatchVolunteerFact {
                        qualified_for_role: false,
                        ..OK_VOL
                    },
                ),
                (
                    vol(13),
                    DispatchVolunteerFact {
                        driver_training_passed: false,
                        ..OK_VOL
                    },
                ),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn issue_cmd() -> IssueDispatch {
        IssueDispatch {
            dispatch: D,
            hq: text("南京市疫情防控指挥部"),
            region: region("320100"),
            teams: vec![team(1)],
            reserve_volunteers: vec![DispatchedVolunteer {
                volunteer: vol(10),
                role: Some(ProfessionalRole::Nurse),
            }],
            reason: text("核酸检测点支援"),
            at: at("2022-04-10T00:00:00Z"),
        }
    }
    fn close_at(s: &str) -> DispatchCommand {
        DispatchCommand::Close(CloseDispatch {
            dispatch: D,
            at: at(s),
            note: Some(text("任务完成")),
        })
    }
    fn issued() -> Dispatch {
        let ev = Dispatch::default()
            .decide(&DispatchCommand::Issue(issue_cmd()), &facts(), &ctx())
            .unwrap();
        Dispatch::replay(&ev)
    }
    fn rejected_issue(c: IssueDispatch) -> DomainError {
        Dispatch::default()
            .decide(&DispatchCommand::Issue(c), &facts(), &ctx())
            .unwrap_err()
    }
    fn with_volunteer(n: u128, role: Option<ProfessionalRole>) -> IssueDispatch {
        IssueDispatch {
            reserve_volunteers: vec![DispatchedVolunteer {
                volunteer: vol(n),
                role,
            }],
            ..issue_cmd()
        }
    }

    #[test]
    fn b3_hq_dispatches_active_teams_and_first_echelon_reserves() {
        let s = issued();
        assert_eq!(s.status(), DispatchStatus::Issued);
        let i = s.issued().unwrap();
        assert_eq!(i.teams, vec![team(1)]);
        assert_eq!(i.reserve_volunteers[0].volunteer, vol(10));
        assert_eq!(Dispatch::stream_id(&D.to_string()), format!("dispatch-{D}"));
    }

    #[test]
    fn b3_issuing_the_same_dispatch_twice_is_rejected() {
        let e = issued()
            .decide(&DispatchCommand::Issue(issue_cmd()), &facts(), &ctx())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn b3_a_dispatch_sending_nobody_is_rejected() {
        let e = rejected_issue(IssueDispatch {
            teams: vec![],
            reserve_volunteers: vec![],
            ..issue_cmd()
        });
        assert_eq!(e.rule, rules::B3);
        assert_eq!(e.field, "teams");
    }

    #[test]
    fn b3_an_inactive_team_cannot_be_dispatched() {
        let e = rejected_issue(IssueDispatch {
            teams: vec![team(1), team(2)],
            ..issue_cmd()
        });
        assert_eq!(e.rule, rules::B3);
        assert_eq!(e.kind, ErrorKind::RuleViolation);
        assert_eq!(e.field, "teams[1]");
    }

    #[test]
    fn b3_an_unknown_or_repeated_team_is_rejected() {
        let e = rejected_issue(IssueDispatch {
            teams: vec![team(9)],
            ..issue_cmd()
        });
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.field, "teams[0]");
        let e = rejected_issue(IssueDispatch {
            teams: vec![team(1), team(1)],
            ..issue_cmd()
        });
        assert_eq!(e.rule, RuleId::INPUT);
        assert_eq!(e.field, "teams[1]");
    }

    #[test]
    fn b4_only_first_echelon_reserves_can_be_activated_by_dispatch() {
        let e = rejected_issue(with_volunteer(11, None));
        assert_eq!(e.rule, rules::B4);
        assert_eq!(e.field, "reserve_volunteers[0].volunteer");
    }

    #[test]
    fn b4_an_unknown_volunteer_is_not_found() {
        let e = rejected_issue(with_volunteer(99, None));
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.field, "reserve_volunteers[0].volunteer");
    }

    #[test]
    fn b7_a_professional_without_qualification_on_the_date_is_rejected() {
        let e = rejected_issue(with_volunteer(12, Some(ProfessionalRole::Doctor)));
        assert_eq!(e.rule, rules::B7);
        assert_eq!(e.field, "reserve_volunteers[0].role");
    }

    #[test]
    fn b7_an_unqualified_volunteer_can_still_be_dispatched_without_a_professional_role() {
        let ev = Dispatch::default()
            .decide(
                &DispatchCommand::Issue(with_volunteer(12, None)),
                &facts(),
                &ctx(),
            )
            .unwrap();
        assert_eq!(ev.len(), 1);
    }

    #[test]
    fn b7_a_driver_serves_only_after_passing_training() {
        let e = rejected_issue(with_volunteer(13, Some(ProfessionalRole::Driver)));
        assert_eq!(e.rule, rules::B7);
        assert_eq!(e.field, "reserve_volunteers[0].role");
        // the same volunteer as a dispatcher needs no driver training
        let ok = Dispatch::default().decide(
            &DispatchCommand::Issue(with_volunteer(13, Some(ProfessionalRole::Dispatcher))),
            &facts(),
            &ctx(),
        );
        assert!(ok.is_ok());
        // a trained, qualified driver is accepted
        let ok = Dispatch::default().decide(
            &DispatchCommand::Issue(with_volunteer(10, Some(ProfessionalRole::Driver))),
            &facts(),
            &ctx(),
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn b3_a_dispatch_closes_once_and_not_before_it_was_issued() {
        let s = issued();
        let e = s
            .decide(&close_at("2022-04-09T23:59:59Z"), &facts(), &ctx())
            .unwrap_err();
        assert_eq!(e.rule, rules::B3);
        assert_eq!(e.field, "at");
        let ev = s
            .decide(&close_at("2022-04-12T00:00:00Z"), &facts(), &ctx())
            .unwrap();
        let mut s = s;
        for e in &ev {
            s.evolve(e);
        }
        assert_eq!(s.status(), DispatchStatus::Closed);
        assert_eq!(s.closed_at(), Some(at("2022-04-12T00:00:00Z")));
        let e = s
            .decide(&close_at("2022-04-13T00:00:00Z"), &facts(), &ctx())
            .unwrap_err();
        assert_eq!(e.rule, RuleId::LIFECYCLE);
    }

    #[test]
    fn b3_closing_an_unknown_dispatch_is_not_found() {
        let e = Dispatch::default()
            .decide(&close_at("2022-04-12T00:00:00Z"), &facts(), &ctx())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    #[test]
    fn golden_json_of_every_dispatch_event() {
        let issued = DispatchEvent::Issued(DispatchIssued {
            hq: text("指挥部"),
            region: region("320100"),
            teams: vec![team(1)],
            reserve_volunteers: vec![
                DispatchedVolunteer {
                    volunteer: vol(10),
                    role: Some(ProfessionalRole::Driver),
                },
                DispatchedVolunteer {
                    volunteer: vol(11),
                    role: None,
                },
            ],
            reason: text("支援"),
            at: at("2022-04-10T00:00:00Z"),
        });
        let json = r#"{"hq":"指挥部","region":"320100","teams":["00000000-0000-0000-0000-000000000001"],"reserve_volunteers":[{"volunteer":"00000000-0000-0000-0000-00000000000a","role":"driver"},{"volunteer":"00000000-0000-0000-0000-00000000000b","role":null}],"reason":"支援","at":"2022-04-10T00:00:00Z"}"#;
        assert_eq!(issued.event_type(), "DispatchIssued");
        assert_eq!(issued.to_payload().unwrap(), json);
        assert_eq!(
            DispatchEvent::from_payload("DispatchIssued", 1, json).unwrap(),
            issued
        );
        let closed = DispatchEvent::Closed(DispatchClosed {
            at: at("2022-04-12T00:00:00Z"),
            note: None,
        });
        let json = r#"{"at":"2022-04-12T00:00:00Z","note":null}"#;
        assert_eq!(closed.event_type(), "DispatchClosed");
        assert_eq!(closed.to_payload().unwrap(), json);
        assert_eq!(
            DispatchEvent::from_payload("DispatchClosed", 1, json).unwrap(),
            closed
        );
        assert_eq!(
            DispatchEvent::TYPES,
            &[("DispatchIssued", 1), ("DispatchClosed", 1)]
        );
    }

    proptest! {
        #[test]
        fn b4_no_issued_dispatch_activates_a_non_reserve_or_unqualified_volunteer(
            picks in proptest::collection::vec((10u128..14, proptest::option::of(0u8..5)), 0..6),
        ) {
            let roles = [ProfessionalRole::Doctor, ProfessionalRole::Nurse, ProfessionalRole::Pharmacist,
                ProfessionalRole::Driver, ProfessionalRole::Dispatcher];
            let cmd = IssueDispatch {
                reserve_volunteers: picks.iter().map(|(v, r)| DispatchedVolunteer {
                    volunteer: vol(*v),
                    role: r.map(|r| roles[usize::from(r)]),
                }).collect(),
                ..issue_cmd()
            };
            let f = facts();
            if let Ok(events) = Dispatch::default().decide(&DispatchCommand::Issue(cmd), &f, &ctx()) {
                let s = Dispatch::replay(&events);
                prop_assert_eq!(s.status(), DispatchStatus::Issued);
                for v in &s.issued().unwrap().reserve_volunteers {
                    let fact = f.volunteers[&v.volunteer];
                    prop_assert!(fact.first_echelon_reserve);
                    if let Some(role) = v.role {
                        prop_assert!(fact.qualified_for_role);
                        prop_assert!(role != ProfessionalRole::Driver || fact.driver_training_passed);
                    }
                }
            }
        }
    }
}

//! # Supply-demand matching (供需对接) — rule B10
//!
//! Policy of this module:
//! - A community posts a need (stream category `"need"`, id a caller-chosen [`NeedId`]): its region, the
//!   community/grid, a description and a category.
//! - The order is enforced: posted → verified (or rejected with a reason, which closes it) → taken by one
//!   team → fulfilled by that same team with a note. Nothing is skipped or repeated.
//! - Only an active team can take a need; the application layer says whether the team exists and is active
//!   ([`NeedFacts`]).

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::domain_events;
use crate::error::DomainError;
use crate::ids::{NeedId, RegionCode, TeamId, Text};
use crate::rules;
use crate::summary::check_text;

pub const COMMUNITY_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedCategory {
    Medicine,
    Food,
    DailySupplies,
    Transport,
    MedicalCare,
    PsychologicalSupport,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostNeed {
    pub need: NeedId,
    pub region: RegionCode,
    /// Community and grid, e.g. "梅园新村街道 第3网格".
    pub community: Text,
    pub description: Text,
    pub category: NeedCategory,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyNeed {
    pub need: NeedId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectNeed {
    pub need: NeedId,
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeNeed {
    pub need: NeedId,
    pub team: TeamId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfilNeed {
    pub need: NeedId,
    /// The team that took the need.
    pub team: TeamId,
    pub note: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeedCommand {
    Post(PostNeed),
    Verify(VerifyNeed),
    Reject(RejectNeed),
    Take(TakeNeed),
    Fulfil(FulfilNeed),
}

impl NeedCommand {
    pub fn need(&self) -> NeedId {
        match self {
            Self::Post(c) => c.need,
            Self::Verify(c) => c.need,
            Self::Reject(c) => c.need,
            Self::Take(c) => c.need,
            Self::Fulfil(c) => c.need,
        }
    }
}

/// Facts for [`TakeNeed`] about the team; other commands pass `NeedFacts::default()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NeedFacts {
    pub team_exists: bool,
    /// Registered, neither suspended nor dissolved, today.
    pub team_active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedPosted {
    pub region: RegionCode,
    pub community: Text,
    pub description: Text,
    pub category: NeedCategory,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedVerified {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedRejected {
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedTaken {
    pub team: TeamId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedFulfilled {
    pub team: TeamId,
    pub note: Text,
}

domain_events! {
    /// Events of a community need.
    pub enum NeedEvent {
        Posted(NeedPosted) = ("NeedPosted", 1),
        Verified(NeedVerified) = ("NeedVerified", 1),
        Rejected(NeedRejected) = ("NeedRejected", 1),
        Taken(NeedTaken) = ("NeedTaken", 1),
        Fulfilled(NeedFulfilled) = ("NeedFulfilled", 1),
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedStatus {
    #[default]
    NotPosted,
    Posted,
    Verified,
    Rejected,
    Taken,
    Fulfilled,
}

/// The need aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Need {
    status: NeedStatus,
    posted: Option<NeedPosted>,
    taken_by: Option<TeamId>,
}

impl Need {
    pub fn status(&self) -> NeedStatus {
        self.status
    }
    pub fn posted(&self) -> Option<&NeedPosted> {
        self.posted.as_ref()
    }
    pub fn taken_by(&self) -> Option<TeamId> {
        self.taken_by
    }

    fn out_of_order(&self, what: &str) -> DomainError {
        let why = match self.status {
            NeedStatus::NotPosted => "it was never posted",
            NeedStatus::Posted => "it is not verified yet",
            NeedStatus::Verified => "no team has taken it",
            NeedStatus::Rejected => "it was rejected",
            NeedStatus::Taken => "a team has taken it already",
            NeedStatus::Fulfilled => "it is fulfilled already",
        };
        DomainError::rule(rules::B10, "need", format!("cannot {what}: {why}"))
    }
}

impl Aggregate for Need {
    const CATEGORY: &'static str = "need";
    type Command = NeedCommand;
    type Event = NeedEvent;
    type Facts = NeedFacts;

    fn decide(
        &self,
        command: &NeedCommand,
        facts: &NeedFacts,
        _ctx: &Decision,
    ) -> Result<Vec<NeedEvent>, DomainError> {
        use NeedStatus as S;
        if self.status == S::NotPosted && !matches!(command, NeedCommand::Post(_)) {
            return Err(DomainError::not_found(
                "need",
                format!("no need {} was posted", command.need()),
            ));
        }
        match command {
            NeedCommand::Post(c) => {
                if self.status != S::NotPosted {
                    return Err(DomainError::already_exists(
                        "need",
                        format!("need {} is posted already", c.need),
                    ));
                }
                check_text("community", &c.community, COMMUNITY_MAX_CHARS)?;
                check_text("description", &c.description, DESCRIPTION_MAX_CHARS)?;
                Ok(vec![NeedEvent::Posted(NeedPosted {
                    region: c.region,
                    community: c.community.clone(),
                    description: c.description.clone(),
                    category: c.category,
                })])
            }
            NeedCommand::Verify(_) => {
                if self.status != S::Posted {
                    return Err(self.out_of_order("verify the need"));
                }
                Ok(vec![NeedEvent::Verified(NeedVerified {})])
            }
            NeedCommand::Reject(c) => {
                if self.status != S::Posted {
                    return Err(self.out_of_order("reject the need"));
                }
                check_text("reason", &c.reason, DESCRIPTION_MAX_CHARS)?;
                Ok(vec![NeedEvent::Rejected(NeedRejected {
                    reason: c.reason.clone(),
                })])
            }
            NeedCommand::Take(c) => {
                if self.status != S::Verified {
                    return Err(self.out_of_order("take the need"));
                }
                if !facts.team_exists {
                    return Err(DomainError::not_found(
                        "team",
                        format!("no team {}", c.team),
                    ));
                }
                if !facts.team_active {
                    return Err(DomainError::rule(
                        rules::B10,
                        "team",
                        format!("team {} is not active and cannot take a need", c.team),
                    ));
                }
                Ok(vec![NeedEvent::Taken(NeedTaken { team: c.team })])
            }
            NeedCommand::Fulfil(c) => {
                if self.status != S::Taken {
                    return Err(self.out_of_order("fulfil the need"));
                }
                if self.taken_by != Some(c.team) {
                    return Err(DomainError::rule(
                        rules::B10,
                        "team",
                        format!("team {} did not take this need", c.team),
                    ));
                }
                check_text("note", &c.note, DESCRIPTION_MAX_CHARS)?;
                Ok(vec![NeedEvent::Fulfilled(NeedFulfilled {
                    team: c.team,
                    note: c.note.clone(),
                })])
            }
        }
    }

    fn evolve(&mut self, event: &NeedEvent) {
        match event {
            NeedEvent::Posted(e) => {
                self.status = NeedStatus::Posted;
                self.posted = Some(e.clone());
            }
            NeedEvent::Verified(_) => self.status = NeedStatus::Verified,
            NeedEvent::Rejected(_) => self.status = NeedStatus::Rejected,
            NeedEvent::Taken(e) => {
                self.status = NeedStatus::Taken;
                self.taken_by = Some(e.team);
            }
            NeedEvent::Fulfilled(_) => self.status = NeedStatus::Fulfilled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::event::DomainEvent;
    use crate::jiangsu::test_support::{ctx, region, text};
    use proptest::prelude::*;

    const N: NeedId = NeedId(uuid::Uuid::from_u128(0x4E));
    const T1: TeamId = TeamId(uuid::Uuid::from_u128(1));
    const T2: TeamId = TeamId(uuid::Uuid::from_u128(2));
    const ACTIVE: NeedFacts = NeedFacts {
        team_exists: true,
        team_active: true,
    };

    fn post() -> NeedCommand {
        NeedCommand::Post(PostNeed {
            need: N,
            region: region("320102"),
            community: text("梅园新村街道 第3网格"),
            description: text("独居老人需要代购降压药"),
            category: NeedCategory::Medicine,
        })
    }
    fn verify() -> NeedCommand {
        NeedCommand::Verify(VerifyNeed { need: N })
    }
    fn reject() -> NeedCommand {
        NeedCommand::Reject(RejectNeed {
            need: N,
            reason: text("重复登记"),
        })
    }
    fn take(team: TeamId) -> NeedCommand {
        NeedCommand::Take(TakeNeed { need: N, team })
    }
    fn fulfil(team: TeamId) -> NeedCommand {
        NeedCommand::Fulfil(FulfilNeed {
            need: N,
            team,
            note: text("已送达"),
        })
    }
    fn given(cmds: Vec<NeedCommand>) -> Need {
        let mut s = Need::default();
        for c in cmds {
            for e in &s
                .decide(&c, &ACTIVE, &ctx())
                .unwrap_or_else(|e| panic!("rejected: {e}"))
            {
                s.evolve(e);
            }
        }
        s
    }
    fn rejected(s: &Need, cmd: NeedCommand, facts: NeedFacts) -> DomainError {
        s.decide(&cmd, &facts, &ctx())
            .expect_err("should be rejected")
    }
    fn assert_b10_order(e: &DomainError) {
        assert_eq!(e.rule, rules::B10, "{e}");
        assert_eq!(e.field, "need", "{e}");
    }

    #[test]
    fn b10_a_need_is_posted_verified_taken_and_fulfilled() {
        let s = given(vec![post(), verify(), take(T1), fulfil(T1)]);
        assert_eq!(s.status(), NeedStatus::Fulfilled);
        assert_eq!(s.taken_by(), Some(T1));
        assert_eq!(s.posted().map(|p| p.category), Some(NeedCategory::Medicine));
        assert_eq!(Need::stream_id(&N.to_string()), format!("need-{N}"));
    }

    #[test]
    fn b10_posting_twice_is_rejected() {
        assert_eq!(
            rejected(&given(vec![post()]), post(), ACTIVE).kind,
            ErrorKind::AlreadyExists
        );
    }

    #[test]
    fn b10_commands_on_a_need_never_posted_are_not_found() {
        for cmd in [verify(), reject(), take(T1), fulfil(T1)] {
            assert_eq!(
                rejected(&Need::default(), cmd, ACTIVE).kind,
                ErrorKind::NotFound
            );
        }
    }

    #[test]
    fn b10_an_unverified_need_cannot_be_taken() {
        assert_b10_order(&rejected(&given(vec![post()]), take(T1), ACTIVE));
    }

    #[test]
    fn b10_a_rejected_need_is_closed() {
        let s = given(vec![post(), reject()]);
        assert_eq!(s.status(), NeedStatus::Rejected);
        for cmd in [verify(), reject(), take(T1), fulfil(T1)] {
            assert_b10_order(&rejected(&s, cmd, ACTIVE));
        }
    }

    #[test]
    fn b10_a_verified_need_cannot_be_verified_or_rejected_again() {
        let s = given(vec![post(), verify()]);
        assert_b10_order(&rejected(&s, verify(), ACTIVE));
        assert_b10_order(&rejected(&s, reject(), ACTIVE));
    }

    #[test]
    fn b10_only_an_active_team_can_take_a_need() {
        let s = given(vec![post(), verify()]);
        let e = rejected(
            &s,
            take(T1),
            NeedFacts {
                team_exists: true,
                team_active: false,
            },
        );
        assert_eq!(e.rule, rules::B10);
        assert_eq!(e.field, "team");
        let e = rejected(&s, take(T1), NeedFacts::default());
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.field, "team");
    }

    #[test]
    fn b10_a_taken_need_cannot_be_taken_again() {
        assert_b10_order(&rejected(
            &given(vec![post(), verify(), take(T1)]),
            take(T2),
            ACTIVE,
        ));
    }

    #[test]
    fn b10_a_need_is_fulfilled_only_after_being_taken_and_by_the_team_that_took_it() {
        assert_b10_order(&rejected(
            &given(vec![post(), verify()]),
            fulfil(T1),
            ACTIVE,
        ));
        let e = rejected(&given(vec![post(), verify(), take(T1)]), fulfil(T2), ACTIVE);
        assert_eq!(e.rule, rules::B10);
        assert_eq!(e.field, "team");
        assert_b10_order(&rejected(
            &given(vec![post(), verify(), take(T1), fulfil(T1)]),
            fulfil(T1),
            ACTIVE,
        ));
    }

    #[test]
    fn golden_json_of_every_need_event() {
        let cases = [
            (
                NeedEvent::Posted(NeedPosted {
                    region: region("320102"),
                    community: text("第3网格"),
                    description: text("代购药品"),
                    category: NeedCategory::DailySupplies,
                }),
                "NeedPosted",
                r#"{"region":"320102","community":"第3网格","description":"代购药品","category":"daily_supplies"}"#,
            ),
            (NeedEvent::Verified(NeedVerified {}), "NeedVerified", "{}"),
            (
                NeedEvent::Rejected(NeedRejected {
                    reason: text("重复"),
                }),
                "NeedRejected",
                r#"{"reason":"重复"}"#,
            ),
            (
                NeedEvent::Taken(NeedTaken { team: T1 }),
                "NeedTaken",
                r#"{"team":"00000000-0000-0000-0000-000000000001"}"#,
            ),
            (
                NeedEvent::Fulfilled(NeedFulfilled {
                    team: T1,
                    note: text("已送达"),
                }),
                "NeedFulfilled",
                r#"{"team":"00000000-0000-0000-0000-000000000001","note":"已送达"}"#,
            ),
        ];
        for (e, ty, json) in cases {
            assert_eq!(e.event_type(), ty);
            assert_eq!(e.schema_version(), 1);
            assert_eq!(e.to_payload().unwrap(), json, "payload of {ty}");
            assert_eq!(NeedEvent::from_payload(ty, 1, json).unwrap(), e);
        }
        assert_eq!(NeedEvent::TYPES.len(), 5);
    }

    proptest! {
        #[test]
        fn b10_order_is_never_skipped_and_replay_matches(ops in proptest::collection::vec(0u8..7, 0..30)) {
            let mut s = Need::default();
            let mut history = Vec::new();
            for op in ops {
                let cmd = match op {
                    0 => post(), 1 => verify(), 2 => reject(), 3 => take(T1), 4 => take(T2),
                    5 => fulfil(T1), _ => fulfil(T2),
                };
                let before = s.status();
                if let Ok(events) = s.decide(&cmd, &ACTIVE, &ctx()) {
                    for e in &events { s.evolve(e); }
                    history.extend(events);
                    let allowed = matches!(
                        (before, s.status()),
                        (NeedStatus::NotPosted, NeedStatus::Posted)
                            | (NeedStatus::Posted, NeedStatus::Verified | NeedStatus::Rejected)
                            | (NeedStatus::Verified, NeedStatus::Taken)
                            | (NeedStatus::Taken, NeedStatus::Fulfilled)
                    );
                    prop_assert!(allowed, "{:?} -> {:?}", before, s.status());
                    prop_assert_eq!(&Need::replay(&history), &s);
                }
            }
        }
    }
}

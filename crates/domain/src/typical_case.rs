//! # Typical cases (典型案例) — rule A18
//!
//! Policy of this module:
//! - A **county** nominates a case: a title, a description, the activities it is about (at least one, all
//!   run in that county) and a non-empty set of qualities — innovative / distinctive / effective / moving
//!   (有创新、有特色、有实效、感人). Stream category `"case"`, id a caller-chosen [`CaseId`].
//! - The **city CDC** selects it; the selected case is then **forwarded to the provincial CDC**. The order is
//!   enforced: a case is selected at most once, never forwarded before selection, forwarded at most once.
//! - The county may **withdraw** its nomination only before selection; a withdrawn case is closed.
//! - The related activities are checked against facts the application layer loads (their county); the
//!   case never copies activity content. Roles (county vs. city) are checked by the application layer.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::domain_events;
use crate::error::DomainError;
use crate::ids::{ActivityId, CaseId, RegionCode, Text};
use crate::rules;
use crate::summary::{YEARS, check_text, is_county_level};

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
pub const REASON_MAX_CHARS: usize = 2_000;
/// Most activities one case may refer to.
pub const MAX_ACTIVITIES: usize = 50;

/// Why a case is typical (A18). Serialized snake_case, sorted in the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseQuality {
    /// 有创新.
    Innovative,
    /// 有特色.
    Distinctive,
    /// 有实效.
    Effective,
    /// 感人.
    Moving,
}

// ---------------------------------------------------------------------------------------------------------
// Commands and facts
// ---------------------------------------------------------------------------------------------------------

/// County CDC nominates a case (A18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NominateCase {
    pub case: CaseId,
    /// The nominating county (county-level code).
    pub county: RegionCode,
    /// The report year the case belongs to.
    pub year: i32,
    pub title: Text,
    pub description: Text,
    pub activities: Vec<ActivityId>,
    pub qualities: BTreeSet<CaseQuality>,
}

/// City CDC selects a nominated case (A18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectCase {
    pub case: CaseId,
}

/// City CDC forwards a selected case to the provincial CDC (A18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardToProvince {
    pub case: CaseId,
}

/// County CDC withdraws its nomination before the city selects it (A18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawNomination {
    pub case: CaseId,
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseCommand {
    Nominate(NominateCase),
    Select(SelectCase),
    Forward(ForwardToProvince),
    Withdraw(WithdrawNomination),
}

impl CaseCommand {
    /// The case the command addresses; the stream id is `TypicalCase::stream_id(&case.to_string())`.
    pub fn case(&self) -> CaseId {
        match self {
            Self::Nominate(c) => c.case,
            Self::Select(c) => c.case,
            Self::Forward(c) => c.case,
            Self::Withdraw(c) => c.case,
        }
    }
}

/// Facts for [`NominateCase`]: the county-level region of each related activity that exists (the region
/// of the team that ran it). The application layer loads one entry per activity id in the command; an
/// absent entry means the activity does not exist. Other commands pass `CaseFacts::default()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFacts {
    pub activity_regions: BTreeMap<ActivityId, RegionCode>,
}

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseNominated {
    pub county: RegionCode,
    pub year: i32,
    pub title: Text,
    pub description: Text,
    pub activities: Vec<ActivityId>,
    pub qualities: BTreeSet<CaseQuality>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSelected {
    /// The city that selected it (the county's prefecture).
    pub city: RegionCode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseForwardedToProvince {
    pub province: RegionCode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseNominationWithdrawn {
    pub reason: Text,
}

domain_events! {
    /// Events of a typical case.
    pub enum CaseEvent {
        Nominated(CaseNominated) = ("CaseNominated", 1),
        Selected(CaseSelected) = ("CaseSelected", 1),
        ForwardedToProvince(CaseForwardedToProvince) = ("CaseForwardedToProvince", 1),
        NominationWithdrawn(CaseNominationWithdrawn) = ("CaseNominationWithdrawn", 1),
    }
}

// ---------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    #[default]
    NotNominated,
    Nominated,
    Selected,
    ForwardedToProvince,
    Withdrawn,
}

/// The typical-case aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypicalCase {
    status: CaseStatus,
    nomination: Option<CaseNominated>,
    selections: u32,
    forwards: u32,
}

impl TypicalCase {
    pub fn status(&self) -> CaseStatus {
        self.status
    }
    pub fn nomination(&self) -> Option<&CaseNominated> {
        self.nomination.as_ref()
    }
    /// How many selections the history holds (never more than 1).
    pub fn selections(&self) -> u32 {
        self.selections
    }
    /// How many forwards the history holds (never more than 1).
    pub fn forwards(&self) -> u32 {
        self.forwards
    }

    fn nominated(&self, case: CaseId) -> Result<&CaseNominated, DomainError> {
        self.nomination.as_ref().ok_or_else(|| {
            DomainError::not_found("case", format!("case {case} was never nominated"))
        })
    }

    fn decide_nominate(
        &self,
        c: &NominateCase,
        facts: &CaseFacts,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        if self.nomination.is_some() {
            return Err(DomainError::already_exists(
                "case",
                format!("case {} is nominated already", c.case),
            ));
        }
        if !is_county_level(&c.county) {
            return Err(DomainError::invalid_by(
                rules::A18,
                "county",
                format!(
                    "{} is not a county-level code; counties nominate cases",
                    c.county
                ),
            ));
        }
        if !YEARS.contains(&c.year) {
            return Err(DomainError::invalid(
                "year",
                format!("{} is outside {}..={}", c.year, YEARS.start(), YEARS.end()),
            ));
        }
        check_text("title", &c.title, TITLE_MAX_CHARS)?;
        check_text("description", &c.description, DESCRIPTION_MAX_CHARS)?;
        if c.qualities.is_empty() {
            return Err(DomainError::invalid_by(
                rules::A18,
                "qualities",
                "name at least one of innovative, distinctive, effective, moving",
            ));
        }
        if c.activities.is_empty() {
            return Err(DomainError::invalid_by(
                rules::A18,
                "activities",
                "a typical case is about at least one activity",
            ));
        }
        if c.activities.len() > MAX_ACTIVITIES {
            return Err(DomainError::invalid(
                "activities",
                format!("at most {MAX_ACTIVITIES} activities"),
            ));
        }
        for (i, a) in c.activities.iter().enumerate() {
            let field = format!("activities[{i}]");
            if c.activities[..i].contains(a) {
                return Err(DomainError::invalid(
                    field,
                    format!("activity {a} is listed twice"),
                ));
            }
            match facts.activity_regions.get(a) {
                None => {
                    return Err(DomainError::not_found(field, format!("no activity {a}")));
                }
                Some(region) if *region != c.county => {
                    return Err(DomainError::rule(
                        rules::A18,
                        field,
                        format!(
                            "activity {a} belongs to {region}, not to the nominating county {}",
                            c.county
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(vec![CaseEvent::Nominated(CaseNominated {
            county: c.county,
            year: c.year,
            title: c.title.clone(),
            description: c.description.clone(),
            activities: c.activities.clone(),
            qualities: c.qualities.clone(),
        })])
    }
}

impl Aggregate for TypicalCase {
    const CATEGORY: &'static str = "case";
    type Command = CaseCommand;
    type Event = CaseEvent;
    type Facts = CaseFacts;

    fn decide(
        &self,
        command: &CaseCommand,
        facts: &CaseFacts,
        _ctx: &Decision,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        use CaseStatus as S;
        match command {
            CaseCommand::Nominate(c) => self.decide_nominate(c, facts),
            CaseCommand::Select(c) => {
                let n = self.nominated(c.case)?;
                match self.status {
                    S::Nominated => Ok(vec![CaseEvent::Selected(CaseSelected {
                        city: n.county.city(),
                    })]),
                    S::Selected | S::ForwardedToProvince => Err(DomainError::rule(
                        rules::A18,
                        "case",
                        "the case has been selected already; it cannot be selected twice",
                    )),
                    S::Withdrawn | S::NotNominated => Err(DomainError::rule(
                        rules::A18,
                        "case",
                        "the nomination was withdrawn; there is nothing to select",
                    )),
                }
            }
            CaseCommand::Forward(c) => {
                let n = self.nominated(c.case)?;
                match self.status {
                    S::Selected => Ok(vec![CaseEvent::ForwardedToProvince(
                        CaseForwardedToProvince {
                            province: n.county.province(),
                        },
                    )]),
                    S::Nominated => Err(DomainError::rule(
                        rules::A18,
                        "case",
                        "only a case the city CDC has selected can be forwarded to the province",
                    )),
                    S::ForwardedToProvince => Err(DomainError::rule(
                        rules::A18,
                        "case",
                        "the case has been forwarded to the province already",
                    )),
                    S::Withdrawn | S::NotNominated => Err(DomainError::rule(
                        rules::A18,
                        "case",
                        "the nomination was withdrawn; it cannot be forwarded",
                    )),
                }
            }
            CaseCommand::Withdraw(c) => {
                self.nominated(c.case)?;
                match self.status {
                    S::Nominated => {
                        check_text("reason", &c.reason, REASON_MAX_CHARS)?;
                        Ok(vec![CaseEvent::NominationWithdrawn(
                            CaseNominationWithdrawn {
                                reason: c.reason.clone(),
                            },
                        )])
                    }
                    S::Selected | S::ForwardedToProvince => Err(DomainError::rule(
                        rules::A18,
                        "case",
                        "the city CDC has selected the case; the nomination can no longer be withdrawn",
                    )),
                    S::Withdrawn | S::NotNominated => Err(DomainError::rule(
                        rules::A18,
                        "case",
                        "the nomination is withdrawn already",
                    )),
                }
            }
        }
    }

    fn evolve(&mut self, event: &CaseEvent) {
        match event {
            CaseEvent::Nominated(e) => {
                self.status = CaseStatus::Nominated;
                self.nomination = Some(e.clone());
            }
            CaseEvent::Selected(_) => {
                self.status = CaseStatus::Selected;
                self.selections = self.selections.saturating_add(1);
            }
            CaseEvent::ForwardedToProvince(_) => {
                self.status = CaseStatus::ForwardedToProvince;
                self.forwards = self.forwards.saturating_add(1);
            }
            CaseEvent::NominationWithdrawn(_) => self.status = CaseStatus::Withdrawn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::DomainEvent;
    use crate::{ErrorKind, RuleId};
    use proptest::prelude::*;

    fn ctx() -> Decision {
        Decision {
            received_at: chrono::DateTime::parse_from_rfc3339("2024-11-01T02:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
        }
    }
    fn text(s: &str) -> Text {
        Text::parse("t", s, 100_000).unwrap()
    }
    fn region(s: &str) -> RegionCode {
        RegionCode::parse("r", s).unwrap()
    }
    fn activity(n: u128) -> ActivityId {
        ActivityId(uuid::Uuid::from_u128(n))
    }
    const CASE: CaseId = CaseId(uuid::Uuid::from_u128(0xCA5E));

    fn facts() -> CaseFacts {
        CaseFacts {
            activity_regions: [
                (activity(1), region("330602")),
                (activity(2), region("330602")),
                (activity(3), region("330603")),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn nominate_cmd() -> NominateCase {
        NominateCase {
            case: CASE,
            county: region("330602"),
            year: 2024,
            title: text("校园结核病防治宣传"),
            description: text("在越城区多所中学开展新生入学体检宣传"),
            activities: vec![activity(1), activity(2)],
            qualities: [CaseQuality::Innovative, CaseQuality::Effective]
                .into_iter()
                .collect(),
        }
    }
    fn nominate() -> CaseCommand {
        CaseCommand::Nominate(nominate_cmd())
    }
    fn select() -> CaseCommand {
        CaseCommand::Select(SelectCase { case: CASE })
    }
    fn forward() -> CaseCommand {
        CaseCommand::Forward(ForwardToProvince { case: CASE })
    }
    fn withdraw() -> CaseCommand {
        CaseCommand::Withdraw(WithdrawNomination {
            case: CASE,
            reason: text("材料不完整"),
        })
    }

    fn run(state: &mut TypicalCase, cmd: CaseCommand) -> Vec<CaseEvent> {
        let events = state
            .decide(&cmd, &facts(), &ctx())
            .unwrap_or_else(|e| panic!("{cmd:?} rejected: {e}"));
        for e in &events {
            state.evolve(e);
        }
        events
    }
    fn given(cmds: Vec<CaseCommand>) -> TypicalCase {
        let mut s = TypicalCase::default();
        for c in cmds {
            run(&mut s, c);
        }
        s
    }
    fn rejected(state: &TypicalCase, cmd: CaseCommand) -> DomainError {
        state
            .decide(&cmd, &facts(), &ctx())
            .expect_err("should be rejected")
    }
    fn rejected_nomination(c: NominateCase) -> DomainError {
        rejected(&TypicalCase::default(), CaseCommand::Nominate(c))
    }
    fn assert_a18(e: &DomainError) {
        assert_eq!(e.rule, rules::A18, "{e}");
        assert_eq!(e.kind, ErrorKind::RuleViolation, "{e}");
        assert_eq!(e.field, "case", "{e}");
    }

    #[test]
    fn a18_county_nominates_a_case_with_qualities_and_activities() {
        let mut s = TypicalCase::default();
        let events = run(&mut s, nominate());
        let [CaseEvent::Nominated(n)] = events.as_slice() else {
            panic!("expected CaseNominated, got {events:?}");
        };
        assert_eq!(n.county, region("330602"));
        assert_eq!(n.activities, vec![activity(1), activity(2)]);
        assert_eq!(n.qualities.len(), 2);
        assert_eq!(s.status(), CaseStatus::Nominated);
        assert_eq!(s.nomination(), Some(n));
        assert_eq!(
            TypicalCase::stream_id(&CASE.to_string()),
            format!("case-{CASE}")
        );
    }

    #[test]
    fn a18_nominating_twice_is_rejected() {
        let e = rejected(&given(vec![nominate()]), nominate());
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn a18_a_nomination_without_qualities_is_rejected() {
        let mut c = nominate_cmd();
        c.qualities.clear();
        let e = rejected_nomination(c);
        assert_eq!(e.rule, rules::A18);
        assert_eq!(e.field, "qualities");
    }

    #[test]
    fn a18_a_nomination_without_activities_is_rejected() {
        let mut c = nominate_cmd();
        c.activities.clear();
        let e = rejected_nomination(c);
        assert_eq!(e.rule, rules::A18);
        assert_eq!(e.field, "activities");
    }

    #[test]
    fn a18_an_unknown_or_repeated_activity_is_rejected_naming_it() {
        let mut c = nominate_cmd();
        c.activities = vec![activity(1), activity(9)];
        let e = rejected_nomination(c);
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.field, "activities[1]");

        let mut c = nominate_cmd();
        c.activities = vec![activity(1), activity(1)];
        let e = rejected_nomination(c);
        assert_eq!(e.rule, RuleId::INPUT);
        assert_eq!(e.field, "activities[1]");
    }

    #[test]
    fn a18_an_activity_of_another_county_is_rejected() {
        let mut c = nominate_cmd();
        c.activities = vec![activity(3)];
        let e = rejected_nomination(c);
        assert_eq!(e.rule, rules::A18);
        assert_eq!(e.kind, ErrorKind::RuleViolation);
        assert_eq!(e.field, "activities[0]");
    }

    #[test]
    fn a18_only_a_county_nominates() {
        let mut c = nominate_cmd();
        c.county = region("330600");
        let e = rejected_nomination(c);
        assert_eq!(e.rule, rules::A18);
        assert_eq!(e.field, "county");
    }

    #[test]
    fn a18_overlong_title_and_bad_year_are_rejected() {
        let mut c = nominate_cmd();
        c.title = text(&"题".repeat(TITLE_MAX_CHARS + 1));
        assert_eq!(rejected_nomination(c).field, "title");
        let mut c = nominate_cmd();
        c.year = 1999;
        assert_eq!(rejected_nomination(c).field, "year");
    }

    #[test]
    fn a18_city_selects_then_forwards_to_the_province() {
        let mut s = given(vec![nominate()]);
        let ev = run(&mut s, select());
        assert_eq!(
            ev,
            vec![CaseEvent::Selected(CaseSelected {
                city: region("330600")
            })]
        );
        let ev = run(&mut s, forward());
        assert_eq!(
            ev,
            vec![CaseEvent::ForwardedToProvince(CaseForwardedToProvince {
                province: region("330000")
            })]
        );
        assert_eq!(s.status(), CaseStatus::ForwardedToProvince);
    }

    #[test]
    fn a18_a_case_cannot_be_selected_twice() {
        assert_a18(&rejected(&given(vec![nominate(), select()]), select()));
        assert_a18(&rejected(
            &given(vec![nominate(), select(), forward()]),
            select(),
        ));
    }

    #[test]
    fn a18_a_case_cannot_be_forwarded_before_selection() {
        assert_a18(&rejected(&given(vec![nominate()]), forward()));
    }

    #[test]
    fn a18_a_case_cannot_be_forwarded_twice() {
        assert_a18(&rejected(
            &given(vec![nominate(), select(), forward()]),
            forward(),
        ));
    }

    #[test]
    fn a18_withdrawal_is_possible_before_selection_and_closes_the_case() {
        let mut s = given(vec![nominate()]);
        run(&mut s, withdraw());
        assert_eq!(s.status(), CaseStatus::Withdrawn);
        assert_a18(&rejected(&s, select()));
        assert_a18(&rejected(&s, forward()));
        assert_a18(&rejected(&s, withdraw()));
    }

    #[test]
    fn a18_withdrawal_after_selection_is_rejected() {
        assert_a18(&rejected(&given(vec![nominate(), select()]), withdraw()));
    }

    #[test]
    fn a18_commands_on_a_case_never_nominated_are_not_found() {
        for cmd in [select(), forward(), withdraw()] {
            let e = rejected(&TypicalCase::default(), cmd);
            assert_eq!(e.kind, ErrorKind::NotFound);
            assert_eq!(e.field, "case");
        }
    }

    fn golden(e: &CaseEvent, ty: &str, json: &str) {
        assert_eq!(e.event_type(), ty);
        assert_eq!(e.schema_version(), 1);
        assert_eq!(e.to_payload().unwrap(), json, "payload of {ty}");
        assert_eq!(&CaseEvent::from_payload(ty, 1, json).unwrap(), e);
    }

    #[test]
    fn golden_json_of_every_case_event() {
        golden(
            &CaseEvent::Nominated(CaseNominated {
                county: region("330602"),
                year: 2024,
                title: text("标题"),
                description: text("描述"),
                activities: vec![activity(1)],
                qualities: [
                    CaseQuality::Moving,
                    CaseQuality::Innovative,
                    CaseQuality::Distinctive,
                    CaseQuality::Effective,
                ]
                .into_iter()
                .collect(),
            }),
            "CaseNominated",
            r#"{"county":"330602","year":2024,"title":"标题","description":"描述","activities":["00000000-0000-0000-0000-000000000001"],"qualities":["innovative","distinctive","effective","moving"]}"#,
        );
        golden(
            &CaseEvent::Selected(CaseSelected {
                city: region("330600"),
            }),
            "CaseSelected",
            r#"{"city":"330600"}"#,
        );
        golden(
            &CaseEvent::ForwardedToProvince(CaseForwardedToProvince {
                province: region("330000"),
            }),
            "CaseForwardedToProvince",
            r#"{"province":"330000"}"#,
        );
        golden(
            &CaseEvent::NominationWithdrawn(CaseNominationWithdrawn {
                reason: text("重复"),
            }),
            "CaseNominationWithdrawn",
            r#"{"reason":"重复"}"#,
        );
        assert_eq!(CaseEvent::TYPES.len(), 4);
    }

    proptest! {
        #[test]
        fn a18_no_command_sequence_selects_or_forwards_a_case_twice(ops in proptest::collection::vec(0u8..4, 0..30)) {
            let mut state = TypicalCase::default();
            let mut history = Vec::new();
            for op in ops {
                let cmd = match op { 0 => nominate(), 1 => select(), 2 => forward(), _ => withdraw() };
                if let Ok(events) = state.decide(&cmd, &facts(), &ctx()) {
                    for e in &events { state.evolve(e); }
                    history.extend(events);
                    let expected = match cmd {
                        CaseCommand::Nominate(_) => CaseStatus::Nominated,
                        CaseCommand::Select(_) => CaseStatus::Selected,
                        CaseCommand::Forward(_) => CaseStatus::ForwardedToProvince,
                        CaseCommand::Withdraw(_) => CaseStatus::Withdrawn,
                    };
                    prop_assert_eq!(state.status(), expected);
                    prop_assert_eq!(&TypicalCase::replay(&history), &state);
                }
                prop_assert!(state.selections() <= 1);
                prop_assert!(state.forwards() <= state.selections());
            }
        }
    }
}

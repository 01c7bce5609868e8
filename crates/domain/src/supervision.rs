//! # Supervision findings (监督检查) — rule A20
//!
//! Policy of this module:
//! - The civil-affairs supervisor (named per jurisdiction by configuration) **writes findings only**: a
//!   finding is its own stream (category `"finding"`, id a caller-chosen [`FindingId`]) that *refers* to a
//!   team, volunteer, activity or summary by id ([`RecordRef`]); nothing here changes those records.
//! - A finding names its jurisdiction, its subject, a text, a severity (info / minor / major) and whether it
//!   came from a spot check; a spot check lists the records it sampled (at least one), a finding that is
//!   not a spot check lists none.
//! - The subject and every sampled record must exist and lie inside the supervisor's jurisdiction (a region
//!   subtree). The application layer loads each referenced record's region into [`FindingFacts`].
//! - The supervised organisation may respond (any number of times) while the finding is open; the
//!   supervisor closes it with a resolution. A closed finding takes no more responses and cannot be closed
//!   again.
//! - Roles (supervisor vs. supervised organisation) are checked by the application layer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::domain_events;
use crate::error::DomainError;
use crate::ids::{ActivityId, FindingId, RegionCode, TeamId, Text, VolunteerId};
use crate::rules;
use crate::summary::{CountyYear, check_text};

pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
pub const RESPONSE_MAX_CHARS: usize = 10_000;
/// Most records one spot check may list.
pub const MAX_SAMPLED: usize = 200;

/// A record a finding refers to. JSON: `{"kind":"team","id":"…"}`, `{"kind":"summary","id":"330602-2024"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum RecordRef {
    Team(TeamId),
    Volunteer(VolunteerId),
    Activity(ActivityId),
    Summary(CountyYear),
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Minor,
    Major,
}

/// Whether `region` lies in the subtree of `jurisdiction` (province `xx0000`, city `xxxx00`, county).
pub fn within(jurisdiction: &RegionCode, region: &RegionCode) -> bool {
    let j = jurisdiction.as_str();
    let prefix = j.trim_end_matches("00");
    // A province code trims to 2 digits, a city to 4, a county keeps 6.
    let prefix = match prefix.len() {
        0..=2 => &j[..2],
        3..=4 => &j[..4],
        _ => j,
    };
    region.as_str().starts_with(prefix)
}

// ---------------------------------------------------------------------------------------------------------
// Commands and facts
// ---------------------------------------------------------------------------------------------------------

/// The supervisor records a finding (A20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSupervisionFinding {
    pub finding: FindingId,
    /// The supervisor's jurisdiction.
    pub jurisdiction: RegionCode,
    pub subject: RecordRef,
    /// What was found.
    pub description: Text,
    pub severity: Severity,
    pub spot_check: bool,
    /// Records sampled by a spot check.
    pub sampled: Vec<RecordRef>,
}

/// The supervised organisation responds (A20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespondToFinding {
    pub finding: FindingId,
    pub response: Text,
}

/// The supervisor closes the finding (A20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFinding {
    pub finding: FindingId,
    pub resolution: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindingCommand {
    Record(RecordSupervisionFinding),
    Respond(RespondToFinding),
    Close(CloseFinding),
}

impl FindingCommand {
    /// The finding addressed; the stream id is `SupervisionFinding::stream_id(&id.to_string())`.
    pub fn finding(&self) -> FindingId {
        match self {
            Self::Record(c) => c.finding,
            Self::Respond(c) => c.finding,
            Self::Close(c) => c.finding,
        }
    }
}

/// Facts for [`RecordSupervisionFinding`]: the region of every referenced record that exists (a team's
/// region, the registering county of a volunteer, the region of an activity's team, a summary's county).
/// An absent entry means the record does not exist. Other commands pass `FindingFacts::default()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFacts {
    pub regions: BTreeMap<RecordRef, RegionCode>,
}

impl FindingFacts {
    fn check(
        &self,
        field: &str,
        jurisdiction: &RegionCode,
        r: &RecordRef,
    ) -> Result<(), DomainError> {
        match self.regions.get(r) {
            None => Err(DomainError::not_found(
                field,
                format!("no such record {r:?}"),
            )),
            Some(region) if !within(jurisdiction, region) => Err(DomainError::rule(
                rules::A20,
                field,
                format!("the record lies in {region}, outside the jurisdiction {jurisdiction}"),
            )),
            Some(_) => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisionFindingRecorded {
    pub jurisdiction: RegionCode,
    pub subject: RecordRef,
    pub description: Text,
    pub severity: Severity,
    pub spot_check: bool,
    pub sampled: Vec<RecordRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisionFindingResponded {
    /// 1 for the first response, then 2, 3, …
    pub response_no: u32,
    pub response: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisionFindingClosed {
    pub resolution: Text,
    /// How many responses the organisation had given when it was closed.
    pub responses: u32,
}

domain_events! {
    /// Events of a supervision finding.
    pub enum FindingEvent {
        Recorded(SupervisionFindingRecorded) = ("SupervisionFindingRecorded", 1),
        Responded(SupervisionFindingResponded) = ("SupervisionFindingResponded", 1),
        Closed(SupervisionFindingClosed) = ("SupervisionFindingClosed", 1),
    }
}

// ---------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    #[default]
    NotRecorded,
    Open,
    Responded,
    Closed,
}

/// The supervision-finding aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupervisionFinding {
    status: FindingStatus,
    record: Option<SupervisionFindingRecorded>,
    responses: u32,
    resolution: Option<Text>,
}

impl SupervisionFinding {
    pub fn status(&self) -> FindingStatus {
        self.status
    }
    pub fn record(&self) -> Option<&SupervisionFindingRecorded> {
        self.record.as_ref()
    }
    pub fn responses(&self) -> u32 {
        self.responses
    }
    pub fn resolution(&self) -> Option<&Text> {
        self.resolution.as_ref()
    }

    fn open(&self, id: FindingId) -> Result<(), DomainError> {
        match self.status {
            FindingStatus::NotRecorded => Err(DomainError::not_found(
                "finding",
                format!("no finding {id} was recorded"),
            )),
            FindingStatus::Closed => Err(DomainError::rule(
                rules::A20,
                "finding",
                "the finding is closed",
            )),
            FindingStatus::Open | FindingStatus::Responded => Ok(()),
        }
    }

    fn decide_record(
        &self,
        c: &RecordSupervisionFinding,
        facts: &FindingFacts,
    ) -> Result<Vec<FindingEvent>, DomainError> {
        if self.status != FindingStatus::NotRecorded {
            return Err(DomainError::already_exists(
                "finding",
                format!("finding {} is recorded already", c.finding),
            ));
        }
        check_text("description", &c.description, DESCRIPTION_MAX_CHARS)?;
        if c.spot_check && c.sampled.is_empty() {
            return Err(DomainError::invalid_by(
                rules::A20,
                "sampled",
                "a spot check lists the records it sampled",
            ));
        }
        if !c.spot_check && !c.sampled.is_empty() {
            return Err(DomainError::invalid_by(
                rules::A20,
                "sampled",
                "only a spot check lists sampled records",
            ));
        }
        if c.sampled.len() > MAX_SAMPLED {
            return Err(DomainError::invalid(
                "sampled",
                format!("at most {MAX_SAMPLED} sampled records"),
            ));
        }
        facts.check("subject", &c.jurisdiction, &c.subject)?;
        for (i, r) in c.sampled.iter().enumerate() {
            let field = format!("sampled[{i}]");
            if c.sampled[..i].contains(r) {
                return Err(DomainError::invalid(field, "record listed twice"));
            }
            facts.check(&field, &c.jurisdiction, r)?;
        }
        Ok(vec![FindingEvent::Recorded(SupervisionFindingRecorded {
            jurisdiction: c.jurisdiction,
            subject: c.subject,
            description: c.description.clone(),
            severity: c.severity,
            spot_check: c.spot_check,
            sampled: c.sampled.clone(),
        })])
    }
}

impl Aggregate for SupervisionFinding {
    const CATEGORY: &'static str = "finding";
    type Command = FindingCommand;
    type Event = FindingEvent;
    type Facts = FindingFacts;

    fn decide(
        &self,
        command: &FindingCommand,
        facts: &FindingFacts,
        _ctx: &Decision,
    ) -> Result<Vec<FindingEvent>, DomainError> {
        match command {
            FindingCommand::Record(c) => self.decide_record(c, facts),
            FindingCommand::Respond(c) => {
                self.open(c.finding)?;
                check_text("response", &c.response, RESPONSE_MAX_CHARS)?;
                Ok(vec![FindingEvent::Responded(SupervisionFindingResponded {
                    response_no: self.responses.saturating_add(1),
                    response: c.response.clone(),
                })])
            }
            FindingCommand::Close(c) => {
                self.open(c.finding)?;
                check_text("resolution", &c.resolution, RESPONSE_MAX_CHARS)?;
                Ok(vec![FindingEvent::Closed(SupervisionFindingClosed {
                    resolution: c.resolution.clone(),
                    responses: self.responses,
                })])
            }
        }
    }

    fn evolve(&mut self, event: &FindingEvent) {
        match event {
            FindingEvent::Recorded(e) => {
                self.status = FindingStatus::Open;
                self.record = Some(e.clone());
            }
            FindingEvent::Responded(e) => {
                self.status = FindingStatus::Responded;
                self.responses = e.response_no;
            }
            FindingEvent::Closed(e) => {
                self.status = FindingStatus::Closed;
                self.resolution = Some(e.resolution.clone());
            }
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
            received_at: chrono::DateTime::parse_from_rfc3339("2024-10-01T02:00:00Z")
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
    const F: FindingId = FindingId(uuid::Uuid::from_u128(0xF1));
    fn team(n: u128) -> RecordRef {
        RecordRef::Team(TeamId(uuid::Uuid::from_u128(n)))
    }
    fn activity(n: u128) -> RecordRef {
        RecordRef::Activity(ActivityId(uuid::Uuid::from_u128(n)))
    }

    fn facts() -> FindingFacts {
        FindingFacts {
            regions: [
                (team(1), region("330602")),
                (activity(2), region("330602")),
                (activity(3), region("330603")),
                (activity(4), region("320102")),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn record_cmd() -> RecordSupervisionFinding {
        RecordSupervisionFinding {
            finding: F,
            jurisdiction: region("330600"),
            subject: team(1),
            description: text("活动记录缺少签到表"),
            severity: Severity::Minor,
            spot_check: true,
            sampled: vec![activity(2), activity(3)],
        }
    }
    fn record() -> FindingCommand {
        FindingCommand::Record(record_cmd())
    }
    fn respond() -> FindingCommand {
        FindingCommand::Respond(RespondToFinding {
            finding: F,
            response: text("已补充签到表"),
        })
    }
    fn close() -> FindingCommand {
        FindingCommand::Close(CloseFinding {
            finding: F,
            resolution: text("整改到位"),
        })
    }
    fn run(s: &mut SupervisionFinding, cmd: FindingCommand) -> Vec<FindingEvent> {
        let events = s
            .decide(&cmd, &facts(), &ctx())
            .unwrap_or_else(|e| panic!("rejected: {e}"));
        for e in &events {
            s.evolve(e);
        }
        events
    }
    fn rejected(s: &SupervisionFinding, cmd: FindingCommand) -> DomainError {
        s.decide(&cmd, &facts(), &ctx())
            .expect_err("should be rejected")
    }
    fn rejected_record(c: RecordSupervisionFinding) -> DomainError {
        rejected(&SupervisionFinding::default(), FindingCommand::Record(c))
    }

    #[test]
    fn a20_jurisdiction_is_a_region_subtree() {
        assert!(within(&region("330000"), &region("330602")));
        assert!(within(&region("330600"), &region("330602")));
        assert!(within(&region("330600"), &region("330600")));
        assert!(within(&region("330602"), &region("330602")));
        assert!(!within(&region("330602"), &region("330603")));
        assert!(!within(&region("330600"), &region("330700")));
        assert!(!within(&region("330000"), &region("320102")));
        // a county code ending in 0 is not mistaken for a city
        assert!(within(&region("330110"), &region("330110")));
        assert!(!within(&region("330110"), &region("330111")));
    }

    #[test]
    fn a20_supervisor_records_a_spot_check_finding_with_sampled_records() {
        let mut s = SupervisionFinding::default();
        let events = run(&mut s, record());
        let [FindingEvent::Recorded(r)] = events.as_slice() else {
            panic!("expected SupervisionFindingRecorded, got {events:?}");
        };
        assert_eq!(r.subject, team(1));
        assert_eq!(r.sampled, vec![activity(2), activity(3)]);
        assert!(r.spot_check);
        assert_eq!(s.status(), FindingStatus::Open);
        assert_eq!(
            SupervisionFinding::stream_id(&F.to_string()),
            format!("finding-{F}")
        );
    }

    #[test]
    fn a20_recording_the_same_finding_twice_is_rejected() {
        let mut s = SupervisionFinding::default();
        run(&mut s, record());
        assert_eq!(rejected(&s, record()).kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn a20_a_spot_check_without_sampled_records_is_rejected() {
        let mut c = record_cmd();
        c.sampled.clear();
        let e = rejected_record(c);
        assert_eq!(e.rule, rules::A20);
        assert_eq!(e.field, "sampled");
    }

    #[test]
    fn a20_sampled_records_without_a_spot_check_are_rejected() {
        let mut c = record_cmd();
        c.spot_check = false;
        let e = rejected_record(c);
        assert_eq!(e.rule, rules::A20);
        assert_eq!(e.field, "sampled");
    }

    #[test]
    fn a20_a_finding_that_is_not_a_spot_check_needs_no_samples() {
        let mut c = record_cmd();
        c.spot_check = false;
        c.sampled.clear();
        c.severity = Severity::Major;
        let mut s = SupervisionFinding::default();
        run(&mut s, FindingCommand::Record(c));
        assert_eq!(s.record().map(|r| r.severity), Some(Severity::Major));
    }

    #[test]
    fn a20_a_subject_outside_the_jurisdiction_is_rejected() {
        let mut c = record_cmd();
        c.jurisdiction = region("330603");
        let e = rejected_record(c);
        assert_eq!(e.rule, rules::A20);
        assert_eq!(e.field, "subject");
    }

    #[test]
    fn a20_a_sampled_record_outside_the_jurisdiction_is_rejected_naming_it() {
        let mut c = record_cmd();
        c.sampled = vec![activity(2), activity(4)];
        let e = rejected_record(c);
        assert_eq!(e.rule, rules::A20);
        assert_eq!(e.field, "sampled[1]");
    }

    #[test]
    fn a20_an_unknown_or_repeated_record_is_rejected() {
        let mut c = record_cmd();
        c.subject = team(99);
        let e = rejected_record(c);
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.field, "subject");

        let mut c = record_cmd();
        c.sampled = vec![activity(2), activity(2)];
        let e = rejected_record(c);
        assert_eq!(e.rule, RuleId::INPUT);
        assert_eq!(e.field, "sampled[1]");
    }

    #[test]
    fn a20_organisation_responds_and_supervisor_closes() {
        let mut s = SupervisionFinding::default();
        run(&mut s, record());
        let ev = run(&mut s, respond());
        assert!(matches!(&ev[..], [FindingEvent::Responded(r)] if r.response_no == 1));
        let ev = run(&mut s, respond());
        assert!(matches!(&ev[..], [FindingEvent::Responded(r)] if r.response_no == 2));
        assert_eq!(s.status(), FindingStatus::Responded);
        let ev = run(&mut s, close());
        assert!(matches!(&ev[..], [FindingEvent::Closed(c)] if c.responses == 2));
        assert_eq!(s.status(), FindingStatus::Closed);
        assert_eq!(s.resolution(), Some(&text("整改到位")));
    }

    #[test]
    fn a20_a_closed_finding_takes_no_response_and_cannot_be_closed_again() {
        let mut s = SupervisionFinding::default();
        run(&mut s, record());
        run(&mut s, close());
        for cmd in [respond(), close()] {
            let e = rejected(&s, cmd);
            assert_eq!(e.rule, rules::A20);
            assert_eq!(e.field, "finding");
        }
    }

    #[test]
    fn a20_responding_to_or_closing_an_unknown_finding_is_not_found() {
        for cmd in [respond(), close()] {
            let e = rejected(&SupervisionFinding::default(), cmd);
            assert_eq!(e.kind, ErrorKind::NotFound);
        }
    }

    #[test]
    fn golden_json_of_every_finding_event() {
        let cases: [(FindingEvent, &str, &str); 3] = [
            (
                FindingEvent::Recorded(SupervisionFindingRecorded {
                    jurisdiction: region("330600"),
                    subject: RecordRef::Summary(CountyYear::parse("s", "330602-2024").unwrap()),
                    description: text("总结未按时报送"),
                    severity: Severity::Major,
                    spot_check: true,
                    sampled: vec![
                        team(1),
                        RecordRef::Volunteer(VolunteerId(uuid::Uuid::from_u128(5))),
                        activity(2),
                    ],
                }),
                "SupervisionFindingRecorded",
                r#"{"jurisdiction":"330600","subject":{"kind":"summary","id":"330602-2024"},"description":"总结未按时报送","severity":"major","spot_check":true,"sampled":[{"kind":"team","id":"00000000-0000-0000-0000-000000000001"},{"kind":"volunteer","id":"00000000-0000-0000-0000-000000000005"},{"kind":"activity","id":"00000000-0000-0000-0000-000000000002"}]}"#,
            ),
            (
                FindingEvent::Responded(SupervisionFindingResponded {
                    response_no: 1,
                    response: text("已整改"),
                }),
                "SupervisionFindingResponded",
                r#"{"response_no":1,"response":"已整改"}"#,
            ),
            (
                FindingEvent::Closed(SupervisionFindingClosed {
                    resolution: text("关闭"),
                    responses: 1,
                }),
                "SupervisionFindingClosed",
                r#"{"resolution":"关闭","responses":1}"#,
            ),
        ];
        for (e, ty, json) in cases {
            assert_eq!(e.event_type(), ty);
            assert_eq!(e.schema_version(), 1);
            assert_eq!(e.to_payload().unwrap(), json, "payload of {ty}");
            assert_eq!(FindingEvent::from_payload(ty, 1, json).unwrap(), e);
        }
        assert_eq!(FindingEvent::TYPES.len(), 3);
    }

    proptest! {
        #[test]
        fn a20_replay_matches_and_nothing_follows_closure(ops in proptest::collection::vec(0u8..3, 0..30)) {
            let mut s = SupervisionFinding::default();
            let mut history = Vec::new();
            let mut closed = false;
            for op in ops {
                let cmd = match op { 0 => record(), 1 => respond(), _ => close() };
                if let Ok(events) = s.decide(&cmd, &facts(), &ctx()) {
                    prop_assert!(!closed, "a command succeeded on a closed finding");
                    for e in &events { s.evolve(e); }
                    history.extend(events);
                    closed = s.status() == FindingStatus::Closed;
                    prop_assert_eq!(&SupervisionFinding::replay(&history), &s);
                }
            }
        }
    }
}

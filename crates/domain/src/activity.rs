//! # Activity (志愿活动) — rules A7, A12, A13, A17; "谁组织谁记录"
//!
//! Policy of this module:
//! - Stream category `"activity"`, instance id = [`ActivityId`]. One activity is run and recorded by one
//!   team; the team never changes (to move an activity, void it and record it anew).
//! - **Content (A13, A17, A12).** An activity has a kind (A13), an optional key-day tag whose month/day must
//!   equal the activity date's (3·5, 3·24, 5·31, 12·1; a `key_day_campaign` must carry one), a date with
//!   optional start/end times (start before end), a place, an optional grid (网格) reference, a non-empty
//!   list of participants with 1..=1440 minutes each and no one listed twice, the A17 counts (people
//!   reached, media pieces, materials distributed) and the A12 record: recorder, content, summary and
//!   attachments referenced by [`ContentHash`] (never stored in events).
//! - **Time.** The activity date cannot be after the service's receipt date in Asia/Shanghai.
//! - **Facts.** The application loads the team and every participant (and a volunteer recorder) by
//!   replaying their streams into [`ActivityFacts`]. The team must be active on the activity date. Each
//!   participant must exist, not be erased, be a member of the team on the activity date and be 18 or
//!   older on it (A7). Each rejection names the field, e.g. `participants[2].volunteer_id`. A volunteer
//!   recorder must be a live member of the team on the date (A12); otherwise the recorder is the team's
//!   leader of the day, who is identified through the team's own (sealed) record.
//! - **Corrections** replace the details with a reason as a new event (revision n+1), under the same
//!   checks; an identical correction produces no event. **Voiding** (with a reason) is final: nothing
//!   follows it.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::campaign::shanghai_date;
use crate::domain_events;
use crate::error::DomainError;
use crate::ids::{ActivityId, ContentHash, TeamId, Text, VolunteerId};
use crate::rules;
use crate::team::Team;
use crate::volunteer::Volunteer;

/// Most minutes one participant can serve in one activity (a day).
pub const MAX_MINUTES: u32 = 1440;
/// Most participants in one activity.
pub const MAX_PARTICIPANTS: usize = 5_000;
/// Most attachments of one activity record.
pub const MAX_ATTACHMENTS: usize = 100;
pub const PLACE_MAX_CHARS: usize = 200;
pub const GRID_MAX_CHARS: usize = 100;
pub const CONTENT_MAX_CHARS: usize = 20_000;
pub const SUMMARY_MAX_CHARS: usize = 5_000;
pub const REASON_MAX_CHARS: usize = 2_000;

/// A13: kinds of activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    KnowledgePublicity,
    PatientCare,
    TreatmentFollowUp,
    HealthCheckUp,
    PreventiveTherapyMobilisation,
    CampusFreshmanCheckUpPublicity,
    KeyDayCampaign,
    /// 三下乡 summer practice.
    SummerPractice,
    Other,
}

/// A13: key disease-prevention days (重要防病日).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyDay {
    /// 3·5 China Youth Volunteer Day / Zhejiang Volunteer Day.
    #[serde(rename = "volunteer_day_03_05")]
    VolunteerDay,
    /// 3·24 World TB Day.
    #[serde(rename = "world_tb_day_03_24")]
    WorldTbDay,
    /// 5·31 World No Tobacco Day.
    #[serde(rename = "world_no_tobacco_day_05_31")]
    WorldNoTobaccoDay,
    /// 12·1 World AIDS Day.
    #[serde(rename = "world_aids_day_12_01")]
    WorldAidsDay,
}

impl KeyDay {
    /// `(month, day)` of the key day.
    pub fn month_day(self) -> (u32, u32) {
        match self {
            Self::VolunteerDay => (3, 5),
            Self::WorldTbDay => (3, 24),
            Self::WorldNoTobaccoDay => (5, 31),
            Self::WorldAidsDay => (12, 1),
        }
    }

    /// The key day falls on `date`.
    pub fn falls_on(self, date: NaiveDate) -> bool {
        self.month_day() == (date.month(), date.day())
    }
}

/// One participant and the minutes they served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub volunteer_id: VolunteerId,
    pub minutes: u32,
}

/// A12: who recorded the activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recorder {
    /// A designated volunteer of the team.
    Volunteer(VolunteerId),
    /// The team's leader on the activity date (identified through the team's sealed leader record, so no
    /// personal data enters the activity).
    TeamLeader,
}

/// A12: the record made after the activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecord {
    pub recorder: Recorder,
    pub content: Text,
    pub summary: Text,
    pub attachments: Vec<ContentHash>,
}

/// Everything recorded about an activity; replaced as a whole by a correction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityDetails {
    pub team_id: TeamId,
    pub kind: ActivityKind,
    pub key_day: Option<KeyDay>,
    pub date: NaiveDate,
    pub start_time: Option<NaiveTime>,
    pub end_time: Option<NaiveTime>,
    pub place: Text,
    /// 网格 reference.
    pub grid: Option<Text>,
    pub participants: Vec<Participant>,
    /// A17.
    pub people_reached: u32,
    /// A17.
    pub media_pieces: u32,
    /// A17.
    pub materials_distributed: u32,
    pub record: ActivityRecord,
}

impl ActivityDetails {
    /// The minutes `volunteer` served, if they took part.
    pub fn minutes_of(&self, volunteer: VolunteerId) -> Option<u32> {
        self.participants
            .iter()
            .find(|p| p.volunteer_id == volunteer)
            .map(|p| p.minutes)
    }

    /// Checks that need no facts.
    fn validate_shape(&self, today: NaiveDate) -> Result<(), DomainError> {
        if self.participants.is_empty() {
            return Err(DomainError::invalid(
                "participants",
                "an activity has at least one participant",
            ));
        }
        if self.participants.len() > MAX_PARTICIPANTS {
            return Err(DomainError::invalid(
                "participants",
                format!("at most {MAX_PARTICIPANTS} participants"),
            ));
        }
        for (i, p) in self.participants.iter().enumerate() {
            if !(1..=MAX_MINUTES).contains(&p.minutes) {
                return Err(DomainError::invalid(
                    format!("participants[{i}].minutes"),
                    format!("{} is outside 1..={MAX_MINUTES}", p.minutes),
                ));
            }
            if self.participants[..i]
                .iter()
                .any(|q| q.volunteer_id == p.volunteer_id)
            {
                return Err(DomainError::invalid(
                    format!("participants[{i}].volunteer_id"),
                    format!("volunteer {} is listed twice", p.volunteer_id),
                ));
            }
        }
        match self.key_day {
            Some(k) if !k.falls_on(self.date) => {
                let (m, d) = k.month_day();
                return Err(DomainError::invalid_by(
                    rules::A13,
                    "key_day",
                    format!("the key day is {m}-{d}; the activity is on {}", self.date),
                ));
            }
            None if self.kind == ActivityKind::KeyDayCampaign => {
                return Err(DomainError::invalid_by(
                    rules::A13,
                    "key_day",
                    "a key-day campaign names its key day",
                ));
            }
            _ => {}
        }
        if let (Some(s), Some(e)) = (self.start_time, self.end_time)
            && s >= e
        {
            return Err(DomainError::invalid(
                "end_time",
                format!("{e} is not after the start {s}"),
            ));
        }
        if self.date > today {
            return Err(DomainError::invalid(
                "date",
                format!(
                    "{} is after the receipt date {today} (Asia/Shanghai)",
                    self.date
                ),
            ));
        }
        self.place.check_max("place", PLACE_MAX_CHARS)?;
        if let Some(g) = &self.grid {
            g.check_max("grid", GRID_MAX_CHARS)?;
        }
        let r = &self.record;
        r.content.check_max("record.content", CONTENT_MAX_CHARS)?;
        r.summary.check_max("record.summary", SUMMARY_MAX_CHARS)?;
        if r.attachments.len() > MAX_ATTACHMENTS {
            return Err(DomainError::invalid_by(
                rules::A12,
                "record.attachments",
                format!("at most {MAX_ATTACHMENTS} attachments"),
            ));
        }
        for (i, a) in r.attachments.iter().enumerate() {
            if r.attachments[..i].contains(a) {
                return Err(DomainError::invalid(
                    format!("record.attachments[{i}]"),
                    "listed twice",
                ));
            }
        }
        Ok(())
    }

    /// Checks against the team and the people involved.
    fn validate_facts(&self, facts: &ActivityFacts) -> Result<(), DomainError> {
        let date = self.date;
        let Some(team) = facts.team.as_ref().filter(|t| t.id() == Some(self.team_id)) else {
            return Err(DomainError::not_found(
                "team_id",
                format!("team {} is not registered", self.team_id),
            ));
        };
        if !team.is_active_on(date) {
            return Err(DomainError::lifecycle(
                "team_id",
                format!("team {} is not active on {date}", self.team_id),
            ));
        }
        for (i, p) in self.participants.iter().enumerate() {
            let field = format!("participants[{i}].volunteer_id");
            let v = live_volunteer(facts, p.volunteer_id, &field)?;
            if !v.is_member_of(self.team_id, date) {
                return Err(DomainError::lifecycle(
                    field,
                    format!(
                        "volunteer {} is not a member of team {} on {date}",
                        p.volunteer_id, self.team_id
                    ),
                ));
            }
            if !v.is_adult_on(date) {
                return Err(DomainError::rule(
                    rules::A7,
                    field,
                    format!(
                        "volunteer {} is under 18 on {date} (turns 18 on {})",
                        p.volunteer_id,
                        v.adult_on()
                            .map_or_else(|| "an unknown date".to_owned(), |a| a.to_string())
                    ),
                ));
            }
        }
        if let Recorder::Volunteer(id) = self.record.recorder {
            let field = "record.recorder";
            let v = live_volunteer(facts, id, field)?;
            if !v.is_member_of(self.team_id, date) {
                return Err(DomainError::rule(
                    rules::A12,
                    field,
                    format!(
                        "the recorder {id} is not a member of team {} on {date}",
                        self.team_id
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn live_volunteer<'a>(
    facts: &'a ActivityFacts,
    id: VolunteerId,
    field: &str,
) -> Result<&'a Volunteer, DomainError> {
    let Some(v) = facts.volunteers.get(&id).filter(|v| v.id() == Some(id)) else {
        return Err(DomainError::not_found(
            field,
            format!("volunteer {id} is not registered"),
        ));
    };
    if v.is_erased() {
        return Err(DomainError::lifecycle(
            field,
            format!("volunteer {id} was erased"),
        ));
    }
    Ok(v)
}

// ---------------------------------------------------------------------------------------------------------
// Commands and facts
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordActivity {
    pub activity: ActivityId,
    pub details: ActivityDetails,
}

/// Replace the details (the team stays the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectActivity {
    pub details: ActivityDetails,
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidActivity {
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityCommand {
    Record(RecordActivity),
    Correct(CorrectActivity),
    Void(VoidActivity),
}

/// What the application layer loads for [`ActivityCommand::Record`] and [`ActivityCommand::Correct`]: the
/// team of the details (replayed `team` stream; `None` when empty) and every participant and a volunteer
/// recorder (replayed `volunteer` streams, keyed by id; a missing key means not registered).
/// [`ActivityCommand::Void`] needs none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFacts {
    pub team: Option<Team>,
    pub volunteers: BTreeMap<VolunteerId, Volunteer>,
}

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecorded {
    pub activity_id: ActivityId,
    pub details: ActivityDetails,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityCorrected {
    /// 2 for the first correction, …
    pub revision: u32,
    pub details: ActivityDetails,
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityVoided {
    pub reason: Text,
}

domain_events! {
    /// Events of an activity.
    pub enum ActivityEvent {
        Recorded(ActivityRecorded) = ("ActivityRecorded", 1),
        Corrected(ActivityCorrected) = ("ActivityCorrected", 1),
        Voided(ActivityVoided) = ("ActivityVoided", 1),
    }
}

// ---------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------

/// The activity aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    id: Option<ActivityId>,
    details: Option<ActivityDetails>,
    revision: u32,
    voided: Option<Text>,
}

impl Activity {
    pub fn id(&self) -> Option<ActivityId> {
        self.id
    }
    pub fn is_recorded(&self) -> bool {
        self.id.is_some()
    }
    pub fn details(&self) -> Option<&ActivityDetails> {
        self.details.as_ref()
    }
    /// The team that ran and recorded the activity ("谁组织谁记录").
    pub fn team(&self) -> Option<TeamId> {
        self.details.as_ref().map(|d| d.team_id)
    }
    pub fn date(&self) -> Option<NaiveDate> {
        self.details.as_ref().map(|d| d.date)
    }
    /// 1 after recording, +1 per correction.
    pub fn revision(&self) -> u32 {
        self.revision
    }
    pub fn is_voided(&self) -> bool {
        self.voided.is_some()
    }
    pub fn void_reason(&self) -> Option<&Text> {
        self.voided.as_ref()
    }
    /// The minutes `volunteer` served in the current revision.
    pub fn minutes_of(&self, volunteer: VolunteerId) -> Option<u32> {
        self.details.as_ref()?.minutes_of(volunteer)
    }

    fn require_open(&self) -> Result<&ActivityDetails, DomainError> {
        let Some(details) = &self.details else {
            return Err(DomainError::not_found(
                "activity",
                "the activity is not recorded",
            ));
        };
        if self.voided.is_some() {
            return Err(DomainError::lifecycle(
                "activity",
                "the activity is voided; voiding is final",
            ));
        }
        Ok(details)
    }
}

impl Aggregate for Activity {
    const CATEGORY: &'static str = "activity";
    type Command = ActivityCommand;
    type Event = ActivityEvent;
    type Facts = ActivityFacts;

    fn decide(
        &self,
        command: &ActivityCommand,
        facts: &ActivityFacts,
        ctx: &Decision,
    ) -> Result<Vec<ActivityEvent>, DomainError> {
        let today = shanghai_date(ctx.received_at);
        match command {
            ActivityCommand::Record(c) => {
                if self.id.is_some() {
                    return Err(DomainError::already_exists(
                        "activity",
                        "the activity is recorded already",
                    ));
                }
                c.details.validate_shape(today)?;
                c.details.validate_facts(facts)?;
                Ok(vec![ActivityEvent::Recorded(ActivityRecorded {
                    activity_id: c.activity,
                    details: c.details.clone(),
                })])
            }
            ActivityCommand::Correct(c) => {
                let current = self.require_open()?;
                if c.details.team_id != current.team_id {
                    return Err(DomainError::lifecycle(
                        "details.team_id",
                        "an activity's team never changes; void it and record it anew",
                    ));
                }
                c.reason.check_max("reason", REASON_MAX_CHARS)?;
                if *current == c.details {
                    return Ok(vec![]);
                }
                c.details
                    .validate_shape(today)
                    .map_err(|e| e.within("details"))?;
                c.details
                    .validate_facts(facts)
                    .map_err(|e| e.within("details"))?;
                Ok(vec![ActivityEvent::Corrected(ActivityCorrected {
                    revision: self.revision.saturating_add(1),
                    details: c.details.clone(),
                    reason: c.reason.clone(),
                })])
            }
            ActivityCommand::Void(c) => {
                self.require_open()?;
                c.reason.check_max("reason", REASON_MAX_CHARS)?;
                Ok(vec![ActivityEvent::Voided(ActivityVoided {
                    reason: c.reason.clone(),
                })])
            }
        }
    }

    fn evolve(&mut self, event: &ActivityEvent) {
        match event {
            ActivityEvent::Recorded(e) => {
                self.id = Some(e.activity_id);
                self.details = Some(e.details.clone());
                self.revision = 1;
            }
            ActivityEvent::Corrected(e) => {
                self.details = Some(e.details.clone());
                self.revision = e.revision;
            }
            ActivityEvent::Voided(e) => self.voided = Some(e.reason.clone()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::DomainEvent;
    use crate::team::tests::{dissolved_team, registered_team, team_id};
    use crate::volunteer::tests::{d, erased, vol_id, volunteer};
    use crate::{ErrorKind, RuleId};
    use chrono::DateTime;
    use proptest::prelude::*;

    fn at(s: &str) -> Decision {
        Decision {
            received_at: DateTime::parse_from_rfc3339(s).unwrap().to_utc(),
        }
    }
    fn ctx() -> Decision {
        at("2024-06-01T02:00:00Z")
    }
    fn text(s: &str) -> Text {
        Text::parse("t", s, 100_000).unwrap()
    }
    pub(crate) fn act_id(n: u128) -> ActivityId {
        ActivityId(uuid::Uuid::from_u128(n))
    }
    fn hash(c: char) -> ContentHash {
        ContentHash::parse("h", &c.to_string().repeat(64)).unwrap()
    }

    /// Team 1 (registered 2024-01-10) on 2024-03-24 with volunteers 1 and 2 (60 and 90 minutes).
    pub(crate) fn details(date: &str, participants: &[(u128, u32)]) -> ActivityDetails {
        ActivityDetails {
            team_id: team_id(1),
            kind: ActivityKind::KnowledgePublicity,
            key_day: None,
            date: d(date),
            start_time: NaiveTime::from_hms_opt(9, 0, 0),
            end_time: NaiveTime::from_hms_opt(11, 30, 0),
            place: text("越城区府山街道"),
            grid: Some(text("府山-03")),
            participants: participants
                .iter()
                .map(|(v, m)| Participant {
                    volunteer_id: vol_id(*v),
                    minutes: *m,
                })
                .collect(),
            people_reached: 300,
            media_pieces: 2,
            materials_distributed: 500,
            record: ActivityRecord {
                recorder: Recorder::TeamLeader,
                content: text("结核病防治知识宣传"),
                summary: text("发放折页500份"),
                attachments: vec![hash('a')],
            },
        }
    }

    /// Team 1 and adult members 1, 2, 3 (born 1990); volunteer 4 born 2006-04-01 (turns 18 on
    /// 2024-04-01), member; volunteer 5 adult but not a member; volunteer 6 erased.
    fn facts() -> ActivityFacts {
        let mut volunteers = BTreeMap::new();
        for n in 1..=3 {
            volunteers.insert(vol_id(n), volunteer(n, "1990-01-01", Some(1)));
        }
        volunteers.insert(vol_id(4), volunteer(4, "2006-04-01", Some(1)));
        volunteers.insert(vol_id(5), volunteer(5, "1990-01-01", None));
        volunteers.insert(vol_id(6), erased(6, 1));
        ActivityFacts {
            team: Some(registered_team(1, "2024-01-10")),
            volunteers,
        }
    }

    fn record(det: ActivityDetails) -> ActivityCommand {
        ActivityCommand::Record(RecordActivity {
            activity: act_id(1),
            details: det,
        })
    }
    fn correct(det: ActivityDetails) -> ActivityCommand {
        ActivityCommand::Correct(CorrectActivity {
            details: det,
            reason: text("补录参与者"),
        })
    }
    fn void() -> ActivityCommand {
        ActivityCommand::Void(VoidActivity {
            reason: text("重复录入"),
        })
    }
    fn run(s: &mut Activity, c: ActivityCommand) -> Vec<ActivityEvent> {
        let events = s.decide(&c, &facts(), &ctx()).unwrap();
        for e in &events {
            s.evolve(e);
        }
        events
    }
    fn rejected(s: &Activity, c: ActivityCommand) -> DomainError {
        s.decide(&c, &facts(), &ctx()).unwrap_err()
    }
    fn recorded() -> Activity {
        let mut s = Activity::default();
        run(&mut s, record(details("2024-03-24", &[(1, 60), (2, 90)])));
        s
    }

    #[test]
    fn recording_an_activity_keeps_team_date_and_minutes() {
        let s = recorded();
        assert_eq!(s.team(), Some(team_id(1)));
        assert_eq!(s.date(), Some(d("2024-03-24")));
        assert_eq!(s.minutes_of(vol_id(2)), Some(90));
        assert_eq!(s.minutes_of(vol_id(3)), None);
        assert_eq!(s.revision(), 1);
    }

    #[test]
    fn recording_twice_is_rejected_as_already_existing() {
        let e = rejected(&recorded(), record(details("2024-03-24", &[(1, 60)])));
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
    }

    // ---- A7 --------------------------------------------------------------------------------------------

    #[test]
    fn a7_participant_under_18_on_activity_date_is_rejected() {
        // volunteer 4 turns 18 on 2024-04-01
        let e = rejected(
            &Activity::default(),
            record(details("2024-03-31", &[(1, 60), (2, 60), (4, 60)])),
        );
        assert_eq!(e.rule, rules::A7);
        assert_eq!(e.field, "participants[2].volunteer_id");
        assert_eq!(e.kind, ErrorKind::RuleViolation);
        assert!(e.reason.contains("2024-04-01"), "{e}");
    }

    #[test]
    fn a7_participant_turning_18_on_the_activity_date_is_accepted() {
        let mut s = Activity::default();
        run(&mut s, record(details("2024-04-01", &[(4, 60)])));
        assert_eq!(s.minutes_of(vol_id(4)), Some(60));
    }

    #[test]
    fn a7_a_correction_that_moves_the_date_before_a_participants_eighteenth_birthday_is_rejected() {
        let mut s = Activity::default();
        run(&mut s, record(details("2024-04-01", &[(4, 60)])));
        let e = rejected(&s, correct(details("2024-03-31", &[(4, 60)])));
        assert_eq!(
            (e.rule, e.field.as_str()),
            (rules::A7, "details.participants[0].volunteer_id")
        );
    }

    // ---- participants and facts -------------------------------------------------------------------------

    #[test]
    fn participant_who_is_not_a_member_of_the_team_on_the_date_is_rejected() {
        let e = rejected(
            &Activity::default(),
            record(details("2024-03-24", &[(1, 60), (5, 60)])),
        );
        assert_eq!(
            (e.rule, e.field.as_str()),
            (RuleId::LIFECYCLE, "participants[1].volunteer_id")
        );
        // volunteer 1 joined on 2024-02-01
        let e = rejected(
            &Activity::default(),
            record(details("2024-01-31", &[(1, 60)])),
        );
        assert_eq!(e.field, "participants[0].volunteer_id");
    }

    #[test]
    fn unknown_or_erased_participants_are_rejected() {
        let e = rejected(
            &Activity::default(),
            record(details("2024-03-24", &[(99, 60)])),
        );
        assert_eq!(
            (e.kind, e.field.as_str()),
            (ErrorKind::NotFound, "participants[0].volunteer_id")
        );
        let e = rejected(
            &Activity::default(),
            record(details("2024-03-24", &[(1, 5), (6, 60)])),
        );
        assert_eq!(
            (e.rule, e.field.as_str()),
            (RuleId::LIFECYCLE, "participants[1].volunteer_id")
        );
        assert!(e.reason.contains("erased"));
    }

    #[test]
    fn activity_of_an_unknown_or_inactive_team_is_rejected() {
        let mut f = facts();
        f.team = None;
        let e = Activity::default()
            .decide(&record(details("2024-03-24", &[(1, 60)])), &f, &ctx())
            .unwrap_err();
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::NotFound, "team_id"));
        f.team = Some(dissolved_team(1, "2024-01-10", "2024-03-01"));
        let e = Activity::default()
            .decide(&record(details("2024-03-24", &[(1, 60)])), &f, &ctx())
            .unwrap_err();
        assert_eq!((e.rule, e.field.as_str()), (RuleId::LIFECYCLE, "team_id"));
    }

    #[test]
    fn empty_duplicate_or_out_of_range_participants_are_rejected() {
        let e = rejected(&Activity::default(), record(details("2024-03-24", &[])));
        assert_eq!(e.field, "participants");
        let e = rejected(
            &Activity::default(),
            record(details("2024-03-24", &[(1, 60), (1, 30)])),
        );
        assert_eq!(e.field, "participants[1].volunteer_id");
        let e = rejected(
            &Activity::default(),
            record(details("2024-03-24", &[(1, 0)])),
        );
        assert_eq!(e.field, "participants[0].minutes");
        let e = rejected(
            &Activity::default(),
            record(details("2024-03-24", &[(1, 1441)])),
        );
        assert_eq!(e.field, "participants[0].minutes");
        assert!(
            Activity::default()
                .decide(
                    &record(details("2024-03-24", &[(1, 1440)])),
                    &facts(),
                    &ctx()
                )
                .is_ok()
        );
    }

    // ---- A13, A12, time ------------------------------------------------------------------------------

    #[test]
    fn a13_key_day_tag_must_match_the_activity_date() {
        let mut det = details("2024-03-24", &[(1, 60)]);
        det.key_day = Some(KeyDay::WorldTbDay);
        det.kind = ActivityKind::KeyDayCampaign;
        let mut s = Activity::default();
        run(&mut s, record(det.clone()));
        det.key_day = Some(KeyDay::VolunteerDay);
        let e = rejected(&Activity::default(), record(det));
        assert_eq!((e.rule, e.field.as_str()), (rules::A13, "key_day"));
        for (k, date) in [
            (KeyDay::VolunteerDay, "2024-03-05"),
            (KeyDay::WorldNoTobaccoDay, "2024-05-31"),
            (KeyDay::WorldAidsDay, "2023-12-01"),
        ] {
            assert!(k.falls_on(d(date)));
        }
    }

    #[test]
    fn a13_a_key_day_campaign_without_a_key_day_is_rejected() {
        let mut det = details("2024-03-24", &[(1, 60)]);
        det.kind = ActivityKind::KeyDayCampaign;
        let e = rejected(&Activity::default(), record(det));
        assert_eq!((e.rule, e.field.as_str()), (rules::A13, "key_day"));
    }

    #[test]
    fn a12_a_volunteer_recorder_must_be_a_member_of_the_team() {
        let mut det = details("2024-03-24", &[(1, 60)]);
        det.record.recorder = Recorder::Volunteer(vol_id(2));
        assert!(
            Activity::default()
                .decide(&record(det.clone()), &facts(), &ctx())
                .is_ok()
        );
        det.record.recorder = Recorder::Volunteer(vol_id(5));
        let e = rejected(&Activity::default(), record(det.clone()));
        assert_eq!((e.rule, e.field.as_str()), (rules::A12, "record.recorder"));
        det.record.recorder = Recorder::Volunteer(vol_id(99));
        assert_eq!(
            rejected(&Activity::default(), record(det)).kind,
            ErrorKind::NotFound
        );
    }

    #[test]
    fn a12_duplicate_attachments_are_rejected() {
        let mut det = details("2024-03-24", &[(1, 60)]);
        det.record.attachments = vec![hash('a'), hash('b'), hash('a')];
        let e = rejected(&Activity::default(), record(det));
        assert_eq!(e.field, "record.attachments[2]");
    }

    #[test]
    fn end_time_not_after_start_time_is_rejected() {
        let mut det = details("2024-03-24", &[(1, 60)]);
        det.end_time = det.start_time;
        assert_eq!(
            rejected(&Activity::default(), record(det)).field,
            "end_time"
        );
    }

    #[test]
    fn activity_dated_after_the_receipt_date_in_shanghai_is_rejected() {
        // 2024-03-23T16:30Z is 00:30 on 24 March in Shanghai
        let det = details("2024-03-24", &[(1, 60)]);
        assert!(
            Activity::default()
                .decide(&record(det.clone()), &facts(), &at("2024-03-23T16:30:00Z"))
                .is_ok()
        );
        let e = Activity::default()
            .decide(&record(det), &facts(), &at("2024-03-23T15:59:00Z"))
            .unwrap_err();
        assert_eq!((e.rule, e.field.as_str()), (RuleId::INPUT, "date"));
    }

    // ---- correction and voiding ------------------------------------------------------------------------

    #[test]
    fn correction_replaces_the_details_as_a_new_revision() {
        let mut s = recorded();
        let events = run(
            &mut s,
            correct(details("2024-03-24", &[(1, 60), (2, 90), (3, 30)])),
        );
        assert!(matches!(&events[..], [ActivityEvent::Corrected(c)] if c.revision == 2));
        assert_eq!(s.minutes_of(vol_id(3)), Some(30));
        assert_eq!(s.revision(), 2);
    }

    #[test]
    fn an_identical_correction_emits_nothing() {
        let s = recorded();
        let events = s
            .decide(
                &correct(details("2024-03-24", &[(1, 60), (2, 90)])),
                &facts(),
                &ctx(),
            )
            .unwrap();
        assert!(events.is_empty());
    }

    #[test]
    fn correcting_the_team_or_an_unrecorded_activity_is_rejected() {
        let mut det = details("2024-03-24", &[(1, 60)]);
        det.team_id = team_id(2);
        let e = rejected(&recorded(), correct(det));
        assert_eq!(
            (e.rule, e.field.as_str()),
            (RuleId::LIFECYCLE, "details.team_id")
        );
        let e = rejected(
            &Activity::default(),
            correct(details("2024-03-24", &[(1, 60)])),
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    #[test]
    fn correction_is_checked_like_a_recording() {
        let e = rejected(
            &recorded(),
            correct(details("2024-03-24", &[(1, 60), (5, 60)])),
        );
        assert_eq!(e.field, "details.participants[1].volunteer_id");
    }

    #[test]
    fn a_voided_activity_stays_voided_and_cannot_be_corrected() {
        let mut s = recorded();
        run(&mut s, void());
        assert!(s.is_voided());
        assert_eq!(s.void_reason(), Some(&text("重复录入")));
        let e = rejected(&s, correct(details("2024-03-24", &[(1, 60)])));
        assert_eq!(e.rule, RuleId::LIFECYCLE);
        let e = rejected(&s, void());
        assert_eq!(e.rule, RuleId::LIFECYCLE);
        let e = rejected(&s, record(details("2024-03-24", &[(1, 60)])));
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn voiding_an_unrecorded_activity_is_rejected() {
        assert_eq!(
            rejected(&Activity::default(), void()).kind,
            ErrorKind::NotFound
        );
    }

    // ---- golden JSON ----------------------------------------------------------------------------------

    fn golden(e: &ActivityEvent, ty: &str, json: &str) {
        assert_eq!(e.event_type(), ty);
        assert_eq!(e.schema_version(), 1);
        assert_eq!(e.to_payload().unwrap(), json, "payload of {ty}");
        assert_eq!(&ActivityEvent::from_payload(ty, 1, json).unwrap(), e);
    }

    #[test]
    fn golden_json_of_every_activity_event() {
        let mut det = details("2024-03-24", &[(1, 60)]);
        det.kind = ActivityKind::KeyDayCampaign;
        det.key_day = Some(KeyDay::WorldTbDay);
        let a = "a".repeat(64);
        let dj = format!(
            r#"{{"team_id":"00000000-0000-0000-0000-000000000001","kind":"key_day_campaign","key_day":"world_tb_day_03_24","date":"2024-03-24","start_time":"09:00:00","end_time":"11:30:00","place":"越城区府山街道","grid":"府山-03","participants":[{{"volunteer_id":"00000000-0000-0000-0000-000000000001","minutes":60}}],"people_reached":300,"media_pieces":2,"materials_distributed":500,"record":{{"recorder":"team_leader","content":"结核病防治知识宣传","summary":"发放折页500份","attachments":["{a}"]}}}}"#
        );
        golden(
            &ActivityEvent::Recorded(ActivityRecorded {
                activity_id: act_id(7),
                details: det.clone(),
            }),
            "ActivityRecorded",
            &format!(r#"{{"activity_id":"00000000-0000-0000-0000-000000000007","details":{dj}}}"#),
        );
        let mut det2 = det;
        det2.record.recorder = Recorder::Volunteer(vol_id(2));
        det2.key_day = None;
        det2.kind = ActivityKind::SummerPractice;
        det2.start_time = None;
        det2.end_time = None;
        det2.grid = None;
        let dj2 = dj
            .replace(
                r#""kind":"key_day_campaign","key_day":"world_tb_day_03_24""#,
                r#""kind":"summer_practice","key_day":null"#,
            )
            .replace(
                r#""start_time":"09:00:00","end_time":"11:30:00""#,
                r#""start_time":null,"end_time":null"#,
            )
            .replace(r#""grid":"府山-03""#, r#""grid":null"#)
            .replace(
                r#""recorder":"team_leader""#,
                r#""recorder":{"volunteer":"00000000-0000-0000-0000-000000000002"}"#,
            );
        golden(
            &ActivityEvent::Corrected(ActivityCorrected {
                revision: 2,
                details: det2,
                reason: text("补录"),
            }),
            "ActivityCorrected",
            &format!(r#"{{"revision":2,"details":{dj2},"reason":"补录"}}"#),
        );
        golden(
            &ActivityEvent::Voided(ActivityVoided {
                reason: text("重复录入"),
            }),
            "ActivityVoided",
            r#"{"reason":"重复录入"}"#,
        );
        assert_eq!(ActivityEvent::TYPES.len(), 3);
    }

    // ---- properties -----------------------------------------------------------------------------------

    proptest! {
        #[test]
        fn a_voided_activity_stays_voided_and_decisions_hold_after_replay(
            steps in proptest::collection::vec((0u8..3, 1u128..6, 1u32..2000, 0i64..120), 0..30),
        ) {
            let mut s = Activity::default();
            let mut history: Vec<ActivityEvent> = Vec::new();
            let f = facts();
            for (op, v, minutes, offset) in steps {
                let date = (d("2024-02-15") + chrono::Duration::days(offset)).to_string();
                let det = details(&date, &[(v, minutes)]);
                let cmd = match op {
                    0 => record(det),
                    1 => correct(det),
                    _ => void(),
                };
                let was_voided = s.is_voided();
                match s.decide(&cmd, &f, &ctx()) {
                    Ok(events) => {
                        prop_assert!(!was_voided);
                        for e in &events { s.evolve(e); }
                        history.extend(events);
                        prop_assert_eq!(&Activity::replay(&history), &s);
                        match &cmd {
                            ActivityCommand::Record(RecordActivity { details, .. })
                            | ActivityCommand::Correct(CorrectActivity { details, .. }) => {
                                prop_assert_eq!(s.details(), Some(details));
                                // every participant was an adult member on the date
                                for p in &details.participants {
                                    let vol = &f.volunteers[&p.volunteer_id];
                                    prop_assert!(vol.is_adult_on(details.date));
                                    prop_assert!(vol.is_member_of(details.team_id, details.date));
                                    prop_assert!((1..=MAX_MINUTES).contains(&p.minutes));
                                }
                            }
                            ActivityCommand::Void(_) => prop_assert!(s.is_voided()),
                        }
                    }
                    Err(_) => prop_assert_eq!(&Activity::replay(&history), &s),
                }
                if was_voided {
                    prop_assert!(s.is_voided());
                }
            }
        }
    }
}

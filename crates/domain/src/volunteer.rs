//! # Volunteer (志愿者) — rules A7, A8, A11, B4, B7; 志愿服务条例, 记录与证明出具办法, PIPL
//!
//! Policy of this module:
//! - Stream category `"volunteer"`, instance id = [`VolunteerId`].
//! - **Registration (A7, A8).** The caller verifies the identity document first
//!   ([`crate::identity::verify`]) and passes its kind and birth date. The volunteer must be 18 or older on
//!   `registered_on` (A7). The event stores only [`adult_on`](crate::identity::adult_on) — never the birth
//!   date or the document number; name, number, phone, … travel as one [`Sealed`] bundle. The A8
//!   attestation (law-abiding, capable, understands the TB core messages) must be true on all three counts.
//!   The registration date cannot be after the receipt date (Asia/Shanghai). A reserve tier records B4's
//!   first-echelon reserve.
//! - **Memberships** live on the volunteer: [`JoinTeam`] from `joined_on` (inclusive), [`LeaveTeam`] on
//!   `left_on` (the first day no longer a member). A volunteer cannot join before registering, cannot hold
//!   two overlapping memberships of one team, and can only join a team that is active on `joined_on`
//!   ([`VolunteerFacts`]). [`Volunteer::is_member_of`] answers for any date.
//! - **Trainings (A11)** record a training id, date and topics (TB core messages, activity methods,
//!   recording, other); a training is recorded once.
//! - **Qualifications (B7).** Doctors, nurses, pharmacists, drivers and dispatchers need a recorded
//!   qualification (certificate reference [`Sealed`], valid from a date); drivers also need
//!   `passed_training_on` before they may serve ([`Volunteer::may_serve_as`]). A later record for the same
//!   role supersedes the earlier one.
//! - **Corrections** (记录与证明出具办法): a volunteer asks to correct a service record of an activity; the
//!   organisation resolves it as accepted or rejected with a note. Both are new events; nothing is edited.
//! - **Erasure (PIPL).** [`EraseVolunteer`] marks the person erased: the application destroys the person's
//!   data key, so every [`Sealed`] value becomes unreadable. Afterwards every command is rejected; dates,
//!   memberships and counts stay so statistics survive.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::campaign::shanghai_date;
use crate::domain_events;
use crate::error::DomainError;
use crate::identity::{self, DocumentKind};
use crate::ids::{
    ActivityId, CorrectionId, RegionCode, Sealed, TeamId, Text, TrainingId, VolunteerId,
};
use crate::rules;
use crate::team::Team;

/// Most skills one volunteer lists.
pub const MAX_SKILLS: usize = 20;
/// Longest skill, in characters.
pub const SKILL_MAX_CHARS: usize = 50;
/// Longest correction request / note / erasure reason, in characters.
pub const TEXT_MAX_CHARS: usize = 2_000;

/// A8: the eligibility conditions besides age, attested at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// 遵纪守法.
    pub law_abiding: bool,
    /// 具备相应能力 (health, capacity).
    pub capable: bool,
    /// 了解结核病防治核心信息.
    pub understands_tb_core_messages: bool,
}

/// B4: reserve tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReserveTier {
    #[default]
    None,
    /// 第一梯队储备志愿者.
    FirstEchelon,
}

/// A11: what a training covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainingTopic {
    TbCoreMessages,
    ActivityMethods,
    Recording,
    Other,
}

/// B7: professional roles that need a qualification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfessionalRole {
    Doctor,
    Nurse,
    Pharmacist,
    Driver,
    Dispatcher,
}

/// How a correction request was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionOutcome {
    Accepted,
    Rejected,
}

// ---------------------------------------------------------------------------------------------------------
// Commands and facts
// ---------------------------------------------------------------------------------------------------------

/// Register a volunteer. `document_kind` and `birth_date` come from a [`identity::VerifiedIdentity`]; the
/// birth date is only used to derive `adult_on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterVolunteer {
    pub volunteer: VolunteerId,
    pub document_kind: DocumentKind,
    pub birth_date: NaiveDate,
    /// Name, document number, phone, … sealed with the person's data key.
    pub personal: Sealed,
    pub home_region: RegionCode,
    pub attestation: Attestation,
    pub skills: Vec<Text>,
    pub reserve_tier: ReserveTier,
    pub registered_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinTeam {
    pub team: TeamId,
    /// First day of the membership.
    pub joined_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveTeam {
    pub team: TeamId,
    /// First day the volunteer is no longer a member.
    pub left_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTraining {
    pub training: TrainingId,
    pub on: NaiveDate,
    pub topics: Vec<TrainingTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordQualification {
    pub role: ProfessionalRole,
    /// Reference to the certificate (number, issuer), sealed.
    pub certificate: Sealed,
    pub valid_from: NaiveDate,
    /// B7: drivers serve only after passing training; `None` for other roles.
    pub passed_training_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCorrection {
    pub correction: CorrectionId,
    pub activity: ActivityId,
    pub requested_change: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveCorrection {
    pub correction: CorrectionId,
    pub outcome: CorrectionOutcome,
    pub note: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EraseVolunteer {
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolunteerCommand {
    Register(RegisterVolunteer),
    JoinTeam(JoinTeam),
    LeaveTeam(LeaveTeam),
    RecordTraining(RecordTraining),
    RecordQualification(RecordQualification),
    RequestCorrection(RequestCorrection),
    ResolveCorrection(ResolveCorrection),
    Erase(EraseVolunteer),
}

/// Facts for [`VolunteerCommand::JoinTeam`]: the team named by the command, replayed from its `team`
/// stream (`None` when the stream is empty). Other commands pass `VolunteerFacts::default()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolunteerFacts {
    pub team: Option<Team>,
}

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerRegistered {
    pub volunteer_id: VolunteerId,
    pub document_kind: DocumentKind,
    /// A7: the day the volunteer turns 18. The birth date itself is never stored.
    pub adult_on: NaiveDate,
    pub personal: Sealed,
    pub home_region: RegionCode,
    pub attestation: Attestation,
    pub skills: Vec<Text>,
    pub reserve_tier: ReserveTier,
    pub registered_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerJoinedTeam {
    pub team_id: TeamId,
    pub joined_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerLeftTeam {
    pub team_id: TeamId,
    pub left_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerTrainingRecorded {
    pub training_id: TrainingId,
    pub on: NaiveDate,
    pub topics: Vec<TrainingTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerQualificationRecorded {
    pub role: ProfessionalRole,
    pub certificate: Sealed,
    pub valid_from: NaiveDate,
    pub passed_training_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecordCorrectionRequested {
    pub correction_id: CorrectionId,
    pub activity_id: ActivityId,
    pub requested_change: Text,
    /// The service's receipt time of the request.
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecordCorrectionResolved {
    pub correction_id: CorrectionId,
    pub outcome: CorrectionOutcome,
    pub note: Text,
    pub resolved_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerErased {
    pub reason: Text,
    pub erased_at: DateTime<Utc>,
}

domain_events! {
    /// Events of a volunteer.
    pub enum VolunteerEvent {
        Registered(VolunteerRegistered) = ("VolunteerRegistered", 1),
        JoinedTeam(VolunteerJoinedTeam) = ("VolunteerJoinedTeam", 1),
        LeftTeam(VolunteerLeftTeam) = ("VolunteerLeftTeam", 1),
        TrainingRecorded(VolunteerTrainingRecorded) = ("VolunteerTrainingRecorded", 1),
        QualificationRecorded(VolunteerQualificationRecorded) = ("VolunteerQualificationRecorded", 1),
        CorrectionRequested(ServiceRecordCorrectionRequested) = ("ServiceRecordCorrectionRequested", 1),
        CorrectionResolved(ServiceRecordCorrectionResolved) = ("ServiceRecordCorrectionResolved", 1),
        Erased(VolunteerErased) = ("VolunteerErased", 1),
    }
}

// ---------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------

/// A membership period: from `joined_on` (inclusive) until `left_on` (exclusive; `None` while it lasts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub team: TeamId,
    pub joined_on: NaiveDate,
    pub left_on: Option<NaiveDate>,
}

impl Membership {
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.joined_on <= date && self.left_on.is_none_or(|l| date < l)
    }
}

/// A recorded training (A11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Training {
    pub training: TrainingId,
    pub on: NaiveDate,
    pub topics: Vec<TrainingTopic>,
}

/// The qualification in force for a role (B7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qualification {
    pub certificate: Sealed,
    pub valid_from: NaiveDate,
    pub passed_training_on: Option<NaiveDate>,
}

/// A correction request and its resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub activity: ActivityId,
    pub requested_change: Text,
    pub requested_at: DateTime<Utc>,
    pub resolution: Option<(CorrectionOutcome, Text)>,
}

/// The volunteer aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Volunteer {
    id: Option<VolunteerId>,
    document_kind: Option<DocumentKind>,
    adult_on: Option<NaiveDate>,
    personal: Option<Sealed>,
    home_region: Option<RegionCode>,
    skills: Vec<Text>,
    reserve_tier: ReserveTier,
    registered_on: Option<NaiveDate>,
    memberships: Vec<Membership>,
    trainings: Vec<Training>,
    qualifications: BTreeMap<ProfessionalRole, Qualification>,
    corrections: BTreeMap<CorrectionId, Correction>,
    erased: bool,
}

impl Volunteer {
    pub fn id(&self) -> Option<VolunteerId> {
        self.id
    }
    pub fn is_registered(&self) -> bool {
        self.id.is_some()
    }
    pub fn is_erased(&self) -> bool {
        self.erased
    }
    pub fn document_kind(&self) -> Option<DocumentKind> {
        self.document_kind
    }
    /// A7: the day the volunteer turns 18.
    pub fn adult_on(&self) -> Option<NaiveDate> {
        self.adult_on
    }
    /// A7: 18 or older on `date`.
    pub fn is_adult_on(&self, date: NaiveDate) -> bool {
        self.adult_on.is_some_and(|a| a <= date)
    }
    pub fn personal(&self) -> Option<&Sealed> {
        self.personal.as_ref()
    }
    pub fn home_region(&self) -> Option<RegionCode> {
        self.home_region
    }
    pub fn skills(&self) -> &[Text] {
        &self.skills
    }
    pub fn reserve_tier(&self) -> ReserveTier {
        self.reserve_tier
    }
    pub fn registered_on(&self) -> Option<NaiveDate> {
        self.registered_on
    }
    pub fn memberships(&self) -> &[Membership] {
        &self.memberships
    }
    /// Member of `team` on `date` (joined on or before it, not yet left).
    pub fn is_member_of(&self, team: TeamId, date: NaiveDate) -> bool {
        self.memberships
            .iter()
            .any(|m| m.team == team && m.covers(date))
    }
    /// The teams the volunteer is a member of on `date`.
    pub fn teams_on(&self, date: NaiveDate) -> impl Iterator<Item = TeamId> + '_ {
        self.memberships
            .iter()
            .filter(move |m| m.covers(date))
            .map(|m| m.team)
    }
    pub fn trainings(&self) -> &[Training] {
        &self.trainings
    }
    pub fn qualification(&self, role: ProfessionalRole) -> Option<&Qualification> {
        self.qualifications.get(&role)
    }
    /// B7: holds a qualification for `role` valid on `date` and, for drivers, passed training on or
    /// before `date`. An erased volunteer serves in no role.
    pub fn may_serve_as(&self, role: ProfessionalRole, date: NaiveDate) -> bool {
        if self.erased {
            return false;
        }
        self.qualifications.get(&role).is_some_and(|q| {
            q.valid_from <= date
                && (role != ProfessionalRole::Driver
                    || q.passed_training_on.is_some_and(|p| p <= date))
        })
    }
    pub fn corrections(&self) -> &BTreeMap<CorrectionId, Correction> {
        &self.corrections
    }

    fn require_live(&self) -> Result<(), DomainError> {
        if self.id.is_none() {
            return Err(DomainError::not_found(
                "volunteer",
                "the volunteer is not registered",
            ));
        }
        if self.erased {
            return Err(DomainError::lifecycle(
                "volunteer",
                "the volunteer's personal data was erased; no further changes are accepted",
            ));
        }
        Ok(())
    }

    fn decide_register(
        &self,
        c: &RegisterVolunteer,
        ctx: &Decision,
    ) -> Result<Vec<VolunteerEvent>, DomainError> {
        if self.id.is_some() {
            return Err(DomainError::already_exists(
                "volunteer",
                "the volunteer is registered already",
            ));
        }
        if c.personal.0.is_empty() {
            return Err(DomainError::invalid("personal", "must not be empty"));
        }
        let today = shanghai_date(ctx.received_at);
        if c.registered_on > today {
            return Err(DomainError::invalid(
                "registered_on",
                format!(
                    "{} is after today ({today}, Asia/Shanghai)",
                    c.registered_on
                ),
            ));
        }
        if c.birth_date > c.registered_on {
            return Err(DomainError::invalid(
                "birth_date",
                "is after the registration date",
            ));
        }
        let adult_on = identity::adult_on(c.birth_date);
        if adult_on > c.registered_on {
            return Err(DomainError::rule(
                rules::A7,
                "birth_date",
                format!(
                    "a volunteer must be 18 or older at registration; turns 18 on {adult_on}, registering on {}",
                    c.registered_on
                ),
            ));
        }
        for (field, ok) in [
            ("attestation.law_abiding", c.attestation.law_abiding),
            ("attestation.capable", c.attestation.capable),
            (
                "attestation.understands_tb_core_messages",
                c.attestation.understands_tb_core_messages,
            ),
        ] {
            if !ok {
                return Err(DomainError::rule(
                    rules::A8,
                    field,
                    "all three A8 conditions must be attested",
                ));
            }
        }
        if c.skills.len() > MAX_SKILLS {
            return Err(DomainError::invalid(
                "skills",
                format!("at most {MAX_SKILLS} skills"),
            ));
        }
        for (i, s) in c.skills.iter().enumerate() {
            let field = format!("skills[{i}]");
            s.check_max(&field, SKILL_MAX_CHARS)?;
            if c.skills[..i].contains(s) {
                return Err(DomainError::invalid(field, "listed twice"));
            }
        }
        Ok(vec![VolunteerEvent::Registered(VolunteerRegistered {
            volunteer_id: c.volunteer,
            document_kind: c.document_kind,
            adult_on,
            personal: c.personal.clone(),
            home_region: c.home_region,
            attestation: c.attestation,
            skills: c.skills.clone(),
            reserve_tier: c.reserve_tier,
            registered_on: c.registered_on,
        })])
    }

    fn decide_join(
        &self,
        c: &JoinTeam,
        facts: &VolunteerFacts,
    ) -> Result<Vec<VolunteerEvent>, DomainError> {
        self.require_live()?;
        if let Some(r) = self.registered_on.filter(|r| c.joined_on < *r) {
            return Err(DomainError::invalid(
                "joined_on",
                format!("{} is before the volunteer registered on {r}", c.joined_on),
            ));
        }
        if let Some(m) = self
            .memberships
            .iter()
            .find(|m| m.team == c.team && m.left_on.is_none_or(|l| c.joined_on < l))
        {
            return Err(DomainError::lifecycle(
                "team",
                format!(
                    "already a member of team {} from {}{}",
                    c.team,
                    m.joined_on,
                    m.left_on.map(|l| format!(" until {l}")).unwrap_or_default()
                ),
            ));
        }
        let Some(team) = facts.team.as_ref().filter(|t| t.id() == Some(c.team)) else {
            return Err(DomainError::not_found(
                "team",
                format!("team {} is not registered", c.team),
            ));
        };
        if !team.is_active_on(c.joined_on) {
            return Err(DomainError::lifecycle(
                "team",
                format!("team {} is not active on {}", c.team, c.joined_on),
            ));
        }
        Ok(vec![VolunteerEvent::JoinedTeam(VolunteerJoinedTeam {
            team_id: c.team,
            joined_on: c.joined_on,
        })])
    }
}

impl Aggregate for Volunteer {
    const CATEGORY: &'static str = "volunteer";
    type Command = VolunteerCommand;
    type Event = VolunteerEvent;
    type Facts = VolunteerFacts;

    fn decide(
        &self,
        command: &VolunteerCommand,
        facts: &VolunteerFacts,
        ctx: &Decision,
    ) -> Result<Vec<VolunteerEvent>, DomainError> {
        match command {
            VolunteerCommand::Register(c) => self.decide_register(c, ctx),
            VolunteerCommand::JoinTeam(c) => self.decide_join(c, facts),
            VolunteerCommand::LeaveTeam(c) => {
                self.require_live()?;
                let Some(m) = self
                    .memberships
                    .iter()
                    .find(|m| m.team == c.team && m.left_on.is_none())
                else {
                    return Err(DomainError::lifecycle(
                        "team",
                        format!("not a member of team {}", c.team),
                    ));
                };
                if c.left_on <= m.joined_on {
                    return Err(DomainError::invalid(
                        "left_on",
                        format!("must be after the membership's start {}", m.joined_on),
                    ));
                }
                Ok(vec![VolunteerEvent::LeftTeam(VolunteerLeftTeam {
                    team_id: c.team,
                    left_on: c.left_on,
                })])
            }
            VolunteerCommand::RecordTraining(c) => {
                self.require_live()?;
                if self.trainings.iter().any(|t| t.training == c.training) {
                    return Err(DomainError::already_exists(
                        "training",
                        format!("training {} is recorded already", c.training),
                    ));
                }
                if c.topics.is_empty() {
                    return Err(DomainError::invalid_by(
                        rules::A11,
                        "topics",
                        "name at least one topic",
                    ));
                }
                for (i, t) in c.topics.iter().enumerate() {
                    if c.topics[..i].contains(t) {
                        return Err(DomainError::invalid(format!("topics[{i}]"), "listed twice"));
                    }
                }
                Ok(vec![VolunteerEvent::TrainingRecorded(
                    VolunteerTrainingRecorded {
                        training_id: c.training,
                        on: c.on,
                        topics: c.topics.clone(),
                    },
                )])
            }
            VolunteerCommand::RecordQualification(c) => {
                self.require_live()?;
                if c.certificate.0.is_empty() {
                    return Err(DomainError::invalid_by(
                        rules::B7,
                        "certificate",
                        "a professional volunteer needs a recorded qualification",
                    ));
                }
                if c.role != ProfessionalRole::Driver && c.passed_training_on.is_some() {
                    return Err(DomainError::invalid_by(
                        rules::B7,
                        "passed_training_on",
                        "only drivers record a passed training",
                    ));
                }
                Ok(vec![VolunteerEvent::QualificationRecorded(
                    VolunteerQualificationRecorded {
                        role: c.role,
                        certificate: c.certificate.clone(),
                        valid_from: c.valid_from,
                        passed_training_on: c.passed_training_on,
                    },
                )])
            }
            VolunteerCommand::RequestCorrection(c) => {
                self.require_live()?;
                if self.corrections.contains_key(&c.correction) {
                    return Err(DomainError::already_exists(
                        "correction",
                        format!("correction {} exists already", c.correction),
                    ));
                }
                c.requested_change
                    .check_max("requested_change", TEXT_MAX_CHARS)?;
                Ok(vec![VolunteerEvent::CorrectionRequested(
                    ServiceRecordCorrectionRequested {
                        correction_id: c.correction,
                        activity_id: c.activity,
                        requested_change: c.requested_change.clone(),
                        requested_at: ctx.received_at,
                    },
                )])
            }
            VolunteerCommand::ResolveCorrection(c) => {
                self.require_live()?;
                let Some(existing) = self.corrections.get(&c.correction) else {
                    return Err(DomainError::not_found(
                        "correction",
                        format!("no correction {} was requested", c.correction),
                    ));
                };
                if existing.resolution.is_some() {
                    return Err(DomainError::lifecycle(
                        "correction",
                        format!("correction {} is resolved already", c.correction),
                    ));
                }
                c.note.check_max("note", TEXT_MAX_CHARS)?;
                Ok(vec![VolunteerEvent::CorrectionResolved(
                    ServiceRecordCorrectionResolved {
                        correction_id: c.correction,
                        outcome: c.outcome,
                        note: c.note.clone(),
                        resolved_at: ctx.received_at,
                    },
                )])
            }
            VolunteerCommand::Erase(c) => {
                self.require_live()?;
                c.reason.check_max("reason", TEXT_MAX_CHARS)?;
                Ok(vec![VolunteerEvent::Erased(VolunteerErased {
                    reason: c.reason.clone(),
                    erased_at: ctx.received_at,
                })])
            }
        }
    }

    fn evolve(&mut self, event: &VolunteerEvent) {
        match event {
            VolunteerEvent::Registered(e) => {
                self.id = Some(e.volunteer_id);
                self.document_kind = Some(e.document_kind);
                self.adult_on = Some(e.adult_on);
                self.personal = Some(e.personal.clone());
                self.home_region = Some(e.home_region);
                self.skills = e.skills.clone();
                self.reserve_tier = e.reserve_tier;
                self.registered_on = Some(e.registered_on);
            }
            VolunteerEvent::JoinedTeam(e) => self.memberships.push(Membership {
                team: e.team_id,
                joined_on: e.joined_on,
                left_on: None,
            }),
            VolunteerEvent::LeftTeam(e) => {
                if let Some(m) = self
                    .memberships
                    .iter_mut()
                    .find(|m| m.team == e.team_id && m.left_on.is_none())
                {
                    m.left_on = Some(e.left_on);
                }
            }
            VolunteerEvent::TrainingRecorded(e) => self.trainings.push(Training {
                training: e.training_id,
                on: e.on,
                topics: e.topics.clone(),
            }),
            VolunteerEvent::QualificationRecorded(e) => {
                self.qualifications.insert(
                    e.role,
                    Qualification {
                        certificate: e.certificate.clone(),
                        valid_from: e.valid_from,
                        passed_training_on: e.passed_training_on,
                    },
                );
            }
            VolunteerEvent::CorrectionRequested(e) => {
                self.corrections.insert(
                    e.correction_id,
                    Correction {
                        activity: e.activity_id,
                        requested_change: e.requested_change.clone(),
                        requested_at: e.requested_at,
                        resolution: None,
                    },
                );
            }
            VolunteerEvent::CorrectionResolved(e) => {
                if let Some(c) = self.corrections.get_mut(&e.correction_id) {
                    c.resolution = Some((e.outcome, e.note.clone()));
                }
            }
            VolunteerEvent::Erased(_) => self.erased = true,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::DomainEvent;
    use crate::team::tests::{dissolved_team, registered_team, team_id};
    use crate::{ErrorKind, RuleId};
    use proptest::prelude::*;

    pub(crate) fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn ctx() -> Decision {
        at("2024-06-01T02:00:00Z")
    }
    fn at(s: &str) -> Decision {
        Decision {
            received_at: DateTime::parse_from_rfc3339(s).unwrap().to_utc(),
        }
    }
    fn text(s: &str) -> Text {
        Text::parse("t", s, 10_000).unwrap()
    }
    pub(crate) fn vol_id(n: u128) -> VolunteerId {
        VolunteerId(uuid::Uuid::from_u128(n))
    }
    fn attest() -> Attestation {
        Attestation {
            law_abiding: true,
            capable: true,
            understands_tb_core_messages: true,
        }
    }
    fn register(birth: &str, on: &str) -> VolunteerCommand {
        VolunteerCommand::Register(RegisterVolunteer {
            volunteer: vol_id(1),
            document_kind: DocumentKind::ResidentIdCard,
            birth_date: d(birth),
            personal: Sealed("sealed:person".into()),
            home_region: RegionCode::parse("r", "330602").unwrap(),
            attestation: attest(),
            skills: vec![text("急救")],
            reserve_tier: ReserveTier::FirstEchelon,
            registered_on: d(on),
        })
    }
    fn join(team: u128, on: &str) -> VolunteerCommand {
        VolunteerCommand::JoinTeam(JoinTeam {
            team: team_id(team),
            joined_on: d(on),
        })
    }
    fn leave(team: u128, on: &str) -> VolunteerCommand {
        VolunteerCommand::LeaveTeam(LeaveTeam {
            team: team_id(team),
            left_on: d(on),
        })
    }
    fn team_facts(n: u128) -> VolunteerFacts {
        VolunteerFacts {
            team: Some(registered_team(n, "2024-01-10")),
        }
    }
    fn run(s: &mut Volunteer, c: VolunteerCommand, f: &VolunteerFacts) -> Vec<VolunteerEvent> {
        let events = s.decide(&c, f, &ctx()).unwrap();
        for e in &events {
            s.evolve(e);
        }
        events
    }
    fn rejected(s: &Volunteer, c: VolunteerCommand, f: &VolunteerFacts) -> DomainError {
        s.decide(&c, f, &ctx()).unwrap_err()
    }
    fn none() -> VolunteerFacts {
        VolunteerFacts::default()
    }

    /// A volunteer born on `birth`, registered on 2024-02-01, optionally a member of `team` from
    /// 2024-02-01 (for other modules' tests).
    pub(crate) fn volunteer(n: u128, birth: &str, team: Option<u128>) -> Volunteer {
        let mut events = vec![VolunteerEvent::Registered(VolunteerRegistered {
            volunteer_id: vol_id(n),
            document_kind: DocumentKind::ResidentIdCard,
            adult_on: identity::adult_on(d(birth)),
            personal: Sealed("s".into()),
            home_region: RegionCode::parse("r", "330602").unwrap(),
            attestation: attest(),
            skills: vec![],
            reserve_tier: ReserveTier::None,
            registered_on: d("2024-02-01"),
        })];
        if let Some(t) = team {
            events.push(VolunteerEvent::JoinedTeam(VolunteerJoinedTeam {
                team_id: team_id(t),
                joined_on: d("2024-02-01"),
            }));
        }
        Volunteer::replay(&events)
    }

    /// `volunteer(..)` then erased.
    pub(crate) fn erased(n: u128, team: u128) -> Volunteer {
        let mut v = volunteer(n, "1990-01-01", Some(team));
        v.evolve(&VolunteerEvent::Erased(VolunteerErased {
            reason: text("本人申请"),
            erased_at: ctx().received_at,
        }));
        v
    }

    fn registered() -> Volunteer {
        let mut s = Volunteer::default();
        run(&mut s, register("1990-05-20", "2024-02-01"), &none());
        s
    }

    // ---- registration: A7, A8 ---------------------------------------------------------------------------

    #[test]
    fn a7_registration_stores_adult_on_and_never_the_birth_date() {
        let mut s = Volunteer::default();
        let events = run(&mut s, register("1990-05-20", "2024-02-01"), &none());
        assert_eq!(s.adult_on(), Some(d("2008-05-20")));
        let json = events[0].to_payload().unwrap();
        assert!(json.contains("\"adult_on\":\"2008-05-20\""), "{json}");
        assert!(!json.contains("1990"), "{json}");
        assert_eq!(s.registered_on(), Some(d("2024-02-01")));
        assert_eq!(s.reserve_tier(), ReserveTier::FirstEchelon);
    }

    #[test]
    fn a7_registration_on_the_eighteenth_birthday_is_accepted() {
        let mut s = Volunteer::default();
        run(&mut s, register("2006-02-01", "2024-02-01"), &none());
        assert!(s.is_adult_on(d("2024-02-01")));
    }

    #[test]
    fn a7_registration_the_day_before_the_eighteenth_birthday_is_rejected() {
        let e = rejected(
            &Volunteer::default(),
            register("2006-02-02", "2024-02-01"),
            &none(),
        );
        assert_eq!((e.rule, e.field.as_str()), (rules::A7, "birth_date"));
        assert_eq!(e.kind, ErrorKind::RuleViolation);
    }

    #[test]
    fn a7_a_29_february_birthday_is_adult_on_1_march() {
        let e = rejected(
            &Volunteer::default(),
            register("2004-02-29", "2022-02-28"),
            &none(),
        );
        assert_eq!(e.rule, rules::A7);
        let mut s = Volunteer::default();
        run(&mut s, register("2004-02-29", "2022-03-01"), &none());
        assert_eq!(s.adult_on(), Some(d("2022-03-01")));
    }

    #[test]
    fn a8_every_attestation_must_be_true() {
        for i in 0..3 {
            let mut c = register("1990-05-20", "2024-02-01");
            if let VolunteerCommand::Register(r) = &mut c {
                match i {
                    0 => r.attestation.law_abiding = false,
                    1 => r.attestation.capable = false,
                    _ => r.attestation.understands_tb_core_messages = false,
                }
            }
            let e = rejected(&Volunteer::default(), c, &none());
            assert_eq!(e.rule, rules::A8);
            assert!(e.field.starts_with("attestation."), "{}", e.field);
        }
    }

    #[test]
    fn registration_dated_after_today_in_shanghai_is_rejected() {
        // received 2024-06-01T02:00Z = 10:00 on 1 June in Shanghai
        let e = rejected(
            &Volunteer::default(),
            register("1990-05-20", "2024-06-02"),
            &none(),
        );
        assert_eq!(e.field, "registered_on");
        // 2024-05-31T16:30Z is already 1 June in Shanghai
        assert!(
            Volunteer::default()
                .decide(
                    &register("1990-05-20", "2024-06-01"),
                    &none(),
                    &at("2024-05-31T16:30:00Z")
                )
                .is_ok()
        );
    }

    #[test]
    fn registering_twice_is_rejected_as_already_existing() {
        let e = rejected(&registered(), register("1990-05-20", "2024-02-01"), &none());
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn duplicate_or_overlong_skills_are_rejected() {
        let mut c = register("1990-05-20", "2024-02-01");
        if let VolunteerCommand::Register(r) = &mut c {
            r.skills = vec![text("急救"), text("急救")];
        }
        assert_eq!(
            rejected(&Volunteer::default(), c.clone(), &none()).field,
            "skills[1]"
        );
        if let VolunteerCommand::Register(r) = &mut c {
            r.skills = vec![text(&"技".repeat(SKILL_MAX_CHARS + 1))];
        }
        assert_eq!(
            rejected(&Volunteer::default(), c, &none()).field,
            "skills[0]"
        );
    }

    // ---- memberships ----------------------------------------------------------------------------------

    #[test]
    fn joining_an_active_team_makes_a_member_from_that_date() {
        let mut s = registered();
        run(&mut s, join(1, "2024-03-01"), &team_facts(1));
        assert!(!s.is_member_of(team_id(1), d("2024-02-29")));
        assert!(s.is_member_of(team_id(1), d("2024-03-01")));
        assert!(!s.is_member_of(team_id(2), d("2024-03-01")));
        assert_eq!(
            s.teams_on(d("2024-03-01")).collect::<Vec<_>>(),
            vec![team_id(1)]
        );
    }

    #[test]
    fn leaving_ends_membership_from_the_leaving_date() {
        let mut s = registered();
        run(&mut s, join(1, "2024-03-01"), &team_facts(1));
        run(&mut s, leave(1, "2024-05-01"), &none());
        assert!(s.is_member_of(team_id(1), d("2024-04-30")));
        assert!(!s.is_member_of(team_id(1), d("2024-05-01")));
        // and rejoining later is a new period
        run(&mut s, join(1, "2024-06-01"), &team_facts(1));
        assert!(s.is_member_of(team_id(1), d("2024-06-01")));
        assert!(!s.is_member_of(team_id(1), d("2024-05-15")));
    }

    #[test]
    fn joining_the_same_team_twice_overlapping_is_rejected() {
        let mut s = registered();
        run(&mut s, join(1, "2024-03-01"), &team_facts(1));
        let e = rejected(&s, join(1, "2024-04-01"), &team_facts(1));
        assert_eq!((e.rule, e.field.as_str()), (RuleId::LIFECYCLE, "team"));
        run(&mut s, leave(1, "2024-05-01"), &none());
        // a new period starting before the old one ended overlaps
        let e = rejected(&s, join(1, "2024-04-30"), &team_facts(1));
        assert_eq!(e.field, "team");
        // a second team at the same time is fine
        run(&mut s, join(2, "2024-03-15"), &team_facts(2));
    }

    #[test]
    fn joining_before_registration_is_rejected() {
        let e = rejected(&registered(), join(1, "2024-01-31"), &team_facts(1));
        assert_eq!(e.field, "joined_on");
    }

    #[test]
    fn joining_an_unknown_or_inactive_team_is_rejected() {
        let e = rejected(&registered(), join(1, "2024-03-01"), &none());
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::NotFound, "team"));
        // facts for a different team
        let e = rejected(&registered(), join(1, "2024-03-01"), &team_facts(2));
        assert_eq!(e.kind, ErrorKind::NotFound);
        let dissolved = VolunteerFacts {
            team: Some(dissolved_team(1, "2024-01-10", "2024-03-01")),
        };
        let e = rejected(&registered(), join(1, "2024-03-01"), &dissolved);
        assert_eq!((e.rule, e.field.as_str()), (RuleId::LIFECYCLE, "team"));
        assert!(
            registered()
                .decide(&join(1, "2024-02-29"), &dissolved, &ctx())
                .is_ok()
        );
    }

    #[test]
    fn leaving_a_team_one_is_not_a_member_of_or_on_the_joining_day_is_rejected() {
        let mut s = registered();
        assert_eq!(rejected(&s, leave(1, "2024-05-01"), &none()).field, "team");
        run(&mut s, join(1, "2024-03-01"), &team_facts(1));
        assert_eq!(
            rejected(&s, leave(1, "2024-03-01"), &none()).field,
            "left_on"
        );
    }

    // ---- A11 trainings, B7 qualifications -------------------------------------------------------------

    fn training(n: u128, topics: Vec<TrainingTopic>) -> VolunteerCommand {
        VolunteerCommand::RecordTraining(RecordTraining {
            training: TrainingId(uuid::Uuid::from_u128(n)),
            on: d("2024-03-05"),
            topics,
        })
    }

    #[test]
    fn a11_a_training_is_recorded_once_with_its_topics() {
        let mut s = registered();
        run(
            &mut s,
            training(
                1,
                vec![TrainingTopic::TbCoreMessages, TrainingTopic::Recording],
            ),
            &none(),
        );
        assert_eq!(s.trainings().len(), 1);
        assert_eq!(s.trainings()[0].topics.len(), 2);
        let e = rejected(&s, training(1, vec![TrainingTopic::Other]), &none());
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn a11_a_training_without_topics_or_with_a_repeated_topic_is_rejected() {
        let e = rejected(&registered(), training(1, vec![]), &none());
        assert_eq!((e.rule, e.field.as_str()), (rules::A11, "topics"));
        let e = rejected(
            &registered(),
            training(1, vec![TrainingTopic::Other, TrainingTopic::Other]),
            &none(),
        );
        assert_eq!(e.field, "topics[1]");
    }

    fn qualify(role: ProfessionalRole, passed: Option<&str>) -> VolunteerCommand {
        VolunteerCommand::RecordQualification(RecordQualification {
            role,
            certificate: Sealed("sealed:cert".into()),
            valid_from: d("2024-03-01"),
            passed_training_on: passed.map(d),
        })
    }

    #[test]
    fn b7_a_qualified_nurse_may_serve_from_the_valid_from_date() {
        let mut s = registered();
        assert!(!s.may_serve_as(ProfessionalRole::Nurse, d("2024-04-01")));
        run(&mut s, qualify(ProfessionalRole::Nurse, None), &none());
        assert!(!s.may_serve_as(ProfessionalRole::Nurse, d("2024-02-29")));
        assert!(s.may_serve_as(ProfessionalRole::Nurse, d("2024-03-01")));
        assert!(!s.may_serve_as(ProfessionalRole::Doctor, d("2024-03-01")));
    }

    #[test]
    fn b7_a_driver_serves_only_after_passing_training() {
        let mut s = registered();
        run(&mut s, qualify(ProfessionalRole::Driver, None), &none());
        assert!(!s.may_serve_as(ProfessionalRole::Driver, d("2024-06-01")));
        run(
            &mut s,
            qualify(ProfessionalRole::Driver, Some("2024-04-10")),
            &none(),
        );
        assert!(!s.may_serve_as(ProfessionalRole::Driver, d("2024-04-09")));
        assert!(s.may_serve_as(ProfessionalRole::Driver, d("2024-04-10")));
    }

    #[test]
    fn b7_passed_training_for_a_non_driver_or_an_empty_certificate_is_rejected() {
        let e = rejected(
            &registered(),
            qualify(ProfessionalRole::Pharmacist, Some("2024-04-10")),
            &none(),
        );
        assert_eq!(
            (e.rule, e.field.as_str()),
            (rules::B7, "passed_training_on")
        );
        let c = VolunteerCommand::RecordQualification(RecordQualification {
            role: ProfessionalRole::Doctor,
            certificate: Sealed(String::new()),
            valid_from: d("2024-03-01"),
            passed_training_on: None,
        });
        let e = rejected(&registered(), c, &none());
        assert_eq!((e.rule, e.field.as_str()), (rules::B7, "certificate"));
    }

    // ---- corrections ---------------------------------------------------------------------------------

    fn corr(n: u128) -> CorrectionId {
        CorrectionId(uuid::Uuid::from_u128(n))
    }
    fn request(n: u128) -> VolunteerCommand {
        VolunteerCommand::RequestCorrection(RequestCorrection {
            correction: corr(n),
            activity: ActivityId(uuid::Uuid::from_u128(9)),
            requested_change: text("服务时长应为120分钟"),
        })
    }
    fn resolve(n: u128, outcome: CorrectionOutcome) -> VolunteerCommand {
        VolunteerCommand::ResolveCorrection(ResolveCorrection {
            correction: corr(n),
            outcome,
            note: text("已核实"),
        })
    }

    #[test]
    fn correction_is_requested_and_resolved_as_new_events() {
        let mut s = registered();
        let events = run(&mut s, request(1), &none());
        assert!(
            matches!(&events[..], [VolunteerEvent::CorrectionRequested(r)]
            if r.requested_at == ctx().received_at)
        );
        assert!(s.corrections()[&corr(1)].resolution.is_none());
        run(&mut s, resolve(1, CorrectionOutcome::Accepted), &none());
        assert_eq!(
            s.corrections()[&corr(1)].resolution,
            Some((CorrectionOutcome::Accepted, text("已核实")))
        );
        assert_eq!(
            s.corrections()[&corr(1)].requested_change,
            text("服务时长应为120分钟")
        );
    }

    #[test]
    fn resolving_an_unknown_or_resolved_correction_is_rejected() {
        let mut s = registered();
        let e = rejected(&s, resolve(1, CorrectionOutcome::Rejected), &none());
        assert_eq!(e.kind, ErrorKind::NotFound);
        run(&mut s, request(1), &none());
        run(&mut s, resolve(1, CorrectionOutcome::Rejected), &none());
        let e = rejected(&s, resolve(1, CorrectionOutcome::Accepted), &none());
        assert_eq!(e.rule, RuleId::LIFECYCLE);
        assert_eq!(
            rejected(&s, request(1), &none()).kind,
            ErrorKind::AlreadyExists
        );
    }

    // ---- erasure --------------------------------------------------------------------------------------

    #[test]
    fn pipl_after_erasure_every_command_is_rejected_and_memberships_stay() {
        let mut s = registered();
        run(&mut s, join(1, "2024-03-01"), &team_facts(1));
        run(&mut s, request(1), &none());
        run(
            &mut s,
            VolunteerCommand::Erase(EraseVolunteer {
                reason: text("本人申请删除"),
            }),
            &none(),
        );
        assert!(s.is_erased());
        assert!(s.is_member_of(team_id(1), d("2024-03-01")));
        for c in [
            register("1990-05-20", "2024-02-01"),
            join(2, "2024-04-01"),
            leave(1, "2024-05-01"),
            training(1, vec![TrainingTopic::Other]),
            qualify(ProfessionalRole::Nurse, None),
            request(2),
            resolve(1, CorrectionOutcome::Accepted),
            VolunteerCommand::Erase(EraseVolunteer { reason: text("x") }),
        ] {
            let e = rejected(&s, c.clone(), &team_facts(2));
            assert!(
                matches!(e.kind, ErrorKind::AlreadyExists) || e.rule == RuleId::LIFECYCLE,
                "{c:?} → {e}"
            );
        }
    }

    #[test]
    fn commands_on_an_unregistered_volunteer_are_rejected_as_not_found() {
        let e = rejected(&Volunteer::default(), join(1, "2024-03-01"), &team_facts(1));
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    #[test]
    fn b7_an_erased_volunteer_serves_in_no_role() {
        let mut s = registered();
        run(&mut s, qualify(ProfessionalRole::Nurse, None), &none());
        run(
            &mut s,
            VolunteerCommand::Erase(EraseVolunteer { reason: text("x") }),
            &none(),
        );
        assert!(!s.may_serve_as(ProfessionalRole::Nurse, d("2024-04-01")));
    }

    // ---- golden JSON ----------------------------------------------------------------------------------

    fn golden(e: &VolunteerEvent, ty: &str, json: &str) {
        assert_eq!(e.event_type(), ty);
        assert_eq!(e.schema_version(), 1);
        assert_eq!(e.to_payload().unwrap(), json, "payload of {ty}");
        assert_eq!(&VolunteerEvent::from_payload(ty, 1, json).unwrap(), e);
    }

    #[test]
    fn golden_json_of_every_volunteer_event() {
        let t = ctx().received_at;
        golden(
            &VolunteerEvent::Registered(VolunteerRegistered {
                volunteer_id: vol_id(1),
                document_kind: DocumentKind::HongKongResidencePermit,
                adult_on: d("2008-05-20"),
                personal: Sealed("v1.k1.abc".into()),
                home_region: RegionCode::parse("r", "330602").unwrap(),
                attestation: attest(),
                skills: vec![text("急救")],
                reserve_tier: ReserveTier::FirstEchelon,
                registered_on: d("2024-02-01"),
            }),
            "VolunteerRegistered",
            r#"{"volunteer_id":"00000000-0000-0000-0000-000000000001","document_kind":"hong_kong_residence_permit","adult_on":"2008-05-20","personal":"v1.k1.abc","home_region":"330602","attestation":{"law_abiding":true,"capable":true,"understands_tb_core_messages":true},"skills":["急救"],"reserve_tier":"first_echelon","registered_on":"2024-02-01"}"#,
        );
        golden(
            &VolunteerEvent::JoinedTeam(VolunteerJoinedTeam {
                team_id: team_id(2),
                joined_on: d("2024-03-01"),
            }),
            "VolunteerJoinedTeam",
            r#"{"team_id":"00000000-0000-0000-0000-000000000002","joined_on":"2024-03-01"}"#,
        );
        golden(
            &VolunteerEvent::LeftTeam(VolunteerLeftTeam {
                team_id: team_id(2),
                left_on: d("2024-05-01"),
            }),
            "VolunteerLeftTeam",
            r#"{"team_id":"00000000-0000-0000-0000-000000000002","left_on":"2024-05-01"}"#,
        );
        golden(
            &VolunteerEvent::TrainingRecorded(VolunteerTrainingRecorded {
                training_id: TrainingId(uuid::Uuid::from_u128(3)),
                on: d("2024-03-05"),
                topics: vec![
                    TrainingTopic::TbCoreMessages,
                    TrainingTopic::ActivityMethods,
                    TrainingTopic::Recording,
                    TrainingTopic::Other,
                ],
            }),
            "VolunteerTrainingRecorded",
            r#"{"training_id":"00000000-0000-0000-0000-000000000003","on":"2024-03-05","topics":["tb_core_messages","activity_methods","recording","other"]}"#,
        );
        golden(
            &VolunteerEvent::QualificationRecorded(VolunteerQualificationRecorded {
                role: ProfessionalRole::Driver,
                certificate: Sealed("v1.k1.cert".into()),
                valid_from: d("2024-03-01"),
                passed_training_on: Some(d("2024-04-10")),
            }),
            "VolunteerQualificationRecorded",
            r#"{"role":"driver","certificate":"v1.k1.cert","valid_from":"2024-03-01","passed_training_on":"2024-04-10"}"#,
        );
        golden(
            &VolunteerEvent::CorrectionRequested(ServiceRecordCorrectionRequested {
                correction_id: corr(4),
                activity_id: ActivityId(uuid::Uuid::from_u128(5)),
                requested_change: text("时长应为120分钟"),
                requested_at: t,
            }),
            "ServiceRecordCorrectionRequested",
            r#"{"correction_id":"00000000-0000-0000-0000-000000000004","activity_id":"00000000-0000-0000-0000-000000000005","requested_change":"时长应为120分钟","requested_at":"2024-06-01T02:00:00Z"}"#,
        );
        golden(
            &VolunteerEvent::CorrectionResolved(ServiceRecordCorrectionResolved {
                correction_id: corr(4),
                outcome: CorrectionOutcome::Rejected,
                note: text("签到表为60分钟"),
                resolved_at: t,
            }),
            "ServiceRecordCorrectionResolved",
            r#"{"correction_id":"00000000-0000-0000-0000-000000000004","outcome":"rejected","note":"签到表为60分钟","resolved_at":"2024-06-01T02:00:00Z"}"#,
        );
        golden(
            &VolunteerEvent::Erased(VolunteerErased {
                reason: text("本人申请删除"),
                erased_at: t,
            }),
            "VolunteerErased",
            r#"{"reason":"本人申请删除","erased_at":"2024-06-01T02:00:00Z"}"#,
        );
        assert_eq!(VolunteerEvent::TYPES.len(), 8);
    }

    // ---- properties -----------------------------------------------------------------------------------

    proptest! {
        #[test]
        fn membership_decisions_hold_after_replay_and_periods_of_a_team_never_overlap(
            steps in proptest::collection::vec((0u8..4, 1u128..3, 0i64..300), 0..40),
        ) {
            let mut s = registered();
            let mut history: Vec<VolunteerEvent> = Vec::new();
            // registration events, replayed too
            history.extend(Volunteer::default()
                .decide(&register("1990-05-20", "2024-02-01"), &none(), &ctx()).unwrap());
            let base = d("2024-01-20");
            for (op, team, offset) in steps {
                let date = base + chrono::Duration::days(offset);
                let ds = date.to_string();
                let cmd = match op {
                    0 | 1 => join(team, &ds),
                    2 => leave(team, &ds),
                    _ => VolunteerCommand::Erase(EraseVolunteer { reason: text("x") }),
                };
                let was_erased = s.is_erased();
                if let Ok(events) = s.decide(&cmd, &team_facts(team), &ctx()) {
                    prop_assert!(!was_erased);
                    for e in &events { s.evolve(e); }
                    history.extend(events);
                    prop_assert_eq!(&Volunteer::replay(&history), &s);
                    match &cmd {
                        VolunteerCommand::JoinTeam(c) => prop_assert!(s.is_member_of(c.team, c.joined_on)),
                        VolunteerCommand::LeaveTeam(c) => prop_assert!(!s.is_member_of(c.team, c.left_on)),
                        VolunteerCommand::Erase(_) => prop_assert!(s.is_erased()),
                        _ => {}
                    }
                }
                for t in 1u128..3 {
                    for day in 0..320 {
                        let date = base + chrono::Duration::days(day);
                        let n = s.memberships().iter()
                            .filter(|m| m.team == team_id(t) && m.covers(date)).count();
                        prop_assert!(n <= 1);
                    }
                }
            }
        }

        #[test]
        fn a7_registration_succeeds_exactly_when_18_on_the_registration_date(
            birth_days in 0i64..(40 * 366), reg_days in 0i64..(40 * 366),
        ) {
            let birth = d("1980-01-01") + chrono::Duration::days(birth_days);
            let on = d("1990-01-01") + chrono::Duration::days(reg_days);
            let cmd = register(&birth.to_string(), &on.to_string());
            let when = at("2031-01-01T00:00:00Z");
            match Volunteer::default().decide(&cmd, &none(), &when) {
                Ok(events) => {
                    let s = Volunteer::replay(&events);
                    prop_assert!(s.is_adult_on(on));
                }
                Err(e) => prop_assert!(on > when.received_at.date_naive() || birth > on
                    || (e.rule == rules::A7 && identity::adult_on(birth) > on)),
            }
        }
    }
}

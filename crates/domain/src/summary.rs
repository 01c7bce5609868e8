//! # Annual summary (年度活动总结) — rules A15, A16 (and A14 for the year, A22/A23 feeding the support section)
//!
//! Policy of this module:
//! - **One summary per county and year.** The stream category is `"summary"` and the instance id is the
//!   deterministic [`CountyYear`] `"{county}-{year}"`, e.g. `summary-330602-2024`, so a second draft for the
//!   same county and year lands on the same stream and is rejected as already existing.
//! - **A15 content.** A summary always holds the four sections — team build-up (队伍建立情况), support
//!   (保障情况; funding A22 and work plans A23 are written here), activities (活动开展情况) and effect
//!   evaluation (效果评价) — each a bounded [`Text`], plus a list of typical cases ([`CaseId`], no duplicates).
//! - **A16 workflow.** County CDC drafts → revises (only while draft or returned) → submits for approval →
//!   county health bureau approves or returns with a reason (the bureau's commands carry no content, so it
//!   cannot edit) → county CDC submits to the city CDC → city CDC accepts or returns with a reason. A summary
//!   returned by the bureau *or* by the city must be revised and then approved by the bureau again before it
//!   can go (back) to the city. An accepted summary is final: nothing, not even a second acceptance, follows.
//! - **A16 timeliness.** Due on or before 5 January (Asia/Shanghai) of the following year. The caller passes
//!   the deadline as an *exclusive* UTC instant in [`SummaryFacts::deadline`] (for 2024: 2025-01-05T16:00:00Z).
//!   Timeliness is judged once, on the **first** submission to the city, by the service's receipt time
//!   ([`Decision::received_at`]); a late submission is accepted and flagged late, never rejected. The
//!   submitted event records the receipt time, the deadline, whether it is the first submission, and
//!   `on_time` for the first one only (`null` on resubmissions).
//! - **A14 window.** Every calendar year the campaign window touches has a summary; a year outside the window
//!   is rejected; a year the window only partly covers (百千万: 2023 and 2025) is recorded as `partial_year`
//!   so reports can say so.
//!
//! Roles (who may send which command) are checked by the application layer; this module checks order and
//! content only.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::domain_events;
use crate::error::DomainError;
use crate::ids::{CaseId, RegionCode, Text};
use crate::rules;

/// Longest section text, in characters.
pub const SECTION_MAX_CHARS: usize = 20_000;
/// Longest return reason, in characters.
pub const REASON_MAX_CHARS: usize = 2_000;
/// Most typical cases one summary may list.
pub const MAX_TYPICAL_CASES: usize = 100;
/// Years accepted anywhere a report year is given (plain input sanity, the campaign window is A14).
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Check the length of an already-parsed [`Text`] against a module limit (commands carry parsed `Text`,
/// whose own bound the caller chose).
pub(crate) fn check_text(field: &str, text: &Text, max_chars: usize) -> Result<(), DomainError> {
    let n = text.as_str().chars().count();
    if n > max_chars {
        return Err(DomainError::invalid(
            field,
            format!("is {n} characters long; at most {max_chars} are allowed"),
        ));
    }
    Ok(())
}

/// Whether a GB/T 2260 code names a county-level unit (its last two digits are not `00`).
pub(crate) fn is_county_level(code: &RegionCode) -> bool {
    !code.as_str().ends_with("00")
}

/// A county and a report year: the id of a summary (and of an evaluation, A17), written `"330602-2024"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountyYear {
    county: RegionCode,
    year: i32,
}

impl CountyYear {
    /// A county-level region and a year in [`YEARS`]; `field` names the command field for errors
    /// (`{field}.county`, `{field}.year`).
    pub fn new(field: &str, county: RegionCode, year: i32) -> Result<Self, DomainError> {
        if !is_county_level(&county) {
            return Err(DomainError::invalid_by(
                rules::A16,
                format!("{field}.county"),
                format!(
                    "{county} is not a county-level code; summaries and evaluations are per county"
                ),
            ));
        }
        if !YEARS.contains(&year) {
            return Err(DomainError::invalid(
                format!("{field}.year"),
                format!("{year} is outside {}..={}", YEARS.start(), YEARS.end()),
            ));
        }
        Ok(Self { county, year })
    }

    /// Rebuild from a recorded event, without validation (`evolve` never fails).
    pub(crate) fn from_recorded(county: RegionCode, year: i32) -> Self {
        Self { county, year }
    }

    /// Parse `"330602-2024"`.
    pub fn parse(field: &str, s: &str) -> Result<Self, DomainError> {
        let Some((county, year)) = s.split_once('-') else {
            return Err(DomainError::invalid(
                field,
                format!("{s:?} is not of the form county-year, e.g. 330602-2024"),
            ));
        };
        let county = RegionCode::parse(field, county)?;
        let year = year
            .parse::<i32>()
            .map_err(|_| DomainError::invalid(field, format!("{year:?} is not a year")))?;
        Self::new(field, county, year)
    }

    pub fn county(&self) -> RegionCode {
        self.county
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    /// The aggregate instance id, `"330602-2024"`.
    pub fn id(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for CountyYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.county, self.year)
    }
}

impl TryFrom<String> for CountyYear {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse("id", &s).map_err(|e| e.reason)
    }
}

impl From<CountyYear> for String {
    fn from(k: CountyYear) -> String {
        k.to_string()
    }
}

/// The four sections of A15.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummarySections {
    /// 队伍建立情况.
    pub team_buildup: Text,
    /// 保障情况: funding (A22) and work plans (A23).
    pub support: Text,
    /// 活动开展情况.
    pub activities: Text,
    /// 效果评价.
    pub effect: Text,
}

impl SummarySections {
    fn validate(&self, field: &str) -> Result<(), DomainError> {
        for (name, text) in [
            ("team_buildup", &self.team_buildup),
            ("support", &self.support),
            ("activities", &self.activities),
            ("effect", &self.effect),
        ] {
            check_text(&format!("{field}.{name}"), text, SECTION_MAX_CHARS)?;
        }
        Ok(())
    }
}

fn validate_cases(field: &str, cases: &[CaseId]) -> Result<(), DomainError> {
    if cases.len() > MAX_TYPICAL_CASES {
        return Err(DomainError::invalid_by(
            rules::A15,
            field,
            format!(
                "{} typical cases; at most {MAX_TYPICAL_CASES} are allowed",
                cases.len()
            ),
        ));
    }
    for (i, case) in cases.iter().enumerate() {
        if cases[..i].contains(case) {
            return Err(DomainError::invalid_by(
                rules::A15,
                format!("{field}[{i}]"),
                format!("typical case {case} is listed twice"),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Commands and facts
// ---------------------------------------------------------------------------------------------------------

/// County CDC creates the summary (A15, A16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftSummary {
    pub summary: CountyYear,
    pub sections: SummarySections,
    pub typical_cases: Vec<CaseId>,
}

/// County CDC replaces the content, while the summary is a draft or has been returned (A16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviseSummary {
    pub summary: CountyYear,
    pub sections: SummarySections,
    pub typical_cases: Vec<CaseId>,
}

/// County CDC hands the current draft to the county health bureau (A16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitForApproval {
    pub summary: CountyYear,
}

/// County health bureau approves the submitted revision (A16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproveSummary {
    pub summary: CountyYear,
}

/// County health bureau returns the summary to the county CDC (A16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnSummary {
    pub summary: CountyYear,
    pub reason: Text,
}

/// County CDC submits the approved summary to the city CDC (A16; timeliness on the first one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitToCity {
    pub summary: CountyYear,
}

/// City CDC accepts the submitted summary (A16). Final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptSummary {
    pub summary: CountyYear,
}

/// City CDC returns the submitted summary to the county (A16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnToCounty {
    pub summary: CountyYear,
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SummaryCommand {
    Draft(DraftSummary),
    Revise(ReviseSummary),
    SubmitForApproval(SubmitForApproval),
    Approve(ApproveSummary),
    Return(ReturnSummary),
    SubmitToCity(SubmitToCity),
    Accept(AcceptSummary),
    ReturnToCounty(ReturnToCounty),
}

impl SummaryCommand {
    /// The summary the command addresses; the stream id is `AnnualSummary::stream_id(&key.id())`.
    pub fn summary(&self) -> CountyYear {
        match self {
            Self::Draft(c) => c.summary,
            Self::Revise(c) => c.summary,
            Self::SubmitForApproval(c) => c.summary,
            Self::Approve(c) => c.summary,
            Self::Return(c) => c.summary,
            Self::SubmitToCity(c) => c.summary,
            Self::Accept(c) => c.summary,
            Self::ReturnToCounty(c) => c.summary,
        }
    }
}

/// What the application layer loads from the campaign configuration before deciding. Only
/// [`DraftSummary`] (window, partial year) and [`SubmitToCity`] (deadline) read it; other commands may pass
/// any value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryFacts {
    /// Exclusive deadline instant: a first submission received strictly before it is on time. The
    /// campaign's "on or before 5 January, Asia/Shanghai" for year Y is `(Y+1)-01-05T16:00:00Z`.
    pub deadline: DateTime<Utc>,
    /// The campaign window touches the summary's year (A14). Otherwise no summary exists for it.
    pub year_in_window: bool,
    /// The window covers only part of that year (百千万: 2023 and 2025).
    pub partial_year: bool,
}

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryDrafted {
    pub county: RegionCode,
    pub year: i32,
    /// The campaign window covers only part of the year; reports say so.
    pub partial_year: bool,
    /// Always 1.
    pub revision: u32,
    pub sections: SummarySections,
    pub typical_cases: Vec<CaseId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRevised {
    /// The new revision number (previous + 1).
    pub revision: u32,
    pub sections: SummarySections,
    pub typical_cases: Vec<CaseId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummarySubmittedForApproval {
    pub revision: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryApproved {
    pub revision: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryReturnedByBureau {
    pub revision: u32,
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummarySubmittedToCity {
    pub revision: u32,
    /// 1 for the first submission to the city, 2 after one return, …
    pub submission: u32,
    pub first_submission: bool,
    /// The service's receipt time.
    pub received_at: DateTime<Utc>,
    /// The exclusive deadline in force.
    pub deadline: DateTime<Utc>,
    /// `Some(received_at < deadline)` on the first submission; `None` on resubmissions (timeliness is
    /// judged once).
    pub on_time: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryAccepted {
    pub revision: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryReturnedToCounty {
    pub revision: u32,
    pub reason: Text,
}

domain_events! {
    /// Events of an annual summary.
    pub enum SummaryEvent {
        Drafted(SummaryDrafted) = ("SummaryDrafted", 1),
        Revised(SummaryRevised) = ("SummaryRevised", 1),
        SubmittedForApproval(SummarySubmittedForApproval) = ("SummarySubmittedForApproval", 1),
        Approved(SummaryApproved) = ("SummaryApproved", 1),
        ReturnedByBureau(SummaryReturnedByBureau) = ("SummaryReturnedByBureau", 1),
        SubmittedToCity(SummarySubmittedToCity) = ("SummarySubmittedToCity", 1),
        Accepted(SummaryAccepted) = ("SummaryAccepted", 1),
        ReturnedToCounty(SummaryReturnedToCounty) = ("SummaryReturnedToCounty", 1),
    }
}

// ---------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------

/// Where a summary is in the A16 workflow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryStatus {
    /// No summary drafted yet (empty stream).
    #[default]
    NotDrafted,
    Draft,
    AwaitingApproval,
    Approved,
    ReturnedByBureau,
    SubmittedToCity,
    ReturnedByCity,
    Accepted,
}

/// The first submission to the city: the one timeliness is judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstSubmission {
    pub received_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub on_time: bool,
}

/// The annual summary aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnualSummary {
    key: Option<CountyYear>,
    status: SummaryStatus,
    partial_year: bool,
    revision: u32,
    sections: Option<SummarySections>,
    typical_cases: Vec<CaseId>,
    first_submission: Option<FirstSubmission>,
    submissions_to_city: u32,
    acceptances: u32,
    last_return_reason: Option<Text>,
}

impl AnnualSummary {
    pub fn key(&self) -> Option<CountyYear> {
        self.key
    }
    pub fn status(&self) -> SummaryStatus {
        self.status
    }
    pub fn partial_year(&self) -> bool {
        self.partial_year
    }
    /// Current content revision (1 after drafting, 0 before).
    pub fn revision(&self) -> u32 {
        self.revision
    }
    pub fn sections(&self) -> Option<&SummarySections> {
        self.sections.as_ref()
    }
    pub fn typical_cases(&self) -> &[CaseId] {
        &self.typical_cases
    }
    pub fn first_submission(&self) -> Option<FirstSubmission> {
        self.first_submission
    }
    /// `Some(true)` when the first submission to the city was late; `None` before any submission.
    pub fn late(&self) -> Option<bool> {
        self.first_submission.map(|f| !f.on_time)
    }
    pub fn submissions_to_city(&self) -> u32 {
        self.submissions_to_city
    }
    /// How many acceptances the history holds (never more than 1).
    pub fn acceptances(&self) -> u32 {
        self.acceptances
    }
    /// The reason of the latest return (bureau or city).
    pub fn last_return_reason(&self) -> Option<&Text> {
        self.last_return_reason.as_ref()
    }

    /// The summary must exist and be the one the command addresses.
    fn require(&self, addressed: &CountyYear) -> Result<(), DomainError> {
        match self.key {
            None => Err(DomainError::not_found(
                "summary",
                format!("no summary {addressed} has been drafted"),
            )),
            Some(k) if k != *addressed => Err(DomainError::lifecycle(
                "summary",
                format!("command addressed to summary {addressed} was sent to summary {k}"),
            )),
            Some(_) => Ok(()),
        }
    }

    fn wrong_state(&self, what: &str) -> DomainError {
        let why = match self.status {
            SummaryStatus::NotDrafted => "it has not been drafted",
            SummaryStatus::Draft => "it is a draft not yet submitted for approval",
            SummaryStatus::AwaitingApproval => "it is awaiting the health bureau's approval",
            SummaryStatus::Approved => "it is approved and not yet submitted to the city",
            SummaryStatus::ReturnedByBureau => {
                "the health bureau returned it; it must be revised first"
            }
            SummaryStatus::SubmittedToCity => "it is submitted to the city CDC",
            SummaryStatus::ReturnedByCity => {
                "the city CDC returned it; it must be revised and approved again first"
            }
            SummaryStatus::Accepted => "the city CDC has accepted it",
        };
        DomainError::rule(rules::A16, "summary", format!("cannot {what}: {why}"))
    }
}

impl Aggregate for AnnualSummary {
    const CATEGORY: &'static str = "summary";
    type Command = SummaryCommand;
    type Event = SummaryEvent;
    type Facts = SummaryFacts;

    fn decide(
        &self,
        command: &SummaryCommand,
        facts: &SummaryFacts,
        ctx: &Decision,
    ) -> Result<Vec<SummaryEvent>, DomainError> {
        use SummaryStatus as S;
        match command {
            SummaryCommand::Draft(c) => {
                if let Some(k) = self.key {
                    return Err(DomainError::already_exists(
                        "summary",
                        format!("summary {k} exists already; revise it instead"),
                    ));
                }
                if !facts.year_in_window {
                    return Err(DomainError::rule(
                        rules::A14,
                        "summary.year",
                        format!(
                            "the campaign window does not touch {}; there is no summary for it",
                            c.summary.year()
                        ),
                    ));
                }
                c.sections.validate("sections")?;
                validate_cases("typical_cases", &c.typical_cases)?;
                Ok(vec![SummaryEvent::Drafted(SummaryDrafted {
                    county: c.summary.county(),
                    year: c.summary.year(),
                    partial_year: facts.partial_year,
                    revision: 1,
                    sections: c.sections.clone(),
                    typical_cases: c.typical_cases.clone(),
                })])
            }
            SummaryCommand::Revise(c) => {
                self.require(&c.summary)?;
                if !matches!(
                    self.status,
                    S::Draft | S::ReturnedByBureau | S::ReturnedByCity
                ) {
                    return Err(self.wrong_state("revise the summary"));
                }
                c.sections.validate("sections")?;
                validate_cases("typical_cases", &c.typical_cases)?;
                Ok(vec![SummaryEvent::Revised(SummaryRevised {
                    revision: self.revision.saturating_add(1),
                    sections: c.sections.clone(),
                    typical_cases: c.typical_cases.clone(),
                })])
            }
            SummaryCommand::SubmitForApproval(c) => {
                self.require(&c.summary)?;
                if self.status != S::Draft {
                    return Err(self.wrong_state("submit the summary for approval"));
                }
                Ok(vec![SummaryEvent::SubmittedForApproval(
                    SummarySubmittedForApproval {
                        revision: self.revision,
                    },
                )])
            }
            SummaryCommand::Approve(c) => {
                self.require(&c.summary)?;
                if self.status != S::AwaitingApproval {
                    return Err(self.wrong_state("approve the summary"));
                }
                Ok(vec![SummaryEvent::Approved(SummaryApproved {
                    revision: self.revision,
                })])
            }
            SummaryCommand::Return(c) => {
                self.require(&c.summary)?;
                if self.status != S::AwaitingApproval {
                    return Err(self.wrong_state("return the summary to the county CDC"));
                }
                check_text("reason", &c.reason, REASON_MAX_CHARS)?;
                Ok(vec![SummaryEvent::ReturnedByBureau(
                    SummaryReturnedByBureau {
                        revision: self.revision,
                        reason: c.reason.clone(),
                    },
                )])
            }
            SummaryCommand::SubmitToCity(c) => {
                self.require(&c.summary)?;
                if self.status != S::Approved {
                    return Err(self.wrong_state("submit the summary to the city CDC"));
                }
                let first = self.first_submission.is_none();
                Ok(vec![SummaryEvent::SubmittedToCity(
                    SummarySubmittedToCity {
                        revision: self.revision,
                        submission: self.submissions_to_city.saturating_add(1),
                        first_submission: first,
                        received_at: ctx.received_at,
                        deadline: facts.deadline,
                        on_time: first.then_some(ctx.received_at < facts.deadline),
                    },
                )])
            }
            SummaryCommand::Accept(c) => {
                self.require(&c.summary)?;
                if self.status != S::SubmittedToCity {
                    return Err(self.wrong_state("accept the summary"));
                }
                Ok(vec![SummaryEvent::Accepted(SummaryAccepted {
                    revision: self.revision,
                })])
            }
            SummaryCommand::ReturnToCounty(c) => {
                self.require(&c.summary)?;
                if self.status != S::SubmittedToCity {
                    return Err(self.wrong_state("return the summary to the county"));
                }
                check_text("reason", &c.reason, REASON_MAX_CHARS)?;
                Ok(vec![SummaryEvent::ReturnedToCounty(
                    SummaryReturnedToCounty {
                        revision: self.revision,
                        reason: c.reason.clone(),
                    },
                )])
            }
        }
    }

    fn evolve(&mut self, event: &SummaryEvent) {
        use SummaryStatus as S;
        match event {
            SummaryEvent::Drafted(e) => {
                self.key = Some(CountyYear {
                    county: e.county,
                    year: e.year,
                });
                self.status = S::Draft;
                self.partial_year = e.partial_year;
                self.revision = e.revision;
                self.sections = Some(e.sections.clone());
                self.typical_cases = e.typical_cases.clone();
            }
            SummaryEvent::Revised(e) => {
                self.status = S::Draft;
                self.revision = e.revision;
                self.sections = Some(e.sections.clone());
                self.typical_cases = e.typical_cases.clone();
            }
            SummaryEvent::SubmittedForApproval(_) => self.status = S::AwaitingApproval,
            SummaryEvent::Approved(_) => self.status = S::Approved,
            SummaryEvent::ReturnedByBureau(e) => {
                self.status = S::ReturnedByBureau;
                self.last_return_reason = Some(e.reason.clone());
            }
            SummaryEvent::SubmittedToCity(e) => {
                self.status = S::SubmittedToCity;
                self.submissions_to_city = self.submissions_to_city.saturating_add(1);
                if self.first_submission.is_none() {
                    self.first_submission = Some(FirstSubmission {
                        received_at: e.received_at,
                        deadline: e.deadline,
                        on_time: e.on_time.unwrap_or(e.received_at < e.deadline),
                    });
                }
            }
            SummaryEvent::Accepted(_) => {
                self.status = S::Accepted;
                self.acceptances = self.acceptances.saturating_add(1);
            }
            SummaryEvent::ReturnedToCounty(e) => {
                self.status = S::ReturnedByCity;
                self.last_return_reason = Some(e.reason.clone());
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

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ctx(s: &str) -> Decision {
        Decision { received_at: at(s) }
    }

    fn key(s: &str) -> CountyYear {
        CountyYear::parse("summary", s).unwrap()
    }

    fn text(s: &str) -> Text {
        Text::parse("t", s, 100_000).unwrap()
    }

    fn case(n: u128) -> CaseId {
        CaseId(uuid::Uuid::from_u128(n))
    }

    /// 百千万, year 2024: full year, due 2025-01-05 23:59:59 Shanghai.
    fn facts_2024() -> SummaryFacts {
        SummaryFacts {
            deadline: at("2025-01-05T16:00:00Z"),
            year_in_window: true,
            partial_year: false,
        }
    }

    fn sections(tag: &str) -> SummarySections {
        SummarySections {
            team_buildup: text(&format!("{tag}: 建立志愿服务队伍12支")),
            support: text(&format!("{tag}: 经费5万元，工作计划已印发")),
            activities: text(&format!("{tag}: 开展活动36次")),
            effect: text(&format!("{tag}: 知晓率提升")),
        }
    }

    fn draft(k: &str) -> SummaryCommand {
        SummaryCommand::Draft(DraftSummary {
            summary: key(k),
            sections: sections("初稿"),
            typical_cases: vec![case(1)],
        })
    }

    fn revise(k: &str) -> SummaryCommand {
        SummaryCommand::Revise(ReviseSummary {
            summary: key(k),
            sections: sections("修改稿"),
            typical_cases: vec![case(1), case(2)],
        })
    }

    fn submit_for_approval(k: &str) -> SummaryCommand {
        SummaryCommand::SubmitForApproval(SubmitForApproval { summary: key(k) })
    }
    fn approve(k: &str) -> SummaryCommand {
        SummaryCommand::Approve(ApproveSummary { summary: key(k) })
    }
    fn bureau_return(k: &str) -> SummaryCommand {
        SummaryCommand::Return(ReturnSummary {
            summary: key(k),
            reason: text("经费数据不全"),
        })
    }
    fn submit_to_city(k: &str) -> SummaryCommand {
        SummaryCommand::SubmitToCity(SubmitToCity { summary: key(k) })
    }
    fn accept(k: &str) -> SummaryCommand {
        SummaryCommand::Accept(AcceptSummary { summary: key(k) })
    }
    fn city_return(k: &str) -> SummaryCommand {
        SummaryCommand::ReturnToCounty(ReturnToCounty {
            summary: key(k),
            reason: text("缺少典型案例"),
        })
    }

    const K: &str = "330602-2024";
    const EARLY: &str = "2024-12-20T02:00:00Z";

    /// Decide and apply; panics (test failure) on rejection.
    fn run(state: &mut AnnualSummary, cmd: SummaryCommand, when: &str) -> Vec<SummaryEvent> {
        let events = state
            .decide(&cmd, &facts_2024(), &ctx(when))
            .unwrap_or_else(|e| panic!("{cmd:?} rejected: {e}"));
        for e in &events {
            state.evolve(e);
        }
        events
    }

    fn given(cmds: Vec<SummaryCommand>) -> AnnualSummary {
        let mut s = AnnualSummary::default();
        for c in cmds {
            run(&mut s, c, EARLY);
        }
        s
    }

    #[test]
    fn a22_a23_funding_and_work_plans_in_the_support_section_are_kept_and_bounded() {
        let s = given(vec![draft(K)]);
        let support = s.sections().map(|x| x.support.as_str().to_owned());
        assert_eq!(support.as_deref(), Some("初稿: 经费5万元，工作计划已印发"));
        let mut too_long = sections("x");
        too_long.support = text(&"经".repeat(SECTION_MAX_CHARS + 1));
        let e = rejected(
            &AnnualSummary::default(),
            SummaryCommand::Draft(DraftSummary {
                summary: key(K),
                sections: too_long,
                typical_cases: vec![],
            }),
        );
        assert!(e.field.ends_with("sections.support"), "{e}");
    }

    fn approved() -> AnnualSummary {
        given(vec![draft(K), submit_for_approval(K), approve(K)])
    }

    fn rejected(state: &AnnualSummary, cmd: SummaryCommand) -> DomainError {
        state
            .decide(&cmd, &facts_2024(), &ctx(EARLY))
            .expect_err("command should be rejected")
    }

    fn assert_a16(e: &DomainError) {
        assert_eq!(e.rule, rules::A16, "{e}");
        assert_eq!(e.kind, ErrorKind::RuleViolation, "{e}");
        assert_eq!(e.field, "summary", "{e}");
    }

    fn submitted(events: &[SummaryEvent]) -> &SummarySubmittedToCity {
        match events {
            [SummaryEvent::SubmittedToCity(s)] => s,
            other => panic!("expected one SummarySubmittedToCity, got {other:?}"),
        }
    }

    // ---- ids -------------------------------------------------------------------------------------------

    #[test]
    fn a16_summary_id_is_county_dash_year_and_the_stream_is_deterministic() {
        let k = key("330602-2024");
        assert_eq!(k.county().as_str(), "330602");
        assert_eq!(k.year(), 2024);
        assert_eq!(k.id(), "330602-2024");
        assert_eq!(AnnualSummary::stream_id(&k.id()), "summary-330602-2024");
        assert_eq!(serde_json::to_string(&k).unwrap(), r#""330602-2024""#);
        let back: CountyYear = serde_json::from_str(r#""330602-2024""#).unwrap();
        assert_eq!(back, k);
    }

    #[test]
    fn a16_summary_id_must_name_a_county_not_a_city_or_province() {
        for bad in ["330600-2024", "330000-2024"] {
            let e = CountyYear::parse("summary", bad).unwrap_err();
            assert_eq!(e.rule, rules::A16);
            assert_eq!(e.field, "summary.county");
        }
    }

    #[test]
    fn summary_id_rejects_malformed_text() {
        for bad in [
            "330602",
            "330602-",
            "33060x-2024",
            "330602-99999",
            "330602-1999",
        ] {
            let e = CountyYear::parse("summary", bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{bad}");
        }
        assert!(serde_json::from_str::<CountyYear>(r#""330600-2024""#).is_err());
    }

    // ---- A15 / A14: drafting -----------------------------------------------------------------------------

    #[test]
    fn a15_draft_records_the_four_sections_and_typical_cases() {
        let mut s = AnnualSummary::default();
        let events = run(&mut s, draft(K), EARLY);
        let [SummaryEvent::Drafted(d)] = events.as_slice() else {
            panic!("expected SummaryDrafted, got {events:?}");
        };
        assert_eq!(d.county.as_str(), "330602");
        assert_eq!(d.year, 2024);
        assert_eq!(d.revision, 1);
        assert!(!d.partial_year);
        assert_eq!(d.sections, sections("初稿"));
        assert_eq!(d.typical_cases, vec![case(1)]);
        assert_eq!(s.status(), SummaryStatus::Draft);
        assert_eq!(s.key(), Some(key(K)));
        assert_eq!(s.sections(), Some(&sections("初稿")));
        assert_eq!(s.typical_cases(), &[case(1)]);
    }

    #[test]
    fn a15_a_typical_case_listed_twice_is_rejected() {
        let cmd = SummaryCommand::Draft(DraftSummary {
            summary: key(K),
            sections: sections("x"),
            typical_cases: vec![case(1), case(2), case(1)],
        });
        let e = rejected(&AnnualSummary::default(), cmd);
        assert_eq!(e.rule, rules::A15);
        assert_eq!(e.field, "typical_cases[2]");
    }

    #[test]
    fn a15_too_many_typical_cases_are_rejected() {
        let cmd = SummaryCommand::Draft(DraftSummary {
            summary: key(K),
            sections: sections("x"),
            typical_cases: (0..=MAX_TYPICAL_CASES as u128).map(case).collect(),
        });
        let e = rejected(&AnnualSummary::default(), cmd);
        assert_eq!(e.rule, rules::A15);
        assert_eq!(e.field, "typical_cases");
    }

    #[test]
    fn a15_a_section_longer_than_the_limit_is_rejected_naming_the_section() {
        let mut secs = sections("x");
        secs.support = text(&"经".repeat(SECTION_MAX_CHARS + 1));
        let cmd = SummaryCommand::Draft(DraftSummary {
            summary: key(K),
            sections: secs,
            typical_cases: vec![],
        });
        let e = rejected(&AnnualSummary::default(), cmd);
        assert_eq!(e.rule, RuleId::INPUT);
        assert_eq!(e.field, "sections.support");
    }

    #[test]
    fn a14_a_year_outside_the_campaign_window_is_rejected() {
        let facts = SummaryFacts {
            year_in_window: false,
            ..facts_2024()
        };
        let e = AnnualSummary::default()
            .decide(&draft("330602-2026"), &facts, &ctx(EARLY))
            .unwrap_err();
        assert_eq!(e.rule, rules::A14);
        assert_eq!(e.field, "summary.year");
    }

    #[test]
    fn a14_a_partial_year_is_recorded_on_the_summary() {
        let facts = SummaryFacts {
            deadline: at("2026-01-05T16:00:00Z"),
            year_in_window: true,
            partial_year: true,
        };
        let events = AnnualSummary::default()
            .decide(&draft("330602-2025"), &facts, &ctx(EARLY))
            .unwrap();
        let s = AnnualSummary::replay(&events);
        assert!(s.partial_year());
        assert!(matches!(&events[..], [SummaryEvent::Drafted(d)] if d.partial_year));
    }

    #[test]
    fn a16_drafting_the_same_county_and_year_twice_is_rejected() {
        let s = given(vec![draft(K)]);
        let e = rejected(&s, draft(K));
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
        assert_eq!(e.field, "summary");
    }

    #[test]
    fn a16_a_command_on_a_summary_never_drafted_is_not_found() {
        for cmd in [
            revise(K),
            submit_for_approval(K),
            approve(K),
            bureau_return(K),
            submit_to_city(K),
            accept(K),
            city_return(K),
        ] {
            let e = rejected(&AnnualSummary::default(), cmd);
            assert_eq!(e.kind, ErrorKind::NotFound);
            assert_eq!(e.field, "summary");
        }
    }

    #[test]
    fn a16_a_command_addressed_to_another_summary_is_rejected() {
        let s = given(vec![draft(K)]);
        let e = rejected(&s, submit_for_approval("330603-2024"));
        assert_eq!(e.rule, RuleId::LIFECYCLE);
        assert_eq!(e.field, "summary");
    }

    // ---- A16: workflow order ---------------------------------------------------------------------------

    #[test]
    fn a16_revising_a_draft_replaces_content_and_increments_the_revision() {
        let mut s = given(vec![draft(K)]);
        let events = run(&mut s, revise(K), EARLY);
        assert!(matches!(&events[..], [SummaryEvent::Revised(r)] if r.revision == 2));
        assert_eq!(s.revision(), 2);
        assert_eq!(s.sections(), Some(&sections("修改稿")));
        assert_eq!(s.typical_cases(), &[case(1), case(2)]);
        assert_eq!(s.status(), SummaryStatus::Draft);
    }

    #[test]
    fn a16_revising_while_awaiting_approval_approved_or_submitted_is_rejected() {
        let awaiting = given(vec![draft(K), submit_for_approval(K)]);
        assert_a16(&rejected(&awaiting, revise(K)));
        assert_a16(&rejected(&approved(), revise(K)));
        let mut sub = approved();
        run(&mut sub, submit_to_city(K), EARLY);
        assert_a16(&rejected(&sub, revise(K)));
    }

    #[test]
    fn a16_approve_or_return_before_submission_for_approval_is_rejected() {
        let s = given(vec![draft(K)]);
        assert_a16(&rejected(&s, approve(K)));
        assert_a16(&rejected(&s, bureau_return(K)));
    }

    #[test]
    fn a16_submitting_for_approval_twice_is_rejected() {
        let s = given(vec![draft(K), submit_for_approval(K)]);
        assert_a16(&rejected(&s, submit_for_approval(K)));
    }

    #[test]
    fn a16_submit_to_city_before_approval_is_rejected() {
        assert_a16(&rejected(&given(vec![draft(K)]), submit_to_city(K)));
        assert_a16(&rejected(
            &given(vec![draft(K), submit_for_approval(K)]),
            submit_to_city(K),
        ));
    }

    #[test]
    fn a16_bureau_approval_records_the_approved_revision() {
        let mut s = given(vec![draft(K), revise(K), submit_for_approval(K)]);
        let events = run(&mut s, approve(K), EARLY);
        assert!(matches!(&events[..], [SummaryEvent::Approved(a)] if a.revision == 2));
        assert_eq!(s.status(), SummaryStatus::Approved);
    }

    #[test]
    fn a16_a_summary_returned_by_the_bureau_must_be_revised_before_resubmission() {
        let mut s = given(vec![draft(K), submit_for_approval(K)]);
        run(&mut s, bureau_return(K), EARLY);
        assert_eq!(s.status(), SummaryStatus::ReturnedByBureau);
        assert_eq!(s.last_return_reason(), Some(&text("经费数据不全")));
        assert_a16(&rejected(&s, submit_for_approval(K)));
        assert_a16(&rejected(&s, submit_to_city(K)));
        run(&mut s, revise(K), EARLY);
        run(&mut s, submit_for_approval(K), EARLY);
        assert_eq!(s.status(), SummaryStatus::AwaitingApproval);
    }

    #[test]
    fn a16_the_bureau_return_needs_a_bounded_reason() {
        let s = given(vec![draft(K), submit_for_approval(K)]);
        let cmd = SummaryCommand::Return(ReturnSummary {
            summary: key(K),
            reason: text(&"x".repeat(REASON_MAX_CHARS + 1)),
        });
        let e = rejected(&s, cmd);
        assert_eq!(e.field, "reason");
        assert_eq!(e.rule, RuleId::INPUT);
    }

    #[test]
    fn a16_a_summary_returned_by_the_city_must_be_revised_and_approved_again_before_resubmission() {
        let mut s = approved();
        run(&mut s, submit_to_city(K), EARLY);
        run(&mut s, city_return(K), EARLY);
        assert_eq!(s.status(), SummaryStatus::ReturnedByCity);
        assert_eq!(s.last_return_reason(), Some(&text("缺少典型案例")));
        // neither straight back to the city nor back to the bureau without revision
        assert_a16(&rejected(&s, submit_to_city(K)));
        assert_a16(&rejected(&s, submit_for_approval(K)));
        run(&mut s, revise(K), EARLY);
        // revised but not approved yet
        assert_a16(&rejected(&s, submit_to_city(K)));
        run(&mut s, submit_for_approval(K), EARLY);
        assert_a16(&rejected(&s, submit_to_city(K)));
        run(&mut s, approve(K), EARLY);
        let events = run(&mut s, submit_to_city(K), "2025-01-04T00:00:00Z");
        let sub = submitted(&events);
        assert_eq!(sub.submission, 2);
        assert_eq!(sub.revision, 2);
        assert_eq!(s.submissions_to_city(), 2);
    }

    #[test]
    fn a16_accept_or_return_before_submission_to_the_city_is_rejected() {
        assert_a16(&rejected(&approved(), accept(K)));
        assert_a16(&rejected(&approved(), city_return(K)));
    }

    #[test]
    fn a16_city_acceptance_is_final() {
        let mut s = approved();
        run(&mut s, submit_to_city(K), EARLY);
        run(&mut s, accept(K), EARLY);
        assert_eq!(s.status(), SummaryStatus::Accepted);
        assert_eq!(s.acceptances(), 1);
        for cmd in [
            revise(K),
            submit_for_approval(K),
            approve(K),
            submit_to_city(K),
            city_return(K),
        ] {
            assert_a16(&rejected(&s, cmd));
        }
    }

    #[test]
    fn a16_accepting_twice_is_rejected() {
        let mut s = approved();
        run(&mut s, submit_to_city(K), EARLY);
        run(&mut s, accept(K), EARLY);
        assert_a16(&rejected(&s, accept(K)));
    }

    // ---- A16: timeliness -------------------------------------------------------------------------------

    #[test]
    fn a16_submission_at_2359_on_5_january_is_on_time() {
        let mut s = approved();
        // 23:59 Asia/Shanghai on 5 January 2025 = 15:59 UTC
        let events = run(&mut s, submit_to_city(K), "2025-01-05T15:59:00Z");
        let sub = submitted(&events);
        assert!(sub.first_submission);
        assert_eq!(sub.on_time, Some(true));
        assert_eq!(sub.received_at, at("2025-01-05T15:59:00Z"));
        assert_eq!(sub.deadline, at("2025-01-05T16:00:00Z"));
        assert_eq!(s.late(), Some(false));
    }

    #[test]
    fn a16_submission_at_0001_on_6_january_is_accepted_and_flagged_late() {
        let mut s = approved();
        // 00:01 Asia/Shanghai on 6 January 2025 = 16:01 UTC on the 5th
        let events = run(&mut s, submit_to_city(K), "2025-01-05T16:01:00Z");
        let sub = submitted(&events);
        assert!(sub.first_submission);
        assert_eq!(sub.on_time, Some(false));
        assert_eq!(s.late(), Some(true));
        assert_eq!(s.status(), SummaryStatus::SubmittedToCity);
        // and the city can still accept it
        run(&mut s, accept(K), "2025-01-07T02:00:00Z");
        assert_eq!(s.status(), SummaryStatus::Accepted);
        assert_eq!(s.late(), Some(true));
    }

    #[test]
    fn a16_submission_at_midnight_starting_6_january_is_late_the_deadline_is_exclusive() {
        let mut s = approved();
        let events = run(&mut s, submit_to_city(K), "2025-01-05T16:00:00Z");
        assert_eq!(submitted(&events).on_time, Some(false));
    }

    #[test]
    fn a16_timeliness_is_judged_on_first_submission_only() {
        // on time first, returned, resubmitted after the deadline: still on time
        let mut s = approved();
        run(&mut s, submit_to_city(K), "2025-01-05T15:59:00Z");
        run(&mut s, city_return(K), "2025-01-08T01:00:00Z");
        run(&mut s, revise(K), "2025-01-09T01:00:00Z");
        run(&mut s, submit_for_approval(K), "2025-01-09T02:00:00Z");
        run(&mut s, approve(K), "2025-01-10T02:00:00Z");
        let events = run(&mut s, submit_to_city(K), "2025-02-01T02:00:00Z");
        let sub = submitted(&events);
        assert!(!sub.first_submission);
        assert_eq!(sub.on_time, None);
        assert_eq!(s.late(), Some(false));
        let first = s.first_submission().unwrap();
        assert_eq!(first.received_at, at("2025-01-05T15:59:00Z"));
        assert!(first.on_time);

        // late first, returned, resubmitted: stays late
        let mut s = approved();
        run(&mut s, submit_to_city(K), "2025-01-06T03:00:00Z");
        run(&mut s, city_return(K), "2025-01-08T01:00:00Z");
        run(&mut s, revise(K), "2025-01-09T01:00:00Z");
        run(&mut s, submit_for_approval(K), "2025-01-09T02:00:00Z");
        run(&mut s, approve(K), "2025-01-10T02:00:00Z");
        run(&mut s, submit_to_city(K), "2025-01-10T03:00:00Z");
        assert_eq!(s.late(), Some(true));
    }

    // ---- golden JSON -----------------------------------------------------------------------------------

    fn golden(e: &SummaryEvent, ty: &str, json: &str) {
        assert_eq!(e.event_type(), ty);
        assert_eq!(e.schema_version(), 1);
        assert_eq!(e.to_payload().unwrap(), json, "payload of {ty}");
        let back = SummaryEvent::from_payload(ty, 1, json).unwrap();
        assert_eq!(&back, e);
    }

    #[test]
    fn golden_json_of_every_summary_event() {
        let secs = SummarySections {
            team_buildup: text("队伍"),
            support: text("保障"),
            activities: text("活动"),
            effect: text("效果"),
        };
        let secs_json =
            r#"{"team_buildup":"队伍","support":"保障","activities":"活动","effect":"效果"}"#;
        golden(
            &SummaryEvent::Drafted(SummaryDrafted {
                county: RegionCode::parse("c", "330602").unwrap(),
                year: 2024,
                partial_year: false,
                revision: 1,
                sections: secs.clone(),
                typical_cases: vec![case(1)],
            }),
            "SummaryDrafted",
            &format!(
                r#"{{"county":"330602","year":2024,"partial_year":false,"revision":1,"sections":{secs_json},"typical_cases":["00000000-0000-0000-0000-000000000001"]}}"#
            ),
        );
        golden(
            &SummaryEvent::Revised(SummaryRevised {
                revision: 2,
                sections: secs,
                typical_cases: vec![],
            }),
            "SummaryRevised",
            &format!(r#"{{"revision":2,"sections":{secs_json},"typical_cases":[]}}"#),
        );
        golden(
            &SummaryEvent::SubmittedForApproval(SummarySubmittedForApproval { revision: 2 }),
            "SummarySubmittedForApproval",
            r#"{"revision":2}"#,
        );
        golden(
            &SummaryEvent::Approved(SummaryApproved { revision: 2 }),
            "SummaryApproved",
            r#"{"revision":2}"#,
        );
        golden(
            &SummaryEvent::ReturnedByBureau(SummaryReturnedByBureau {
                revision: 1,
                reason: text("补充经费"),
            }),
            "SummaryReturnedByBureau",
            r#"{"revision":1,"reason":"补充经费"}"#,
        );
        golden(
            &SummaryEvent::SubmittedToCity(SummarySubmittedToCity {
                revision: 2,
                submission: 1,
                first_submission: true,
                received_at: at("2025-01-05T15:59:00Z"),
                deadline: at("2025-01-05T16:00:00Z"),
                on_time: Some(true),
            }),
            "SummarySubmittedToCity",
            r#"{"revision":2,"submission":1,"first_submission":true,"received_at":"2025-01-05T15:59:00Z","deadline":"2025-01-05T16:00:00Z","on_time":true}"#,
        );
        golden(
            &SummaryEvent::SubmittedToCity(SummarySubmittedToCity {
                revision: 3,
                submission: 2,
                first_submission: false,
                received_at: at("2025-02-01T02:00:00Z"),
                deadline: at("2025-01-05T16:00:00Z"),
                on_time: None,
            }),
            "SummarySubmittedToCity",
            r#"{"revision":3,"submission":2,"first_submission":false,"received_at":"2025-02-01T02:00:00Z","deadline":"2025-01-05T16:00:00Z","on_time":null}"#,
        );
        golden(
            &SummaryEvent::Accepted(SummaryAccepted { revision: 3 }),
            "SummaryAccepted",
            r#"{"revision":3}"#,
        );
        golden(
            &SummaryEvent::ReturnedToCounty(SummaryReturnedToCounty {
                revision: 2,
                reason: text("缺少典型案例"),
            }),
            "SummaryReturnedToCounty",
            r#"{"revision":2,"reason":"缺少典型案例"}"#,
        );
        assert_eq!(SummaryEvent::TYPES.len(), 8);
    }

    // ---- properties ------------------------------------------------------------------------------------

    fn command_for(op: u8) -> SummaryCommand {
        match op % 9 {
            0 => draft(K),
            1 => revise(K),
            2 => submit_for_approval(K),
            3 => approve(K),
            4 => bureau_return(K),
            5 => submit_to_city(K),
            6 => accept(K),
            7 => city_return(K),
            _ => submit_to_city("330603-2024"),
        }
    }

    /// What a successful decision promises about the state after its events.
    fn status_after(cmd: &SummaryCommand) -> SummaryStatus {
        match cmd {
            SummaryCommand::Draft(_) | SummaryCommand::Revise(_) => SummaryStatus::Draft,
            SummaryCommand::SubmitForApproval(_) => SummaryStatus::AwaitingApproval,
            SummaryCommand::Approve(_) => SummaryStatus::Approved,
            SummaryCommand::Return(_) => SummaryStatus::ReturnedByBureau,
            SummaryCommand::SubmitToCity(_) => SummaryStatus::SubmittedToCity,
            SummaryCommand::Accept(_) => SummaryStatus::Accepted,
            SummaryCommand::ReturnToCounty(_) => SummaryStatus::ReturnedByCity,
        }
    }

    proptest! {
        #[test]
        fn a16_no_command_sequence_yields_a_summary_accepted_twice(
            steps in proptest::collection::vec((0u8..9, 0i64..60 * 24 * 60), 0..80),
        ) {
            let mut state = AnnualSummary::default();
            let mut history: Vec<SummaryEvent> = Vec::new();
            let base = at("2024-12-25T00:00:00Z");
            let mut accepted_events = 0;
            for (op, minutes) in steps {
                let cmd = command_for(op);
                let when = Decision { received_at: base + chrono::Duration::minutes(minutes) };
                if let Ok(events) = state.decide(&cmd, &facts_2024(), &when) {
                    let before_first = state.first_submission();
                    for e in &events {
                        if matches!(e, SummaryEvent::Accepted(_)) {
                            accepted_events += 1;
                        }
                        state.evolve(e);
                    }
                    history.extend(events);
                    // the decision's promise holds on the evolved state
                    prop_assert_eq!(state.status(), status_after(&cmd));
                    // timeliness never changes after the first submission
                    if before_first.is_some() {
                        prop_assert_eq!(state.first_submission(), before_first);
                    }
                    // replaying the whole history gives the same state
                    prop_assert_eq!(&AnnualSummary::replay(&history), &state);
                    // every event survives the codec
                    for e in &history {
                        let back = SummaryEvent::from_payload(
                            e.event_type(), e.schema_version(), &e.to_payload().unwrap()).unwrap();
                        prop_assert_eq!(&back, e);
                    }
                }
                prop_assert!(state.acceptances() <= 1);
            }
            prop_assert!(accepted_events <= 1);
            if state.status() == SummaryStatus::Accepted {
                prop_assert!(state.decide(&accept(K), &facts_2024(), &ctx(EARLY)).is_err());
            }
        }
    }
}

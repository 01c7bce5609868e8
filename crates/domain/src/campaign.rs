//! # Campaign (活动 / 行动) — rules A1, A3, A4, A5, A6, A14, A16
//!
//! Policy of this module:
//! - Stream category `"campaign"`, instance id = [`CampaignId`].
//! - **Definition.** A campaign has a name, a city (a city-level GB/T 2260 code), a window of business
//!   dates (A14; 百千万 is 2023-12-01..=2025-03-31, both ends inclusive) and a [`RuleSet`]: coverage per
//!   100 000 residents (A1, 10), minimum activities per team per year (A5, 1) and per volunteer per year
//!   (A6, 2), the summary due month/day (A16, 1-5, inclusive), the relevant departments (A3: host units of
//!   kind `government_department`, checked against [`CampaignFacts`]) and the host kinds that must host a
//!   team (A4).
//! - **Rule versions.** [`AmendCampaignRules`] adds version n+1 with an `effective_from` date inside the
//!   window and after the previous version's; old versions are kept. The version in force on a date is the
//!   latest whose `effective_from` is not after it ([`Campaign::rules_on`]); version 1 is effective from the
//!   window start.
//! - **Years.** [`window_years`] lists every calendar year the window touches, flagging years it covers
//!   only partly (百千万: 2023 and 2025 are partial) — every such year has an annual summary.
//! - **Deadline (A16).** "On or before 5 January" is inclusive to the end of that day in Asia/Shanghai
//!   (fixed UTC+8, no DST). [`summary_deadline`] returns the *exclusive* UTC instant: for the 2024 summary
//!   it is 2025-01-05T16:00:00Z, so 23:59 on 5 January in Shanghai is on time and 00:00 on 6 January late.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::domain_events;
use crate::error::DomainError;
use crate::host_unit::HostUnitKind;
use crate::ids::{CampaignId, HostUnitId, RegionCode, Text};
use crate::rules;

pub const NAME_MAX_CHARS: usize = 200;
pub const REASON_MAX_CHARS: usize = 2_000;
/// Asia/Shanghai is UTC+8 all year (no DST since 1991).
pub const SHANGHAI_OFFSET_SECONDS: i32 = 8 * 3600;

/// The calendar date in Asia/Shanghai of a UTC instant.
pub fn shanghai_date(instant: DateTime<Utc>) -> NaiveDate {
    match FixedOffset::east_opt(SHANGHAI_OFFSET_SECONDS) {
        Some(tz) => instant.with_timezone(&tz).date_naive(),
        None => instant.date_naive(),
    }
}

/// The UTC instant at which `date` begins in Asia/Shanghai (`None` only at the edge of chrono's range).
pub fn shanghai_start_of_day(date: NaiveDate) -> Option<DateTime<Utc>> {
    date.and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .checked_sub_signed(Duration::seconds(SHANGHAI_OFFSET_SECONDS.into()))
}

/// A16: a month/day in the year after the summary's year, inclusive. 29 February is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DueDay {
    month: u32,
    day: u32,
}

impl DueDay {
    /// `field` names the command field for errors.
    pub fn new(field: &str, month: u32, day: u32) -> Result<Self, DomainError> {
        if (month, day) == (2, 29) || NaiveDate::from_ymd_opt(2001, month, day).is_none() {
            return Err(DomainError::invalid_by(
                rules::A16,
                field,
                format!("{month}-{day} is not a day every year has"),
            ));
        }
        Ok(Self { month, day })
    }
    pub fn month(&self) -> u32 {
        self.month
    }
    pub fn day(&self) -> u32 {
        self.day
    }
}

/// A16: the exclusive UTC deadline for the summary of `year`: the start (Asia/Shanghai) of the day after
/// `due` in `year + 1`. `None` only for dates chrono cannot represent.
pub fn summary_deadline(year: i32, due: DueDay) -> Option<DateTime<Utc>> {
    let due_date = NaiveDate::from_ymd_opt(year.checked_add(1)?, due.month, due.day)?;
    shanghai_start_of_day(due_date.succ_opt()?)
}

/// A calendar year the campaign window touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignYear {
    pub year: i32,
    /// The window covers only part of the year.
    pub partial: bool,
    /// First and last day of the year inside the window (inclusive).
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

/// A14: every calendar year `start..=end` touches, with a `partial` flag.
pub fn window_years(start: NaiveDate, end: NaiveDate) -> Vec<CampaignYear> {
    if end < start {
        return Vec::new();
    }
    (start.year()..=end.year())
        .filter_map(|year| {
            let jan1 = NaiveDate::from_ymd_opt(year, 1, 1)?;
            let dec31 = NaiveDate::from_ymd_opt(year, 12, 31)?;
            let first_day = start.max(jan1);
            let last_day = end.min(dec31);
            Some(CampaignYear {
                year,
                partial: first_day != jan1 || last_day != dec31,
                first_day,
                last_day,
            })
        })
        .collect()
}

/// The configurable thresholds and lists of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    /// A1: volunteers per 100 000 residents.
    pub coverage_per_100k: u32,
    /// A5: activities per team per calendar year.
    pub team_min_activities_per_year: u32,
    /// A6: activities per volunteer per calendar year.
    pub volunteer_min_activities_per_year: u32,
    /// A16: summary due on or before this month/day of the following year.
    pub summary_due: DueDay,
    /// A3: the relevant departments (host units of kind `government_department`), each needing a team.
    pub relevant_departments: Vec<HostUnitId>,
    /// A4: host kinds that must host a team. For a TB-free community pilot the level is the minimum.
    pub mandatory_host_kinds: Vec<HostUnitKind>,
}

impl RuleSet {
    /// The 百千万 defaults: 10 per 100k, 1 activity per team, 2 per volunteer, due 1-5, designated TB
    /// hospitals and city-level-or-above TB-free community pilots must host a team.
    pub fn baiqianwan(relevant_departments: Vec<HostUnitId>) -> Self {
        Self {
            coverage_per_100k: 10,
            team_min_activities_per_year: 1,
            volunteer_min_activities_per_year: 2,
            summary_due: DueDay { month: 1, day: 5 },
            relevant_departments,
            mandatory_host_kinds: vec![
                HostUnitKind::DesignatedTbHospital,
                HostUnitKind::TbFreeCommunityPilot(crate::host_unit::PilotLevel::City),
            ],
        }
    }

    /// A5: a team with `activities` (non-voided) activities in a calendar year meets the minimum.
    pub fn team_meets_frequency(&self, activities: u32) -> bool {
        activities >= self.team_min_activities_per_year
    }

    /// A6: a volunteer with `participations` activities in a calendar year meets the minimum.
    pub fn volunteer_meets_frequency(&self, participations: u32) -> bool {
        participations >= self.volunteer_min_activities_per_year
    }

    /// A4: a host unit of `kind` must host a team under these rules.
    pub fn requires_team(&self, kind: HostUnitKind) -> bool {
        self.mandatory_host_kinds.iter().any(|m| match (m, kind) {
            (HostUnitKind::TbFreeCommunityPilot(min), HostUnitKind::TbFreeCommunityPilot(l)) => {
                l >= *min
            }
            _ => *m == kind,
        })
    }

    fn validate(&self, facts: &CampaignFacts) -> Result<(), DomainError> {
        if self.coverage_per_100k == 0 {
            return Err(DomainError::invalid_by(
                rules::A1,
                "coverage_per_100k",
                "must be greater than zero",
            ));
        }
        DueDay::new("summary_due", self.summary_due.month, self.summary_due.day)?;
        for (i, kind) in self.mandatory_host_kinds.iter().enumerate() {
            if self.mandatory_host_kinds[..i].contains(kind) {
                return Err(DomainError::invalid_by(
                    rules::A4,
                    format!("mandatory_host_kinds[{i}]"),
                    "listed twice",
                ));
            }
        }
        for (i, dept) in self.relevant_departments.iter().enumerate() {
            let field = format!("relevant_departments[{i}]");
            if self.relevant_departments[..i].contains(dept) {
                return Err(DomainError::invalid_by(rules::A3, field, "listed twice"));
            }
            match facts.host_units.get(dept) {
                None => {
                    return Err(DomainError::not_found(
                        field,
                        format!("host unit {dept} is not registered"),
                    ));
                }
                Some(kind) if !kind.is_government_department() => {
                    return Err(DomainError::rule(
                        rules::A3,
                        field,
                        format!("host unit {dept} is a {kind:?}, not a government department"),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Commands and facts
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefineCampaign {
    pub campaign: CampaignId,
    pub name: Text,
    pub city: RegionCode,
    /// A14, inclusive.
    pub window_start: NaiveDate,
    /// A14, inclusive.
    pub window_end: NaiveDate,
    pub rules: RuleSet,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmendCampaignRules {
    pub rules: RuleSet,
    pub effective_from: NaiveDate,
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CampaignCommand {
    Define(DefineCampaign),
    AmendRules(AmendCampaignRules),
}

/// The kinds of the host units a command's rule set names as relevant departments (replayed `hostunit`
/// streams; a missing key means not registered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignFacts {
    pub host_units: BTreeMap<HostUnitId, HostUnitKind>,
}

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignDefined {
    pub campaign_id: CampaignId,
    pub name: Text,
    pub city: RegionCode,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    /// Rules version 1, effective from `window_start`.
    pub rules: RuleSet,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRulesAmended {
    pub version: u32,
    pub effective_from: NaiveDate,
    pub rules: RuleSet,
    pub reason: Text,
}

domain_events! {
    /// Events of a campaign.
    pub enum CampaignEvent {
        Defined(CampaignDefined) = ("CampaignDefined", 1),
        RulesAmended(CampaignRulesAmended) = ("CampaignRulesAmended", 1),
    }
}

// ---------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------

/// One version of a campaign's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesVersion {
    pub version: u32,
    pub effective_from: NaiveDate,
    pub rules: RuleSet,
}

/// The campaign aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Campaign {
    id: Option<CampaignId>,
    name: Option<Text>,
    city: Option<RegionCode>,
    window: Option<(NaiveDate, NaiveDate)>,
    versions: Vec<RulesVersion>,
}

impl Campaign {
    pub fn id(&self) -> Option<CampaignId> {
        self.id
    }
    pub fn is_defined(&self) -> bool {
        self.id.is_some()
    }
    pub fn name(&self) -> Option<&Text> {
        self.name.as_ref()
    }
    pub fn city(&self) -> Option<RegionCode> {
        self.city
    }
    /// A14: `(start, end)`, both inclusive.
    pub fn window(&self) -> Option<(NaiveDate, NaiveDate)> {
        self.window
    }
    pub fn versions(&self) -> &[RulesVersion] {
        &self.versions
    }
    /// The rules version in force on `date` (version 1 before its own start).
    pub fn rules_on(&self, date: NaiveDate) -> Option<&RulesVersion> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.effective_from <= date)
            .or_else(|| self.versions.first())
    }
    /// A14: the years the window touches.
    pub fn years(&self) -> Vec<CampaignYear> {
        self.window
            .map(|(s, e)| window_years(s, e))
            .unwrap_or_default()
    }
    /// A14: the window touches `year`; `Some(partial)` then, `None` otherwise.
    pub fn year_in_window(&self, year: i32) -> Option<CampaignYear> {
        self.years().into_iter().find(|y| y.year == year)
    }
    /// A2: the date coverage is judged on — the last day of the window's last full calendar year
    /// (百千万, 2023-12-01..2025-03-31: 2024-12-31). Read models answer for any date; this is the one
    /// the campaign is evaluated on. `None` when the window holds no full year.
    pub fn coverage_evaluation_date(&self) -> Option<NaiveDate> {
        self.years()
            .into_iter()
            .filter(|y| !y.partial)
            .map(|y| y.last_day)
            .max()
    }

    /// A16: the exclusive deadline of the summary for `year`, under the rules in force on the last day of
    /// that year inside the window.
    pub fn summary_deadline(&self, year: i32) -> Option<DateTime<Utc>> {
        let y = self.year_in_window(year)?;
        let rules = self.rules_on(y.last_day)?;
        summary_deadline(year, rules.rules.summary_due)
    }
}

impl Aggregate for Campaign {
    const CATEGORY: &'static str = "campaign";
    type Command = CampaignCommand;
    type Event = CampaignEvent;
    type Facts = CampaignFacts;

    fn decide(
        &self,
        command: &CampaignCommand,
        facts: &CampaignFacts,
        _ctx: &Decision,
    ) -> Result<Vec<CampaignEvent>, DomainError> {
        match command {
            CampaignCommand::Define(c) => {
                if self.id.is_some() {
                    return Err(DomainError::already_exists(
                        "campaign",
                        "the campaign is defined already",
                    ));
                }
                c.name.check_max("name", NAME_MAX_CHARS)?;
                let s = c.city.as_str();
                if !s.ends_with("00") || s.ends_with("0000") {
                    return Err(DomainError::invalid_by(
                        rules::GBT2260,
                        "city",
                        format!("{} is not a city-level code", c.city),
                    ));
                }
                if c.window_end < c.window_start {
                    return Err(DomainError::invalid_by(
                        rules::A14,
                        "window_end",
                        "the window ends before it starts",
                    ));
                }
                c.rules.validate(facts).map_err(|e| e.within("rules"))?;
                Ok(vec![CampaignEvent::Defined(CampaignDefined {
                    campaign_id: c.campaign,
                    name: c.name.clone(),
                    city: c.city,
                    window_start: c.window_start,
                    window_end: c.window_end,
                    rules: c.rules.clone(),
                })])
            }
            CampaignCommand::AmendRules(c) => {
                let (Some((start, end)), Some(last)) = (self.window, self.versions.last()) else {
                    return Err(DomainError::not_found(
                        "campaign",
                        "the campaign is not defined",
                    ));
                };
                if c.effective_from < start || c.effective_from > end {
                    return Err(DomainError::invalid_by(
                        rules::A14,
                        "effective_from",
                        format!("{} is outside the window {start}..={end}", c.effective_from),
                    ));
                }
                if c.effective_from <= last.effective_from {
                    return Err(DomainError::invalid(
                        "effective_from",
                        format!(
                            "must be after {}, when version {} took effect",
                            last.effective_from, last.version
                        ),
                    ));
                }
                c.reason.check_max("reason", REASON_MAX_CHARS)?;
                c.rules.validate(facts).map_err(|e| e.within("rules"))?;
                Ok(vec![CampaignEvent::RulesAmended(CampaignRulesAmended {
                    version: last.version.saturating_add(1),
                    effective_from: c.effective_from,
                    rules: c.rules.clone(),
                    reason: c.reason.clone(),
                })])
            }
        }
    }

    fn evolve(&mut self, event: &CampaignEvent) {
        match event {
            CampaignEvent::Defined(e) => {
                self.id = Some(e.campaign_id);
                self.name = Some(e.name.clone());
                self.city = Some(e.city);
                self.window = Some((e.window_start, e.window_end));
                self.versions = vec![RulesVersion {
                    version: 1,
                    effective_from: e.window_start,
                    rules: e.rules.clone(),
                }];
            }
            CampaignEvent::RulesAmended(e) => self.versions.push(RulesVersion {
                version: e.version,
                effective_from: e.effective_from,
                rules: e.rules.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::DomainEvent;
    use crate::host_unit::PilotLevel;
    use crate::{ErrorKind, RuleId};
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }
    fn ctx() -> Decision {
        Decision {
            received_at: at("2023-11-20T00:00:00Z"),
        }
    }
    fn text(s: &str) -> Text {
        Text::parse("t", s, 10_000).unwrap()
    }
    fn hu(n: u128) -> HostUnitId {
        HostUnitId(uuid::Uuid::from_u128(n))
    }
    fn depts() -> CampaignFacts {
        CampaignFacts {
            host_units: [
                (hu(1), HostUnitKind::GovernmentDepartment),
                (hu(2), HostUnitKind::GovernmentDepartment),
                (hu(3), HostUnitKind::Cdc),
            ]
            .into_iter()
            .collect(),
        }
    }
    fn define(rules: RuleSet) -> CampaignCommand {
        CampaignCommand::Define(DefineCampaign {
            campaign: CampaignId(uuid::Uuid::from_u128(9)),
            name: text("百千万志愿者结核病防治知识传播活动"),
            city: RegionCode::parse("c", "330600").unwrap(),
            window_start: d("2023-12-01"),
            window_end: d("2025-03-31"),
            rules,
        })
    }
    fn amend(from: &str, per: u32) -> CampaignCommand {
        let mut rules = RuleSet::baiqianwan(vec![hu(1)]);
        rules.coverage_per_100k = per;
        CampaignCommand::AmendRules(AmendCampaignRules {
            rules,
            effective_from: d(from),
            reason: text("市卫健委调整"),
        })
    }
    fn run(s: &mut Campaign, c: CampaignCommand) -> Vec<CampaignEvent> {
        let events = s.decide(&c, &depts(), &ctx()).unwrap();
        for e in &events {
            s.evolve(e);
        }
        events
    }
    fn bqw() -> Campaign {
        let mut s = Campaign::default();
        run(&mut s, define(RuleSet::baiqianwan(vec![hu(1), hu(2)])));
        s
    }

    #[test]
    fn a14_defining_baiqianwan_keeps_its_window_and_rules_version_1() {
        let s = bqw();
        assert_eq!(s.window(), Some((d("2023-12-01"), d("2025-03-31"))));
        let v = s.rules_on(d("2024-06-01")).unwrap();
        assert_eq!(v.version, 1);
        assert_eq!(v.rules.coverage_per_100k, 10);
        assert_eq!(v.rules.team_min_activities_per_year, 1);
        assert_eq!(v.rules.volunteer_min_activities_per_year, 2);
        assert_eq!(
            (v.rules.summary_due.month(), v.rules.summary_due.day()),
            (1, 5)
        );
    }

    #[test]
    fn a14_the_window_touches_2023_2024_2025_with_2023_and_2025_partial() {
        let years = window_years(d("2023-12-01"), d("2025-03-31"));
        let flags: Vec<(i32, bool)> = years.iter().map(|y| (y.year, y.partial)).collect();
        assert_eq!(flags, vec![(2023, true), (2024, false), (2025, true)]);
        assert_eq!(years[0].first_day, d("2023-12-01"));
        assert_eq!(years[2].last_day, d("2025-03-31"));
        assert_eq!(bqw().year_in_window(2026), None);
        assert!(bqw().year_in_window(2025).unwrap().partial);
        assert!(window_years(d("2024-01-01"), d("2023-12-31")).is_empty());
        assert!(!window_years(d("2024-01-01"), d("2024-12-31"))[0].partial);
    }

    #[test]
    fn a16_deadline_for_2024_is_2025_01_05t16_00z_exclusive() {
        let due = DueDay::new("due", 1, 5).unwrap();
        let deadline = summary_deadline(2024, due).unwrap();
        assert_eq!(deadline, at("2025-01-05T16:00:00Z"));
        // 23:59 on 5 January in Shanghai is on time, 00:01 on 6 January is late
        assert!(at("2025-01-05T15:59:00Z") < deadline);
        assert!(at("2025-01-05T16:01:00Z") >= deadline);
        assert_eq!(bqw().summary_deadline(2024), Some(deadline));
        assert_eq!(
            bqw().summary_deadline(2023),
            Some(at("2024-01-05T16:00:00Z"))
        );
        assert_eq!(bqw().summary_deadline(2026), None);
    }

    #[test]
    fn a16_due_day_must_exist_every_year() {
        for (m, day) in [(2, 29), (2, 30), (13, 1), (0, 5), (4, 31)] {
            let e = DueDay::new("summary_due", m, day).unwrap_err();
            assert_eq!((e.rule, e.field.as_str()), (rules::A16, "summary_due"));
        }
        assert!(DueDay::new("d", 12, 31).is_ok());
        assert_eq!(
            summary_deadline(2024, DueDay::new("d", 12, 31).unwrap()),
            Some(at("2025-12-31T16:00:00Z"))
        );
    }

    #[test]
    fn shanghai_date_is_utc_plus_8() {
        assert_eq!(shanghai_date(at("2024-03-23T15:59:59Z")), d("2024-03-23"));
        assert_eq!(shanghai_date(at("2024-03-23T16:00:00Z")), d("2024-03-24"));
        assert_eq!(
            shanghai_start_of_day(d("2024-03-24")),
            Some(at("2024-03-23T16:00:00Z"))
        );
    }

    #[test]
    fn a3_relevant_departments_must_be_registered_government_departments() {
        let e = Campaign::default()
            .decide(
                &define(RuleSet::baiqianwan(vec![hu(1), hu(3)])),
                &depts(),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(
            (e.rule, e.field.as_str()),
            (rules::A3, "rules.relevant_departments[1]")
        );
        let e = Campaign::default()
            .decide(&define(RuleSet::baiqianwan(vec![hu(4)])), &depts(), &ctx())
            .unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_str()),
            (ErrorKind::NotFound, "rules.relevant_departments[0]")
        );
        let e = Campaign::default()
            .decide(
                &define(RuleSet::baiqianwan(vec![hu(1), hu(1)])),
                &depts(),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(e.field, "rules.relevant_departments[1]");
    }

    #[test]
    fn a4_pilots_of_the_minimum_level_or_above_and_designated_hospitals_require_a_team() {
        let r = RuleSet::baiqianwan(vec![]);
        assert!(r.requires_team(HostUnitKind::DesignatedTbHospital));
        assert!(r.requires_team(HostUnitKind::TbFreeCommunityPilot(PilotLevel::City)));
        assert!(r.requires_team(HostUnitKind::TbFreeCommunityPilot(PilotLevel::National)));
        assert!(!r.requires_team(HostUnitKind::TbFreeCommunityPilot(PilotLevel::County)));
        assert!(!r.requires_team(HostUnitKind::School));
    }

    #[test]
    fn a4_a_mandatory_kind_listed_twice_is_rejected() {
        let mut r = RuleSet::baiqianwan(vec![]);
        r.mandatory_host_kinds
            .push(HostUnitKind::DesignatedTbHospital);
        let e = Campaign::default()
            .decide(&define(r), &depts(), &ctx())
            .unwrap_err();
        assert_eq!(
            (e.rule, e.field.as_str()),
            (rules::A4, "rules.mandatory_host_kinds[2]")
        );
    }

    #[test]
    fn a1_zero_coverage_threshold_is_rejected() {
        let mut r = RuleSet::baiqianwan(vec![]);
        r.coverage_per_100k = 0;
        let e = Campaign::default()
            .decide(&define(r), &depts(), &ctx())
            .unwrap_err();
        assert_eq!(
            (e.rule, e.field.as_str()),
            (rules::A1, "rules.coverage_per_100k")
        );
    }

    #[test]
    fn a14_window_ending_before_it_starts_or_a_non_city_code_is_rejected() {
        let mut c = define(RuleSet::baiqianwan(vec![]));
        if let CampaignCommand::Define(x) = &mut c {
            x.window_end = d("2023-11-30");
        }
        let e = Campaign::default()
            .decide(&c, &depts(), &ctx())
            .unwrap_err();
        assert_eq!((e.rule, e.field.as_str()), (rules::A14, "window_end"));
        for code in ["330602", "330000"] {
            let mut c = define(RuleSet::baiqianwan(vec![]));
            if let CampaignCommand::Define(x) = &mut c {
                x.city = RegionCode::parse("c", code).unwrap();
            }
            let e = Campaign::default()
                .decide(&c, &depts(), &ctx())
                .unwrap_err();
            assert_eq!((e.rule, e.field.as_str()), (rules::GBT2260, "city"));
        }
    }

    #[test]
    fn defining_twice_is_rejected_as_already_existing() {
        let e = bqw()
            .decide(&define(RuleSet::baiqianwan(vec![])), &depts(), &ctx())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn amending_rules_adds_a_version_and_keeps_the_old_one() {
        let mut s = bqw();
        let events = run(&mut s, amend("2024-07-01", 12));
        assert!(matches!(&events[..], [CampaignEvent::RulesAmended(a)] if a.version == 2));
        assert_eq!(s.versions().len(), 2);
        assert_eq!(
            s.rules_on(d("2024-06-30")).unwrap().rules.coverage_per_100k,
            10
        );
        assert_eq!(
            s.rules_on(d("2024-07-01")).unwrap().rules.coverage_per_100k,
            12
        );
        assert_eq!(s.rules_on(d("2023-01-01")).unwrap().version, 1);
    }

    #[test]
    fn a14_amendments_take_effect_inside_the_window_and_after_the_previous_version() {
        let mut s = bqw();
        let e = s
            .decide(&amend("2025-04-01", 12), &depts(), &ctx())
            .unwrap_err();
        assert_eq!((e.rule, e.field.as_str()), (rules::A14, "effective_from"));
        let e = s
            .decide(&amend("2023-12-01", 12), &depts(), &ctx())
            .unwrap_err();
        assert_eq!(
            (e.rule, e.field.as_str()),
            (RuleId::INPUT, "effective_from")
        );
        run(&mut s, amend("2024-07-01", 12));
        let e = s
            .decide(&amend("2024-06-01", 12), &depts(), &ctx())
            .unwrap_err();
        assert_eq!(e.field, "effective_from");
        let e = Campaign::default()
            .decide(&amend("2024-06-01", 12), &depts(), &ctx())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    fn golden(e: &CampaignEvent, ty: &str, json: &str) {
        assert_eq!(e.event_type(), ty);
        assert_eq!(e.schema_version(), 1);
        assert_eq!(e.to_payload().unwrap(), json, "payload of {ty}");
        assert_eq!(&CampaignEvent::from_payload(ty, 1, json).unwrap(), e);
    }

    #[test]
    fn golden_json_of_every_campaign_event() {
        let rules = RuleSet::baiqianwan(vec![hu(1)]);
        let rj = r#"{"coverage_per_100k":10,"team_min_activities_per_year":1,"volunteer_min_activities_per_year":2,"summary_due":{"month":1,"day":5},"relevant_departments":["00000000-0000-0000-0000-000000000001"],"mandatory_host_kinds":["designated_tb_hospital",{"tb_free_community_pilot":"city"}]}"#;
        golden(
            &CampaignEvent::Defined(CampaignDefined {
                campaign_id: CampaignId(uuid::Uuid::from_u128(9)),
                name: text("百千万"),
                city: RegionCode::parse("c", "330600").unwrap(),
                window_start: d("2023-12-01"),
                window_end: d("2025-03-31"),
                rules: rules.clone(),
            }),
            "CampaignDefined",
            &format!(
                r#"{{"campaign_id":"00000000-0000-0000-0000-000000000009","name":"百千万","city":"330600","window_start":"2023-12-01","window_end":"2025-03-31","rules":{rj}}}"#
            ),
        );
        golden(
            &CampaignEvent::RulesAmended(CampaignRulesAmended {
                version: 2,
                effective_from: d("2024-07-01"),
                rules,
                reason: text("调整"),
            }),
            "CampaignRulesAmended",
            &format!(
                r#"{{"version":2,"effective_from":"2024-07-01","rules":{rj},"reason":"调整"}}"#
            ),
        );
        assert_eq!(CampaignEvent::TYPES.len(), 2);
    }

    proptest! {
        #[test]
        fn a16_the_deadline_is_the_start_of_the_day_after_the_due_day_in_shanghai(
            year in 2000i32..2100, month in 1u32..=12, day in 1u32..=28,
        ) {
            let due = DueDay::new("d", month, day).unwrap();
            let deadline = summary_deadline(year, due).unwrap();
            let due_date = NaiveDate::from_ymd_opt(year + 1, month, day).unwrap();
            let last_second = deadline - Duration::seconds(1);
            prop_assert_eq!(shanghai_date(last_second), due_date);
            prop_assert_eq!(shanghai_date(deadline), due_date.succ_opt().unwrap());
        }

        #[test]
        fn a14_window_years_cover_the_window_exactly_once(start in 0i64..3000, len in 0i64..2000) {
            let s = d("2020-01-01") + Duration::days(start);
            let e = s + Duration::days(len);
            let years = window_years(s, e);
            prop_assert_eq!(years.first().unwrap().first_day, s);
            prop_assert_eq!(years.last().unwrap().last_day, e);
            for w in years.windows(2) {
                prop_assert_eq!(w[0].last_day.succ_opt().unwrap(), w[1].first_day);
                prop_assert_eq!(w[0].year + 1, w[1].year);
            }
            for y in &years {
                let full = y.first_day.ordinal() == 1 && y.last_day.succ_opt().unwrap().ordinal() == 1;
                prop_assert_eq!(y.partial, !full);
            }
        }

        #[test]
        fn rules_versions_grow_and_replay_matches(
            steps in proptest::collection::vec((0i64..600, 1u32..50), 0..10),
        ) {
            let mut s = bqw();
            let mut history = Campaign::default()
                .decide(&define(RuleSet::baiqianwan(vec![hu(1), hu(2)])), &depts(), &ctx())
                .unwrap();
            for (offset, per) in steps {
                let from = d("2023-12-01") + Duration::days(offset);
                if let Ok(events) = s.decide(&amend(&from.to_string(), per), &depts(), &ctx()) {
                    for e in &events { s.evolve(e); }
                    history.extend(events);
                    prop_assert_eq!(s.rules_on(from).unwrap().rules.coverage_per_100k, per);
                }
                prop_assert_eq!(&Campaign::replay(&history), &s);
                for w in s.versions().windows(2) {
                    prop_assert!(w[0].effective_from < w[1].effective_from);
                    prop_assert_eq!(w[0].version + 1, w[1].version);
                }
            }
        }
    }
}

#[cfg(test)]
mod frequency_and_evaluation_date_tests {
    use super::*;

    #[test]
    fn a5_a_team_meets_the_yearly_minimum_with_one_activity_and_not_with_none() {
        let rules = RuleSet::baiqianwan(vec![]);
        assert!(rules.team_meets_frequency(1));
        assert!(!rules.team_meets_frequency(0));
    }

    #[test]
    fn a6_a_volunteer_meets_the_yearly_minimum_with_two_activities_and_not_with_one() {
        let rules = RuleSet::baiqianwan(vec![]);
        assert!(rules.volunteer_meets_frequency(2));
        assert!(!rules.volunteer_meets_frequency(1));
    }

    #[test]
    fn a2_baiqianwan_coverage_is_evaluated_on_31_december_2024() {
        let campaign = Campaign {
            window: Some((
                NaiveDate::from_ymd_opt(2023, 12, 1).unwrap(),
                NaiveDate::from_ymd_opt(2025, 3, 31).unwrap(),
            )),
            ..Campaign::default()
        };
        assert_eq!(
            campaign.coverage_evaluation_date(),
            NaiveDate::from_ymd_opt(2024, 12, 31)
        );
        let short = Campaign {
            window: Some((
                NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
                NaiveDate::from_ymd_opt(2024, 9, 30).unwrap(),
            )),
            ..Campaign::default()
        };
        assert_eq!(
            short.coverage_evaluation_date(),
            None,
            "a window without a full year has no A2 date"
        );
    }
}

//! # Region (行政区划) and coverage arithmetic — rules A1, A2, GB/T 2260
//!
//! Policy of this module:
//! - Stream category `"region"`, instance id = the six-digit GB/T 2260 code (e.g. `region-330602`).
//! - **Definition.** A region has a code, a name, a level (province / city / county), a parent and a
//!   validity period: `valid_from` (inclusive) and an optional `valid_to` (exclusive: the first day the code
//!   is no longer valid). The code's shape must fit the level (`xx0000` province, `xxxx00` city, anything
//!   else county) and the parent must be the code's own province or city prefix and of a higher level.
//!   Townships have nine-digit codes (GB/T 10114) that a [`RegionCode`] cannot hold, so defining a
//!   township-level region is rejected (see [`RegionLevel::Township`]).
//! - **Retirement.** Codes are retired when divisions change (330621 绍兴县 → 330603 柯桥区): `valid_to`
//!   and an optional successor code (which must be defined and differ from the code).
//! - **Resident population (常住人口).** Recorded per year with its source (e.g. "2023年绍兴市统计公报"),
//!   count > 0. A second record for the same year supersedes the first and needs a reason; both stay in the
//!   history. The figure for a coverage evaluation is the latest recorded year not after the evaluation
//!   year ([`population_for`]), shown with its year and source.
//! - **A1 arithmetic** ([`passes`], [`minimum_volunteers`], [`shortfall`]) is integer-only (u128): a region
//!   passes when `volunteers × 100000 ≥ per_100k × population` — "以上" includes equality.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::domain_events;
use crate::error::DomainError;
use crate::ids::{RegionCode, Text};
use crate::rules;

pub const NAME_MAX_CHARS: usize = 100;
pub const SOURCE_MAX_CHARS: usize = 200;
pub const REASON_MAX_CHARS: usize = 2_000;
/// Years accepted for a population record.
pub const POPULATION_YEARS: std::ops::RangeInclusive<i32> = 1949..=2100;

// ---------------------------------------------------------------------------------------------------------
// A1 arithmetic
// ---------------------------------------------------------------------------------------------------------

/// A1: `volunteers × 100000 ≥ per_100k × population`, in u128 ("以上" includes equality).
pub fn passes(volunteers: u64, population: u64, per_100k: u32) -> bool {
    u128::from(volunteers) * 100_000 >= u128::from(per_100k) * u128::from(population)
}

/// A1: the fewest volunteers that pass, `ceil(per_100k × population / 100000)`; saturates at `u64::MAX`.
pub fn minimum_volunteers(population: u64, per_100k: u32) -> u64 {
    let needed = (u128::from(per_100k) * u128::from(population)).div_ceil(100_000);
    u64::try_from(needed).unwrap_or(u64::MAX)
}

/// A1: how many more volunteers are needed to pass (0 when passing).
pub fn shortfall(volunteers: u64, population: u64, per_100k: u32) -> u64 {
    minimum_volunteers(population, per_100k).saturating_sub(volunteers)
}

/// A resident population figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PopulationRecord {
    pub year: i32,
    pub count: u64,
    /// E.g. "2023年绍兴市统计公报".
    pub source: Text,
}

/// The population to use for an evaluation in `evaluation_year`: the latest recorded year not after it.
/// `records` holds the figure in force per year (a superseded record is not in it).
pub fn population_for(
    records: &BTreeMap<i32, PopulationRecord>,
    evaluation_year: i32,
) -> Option<&PopulationRecord> {
    records
        .range(..=evaluation_year)
        .next_back()
        .map(|(_, r)| r)
}

// ---------------------------------------------------------------------------------------------------------
// Commands and facts
// ---------------------------------------------------------------------------------------------------------

/// Administrative level. Ordered from the top: `Province < City < County < Township`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    City,
    County,
    /// Kept for completeness of the vocabulary; townships have nine-digit codes, so a region of this level
    /// cannot be defined with a six-digit [`RegionCode`].
    Township,
}

impl RegionLevel {
    /// The level a six-digit code's shape implies.
    pub fn of_code(code: &RegionCode) -> RegionLevel {
        let s = code.as_str();
        if s.ends_with("0000") {
            Self::Province
        } else if s.ends_with("00") {
            Self::City
        } else {
            Self::County
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefineRegion {
    pub code: RegionCode,
    pub name: Text,
    pub level: RegionLevel,
    /// `None` only for a province.
    pub parent: Option<RegionCode>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetireRegion {
    /// First day the code is no longer valid.
    pub valid_to: NaiveDate,
    pub successor: Option<RegionCode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordResidentPopulation {
    pub year: i32,
    pub count: u64,
    pub source: Text,
    /// Required when the year has a figure already (the new one supersedes it).
    pub reason: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionCommand {
    Define(DefineRegion),
    Retire(RetireRegion),
    RecordResidentPopulation(RecordResidentPopulation),
}

/// What the application layer loads: for [`RegionCommand::Define`] the parent region's level (`None`
/// when the parent is not defined); for [`RegionCommand::Retire`] whether the successor is defined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegionFacts {
    pub parent_level: Option<RegionLevel>,
    pub successor_defined: bool,
}

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionDefined {
    pub code: RegionCode,
    pub name: Text,
    pub level: RegionLevel,
    pub parent: Option<RegionCode>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionRetired {
    pub valid_to: NaiveDate,
    pub successor: Option<RegionCode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentPopulationRecorded {
    pub year: i32,
    pub count: u64,
    pub source: Text,
    /// `true` when this record replaces an earlier one for the same year.
    pub supersedes: bool,
    pub reason: Option<Text>,
}

domain_events! {
    /// Events of a region.
    pub enum RegionEvent {
        Defined(RegionDefined) = ("RegionDefined", 1),
        Retired(RegionRetired) = ("RegionRetired", 1),
        ResidentPopulationRecorded(ResidentPopulationRecorded) = ("ResidentPopulationRecorded", 1),
    }
}

// ---------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------

/// The region aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Region {
    code: Option<RegionCode>,
    name: Option<Text>,
    level: Option<RegionLevel>,
    parent: Option<RegionCode>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    successor: Option<RegionCode>,
    populations: BTreeMap<i32, PopulationRecord>,
}

impl Region {
    pub fn code(&self) -> Option<RegionCode> {
        self.code
    }
    pub fn is_defined(&self) -> bool {
        self.code.is_some()
    }
    pub fn name(&self) -> Option<&Text> {
        self.name.as_ref()
    }
    pub fn level(&self) -> Option<RegionLevel> {
        self.level
    }
    pub fn parent(&self) -> Option<RegionCode> {
        self.parent
    }
    pub fn valid_from(&self) -> Option<NaiveDate> {
        self.valid_from
    }
    pub fn valid_to(&self) -> Option<NaiveDate> {
        self.valid_to
    }
    pub fn successor(&self) -> Option<RegionCode> {
        self.successor
    }
    /// The code is valid on `date`.
    pub fn is_valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_some_and(|f| f <= date) && self.valid_to.is_none_or(|t| date < t)
    }
    /// The figure in force per year.
    pub fn populations(&self) -> &BTreeMap<i32, PopulationRecord> {
        &self.populations
    }
    /// The population for an evaluation in `evaluation_year` (latest recorded year not after it).
    pub fn population_for(&self, evaluation_year: i32) -> Option<&PopulationRecord> {
        population_for(&self.populations, evaluation_year)
    }

    fn require_defined(&self) -> Result<RegionCode, DomainError> {
        self.code
            .ok_or_else(|| DomainError::not_found("code", "the region is not defined"))
    }
}

fn gbt(field: &str, reason: String) -> DomainError {
    DomainError::invalid_by(rules::GBT2260, field, reason)
}

fn check_define(c: &DefineRegion, facts: &RegionFacts) -> Result<(), DomainError> {
    c.name.check_max("name", NAME_MAX_CHARS)?;
    if c.level == RegionLevel::Township {
        return Err(gbt(
            "level",
            "townships have nine-digit codes (GB/T 10114); a six-digit code cannot name one".into(),
        ));
    }
    let shape = RegionLevel::of_code(&c.code);
    if shape != c.level {
        return Err(gbt(
            "level",
            format!("code {} has the shape of a {shape:?} code", c.code),
        ));
    }
    match (c.level, c.parent) {
        (RegionLevel::Province, None) => {}
        (RegionLevel::Province, Some(_)) => {
            return Err(gbt("parent", "a province has no parent".into()));
        }
        (_, None) => {
            return Err(gbt("parent", "only a province has no parent".into()));
        }
        (_, Some(p)) => {
            let prefix_ok = p == c.code.province() || (p == c.code.city() && p != c.code);
            if !prefix_ok || p == c.code {
                return Err(gbt(
                    "parent",
                    format!("{p} is not the province or city prefix of {}", c.code),
                ));
            }
            match facts.parent_level {
                None => {
                    return Err(DomainError::not_found(
                        "parent",
                        format!("region {p} is not defined"),
                    ));
                }
                Some(pl) if pl >= c.level => {
                    return Err(gbt(
                        "parent",
                        format!("{p} is a {pl:?}, not above a {:?}", c.level),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    if c.valid_to.is_some_and(|t| t <= c.valid_from) {
        return Err(DomainError::invalid("valid_to", "must be after valid_from"));
    }
    Ok(())
}

impl Aggregate for Region {
    const CATEGORY: &'static str = "region";
    type Command = RegionCommand;
    type Event = RegionEvent;
    type Facts = RegionFacts;

    fn decide(
        &self,
        command: &RegionCommand,
        facts: &RegionFacts,
        _ctx: &Decision,
    ) -> Result<Vec<RegionEvent>, DomainError> {
        match command {
            RegionCommand::Define(c) => {
                if self.code.is_some() {
                    return Err(DomainError::already_exists(
                        "code",
                        format!("region {} is defined already", c.code),
                    ));
                }
                check_define(c, facts)?;
                Ok(vec![RegionEvent::Defined(RegionDefined {
                    code: c.code,
                    name: c.name.clone(),
                    level: c.level,
                    parent: c.parent,
                    valid_from: c.valid_from,
                    valid_to: c.valid_to,
                })])
            }
            RegionCommand::Retire(c) => {
                let code = self.require_defined()?;
                if let Some(t) = self.valid_to {
                    return Err(DomainError::lifecycle(
                        "valid_to",
                        format!("region {code} is retired already (valid to {t})"),
                    ));
                }
                if self.valid_from.is_some_and(|f| c.valid_to <= f) {
                    return Err(DomainError::invalid(
                        "valid_to",
                        "must be after the region's valid_from",
                    ));
                }
                if let Some(s) = c.successor {
                    if s == code {
                        return Err(gbt("successor", "a code cannot succeed itself".into()));
                    }
                    if !facts.successor_defined {
                        return Err(DomainError::not_found(
                            "successor",
                            format!("region {s} is not defined"),
                        ));
                    }
                }
                Ok(vec![RegionEvent::Retired(RegionRetired {
                    valid_to: c.valid_to,
                    successor: c.successor,
                })])
            }
            RegionCommand::RecordResidentPopulation(c) => {
                self.require_defined()?;
                if !POPULATION_YEARS.contains(&c.year) {
                    return Err(DomainError::invalid(
                        "year",
                        format!(
                            "{} is outside {}..={}",
                            c.year,
                            POPULATION_YEARS.start(),
                            POPULATION_YEARS.end()
                        ),
                    ));
                }
                if c.count == 0 {
                    return Err(DomainError::invalid_by(
                        rules::A1,
                        "count",
                        "a resident population is greater than zero",
                    ));
                }
                c.source.check_max("source", SOURCE_MAX_CHARS)?;
                if let Some(r) = &c.reason {
                    r.check_max("reason", REASON_MAX_CHARS)?;
                }
                let existing = self.populations.get(&c.year);
                if let Some(old) = existing {
                    if c.reason.is_none() {
                        return Err(DomainError::invalid_by(
                            rules::A1,
                            "reason",
                            format!(
                                "{} has a figure already ({} from {}); superseding it needs a reason",
                                c.year, old.count, old.source
                            ),
                        ));
                    }
                    if old.count == c.count && old.source == c.source {
                        return Ok(vec![]);
                    }
                }
                Ok(vec![RegionEvent::ResidentPopulationRecorded(
                    ResidentPopulationRecorded {
                        year: c.year,
                        count: c.count,
                        source: c.source.clone(),
                        supersedes: existing.is_some(),
                        reason: c.reason.clone(),
                    },
                )])
            }
        }
    }

    fn evolve(&mut self, event: &RegionEvent) {
        match event {
            RegionEvent::Defined(e) => {
                self.code = Some(e.code);
                self.name = Some(e.name.clone());
                self.level = Some(e.level);
                self.parent = e.parent;
                self.valid_from = Some(e.valid_from);
                self.valid_to = e.valid_to;
            }
            RegionEvent::Retired(e) => {
                self.valid_to = Some(e.valid_to);
                self.successor = e.successor;
            }
            RegionEvent::ResidentPopulationRecorded(e) => {
                self.populations.insert(
                    e.year,
                    PopulationRecord {
                        year: e.year,
                        count: e.count,
                        source: e.source.clone(),
                    },
                );
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
    fn code(s: &str) -> RegionCode {
        RegionCode::parse("code", s).unwrap()
    }
    fn define(c: &str, level: RegionLevel, parent: Option<&str>) -> RegionCommand {
        RegionCommand::Define(DefineRegion {
            code: code(c),
            name: text("越城区"),
            level,
            parent: parent.map(code),
            valid_from: d("2013-10-18"),
            valid_to: None,
        })
    }
    fn parent(level: RegionLevel) -> RegionFacts {
        RegionFacts {
            parent_level: Some(level),
            successor_defined: false,
        }
    }
    fn pop(year: i32, count: u64, reason: Option<&str>) -> RegionCommand {
        RegionCommand::RecordResidentPopulation(RecordResidentPopulation {
            year,
            count,
            source: text(&format!("{year}年绍兴市统计公报")),
            reason: reason.map(text),
        })
    }
    fn run(s: &mut Region, c: RegionCommand, f: &RegionFacts) -> Vec<RegionEvent> {
        let events = s.decide(&c, f, &ctx()).unwrap();
        for e in &events {
            s.evolve(e);
        }
        events
    }
    fn county() -> Region {
        let mut s = Region::default();
        run(
            &mut s,
            define("330602", RegionLevel::County, Some("330600")),
            &parent(RegionLevel::City),
        );
        s
    }

    // ---- A1 arithmetic --------------------------------------------------------------------------------

    #[test]
    fn a1_minimum_volunteers_match_the_shaoxing_table() {
        for (region, population, minimum) in [
            ("330600", 5_394_000, 540),
            ("330681", 1_229_200, 123),
            ("330602", 1_130_600, 114),
            ("330603", 1_124_500, 113),
            ("330604", 802_800, 81),
            ("330683", 695_200, 70),
            ("330624", 411_700, 42),
        ] {
            assert_eq!(minimum_volunteers(population, 10), minimum, "{region}");
            assert!(passes(minimum, population, 10), "{region}");
            assert!(!passes(minimum - 1, population, 10), "{region}");
            assert_eq!(shortfall(minimum - 1, population, 10), 1, "{region}");
            assert_eq!(shortfall(minimum, population, 10), 0, "{region}");
            assert_eq!(shortfall(minimum + 50, population, 10), 0, "{region}");
        }
    }

    #[test]
    fn a1_county_passes_at_exactly_ten_per_hundred_thousand() {
        // 1 130 000 × 10 = 113 × 100 000 exactly
        assert!(passes(113, 1_130_000, 10));
        assert_eq!(minimum_volunteers(1_130_000, 10), 113);
    }

    #[test]
    fn a1_county_fails_one_volunteer_below_the_exact_boundary() {
        assert!(!passes(112, 1_130_000, 10));
        assert_eq!(shortfall(112, 1_130_000, 10), 1);
    }

    #[test]
    fn a1_arithmetic_does_not_overflow_at_the_extremes() {
        assert!(passes(u64::MAX, u64::MAX, 100_000));
        assert!(!passes(u64::MAX - 1, u64::MAX, 100_000));
        assert_eq!(minimum_volunteers(u64::MAX, u32::MAX), u64::MAX);
        assert_eq!(minimum_volunteers(0, 10), 0);
        assert!(passes(0, 0, 10));
    }

    // ---- population choice ----------------------------------------------------------------------------

    #[test]
    fn a1_population_is_the_latest_recorded_year_not_after_the_evaluation_year() {
        let mut s = county();
        run(&mut s, pop(2022, 1_120_000, None), &RegionFacts::default());
        run(&mut s, pop(2023, 1_130_600, None), &RegionFacts::default());
        run(&mut s, pop(2025, 1_140_000, None), &RegionFacts::default());
        assert_eq!(s.population_for(2021), None);
        assert_eq!(s.population_for(2022).unwrap().count, 1_120_000);
        assert_eq!(s.population_for(2023).unwrap().count, 1_130_600);
        let p = s.population_for(2024).unwrap();
        assert_eq!((p.year, p.count), (2023, 1_130_600));
        assert_eq!(p.source, text("2023年绍兴市统计公报"));
        assert_eq!(s.population_for(2030).unwrap().year, 2025);
    }

    #[test]
    fn a1_a_second_figure_for_a_year_supersedes_and_needs_a_reason() {
        let mut s = county();
        run(&mut s, pop(2023, 1_130_000, None), &RegionFacts::default());
        let e = s
            .decide(&pop(2023, 1_130_600, None), &RegionFacts::default(), &ctx())
            .unwrap_err();
        assert_eq!((e.rule, e.field.as_str()), (rules::A1, "reason"));
        let events = run(
            &mut s,
            pop(2023, 1_130_600, Some("统计公报更正")),
            &RegionFacts::default(),
        );
        assert!(
            matches!(&events[..], [RegionEvent::ResidentPopulationRecorded(r)] if r.supersedes)
        );
        assert_eq!(s.population_for(2023).unwrap().count, 1_130_600);
    }

    #[test]
    fn a1_zero_population_or_an_absurd_year_is_rejected() {
        let e = county()
            .decide(&pop(2023, 0, None), &RegionFacts::default(), &ctx())
            .unwrap_err();
        assert_eq!((e.rule, e.field.as_str()), (rules::A1, "count"));
        let e = county()
            .decide(&pop(1900, 1, None), &RegionFacts::default(), &ctx())
            .unwrap_err();
        assert_eq!(e.field, "year");
    }

    #[test]
    fn recording_population_of_an_undefined_region_is_rejected() {
        let e = Region::default()
            .decide(&pop(2023, 1, None), &RegionFacts::default(), &ctx())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    // ---- definition and retirement ----------------------------------------------------------------------

    #[test]
    fn gbt2260_defining_a_county_under_its_city() {
        let s = county();
        assert_eq!(s.code(), Some(code("330602")));
        assert_eq!(s.level(), Some(RegionLevel::County));
        assert_eq!(s.parent(), Some(code("330600")));
        assert!(s.is_valid_on(d("2024-12-31")));
        assert!(!s.is_valid_on(d("2013-10-17")));
    }

    #[test]
    fn gbt2260_a_county_directly_under_its_province_is_accepted() {
        // 省直辖县级行政单位, e.g. 429004 仙桃市
        let mut s = Region::default();
        run(
            &mut s,
            define("429004", RegionLevel::County, Some("420000")),
            &parent(RegionLevel::Province),
        );
        assert_eq!(s.parent(), Some(code("420000")));
    }

    #[test]
    fn gbt2260_level_must_fit_the_code_shape() {
        for (c, level) in [
            ("330602", RegionLevel::City),
            ("330600", RegionLevel::County),
            ("330000", RegionLevel::City),
        ] {
            let e = Region::default()
                .decide(
                    &define(c, level, Some("330000")),
                    &parent(RegionLevel::Province),
                    &ctx(),
                )
                .unwrap_err();
            assert_eq!((e.rule, e.field.as_str()), (rules::GBT2260, "level"), "{c}");
        }
    }

    #[test]
    fn gbt2260_a_township_cannot_be_defined_with_a_six_digit_code() {
        let e = Region::default()
            .decide(
                &define("330602", RegionLevel::Township, Some("330602")),
                &parent(RegionLevel::County),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!((e.rule, e.field.as_str()), (rules::GBT2260, "level"));
    }

    #[test]
    fn gbt2260_parent_must_be_the_codes_prefix_defined_and_above() {
        let e = Region::default()
            .decide(
                &define("330602", RegionLevel::County, Some("330100")),
                &parent(RegionLevel::City),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!((e.rule, e.field.as_str()), (rules::GBT2260, "parent"));
        let e = Region::default()
            .decide(
                &define("330602", RegionLevel::County, Some("330600")),
                &RegionFacts::default(),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!((e.kind, e.field.as_str()), (ErrorKind::NotFound, "parent"));
        let e = Region::default()
            .decide(
                &define("330602", RegionLevel::County, Some("330600")),
                &parent(RegionLevel::County),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(e.field, "parent");
        let e = Region::default()
            .decide(
                &define("330602", RegionLevel::County, None),
                &RegionFacts::default(),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(e.field, "parent");
        let e = Region::default()
            .decide(
                &define("330000", RegionLevel::Province, Some("330000")),
                &RegionFacts::default(),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(e.field, "parent");
    }

    #[test]
    fn defining_twice_is_rejected_as_already_existing() {
        let e = county()
            .decide(
                &define("330602", RegionLevel::County, Some("330600")),
                &parent(RegionLevel::City),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn gbt2260_retiring_330621_with_successor_330603_ends_its_validity() {
        let mut s = Region::default();
        run(
            &mut s,
            RegionCommand::Define(DefineRegion {
                code: code("330621"),
                name: text("绍兴县"),
                level: RegionLevel::County,
                parent: Some(code("330600")),
                valid_from: d("1983-07-01"),
                valid_to: None,
            }),
            &parent(RegionLevel::City),
        );
        let retire = RegionCommand::Retire(RetireRegion {
            valid_to: d("2013-10-18"),
            successor: Some(code("330603")),
        });
        let e = s
            .decide(&retire, &RegionFacts::default(), &ctx())
            .unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_str()),
            (ErrorKind::NotFound, "successor")
        );
        run(
            &mut s,
            retire.clone(),
            &RegionFacts {
                parent_level: None,
                successor_defined: true,
            },
        );
        assert!(s.is_valid_on(d("2013-10-17")));
        assert!(!s.is_valid_on(d("2013-10-18")));
        assert_eq!(s.successor(), Some(code("330603")));
        let e = s
            .decide(&retire, &RegionFacts::default(), &ctx())
            .unwrap_err();
        assert_eq!(e.rule, RuleId::LIFECYCLE);
    }

    #[test]
    fn gbt2260_retiring_before_validity_or_to_itself_is_rejected() {
        let e = county()
            .decide(
                &RegionCommand::Retire(RetireRegion {
                    valid_to: d("2013-10-18"),
                    successor: None,
                }),
                &RegionFacts::default(),
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(e.field, "valid_to");
        let e = county()
            .decide(
                &RegionCommand::Retire(RetireRegion {
                    valid_to: d("2020-01-01"),
                    successor: Some(code("330602")),
                }),
                &RegionFacts {
                    parent_level: None,
                    successor_defined: true,
                },
                &ctx(),
            )
            .unwrap_err();
        assert_eq!((e.rule, e.field.as_str()), (rules::GBT2260, "successor"));
    }

    // ---- golden JSON ----------------------------------------------------------------------------------

    fn golden(e: &RegionEvent, ty: &str, json: &str) {
        assert_eq!(e.event_type(), ty);
        assert_eq!(e.schema_version(), 1);
        assert_eq!(e.to_payload().unwrap(), json, "payload of {ty}");
        assert_eq!(&RegionEvent::from_payload(ty, 1, json).unwrap(), e);
    }

    #[test]
    fn golden_json_of_every_region_event() {
        golden(
            &RegionEvent::Defined(RegionDefined {
                code: code("330603"),
                name: text("柯桥区"),
                level: RegionLevel::County,
                parent: Some(code("330600")),
                valid_from: d("2013-10-18"),
                valid_to: None,
            }),
            "RegionDefined",
            r#"{"code":"330603","name":"柯桥区","level":"county","parent":"330600","valid_from":"2013-10-18","valid_to":null}"#,
        );
        golden(
            &RegionEvent::Retired(RegionRetired {
                valid_to: d("2013-10-18"),
                successor: Some(code("330603")),
            }),
            "RegionRetired",
            r#"{"valid_to":"2013-10-18","successor":"330603"}"#,
        );
        golden(
            &RegionEvent::ResidentPopulationRecorded(ResidentPopulationRecorded {
                year: 2023,
                count: 5_394_000,
                source: text("2023年绍兴市统计公报"),
                supersedes: false,
                reason: None,
            }),
            "ResidentPopulationRecorded",
            r#"{"year":2023,"count":5394000,"source":"2023年绍兴市统计公报","supersedes":false,"reason":null}"#,
        );
        assert_eq!(RegionEvent::TYPES.len(), 3);
    }

    // ---- properties -----------------------------------------------------------------------------------

    proptest! {
        #[test]
        fn a1_passes_exactly_from_the_minimum(population in 0u64..2_000_000_000, per in 0u32..1000, v in 0u64..100_000) {
            let m = minimum_volunteers(population, per);
            prop_assert!(passes(m, population, per));
            if m > 0 { prop_assert!(!passes(m - 1, population, per)); }
            prop_assert_eq!(passes(v, population, per), v >= m);
            prop_assert_eq!(shortfall(v, population, per), m.saturating_sub(v));
        }

        #[test]
        fn a1_population_decisions_hold_after_replay(
            steps in proptest::collection::vec((2018i32..2026, 1u64..3_000_000, proptest::bool::ANY), 0..20),
            eval in 2015i32..2030,
        ) {
            let mut s = county();
            let mut history = Region::default()
                .decide(&define("330602", RegionLevel::County, Some("330600")), &parent(RegionLevel::City), &ctx())
                .unwrap();
            for (year, count, reason) in steps {
                let cmd = pop(year, count, reason.then_some("更正"));
                if let Ok(events) = s.decide(&cmd, &RegionFacts::default(), &ctx()) {
                    for e in &events { s.evolve(e); }
                    history.extend(events);
                    prop_assert_eq!(s.populations()[&year].count, count);
                }
                prop_assert_eq!(&Region::replay(&history), &s);
            }
            if let Some(p) = s.population_for(eval) {
                prop_assert!(p.year <= eval);
                prop_assert!(!s.populations().keys().any(|y| *y > p.year && *y <= eval));
            } else {
                prop_assert!(s.populations().keys().all(|y| *y > eval));
            }
        }
    }
}

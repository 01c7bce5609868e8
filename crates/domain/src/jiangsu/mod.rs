//! # Jiangsu epidemic-prevention volunteering (seed 003) — rules B3, B4, B5, B7, B8, B9, B10
//!
//! Four small aggregates, each its own stream category:
//! - [`dispatch`] (`"dispatch"`): an emergency HQ dispatches active teams and first-echelon reserve
//!   volunteers (B3, B4); professionals need a qualification valid on the dispatch date, drivers a passed
//!   training (B7).
//! - [`deployment`] (`"deployment"`): a volunteer from a home unit serves a community grid as "second grid
//!   member" (第二网格员) for a period (B5).
//! - [`medicine_box`] (`"medbox"`): shared medicine boxes, physical or virtual; donations in and
//!   dispensing out by recipient *category* only; stock per (medicine, unit) never goes below zero (B8, B9).
//! - [`need`] (`"need"`): a community posts a need, it is verified (or rejected), an active team takes it and
//!   fulfils it, in that order (B10).
//!
//! Facts about volunteers and teams are plain structs of this module (booleans the application layer
//! loads), not the volunteer/team aggregates. No personal data enters these events: people appear only as
//! [`crate::ids::VolunteerId`], recipients and donors only as categories.

pub mod deployment;
pub mod dispatch;
pub mod medicine_box;
pub mod need;

/// Index of the first element that repeats an earlier one.
pub(crate) fn first_duplicate<T: PartialEq>(items: &[T]) -> Option<usize> {
    (0..items.len()).find(|&i| items[..i].contains(&items[i]))
}

#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, NaiveDate, Utc};

    use crate::aggregate::Decision;
    use crate::ids::{RegionCode, Text};

    pub fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    pub fn ctx() -> Decision {
        Decision {
            received_at: at("2022-04-10T02:00:00Z"),
        }
    }
    pub fn text(s: &str) -> Text {
        Text::parse("t", s, 100_000).unwrap()
    }
    pub fn region(s: &str) -> RegionCode {
        RegionCode::parse("r", s).unwrap()
    }
    pub fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::first_duplicate;

    #[test]
    fn first_duplicate_finds_the_repeating_index() {
        assert_eq!(first_duplicate::<u8>(&[]), None);
        assert_eq!(first_duplicate(&[1, 2, 3]), None);
        assert_eq!(first_duplicate(&[1, 2, 1, 2]), Some(2));
    }
}

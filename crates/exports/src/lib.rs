//! # exports — the city's annual evaluation as files (A1, A5, A6, A16, A17)
//!
//! Policy of this crate:
//! - **Input is already decided.** An [`Evaluation`] carries the figures the read models answered (per
//!   county and the city); nothing is computed here but presentation (hours from minutes, the chart's
//!   scale). Ratios arrive as the read model's truncated decimal text, so a file never shows a county
//!   at the threshold that the read model judged below it.
//! - **Chinese headers**, the same columns in the same order in XLSX and CSV ([`COLUMNS`]).
//! - **CSV** is RFC 4180 (the `csv` crate) in UTF-8 with a byte-order mark, so spreadsheet software
//!   opens the Chinese text correctly. **XLSX** is written by `rust_xlsxwriter` (numbers as numbers).
//!   **SVG** is a self-contained bar chart of volunteers per 100 000 residents by county against the
//!   A1 line; no scripts, no external fonts or links.
//! - No personal data: counts, codes and names of regions only.
//! - Deterministic: the same evaluation gives byte-identical CSV and SVG.

mod chart;
mod table;

pub use chart::coverage_svg;
pub use table::{COLUMNS, to_csv, to_xlsx};

use chrono::NaiveDate;

/// An export that could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("csv: {0}")]
    CsvBuffer(String),
}

/// The annual evaluation of a city on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub city_code: String,
    pub city_name: String,
    /// The evaluation date (A2: 2024-12-31 for the 2024 campaign year).
    pub date: NaiveDate,
    /// The A1 threshold, volunteers per 100 000 residents.
    pub required_per_100k: u32,
    /// The read models' position the figures reflect (an opaque token).
    pub as_of: String,
    /// One row per county, in the order to show.
    pub counties: Vec<RegionRow>,
    /// The city as a whole.
    pub city: RegionRow,
}

/// The figures of one region.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionRow {
    pub code: String,
    pub name: String,
    /// The population used (latest recorded year not after the evaluation year).
    pub population: Option<PopulationFigure>,
    /// A1: distinct registered members of active teams.
    pub registered_volunteers: u64,
    /// Volunteers per 100 000 residents, truncated decimal text (e.g. `"10.00"`).
    pub per_100k: Option<String>,
    pub passes: Option<bool>,
    /// Persons missing to pass.
    pub shortfall: Option<u64>,
    /// Of the registered, those with ≥ 1 participation in the year up to the date.
    pub active_volunteers: u64,
    /// A5: active teams judged, and those below the minimum.
    pub teams: u64,
    pub teams_below_minimum: u64,
    /// A6: volunteers below the minimum.
    pub volunteers_below_minimum: u64,
    /// A3/A4: relevant departments and mandatory hosts without a team.
    pub hosts_without_team: u64,
    /// A17 figures of the year up to the date.
    pub activities: u64,
    pub participations: u64,
    pub volunteer_minutes: u64,
    pub people_reached: u64,
    pub media_pieces: u64,
    /// A16, as a Chinese label (e.g. `已报送（按时）`); empty for the city row.
    pub summary_status: String,
}

/// A resident population figure with its year and source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopulationFigure {
    pub count: u64,
    pub year: i32,
    pub source: String,
}

/// Minutes as hours with one decimal, truncated (`90` → `"1.5"`).
pub fn hours(minutes: u64) -> String {
    format!("{}.{}", minutes / 60, (minutes % 60) * 10 / 60)
}

#[cfg(test)]
pub(crate) mod fixture {
    use super::*;

    pub fn row(code: &str, name: &str, registered: u64, population: u64) -> RegionRow {
        let per = u128::from(registered) * 100_000 * 100 / u128::from(population);
        RegionRow {
            code: code.to_owned(),
            name: name.to_owned(),
            population: Some(PopulationFigure {
                count: population,
                year: 2023,
                source: "2023年统计公报".to_owned(),
            }),
            registered_volunteers: registered,
            per_100k: Some(format!("{}.{:02}", per / 100, per % 100)),
            passes: Some(u128::from(registered) * 100_000 >= 10 * u128::from(population)),
            shortfall: Some(
                (10 * population)
                    .div_ceil(100_000)
                    .saturating_sub(registered),
            ),
            active_volunteers: registered / 2,
            teams: 3,
            teams_below_minimum: 1,
            volunteers_below_minimum: 4,
            hosts_without_team: 0,
            activities: 12,
            participations: 40,
            volunteer_minutes: 2_430,
            people_reached: 1_200,
            media_pieces: 5,
            summary_status: "已报送（按时）".to_owned(),
        }
    }

    pub fn evaluation() -> Evaluation {
        let counties = vec![
            row("330602", "越城区", 47, 464_000),
            row("330603", "柯桥区", 119, 1_189_000),
            row("330604", "上虞区", 30, 790_000),
        ];
        let city = RegionRow {
            summary_status: String::new(),
            ..row("330600", "绍兴市", 196, 2_443_000)
        };
        Evaluation {
            city_code: "330600".to_owned(),
            city_name: "绍兴市".to_owned(),
            date: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap_or_default(),
            required_per_100k: 10,
            as_of: "812.77".to_owned(),
            counties,
            city,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_truncated_to_one_decimal() {
        assert_eq!(hours(0), "0.0");
        assert_eq!(hours(90), "1.5");
        assert_eq!(hours(2_430), "40.5");
        assert_eq!(hours(59), "0.9");
    }
}

//! Query parameters shared by the report-like endpoints: each parser names its parameter in the 400.

use app::events::parse_token;
use app::reads::MAX_REPORT_PAGE;
use chrono::NaiveDate;
use domain::ids::RegionCode;
use eventstore::Token;

use crate::RestState;
use crate::dto::region;
use crate::error::ApiError;

/// `min_token`: absent or empty means no wait.
pub(super) fn min_token(s: Option<&str>) -> Result<Option<Token>, ApiError> {
    match s {
        None | Some("") => Ok(None),
        Some(t) => Ok(Some(parse_token("min_token", t)?)),
    }
}

/// `limit`: 1 to [`MAX_REPORT_PAGE`]; absent means the service's configured page size.
pub(super) fn limit(state: &RestState, s: Option<&str>) -> Result<usize, ApiError> {
    match s {
        None => Ok(state.config.default_page_size.clamp(1, MAX_REPORT_PAGE)),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_REPORT_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("must be an integer from 1 to {MAX_REPORT_PAGE}"),
                )
            }),
    }
}

/// The required `region` parameter.
pub(super) fn required_region(s: Option<&str>) -> Result<RegionCode, ApiError> {
    match s {
        Some(r) => region("region", r),
        None => Err(ApiError::invalid(
            "region",
            "the region query parameter is required",
        )),
    }
}

/// A required date parameter named `field` (`YYYY-MM-DD`).
pub(super) fn required_date(field: &str, s: Option<&str>) -> Result<NaiveDate, ApiError> {
    let Some(d) = s else {
        return Err(ApiError::invalid(
            field,
            format!("the {field} query parameter is required"),
        ));
    };
    iso_date(d).ok_or_else(|| ApiError::invalid(field, format!("{d:?} is not a date YYYY-MM-DD")))
}

/// `YYYY-MM-DD` exactly (RFC 3339's full-date: four, two and two digits), a real calendar date.
fn iso_date(d: &str) -> Option<NaiveDate> {
    let b = d.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        part.iter().all(u8::is_ascii_digit).then(|| {
            part.iter()
                .fold(0u32, |n, digit| n * 10 + u32::from(digit - b'0'))
        })
    };
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_parameter_is_exactly_a_calendar_date_yyyy_mm_dd() {
        let ok =
            |s: &str, y, m, d| assert_eq!(iso_date(s), NaiveDate::from_ymd_opt(y, m, d), "{s}");
        ok("2024-12-31", 2024, 12, 31);
        ok("2024-02-29", 2024, 2, 29);
        ok("0001-01-01", 1, 1, 1);
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-01-32",
            "2024-1-05",
            "2024-01-5",
            "+024-01-01",
            "-024-01-01",
            "2024/01/01",
            "2024-01-01 ",
            " 2024-01-01",
            "20240101",
            "2024-01-0\u{661}",
            "",
        ] {
            assert_eq!(iso_date(bad), None, "{bad:?}");
            assert!(required_date("date", Some(bad)).is_err(), "{bad:?}");
        }
        assert!(required_date("date", None).is_err());
    }
}

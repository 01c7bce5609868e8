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
    NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .ok()
        .filter(|_| d.len() == 10)
        .ok_or_else(|| ApiError::invalid(field, format!("{d:?} is not a date YYYY-MM-DD")))
}

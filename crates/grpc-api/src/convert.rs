//! Protobuf → domain values, naming the offending field.
//!
//! Policy: shape only (presence, UUID and date syntax, enum values, text bounds); every error is
//! `INVALID_ARGUMENT` naming the dotted field path of the request (`details.participants[2].volunteer_id`).
//! No business rule is checked here: the domain decides those. An enum left at `_UNSPECIFIED` (0) or
//! carrying a number this build does not know is rejected.

use app::{AppError, CommandOutcome};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use domain::ids::{RegionCode, Text};
use domain::summary::CountyYear;
use personal_data::PersonalRecord;
use uuid::Uuid;

use crate::pb;

/// Bound of free text at the door; the domain applies each field's own (smaller) limit.
pub(crate) const TEXT_MAX_CHARS: usize = 20_000;

/// The answer of a write.
pub(crate) fn written(o: CommandOutcome) -> Option<pb::WriteResult> {
    Some(pb::WriteResult {
        token: o.token.map(|t| t.to_string()).unwrap_or_default(),
        stream_id: o.stream_id,
        version: o.version,
        replayed: o.replayed,
    })
}

/// `[i]` appended to a field path.
pub(crate) fn at(field: &str, i: usize) -> String {
    format!("{field}[{i}]")
}

/// `field.sub`.
pub(crate) fn dot(field: &str, sub: &str) -> String {
    format!("{field}.{sub}")
}

fn required<'a>(field: &str, s: &'a str) -> Result<&'a str, AppError> {
    if s.is_empty() {
        Err(AppError::invalid(field, "is required"))
    } else {
        Ok(s)
    }
}

/// A required nested message.
pub(crate) fn message<'a, T>(field: &str, m: &'a Option<T>) -> Result<&'a T, AppError> {
    m.as_ref()
        .ok_or_else(|| AppError::invalid(field, "is required"))
}

pub(crate) fn uuid(field: &str, s: &str) -> Result<Uuid, AppError> {
    let s = required(field, s)?;
    Uuid::parse_str(s).map_err(|_| AppError::invalid(field, "is not a UUID"))
}

pub(crate) fn uuids(field: &str, list: &[String]) -> Result<Vec<Uuid>, AppError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| uuid(&at(field, i), s))
        .collect()
}

pub(crate) fn region(field: &str, s: &str) -> Result<RegionCode, AppError> {
    Ok(RegionCode::parse(field, required(field, s)?)?)
}

pub(crate) fn opt_region(field: &str, s: Option<&String>) -> Result<Option<RegionCode>, AppError> {
    s.map(|s| region(field, s)).transpose()
}

/// An ISO business date `YYYY-MM-DD`.
pub(crate) fn date(field: &str, s: &str) -> Result<NaiveDate, AppError> {
    let s = required(field, s)?;
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shaped
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| AppError::invalid(field, "is not a date of the form YYYY-MM-DD"))
}

pub(crate) fn opt_date(field: &str, s: Option<&String>) -> Result<Option<NaiveDate>, AppError> {
    s.map(|s| date(field, s)).transpose()
}

/// A local time `HH:MM` or `HH:MM:SS`.
pub(crate) fn opt_time(field: &str, s: Option<&String>) -> Result<Option<NaiveTime>, AppError> {
    s.map(|s| {
        NaiveTime::parse_from_str(s, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
            .map_err(|_| AppError::invalid(field, "is not a time of the form HH:MM or HH:MM:SS"))
    })
    .transpose()
}

/// An instant; required.
pub(crate) fn timestamp(
    field: &str,
    t: Option<&prost_types::Timestamp>,
) -> Result<DateTime<Utc>, AppError> {
    let t = t.ok_or_else(|| AppError::invalid(field, "is required"))?;
    u32::try_from(t.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
        .ok_or_else(|| AppError::invalid(field, "is not a valid timestamp"))
}

pub(crate) fn to_timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub(crate) fn text(field: &str, s: &str) -> Result<Text, AppError> {
    Ok(Text::parse(field, s, TEXT_MAX_CHARS)?)
}

pub(crate) fn opt_text(field: &str, s: Option<&String>) -> Result<Option<Text>, AppError> {
    s.map(|s| text(field, s)).transpose()
}

pub(crate) fn texts(field: &str, list: &[String]) -> Result<Vec<Text>, AppError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| text(&at(field, i), s))
        .collect()
}

/// A protobuf enum value: `_UNSPECIFIED` (0) and unknown numbers are rejected.
pub(crate) fn enumeration<E: TryFrom<i32>>(field: &str, v: i32) -> Result<E, AppError> {
    if v == 0 {
        return Err(AppError::invalid(
            field,
            "is required (the _UNSPECIFIED value is not a choice)",
        ));
    }
    E::try_from(v).map_err(|_| AppError::invalid(field, format!("{v} is not a known value")))
}

pub(crate) fn enumerations<E: TryFrom<i32>>(field: &str, list: &[i32]) -> Result<Vec<E>, AppError> {
    list.iter()
        .enumerate()
        .map(|(i, v)| enumeration(&at(field, i), *v))
        .collect()
}

/// A person given in plaintext (sealed by the app layer); required.
pub(crate) fn person(field: &str, p: &Option<pb::Person>) -> Result<PersonalRecord, AppError> {
    let p = message(field, p)?;
    Ok(PersonalRecord {
        name: p.name.clone(),
        id_number: p.id_number.clone(),
        phone: p.phone.clone(),
    })
}

/// A county and year (`{field}.county`, `{field}.year`).
pub(crate) fn county_year(field: &str, k: &Option<pb::CountyYear>) -> Result<CountyYear, AppError> {
    let k = message(field, k)?;
    let county = region(&dot(field, "county"), &k.county)?;
    Ok(CountyYear::new(field, county, k.year)?)
}

pub(crate) fn u8_score(field: &str, v: u32) -> Result<u8, AppError> {
    u8::try_from(v).map_err(|_| AppError::invalid(field, format!("{v} is out of range")))
}

/// `min_token`: empty means no wait.
pub(crate) fn min_token(s: &str) -> Result<Option<eventstore::Token>, AppError> {
    if s.is_empty() {
        Ok(None)
    } else {
        Ok(Some(app::events::parse_token("min_token", s)?))
    }
}

/// `page_size`: 0 means the default (100); at most [`app::reads::MAX_REPORT_PAGE`].
pub(crate) fn page_size(n: u32) -> Result<usize, AppError> {
    let max = app::reads::MAX_REPORT_PAGE;
    match usize::try_from(n) {
        Ok(0) => Ok(100),
        Ok(n) if n <= max => Ok(n),
        _ => Err(AppError::invalid(
            "page_size",
            format!("must be 0 (the default, 100) to {max}"),
        )),
    }
}

/// Ids as strings, in order.
pub(crate) fn ids<T: std::fmt::Display>(list: &[T]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

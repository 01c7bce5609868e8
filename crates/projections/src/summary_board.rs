//! # Annual-summary board (A16): where each county's summary of a year stands, and which are missing
//!
//! Policy of this module:
//! - Projector id `summary_board`. It consumes county-level region definitions and retirements (which
//!   counties owe a summary) and every annual-summary event. Tables `summary_board*` hold codes, years,
//!   statuses, counts and timestamps only — none of the summary's text, no personal data.
//! - **State** is the domain's [`SummaryStatus`] after the summary's latest event: not started
//!   ([`SummaryStatus::NotDrafted`], no summary drafted), draft (also after a revision), awaiting approval,
//!   approved, returned by the bureau, submitted to the city, returned by the city, accepted.
//! - **Timeliness** (A16) is the domain's judgement, never recomputed: the *first* submission to the city,
//!   with its receipt time, the exclusive deadline in force and `on_time`, exactly as the
//!   `SummarySubmittedToCity` event recorded them (later submissions never change it). A late submission
//!   is listed as late with its timestamp, never as missing.
//! - **Deadline and counties.** The queries take the campaign ([`Campaign`], replayed by the caller): its
//!   city names the counties (county-level regions of that city valid on at least one day of the year
//!   inside the window), [`Campaign::summary_deadline`] gives the exclusive deadline instant of a year —
//!   "on or before 5 January, Asia/Shanghai", i.e. 2025-01-05T16:00:00Z for 2024 — and
//!   [`Campaign::year_in_window`] whether the year is partial (A14). Every county owes a summary for every
//!   year the window touches.
//! - **Missing** (A16): at `now`, on or after the deadline, a county whose summary has never been
//!   submitted to the city (whatever its state: not started, draft, awaiting approval, …).
//!   [`missing_summaries`] lists those; before the deadline nothing is missing.
//! - An answer is read in one snapshot and states the parked events and the checkpoint it reflects.

use chrono::{DateTime, NaiveDate, Utc};
use domain::DomainEvent;
use domain::campaign::{Campaign, CampaignYear};
use domain::ids::RegionCode;
use domain::region::{RegionEvent, RegionLevel};
use domain::summary::{CountyYear, FirstSubmission, SummaryEvent, SummaryStatus};
use eventstore::{RecordedEvent, Token};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::compliance::{
    answer_state, from_stored_name, instance, region_of, snapshot, stored_name, year_start,
};
use crate::error::{ApplyError, ProjectionError};
use crate::runtime::Projector;

/// The event types this projector consumes (all others only advance its checkpoint).
const HANDLED: &[&str] = &[
    "RegionDefined",
    "RegionRetired",
    "SummaryDrafted",
    "SummaryRevised",
    "SummarySubmittedForApproval",
    "SummaryApproved",
    "SummaryReturnedByBureau",
    "SummarySubmittedToCity",
    "SummaryAccepted",
    "SummaryReturnedToCounty",
];

mod sql {
    /// Binds: $1 code, $2 city, $3 province, $4 valid_from, $5 valid_to.
    pub const DEFINE_COUNTY: &str =
        "INSERT INTO summary_board_counties (code, city, province, valid_from, valid_to)
VALUES ($1, $2, $3, $4, $5)";

    /// Binds: $1 code, $2 valid_to. A code that is not a county's changes nothing.
    pub const RETIRE: &str = "UPDATE summary_board_counties SET valid_to = $2 WHERE code = $1";

    /// Binds: $1 county, $2 year, $3 city, $4 status, $5 partial_year, $6 revision, $7 event time.
    pub const DRAFTED: &str = "INSERT INTO summary_board
(county, year, city, status, partial_year, revision, last_event_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)";

    /// Binds: $1 county, $2 year, $3 status, $4 revision, $5 event time.
    pub const STATUS: &str =
        "UPDATE summary_board SET status = $3, revision = $4, last_event_at = $5
WHERE county = $1 AND year = $2";

    /// Binds: $1 county, $2 year, $3 status, $4 revision, $5 event time, $6 received_at, $7 deadline,
    /// $8 on_time. The first submission is kept: later ones only count and move the last one.
    pub const SUBMITTED_TO_CITY: &str = "UPDATE summary_board SET
    status = $3, revision = $4, last_event_at = $5,
    submissions_to_city = submissions_to_city + 1,
    last_submitted_at = $6,
    first_submitted_at = coalesce(first_submitted_at, $6),
    first_deadline = CASE WHEN first_submitted_at IS NULL THEN $7 ELSE first_deadline END,
    first_on_time = CASE WHEN first_submitted_at IS NULL THEN $8 ELSE first_on_time END
WHERE county = $1 AND year = $2";

    /// Binds: $1 city, $2 year, $3 first day, $4 last day of the year inside the window. The counties of
    /// the city valid on a day of that period, and every summary of the city's counties for the year.
    pub const BOARD: &str = "SELECT coalesce(c.code, b.county) AS county,
    b.status, b.partial_year, b.revision, b.submissions_to_city, b.first_submitted_at,
    b.first_deadline, b.first_on_time, b.last_submitted_at, b.last_event_at
FROM (SELECT code FROM summary_board_counties
      WHERE city = $1 AND valid_from <= $4 AND (valid_to IS NULL OR $3 < valid_to)) c
FULL JOIN (SELECT * FROM summary_board WHERE city = $1 AND year = $2) b ON b.county = c.code
ORDER BY 1";
}

/// The summary-board projector (id `summary_board`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SummaryBoardProjector;

impl SummaryBoardProjector {
    pub const ID: &'static str = "summary_board";
}

impl Projector for SummaryBoardProjector {
    fn id(&self) -> &'static str {
        Self::ID
    }

    fn tables(&self) -> &'static [&'static str] {
        &["summary_board_counties", "summary_board"]
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        matches!(event.category(), "region" | "summary")
            && HANDLED.contains(&event.event_type.as_str())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        match event.category() {
            "region" => apply_region(conn, event).await,
            "summary" => apply_summary(conn, event).await,
            _ => Ok(()),
        }
    }
}

async fn apply_region(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ApplyError> {
    let code = RegionCode::parse("stream_id", instance(event)?)
        .map_err(|e| ApplyError::Invalid(format!("{}: {}", event.stream_id, e.reason)))?;
    match RegionEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        RegionEvent::Defined(d) if d.level == RegionLevel::County => {
            if d.code != code {
                return Err(ApplyError::Invalid(format!(
                    "RegionDefined for {} in stream {}",
                    d.code, event.stream_id
                )));
            }
            sqlx::query(sql::DEFINE_COUNTY)
                .bind(code.as_str())
                .bind(code.city().as_str())
                .bind(code.province().as_str())
                .bind(d.valid_from)
                .bind(d.valid_to)
                .execute(conn)
                .await?;
        }
        RegionEvent::Retired(r) => {
            sqlx::query(sql::RETIRE)
                .bind(code.as_str())
                .bind(r.valid_to)
                .execute(conn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

fn revision_i32(revision: u32) -> Result<i32, ApplyError> {
    i32::try_from(revision).map_err(|_| ApplyError::Invalid(format!("revision {revision}")))
}

async fn apply_summary(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ApplyError> {
    let key = CountyYear::parse("stream_id", instance(event)?)
        .map_err(|e| ApplyError::Invalid(format!("{}: {}", event.stream_id, e.reason)))?;
    let county = key.county();
    let at = event.recorded_at;
    let decoded =
        SummaryEvent::from_payload(&event.event_type, event.schema_version, &event.payload)?;
    let (status, revision) = match &decoded {
        SummaryEvent::Drafted(d) => {
            if (d.county, d.year) != (county, key.year()) {
                return Err(ApplyError::Invalid(format!(
                    "SummaryDrafted for {}-{} in stream {}",
                    d.county, d.year, event.stream_id
                )));
            }
            sqlx::query(sql::DRAFTED)
                .bind(county.as_str())
                .bind(key.year())
                .bind(county.city().as_str())
                .bind(stored_name(&SummaryStatus::Draft)?)
                .bind(d.partial_year)
                .bind(revision_i32(d.revision)?)
                .bind(at)
                .execute(conn)
                .await?;
            return Ok(());
        }
        SummaryEvent::SubmittedToCity(s) => {
            // Timeliness as the domain judged it on the first submission (its evolve's reading).
            let on_time = s.on_time.unwrap_or(s.received_at < s.deadline);
            let done = sqlx::query(sql::SUBMITTED_TO_CITY)
                .bind(county.as_str())
                .bind(key.year())
                .bind(stored_name(&SummaryStatus::SubmittedToCity)?)
                .bind(revision_i32(s.revision)?)
                .bind(at)
                .bind(s.received_at)
                .bind(s.deadline)
                .bind(on_time)
                .execute(conn)
                .await?;
            return drafted_before(done.rows_affected(), event);
        }
        SummaryEvent::Revised(e) => (SummaryStatus::Draft, e.revision),
        SummaryEvent::SubmittedForApproval(e) => (SummaryStatus::AwaitingApproval, e.revision),
        SummaryEvent::Approved(e) => (SummaryStatus::Approved, e.revision),
        SummaryEvent::ReturnedByBureau(e) => (SummaryStatus::ReturnedByBureau, e.revision),
        SummaryEvent::Accepted(e) => (SummaryStatus::Accepted, e.revision),
        SummaryEvent::ReturnedToCounty(e) => (SummaryStatus::ReturnedByCity, e.revision),
    };
    let done = sqlx::query(sql::STATUS)
        .bind(county.as_str())
        .bind(key.year())
        .bind(stored_name(&status)?)
        .bind(revision_i32(revision)?)
        .bind(at)
        .execute(conn)
        .await?;
    drafted_before(done.rows_affected(), event)
}

/// Every workflow event follows a `SummaryDrafted` of its stream; otherwise the event is parked.
fn drafted_before(rows: u64, event: &RecordedEvent) -> Result<(), ApplyError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(ApplyError::Invalid(format!(
            "{} in stream {} before the summary was drafted",
            event.event_type, event.stream_id
        )))
    }
}

// ---------------------------------------------------------------------------------------------------------
// Query
// ---------------------------------------------------------------------------------------------------------

/// A16 timeliness of one county's summary at the board's `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeliness {
    /// Not submitted to the city, and the deadline has not passed (or the year has none).
    NotDue,
    /// Not submitted to the city, and the deadline has passed.
    Missing,
    /// First submitted before the deadline, received at that time.
    OnTime { received_at: DateTime<Utc> },
    /// First submitted on or after the deadline (accepted, flagged late), received at that time.
    Late { received_at: DateTime<Utc> },
}

/// One county's summary of the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardRow {
    pub county: RegionCode,
    /// [`SummaryStatus::NotDrafted`]: not started.
    pub status: SummaryStatus,
    pub timeliness: Timeliness,
    /// The year is only partly inside the campaign window (as recorded on the draft; before one, as the
    /// campaign says).
    pub partial_year: bool,
    /// Current content revision (0 before a draft).
    pub revision: u32,
    pub submissions_to_city: u32,
    /// The first submission to the city, as the domain recorded and judged it.
    pub first_submission: Option<FirstSubmission>,
    pub last_submitted_at: Option<DateTime<Utc>>,
    /// Receipt time of the summary's latest event (`None`: not started).
    pub last_event_at: Option<DateTime<Utc>>,
}

/// The A16 board of a campaign's city for a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryBoard {
    /// The campaign's city (`None` for an undefined campaign: no rows).
    pub city: Option<RegionCode>,
    pub year: i32,
    /// The year inside the campaign window (`None`: outside it, nothing is owed).
    pub window_year: Option<CampaignYear>,
    /// The exclusive deadline instant of the year ([`Campaign::summary_deadline`]).
    pub deadline: Option<DateTime<Utc>>,
    /// The instant the board was judged at.
    pub now: DateTime<Utc>,
    /// One row per county, ordered by code.
    pub rows: Vec<BoardRow>,
    /// Events the projector has parked: when not 0, the board may be missing those events.
    pub parked_events: u64,
    /// The checkpoint of the read model the answer was computed from.
    pub as_of: Token,
}

fn count_u32(row: &PgRow, column: &str) -> Result<u32, ProjectionError> {
    let v: Option<i32> = row.try_get(column)?;
    let v = v.unwrap_or(0);
    u32::try_from(v).map_err(|_| ProjectionError::Corrupt(format!("{column} = {v}")))
}

fn board_row(
    row: &PgRow,
    window_year: Option<CampaignYear>,
    deadline: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<BoardRow, ProjectionError> {
    let status = match row.try_get::<Option<String>, _>("status")? {
        Some(s) => from_stored_name::<SummaryStatus>("status", &s)?,
        None => SummaryStatus::NotDrafted,
    };
    let first_submission = match (
        row.try_get::<Option<DateTime<Utc>>, _>("first_submitted_at")?,
        row.try_get::<Option<DateTime<Utc>>, _>("first_deadline")?,
        row.try_get::<Option<bool>, _>("first_on_time")?,
    ) {
        (Some(received_at), Some(deadline), Some(on_time)) => Some(FirstSubmission {
            received_at,
            deadline,
            on_time,
        }),
        (None, None, None) => None,
        other => {
            return Err(ProjectionError::Corrupt(format!(
                "first submission columns {other:?}"
            )));
        }
    };
    let timeliness = match first_submission {
        Some(f) if f.on_time => Timeliness::OnTime {
            received_at: f.received_at,
        },
        Some(f) => Timeliness::Late {
            received_at: f.received_at,
        },
        None if deadline.is_some_and(|d| now >= d) => Timeliness::Missing,
        None => Timeliness::NotDue,
    };
    Ok(BoardRow {
        county: region_of(row, "county")?,
        status,
        timeliness,
        partial_year: row
            .try_get::<Option<bool>, _>("partial_year")?
            .unwrap_or_else(|| window_year.is_some_and(|y| y.partial)),
        revision: count_u32(row, "revision")?,
        submissions_to_city: count_u32(row, "submissions_to_city")?,
        first_submission,
        last_submitted_at: row.try_get("last_submitted_at")?,
        last_event_at: row.try_get("last_event_at")?,
    })
}

/// The A16 board of `campaign`'s city for `year`, judged at `now`: every county's summary state and
/// timeliness.
pub async fn summary_board(
    pool: &PgPool,
    campaign: &Campaign,
    year: i32,
    now: DateTime<Utc>,
) -> Result<SummaryBoard, ProjectionError> {
    let window_year = campaign.year_in_window(year);
    let deadline = campaign.summary_deadline(year);
    let (first_day, last_day): (NaiveDate, NaiveDate) = match window_year {
        Some(y) => (y.first_day, y.last_day),
        None => {
            let dec31 = NaiveDate::from_ymd_opt(year, 12, 31)
                .ok_or_else(|| ProjectionError::Corrupt(format!("no 31 December in {year}")))?;
            (year_start(year)?, dec31)
        }
    };
    let city = campaign.city();
    let mut tx = snapshot(pool).await?;
    let mut rows = Vec::new();
    if let Some(city) = city {
        for row in sqlx::query(sql::BOARD)
            .bind(city.as_str())
            .bind(year)
            .bind(first_day)
            .bind(last_day)
            .fetch_all(&mut *tx)
            .await?
        {
            rows.push(board_row(&row, window_year, deadline, now)?);
        }
    }
    let (parked_events, as_of) = answer_state(&mut tx, SummaryBoardProjector::ID).await?;
    tx.commit().await?;
    Ok(SummaryBoard {
        city,
        year,
        window_year,
        deadline,
        now,
        rows,
        parked_events,
        as_of,
    })
}

/// A16: the board restricted to the counties whose summary of `year` is missing at `now` — never
/// submitted to the city although the deadline has passed. Empty before the deadline.
pub async fn missing_summaries(
    pool: &PgPool,
    campaign: &Campaign,
    year: i32,
    now: DateTime<Utc>,
) -> Result<SummaryBoard, ProjectionError> {
    let mut board = summary_board(pool, campaign, year, now).await?;
    board.rows.retain(|r| r.timeliness == Timeliness::Missing);
    Ok(board)
}

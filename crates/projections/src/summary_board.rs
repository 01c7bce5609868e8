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
//! - **Writes are set-based per run** ([`crate::batch`]): the events of a batch are decoded into operations
//!   first, then written run by run, one multi-row statement (`unnest`) per run. Retirements and workflow
//!   updates are keyed by their row (a submission to the city counts `submissions_to_city + 1` and keeps
//!   the first one, which two updates of one row in one statement would get wrong); a workflow run returns
//!   the summaries it changed, and one without a draft names its event as before.
//! - An answer is read in one snapshot and states the parked events and the checkpoint it reflects.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use domain::DomainEvent;
use domain::campaign::{Campaign, CampaignYear};
use domain::ids::RegionCode;
use domain::region::{RegionEvent, RegionLevel};
use domain::summary::{CountyYear, FirstSubmission, SummaryEvent, SummaryStatus};
use eventstore::{RecordedEvent, Token};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::batch;
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
    //! Every write takes arrays (one element per operation of a run, `crate::batch`).

    /// Binds: $1 codes, $2 cities, $3 provinces, $4 valid_from, $5 valid_to (NULL where open).
    pub const DEFINE_COUNTIES: &str =
        "INSERT INTO summary_board_counties (code, city, province, valid_from, valid_to)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::date[])";

    /// Binds: $1 codes, $2 valid_to. A code that is not a county's changes nothing.
    pub const RETIRE: &str = "UPDATE summary_board_counties c SET valid_to = u.valid_to
FROM unnest($1::text[], $2::date[]) AS u(code, valid_to)
WHERE c.code = u.code";

    /// Binds: $1 counties, $2 years, $3 cities, $4 statuses, $5 partial_year, $6 revisions, $7 event
    /// times.
    pub const DRAFTED: &str = "INSERT INTO summary_board
(county, year, city, status, partial_year, revision, last_event_at)
SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::bool[], $6::int4[],
    $7::timestamptz[])";

    /// Binds: $1 counties, $2 years, $3 statuses, $4 revisions, $5 event times. Returns the summaries
    /// it changed.
    pub const STATUS: &str = "UPDATE summary_board b
SET status = u.status, revision = u.revision, last_event_at = u.at
FROM unnest($1::text[], $2::int4[], $3::text[], $4::int4[], $5::timestamptz[])
    AS u(county, year, status, revision, at)
WHERE b.county = u.county AND b.year = u.year
RETURNING b.county, b.year";

    /// Binds: $1 counties, $2 years, $3 statuses, $4 revisions, $5 event times, $6 received_at,
    /// $7 deadlines, $8 on_time. The first submission is kept: later ones only count and move the last
    /// one (the right-hand sides read the row as it was, and a run changes a row once). Returns the
    /// summaries it changed.
    pub const SUBMITTED_TO_CITY: &str = "UPDATE summary_board b SET
    status = u.status, revision = u.revision, last_event_at = u.at,
    submissions_to_city = b.submissions_to_city + 1,
    last_submitted_at = u.received_at,
    first_submitted_at = coalesce(b.first_submitted_at, u.received_at),
    first_deadline = CASE WHEN b.first_submitted_at IS NULL THEN u.deadline ELSE b.first_deadline END,
    first_on_time = CASE WHEN b.first_submitted_at IS NULL THEN u.on_time ELSE b.first_on_time END
FROM unnest($1::text[], $2::int4[], $3::text[], $4::int4[], $5::timestamptz[], $6::timestamptz[],
    $7::timestamptz[], $8::bool[]) AS u(county, year, status, revision, at, received_at, deadline, on_time)
WHERE b.county = u.county AND b.year = u.year
RETURNING b.county, b.year";

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
        self.apply_many(conn, &[event]).await
    }

    async fn apply_many(
        &self,
        conn: &mut PgConnection,
        events: &[&RecordedEvent],
    ) -> Result<(), ApplyError> {
        let mut ops = Vec::with_capacity(events.len());
        for event in events {
            decode(event, &mut ops)?;
        }
        for run in batch::runs(&ops, std::mem::discriminant, Op::key) {
            write(conn, run).await?;
        }
        Ok(())
    }
}

/// One write of the read model, decoded from an event (no I/O).
#[derive(Debug)]
enum Op<'e> {
    DefineCounty {
        code: RegionCode,
        valid_from: NaiveDate,
        valid_to: Option<NaiveDate>,
    },
    Retire {
        code: RegionCode,
        valid_to: NaiveDate,
    },
    Drafted {
        key: CountyYear,
        partial_year: bool,
        revision: i32,
        at: DateTime<Utc>,
    },
    /// A workflow event other than a submission to the city; `event` names it if no draft precedes it.
    Status {
        key: CountyYear,
        status: String,
        revision: i32,
        at: DateTime<Utc>,
        event: &'e RecordedEvent,
    },
    SubmittedToCity {
        key: CountyYear,
        status: String,
        revision: i32,
        at: DateTime<Utc>,
        received_at: DateTime<Utc>,
        deadline: DateTime<Utc>,
        on_time: bool,
        event: &'e RecordedEvent,
    },
}

/// The row an operation touches, where two operations on one row must not share a statement.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    County(RegionCode),
    Summary(CountyYear),
}

impl Op<'_> {
    fn key(&self) -> Option<Key> {
        match self {
            // A plain insert: a repeated row fails in both paths alike.
            Self::DefineCounty { .. } | Self::Drafted { .. } => None,
            Self::Retire { code, .. } => Some(Key::County(*code)),
            // The submission counts (`submissions_to_city + 1`) and keeps the first one: two on one
            // summary in one statement would lose one.
            Self::Status { key, .. } | Self::SubmittedToCity { key, .. } => {
                Some(Key::Summary(*key))
            }
        }
    }
}

/// The operations of one event, appended to `ops`.
fn decode<'e>(event: &'e RecordedEvent, ops: &mut Vec<Op<'e>>) -> Result<(), ApplyError> {
    match event.category() {
        "region" => decode_region(event, ops),
        "summary" => decode_summary(event, ops),
        _ => Ok(()),
    }
}

fn decode_region(event: &RecordedEvent, ops: &mut Vec<Op<'_>>) -> Result<(), ApplyError> {
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
            ops.push(Op::DefineCounty {
                code,
                valid_from: d.valid_from,
                valid_to: d.valid_to,
            });
        }
        RegionEvent::Retired(r) => ops.push(Op::Retire {
            code,
            valid_to: r.valid_to,
        }),
        _ => {}
    }
    Ok(())
}

fn revision_i32(revision: u32) -> Result<i32, ApplyError> {
    i32::try_from(revision).map_err(|_| ApplyError::Invalid(format!("revision {revision}")))
}

fn decode_summary<'e>(event: &'e RecordedEvent, ops: &mut Vec<Op<'e>>) -> Result<(), ApplyError> {
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
            ops.push(Op::Drafted {
                key,
                partial_year: d.partial_year,
                revision: revision_i32(d.revision)?,
                at,
            });
            return Ok(());
        }
        SummaryEvent::SubmittedToCity(s) => {
            // Timeliness as the domain judged it on the first submission (its evolve's reading).
            let on_time = s.on_time.unwrap_or(s.received_at < s.deadline);
            ops.push(Op::SubmittedToCity {
                key,
                status: stored_name(&SummaryStatus::SubmittedToCity)?,
                revision: revision_i32(s.revision)?,
                at,
                received_at: s.received_at,
                deadline: s.deadline,
                on_time,
                event,
            });
            return Ok(());
        }
        SummaryEvent::Revised(e) => (SummaryStatus::Draft, e.revision),
        SummaryEvent::SubmittedForApproval(e) => (SummaryStatus::AwaitingApproval, e.revision),
        SummaryEvent::Approved(e) => (SummaryStatus::Approved, e.revision),
        SummaryEvent::ReturnedByBureau(e) => (SummaryStatus::ReturnedByBureau, e.revision),
        SummaryEvent::Accepted(e) => (SummaryStatus::Accepted, e.revision),
        SummaryEvent::ReturnedToCounty(e) => (SummaryStatus::ReturnedByCity, e.revision),
    };
    ops.push(Op::Status {
        key,
        status: stored_name(&status)?,
        revision: revision_i32(revision)?,
        at,
        event,
    });
    Ok(())
}

/// Write one run (operations of one kind, no keyed row touched twice) with one statement.
async fn write(conn: &mut PgConnection, run: &[Op<'_>]) -> Result<(), ApplyError> {
    let Some(first) = run.first() else {
        return Ok(());
    };
    let query = match first {
        Op::DefineCounty { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![], vec![]);
            for op in run {
                if let Op::DefineCounty {
                    code,
                    valid_from,
                    valid_to,
                } = op
                {
                    cols.0.push(code.as_str().to_owned());
                    cols.1.push(code.city().as_str().to_owned());
                    cols.2.push(code.province().as_str().to_owned());
                    cols.3.push(*valid_from);
                    cols.4.push(*valid_to);
                }
            }
            sqlx::query(sql::DEFINE_COUNTIES)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
                .bind(cols.3)
                .bind(cols.4)
        }
        Op::Retire { .. } => {
            let (mut codes, mut valid_tos) = (vec![], vec![]);
            for op in run {
                if let Op::Retire { code, valid_to } = op {
                    codes.push(code.as_str());
                    valid_tos.push(*valid_to);
                }
            }
            sqlx::query(sql::RETIRE).bind(codes).bind(valid_tos)
        }
        Op::Drafted { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            let draft = stored_name(&SummaryStatus::Draft)?;
            for op in run {
                if let Op::Drafted {
                    key,
                    partial_year,
                    revision,
                    at,
                } = op
                {
                    cols.0.push(key.county().as_str().to_owned());
                    cols.1.push(key.year());
                    cols.2.push(key.county().city().as_str().to_owned());
                    cols.3.push(draft.as_str());
                    cols.4.push(*partial_year);
                    cols.5.push(*revision);
                    cols.6.push(*at);
                }
            }
            sqlx::query(sql::DRAFTED)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
                .bind(cols.3)
                .bind(cols.4)
                .bind(cols.5)
                .bind(cols.6)
        }
        Op::Status { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![], vec![]);
            for op in run {
                if let Op::Status {
                    key,
                    status,
                    revision,
                    at,
                    ..
                } = op
                {
                    cols.0.push(key.county().as_str().to_owned());
                    cols.1.push(key.year());
                    cols.2.push(status.as_str());
                    cols.3.push(*revision);
                    cols.4.push(*at);
                }
            }
            let changed = sqlx::query(sql::STATUS)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
                .bind(cols.3)
                .bind(cols.4)
                .fetch_all(conn)
                .await?;
            return drafted_before(run, &changed);
        }
        Op::SubmittedToCity { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![], vec![]);
            let mut submission = (vec![], vec![], vec![]);
            for op in run {
                if let Op::SubmittedToCity {
                    key,
                    status,
                    revision,
                    at,
                    received_at,
                    deadline,
                    on_time,
                    ..
                } = op
                {
                    cols.0.push(key.county().as_str().to_owned());
                    cols.1.push(key.year());
                    cols.2.push(status.as_str());
                    cols.3.push(*revision);
                    cols.4.push(*at);
                    submission.0.push(*received_at);
                    submission.1.push(*deadline);
                    submission.2.push(*on_time);
                }
            }
            let changed = sqlx::query(sql::SUBMITTED_TO_CITY)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
                .bind(cols.3)
                .bind(cols.4)
                .bind(submission.0)
                .bind(submission.1)
                .bind(submission.2)
                .fetch_all(conn)
                .await?;
            return drafted_before(run, &changed);
        }
    };
    query.execute(conn).await?;
    Ok(())
}

/// Every workflow event follows a `SummaryDrafted` of its stream; otherwise the event is parked. `changed`
/// holds the summaries (county, year) a run of workflow events updated (each at most once: the run is
/// keyed by summary); the first event of the run whose summary is not among them names the failure.
fn drafted_before(run: &[Op<'_>], changed: &[PgRow]) -> Result<(), ApplyError> {
    if changed.len() == run.len() {
        return Ok(());
    }
    let changed = changed
        .iter()
        .map(|row| {
            Ok((
                row.try_get::<String, _>("county")?,
                row.try_get::<i32, _>("year")?,
            ))
        })
        .collect::<Result<HashSet<_>, sqlx::Error>>()?;
    let undrafted = run.iter().find_map(|op| match op {
        Op::Status { key, event, .. } | Op::SubmittedToCity { key, event, .. }
            if !changed.contains(&(key.county().as_str().to_owned(), key.year())) =>
        {
            Some(event)
        }
        _ => None,
    });
    Err(match undrafted {
        Some(event) => ApplyError::Invalid(format!(
            "{} in stream {} before the summary was drafted",
            event.event_type, event.stream_id
        )),
        None => ApplyError::Invalid(format!(
            "{} summaries changed by {} workflow events",
            changed.len(),
            run.len()
        )),
    })
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

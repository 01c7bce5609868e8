//! # Activity frequency and reach (A13, A17): how often, how many, how far — by team, region, month, kind
//! and key day
//!
//! Policy of this module:
//! - Projector id `frequency`. It consumes team registrations (for the team's region) and activities
//!   (recorded / corrected / voided). Tables `frequency_*` hold ids, codes, dates and counts only — no
//!   personal data, nothing decrypted, none of the activity's free text (place, grid, record).
//! - **One row per activity with its current figures** (A17): participations (participants listed),
//!   volunteer minutes (their minutes summed), people reached, media pieces and materials distributed, as
//!   carried by [`ActivityDetails`]; its date, month (the first day of the date's month — business dates
//!   are Asia/Shanghai dates already), kind (A13) and key-day tag (A13, none for most activities).
//! - **A correction replaces** the activity's figures, date, kind and key day as a whole (the correction's
//!   details are the activity's details). **A voided activity stops counting**; its row stays, flagged.
//! - An activity counts in its team's region: a county code, or the city code for city-level teams. A query
//!   for a city or province code covers everything below it (as coverage does).
//! - [`frequency`] sums the non-voided activities of a region dated within `from..=to` (both inclusive),
//!   grouped by any combination of team / region / month / kind / key day ([`FrequencyGrouping`]); with no
//!   dimension it returns the totals. Sums are integers (`bigint`), never floats. One statement, one
//!   snapshot; the answer states the parked events and the checkpoint it reflects.
//! - Writes are set-based per run (`crate::batch`): a batch's events are decoded into operations, and each
//!   run of consecutive operations of one kind touching distinct rows is written by one statement over
//!   `unnest`.

use chrono::{Datelike, NaiveDate};
use domain::DomainEvent;
use domain::activity::{ActivityDetails, ActivityEvent, ActivityKind, KeyDay};
use domain::ids::{RegionCode, TeamId};
use domain::team::TeamEvent;
use eventstore::{RecordedEvent, Token};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::batch;
use crate::compliance::{
    answer_state, from_stored_name, instance_uuid, region_of, snapshot, stored_name,
};
use crate::error::{ApplyError, ProjectionError};
use crate::runtime::Projector;

/// The event types this projector consumes (all others only advance its checkpoint).
const HANDLED: &[&str] = &[
    "TeamRegistered",
    "ActivityRecorded",
    "ActivityCorrected",
    "ActivityVoided",
];

mod sql {
    //! Every write takes arrays (one element per operation of a run, `crate::batch`); the query takes
    //! scalars.

    /// Binds: $1 teams, $2 regions, $3 cities, $4 provinces.
    pub const REGISTER_TEAMS: &str = "INSERT INTO frequency_teams (team_id, region, city, province)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])";

    /// Binds: $1 activities (distinct), $2 teams, $3 dates, $4 months, $5 kinds, $6 key days (NULL: none),
    /// $7 participations, $8 volunteer minutes, $9 people reached, $10 media pieces, $11 materials
    /// distributed, $12 revisions. A correction (same activity) replaces every figure.
    pub const UPSERT_ACTIVITIES: &str = "INSERT INTO frequency_activities
(activity_id, team_id, on_date, month, kind, key_day, participations, volunteer_minutes, people_reached,
 media_pieces, materials_distributed, revision)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::date[], $5::text[], $6::text[], $7::int4[],
    $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int4[])
ON CONFLICT (activity_id) DO UPDATE SET
    team_id = EXCLUDED.team_id, on_date = EXCLUDED.on_date, month = EXCLUDED.month,
    kind = EXCLUDED.kind, key_day = EXCLUDED.key_day, participations = EXCLUDED.participations,
    volunteer_minutes = EXCLUDED.volunteer_minutes, people_reached = EXCLUDED.people_reached,
    media_pieces = EXCLUDED.media_pieces, materials_distributed = EXCLUDED.materials_distributed,
    revision = EXCLUDED.revision";

    /// Binds: $1 activities.
    pub const VOID: &str =
        "UPDATE frequency_activities SET voided = true WHERE activity_id = ANY($1)";

    /// Binds: $1 region, $2 from, $3 to (inclusive), $4..$8 group by team / region / month / kind /
    /// key day. A dimension not grouped by is NULL in every row.
    pub const FREQUENCY: &str = "SELECT
    CASE WHEN $4 THEN a.team_id END AS team_id,
    CASE WHEN $5 THEN t.region END AS region,
    CASE WHEN $6 THEN a.month END AS month,
    CASE WHEN $7 THEN a.kind END AS kind,
    CASE WHEN $8 THEN a.key_day END AS key_day,
    count(*) AS activities,
    sum(a.participations)::bigint AS participations,
    sum(a.volunteer_minutes)::bigint AS volunteer_minutes,
    sum(a.people_reached)::bigint AS people_reached,
    sum(a.media_pieces)::bigint AS media_pieces,
    sum(a.materials_distributed)::bigint AS materials_distributed
FROM frequency_activities a
JOIN frequency_teams t ON t.team_id = a.team_id
WHERE NOT a.voided
  AND (t.region = $1 OR t.city = $1 OR t.province = $1)
  AND a.on_date BETWEEN $2 AND $3
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5";
}

/// The frequency projector (id `frequency`).
#[derive(Debug, Clone, Copy, Default)]
pub struct FrequencyProjector;

impl FrequencyProjector {
    pub const ID: &'static str = "frequency";
}

impl Projector for FrequencyProjector {
    fn id(&self) -> &'static str {
        Self::ID
    }

    fn tables(&self) -> &'static [&'static str] {
        &["frequency_teams", "frequency_activities"]
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        matches!(event.category(), "team" | "activity")
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

/// An activity's row as an upsert writes it.
#[derive(Debug)]
struct ActivityRow {
    activity: Uuid,
    team: Uuid,
    on: NaiveDate,
    month: NaiveDate,
    /// The domain's persisted names ([`stored_name`]).
    kind: String,
    key_day: Option<String>,
    participations: i32,
    volunteer_minutes: i64,
    people_reached: i64,
    media_pieces: i64,
    materials_distributed: i64,
    revision: i32,
}

/// One write of the read model, decoded from an event (no I/O).
#[derive(Debug)]
enum Op {
    RegisterTeam {
        team: Uuid,
        region: RegionCode,
    },
    /// Record an activity's figures, or replace them (a correction).
    Figures(ActivityRow),
    Void {
        activity: Uuid,
    },
}

impl Op {
    /// The row an operation touches, where two operations on one row must not share a statement: an
    /// upsert may not touch a row twice in one statement. Registrations insert new rows (a repeated one
    /// fails in both paths alike); voiding is idempotent.
    fn key(&self) -> Option<Uuid> {
        match self {
            Self::Figures(row) => Some(row.activity),
            Self::RegisterTeam { .. } | Self::Void { .. } => None,
        }
    }
}

/// The operations of one event, appended to `ops`.
fn decode(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    match event.category() {
        "team" => decode_team(event, ops),
        "activity" => decode_activity(event, ops),
        _ => Ok(()),
    }
}

fn decode_team(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let team = instance_uuid(event)?;
    if let TeamEvent::Registered(r) =
        TeamEvent::from_payload(&event.event_type, event.schema_version, &event.payload)?
    {
        if r.team_id.0 != team {
            return Err(ApplyError::Invalid(format!(
                "TeamRegistered for team {} in stream {}",
                r.team_id, event.stream_id
            )));
        }
        ops.push(Op::RegisterTeam {
            team,
            region: r.region,
        });
    }
    Ok(())
}

/// An activity's figures, as recorded or corrected.
fn figures(activity: Uuid, revision: u32, d: &ActivityDetails) -> Result<Op, ApplyError> {
    let month = d.date.with_day(1).ok_or_else(|| {
        ApplyError::Invalid(format!("activity date {} has no first of month", d.date))
    })?;
    let participations = i32::try_from(d.participants.len())
        .map_err(|_| ApplyError::Invalid(format!("{} participants", d.participants.len())))?;
    let volunteer_minutes: i64 = d.participants.iter().map(|p| i64::from(p.minutes)).sum();
    let key_day = d.key_day.as_ref().map(stored_name).transpose()?;
    let revision =
        i32::try_from(revision).map_err(|_| ApplyError::Invalid(format!("revision {revision}")))?;
    Ok(Op::Figures(ActivityRow {
        activity,
        team: d.team_id.0,
        on: d.date,
        month,
        kind: stored_name(&d.kind)?,
        key_day,
        participations,
        volunteer_minutes,
        people_reached: i64::from(d.people_reached),
        media_pieces: i64::from(d.media_pieces),
        materials_distributed: i64::from(d.materials_distributed),
        revision,
    }))
}

fn decode_activity(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let activity = instance_uuid(event)?;
    match ActivityEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        ActivityEvent::Recorded(r) => {
            if r.activity_id.0 != activity {
                return Err(ApplyError::Invalid(format!(
                    "ActivityRecorded for activity {} in stream {}",
                    r.activity_id, event.stream_id
                )));
            }
            ops.push(figures(activity, 1, &r.details)?);
        }
        ActivityEvent::Corrected(c) => ops.push(figures(activity, c.revision, &c.details)?),
        ActivityEvent::Voided(_) => ops.push(Op::Void { activity }),
    }
    Ok(())
}

/// The columns of a run of activity upserts, one array each.
#[derive(Default)]
struct ActivityColumns {
    activities: Vec<Uuid>,
    teams: Vec<Uuid>,
    dates: Vec<NaiveDate>,
    months: Vec<NaiveDate>,
    kinds: Vec<String>,
    key_days: Vec<Option<String>>,
    participations: Vec<i32>,
    volunteer_minutes: Vec<i64>,
    people_reached: Vec<i64>,
    media_pieces: Vec<i64>,
    materials_distributed: Vec<i64>,
    revisions: Vec<i32>,
}

/// Write one run (operations of one kind, no row touched twice) with one statement.
async fn write(conn: &mut PgConnection, run: &[Op]) -> Result<(), ApplyError> {
    let Some(first) = run.first() else {
        return Ok(());
    };
    let query = match first {
        Op::RegisterTeam { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![]);
            for op in run {
                if let Op::RegisterTeam { team, region } = op {
                    cols.0.push(*team);
                    cols.1.push(region.as_str().to_owned());
                    cols.2.push(region.city().as_str().to_owned());
                    cols.3.push(region.province().as_str().to_owned());
                }
            }
            sqlx::query(sql::REGISTER_TEAMS)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
                .bind(cols.3)
        }
        Op::Figures(_) => {
            let mut c = ActivityColumns::default();
            for op in run {
                if let Op::Figures(row) = op {
                    c.activities.push(row.activity);
                    c.teams.push(row.team);
                    c.dates.push(row.on);
                    c.months.push(row.month);
                    c.kinds.push(row.kind.clone());
                    c.key_days.push(row.key_day.clone());
                    c.participations.push(row.participations);
                    c.volunteer_minutes.push(row.volunteer_minutes);
                    c.people_reached.push(row.people_reached);
                    c.media_pieces.push(row.media_pieces);
                    c.materials_distributed.push(row.materials_distributed);
                    c.revisions.push(row.revision);
                }
            }
            sqlx::query(sql::UPSERT_ACTIVITIES)
                .bind(c.activities)
                .bind(c.teams)
                .bind(c.dates)
                .bind(c.months)
                .bind(c.kinds)
                .bind(c.key_days)
                .bind(c.participations)
                .bind(c.volunteer_minutes)
                .bind(c.people_reached)
                .bind(c.media_pieces)
                .bind(c.materials_distributed)
                .bind(c.revisions)
        }
        Op::Void { .. } => {
            let activities: Vec<Uuid> = run
                .iter()
                .filter_map(|op| match op {
                    Op::Void { activity } => Some(*activity),
                    _ => None,
                })
                .collect();
            sqlx::query(sql::VOID).bind(activities)
        }
    };
    query.execute(conn).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Query
// ---------------------------------------------------------------------------------------------------------

/// The dimensions to group by; none: one row of totals (or no row when nothing counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrequencyGrouping {
    pub team: bool,
    /// The team's region (a county, or the city for city-level teams).
    pub region: bool,
    pub month: bool,
    pub kind: bool,
    pub key_day: bool,
}

impl FrequencyGrouping {
    /// Totals only.
    pub const TOTALS: Self = Self {
        team: false,
        region: false,
        month: false,
        kind: false,
        key_day: false,
    };
}

/// The A17 figures of a set of (non-voided) activities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub activities: u64,
    /// Participants listed, summed over the activities (a person in two activities counts twice).
    pub participations: u64,
    pub volunteer_minutes: u64,
    pub people_reached: u64,
    pub media_pieces: u64,
    pub materials_distributed: u64,
}

/// One group. A dimension not grouped by is `None`; when grouping by key day, `key_day: None` is the
/// group of activities without a key-day tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrequencyRow {
    pub team: Option<TeamId>,
    pub region: Option<RegionCode>,
    /// First day of the month.
    pub month: Option<NaiveDate>,
    pub kind: Option<ActivityKind>,
    pub key_day: Option<KeyDay>,
    pub figures: Figures,
}

/// Activity frequency and reach of a region over a date range (A13, A17).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frequency {
    pub region: RegionCode,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub grouping: FrequencyGrouping,
    /// Ordered by team, region, month, kind, key day.
    pub rows: Vec<FrequencyRow>,
    /// Events the projector has parked: when not 0, the figures may be missing those events.
    pub parked_events: u64,
    /// The checkpoint of the read model the answer was computed from.
    pub as_of: Token,
}

fn sum(row: &PgRow, column: &str) -> Result<u64, ProjectionError> {
    let v: Option<i64> = row.try_get(column)?;
    let v = v.unwrap_or(0);
    u64::try_from(v).map_err(|_| ProjectionError::Corrupt(format!("{column} = {v}")))
}

fn group(row: &PgRow) -> Result<FrequencyRow, ProjectionError> {
    let region = match row.try_get::<Option<String>, _>("region")? {
        Some(_) => Some(region_of(row, "region")?),
        None => None,
    };
    let kind = match row.try_get::<Option<String>, _>("kind")? {
        Some(k) => Some(from_stored_name::<ActivityKind>("kind", &k)?),
        None => None,
    };
    let key_day = match row.try_get::<Option<String>, _>("key_day")? {
        Some(k) => Some(from_stored_name::<KeyDay>("key_day", &k)?),
        None => None,
    };
    Ok(FrequencyRow {
        team: row.try_get::<Option<Uuid>, _>("team_id")?.map(TeamId),
        region,
        month: row.try_get("month")?,
        kind,
        key_day,
        figures: Figures {
            activities: sum(row, "activities")?,
            participations: sum(row, "participations")?,
            volunteer_minutes: sum(row, "volunteer_minutes")?,
            people_reached: sum(row, "people_reached")?,
            media_pieces: sum(row, "media_pieces")?,
            materials_distributed: sum(row, "materials_distributed")?,
        },
    })
}

/// The figures of `region`'s non-voided activities dated `from..=to`, grouped by `grouping`.
pub async fn frequency(
    pool: &PgPool,
    region: RegionCode,
    from: NaiveDate,
    to: NaiveDate,
    grouping: FrequencyGrouping,
) -> Result<Frequency, ProjectionError> {
    let mut tx = snapshot(pool).await?;
    let rows = sqlx::query(sql::FREQUENCY)
        .bind(region.as_str())
        .bind(from)
        .bind(to)
        .bind(grouping.team)
        .bind(grouping.region)
        .bind(grouping.month)
        .bind(grouping.kind)
        .bind(grouping.key_day)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(group)
        .collect::<Result<Vec<_>, _>>()?;
    let (parked_events, as_of) = answer_state(&mut tx, FrequencyProjector::ID).await?;
    tx.commit().await?;
    Ok(Frequency {
        region,
        from,
        to,
        grouping,
        rows,
        parked_events,
        as_of,
    })
}

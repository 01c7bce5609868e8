//! # Coverage (A1, A2): registered and active volunteers per 100 000 residents, for any date
//!
//! Policy of this module:
//! - Projector id `coverage`. It consumes team lifecycles (registered / suspended / reinstated /
//!   dissolved, with dates and region), memberships (joined / left), resident populations and activity
//!   participations (recorded / corrected / voided). Tables `coverage_*` hold ids, codes, dates and counts
//!   only — no personal data, nothing decrypted.
//! - The read model stores facts with their effective dates, not figures: [`coverage`] answers for any
//!   evaluation date (A2 evaluates at 2024-12-31) in one statement (one snapshot).
//! - **Registered volunteers** (A1) are the distinct persons who, on the date, are members of at least one
//!   team of the region that is *active* on the date (registered on or before it, neither suspended nor
//!   dissolved on it). For a city code the teams are its counties' and its city-level teams (a province
//!   code: everything below it); a person in several teams counts once.
//! - **Active volunteers** are those registered volunteers with at least one participation in a
//!   non-voided activity dated from 1 January of the date's year up to the date (so active ≤ registered).
//! - **One row per activity**, its participants an array sorted by id (`coverage_activities`), not a
//!   row per participation: a correction rewrites the row, a void marks it. The active count finds a
//!   member's activities through the teams the member has belonged to, which holds because the domain
//!   accepts only members of the team on the date as participants (docs/adr/0012).
//! - **Population** is the latest recorded year not after the date's year, shown with its year and source.
//! - **Arithmetic** is the domain's integer A1 arithmetic ([`domain::region::passes`],
//!   [`domain::region::shortfall`]); the ratio is a fraction of integers ([`Per100k`]) shown as a decimal
//!   string truncated (never rounded up past the threshold). No floats anywhere.
//! - An answer states how many events the projector has parked and the checkpoint it reflects.
//! - Erasure of a volunteer does not change the figures: statistics survive (PIPL, DOMAIN.md).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use domain::DomainEvent;
use domain::activity::{ActivityDetails, ActivityEvent};
use domain::ids::RegionCode;
use domain::region::RegionEvent;
use domain::team::{TeamEvent, TeamLevel};
use domain::volunteer::VolunteerEvent;
use eventstore::{RecordedEvent, Token};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::activity_rows::{self, ActivityColumns};
use crate::batch;
use crate::error::{ApplyError, ProjectionError};
use crate::runtime::Projector;

/// A1: the campaign's threshold, volunteers per 100 000 residents (`RuleSet::coverage_per_100k`).
pub const A1_PER_100K: u32 = 10;

/// The event types this projector consumes (all others only advance its checkpoint).
const HANDLED: &[&str] = &[
    "TeamRegistered",
    "TeamSuspended",
    "TeamReinstated",
    "TeamDissolved",
    "VolunteerJoinedTeam",
    "VolunteerLeftTeam",
    "ActivityRecorded",
    "ActivityCorrected",
    "ActivityVoided",
    "ResidentPopulationRecorded",
];

mod sql {
    //! Every write takes arrays (one element per operation of a run, `crate::batch`).

    /// Binds: $1 teams, $2 regions, $3 cities, $4 provinces, $5 levels, $6 registered_on.
    pub const REGISTER_TEAMS: &str = "WITH t AS (
    INSERT INTO coverage_teams (team_id, region, city, province, level, registered_on)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[])
    RETURNING team_id, registered_on
)
INSERT INTO coverage_team_active (team_id, active_from) SELECT team_id, registered_on FROM t";

    /// Binds: $1 teams, $2 first days no longer active.
    pub const CLOSE_ACTIVE: &str = "UPDATE coverage_team_active a SET active_until = u.until
FROM unnest($1::uuid[], $2::date[]) AS u(team_id, until)
WHERE a.team_id = u.team_id AND a.active_until IS NULL";

    /// Binds: $1 teams, $2 first days active again.
    pub const OPEN_ACTIVE: &str = "INSERT INTO coverage_team_active (team_id, active_from)
SELECT * FROM unnest($1::uuid[], $2::date[])
ON CONFLICT (team_id, active_from) DO UPDATE SET active_until = NULL";

    /// Binds: $1 teams, $2 dissolution dates.
    pub const DISSOLVE_TEAMS: &str = "WITH u AS (
    SELECT * FROM unnest($1::uuid[], $2::date[]) AS u(team_id, on_date)
), closed AS (
    UPDATE coverage_team_active a SET active_until = u.on_date
    FROM u WHERE a.team_id = u.team_id AND a.active_until IS NULL
)
UPDATE coverage_teams t SET dissolved_on = u.on_date FROM u WHERE t.team_id = u.team_id";

    /// Binds: $1 volunteers, $2 teams, $3 joined_on.
    pub const JOIN: &str = "INSERT INTO coverage_memberships (volunteer_id, team_id, joined_on)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::date[])
ON CONFLICT (volunteer_id, team_id, joined_on) DO UPDATE SET left_on = NULL";

    /// Binds: $1 volunteers, $2 teams, $3 left_on.
    pub const LEAVE: &str = "UPDATE coverage_memberships m SET left_on = u.left_on
FROM unnest($1::uuid[], $2::uuid[], $3::date[]) AS u(volunteer_id, team_id, left_on)
WHERE m.volunteer_id = u.volunteer_id AND m.team_id = u.team_id AND m.left_on IS NULL";

    /// Binds: $1 activities (distinct), $2 teams, $3 dates, $4/$5 each activity's slice of $6, its
    /// participants sorted by id (`crate::batch::Lists`). Records an activity or, for a correction,
    /// replaces its date and participants (its team never changes; a voided one is never corrected).
    pub const RECORD_ACTIVITIES: &str = "INSERT INTO coverage_activities
(activity_id, team_id, on_date, participants)
SELECT u.activity_id, u.team_id, u.on_date, ($6::uuid[])[u.first:u.last]
FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::int4[], $5::int4[])
    AS u(activity_id, team_id, on_date, first, last)
ON CONFLICT (activity_id) DO UPDATE SET
    team_id = EXCLUDED.team_id, on_date = EXCLUDED.on_date, participants = EXCLUDED.participants";

    /// Binds: $1 activities.
    pub const VOID: &str =
        "UPDATE coverage_activities SET voided = true WHERE activity_id = ANY($1)";

    /// Binds: $1 regions, $2 years, $3 populations, $4 sources.
    pub const POPULATION: &str = "INSERT INTO coverage_populations (region, year, population, source)
SELECT * FROM unnest($1::text[], $2::int4[], $3::int8[], $4::text[])
ON CONFLICT (region, year) DO UPDATE SET population = EXCLUDED.population, source = EXCLUDED.source";

    /// The whole answer in one statement (one snapshot).
    /// Binds: $1 region, $2 date, $3 1 January of the date's year, $4 the date's year, $5 projector id.
    /// `active`: a participant is a member of the activity's team on its date (the domain checks it when
    /// the activity is recorded or corrected), so a member's activities are among those of the teams the
    /// member has belonged to, and no row per participation is needed (`crate::activity_rows`). Each
    /// member's teams and each team's activities of the year are looked up by index; `OFFSET 0` keeps the
    /// planner, which cannot estimate how many members a region has, from scanning every activity
    /// instead (measured: a county 3× faster, a province 1.7× slower, docs/adr/0012).
    pub const COVERAGE: &str = "WITH members AS (
    SELECT DISTINCT m.volunteer_id
    FROM coverage_memberships m
    JOIN coverage_teams t ON t.team_id = m.team_id
    WHERE (t.region = $1 OR t.city = $1 OR t.province = $1)
      AND m.joined_on <= $2 AND (m.left_on IS NULL OR $2 < m.left_on)
      AND EXISTS (SELECT FROM coverage_team_active a
                  WHERE a.team_id = t.team_id AND a.active_from <= $2
                    AND (a.active_until IS NULL OR $2 < a.active_until))
), active AS (
    SELECT DISTINCT p.volunteer_id
    FROM (SELECT DISTINCT m.team_id
          FROM members mm
          CROSS JOIN LATERAL (SELECT x.team_id FROM coverage_memberships x
                              WHERE x.volunteer_id = mm.volunteer_id OFFSET 0) m) mt
    CROSS JOIN LATERAL (SELECT a.participants FROM coverage_activities a
                        WHERE a.team_id = mt.team_id AND a.on_date BETWEEN $3 AND $2
                          AND NOT a.voided OFFSET 0) a
    CROSS JOIN LATERAL unnest(a.participants) AS p(volunteer_id)
)
SELECT
    (SELECT count(*) FROM members) AS registered,
    (SELECT count(*) FROM members mm
     WHERE mm.volunteer_id IN (SELECT p.volunteer_id FROM active p)) AS active,
    pop.year AS population_year,
    pop.population,
    pop.source AS population_source,
    (SELECT count(*) FROM projection_parked WHERE projector = $5) AS parked,
    ck.tx_text,
    ck.position
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT p.year, p.population, p.source FROM coverage_populations p
    WHERE p.region = $1 AND p.year <= $4
    ORDER BY p.year DESC LIMIT 1
) pop ON true
LEFT JOIN (
    SELECT c.tx_id::text AS tx_text, c.position FROM projection_checkpoints c WHERE c.projector = $5
) ck ON true";
}

/// The coverage projector (id `coverage`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CoverageProjector;

impl CoverageProjector {
    pub const ID: &'static str = "coverage";
}

/// The aggregate id after `category-` in the stream id.
fn instance(event: &RecordedEvent) -> Result<&str, ApplyError> {
    event
        .stream_id
        .split_once('-')
        .map(|(_, id)| id)
        .ok_or_else(|| ApplyError::Invalid(format!("stream id {:?} has no id", event.stream_id)))
}

fn instance_uuid(event: &RecordedEvent) -> Result<Uuid, ApplyError> {
    let id = instance(event)?;
    Uuid::parse_str(id).map_err(|_| {
        ApplyError::Invalid(format!(
            "stream id {:?} does not end in a UUID",
            event.stream_id
        ))
    })
}

fn level_text(level: TeamLevel) -> &'static str {
    match level {
        TeamLevel::City => "city",
        TeamLevel::County => "county",
    }
}

impl Projector for CoverageProjector {
    fn id(&self) -> &'static str {
        Self::ID
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "coverage_teams",
            "coverage_team_active",
            "coverage_memberships",
            "coverage_populations",
            "coverage_activities",
        ]
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        matches!(
            event.category(),
            "team" | "volunteer" | "activity" | "region"
        ) && HANDLED.contains(&event.event_type.as_str())
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
enum Op {
    RegisterTeam {
        team: Uuid,
        region: RegionCode,
        level: TeamLevel,
        registered_on: NaiveDate,
    },
    CloseActive {
        team: Uuid,
        from: NaiveDate,
    },
    OpenActive {
        team: Uuid,
        on: NaiveDate,
    },
    Dissolve {
        team: Uuid,
        on: NaiveDate,
    },
    Join {
        volunteer: Uuid,
        team: Uuid,
        on: NaiveDate,
    },
    Leave {
        volunteer: Uuid,
        team: Uuid,
        on: NaiveDate,
    },
    /// An activity as recorded or corrected: its team, date and participants (sorted by id).
    Record {
        activity: Uuid,
        team: Uuid,
        on: NaiveDate,
        participants: Vec<Uuid>,
    },
    Void {
        activity: Uuid,
    },
    Population {
        region: RegionCode,
        year: i32,
        count: i64,
        source: String,
    },
}

/// The row an operation touches, where two operations on one row must not share a statement.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    Team(Uuid),
    TeamDay(Uuid, NaiveDate),
    Membership(Uuid, Uuid),
    MembershipDay(Uuid, Uuid, NaiveDate),
    Region(String, i32),
    Activity(Uuid),
}

impl Op {
    fn key(&self) -> Option<Key> {
        match self {
            Self::CloseActive { team, .. } | Self::Dissolve { team, .. } => Some(Key::Team(*team)),
            Self::OpenActive { team, on } => Some(Key::TeamDay(*team, *on)),
            Self::Join {
                volunteer,
                team,
                on,
            } => Some(Key::MembershipDay(*volunteer, *team, *on)),
            Self::Leave {
                volunteer, team, ..
            } => Some(Key::Membership(*volunteer, *team)),
            Self::Population { region, year, .. } => {
                Some(Key::Region(region.as_str().to_owned(), *year))
            }
            // A recording and its correction in one batch upsert one row: never in one statement.
            Self::Record { activity, .. } | Self::Void { activity } => {
                Some(Key::Activity(*activity))
            }
            // Inserts of new rows (a repeated one fails in both paths alike).
            Self::RegisterTeam { .. } => None,
        }
    }
}

/// The operations of one event, appended to `ops`.
fn decode(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    match event.category() {
        "team" => decode_team(event, ops),
        "volunteer" => decode_volunteer(event, ops),
        "activity" => decode_activity(event, ops),
        "region" => decode_region(event, ops),
        _ => Ok(()),
    }
}

fn decode_team(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let team = instance_uuid(event)?;
    match TeamEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        TeamEvent::Registered(r) => {
            if r.team_id.0 != team {
                return Err(ApplyError::Invalid(format!(
                    "TeamRegistered for team {} in stream {}",
                    r.team_id, event.stream_id
                )));
            }
            ops.push(Op::RegisterTeam {
                team,
                region: r.region,
                level: r.level,
                registered_on: r.registered_on,
            });
        }
        TeamEvent::Suspended(s) => ops.push(Op::CloseActive { team, from: s.from }),
        TeamEvent::Reinstated(r) => ops.push(Op::OpenActive { team, on: r.on }),
        TeamEvent::Dissolved(d) => ops.push(Op::Dissolve { team, on: d.on }),
        TeamEvent::Amended(_) => {}
    }
    Ok(())
}

fn decode_volunteer(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let volunteer = instance_uuid(event)?;
    match VolunteerEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        VolunteerEvent::JoinedTeam(j) => ops.push(Op::Join {
            volunteer,
            team: j.team_id.0,
            on: j.joined_on,
        }),
        VolunteerEvent::LeftTeam(l) => ops.push(Op::Leave {
            volunteer,
            team: l.team_id.0,
            on: l.left_on,
        }),
        _ => {}
    }
    Ok(())
}

fn record(ops: &mut Vec<Op>, activity: Uuid, details: &ActivityDetails) {
    ops.push(Op::Record {
        activity,
        team: details.team_id.0,
        on: details.date,
        participants: activity_rows::participant_ids(details),
    });
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
            record(ops, activity, &r.details);
        }
        ActivityEvent::Corrected(c) => record(ops, activity, &c.details),
        ActivityEvent::Voided(_) => ops.push(Op::Void { activity }),
    }
    Ok(())
}

fn decode_region(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let region = RegionCode::parse("stream_id", instance(event)?)
        .map_err(|e| ApplyError::Invalid(format!("{}: {}", event.stream_id, e.reason)))?;
    if let RegionEvent::ResidentPopulationRecorded(p) =
        RegionEvent::from_payload(&event.event_type, event.schema_version, &event.payload)?
    {
        let count = i64::try_from(p.count)
            .map_err(|_| ApplyError::Invalid(format!("population {} is too large", p.count)))?;
        ops.push(Op::Population {
            region,
            year: p.year,
            count,
            source: p.source.as_str().to_owned(),
        });
    }
    Ok(())
}

/// Write one run (operations of one kind, no row touched twice) with one statement.
async fn write(conn: &mut PgConnection, run: &[Op]) -> Result<(), ApplyError> {
    let Some(first) = run.first() else {
        return Ok(());
    };
    let query = match first {
        Op::RegisterTeam { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![], vec![], vec![]);
            for op in run {
                if let Op::RegisterTeam {
                    team,
                    region,
                    level,
                    registered_on,
                } = op
                {
                    cols.0.push(*team);
                    cols.1.push(region.as_str().to_owned());
                    cols.2.push(region.city().as_str().to_owned());
                    cols.3.push(region.province().as_str().to_owned());
                    cols.4.push(level_text(*level));
                    cols.5.push(*registered_on);
                }
            }
            sqlx::query(sql::REGISTER_TEAMS)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
                .bind(cols.3)
                .bind(cols.4)
                .bind(cols.5)
        }
        Op::CloseActive { .. } | Op::OpenActive { .. } | Op::Dissolve { .. } => {
            let (mut teams, mut dates) = (vec![], vec![]);
            for op in run {
                if let Op::CloseActive { team, from: on }
                | Op::OpenActive { team, on }
                | Op::Dissolve { team, on } = op
                {
                    teams.push(*team);
                    dates.push(*on);
                }
            }
            let statement = match first {
                Op::CloseActive { .. } => sql::CLOSE_ACTIVE,
                Op::OpenActive { .. } => sql::OPEN_ACTIVE,
                _ => sql::DISSOLVE_TEAMS,
            };
            sqlx::query(statement).bind(teams).bind(dates)
        }
        Op::Join { .. } | Op::Leave { .. } => {
            let (mut volunteers, mut teams, mut dates) = (vec![], vec![], vec![]);
            for op in run {
                if let Op::Join {
                    volunteer,
                    team,
                    on,
                }
                | Op::Leave {
                    volunteer,
                    team,
                    on,
                } = op
                {
                    volunteers.push(*volunteer);
                    teams.push(*team);
                    dates.push(*on);
                }
            }
            let statement = if matches!(first, Op::Join { .. }) {
                sql::JOIN
            } else {
                sql::LEAVE
            };
            sqlx::query(statement)
                .bind(volunteers)
                .bind(teams)
                .bind(dates)
        }
        Op::Record { .. } => {
            let mut columns = ActivityColumns::default();
            for op in run {
                if let Op::Record {
                    activity,
                    team,
                    on,
                    participants,
                } = op
                {
                    columns.push(*activity, *team, *on, participants.iter().copied())?;
                }
            }
            columns.bind(sql::RECORD_ACTIVITIES)
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
        Op::Population { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![]);
            for op in run {
                if let Op::Population {
                    region,
                    year,
                    count,
                    source,
                } = op
                {
                    cols.0.push(region.as_str().to_owned());
                    cols.1.push(*year);
                    cols.2.push(*count);
                    cols.3.push(source.clone());
                }
            }
            sqlx::query(sql::POPULATION)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
                .bind(cols.3)
        }
    };
    query.execute(conn).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Query
// ---------------------------------------------------------------------------------------------------------

/// A resident population figure with its year and source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Population {
    pub year: i32,
    pub count: u64,
    pub source: String,
}

/// Volunteers per 100 000 residents as an exact fraction: `numerator / denominator` with
/// `numerator = volunteers × 100000` and `denominator = population`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Per100k {
    pub numerator: u128,
    pub denominator: u64,
}

impl Per100k {
    /// The ratio as a decimal string with `places` decimals (at most 9), truncated toward zero, so a
    /// failing region never displays the threshold.
    pub fn decimal(&self, places: u32) -> String {
        let places = places.min(9);
        let scale = 10u128.pow(places);
        let denominator = u128::from(self.denominator.max(1));
        let scaled = self.numerator.saturating_mul(scale) / denominator;
        let whole = scaled / scale;
        if places == 0 {
            return whole.to_string();
        }
        let fraction = scaled % scale;
        format!("{whole}.{fraction:0width$}", width = places as usize)
    }
}

impl fmt::Display for Per100k {
    /// Two decimals, truncated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.decimal(2))
    }
}

/// The coverage of a region on a date (A1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub region: RegionCode,
    pub date: NaiveDate,
    /// Distinct members of active teams of the region on the date (A1's volunteers).
    pub registered_volunteers: u64,
    /// Of those, the ones with ≥ 1 non-voided participation in the date's year up to the date.
    pub active_volunteers: u64,
    /// The latest recorded population not after the date's year (`None`: no figure recorded).
    pub population: Option<Population>,
    /// The threshold the answer was judged by (volunteers per 100 000).
    pub required_per_100k: u32,
    /// Registered volunteers per 100 000 residents (`None` without a population).
    pub per_100k: Option<Per100k>,
    /// `registered × 100000 ≥ required × population` (`None` without a population).
    pub passes: Option<bool>,
    /// Persons missing to pass (0 when passing; `None` without a population).
    pub shortfall: Option<u64>,
    /// Events the projector has parked: when not 0, the figures may be missing those events.
    pub parked_events: u64,
    /// The checkpoint of the read model the answer was computed from.
    pub as_of: Token,
}

fn count(row: &sqlx::postgres::PgRow, column: &str) -> Result<u64, ProjectionError> {
    let n: i64 = row.try_get(column)?;
    u64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("{column} = {n}")))
}

/// The coverage of `region` on `date`, judged against `required_per_100k` ([`A1_PER_100K`] for the
/// 百千万 campaign).
pub async fn coverage(
    pool: &PgPool,
    region: RegionCode,
    date: NaiveDate,
    required_per_100k: u32,
) -> Result<Coverage, ProjectionError> {
    let year = date.year();
    let year_start = NaiveDate::from_ymd_opt(year, 1, 1)
        .ok_or_else(|| ProjectionError::Corrupt(format!("no 1 January in {year}")))?;
    let row = sqlx::query(sql::COVERAGE)
        .bind(region.as_str())
        .bind(date)
        .bind(year_start)
        .bind(year)
        .bind(CoverageProjector::ID)
        .fetch_one(pool)
        .await?;
    let registered = count(&row, "registered")?;
    let population = match row.try_get::<Option<i32>, _>("population_year")? {
        Some(year) => {
            let n: i64 = row.try_get("population")?;
            Some(Population {
                year,
                count: u64::try_from(n)
                    .map_err(|_| ProjectionError::Corrupt(format!("population {n}")))?,
                source: row.try_get("population_source")?,
            })
        }
        None => None,
    };
    let as_of = match row.try_get::<Option<String>, _>("tx_text")? {
        Some(tx) => Token {
            tx_id: tx
                .parse()
                .map_err(|_| ProjectionError::Corrupt(format!("checkpoint tx_id {tx:?}")))?,
            position: row.try_get("position")?,
        },
        None => Token::START,
    };
    let pop = population.as_ref().map(|p| p.count);
    Ok(Coverage {
        region,
        date,
        registered_volunteers: registered,
        active_volunteers: count(&row, "active")?,
        required_per_100k,
        per_100k: pop.map(|p| Per100k {
            numerator: u128::from(registered) * 100_000,
            denominator: p,
        }),
        passes: pop.map(|p| domain::region::passes(registered, p, required_per_100k)),
        shortfall: pop.map(|p| domain::region::shortfall(registered, p, required_per_100k)),
        population,
        parked_events: count(&row, "parked")?,
        as_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_per_100k_is_truncated_never_rounded_up_to_the_threshold() {
        let just_below = Per100k {
            numerator: 99_999 * 100_000,
            denominator: 1_000_000_000,
        };
        assert_eq!(just_below.decimal(2), "9.99");
        let exact = Per100k {
            numerator: 10 * 100_000,
            denominator: 100_000,
        };
        assert_eq!(exact.to_string(), "10.00");
        let zhuji = Per100k {
            numerator: 123 * 100_000,
            denominator: 1_229_200,
        };
        assert_eq!(zhuji.decimal(3), "10.006");
        assert_eq!(zhuji.decimal(0), "10");
    }
}

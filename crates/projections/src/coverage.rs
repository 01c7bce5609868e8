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
    /// Binds: $1 team, $2 region, $3 city, $4 province, $5 level, $6 registered_on.
    pub const REGISTER_TEAM: &str = "WITH t AS (
    INSERT INTO coverage_teams (team_id, region, city, province, level, registered_on)
    VALUES ($1, $2, $3, $4, $5, $6)
    RETURNING team_id, registered_on
)
INSERT INTO coverage_team_active (team_id, active_from) SELECT team_id, registered_on FROM t";

    /// Binds: $1 team, $2 first day no longer active.
    pub const CLOSE_ACTIVE: &str = "UPDATE coverage_team_active SET active_until = $2
WHERE team_id = $1 AND active_until IS NULL";

    /// Binds: $1 team, $2 first day active again.
    pub const OPEN_ACTIVE: &str =
        "INSERT INTO coverage_team_active (team_id, active_from) VALUES ($1, $2)
ON CONFLICT (team_id, active_from) DO UPDATE SET active_until = NULL";

    /// Binds: $1 team, $2 dissolution date.
    pub const DISSOLVE_TEAM: &str = "WITH closed AS (
    UPDATE coverage_team_active SET active_until = $2 WHERE team_id = $1 AND active_until IS NULL
)
UPDATE coverage_teams SET dissolved_on = $2 WHERE team_id = $1";

    /// Binds: $1 volunteer, $2 team, $3 joined_on.
    pub const JOIN: &str = "INSERT INTO coverage_memberships (volunteer_id, team_id, joined_on)
VALUES ($1, $2, $3)
ON CONFLICT (volunteer_id, team_id, joined_on) DO UPDATE SET left_on = NULL";

    /// Binds: $1 volunteer, $2 team, $3 left_on.
    pub const LEAVE: &str = "UPDATE coverage_memberships SET left_on = $3
WHERE volunteer_id = $1 AND team_id = $2 AND left_on IS NULL";

    /// Binds: $1 activity, $2 team, $3 date, $4 participants (uuid[]).
    pub const PARTICIPATE: &str =
        "INSERT INTO coverage_participations (activity_id, volunteer_id, team_id, on_date)
SELECT $1, v, $2, $3 FROM unnest($4::uuid[]) AS v";

    pub const FORGET_PARTICIPATIONS: &str =
        "DELETE FROM coverage_participations WHERE activity_id = $1";

    pub const VOID: &str =
        "UPDATE coverage_participations SET voided = true WHERE activity_id = $1";

    /// Binds: $1 region, $2 year, $3 population, $4 source.
    pub const POPULATION: &str = "INSERT INTO coverage_populations (region, year, population, source)
VALUES ($1, $2, $3, $4)
ON CONFLICT (region, year) DO UPDATE SET population = EXCLUDED.population, source = EXCLUDED.source";

    /// The whole answer in one statement (one snapshot).
    /// Binds: $1 region, $2 date, $3 1 January of the date's year, $4 the date's year, $5 projector id.
    pub const COVERAGE: &str = "WITH members AS (
    SELECT DISTINCT m.volunteer_id
    FROM coverage_memberships m
    JOIN coverage_teams t ON t.team_id = m.team_id
    WHERE (t.region = $1 OR t.city = $1 OR t.province = $1)
      AND m.joined_on <= $2 AND (m.left_on IS NULL OR $2 < m.left_on)
      AND EXISTS (SELECT FROM coverage_team_active a
                  WHERE a.team_id = t.team_id AND a.active_from <= $2
                    AND (a.active_until IS NULL OR $2 < a.active_until))
)
SELECT
    (SELECT count(*) FROM members) AS registered,
    (SELECT count(*) FROM members mm
     WHERE EXISTS (SELECT FROM coverage_participations p
                   WHERE p.volunteer_id = mm.volunteer_id AND NOT p.voided
                     AND p.on_date BETWEEN $3 AND $2)) AS active,
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
            "coverage_participations",
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
        match event.category() {
            "team" => apply_team(conn, event).await,
            "volunteer" => apply_volunteer(conn, event).await,
            "activity" => apply_activity(conn, event).await,
            "region" => apply_region(conn, event).await,
            _ => Ok(()),
        }
    }
}

async fn apply_team(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ApplyError> {
    let team = instance_uuid(event)?;
    match TeamEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        TeamEvent::Registered(r) => {
            if r.team_id.0 != team {
                return Err(ApplyError::Invalid(format!(
                    "TeamRegistered for team {} in stream {}",
                    r.team_id, event.stream_id
                )));
            }
            sqlx::query(sql::REGISTER_TEAM)
                .bind(team)
                .bind(r.region.as_str())
                .bind(r.region.city().as_str())
                .bind(r.region.province().as_str())
                .bind(level_text(r.level))
                .bind(r.registered_on)
                .execute(conn)
                .await?;
        }
        TeamEvent::Suspended(s) => {
            sqlx::query(sql::CLOSE_ACTIVE)
                .bind(team)
                .bind(s.from)
                .execute(conn)
                .await?;
        }
        TeamEvent::Reinstated(r) => {
            sqlx::query(sql::OPEN_ACTIVE)
                .bind(team)
                .bind(r.on)
                .execute(conn)
                .await?;
        }
        TeamEvent::Dissolved(d) => {
            sqlx::query(sql::DISSOLVE_TEAM)
                .bind(team)
                .bind(d.on)
                .execute(conn)
                .await?;
        }
        TeamEvent::Amended(_) => {}
    }
    Ok(())
}

async fn apply_volunteer(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ApplyError> {
    let volunteer = instance_uuid(event)?;
    match VolunteerEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        VolunteerEvent::JoinedTeam(j) => {
            sqlx::query(sql::JOIN)
                .bind(volunteer)
                .bind(j.team_id.0)
                .bind(j.joined_on)
                .execute(conn)
                .await?;
        }
        VolunteerEvent::LeftTeam(l) => {
            sqlx::query(sql::LEAVE)
                .bind(volunteer)
                .bind(l.team_id.0)
                .bind(l.left_on)
                .execute(conn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn participate(
    conn: &mut PgConnection,
    activity: Uuid,
    details: &ActivityDetails,
) -> Result<(), ApplyError> {
    let who: Vec<Uuid> = details
        .participants
        .iter()
        .map(|p| p.volunteer_id.0)
        .collect();
    sqlx::query(sql::PARTICIPATE)
        .bind(activity)
        .bind(details.team_id.0)
        .bind(details.date)
        .bind(&who)
        .execute(conn)
        .await?;
    Ok(())
}

async fn apply_activity(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ApplyError> {
    let activity = instance_uuid(event)?;
    match ActivityEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        ActivityEvent::Recorded(r) => {
            if r.activity_id.0 != activity {
                return Err(ApplyError::Invalid(format!(
                    "ActivityRecorded for activity {} in stream {}",
                    r.activity_id, event.stream_id
                )));
            }
            participate(conn, activity, &r.details).await?;
        }
        ActivityEvent::Corrected(c) => {
            sqlx::query(sql::FORGET_PARTICIPATIONS)
                .bind(activity)
                .execute(&mut *conn)
                .await?;
            participate(conn, activity, &c.details).await?;
        }
        ActivityEvent::Voided(_) => {
            sqlx::query(sql::VOID).bind(activity).execute(conn).await?;
        }
    }
    Ok(())
}

async fn apply_region(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ApplyError> {
    let code = RegionCode::parse("stream_id", instance(event)?)
        .map_err(|e| ApplyError::Invalid(format!("{}: {}", event.stream_id, e.reason)))?;
    if let RegionEvent::ResidentPopulationRecorded(p) =
        RegionEvent::from_payload(&event.event_type, event.schema_version, &event.payload)?
    {
        let count = i64::try_from(p.count)
            .map_err(|_| ApplyError::Invalid(format!("population {} is too large", p.count)))?;
        sqlx::query(sql::POPULATION)
            .bind(code.as_str())
            .bind(p.year)
            .bind(count)
            .bind(p.source.as_str())
            .execute(conn)
            .await?;
    }
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

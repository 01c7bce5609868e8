//! # Compliance (A3, A4, A5, A6): who falls short of the campaign's minimums, for any date
//!
//! Policy of this module:
//! - Projector id `compliance`. It consumes host-unit registrations (kind and region), team lifecycles
//!   (registered with their host unit / suspended / reinstated / dissolved), memberships (joined / left) and
//!   activities (recorded / corrected / voided, with their participants). Tables `compliance_*` hold ids,
//!   codes, dates and flags only — no personal data, nothing decrypted.
//! - The read model stores facts with their effective dates; [`compliance`] answers for a region (a county,
//!   or a city / province code covering everything below it, as in coverage) and an evaluation date, in one
//!   read-only snapshot. The *year* is the date's calendar year and activities count from 1 January up to
//!   the date (at 31 December: the whole year).
//! - **Thresholds are the campaign's, never re-derived here.** The caller passes the [`RuleSet`] in force on
//!   the date (`Campaign::rules_on(date)`); the answer judges counts only with
//!   [`RuleSet::team_meets_frequency`] (A5), [`RuleSet::volunteer_meets_frequency`] (A6),
//!   [`RuleSet::relevant_departments`] (A3) and [`RuleSet::requires_team`] (A4).
//! - **A5 teams**: the region's teams *active* on the date (registered on or before it, neither suspended nor
//!   dissolved on it — the coverage definition). A team's count is its non-voided activities dated in the
//!   year up to the date; a listed team carries the ids of the activities that counted and of its voided
//!   ones (which did not).
//! - **A6 volunteers**: the distinct members, on the date, of the region's active teams (A1's registered
//!   volunteers). A volunteer's count is the distinct non-voided activities they took part in during the
//!   year up to the date, whatever team ran them (A6 is per person); a listed volunteer carries those
//!   activity ids and the region's teams they belong to.
//! - **A3 / A4 hosts**: host units registered within the region that host no team active on the date, and
//!   are either named by the rules as relevant departments (A3) or of a kind the rules require to host a
//!   team (A4: designated TB hospitals, TB-free community pilots of city level or above). A3 is a
//!   city-level rule: asked for a city (or a province), the answer lists every named relevant department
//!   without an active team wherever it is registered (a provincial department the city's campaign names
//!   is the city's to follow up); asked for a county, only those registered within the county. A listed host unit
//!   carries the ids of the teams it hosts that are not active on the date (none: it never had one).
//! - A correction replaces an activity's date and participants; a voided activity counts for nothing.
//! - An answer states how many events the projector has parked and the checkpoint it reflects.
//! - Writes are set-based per run (`crate::batch`): a batch's events are decoded into operations, and each
//!   run of consecutive operations of one kind touching distinct rows is written by one statement over
//!   `unnest`. An activity is one row with its participants as an array (`crate::activity_rows`); a
//!   volunteer's activities are found through the teams they have belonged to.

use chrono::{Datelike, NaiveDate};
use domain::DomainEvent;
use domain::RuleId;
use domain::activity::{ActivityDetails, ActivityEvent};
use domain::campaign::RuleSet;
use domain::host_unit::{HostUnitEvent, HostUnitKind};
use domain::ids::{ActivityId, HostUnitId, RegionCode, TeamId, VolunteerId};
use domain::team::TeamEvent;
use domain::volunteer::VolunteerEvent;
use eventstore::{RecordedEvent, Token};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::activity_rows::{self, ActivityColumns};
use crate::batch;
use crate::error::{ApplyError, ProjectionError};
use crate::runtime::Projector;

/// The event types this projector consumes (all others only advance its checkpoint).
const HANDLED: &[&str] = &[
    "HostUnitRegistered",
    "TeamRegistered",
    "TeamSuspended",
    "TeamReinstated",
    "TeamDissolved",
    "VolunteerJoinedTeam",
    "VolunteerLeftTeam",
    "ActivityRecorded",
    "ActivityCorrected",
    "ActivityVoided",
];

mod sql {
    //! Every write takes arrays (one element per operation of a run, `crate::batch`); the queries take
    //! scalars.

    /// Binds: $1 host units, $2 kinds (domain JSON), $3 regions, $4 cities, $5 provinces.
    pub const REGISTER_HOST_UNITS: &str =
        "INSERT INTO compliance_host_units (host_unit_id, kind, region, city, province)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])";

    /// Binds: $1 teams, $2 host units, $3 regions, $4 cities, $5 provinces, $6 registered_on.
    pub const REGISTER_TEAMS: &str = "WITH t AS (
    INSERT INTO compliance_teams (team_id, host_unit_id, region, city, province, registered_on)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::date[])
    RETURNING team_id, registered_on
)
INSERT INTO compliance_team_active (team_id, active_from) SELECT team_id, registered_on FROM t";

    /// Binds: $1 teams, $2 first days no longer active (a suspension or a dissolution).
    pub const CLOSE_ACTIVE: &str = "UPDATE compliance_team_active a SET active_until = u.until
FROM unnest($1::uuid[], $2::date[]) AS u(team_id, until)
WHERE a.team_id = u.team_id AND a.active_until IS NULL";

    /// Binds: $1 teams, $2 first days active again.
    pub const OPEN_ACTIVE: &str = "INSERT INTO compliance_team_active (team_id, active_from)
SELECT * FROM unnest($1::uuid[], $2::date[])
ON CONFLICT (team_id, active_from) DO UPDATE SET active_until = NULL";

    /// Binds: $1 volunteers, $2 teams, $3 joined_on.
    pub const JOIN: &str = "INSERT INTO compliance_memberships (volunteer_id, team_id, joined_on)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::date[])
ON CONFLICT (volunteer_id, team_id, joined_on) DO UPDATE SET left_on = NULL";

    /// Binds: $1 volunteers, $2 teams, $3 left_on.
    pub const LEAVE: &str = "UPDATE compliance_memberships m SET left_on = u.left_on
FROM unnest($1::uuid[], $2::uuid[], $3::date[]) AS u(volunteer_id, team_id, left_on)
WHERE m.volunteer_id = u.volunteer_id AND m.team_id = u.team_id AND m.left_on IS NULL";

    /// Binds: $1 activities (distinct), $2 teams, $3 dates, $4/$5 each activity's slice of $6, its
    /// participants sorted by id (`crate::activity_rows`). Records an activity or, for a correction,
    /// replaces its date and participants.
    pub const RECORD_ACTIVITIES: &str = "INSERT INTO compliance_activities
(activity_id, team_id, on_date, participants)
SELECT u.activity_id, u.team_id, u.on_date, ($6::uuid[])[u.first:u.last]
FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::int4[], $5::int4[])
    AS u(activity_id, team_id, on_date, first, last)
ON CONFLICT (activity_id) DO UPDATE SET
    team_id = EXCLUDED.team_id, on_date = EXCLUDED.on_date, participants = EXCLUDED.participants";

    /// Binds: $1 activities.
    pub const VOID: &str =
        "UPDATE compliance_activities SET voided = true WHERE activity_id = ANY($1)";

    /// A5. Binds: $1 region, $2 date, $3 1 January of the date's year. Every team of the region active on
    /// the date, with its counted and its voided activities of the year up to the date.
    pub const TEAMS: &str = "SELECT t.team_id, t.region, t.host_unit_id,
    coalesce(array_agg(a.activity_id ORDER BY a.on_date, a.activity_id)
             FILTER (WHERE a.activity_id IS NOT NULL AND NOT a.voided), '{}') AS counted,
    coalesce(array_agg(a.activity_id ORDER BY a.on_date, a.activity_id)
             FILTER (WHERE a.activity_id IS NOT NULL AND a.voided), '{}') AS voided
FROM compliance_teams t
LEFT JOIN compliance_activities a ON a.team_id = t.team_id AND a.on_date BETWEEN $3 AND $2
WHERE (t.region = $1 OR t.city = $1 OR t.province = $1)
  AND EXISTS (SELECT FROM compliance_team_active p
              WHERE p.team_id = t.team_id AND p.active_from <= $2
                AND (p.active_until IS NULL OR $2 < p.active_until))
GROUP BY t.team_id, t.region, t.host_unit_id
ORDER BY t.team_id";

    /// A6. Binds: $1 region, $2 date, $3 1 January of the date's year. Every member on the date of a team
    /// of the region active on the date, with those teams and the distinct non-voided activities (any
    /// team) they took part in during the year up to the date.
    /// A participant is a member of the activity's team on its date (the domain checks it), so the
    /// activities a member took part in are among those of the teams the member has belonged to: the
    /// participants of those activities are grouped by volunteer (`crate::activity_rows`). Each member's
    /// teams and each team's activities of the year are looked up by index (`OFFSET 0` keeps the planner
    /// from scanning every activity: it cannot estimate how many members a region has).
    pub const VOLUNTEERS: &str = "WITH members AS (
    SELECT m.volunteer_id, array_agg(DISTINCT m.team_id) AS teams
    FROM compliance_memberships m
    JOIN compliance_teams t ON t.team_id = m.team_id
    WHERE (t.region = $1 OR t.city = $1 OR t.province = $1)
      AND m.joined_on <= $2 AND (m.left_on IS NULL OR $2 < m.left_on)
      AND EXISTS (SELECT FROM compliance_team_active p
                  WHERE p.team_id = t.team_id AND p.active_from <= $2
                    AND (p.active_until IS NULL OR $2 < p.active_until))
    GROUP BY m.volunteer_id
), member_teams AS (
    SELECT DISTINCT x.team_id
    FROM members mm
    CROSS JOIN LATERAL (SELECT y.team_id FROM compliance_memberships y
                        WHERE y.volunteer_id = mm.volunteer_id OFFSET 0) x
), took_part AS (
    SELECT p.volunteer_id, array_agg(a.activity_id ORDER BY a.on_date, a.activity_id) AS counted
    FROM member_teams mt
    CROSS JOIN LATERAL (SELECT b.activity_id, b.on_date, b.participants FROM compliance_activities b
                        WHERE b.team_id = mt.team_id AND b.on_date BETWEEN $3 AND $2
                          AND NOT b.voided OFFSET 0) a
    CROSS JOIN LATERAL unnest(a.participants) AS p(volunteer_id)
    GROUP BY p.volunteer_id
)
SELECT mm.volunteer_id, mm.teams, coalesce(tp.counted, '{}') AS counted
FROM members mm
LEFT JOIN took_part tp ON tp.volunteer_id = mm.volunteer_id
ORDER BY mm.volunteer_id";

    /// A3/A4. Binds: $1 region, $2 date, $3 the relevant departments the rules name, $4 whether the
    /// region is a city or above (where A3 is judged). Host units of the region — and, at city level or
    /// above, the named relevant departments wherever they are registered — that host no team active on
    /// the date, with the teams they host (none of them active on the date).
    pub const HOSTS_WITHOUT_ACTIVE_TEAM: &str = "SELECT h.host_unit_id, h.kind, h.region,
    (h.region = $1 OR h.city = $1 OR h.province = $1) AS in_region,
    coalesce(array_agg(t.team_id ORDER BY t.team_id) FILTER (WHERE t.team_id IS NOT NULL), '{}')
        AS teams
FROM compliance_host_units h
LEFT JOIN compliance_teams t ON t.host_unit_id = h.host_unit_id
WHERE (h.region = $1 OR h.city = $1 OR h.province = $1
       OR ($4 AND h.host_unit_id = ANY($3::uuid[])))
  AND NOT EXISTS (SELECT FROM compliance_teams tt
                  JOIN compliance_team_active p ON p.team_id = tt.team_id
                  WHERE tt.host_unit_id = h.host_unit_id AND p.active_from <= $2
                    AND (p.active_until IS NULL OR $2 < p.active_until))
GROUP BY h.host_unit_id, h.kind, h.region, h.city, h.province
ORDER BY h.host_unit_id";

    /// Makes the statements of one answer read one snapshot. First statement of its transaction.
    pub const SNAPSHOT: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";

    /// Binds: $1 projector id. Parked events and the checkpoint an answer reflects.
    pub const ANSWER_STATE: &str = "SELECT
    (SELECT count(*) FROM projection_parked WHERE projector = $1) AS parked,
    ck.tx_text,
    ck.position
FROM (SELECT 1) AS one
LEFT JOIN (
    SELECT c.tx_id::text AS tx_text, c.position FROM projection_checkpoints c WHERE c.projector = $1
) ck ON true";
}

/// The compliance projector (id `compliance`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ComplianceProjector;

impl ComplianceProjector {
    pub const ID: &'static str = "compliance";
}

// ---------------------------------------------------------------------------------------------------------
// Helpers shared with the other read models of this issue (frequency, summary board)
// ---------------------------------------------------------------------------------------------------------

/// The aggregate id after `category-` in the stream id.
pub(crate) fn instance(event: &RecordedEvent) -> Result<&str, ApplyError> {
    event
        .stream_id
        .split_once('-')
        .map(|(_, id)| id)
        .ok_or_else(|| ApplyError::Invalid(format!("stream id {:?} has no id", event.stream_id)))
}

pub(crate) fn instance_uuid(event: &RecordedEvent) -> Result<Uuid, ApplyError> {
    let id = instance(event)?;
    Uuid::parse_str(id).map_err(|_| {
        ApplyError::Invalid(format!(
            "stream id {:?} does not end in a UUID",
            event.stream_id
        ))
    })
}

/// The domain's persisted name of a unit-like enum value (its serde form), e.g. `"knowledge_publicity"`;
/// for data-carrying variants the compact JSON, e.g. `{"tb_free_community_pilot":"city"}`.
pub(crate) fn stored_name<T: serde::Serialize>(value: &T) -> Result<String, ApplyError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Ok(other.to_string()),
        Err(e) => Err(ApplyError::Invalid(format!("cannot name a value: {e}"))),
    }
}

/// The inverse of [`stored_name`].
pub(crate) fn from_stored_name<T: serde::de::DeserializeOwned>(
    column: &str,
    stored: &str,
) -> Result<T, ProjectionError> {
    let value = if stored.starts_with('{') {
        serde_json::from_str(stored)
    } else {
        serde_json::from_value(serde_json::Value::String(stored.to_owned()))
    };
    value.map_err(|e| ProjectionError::Corrupt(format!("{column} = {stored:?}: {e}")))
}

pub(crate) fn region_of(row: &PgRow, column: &str) -> Result<RegionCode, ProjectionError> {
    let s: String = row.try_get(column)?;
    RegionCode::parse(column, &s)
        .map_err(|e| ProjectionError::Corrupt(format!("{column} = {s:?}: {}", e.reason)))
}

pub(crate) fn year_start(year: i32) -> Result<NaiveDate, ProjectionError> {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .ok_or_else(|| ProjectionError::Corrupt(format!("no 1 January in {year}")))
}

/// A read-only transaction whose statements all read one snapshot (one answer, one point in the log).
pub(crate) async fn snapshot(
    pool: &PgPool,
) -> Result<Transaction<'static, Postgres>, ProjectionError> {
    let mut tx = pool.begin().await?;
    sqlx::query(sql::SNAPSHOT).execute(&mut *tx).await?;
    Ok(tx)
}

/// How many events `projector_id` has parked and the checkpoint its read model reflects.
pub(crate) async fn answer_state(
    conn: &mut PgConnection,
    projector_id: &str,
) -> Result<(u64, Token), ProjectionError> {
    let row = sqlx::query(sql::ANSWER_STATE)
        .bind(projector_id)
        .fetch_one(conn)
        .await?;
    let parked: i64 = row.try_get("parked")?;
    let parked = u64::try_from(parked)
        .map_err(|_| ProjectionError::Corrupt(format!("parked = {parked}")))?;
    let as_of = match row.try_get::<Option<String>, _>("tx_text")? {
        Some(tx) => Token {
            tx_id: tx
                .parse()
                .map_err(|_| ProjectionError::Corrupt(format!("checkpoint tx_id {tx:?}")))?,
            position: row.try_get("position")?,
        },
        None => Token::START,
    };
    Ok((parked, as_of))
}

// ---------------------------------------------------------------------------------------------------------
// Projection
// ---------------------------------------------------------------------------------------------------------

impl Projector for ComplianceProjector {
    fn id(&self) -> &'static str {
        Self::ID
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "compliance_host_units",
            "compliance_teams",
            "compliance_team_active",
            "compliance_memberships",
            "compliance_activities",
        ]
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        matches!(
            event.category(),
            "hostunit" | "team" | "volunteer" | "activity"
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
    RegisterHostUnit {
        host_unit: Uuid,
        /// The domain's persisted name ([`stored_name`]).
        kind: String,
        region: RegionCode,
    },
    RegisterTeam {
        team: Uuid,
        host_unit: Uuid,
        region: RegionCode,
        registered_on: NaiveDate,
    },
    /// A suspension or a dissolution: the open active period ends.
    CloseActive {
        team: Uuid,
        from: NaiveDate,
    },
    OpenActive {
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
    /// Record (or, for a correction, replace) an activity's team, date and participants.
    Record {
        activity: Uuid,
        team: Uuid,
        on: NaiveDate,
        participants: Vec<Uuid>,
    },
    Void {
        activity: Uuid,
    },
}

/// The row an operation touches, where two operations on one row must not share a statement.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    Team(Uuid),
    TeamDay(Uuid, NaiveDate),
    Membership(Uuid, Uuid),
    MembershipDay(Uuid, Uuid, NaiveDate),
    Activity(Uuid),
}

impl Op {
    fn key(&self) -> Option<Key> {
        match self {
            Self::CloseActive { team, .. } => Some(Key::Team(*team)),
            Self::OpenActive { team, on } => Some(Key::TeamDay(*team, *on)),
            Self::Join {
                volunteer,
                team,
                on,
            } => Some(Key::MembershipDay(*volunteer, *team, *on)),
            Self::Leave {
                volunteer, team, ..
            } => Some(Key::Membership(*volunteer, *team)),
            // One statement may not upsert a row twice.
            Self::Record { activity, .. } => Some(Key::Activity(*activity)),
            // Inserts of new rows (a repeated one fails in both paths alike) and an idempotent update of
            // whole activities.
            Self::RegisterHostUnit { .. } | Self::RegisterTeam { .. } | Self::Void { .. } => None,
        }
    }
}

/// The operations of one event, appended to `ops`.
fn decode(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    match event.category() {
        "hostunit" => decode_host_unit(event, ops),
        "team" => decode_team(event, ops),
        "volunteer" => decode_volunteer(event, ops),
        "activity" => decode_activity(event, ops),
        _ => Ok(()),
    }
}

fn decode_host_unit(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let host_unit = instance_uuid(event)?;
    if let HostUnitEvent::Registered(r) =
        HostUnitEvent::from_payload(&event.event_type, event.schema_version, &event.payload)?
    {
        if r.host_unit_id.0 != host_unit {
            return Err(ApplyError::Invalid(format!(
                "HostUnitRegistered for host unit {} in stream {}",
                r.host_unit_id, event.stream_id
            )));
        }
        ops.push(Op::RegisterHostUnit {
            host_unit,
            kind: stored_name(&r.kind)?,
            region: r.region,
        });
    }
    Ok(())
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
                host_unit: r.host_unit_id.0,
                region: r.region,
                registered_on: r.registered_on,
            });
        }
        TeamEvent::Suspended(s) => ops.push(Op::CloseActive { team, from: s.from }),
        TeamEvent::Reinstated(r) => ops.push(Op::OpenActive { team, on: r.on }),
        TeamEvent::Dissolved(d) => ops.push(Op::CloseActive { team, from: d.on }),
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

fn record(activity: Uuid, details: &ActivityDetails) -> Op {
    Op::Record {
        activity,
        team: details.team_id.0,
        on: details.date,
        participants: activity_rows::participant_ids(details),
    }
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
            ops.push(record(activity, &r.details));
        }
        ActivityEvent::Corrected(c) => ops.push(record(activity, &c.details)),
        ActivityEvent::Voided(_) => ops.push(Op::Void { activity }),
    }
    Ok(())
}

/// Write one run (operations of one kind, no row touched twice) with one statement.
async fn write(conn: &mut PgConnection, run: &[Op]) -> Result<(), ApplyError> {
    let Some(first) = run.first() else {
        return Ok(());
    };
    let query = match first {
        Op::RegisterHostUnit { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![], vec![]);
            for op in run {
                if let Op::RegisterHostUnit {
                    host_unit,
                    kind,
                    region,
                } = op
                {
                    cols.0.push(*host_unit);
                    cols.1.push(kind.clone());
                    cols.2.push(region.as_str().to_owned());
                    cols.3.push(region.city().as_str().to_owned());
                    cols.4.push(region.province().as_str().to_owned());
                }
            }
            sqlx::query(sql::REGISTER_HOST_UNITS)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
                .bind(cols.3)
                .bind(cols.4)
        }
        Op::RegisterTeam { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![], vec![], vec![]);
            for op in run {
                if let Op::RegisterTeam {
                    team,
                    host_unit,
                    region,
                    registered_on,
                } = op
                {
                    cols.0.push(*team);
                    cols.1.push(*host_unit);
                    cols.2.push(region.as_str().to_owned());
                    cols.3.push(region.city().as_str().to_owned());
                    cols.4.push(region.province().as_str().to_owned());
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
        Op::CloseActive { .. } | Op::OpenActive { .. } => {
            let (mut teams, mut dates) = (vec![], vec![]);
            for op in run {
                if let Op::CloseActive { team, from: on } | Op::OpenActive { team, on } = op {
                    teams.push(*team);
                    dates.push(*on);
                }
            }
            let statement = if matches!(first, Op::CloseActive { .. }) {
                sql::CLOSE_ACTIVE
            } else {
                sql::OPEN_ACTIVE
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
    };
    query.execute(conn).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Query
// ---------------------------------------------------------------------------------------------------------

/// A5: a team below the minimum number of activities in the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamShortfall {
    pub team: TeamId,
    pub region: RegionCode,
    pub host_unit: HostUnitId,
    /// The non-voided activities of the year up to the date that counted (their number is the count).
    pub activities: Vec<ActivityId>,
    /// The team's voided activities in the same period, which did not count.
    pub voided: Vec<ActivityId>,
}

/// A6: a volunteer below the minimum number of activities in the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolunteerShortfall {
    pub volunteer: VolunteerId,
    /// The region's teams (active on the date) the volunteer is a member of on the date.
    pub teams: Vec<TeamId>,
    /// The distinct non-voided activities of the year up to the date they took part in (the count).
    pub activities: Vec<ActivityId>,
}

/// A3 / A4: a host unit that must host a team and hosts none active on the date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostWithoutTeam {
    /// [`domain::rules::A3`] (a relevant department) or [`domain::rules::A4`] (a mandatory host kind).
    pub rule: RuleId,
    pub host_unit: HostUnitId,
    pub kind: HostUnitKind,
    pub region: RegionCode,
    /// Teams it hosts, none active on the date (empty: it never hosted one).
    pub teams_not_active: Vec<TeamId>,
}

/// What falls short of the campaign's minimums in a region on a date (A3–A6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compliance {
    pub region: RegionCode,
    pub date: NaiveDate,
    /// The calendar year counted (the date's), from 1 January up to the date.
    pub year: i32,
    /// A5: the region's teams active on the date (those judged).
    pub teams_checked: u64,
    /// A5: those whose count does not meet [`RuleSet::team_meets_frequency`].
    pub teams_below_minimum: Vec<TeamShortfall>,
    /// A6: the distinct members of those teams on the date (those judged).
    pub volunteers_checked: u64,
    /// A6: those whose count does not meet [`RuleSet::volunteer_meets_frequency`].
    pub volunteers_below_minimum: Vec<VolunteerShortfall>,
    /// A3 and A4: relevant departments and mandatory hosts of the region without an active team.
    pub hosts_without_team: Vec<HostWithoutTeam>,
    /// Events the projector has parked: when not 0, the answer may be missing those events.
    pub parked_events: u64,
    /// The checkpoint of the read model the answer was computed from.
    pub as_of: Token,
}

fn ids(row: &PgRow, column: &str) -> Result<Vec<Uuid>, ProjectionError> {
    Ok(row.try_get::<Vec<Uuid>, _>(column)?)
}

fn n(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn n64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

/// A3–A6 for `region` on `date`, judged by `rules` — the campaign's rules in force on the date
/// (`Campaign::rules_on(date)`).
pub async fn compliance(
    pool: &PgPool,
    region: RegionCode,
    date: NaiveDate,
    rules: &RuleSet,
) -> Result<Compliance, ProjectionError> {
    let year = date.year();
    let jan1 = year_start(year)?;
    let mut tx = snapshot(pool).await?;

    let teams = sqlx::query(sql::TEAMS)
        .bind(region.as_str())
        .bind(date)
        .bind(jan1)
        .fetch_all(&mut *tx)
        .await?;
    let mut teams_below_minimum = Vec::new();
    for row in &teams {
        let activities = ids(row, "counted")?;
        if rules.team_meets_frequency(n(activities.len())) {
            continue;
        }
        teams_below_minimum.push(TeamShortfall {
            team: TeamId(row.try_get("team_id")?),
            region: region_of(row, "region")?,
            host_unit: HostUnitId(row.try_get("host_unit_id")?),
            activities: activities.into_iter().map(ActivityId).collect(),
            voided: ids(row, "voided")?.into_iter().map(ActivityId).collect(),
        });
    }

    let volunteers = sqlx::query(sql::VOLUNTEERS)
        .bind(region.as_str())
        .bind(date)
        .bind(jan1)
        .fetch_all(&mut *tx)
        .await?;
    let mut volunteers_below_minimum = Vec::new();
    for row in &volunteers {
        let activities = ids(row, "counted")?;
        if rules.volunteer_meets_frequency(n(activities.len())) {
            continue;
        }
        volunteers_below_minimum.push(VolunteerShortfall {
            volunteer: VolunteerId(row.try_get("volunteer_id")?),
            teams: ids(row, "teams")?.into_iter().map(TeamId).collect(),
            activities: activities.into_iter().map(ActivityId).collect(),
        });
    }

    // A3 is a city-level rule: the city (or the province above it) answers for every department the
    // campaign names, wherever the department itself is registered; a county answers for its own.
    let departments: Vec<Uuid> = rules.relevant_departments.iter().map(|d| d.0).collect();
    let hosts = sqlx::query(sql::HOSTS_WITHOUT_ACTIVE_TEAM)
        .bind(region.as_str())
        .bind(date)
        .bind(&departments)
        .bind(region.city() == region)
        .fetch_all(&mut *tx)
        .await?;
    let mut hosts_without_team = Vec::new();
    for row in &hosts {
        let host_unit = HostUnitId(row.try_get("host_unit_id")?);
        let kind: HostUnitKind = from_stored_name("kind", &row.try_get::<String, _>("kind")?)?;
        let mut owed = Vec::new();
        if rules.relevant_departments.contains(&host_unit) {
            owed.push(domain::rules::A3);
        }
        // A4 is owed by the region's own host units; one listed only as a named department is not.
        if rules.requires_team(kind) && row.try_get::<bool, _>("in_region")? {
            owed.push(domain::rules::A4);
        }
        for rule in owed {
            hosts_without_team.push(HostWithoutTeam {
                rule,
                host_unit,
                kind,
                region: region_of(row, "region")?,
                teams_not_active: ids(row, "teams")?.into_iter().map(TeamId).collect(),
            });
        }
    }

    let (parked_events, as_of) = answer_state(&mut tx, ComplianceProjector::ID).await?;
    tx.commit().await?;
    Ok(Compliance {
        region,
        date,
        year,
        teams_checked: n64(teams.len()),
        teams_below_minimum,
        volunteers_checked: n64(volunteers.len()),
        volunteers_below_minimum,
        hosts_without_team,
        parked_events,
        as_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::activity::{ActivityKind, KeyDay};
    use domain::host_unit::PilotLevel;
    use domain::summary::SummaryStatus;

    #[test]
    fn stored_names_are_the_domains_persisted_names_and_round_trip() {
        let pilot = HostUnitKind::TbFreeCommunityPilot(PilotLevel::City);
        let stored = stored_name(&pilot).unwrap();
        assert_eq!(stored, r#"{"tb_free_community_pilot":"city"}"#);
        assert_eq!(
            from_stored_name::<HostUnitKind>("kind", &stored).unwrap(),
            pilot
        );
        let hospital = stored_name(&HostUnitKind::DesignatedTbHospital).unwrap();
        assert_eq!(hospital, "designated_tb_hospital");
        assert_eq!(
            from_stored_name::<HostUnitKind>("kind", &hospital).unwrap(),
            HostUnitKind::DesignatedTbHospital
        );
        assert_eq!(
            stored_name(&ActivityKind::KnowledgePublicity).unwrap(),
            "knowledge_publicity"
        );
        assert_eq!(
            stored_name(&KeyDay::WorldTbDay).unwrap(),
            "world_tb_day_03_24"
        );
        assert_eq!(
            stored_name(&SummaryStatus::AwaitingApproval).unwrap(),
            "awaiting_approval"
        );
        assert!(from_stored_name::<KeyDay>("key_day", "no_such_day").is_err());
    }
}

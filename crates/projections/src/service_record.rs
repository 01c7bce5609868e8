//! # Volunteer service record: hours per volunteer per year, certificates issued (志愿服务记录与证明)
//!
//! Policy of this module:
//! - Projector id `service_record`. It consumes team registrations (the team's region), volunteer
//!   registrations (home region) and memberships (joined), activities (recorded / corrected / voided, with
//!   each participant's minutes) and certificates issued. Tables `service_record_*` hold ids, codes,
//!   dates, minutes and the certificate's number and hash — no personal data, nothing decrypted, none of
//!   the activity's free text.
//! - **What counts** ("谁组织谁记录，谁记录谁证明"): a volunteer's service is the non-voided activities
//!   that list them as a participant, each at its *current* revision (a correction replaces the team,
//!   date, participants and minutes as a whole; a voided activity stays, flagged, and counts for nothing).
//!   A volunteer is listed at most once per activity, so an activity counts once per person whatever
//!   teams the person belongs to. The year of an activity is the calendar year of its business date
//!   (an Asia/Shanghai date already).
//! - **Replays are harmless.** Every row keyed by a record carries the stream version of the event that
//!   last changed it, and a change applies only when the event's version is newer; registrations,
//!   memberships and certificates are inserted once. Applying the same events again changes nothing.
//! - **Writes are set-based per run** ([`crate::batch`]): the events of a batch are decoded into operations
//!   first, then written run by run, one multi-row statement (`unnest`) per run. An activity is one row
//!   with its participants and their minutes as arrays (`crate::activity_rows`); a volunteer's
//!   activities are found through the teams they have joined. An operation whose outcome depends on the
//!   row's earlier state (the version-guarded upserts and updates of an activity, first-wins
//!   registrations and certificates) is keyed by its row, so a run never holds two of them for one row.
//! - **Runs are grouped by kind** ([`crate::batch::grouped_runs`]): operations on different keys commute
//!   whatever their kinds. Each statement reads and writes only the rows its operation's key names — a
//!   team, a volunteer, an activity (its one row, participants included: the version guard reads only that
//!   row), a certificate (its activities come from the event, nothing is read) — and a membership (no
//!   key) is a row only joins write, each join of it alike (`ON CONFLICT DO NOTHING`); no table has a
//!   foreign key or a trigger. So an operation may join the last run of its kind past runs that do not
//!   touch its key, and the runs leave what the operations in order leave. Where volunteers are
//!   registered and join a team one after the other (registration, join, registration, join, …), a
//!   batch is two runs instead of one per event.
//! - **Queries.** [`service_record`] answers one volunteer: their home region and teams (for the caller's
//!   scope check), per year the activities, minutes and first/last activity date with the activities
//!   that decided them, and the certificates issued. [`service_hours`] lists, for a year, the volunteers
//!   who served in the activities of a team, or of the teams of a region (a county, or a city / province
//!   code covering everything below it), with their activities and minutes — paged by volunteer id after
//!   a cursor, so a page never shifts. One snapshot per answer, which states the parked events and the
//!   checkpoint it reflects.

use chrono::{Datelike, NaiveDate};
use domain::DomainEvent;
use domain::activity::{ActivityDetails, ActivityEvent};
use domain::certificate::CertificateEvent;
use domain::ids::{ActivityId, CertificateId, RegionCode, TeamId, VolunteerId};
use domain::team::TeamEvent;
use domain::volunteer::VolunteerEvent;
use eventstore::{RecordedEvent, Token};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::activity_rows::{self, ActivityColumns};
use crate::batch;
use crate::compliance::{answer_state, instance_uuid, region_of, snapshot, year_start};
use crate::error::{ApplyError, ProjectionError};
use crate::runtime::Projector;

/// The largest page [`service_hours`] answers.
pub const MAX_PAGE: i64 = 1000;

/// The event types this projector consumes (all others only advance its checkpoint).
const HANDLED: &[&str] = &[
    "TeamRegistered",
    "VolunteerRegistered",
    "VolunteerJoinedTeam",
    "ActivityRecorded",
    "ActivityCorrected",
    "ActivityVoided",
    "CertificateIssued",
];

mod sql {
    //! Every write takes arrays (one element per operation of a run, `crate::batch`).

    /// Binds: $1 teams, $2 regions, $3 cities, $4 provinces.
    pub const REGISTER_TEAMS: &str =
        "INSERT INTO service_record_teams (team_id, region, city, province)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])
ON CONFLICT (team_id) DO NOTHING";

    /// Binds: $1 volunteers, $2 home regions, $3 stream versions.
    pub const REGISTER_VOLUNTEERS: &str =
        "INSERT INTO service_record_volunteers (volunteer_id, home_region, stream_version)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::int8[])
ON CONFLICT (volunteer_id) DO NOTHING";

    /// Binds: $1 volunteers, $2 teams.
    pub const JOIN: &str = "INSERT INTO service_record_memberships (volunteer_id, team_id)
SELECT * FROM unnest($1::uuid[], $2::uuid[])
ON CONFLICT (volunteer_id, team_id) DO NOTHING";

    /// Binds: $1 activities, $2 teams, $3 dates, $4/$5 each activity's slice of $6 (its participants,
    /// sorted by id) and of $9 (their minutes, in the same order), $7 revisions, $8 stream versions. An
    /// activity changes only when the event is newer than what its row holds.
    pub const RECORD_ACTIVITIES: &str = "INSERT INTO service_record_activities
(activity_id, team_id, on_date, revision, stream_version, participants, minutes)
SELECT u.activity_id, u.team_id, u.on_date, u.revision, u.stream_version,
    ($6::uuid[])[u.first:u.last], ($9::int4[])[u.first:u.last]
FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::int4[], $5::int4[], $7::int4[], $8::int8[])
    AS u(activity_id, team_id, on_date, first, last, revision, stream_version)
ON CONFLICT (activity_id) DO UPDATE SET
    team_id = EXCLUDED.team_id, on_date = EXCLUDED.on_date, revision = EXCLUDED.revision,
    stream_version = EXCLUDED.stream_version, participants = EXCLUDED.participants,
    minutes = EXCLUDED.minutes
WHERE service_record_activities.stream_version < EXCLUDED.stream_version";

    /// Binds: $1 activities, $2 stream versions.
    pub const VOID: &str =
        "UPDATE service_record_activities a SET voided = true, stream_version = u.stream_version
FROM unnest($1::uuid[], $2::int8[]) AS u(activity_id, stream_version)
WHERE a.activity_id = u.activity_id AND a.stream_version < u.stream_version";

    /// Binds: $1 certificates, $2 numbers, $3 volunteers, $4 issuing teams, $5 issued_on,
    /// $6 total minutes, $7 sha256 — one element per certificate; $8 certificates, $9 activities — one
    /// element per certified activity, in each certificate's order.
    pub const ISSUE: &str = "WITH c AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::date[], $6::int8[],
        $7::text[])
        AS c(certificate_id, number, volunteer_id, issuing_team_id, issued_on, total_minutes, sha256)
), a AS (
    SELECT * FROM unnest($8::uuid[], $9::uuid[]) WITH ORDINALITY AS a(certificate_id, activity_id, n)
)
INSERT INTO service_record_certificates
(certificate_id, number, volunteer_id, issuing_team_id, issued_on, total_minutes, activity_ids, sha256)
SELECT c.certificate_id, c.number, c.volunteer_id, c.issuing_team_id, c.issued_on, c.total_minutes,
    coalesce((SELECT array_agg(a.activity_id ORDER BY a.n) FROM a
              WHERE a.certificate_id = c.certificate_id), '{}'),
    c.sha256
FROM c
ON CONFLICT (certificate_id) DO NOTHING";

    /// Binds: $1 volunteer.
    pub const VOLUNTEER: &str =
        "SELECT home_region FROM service_record_volunteers WHERE volunteer_id = $1";

    /// Binds: $1 volunteer.
    pub const TEAMS: &str =
        "SELECT team_id FROM service_record_memberships WHERE volunteer_id = $1 ORDER BY team_id";

    /// Binds: $1 volunteer, $2 first day, $3 last day (NULL: every year). Non-voided activities only,
    /// found through the volunteer's teams (`crate::activity_rows`).
    pub const SERVED: &str = "SELECT a.activity_id, a.team_id, a.on_date, a.revision,
    a.minutes[array_position(a.participants, $1)] AS minutes
FROM service_record_activities a
WHERE a.team_id IN (SELECT m.team_id FROM service_record_memberships m WHERE m.volunteer_id = $1)
  AND $1 = ANY(a.participants) AND NOT a.voided
  AND ($2::date IS NULL OR a.on_date BETWEEN $2 AND $3)
ORDER BY a.on_date, a.activity_id";

    /// Binds: $1 volunteer, $2 first day, $3 last day (NULL: every year).
    pub const CERTIFICATES: &str = "SELECT certificate_id, number, issuing_team_id, issued_on,
    total_minutes, activity_ids, sha256
FROM service_record_certificates
WHERE volunteer_id = $1 AND ($2::date IS NULL OR issued_on BETWEEN $2 AND $3)
ORDER BY issued_on, certificate_id";

    /// Binds: $1 team.
    pub const TEAM_REGION: &str = "SELECT region FROM service_record_teams WHERE team_id = $1";

    /// Binds: $1 first day, $2 last day, $3 region (NULL: any), $4 team (NULL: any), $5 after volunteer
    /// (NULL: from the first), $6 limit. One row per volunteer with a non-voided activity of the
    /// region's teams (or the team) in the range, ordered by volunteer id.
    pub const HOURS: &str = "SELECT p.volunteer_id,
    count(*) AS activities,
    sum(p.minutes)::bigint AS minutes,
    min(a.on_date) AS first_on,
    max(a.on_date) AS last_on
FROM service_record_activities a
JOIN service_record_teams t ON t.team_id = a.team_id
CROSS JOIN LATERAL unnest(a.participants, a.minutes) AS p(volunteer_id, minutes)
WHERE NOT a.voided
  AND a.on_date BETWEEN $1 AND $2
  AND ($3::text IS NULL OR t.region = $3 OR t.city = $3 OR t.province = $3)
  AND ($4::uuid IS NULL OR a.team_id = $4)
  AND ($5::uuid IS NULL OR p.volunteer_id > $5)
GROUP BY p.volunteer_id
ORDER BY p.volunteer_id
LIMIT $6";
}

/// The service-record projector (id `service_record`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceRecordProjector;

impl ServiceRecordProjector {
    pub const ID: &'static str = "service_record";
}

impl Projector for ServiceRecordProjector {
    fn id(&self) -> &'static str {
        Self::ID
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "service_record_teams",
            "service_record_volunteers",
            "service_record_memberships",
            "service_record_activities",
            "service_record_certificates",
        ]
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        matches!(
            event.category(),
            "team" | "volunteer" | "activity" | "certificate"
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
        // Operations on different keys commute (module policy): runs are grouped by kind.
        for run in batch::grouped_runs(&ops, std::mem::discriminant, Op::key) {
            write(conn, &run).await?;
        }
        Ok(())
    }
}

pub(crate) fn version_i64(event: &RecordedEvent) -> Result<i64, ApplyError> {
    i64::try_from(event.stream_version).map_err(|_| {
        ApplyError::Invalid(format!(
            "{} has version {}",
            event.stream_id, event.stream_version
        ))
    })
}

pub(crate) fn mismatch(
    kind: &str,
    id: impl std::fmt::Display,
    event: &RecordedEvent,
) -> ApplyError {
    ApplyError::Invalid(format!(
        "{} for {kind} {id} in stream {}",
        event.event_type, event.stream_id
    ))
}

/// One write of the read model, decoded from an event (no I/O).
#[derive(Debug)]
enum Op {
    RegisterTeam {
        team: Uuid,
        region: RegionCode,
    },
    RegisterVolunteer {
        volunteer: Uuid,
        home_region: RegionCode,
        version: i64,
    },
    Join {
        volunteer: Uuid,
        team: Uuid,
    },
    /// Record an activity or replace its details (a correction), if the event is newer than the row.
    Record {
        activity: Uuid,
        team: Uuid,
        on: NaiveDate,
        revision: i32,
        version: i64,
        /// Volunteer and minutes, sorted by volunteer (`crate::activity_rows`).
        participants: Vec<(Uuid, u32)>,
    },
    Void {
        activity: Uuid,
        version: i64,
    },
    Issue {
        certificate: Uuid,
        number: String,
        volunteer: Uuid,
        team: Uuid,
        issued_on: NaiveDate,
        total_minutes: i64,
        activities: Vec<Uuid>,
        sha256: String,
    },
}

/// The row an operation touches, where two operations on one row must not share a statement.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    Team(Uuid),
    Volunteer(Uuid),
    Activity(Uuid),
    Certificate(Uuid),
}

impl Op {
    fn key(&self) -> Option<Key> {
        match self {
            // First wins (ON CONFLICT DO NOTHING) and the rows may differ: one per statement.
            Self::RegisterTeam { team, .. } => Some(Key::Team(*team)),
            Self::RegisterVolunteer { volunteer, .. } => Some(Key::Volunteer(*volunteer)),
            Self::Issue { certificate, .. } => Some(Key::Certificate(*certificate)),
            // Guarded by the row's stream version, and a recording replaces the activity's participants.
            Self::Record { activity, .. } | Self::Void { activity, .. } => {
                Some(Key::Activity(*activity))
            }
            // The same row whichever op inserts it (ON CONFLICT DO NOTHING keeps one).
            Self::Join { .. } => None,
        }
    }
}

/// The operations of one event, appended to `ops`.
fn decode(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    match event.category() {
        "team" => decode_team(event, ops),
        "volunteer" => decode_volunteer(event, ops),
        "activity" => decode_activity(event, ops),
        "certificate" => decode_certificate(event, ops),
        _ => Ok(()),
    }
}

fn decode_team(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let team = instance_uuid(event)?;
    if let TeamEvent::Registered(r) =
        TeamEvent::from_payload(&event.event_type, event.schema_version, &event.payload)?
    {
        if r.team_id.0 != team {
            return Err(mismatch("team", r.team_id, event));
        }
        ops.push(Op::RegisterTeam {
            team,
            region: r.region,
        });
    }
    Ok(())
}

fn decode_volunteer(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let volunteer = instance_uuid(event)?;
    match VolunteerEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        VolunteerEvent::Registered(r) => {
            if r.volunteer_id.0 != volunteer {
                return Err(mismatch("volunteer", r.volunteer_id, event));
            }
            ops.push(Op::RegisterVolunteer {
                volunteer,
                home_region: r.home_region,
                version: version_i64(event)?,
            });
        }
        VolunteerEvent::JoinedTeam(j) => ops.push(Op::Join {
            volunteer,
            team: j.team_id.0,
        }),
        _ => {}
    }
    Ok(())
}

/// Record an activity's team, date and participants, or replace them (a correction).
fn record(
    activity: Uuid,
    revision: u32,
    details: &ActivityDetails,
    event: &RecordedEvent,
) -> Result<Op, ApplyError> {
    let revision =
        i32::try_from(revision).map_err(|_| ApplyError::Invalid(format!("revision {revision}")))?;
    Ok(Op::Record {
        activity,
        team: details.team_id.0,
        on: details.date,
        revision,
        version: version_i64(event)?,
        participants: activity_rows::participants(details),
    })
}

fn decode_activity(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let activity = instance_uuid(event)?;
    let op =
        match ActivityEvent::from_payload(&event.event_type, event.schema_version, &event.payload)?
        {
            ActivityEvent::Recorded(r) => {
                if r.activity_id.0 != activity {
                    return Err(mismatch("activity", r.activity_id, event));
                }
                record(activity, 1, &r.details, event)?
            }
            ActivityEvent::Corrected(c) => record(activity, c.revision, &c.details, event)?,
            ActivityEvent::Voided(_) => Op::Void {
                activity,
                version: version_i64(event)?,
            },
        };
    ops.push(op);
    Ok(())
}

fn decode_certificate(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let certificate = instance_uuid(event)?;
    let CertificateEvent::Issued(c) =
        CertificateEvent::from_payload(&event.event_type, event.schema_version, &event.payload)?;
    if c.certificate_id.0 != certificate {
        return Err(mismatch("certificate", c.certificate_id, event));
    }
    let total_minutes = i64::try_from(c.total_minutes)
        .map_err(|_| ApplyError::Invalid(format!("{} total minutes", c.total_minutes)))?;
    ops.push(Op::Issue {
        certificate,
        number: c.number.as_str().to_owned(),
        volunteer: c.volunteer_id.0,
        team: c.issuing_team_id.0,
        issued_on: c.issued_on,
        total_minutes,
        activities: c.activities.iter().map(|a| a.activity_id.0).collect(),
        sha256: c.sha256,
    });
    Ok(())
}

/// Write one run (operations of one kind, no keyed row touched twice) with one statement.
async fn write(conn: &mut PgConnection, run: &[&Op]) -> Result<(), ApplyError> {
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
        Op::RegisterVolunteer { .. } => {
            let mut cols = (vec![], vec![], vec![]);
            for op in run {
                if let Op::RegisterVolunteer {
                    volunteer,
                    home_region,
                    version,
                } = op
                {
                    cols.0.push(*volunteer);
                    cols.1.push(home_region.as_str().to_owned());
                    cols.2.push(*version);
                }
            }
            sqlx::query(sql::REGISTER_VOLUNTEERS)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
        }
        Op::Join { .. } => {
            let (mut volunteers, mut teams) = (vec![], vec![]);
            for op in run {
                if let Op::Join { volunteer, team } = op {
                    volunteers.push(*volunteer);
                    teams.push(*team);
                }
            }
            sqlx::query(sql::JOIN).bind(volunteers).bind(teams)
        }
        Op::Record { .. } => return record_activities(conn, run).await,
        Op::Void { .. } => {
            let (mut activities, mut versions) = (vec![], vec![]);
            for op in run {
                if let Op::Void { activity, version } = op {
                    activities.push(*activity);
                    versions.push(*version);
                }
            }
            sqlx::query(sql::VOID).bind(activities).bind(versions)
        }
        Op::Issue { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            let (mut certified, mut activities) = (vec![], vec![]);
            for op in run {
                if let Op::Issue {
                    certificate,
                    number,
                    volunteer,
                    team,
                    issued_on,
                    total_minutes,
                    activities: ids,
                    sha256,
                } = op
                {
                    cols.0.push(*certificate);
                    cols.1.push(number.as_str());
                    cols.2.push(*volunteer);
                    cols.3.push(*team);
                    cols.4.push(*issued_on);
                    cols.5.push(*total_minutes);
                    cols.6.push(sha256.as_str());
                    certified.extend(ids.iter().map(|_| *certificate));
                    activities.extend(ids.iter().copied());
                }
            }
            sqlx::query(sql::ISSUE)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
                .bind(cols.3)
                .bind(cols.4)
                .bind(cols.5)
                .bind(cols.6)
                .bind(certified)
                .bind(activities)
        }
    };
    query.execute(conn).await?;
    Ok(())
}

/// A run of recordings: one upsert of the activities with their participants and minutes.
async fn record_activities(conn: &mut PgConnection, run: &[&Op]) -> Result<(), ApplyError> {
    let mut columns = ActivityColumns::default();
    let (mut revisions, mut versions, mut minutes) = (vec![], vec![], vec![]);
    for op in run {
        if let Op::Record {
            activity,
            team,
            on,
            revision,
            version,
            participants,
        } = op
        {
            columns.push(*activity, *team, *on, participants.iter().map(|(v, _)| *v))?;
            revisions.push(*revision);
            versions.push(*version);
            for (_, m) in participants {
                minutes.push(
                    i32::try_from(*m).map_err(|_| ApplyError::Invalid(format!("{m} minutes")))?,
                );
            }
        }
    }
    columns
        .bind(sql::RECORD_ACTIVITIES)
        .bind(revisions)
        .bind(versions)
        .bind(minutes)
        .execute(conn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------------------

/// One activity of a volunteer's record, at its current revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedActivity {
    pub activity: ActivityId,
    /// The team that recorded it (and may certify it).
    pub team: TeamId,
    pub date: NaiveDate,
    pub revision: u32,
    /// The volunteer's minutes in it.
    pub minutes: u32,
}

/// A volunteer's service in one calendar year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceYear {
    pub year: i32,
    /// Distinct non-voided activities.
    pub activities: u64,
    pub minutes: u64,
    pub first_activity: NaiveDate,
    pub last_activity: NaiveDate,
    /// The activities that decided the figures, by date then id.
    pub items: Vec<ServedActivity>,
}

/// A certificate issued to the volunteer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    pub certificate: CertificateId,
    pub number: String,
    pub issuing_team: TeamId,
    pub issued_on: NaiveDate,
    pub total_minutes: u64,
    /// The activities it certifies.
    pub activities: Vec<ActivityId>,
    /// Lowercase hex SHA-256 of the certificate's canonical text (anyone holding it can check it).
    pub sha256: String,
}

/// One volunteer's service record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    pub volunteer: VolunteerId,
    /// `None`: the read model has seen no registration of this volunteer.
    pub home_region: Option<RegionCode>,
    /// Teams the volunteer has ever been a member of (for team-scoped callers).
    pub teams: Vec<TeamId>,
    /// Years with service, oldest first (only the asked year when one was asked).
    pub years: Vec<ServiceYear>,
    /// By date issued, then id.
    pub certificates: Vec<IssuedCertificate>,
    /// Events the projector has parked: when not 0, the record may miss them.
    pub parked_events: u64,
    /// The checkpoint of the read model the answer was computed from.
    pub as_of: Token,
}

fn unsigned(row: &PgRow, column: &str) -> Result<u64, ProjectionError> {
    let v: i64 = row.try_get(column)?;
    u64::try_from(v).map_err(|_| ProjectionError::Corrupt(format!("{column} = {v}")))
}

fn small(row: &PgRow, column: &str) -> Result<u32, ProjectionError> {
    let v: i32 = row.try_get(column)?;
    u32::try_from(v).map_err(|_| ProjectionError::Corrupt(format!("{column} = {v}")))
}

/// `[1 January, 31 December]` of `year`, or both `None` for every year.
fn year_bounds(
    year: Option<i32>,
) -> Result<(Option<NaiveDate>, Option<NaiveDate>), ProjectionError> {
    match year {
        None => Ok((None, None)),
        Some(y) => {
            let last = NaiveDate::from_ymd_opt(y, 12, 31)
                .ok_or_else(|| ProjectionError::Corrupt(format!("no 31 December in {y}")))?;
            Ok((Some(year_start(y)?), Some(last)))
        }
    }
}

fn by_year(items: Vec<ServedActivity>) -> Vec<ServiceYear> {
    let mut years: Vec<ServiceYear> = Vec::new();
    for item in items {
        let year = item.date.year();
        match years.last_mut() {
            Some(y) if y.year == year => {
                y.activities += 1;
                y.minutes += u64::from(item.minutes);
                y.first_activity = y.first_activity.min(item.date);
                y.last_activity = y.last_activity.max(item.date);
                y.items.push(item);
            }
            _ => years.push(ServiceYear {
                year,
                activities: 1,
                minutes: u64::from(item.minutes),
                first_activity: item.date,
                last_activity: item.date,
                items: vec![item],
            }),
        }
    }
    years
}

/// The service record of `volunteer`: every year, or only `year`.
pub async fn service_record(
    pool: &PgPool,
    volunteer: VolunteerId,
    year: Option<i32>,
) -> Result<ServiceRecord, ProjectionError> {
    let (first, last) = year_bounds(year)?;
    let mut tx = snapshot(pool).await?;
    let home_region = match sqlx::query(sql::VOLUNTEER)
        .bind(volunteer.0)
        .fetch_optional(&mut *tx)
        .await?
    {
        Some(row) => Some(region_of(&row, "home_region")?),
        None => None,
    };
    let teams = sqlx::query(sql::TEAMS)
        .bind(volunteer.0)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<Uuid, _>("team_id").map(TeamId))
        .collect::<Result<Vec<_>, _>>()?;
    let served = sqlx::query(sql::SERVED)
        .bind(volunteer.0)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(ServedActivity {
                activity: ActivityId(r.try_get("activity_id")?),
                team: TeamId(r.try_get("team_id")?),
                date: r.try_get("on_date")?,
                revision: small(r, "revision")?,
                minutes: small(r, "minutes")?,
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;
    let certificates = sqlx::query(sql::CERTIFICATES)
        .bind(volunteer.0)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(IssuedCertificate {
                certificate: CertificateId(r.try_get("certificate_id")?),
                number: r.try_get("number")?,
                issuing_team: TeamId(r.try_get("issuing_team_id")?),
                issued_on: r.try_get("issued_on")?,
                total_minutes: unsigned(r, "total_minutes")?,
                activities: r
                    .try_get::<Vec<Uuid>, _>("activity_ids")?
                    .into_iter()
                    .map(ActivityId)
                    .collect(),
                sha256: r.try_get("sha256")?,
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;
    let (parked_events, as_of) = answer_state(&mut tx, ServiceRecordProjector::ID).await?;
    tx.commit().await?;
    Ok(ServiceRecord {
        volunteer,
        home_region,
        teams,
        years: by_year(served),
        certificates,
        parked_events,
        as_of,
    })
}

/// The region a team counts in (`None`: the read model has seen no registration of it).
pub async fn team_region(
    pool: &PgPool,
    team: TeamId,
) -> Result<Option<RegionCode>, ProjectionError> {
    match sqlx::query(sql::TEAM_REGION)
        .bind(team.0)
        .fetch_optional(pool)
        .await?
    {
        Some(row) => Ok(Some(region_of(&row, "region")?)),
        None => Ok(None),
    }
}

/// Whose activities a list of service hours covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoursOf {
    /// The teams of a region (a county, or a city / province code covering everything below it).
    Region(RegionCode),
    /// One team.
    Team(TeamId),
}

/// One volunteer's service in a year, in the activities a list covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolunteerHours {
    pub volunteer: VolunteerId,
    /// Distinct non-voided activities.
    pub activities: u64,
    pub minutes: u64,
    pub first_activity: NaiveDate,
    pub last_activity: NaiveDate,
}

/// One page of service hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceHours {
    pub of: HoursOf,
    pub year: i32,
    /// By volunteer id.
    pub rows: Vec<VolunteerHours>,
    /// More volunteers follow the last one.
    pub has_more: bool,
    /// Events the projector has parked: when not 0, the figures may miss them.
    pub parked_events: u64,
    /// The checkpoint of the read model the answer was computed from.
    pub as_of: Token,
}

/// Up to `limit` (1 to [`MAX_PAGE`]) volunteers after `after` (by id) who served in `year` in the
/// activities `of` covers, with their activities and minutes.
pub async fn service_hours(
    pool: &PgPool,
    of: HoursOf,
    year: i32,
    after: Option<VolunteerId>,
    limit: i64,
) -> Result<ServiceHours, ProjectionError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let (Some(first), Some(last)) = year_bounds(Some(year))? else {
        return Err(ProjectionError::Corrupt(format!("no bounds for {year}")));
    };
    let (region, team) = match of {
        HoursOf::Region(r) => (Some(r.as_str().to_owned()), None),
        HoursOf::Team(t) => (None, Some(t.0)),
    };
    let mut tx = snapshot(pool).await?;
    let mut rows = sqlx::query(sql::HOURS)
        .bind(first)
        .bind(last)
        .bind(region)
        .bind(team)
        .bind(after.map(|v| v.0))
        .bind(limit + 1)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            let minutes: Option<i64> = r.try_get("minutes")?;
            let minutes = minutes.unwrap_or(0);
            Ok(VolunteerHours {
                volunteer: VolunteerId(r.try_get("volunteer_id")?),
                activities: unsigned(r, "activities")?,
                minutes: u64::try_from(minutes)
                    .map_err(|_| ProjectionError::Corrupt(format!("minutes = {minutes}")))?,
                first_activity: r.try_get("first_on")?,
                last_activity: r.try_get("last_on")?,
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;
    let (parked_events, as_of) = answer_state(&mut tx, ServiceRecordProjector::ID).await?;
    tx.commit().await?;
    let has_more = i64::try_from(rows.len()).is_ok_and(|n| n > limit);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(ServiceHours {
        of,
        year,
        rows,
        has_more,
        parked_events,
        as_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op_kinds(runs: &[Vec<&Op>]) -> Vec<(&'static str, usize)> {
        runs.iter()
            .map(|run| {
                let kind = match run.first() {
                    Some(Op::RegisterVolunteer { .. }) => "register",
                    Some(Op::Join { .. }) => "join",
                    Some(Op::Record { .. }) => "record",
                    Some(Op::Void { .. }) => "void",
                    _ => "other",
                };
                (kind, run.len())
            })
            .collect()
    }

    #[test]
    fn alternating_registrations_and_joins_make_two_runs_and_an_activity_keeps_its_order() {
        let home = RegionCode::parse("home_region", "330602").unwrap();
        let team = Uuid::new_v4();
        let mut ops = Vec::new();
        for _ in 0..3 {
            let volunteer = Uuid::new_v4();
            ops.push(Op::RegisterVolunteer {
                volunteer,
                home_region: home,
                version: 1,
            });
            ops.push(Op::Join { volunteer, team });
        }
        let runs = batch::grouped_runs(&ops, std::mem::discriminant, Op::key);
        assert_eq!(op_kinds(&runs), vec![("register", 3), ("join", 3)]);

        // A void of an activity recorded earlier in the batch stays after its recording; another
        // activity's recording joins the first run of recordings past it.
        let on = NaiveDate::from_ymd_opt(2024, 3, 24).unwrap();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let record = |activity| Op::Record {
            activity,
            team,
            on,
            revision: 1,
            version: 1,
            participants: vec![],
        };
        let ops = [
            record(a),
            Op::Void {
                activity: a,
                version: 2,
            },
            record(b),
            Op::Void {
                activity: b,
                version: 2,
            },
        ];
        let runs = batch::grouped_runs(&ops, std::mem::discriminant, Op::key);
        assert_eq!(op_kinds(&runs), vec![("record", 2), ("void", 2)]);
        let ops = [
            record(a),
            Op::Void {
                activity: a,
                version: 2,
            },
            record(a),
        ];
        let runs = batch::grouped_runs(&ops, std::mem::discriminant, Op::key);
        assert_eq!(
            op_kinds(&runs),
            vec![("record", 1), ("void", 1), ("record", 1)],
            "a second recording of one activity stays after its void"
        );
    }

    fn item(d: (i32, u32, u32), minutes: u32) -> ServedActivity {
        ServedActivity {
            activity: ActivityId(Uuid::new_v4()),
            team: TeamId(Uuid::nil()),
            date: NaiveDate::from_ymd_opt(d.0, d.1, d.2).unwrap(),
            revision: 1,
            minutes,
        }
    }

    #[test]
    fn service_is_summed_per_calendar_year_with_first_and_last_dates() {
        let years = by_year(vec![
            item((2023, 12, 31), 30),
            item((2024, 1, 1), 60),
            item((2024, 3, 24), 90),
        ]);
        assert_eq!(years.len(), 2);
        assert_eq!(
            (years[0].year, years[0].activities, years[0].minutes),
            (2023, 1, 30)
        );
        assert_eq!(
            (years[1].year, years[1].activities, years[1].minutes),
            (2024, 2, 150)
        );
        assert_eq!(years[1].first_activity.to_string(), "2024-01-01");
        assert_eq!(years[1].last_activity.to_string(), "2024-03-24");
        assert_eq!(years[1].items.len(), 2);
        assert!(by_year(vec![]).is_empty());
    }
}

//! # Jiangsu epidemic-prevention volunteering (B4, B5, B8-B10): deployments in force per grid, the reserve
//! roster by tier, medicine-box stock, open needs
//!
//! Policy of this module:
//! - Projector id `jiangsu`. It consumes volunteer registrations (reserve tier, home region) and erasures,
//!   dispatches (issued / closed, with the reserve volunteers named), second-grid-member deployments
//!   (deployed / ended), medicine boxes (registered, donations, dispensings) and needs (posted, verified,
//!   rejected, taken, fulfilled). Tables `jiangsu_*` hold ids, codes, dates, quantities and the domain's
//!   names — no personal data, nothing decrypted. The only free text copied names places and goods: a
//!   deployment's grid reference and a medicine line's medicine and unit (the read models are keyed by
//!   them). A deployment's home unit, a need's community and description, donors and box names stay in
//!   the log.
//! - **Deployments (B5)** are in force on a day from their first day to the day they ended, both
//!   inclusive (the domain's `Deployment::serves_on`); the planned end is shown and ends nothing.
//! - **The reserve roster (B4)** lists the volunteers registered with a reserve tier other than `none`,
//!   by home region; an erased volunteer is no reserve any more (the dispatch command refuses them too).
//!   Each member carries the dispatches in force (issued, not closed) that named them.
//! - **Medicine-box stock (B8, B9)** per box and (medicine, unit) is the sum of the donated quantities
//!   minus the dispensed ones; one row per line of each donation or dispensing, keyed by the event's
//!   stream version and line, so the stock states the events that decided it.
//! - **Needs (B10)**: one row per need with its status; *open* means posted, verified or taken (not
//!   fulfilled, not rejected).
//! - **Replays are harmless.** Rows keyed by a record carry the stream version of the event that last
//!   changed them and change only for a newer one; rows keyed by an event are inserted once.
//! - Queries answer the rows of a set of regions (each a county, or a city / province code covering
//!   everything below it), in a deterministic order, in one snapshot that states the parked events and
//!   the checkpoint it reflects. Callers check the scope.

use chrono::{DateTime, NaiveDate, Utc};
use domain::DomainEvent;
use domain::ids::{
    DeploymentId, DispatchId, MedicineBoxId, NeedId, RegionCode, TeamId, VolunteerId,
};
use domain::jiangsu::deployment::DeploymentEvent;
use domain::jiangsu::dispatch::DispatchEvent;
use domain::jiangsu::medicine_box::{BoxKind, MedicineBoxEvent, MedicineItem};
use domain::jiangsu::need::{NeedCategory, NeedEvent, NeedStatus};
use domain::volunteer::{ReserveTier, VolunteerEvent};
use eventstore::{RecordedEvent, Token};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::compliance::{
    answer_state, from_stored_name, instance_uuid, region_of, snapshot, stored_name,
};
use crate::error::{ApplyError, ProjectionError};
use crate::runtime::Projector;
use crate::service_record::{mismatch, version_i64};

/// The event types this projector consumes (all others only advance its checkpoint).
const HANDLED: &[&str] = &[
    "VolunteerRegistered",
    "VolunteerErased",
    "DispatchIssued",
    "DispatchClosed",
    "VolunteerDeployedToGrid",
    "GridDeploymentEnded",
    "MedicineBoxRegistered",
    "MedicineDonationRecorded",
    "MedicineDispensingRecorded",
    "NeedPosted",
    "NeedVerified",
    "NeedRejected",
    "NeedTaken",
    "NeedFulfilled",
];

/// The need statuses that are open (B10: not fulfilled, not rejected).
pub const OPEN_NEEDS: [NeedStatus; 3] =
    [NeedStatus::Posted, NeedStatus::Verified, NeedStatus::Taken];

mod sql {
    /// Binds: $1 volunteer, $2 home region, $3 city, $4 province, $5 tier, $6 registered_on, $7 version.
    pub const RESERVE: &str = "INSERT INTO jiangsu_reserve
(volunteer_id, home_region, city, province, tier, registered_on, stream_version)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (volunteer_id) DO NOTHING";

    /// Binds: $1 volunteer, $2 version.
    pub const ERASE: &str = "UPDATE jiangsu_reserve SET erased = true, stream_version = $2
WHERE volunteer_id = $1 AND stream_version < $2";

    /// Binds: $1 dispatch, $2 region, $3 issued_at, $4 version.
    pub const ISSUE_DISPATCH: &str =
        "INSERT INTO jiangsu_dispatches (dispatch_id, region, issued_at, stream_version)
VALUES ($1, $2, $3, $4)
ON CONFLICT (dispatch_id) DO NOTHING";

    /// Binds: $1 dispatch, $2 volunteers (uuid[]), $3 roles (text[], NULL where none), pairwise.
    pub const DISPATCHED: &str =
        "INSERT INTO jiangsu_dispatched_volunteers (dispatch_id, volunteer_id, role)
SELECT $1, v, r FROM unnest($2::uuid[], $3::text[]) AS d(v, r)
ON CONFLICT (dispatch_id, volunteer_id) DO NOTHING";

    /// Binds: $1 dispatch, $2 closed_at, $3 version.
    pub const CLOSE_DISPATCH: &str =
        "UPDATE jiangsu_dispatches SET closed_at = $2, stream_version = $3
WHERE dispatch_id = $1 AND stream_version < $3";

    /// Binds: $1 deployment, $2 volunteer, $3 region, $4 city, $5 province, $6 grid, $7 first day,
    /// $8 planned end, $9 version.
    pub const DEPLOY: &str = "INSERT INTO jiangsu_deployments
(deployment_id, volunteer_id, region, city, province, grid, starts_on, planned_end, stream_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (deployment_id) DO NOTHING";

    /// Binds: $1 deployment, $2 last day, $3 version.
    pub const END_DEPLOYMENT: &str =
        "UPDATE jiangsu_deployments SET ended_on = $2, stream_version = $3
WHERE deployment_id = $1 AND stream_version < $3";

    /// Binds: $1 box, $2 kind, $3 region, $4 city, $5 province.
    pub const REGISTER_BOX: &str =
        "INSERT INTO jiangsu_medicine_boxes (medbox_id, kind, region, city, province)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (medbox_id) DO NOTHING";

    /// Binds: $1 box, $2 version, $3 direction, $4 medicines (text[]), $5 units (text[]), $6 quantities
    /// (bigint[]), $7 date. One row per line, numbered from 1 in the event's order.
    pub const MOVE: &str = "INSERT INTO jiangsu_medicine_movements
(medbox_id, stream_version, line, direction, medicine, unit, quantity, on_date)
SELECT $1, $2, l.n, $3, l.m, l.u, l.q, $7
FROM unnest($4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY AS l(m, u, q, n)
ON CONFLICT (medbox_id, stream_version, line) DO NOTHING";

    /// Binds: $1 need, $2 region, $3 city, $4 province, $5 category, $6 posted_at, $7 version.
    pub const POST_NEED: &str = "INSERT INTO jiangsu_needs
(need_id, region, city, province, category, status, posted_at, updated_at, stream_version)
VALUES ($1, $2, $3, $4, $5, 'posted', $6, $6, $7)
ON CONFLICT (need_id) DO NOTHING";

    /// Binds: $1 need, $2 status, $3 team (NULL: unchanged), $4 updated_at, $5 version.
    pub const NEED_STATUS: &str = "UPDATE jiangsu_needs
SET status = $2, team_id = coalesce($3, team_id), updated_at = $4, stream_version = $5
WHERE need_id = $1 AND stream_version < $5";

    /// Binds: $1 regions (text[]), $2 grid (NULL: any), $3 date.
    pub const DEPLOYMENTS: &str = "SELECT deployment_id, volunteer_id, region, grid, starts_on,
    planned_end, ended_on, stream_version
FROM jiangsu_deployments
WHERE (region = ANY($1) OR city = ANY($1) OR province = ANY($1))
  AND ($2::text IS NULL OR grid = $2)
  AND starts_on <= $3 AND (ended_on IS NULL OR $3 <= ended_on)
ORDER BY region, grid COLLATE \"C\", starts_on, deployment_id";

    /// Binds: $1 regions (text[]), $2 tier (NULL: every tier).
    pub const RESERVE_ROSTER: &str =
        "SELECT r.volunteer_id, r.home_region, r.tier, r.registered_on,
    r.stream_version,
    coalesce((SELECT array_agg(d.dispatch_id ORDER BY d.issued_at, d.dispatch_id)
              FROM jiangsu_dispatched_volunteers dv
              JOIN jiangsu_dispatches d ON d.dispatch_id = dv.dispatch_id
              WHERE dv.volunteer_id = r.volunteer_id AND d.closed_at IS NULL), '{}') AS dispatches
FROM jiangsu_reserve r
WHERE NOT r.erased
  AND (r.home_region = ANY($1) OR r.city = ANY($1) OR r.province = ANY($1))
  AND ($2::text IS NULL OR r.tier = $2)
ORDER BY r.tier, r.home_region, r.volunteer_id";

    /// Binds: $1 regions (text[]).
    pub const STOCK: &str = "SELECT b.medbox_id, b.kind, b.region, m.medicine, m.unit,
    coalesce(sum(m.quantity) FILTER (WHERE m.direction = 'donation'), 0)::bigint AS donated,
    coalesce(sum(m.quantity) FILTER (WHERE m.direction = 'dispensing'), 0)::bigint AS dispensed,
    coalesce(array_agg(m.stream_version ORDER BY m.stream_version)
             FILTER (WHERE m.direction = 'donation'), '{}') AS donations,
    coalesce(array_agg(m.stream_version ORDER BY m.stream_version)
             FILTER (WHERE m.direction = 'dispensing'), '{}') AS dispensings
FROM jiangsu_medicine_boxes b
JOIN jiangsu_medicine_movements m ON m.medbox_id = b.medbox_id
WHERE (b.region = ANY($1) OR b.city = ANY($1) OR b.province = ANY($1))
GROUP BY b.medbox_id, b.kind, b.region, m.medicine, m.unit
ORDER BY b.region, b.medbox_id, m.medicine COLLATE \"C\", m.unit COLLATE \"C\"";

    /// Binds: $1 regions (text[]), $2 statuses (text[]).
    pub const NEEDS: &str = "SELECT need_id, region, category, status, team_id, posted_at,
    updated_at, stream_version
FROM jiangsu_needs
WHERE (region = ANY($1) OR city = ANY($1) OR province = ANY($1))
  AND status = ANY($2)
ORDER BY region, posted_at, need_id";
}

/// The Jiangsu projector (id `jiangsu`).
#[derive(Debug, Clone, Copy, Default)]
pub struct JiangsuProjector;

impl JiangsuProjector {
    pub const ID: &'static str = "jiangsu";
}

impl Projector for JiangsuProjector {
    fn id(&self) -> &'static str {
        Self::ID
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "jiangsu_deployments",
            "jiangsu_reserve",
            "jiangsu_dispatches",
            "jiangsu_dispatched_volunteers",
            "jiangsu_medicine_boxes",
            "jiangsu_medicine_movements",
            "jiangsu_needs",
        ]
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        matches!(
            event.category(),
            "volunteer" | "dispatch" | "deployment" | "medbox" | "need"
        ) && HANDLED.contains(&event.event_type.as_str())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        match event.category() {
            "volunteer" => apply_volunteer(conn, event).await,
            "dispatch" => apply_dispatch(conn, event).await,
            "deployment" => apply_deployment(conn, event).await,
            "medbox" => apply_medicine_box(conn, event).await,
            "need" => apply_need(conn, event).await,
            _ => Ok(()),
        }
    }
}

async fn apply_volunteer(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ApplyError> {
    let volunteer = instance_uuid(event)?;
    match VolunteerEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        VolunteerEvent::Registered(r) => {
            if r.volunteer_id.0 != volunteer {
                return Err(mismatch("volunteer", r.volunteer_id, event));
            }
            if r.reserve_tier != ReserveTier::None {
                sqlx::query(sql::RESERVE)
                    .bind(volunteer)
                    .bind(r.home_region.as_str())
                    .bind(r.home_region.city().as_str())
                    .bind(r.home_region.province().as_str())
                    .bind(stored_name(&r.reserve_tier)?)
                    .bind(r.registered_on)
                    .bind(version_i64(event)?)
                    .execute(conn)
                    .await?;
            }
        }
        VolunteerEvent::Erased(_) => {
            sqlx::query(sql::ERASE)
                .bind(volunteer)
                .bind(version_i64(event)?)
                .execute(conn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn apply_dispatch(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ApplyError> {
    let dispatch = instance_uuid(event)?;
    let version = version_i64(event)?;
    match DispatchEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        DispatchEvent::Issued(i) => {
            sqlx::query(sql::ISSUE_DISPATCH)
                .bind(dispatch)
                .bind(i.region.as_str())
                .bind(i.at)
                .bind(version)
                .execute(&mut *conn)
                .await?;
            let who: Vec<Uuid> = i.reserve_volunteers.iter().map(|v| v.volunteer.0).collect();
            let roles = i
                .reserve_volunteers
                .iter()
                .map(|v| v.role.as_ref().map(stored_name).transpose())
                .collect::<Result<Vec<Option<String>>, _>>()?;
            sqlx::query(sql::DISPATCHED)
                .bind(dispatch)
                .bind(&who)
                .bind(&roles)
                .execute(conn)
                .await?;
        }
        DispatchEvent::Closed(c) => {
            sqlx::query(sql::CLOSE_DISPATCH)
                .bind(dispatch)
                .bind(c.at)
                .bind(version)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

async fn apply_deployment(
    conn: &mut PgConnection,
    event: &RecordedEvent,
) -> Result<(), ApplyError> {
    let deployment = instance_uuid(event)?;
    let version = version_i64(event)?;
    match DeploymentEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        DeploymentEvent::Deployed(d) => {
            sqlx::query(sql::DEPLOY)
                .bind(deployment)
                .bind(d.volunteer.0)
                .bind(d.region.as_str())
                .bind(d.region.city().as_str())
                .bind(d.region.province().as_str())
                .bind(d.grid.as_str())
                .bind(d.from)
                .bind(d.planned_end)
                .bind(version)
                .execute(conn)
                .await?;
        }
        DeploymentEvent::Ended(e) => {
            sqlx::query(sql::END_DEPLOYMENT)
                .bind(deployment)
                .bind(e.on)
                .bind(version)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

async fn movements(
    conn: &mut PgConnection,
    medbox: Uuid,
    version: i64,
    direction: &str,
    items: &[MedicineItem],
    on: NaiveDate,
) -> Result<(), ApplyError> {
    let medicines: Vec<&str> = items.iter().map(|i| i.medicine.as_str()).collect();
    let units: Vec<&str> = items.iter().map(|i| i.unit.as_str()).collect();
    let quantities: Vec<i64> = items.iter().map(|i| i64::from(i.quantity)).collect();
    sqlx::query(sql::MOVE)
        .bind(medbox)
        .bind(version)
        .bind(direction)
        .bind(&medicines)
        .bind(&units)
        .bind(&quantities)
        .bind(on)
        .execute(conn)
        .await?;
    Ok(())
}

async fn apply_medicine_box(
    conn: &mut PgConnection,
    event: &RecordedEvent,
) -> Result<(), ApplyError> {
    let medbox = instance_uuid(event)?;
    let version = version_i64(event)?;
    match MedicineBoxEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        MedicineBoxEvent::Registered(r) => {
            sqlx::query(sql::REGISTER_BOX)
                .bind(medbox)
                .bind(stored_name(&r.kind)?)
                .bind(r.region.as_str())
                .bind(r.region.city().as_str())
                .bind(r.region.province().as_str())
                .execute(conn)
                .await?;
        }
        MedicineBoxEvent::DonationRecorded(d) => {
            movements(conn, medbox, version, "donation", &d.items, d.on).await?;
        }
        MedicineBoxEvent::DispensingRecorded(d) => {
            movements(conn, medbox, version, "dispensing", &d.items, d.on).await?;
        }
    }
    Ok(())
}

async fn need_status(
    conn: &mut PgConnection,
    need: Uuid,
    status: NeedStatus,
    team: Option<TeamId>,
    event: &RecordedEvent,
) -> Result<(), ApplyError> {
    sqlx::query(sql::NEED_STATUS)
        .bind(need)
        .bind(stored_name(&status)?)
        .bind(team.map(|t| t.0))
        .bind(event.occurred_at)
        .bind(version_i64(event)?)
        .execute(conn)
        .await?;
    Ok(())
}

async fn apply_need(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ApplyError> {
    let need = instance_uuid(event)?;
    match NeedEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        NeedEvent::Posted(p) => {
            sqlx::query(sql::POST_NEED)
                .bind(need)
                .bind(p.region.as_str())
                .bind(p.region.city().as_str())
                .bind(p.region.province().as_str())
                .bind(stored_name(&p.category)?)
                .bind(event.occurred_at)
                .bind(version_i64(event)?)
                .execute(conn)
                .await?;
        }
        NeedEvent::Verified(_) => {
            need_status(conn, need, NeedStatus::Verified, None, event).await?
        }
        NeedEvent::Rejected(_) => {
            need_status(conn, need, NeedStatus::Rejected, None, event).await?
        }
        NeedEvent::Taken(t) => {
            need_status(conn, need, NeedStatus::Taken, Some(t.team), event).await?
        }
        NeedEvent::Fulfilled(f) => {
            need_status(conn, need, NeedStatus::Fulfilled, Some(f.team), event).await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------------------

fn version_of(row: &PgRow) -> Result<u64, ProjectionError> {
    let v: i64 = row.try_get("stream_version")?;
    u64::try_from(v).map_err(|_| ProjectionError::Corrupt(format!("stream_version = {v}")))
}

fn texts(regions: &[RegionCode]) -> Vec<&str> {
    regions.iter().map(RegionCode::as_str).collect()
}

/// A deployment in force on the asked day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridDeployment {
    /// The record (stream `deployment-<id>`).
    pub deployment: DeploymentId,
    pub volunteer: VolunteerId,
    pub region: RegionCode,
    pub grid: String,
    pub from: NaiveDate,
    pub planned_end: Option<NaiveDate>,
    /// The last day, once ended.
    pub ended_on: Option<NaiveDate>,
    /// The deployment stream's version that decided the row (1: deployed; 2: ended).
    pub version: u64,
}

/// Deployments in force on a day, ordered by region, grid, first day and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployments {
    pub date: NaiveDate,
    pub rows: Vec<GridDeployment>,
    pub parked_events: u64,
    pub as_of: Token,
}

/// The deployments in force on `date` in `regions`, on `grid` only when given.
pub async fn deployments_in_force(
    pool: &PgPool,
    regions: &[RegionCode],
    grid: Option<&str>,
    date: NaiveDate,
) -> Result<Deployments, ProjectionError> {
    let mut tx = snapshot(pool).await?;
    let rows = sqlx::query(sql::DEPLOYMENTS)
        .bind(texts(regions))
        .bind(grid)
        .bind(date)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(GridDeployment {
                deployment: DeploymentId(r.try_get("deployment_id")?),
                volunteer: VolunteerId(r.try_get("volunteer_id")?),
                region: region_of(r, "region")?,
                grid: r.try_get("grid")?,
                from: r.try_get("starts_on")?,
                planned_end: r.try_get("planned_end")?,
                ended_on: r.try_get("ended_on")?,
                version: version_of(r)?,
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;
    let (parked_events, as_of) = answer_state(&mut tx, JiangsuProjector::ID).await?;
    tx.commit().await?;
    Ok(Deployments {
        date,
        rows,
        parked_events,
        as_of,
    })
}

/// A member of the reserve roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveMember {
    pub volunteer: VolunteerId,
    pub home_region: RegionCode,
    pub tier: ReserveTier,
    pub registered_on: NaiveDate,
    /// The volunteer stream's version that put them on the roster (their registration).
    pub version: u64,
    /// Dispatches in force (issued, not closed) that named them, oldest first.
    pub dispatches: Vec<DispatchId>,
}

/// The reserve roster, ordered by tier, home region and volunteer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRoster {
    pub rows: Vec<ReserveMember>,
    pub parked_events: u64,
    pub as_of: Token,
}

/// The reserve volunteers (not erased) whose home region one of `regions` covers, of `tier` only when
/// given.
pub async fn reserve_roster(
    pool: &PgPool,
    regions: &[RegionCode],
    tier: Option<ReserveTier>,
) -> Result<ReserveRoster, ProjectionError> {
    let tier = tier
        .as_ref()
        .map(stored_name)
        .transpose()
        .map_err(|e| ProjectionError::Corrupt(e.to_string()))?;
    let mut tx = snapshot(pool).await?;
    let rows = sqlx::query(sql::RESERVE_ROSTER)
        .bind(texts(regions))
        .bind(tier)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            let tier: String = r.try_get("tier")?;
            Ok(ReserveMember {
                volunteer: VolunteerId(r.try_get("volunteer_id")?),
                home_region: region_of(r, "home_region")?,
                tier: from_stored_name("tier", &tier)?,
                registered_on: r.try_get("registered_on")?,
                version: version_of(r)?,
                dispatches: r
                    .try_get::<Vec<Uuid>, _>("dispatches")?
                    .into_iter()
                    .map(DispatchId)
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;
    let (parked_events, as_of) = answer_state(&mut tx, JiangsuProjector::ID).await?;
    tx.commit().await?;
    Ok(ReserveRoster {
        rows,
        parked_events,
        as_of,
    })
}

/// The stock of one medicine (and unit) in one box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedicineStock {
    pub medbox: MedicineBoxId,
    pub kind: BoxKind,
    pub region: RegionCode,
    pub medicine: String,
    pub unit: String,
    pub donated: u64,
    pub dispensed: u64,
    /// `donated − dispensed` (the domain keeps it ≥ 0).
    pub stock: i64,
    /// The box stream's versions of the donations that added to it.
    pub donations: Vec<u64>,
    /// The box stream's versions of the dispensings that took from it.
    pub dispensings: Vec<u64>,
}

/// Medicine-box stock, ordered by region, box, medicine and unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedicineStocks {
    pub rows: Vec<MedicineStock>,
    pub parked_events: u64,
    pub as_of: Token,
}

fn versions(row: &PgRow, column: &str) -> Result<Vec<u64>, ProjectionError> {
    row.try_get::<Vec<i64>, _>(column)?
        .into_iter()
        .map(|v| u64::try_from(v).map_err(|_| ProjectionError::Corrupt(format!("{column}: {v}"))))
        .collect()
}

/// The stock per box and (medicine, unit) of the boxes in `regions`.
pub async fn medicine_stock(
    pool: &PgPool,
    regions: &[RegionCode],
) -> Result<MedicineStocks, ProjectionError> {
    let mut tx = snapshot(pool).await?;
    let rows = sqlx::query(sql::STOCK)
        .bind(texts(regions))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let donated: i64 = r.try_get("donated")?;
            let dispensed: i64 = r.try_get("dispensed")?;
            let count = |column: &str, v: i64| {
                u64::try_from(v).map_err(|_| ProjectionError::Corrupt(format!("{column} = {v}")))
            };
            Ok(MedicineStock {
                medbox: MedicineBoxId(r.try_get("medbox_id")?),
                kind: from_stored_name("kind", &kind)?,
                region: region_of(r, "region")?,
                medicine: r.try_get("medicine")?,
                unit: r.try_get("unit")?,
                donated: count("donated", donated)?,
                dispensed: count("dispensed", dispensed)?,
                stock: donated - dispensed,
                donations: versions(r, "donations")?,
                dispensings: versions(r, "dispensings")?,
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;
    let (parked_events, as_of) = answer_state(&mut tx, JiangsuProjector::ID).await?;
    tx.commit().await?;
    Ok(MedicineStocks {
        rows,
        parked_events,
        as_of,
    })
}

/// A community need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedRow {
    /// The record (stream `need-<id>`).
    pub need: NeedId,
    pub region: RegionCode,
    pub category: NeedCategory,
    pub status: NeedStatus,
    /// The team that took (and fulfilled) it.
    pub team: Option<TeamId>,
    pub posted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The need stream's version that decided the status.
    pub version: u64,
}

/// Needs, ordered by region, time posted and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    pub statuses: Vec<NeedStatus>,
    pub rows: Vec<NeedRow>,
    pub parked_events: u64,
    pub as_of: Token,
}

/// The needs of `regions` whose status is one of `statuses` ([`OPEN_NEEDS`] for the open ones).
pub async fn needs(
    pool: &PgPool,
    regions: &[RegionCode],
    statuses: &[NeedStatus],
) -> Result<Needs, ProjectionError> {
    let names = statuses
        .iter()
        .map(stored_name)
        .collect::<Result<Vec<String>, _>>()
        .map_err(|e| ProjectionError::Corrupt(e.to_string()))?;
    let mut tx = snapshot(pool).await?;
    let rows = sqlx::query(sql::NEEDS)
        .bind(texts(regions))
        .bind(&names)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            let category: String = r.try_get("category")?;
            let status: String = r.try_get("status")?;
            Ok(NeedRow {
                need: NeedId(r.try_get("need_id")?),
                region: region_of(r, "region")?,
                category: from_stored_name("category", &category)?,
                status: from_stored_name("status", &status)?,
                team: r.try_get::<Option<Uuid>, _>("team_id")?.map(TeamId),
                posted_at: r.try_get("posted_at")?,
                updated_at: r.try_get("updated_at")?,
                version: version_of(r)?,
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;
    let (parked_events, as_of) = answer_state(&mut tx, JiangsuProjector::ID).await?;
    tx.commit().await?;
    Ok(Needs {
        statuses: statuses.to_vec(),
        rows,
        parked_events,
        as_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_are_the_persisted_domain_names() {
        assert_eq!(stored_name(&NeedStatus::Taken).unwrap(), "taken");
        assert_eq!(
            stored_name(&ReserveTier::FirstEchelon).unwrap(),
            "first_echelon"
        );
        assert_eq!(stored_name(&BoxKind::Virtual).unwrap(), "virtual");
        let status: NeedStatus = from_stored_name("status", "fulfilled").unwrap();
        assert_eq!(status, NeedStatus::Fulfilled);
        assert!(!OPEN_NEEDS.contains(&NeedStatus::Fulfilled));
        assert!(!OPEN_NEEDS.contains(&NeedStatus::Rejected));
    }
}

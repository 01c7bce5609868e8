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
//! - **Writes are set-based per run** ([`crate::batch`]): the events of a batch are decoded into operations
//!   first, then written run by run, one multi-row statement (`unnest`) per run (a run of dispatches
//!   issued writes the dispatches and the volunteers they name in one statement). Every operation is
//!   keyed by the row it touches — first-wins inserts and version-guarded updates depend on the row's
//!   earlier state — so a run never holds two operations on one row. Stock is summed at query time from
//!   one row per line, so no write accumulates.
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

use crate::batch;
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
    //! Every write takes arrays (one element per operation of a run, `crate::batch`).

    /// Binds: $1 volunteers, $2 home regions, $3 cities, $4 provinces, $5 tiers, $6 registered_on,
    /// $7 versions.
    pub const RESERVE: &str = "INSERT INTO jiangsu_reserve
(volunteer_id, home_region, city, province, tier, registered_on, stream_version)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::int8[])
ON CONFLICT (volunteer_id) DO NOTHING";

    /// Binds: $1 volunteers, $2 versions.
    pub const ERASE: &str =
        "UPDATE jiangsu_reserve r SET erased = true, stream_version = u.stream_version
FROM unnest($1::uuid[], $2::int8[]) AS u(volunteer_id, stream_version)
WHERE r.volunteer_id = u.volunteer_id AND r.stream_version < u.stream_version";

    /// Binds: $1 dispatches, $2 regions, $3 issued_at, $4 versions — one element per dispatch; $5
    /// dispatches, $6 volunteers, $7 roles (NULL where none) — one element per volunteer named, in each
    /// dispatch's order. The two inserts touch different tables and read nothing.
    pub const ISSUE_DISPATCHES: &str = "WITH issued AS (
    INSERT INTO jiangsu_dispatches (dispatch_id, region, issued_at, stream_version)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::int8[])
    ON CONFLICT (dispatch_id) DO NOTHING
)
INSERT INTO jiangsu_dispatched_volunteers (dispatch_id, volunteer_id, role)
SELECT * FROM unnest($5::uuid[], $6::uuid[], $7::text[])
ON CONFLICT (dispatch_id, volunteer_id) DO NOTHING";

    /// Binds: $1 dispatches, $2 closed_at, $3 versions.
    pub const CLOSE_DISPATCHES: &str =
        "UPDATE jiangsu_dispatches d SET closed_at = u.closed_at, stream_version = u.stream_version
FROM unnest($1::uuid[], $2::timestamptz[], $3::int8[]) AS u(dispatch_id, closed_at, stream_version)
WHERE d.dispatch_id = u.dispatch_id AND d.stream_version < u.stream_version";

    /// Binds: $1 deployments, $2 volunteers, $3 regions, $4 cities, $5 provinces, $6 grids, $7 first
    /// days, $8 planned ends (NULL where none), $9 versions.
    pub const DEPLOY: &str = "INSERT INTO jiangsu_deployments
(deployment_id, volunteer_id, region, city, province, grid, starts_on, planned_end, stream_version)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::date[],
    $8::date[], $9::int8[])
ON CONFLICT (deployment_id) DO NOTHING";

    /// Binds: $1 deployments, $2 last days, $3 versions.
    pub const END_DEPLOYMENTS: &str =
        "UPDATE jiangsu_deployments d SET ended_on = u.ended_on, stream_version = u.stream_version
FROM unnest($1::uuid[], $2::date[], $3::int8[]) AS u(deployment_id, ended_on, stream_version)
WHERE d.deployment_id = u.deployment_id AND d.stream_version < u.stream_version";

    /// Binds: $1 boxes, $2 kinds, $3 regions, $4 cities, $5 provinces.
    pub const REGISTER_BOXES: &str =
        "INSERT INTO jiangsu_medicine_boxes (medbox_id, kind, region, city, province)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
ON CONFLICT (medbox_id) DO NOTHING";

    /// Binds: $1 boxes, $2 versions, $3 lines, $4 directions, $5 medicines, $6 units, $7 quantities,
    /// $8 dates — one element per line of a donation or dispensing, lines numbered from 1 in the event's
    /// order.
    pub const MOVE: &str = "INSERT INTO jiangsu_medicine_movements
(medbox_id, stream_version, line, direction, medicine, unit, quantity, on_date)
SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int4[], $4::text[], $5::text[], $6::text[],
    $7::int8[], $8::date[])
ON CONFLICT (medbox_id, stream_version, line) DO NOTHING";

    /// Binds: $1 needs, $2 regions, $3 cities, $4 provinces, $5 categories, $6 posted_at, $7 versions.
    pub const POST_NEEDS: &str = "INSERT INTO jiangsu_needs
(need_id, region, city, province, category, status, posted_at, updated_at, stream_version)
SELECT u.need_id, u.region, u.city, u.province, u.category, 'posted', u.posted_at, u.posted_at,
    u.stream_version
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::int8[])
    AS u(need_id, region, city, province, category, posted_at, stream_version)
ON CONFLICT (need_id) DO NOTHING";

    /// Binds: $1 needs, $2 statuses, $3 teams (NULL: unchanged), $4 updated_at, $5 versions.
    pub const NEED_STATUS: &str = "UPDATE jiangsu_needs n
SET status = u.status, team_id = coalesce(u.team_id, n.team_id), updated_at = u.updated_at,
    stream_version = u.stream_version
FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], $5::int8[])
    AS u(need_id, status, team_id, updated_at, stream_version)
WHERE n.need_id = u.need_id AND n.stream_version < u.stream_version";

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
    /// A volunteer registered with a reserve tier other than `none`.
    Reserve {
        volunteer: Uuid,
        home_region: RegionCode,
        tier: String,
        registered_on: NaiveDate,
        version: i64,
    },
    Erase {
        volunteer: Uuid,
        version: i64,
    },
    /// A dispatch and the reserve volunteers it names (volunteer, role), in the event's order.
    IssueDispatch {
        dispatch: Uuid,
        region: RegionCode,
        at: DateTime<Utc>,
        version: i64,
        named: Vec<(Uuid, Option<String>)>,
    },
    CloseDispatch {
        dispatch: Uuid,
        at: DateTime<Utc>,
        version: i64,
    },
    Deploy {
        deployment: Uuid,
        volunteer: Uuid,
        region: RegionCode,
        grid: String,
        from: NaiveDate,
        planned_end: Option<NaiveDate>,
        version: i64,
    },
    EndDeployment {
        deployment: Uuid,
        on: NaiveDate,
        version: i64,
    },
    RegisterBox {
        medbox: Uuid,
        kind: String,
        region: RegionCode,
    },
    /// The lines (medicine, unit, quantity) of one donation or dispensing, in the event's order.
    Move {
        medbox: Uuid,
        version: i64,
        direction: &'static str,
        lines: Vec<(String, String, i64)>,
        on: NaiveDate,
    },
    PostNeed {
        need: Uuid,
        region: RegionCode,
        category: String,
        at: DateTime<Utc>,
        version: i64,
    },
    SetNeedStatus {
        need: Uuid,
        status: String,
        /// `None`: unchanged.
        team: Option<Uuid>,
        at: DateTime<Utc>,
        version: i64,
    },
}

/// The row an operation touches, where two operations on one row must not share a statement.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    Volunteer(Uuid),
    Dispatch(Uuid),
    Deployment(Uuid),
    MedicineBox(Uuid),
    Movement(Uuid, i64),
    Need(Uuid),
}

impl Op {
    /// Every operation is keyed: the inserts keep the first row (ON CONFLICT DO NOTHING) and two for one
    /// row may differ; the updates are guarded by the row's stream version, which the previous one moves.
    fn key(&self) -> Option<Key> {
        Some(match self {
            Self::Reserve { volunteer, .. } | Self::Erase { volunteer, .. } => {
                Key::Volunteer(*volunteer)
            }
            Self::IssueDispatch { dispatch, .. } | Self::CloseDispatch { dispatch, .. } => {
                Key::Dispatch(*dispatch)
            }
            Self::Deploy { deployment, .. } | Self::EndDeployment { deployment, .. } => {
                Key::Deployment(*deployment)
            }
            Self::RegisterBox { medbox, .. } => Key::MedicineBox(*medbox),
            Self::Move {
                medbox, version, ..
            } => Key::Movement(*medbox, *version),
            Self::PostNeed { need, .. } | Self::SetNeedStatus { need, .. } => Key::Need(*need),
        })
    }
}

/// The operations of one event, appended to `ops`.
fn decode(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    match event.category() {
        "volunteer" => decode_volunteer(event, ops),
        "dispatch" => decode_dispatch(event, ops),
        "deployment" => decode_deployment(event, ops),
        "medbox" => decode_medicine_box(event, ops),
        "need" => decode_need(event, ops),
        _ => Ok(()),
    }
}

fn decode_volunteer(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let volunteer = instance_uuid(event)?;
    match VolunteerEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        VolunteerEvent::Registered(r) => {
            if r.volunteer_id.0 != volunteer {
                return Err(mismatch("volunteer", r.volunteer_id, event));
            }
            if r.reserve_tier != ReserveTier::None {
                ops.push(Op::Reserve {
                    volunteer,
                    tier: stored_name(&r.reserve_tier)?,
                    home_region: r.home_region,
                    registered_on: r.registered_on,
                    version: version_i64(event)?,
                });
            }
        }
        VolunteerEvent::Erased(_) => ops.push(Op::Erase {
            volunteer,
            version: version_i64(event)?,
        }),
        _ => {}
    }
    Ok(())
}

fn decode_dispatch(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let dispatch = instance_uuid(event)?;
    let version = version_i64(event)?;
    match DispatchEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        DispatchEvent::Issued(i) => {
            let named = i
                .reserve_volunteers
                .iter()
                .map(|v| Ok((v.volunteer.0, v.role.as_ref().map(stored_name).transpose()?)))
                .collect::<Result<Vec<_>, ApplyError>>()?;
            ops.push(Op::IssueDispatch {
                dispatch,
                region: i.region,
                at: i.at,
                version,
                named,
            });
        }
        DispatchEvent::Closed(c) => ops.push(Op::CloseDispatch {
            dispatch,
            at: c.at,
            version,
        }),
    }
    Ok(())
}

fn decode_deployment(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let deployment = instance_uuid(event)?;
    let version = version_i64(event)?;
    match DeploymentEvent::from_payload(&event.event_type, event.schema_version, &event.payload)? {
        DeploymentEvent::Deployed(d) => ops.push(Op::Deploy {
            deployment,
            volunteer: d.volunteer.0,
            region: d.region,
            grid: d.grid.as_str().to_owned(),
            from: d.from,
            planned_end: d.planned_end,
            version,
        }),
        DeploymentEvent::Ended(e) => ops.push(Op::EndDeployment {
            deployment,
            on: e.on,
            version,
        }),
    }
    Ok(())
}

fn movement(
    medbox: Uuid,
    version: i64,
    direction: &'static str,
    items: &[MedicineItem],
    on: NaiveDate,
) -> Op {
    Op::Move {
        medbox,
        version,
        direction,
        lines: items
            .iter()
            .map(|i| {
                (
                    i.medicine.as_str().to_owned(),
                    i.unit.as_str().to_owned(),
                    i64::from(i.quantity),
                )
            })
            .collect(),
        on,
    }
}

fn decode_medicine_box(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let medbox = instance_uuid(event)?;
    let version = version_i64(event)?;
    let op = match MedicineBoxEvent::from_payload(
        &event.event_type,
        event.schema_version,
        &event.payload,
    )? {
        MedicineBoxEvent::Registered(r) => Op::RegisterBox {
            medbox,
            kind: stored_name(&r.kind)?,
            region: r.region,
        },
        MedicineBoxEvent::DonationRecorded(d) => {
            movement(medbox, version, "donation", &d.items, d.on)
        }
        MedicineBoxEvent::DispensingRecorded(d) => {
            movement(medbox, version, "dispensing", &d.items, d.on)
        }
    };
    ops.push(op);
    Ok(())
}

fn need_status(
    need: Uuid,
    status: NeedStatus,
    team: Option<TeamId>,
    event: &RecordedEvent,
) -> Result<Op, ApplyError> {
    Ok(Op::SetNeedStatus {
        need,
        status: stored_name(&status)?,
        team: team.map(|t| t.0),
        at: event.occurred_at,
        version: version_i64(event)?,
    })
}

fn decode_need(event: &RecordedEvent, ops: &mut Vec<Op>) -> Result<(), ApplyError> {
    let need = instance_uuid(event)?;
    let op = match NeedEvent::from_payload(&event.event_type, event.schema_version, &event.payload)?
    {
        NeedEvent::Posted(p) => Op::PostNeed {
            need,
            category: stored_name(&p.category)?,
            region: p.region,
            at: event.occurred_at,
            version: version_i64(event)?,
        },
        NeedEvent::Verified(_) => need_status(need, NeedStatus::Verified, None, event)?,
        NeedEvent::Rejected(_) => need_status(need, NeedStatus::Rejected, None, event)?,
        NeedEvent::Taken(t) => need_status(need, NeedStatus::Taken, Some(t.team), event)?,
        NeedEvent::Fulfilled(f) => need_status(need, NeedStatus::Fulfilled, Some(f.team), event)?,
    };
    ops.push(op);
    Ok(())
}

/// A region's code and the city and province codes above it (the `region, city, province` columns).
fn push_region(cols: &mut (Vec<String>, Vec<String>, Vec<String>), region: &RegionCode) {
    cols.0.push(region.as_str().to_owned());
    cols.1.push(region.city().as_str().to_owned());
    cols.2.push(region.province().as_str().to_owned());
}

/// Write one run (operations of one kind, no row touched twice) with one statement.
async fn write(conn: &mut PgConnection, run: &[Op]) -> Result<(), ApplyError> {
    let Some(first) = run.first() else {
        return Ok(());
    };
    let query = match first {
        Op::Reserve { .. } => {
            let (mut volunteers, mut regions, mut tiers, mut days, mut versions) =
                (vec![], (vec![], vec![], vec![]), vec![], vec![], vec![]);
            for op in run {
                if let Op::Reserve {
                    volunteer,
                    home_region,
                    tier,
                    registered_on,
                    version,
                } = op
                {
                    volunteers.push(*volunteer);
                    push_region(&mut regions, home_region);
                    tiers.push(tier.as_str());
                    days.push(*registered_on);
                    versions.push(*version);
                }
            }
            sqlx::query(sql::RESERVE)
                .bind(volunteers)
                .bind(regions.0)
                .bind(regions.1)
                .bind(regions.2)
                .bind(tiers)
                .bind(days)
                .bind(versions)
        }
        Op::Erase { .. } => {
            let (mut volunteers, mut versions) = (vec![], vec![]);
            for op in run {
                if let Op::Erase { volunteer, version } = op {
                    volunteers.push(*volunteer);
                    versions.push(*version);
                }
            }
            sqlx::query(sql::ERASE).bind(volunteers).bind(versions)
        }
        Op::IssueDispatch { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![]);
            let mut named_cols = (vec![], vec![], vec![]);
            for op in run {
                if let Op::IssueDispatch {
                    dispatch,
                    region,
                    at,
                    version,
                    named,
                } = op
                {
                    cols.0.push(*dispatch);
                    cols.1.push(region.as_str());
                    cols.2.push(*at);
                    cols.3.push(*version);
                    for (volunteer, role) in named {
                        named_cols.0.push(*dispatch);
                        named_cols.1.push(*volunteer);
                        named_cols.2.push(role.as_deref());
                    }
                }
            }
            sqlx::query(sql::ISSUE_DISPATCHES)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
                .bind(cols.3)
                .bind(named_cols.0)
                .bind(named_cols.1)
                .bind(named_cols.2)
        }
        Op::CloseDispatch { .. } => {
            let (mut dispatches, mut ats, mut versions) = (vec![], vec![], vec![]);
            for op in run {
                if let Op::CloseDispatch {
                    dispatch,
                    at,
                    version,
                } = op
                {
                    dispatches.push(*dispatch);
                    ats.push(*at);
                    versions.push(*version);
                }
            }
            sqlx::query(sql::CLOSE_DISPATCHES)
                .bind(dispatches)
                .bind(ats)
                .bind(versions)
        }
        Op::Deploy { .. } => {
            let (mut deployments, mut volunteers, mut regions, mut grids) =
                (vec![], vec![], (vec![], vec![], vec![]), vec![]);
            let (mut froms, mut planned_ends, mut versions) = (vec![], vec![], vec![]);
            for op in run {
                if let Op::Deploy {
                    deployment,
                    volunteer,
                    region,
                    grid,
                    from,
                    planned_end,
                    version,
                } = op
                {
                    deployments.push(*deployment);
                    volunteers.push(*volunteer);
                    push_region(&mut regions, region);
                    grids.push(grid.as_str());
                    froms.push(*from);
                    planned_ends.push(*planned_end);
                    versions.push(*version);
                }
            }
            sqlx::query(sql::DEPLOY)
                .bind(deployments)
                .bind(volunteers)
                .bind(regions.0)
                .bind(regions.1)
                .bind(regions.2)
                .bind(grids)
                .bind(froms)
                .bind(planned_ends)
                .bind(versions)
        }
        Op::EndDeployment { .. } => {
            let (mut deployments, mut days, mut versions) = (vec![], vec![], vec![]);
            for op in run {
                if let Op::EndDeployment {
                    deployment,
                    on,
                    version,
                } = op
                {
                    deployments.push(*deployment);
                    days.push(*on);
                    versions.push(*version);
                }
            }
            sqlx::query(sql::END_DEPLOYMENTS)
                .bind(deployments)
                .bind(days)
                .bind(versions)
        }
        Op::RegisterBox { .. } => {
            let (mut boxes, mut kinds, mut regions) = (vec![], vec![], (vec![], vec![], vec![]));
            for op in run {
                if let Op::RegisterBox {
                    medbox,
                    kind,
                    region,
                } = op
                {
                    boxes.push(*medbox);
                    kinds.push(kind.as_str());
                    push_region(&mut regions, region);
                }
            }
            sqlx::query(sql::REGISTER_BOXES)
                .bind(boxes)
                .bind(kinds)
                .bind(regions.0)
                .bind(regions.1)
                .bind(regions.2)
        }
        Op::Move { .. } => {
            let mut cols = (vec![], vec![], vec![], vec![]);
            let mut goods = (vec![], vec![], vec![], vec![]);
            for op in run {
                if let Op::Move {
                    medbox,
                    version,
                    direction,
                    lines,
                    on,
                } = op
                {
                    for (n, (medicine, unit, quantity)) in (1_i32..).zip(lines) {
                        cols.0.push(*medbox);
                        cols.1.push(*version);
                        cols.2.push(n);
                        cols.3.push(*direction);
                        goods.0.push(medicine.as_str());
                        goods.1.push(unit.as_str());
                        goods.2.push(*quantity);
                        goods.3.push(*on);
                    }
                }
            }
            sqlx::query(sql::MOVE)
                .bind(cols.0)
                .bind(cols.1)
                .bind(cols.2)
                .bind(cols.3)
                .bind(goods.0)
                .bind(goods.1)
                .bind(goods.2)
                .bind(goods.3)
        }
        Op::PostNeed { .. } => {
            let (mut needs, mut regions, mut categories, mut ats, mut versions) =
                (vec![], (vec![], vec![], vec![]), vec![], vec![], vec![]);
            for op in run {
                if let Op::PostNeed {
                    need,
                    region,
                    category,
                    at,
                    version,
                } = op
                {
                    needs.push(*need);
                    push_region(&mut regions, region);
                    categories.push(category.as_str());
                    ats.push(*at);
                    versions.push(*version);
                }
            }
            sqlx::query(sql::POST_NEEDS)
                .bind(needs)
                .bind(regions.0)
                .bind(regions.1)
                .bind(regions.2)
                .bind(categories)
                .bind(ats)
                .bind(versions)
        }
        Op::SetNeedStatus { .. } => {
            let (mut needs, mut statuses, mut teams, mut ats, mut versions) =
                (vec![], vec![], vec![], vec![], vec![]);
            for op in run {
                if let Op::SetNeedStatus {
                    need,
                    status,
                    team,
                    at,
                    version,
                } = op
                {
                    needs.push(*need);
                    statuses.push(status.as_str());
                    teams.push(*team);
                    ats.push(*at);
                    versions.push(*version);
                }
            }
            sqlx::query(sql::NEED_STATUS)
                .bind(needs)
                .bind(statuses)
                .bind(teams)
                .bind(ats)
                .bind(versions)
        }
    };
    query.execute(conn).await?;
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

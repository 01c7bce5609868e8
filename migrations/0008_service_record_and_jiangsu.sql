-- Read models 6 and 7 of #5: the volunteer service record (hours per volunteer per year, certificates
-- issued; 《志愿服务记录与证明出具办法》 "谁记录谁证明") and the Jiangsu read models (B4, B5, B8-B10:
-- deployments in force per grid, the reserve roster by tier, medicine-box stock, open needs). See
-- crates/projections/src/service_record.rs (projector id `service_record`) and
-- crates/projections/src/jiangsu.rs (projector id `jiangsu`). Forward-only; every table here can be dropped
-- and rebuilt from the log.
--
-- Ids, codes, dates, counts only: no personal data, nothing decrypted. Free text of the events is not
-- copied, except two values a read model is keyed by and that name places and goods, never persons: the
-- grid reference of a deployment (网格) and the medicine name and unit of a medicine-box line. The home
-- unit of a deployment, the community and description of a need, donors' organisations, names of boxes
-- and keepers are left in the log.
--
-- Every row carries the stream version of the event that last changed it (`stream_version`); changes
-- apply only when that version is newer, and rows keyed by an event (`jiangsu_medicine_movements`) are
-- inserted once, so applying the same events again changes nothing.
--
-- `city` / `province` are the region code's prefixes (xxxx00, xx0000), so a city or province code covers
-- everything below it (as in the other read models).

-- ---- volunteer service record ----------------------------------------------------------------------------

-- Teams: an activity counts in its team's region.
CREATE TABLE service_record_teams (
    team_id  uuid PRIMARY KEY,
    region   text NOT NULL,
    city     text NOT NULL,
    province text NOT NULL
);
CREATE INDEX service_record_teams_region ON service_record_teams (region);
CREATE INDEX service_record_teams_city ON service_record_teams (city);

-- Registered volunteers with their home region (the scope of their record).
CREATE TABLE service_record_volunteers (
    volunteer_id   uuid   PRIMARY KEY,
    home_region    text   NOT NULL,
    stream_version bigint NOT NULL
);

-- The teams a volunteer has ever been a member of (team-scoped roles see their members' records).
CREATE TABLE service_record_memberships (
    volunteer_id uuid NOT NULL,
    team_id      uuid NOT NULL,
    PRIMARY KEY (volunteer_id, team_id)
);
CREATE INDEX service_record_memberships_team ON service_record_memberships (team_id);

-- Activities as currently recorded (a correction replaces team, date and revision; a voided activity
-- stays, flagged, and counts for nothing).
CREATE TABLE service_record_activities (
    activity_id    uuid    PRIMARY KEY,
    team_id        uuid    NOT NULL,
    on_date        date    NOT NULL,
    revision       integer NOT NULL,
    voided         boolean NOT NULL DEFAULT false,
    stream_version bigint  NOT NULL
);
CREATE INDEX service_record_activities_team ON service_record_activities (team_id, on_date);
CREATE INDEX service_record_activities_date ON service_record_activities (on_date);

-- The participants of each activity with their minutes, as currently recorded (a correction replaces the
-- set). A volunteer is listed at most once per activity, so an activity counts once per person whatever
-- teams the person belongs to.
CREATE TABLE service_record_participations (
    activity_id  uuid    NOT NULL,
    volunteer_id uuid    NOT NULL,
    minutes      integer NOT NULL CHECK (minutes >= 0),
    PRIMARY KEY (activity_id, volunteer_id)
);
CREATE INDEX service_record_participations_volunteer
    ON service_record_participations (volunteer_id, activity_id);

-- Certificates issued (once each): number, date, total minutes, the activities certified and the
-- certificate's verifiable SHA-256.
CREATE TABLE service_record_certificates (
    certificate_id  uuid   PRIMARY KEY,
    number          text   NOT NULL,
    volunteer_id    uuid   NOT NULL,
    issuing_team_id uuid   NOT NULL,
    issued_on       date   NOT NULL,
    total_minutes   bigint NOT NULL CHECK (total_minutes >= 0),
    activity_ids    uuid[] NOT NULL,
    sha256          text   NOT NULL
);
CREATE INDEX service_record_certificates_volunteer
    ON service_record_certificates (volunteer_id, issued_on);

-- ---- Jiangsu (B4, B5, B8-B10) ----------------------------------------------------------------------------

-- Second-grid-member deployments (B5): in force from starts_on to ended_on, both inclusive (the domain's
-- `Deployment::serves_on`); planned_end is shown, it ends nothing.
CREATE TABLE jiangsu_deployments (
    deployment_id  uuid   PRIMARY KEY,
    volunteer_id   uuid   NOT NULL,
    region         text   NOT NULL,
    city           text   NOT NULL,
    province       text   NOT NULL,
    grid           text   NOT NULL,
    starts_on      date   NOT NULL,
    planned_end    date,
    ended_on       date,
    stream_version bigint NOT NULL
);
CREATE INDEX jiangsu_deployments_region ON jiangsu_deployments (region, grid);
CREATE INDEX jiangsu_deployments_city ON jiangsu_deployments (city);

-- The reserve roster (B4): volunteers registered with a reserve tier other than `none` (the domain's
-- ReserveTier name), flagged once erased (an erased volunteer is no reserve any more).
CREATE TABLE jiangsu_reserve (
    volunteer_id   uuid    PRIMARY KEY,
    home_region    text    NOT NULL,
    city           text    NOT NULL,
    province       text    NOT NULL,
    tier           text    NOT NULL,
    registered_on  date    NOT NULL,
    erased         boolean NOT NULL DEFAULT false,
    stream_version bigint  NOT NULL
);
CREATE INDEX jiangsu_reserve_region ON jiangsu_reserve (home_region);
CREATE INDEX jiangsu_reserve_city ON jiangsu_reserve (city);

-- Emergency dispatches (B3, B4): in force while not closed, and the reserve volunteers each named (with
-- the professional role, the domain's name, when one was given).
CREATE TABLE jiangsu_dispatches (
    dispatch_id    uuid        PRIMARY KEY,
    region         text        NOT NULL,
    issued_at      timestamptz NOT NULL,
    closed_at      timestamptz,
    stream_version bigint      NOT NULL
);
CREATE TABLE jiangsu_dispatched_volunteers (
    dispatch_id  uuid NOT NULL,
    volunteer_id uuid NOT NULL,
    role         text,
    PRIMARY KEY (dispatch_id, volunteer_id)
);
CREATE INDEX jiangsu_dispatched_volunteers_volunteer ON jiangsu_dispatched_volunteers (volunteer_id);

-- Shared medicine boxes (B8, B9): where they are and their kind (`physical` / `virtual`).
CREATE TABLE jiangsu_medicine_boxes (
    medbox_id uuid PRIMARY KEY,
    kind      text NOT NULL,
    region    text NOT NULL,
    city      text NOT NULL,
    province  text NOT NULL
);
CREATE INDEX jiangsu_medicine_boxes_region ON jiangsu_medicine_boxes (region);
CREATE INDEX jiangsu_medicine_boxes_city ON jiangsu_medicine_boxes (city);

-- One row per line of a donation (in) or a dispensing (out), keyed by the event that recorded it: stock
-- per box and (medicine, unit) is donations minus dispensings, computed at query time.
CREATE TABLE jiangsu_medicine_movements (
    medbox_id      uuid    NOT NULL,
    stream_version bigint  NOT NULL,
    line           integer NOT NULL,
    direction      text    NOT NULL CHECK (direction IN ('donation', 'dispensing')),
    medicine       text    NOT NULL,
    unit           text    NOT NULL,
    quantity       bigint  NOT NULL CHECK (quantity > 0),
    on_date        date    NOT NULL,
    PRIMARY KEY (medbox_id, stream_version, line)
);

-- Community needs (B10): category and status (the domain's names), the team that took it, when it was
-- posted and last changed (the events' business times).
CREATE TABLE jiangsu_needs (
    need_id        uuid        PRIMARY KEY,
    region         text        NOT NULL,
    city           text        NOT NULL,
    province       text        NOT NULL,
    category       text        NOT NULL,
    status         text        NOT NULL,
    team_id        uuid,
    posted_at      timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    stream_version bigint      NOT NULL
);
CREATE INDEX jiangsu_needs_region ON jiangsu_needs (region, status);
CREATE INDEX jiangsu_needs_city ON jiangsu_needs (city, status);

REVOKE ALL ON service_record_teams, service_record_volunteers, service_record_memberships,
    service_record_activities, service_record_participations, service_record_certificates,
    jiangsu_deployments, jiangsu_reserve, jiangsu_dispatches, jiangsu_dispatched_volunteers,
    jiangsu_medicine_boxes, jiangsu_medicine_movements, jiangsu_needs FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON service_record_teams, service_record_volunteers,
    service_record_memberships, service_record_activities, service_record_participations,
    service_record_certificates, jiangsu_deployments, jiangsu_reserve, jiangsu_dispatches,
    jiangsu_dispatched_volunteers, jiangsu_medicine_boxes, jiangsu_medicine_movements, jiangsu_needs
    TO ledger_service;

-- Projections: the projector runtime's bookkeeping and the first read model (coverage, A1/A2).
-- See crates/projections. Forward-only; every table here can be dropped and rebuilt from the log.
--
-- Read models hold ids and facts only: no personal data, nothing decrypted. No floats: ratios are computed
-- at query time from integers.

-- One row per projector: the token (tx_id, position) of the last event it has processed, written in the
-- same transaction as the read-model changes it made. Every batch transaction locks this row FOR UPDATE
-- and checks it still holds the value the runner expects (fencing a stale leader).
CREATE TABLE projection_checkpoints (
    projector      text        PRIMARY KEY,
    tx_id          xid8        NOT NULL DEFAULT '0'::xid8,
    position       bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Events a projector could not apply, and every later event of the same stream (which waits behind the
-- first one rather than being applied out of order). Never silently skipped: an operator retries or
-- releases them (a later issue).
CREATE TABLE projection_parked (
    projector      text        NOT NULL,
    stream_id      text        NOT NULL,
    stream_version bigint      NOT NULL,
    tx_id          xid8        NOT NULL,
    position       bigint      NOT NULL,
    event_type     text        NOT NULL,
    error          text        NOT NULL,
    parked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projector, stream_id, stream_version)
);

-- ---- coverage (A1, A2) -----------------------------------------------------------------------------------

-- Teams: where they count. `city` and `province` are the code's prefixes (xxxx00, xx0000), so a city's
-- figure covers its counties and its city-level teams, and a province's everything below it.
CREATE TABLE coverage_teams (
    team_id       uuid PRIMARY KEY,
    region        text NOT NULL,
    city          text NOT NULL,
    province      text NOT NULL,
    level         text NOT NULL,
    registered_on date NOT NULL,
    dissolved_on  date
);
CREATE INDEX coverage_teams_region ON coverage_teams (region);
CREATE INDEX coverage_teams_city ON coverage_teams (city);
CREATE INDEX coverage_teams_province ON coverage_teams (province);

-- The periods a team is active: [active_from, active_until), active_until NULL while it lasts.
-- Registration and reinstatement open a period; suspension and dissolution close the open one.
CREATE TABLE coverage_team_active (
    team_id      uuid NOT NULL REFERENCES coverage_teams (team_id),
    active_from  date NOT NULL,
    active_until date,
    PRIMARY KEY (team_id, active_from)
);

-- Memberships: [joined_on, left_on), left_on NULL while it lasts.
CREATE TABLE coverage_memberships (
    volunteer_id uuid NOT NULL,
    team_id      uuid NOT NULL,
    joined_on    date NOT NULL,
    left_on      date,
    PRIMARY KEY (volunteer_id, team_id, joined_on)
);
CREATE INDEX coverage_memberships_team ON coverage_memberships (team_id);

-- Resident population per region and year, with its source (the figure in force: a superseding record
-- replaces the earlier one; both stay in the log).
CREATE TABLE coverage_populations (
    region     text   NOT NULL,
    year       integer NOT NULL,
    population bigint NOT NULL CHECK (population > 0),
    source     text   NOT NULL,
    PRIMARY KEY (region, year)
);

-- Participations (for the active count): one row per activity and participant, with the activity's
-- team and date as currently recorded (a correction replaces them), and whether it was voided.
CREATE TABLE coverage_participations (
    activity_id  uuid    NOT NULL,
    volunteer_id uuid    NOT NULL,
    team_id      uuid    NOT NULL,
    on_date      date    NOT NULL,
    voided       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (activity_id, volunteer_id)
);
CREATE INDEX coverage_participations_volunteer ON coverage_participations (volunteer_id, on_date);

REVOKE ALL ON projection_checkpoints, projection_parked, coverage_teams, coverage_team_active,
    coverage_memberships, coverage_populations, coverage_participations FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON projection_checkpoints, projection_parked, coverage_teams,
    coverage_team_active, coverage_memberships, coverage_populations, coverage_participations
    TO ledger_service;

-- Read models of #5 beyond coverage: compliance (A3–A6), activity frequency and reach (A13, A17) and the
-- annual-summary board (A16). See crates/projections (compliance.rs, frequency.rs, summary_board.rs).
-- Forward-only; every table here can be dropped and rebuilt from the log (each projector owns its tables
-- and its checkpoint row in projection_checkpoints).
--
-- Read models hold ids, codes, dates, timestamps and counts only: no personal data, nothing decrypted, no
-- free text from events. No floats. Enumerations (activity kind, key day, host-unit kind, summary status)
-- are stored with the domain's persisted names (the serde names of the event payloads, pinned by the
-- domain's golden-JSON tests).

-- ---- compliance (A3, A4, A5, A6) --------------------------------------------------------------------------

-- Host units (依托单位): the A3 relevant departments and the A4 mandatory hosts are chosen among them at
-- query time by the campaign's rules. `kind` is the domain's JSON of HostUnitKind, e.g.
-- "designated_tb_hospital" or {"tb_free_community_pilot":"city"}. `city`/`province` are the code's
-- prefixes (xxxx00, xx0000), as in coverage_teams.
CREATE TABLE compliance_host_units (
    host_unit_id uuid PRIMARY KEY,
    kind         text NOT NULL,
    region       text NOT NULL,
    city         text NOT NULL,
    province     text NOT NULL
);
CREATE INDEX compliance_host_units_city ON compliance_host_units (city);

-- Teams: their host unit and where they count.
CREATE TABLE compliance_teams (
    team_id       uuid PRIMARY KEY,
    host_unit_id  uuid NOT NULL,
    region        text NOT NULL,
    city          text NOT NULL,
    province      text NOT NULL,
    registered_on date NOT NULL
);
CREATE INDEX compliance_teams_host_unit ON compliance_teams (host_unit_id);
CREATE INDEX compliance_teams_region ON compliance_teams (region);
CREATE INDEX compliance_teams_city ON compliance_teams (city);

-- The periods a team is active: [active_from, active_until), active_until NULL while it lasts.
-- Registration and reinstatement open a period; suspension and dissolution close the open one.
CREATE TABLE compliance_team_active (
    team_id      uuid NOT NULL REFERENCES compliance_teams (team_id),
    active_from  date NOT NULL,
    active_until date,
    PRIMARY KEY (team_id, active_from)
);

-- Memberships: [joined_on, left_on), left_on NULL while it lasts.
CREATE TABLE compliance_memberships (
    volunteer_id uuid NOT NULL,
    team_id      uuid NOT NULL,
    joined_on    date NOT NULL,
    left_on      date,
    PRIMARY KEY (volunteer_id, team_id, joined_on)
);
CREATE INDEX compliance_memberships_team ON compliance_memberships (team_id);

-- Activities with their team and date as currently recorded (a correction replaces them) and whether they
-- were voided (a voided activity counts for nothing; the row stays so answers can name it).
CREATE TABLE compliance_activities (
    activity_id uuid    PRIMARY KEY,
    team_id     uuid    NOT NULL,
    on_date     date    NOT NULL,
    voided      boolean NOT NULL DEFAULT false
);
CREATE INDEX compliance_activities_team ON compliance_activities (team_id, on_date);

-- Participants of each activity as currently recorded (a correction replaces the set).
CREATE TABLE compliance_participations (
    activity_id  uuid NOT NULL REFERENCES compliance_activities (activity_id),
    volunteer_id uuid NOT NULL,
    PRIMARY KEY (activity_id, volunteer_id)
);
CREATE INDEX compliance_participations_volunteer ON compliance_participations (volunteer_id);

-- ---- activity frequency and reach (A13, A17) -------------------------------------------------------------

-- Teams: the region an activity counts in is its team's (a team's region never changes).
CREATE TABLE frequency_teams (
    team_id  uuid PRIMARY KEY,
    region   text NOT NULL,
    city     text NOT NULL,
    province text NOT NULL
);
CREATE INDEX frequency_teams_city ON frequency_teams (city);

-- One row per activity with its current figures: a correction replaces them all, a voided activity stays
-- with voided = true and counts for nothing. `month` is the first day of the activity date's month; `kind`
-- and `key_day` are the domain's names (key_day NULL when the activity carries no key-day tag).
-- participations = participants listed, volunteer_minutes = their minutes summed.
CREATE TABLE frequency_activities (
    activity_id           uuid    PRIMARY KEY,
    team_id               uuid    NOT NULL,
    on_date               date    NOT NULL,
    month                 date    NOT NULL,
    kind                  text    NOT NULL,
    key_day               text,
    participations        integer NOT NULL CHECK (participations >= 0),
    volunteer_minutes     bigint  NOT NULL CHECK (volunteer_minutes >= 0),
    people_reached        bigint  NOT NULL CHECK (people_reached >= 0),
    media_pieces          bigint  NOT NULL CHECK (media_pieces >= 0),
    materials_distributed bigint  NOT NULL CHECK (materials_distributed >= 0),
    revision              integer NOT NULL,
    voided                boolean NOT NULL DEFAULT false
);
CREATE INDEX frequency_activities_team ON frequency_activities (team_id, on_date);
CREATE INDEX frequency_activities_date ON frequency_activities (on_date);

-- ---- annual-summary board (A16) --------------------------------------------------------------------------

-- County-level regions with their validity, so the board lists the counties of a city that owe a summary
-- for a year (also those that have not started one).
CREATE TABLE summary_board_counties (
    code       text PRIMARY KEY,
    city       text NOT NULL,
    province   text NOT NULL,
    valid_from date NOT NULL,
    valid_to   date
);
CREATE INDEX summary_board_counties_city ON summary_board_counties (city);

-- One row per drafted summary (county, year): where it is in the workflow (`status`, the domain's
-- SummaryStatus name), and the first submission to the city, the one timeliness is judged on, as the
-- domain recorded it (receipt time, exclusive deadline in force, on_time). `last_event_at` is the
-- receipt time of the latest workflow event.
CREATE TABLE summary_board (
    county              text        NOT NULL,
    year                integer     NOT NULL,
    city                text        NOT NULL,
    status              text        NOT NULL,
    partial_year        boolean     NOT NULL,
    revision            integer     NOT NULL,
    submissions_to_city integer     NOT NULL DEFAULT 0,
    first_submitted_at  timestamptz,
    first_deadline      timestamptz,
    first_on_time       boolean,
    last_submitted_at   timestamptz,
    last_event_at       timestamptz NOT NULL,
    PRIMARY KEY (county, year),
    CHECK ((first_submitted_at IS NULL) = (first_on_time IS NULL))
);
CREATE INDEX summary_board_city_year ON summary_board (city, year);

REVOKE ALL ON compliance_host_units, compliance_teams, compliance_team_active, compliance_memberships,
    compliance_activities, compliance_participations, frequency_teams, frequency_activities,
    summary_board_counties, summary_board FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON compliance_host_units, compliance_teams, compliance_team_active,
    compliance_memberships, compliance_activities, compliance_participations, frequency_teams,
    frequency_activities, summary_board_counties, summary_board TO ledger_service;

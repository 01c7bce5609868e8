-- Releasing parked events (#5, "an operator command to retry or release parked streams"). See
-- crates/projections/src/parked.rs and `ledger-api parked release`. Forward-only.
--
-- When an operator decides that the events parked for a projector on one stream will never apply (say a
-- read-model bug that is fixed by a rebuild instead), `release` deletes them from projection_parked and
-- records each of them here, with the operator's reason, in the same transaction: a parked event is never
-- silently dropped. The row keeps what projection_parked said about the event (its type and the last
-- error); the event itself stays in the log. No personal data: ids, types, error texts of the projector
-- runtime (which never decrypts) and the operator's reason.
--
-- `released_at` is the transaction time, so one release shares it; an event released, re-parked (e.g. by
-- a rebuild) and released again gets a second row.
CREATE TABLE projection_released (
    projector      text        NOT NULL,
    stream_id      text        NOT NULL,
    stream_version bigint      NOT NULL,
    event_type     text        NOT NULL,
    error          text        NOT NULL,
    reason         text        NOT NULL CHECK (btrim(reason) <> ''),
    released_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projector, stream_id, stream_version, released_at)
);

-- The service role reads the record and adds to it (`ledger-api parked release` runs with DATABASE_URL);
-- it can neither change nor delete a release.
REVOKE ALL ON projection_released FROM PUBLIC;
GRANT SELECT, INSERT ON projection_released TO ledger_service;

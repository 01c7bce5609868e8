-- Audit history (#5 read model 5, A20; #6 part 4): one row per event of the log with who did what to
-- which record, when, and the correlation ids — for auditors and the civil-affairs supervisor. See
-- crates/projections/src/audit_history.rs (projector id `audit_history`). Forward-only; the table can be
-- dropped and rebuilt from the log like every read model.
--
-- Ids only, no personal data: the actor is the identity provider's account id (`sub`), the subject is the
-- record's region and team, the stream id names the record. Nothing of the payload is copied (personal
-- fields there are sealed anyway). Every value comes from the event row and its metadata as the command
-- pipeline wrote it (crates/app/src/pipeline.rs); a field the metadata does not carry is NULL.
--
-- `subject_city` / `subject_province` are the subject region's prefixes (xxxx00, xx0000), so a scope of a
-- city or a province covers everything below it (as in the other read models).
CREATE TABLE audit_history (
    tx_id            xid8        NOT NULL,
    position         bigint      NOT NULL,
    stream_id        text        NOT NULL,
    category         text        NOT NULL,
    stream_version   bigint      NOT NULL,
    event_type       text        NOT NULL,
    actor            text,
    role             text,
    command          text,
    correlation_id   text,
    causation_id     text,
    subject_region   text,
    subject_city     text,
    subject_province text,
    subject_team     uuid,
    occurred_at      timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL,
    PRIMARY KEY (tx_id, position)
);

-- The queries page in the global order (tx_id, position) after a cursor, filtered by one of these.
CREATE INDEX audit_history_stream ON audit_history (stream_id, tx_id, position);
CREATE INDEX audit_history_actor ON audit_history (actor, tx_id, position);
CREATE INDEX audit_history_command ON audit_history (command, tx_id, position);
CREATE INDEX audit_history_correlation ON audit_history (correlation_id)
    WHERE correlation_id IS NOT NULL;
CREATE INDEX audit_history_recorded_at ON audit_history (recorded_at);

REVOKE ALL ON audit_history FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON audit_history TO ledger_service;

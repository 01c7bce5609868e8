-- The event log: one append-only table, hash-chained per stream, read in (tx_id, position) order.
-- See docs/adr/0002-event-log.md and docs/adr/0003-hash-chain.md.
--
-- Roles: this migration runs as the owner (MIGRATION_DATABASE_URL). The service connects as a login role
-- that is a member of the NOLOGIN group `ledger_service`, which may INSERT and SELECT the log and nothing
-- more. deploy/pg-private creates the group; on a managed server create it before migrating.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledger_service') THEN
        CREATE ROLE ledger_service NOLOGIN;
    END IF;
END
$$;

CREATE TABLE events (
    -- Unique by construction (identity); not indexed on its own: nothing looks an event up by position
    -- alone, and every index costs each append (measured, docs/BENCHMARKS.md).
    position       bigint GENERATED ALWAYS AS IDENTITY,
    -- The appending transaction's id: the global order is (tx_id, position), read below the
    -- pg_snapshot_xmin fence, so a reader never skips an event that commits late.
    tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_id      text        NOT NULL,
    stream_version bigint      NOT NULL,
    event_type     text        NOT NULL,
    schema_version integer     NOT NULL,
    -- json, not jsonb: the hash covers the exact bytes, and jsonb rewrites them.
    payload        json        NOT NULL,
    metadata       json        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    prev_hash      bytea       NOT NULL,
    hash           bytea       NOT NULL,
    -- The global order is the primary key.
    CONSTRAINT events_pkey PRIMARY KEY (tx_id, position),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_stream_version_positive CHECK (stream_version >= 1),
    CONSTRAINT events_schema_version_positive CHECK (schema_version >= 1),
    CONSTRAINT events_hash_length CHECK (octet_length(hash) = 32 AND octet_length(prev_hash) = 32)
);

-- Immutability for everyone, the owner included (the owner may disable the trigger; auditors' verify
-- then names every altered row).
CREATE FUNCTION events_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'VL001';
END
$$;

CREATE TRIGGER events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_reject_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();

-- Idempotency: one row per (principal, key), written in the same statement as the events it produced.
-- Mutable (expired keys are purged), so it lives outside the log.
CREATE TABLE idempotency_keys (
    principal           text        NOT NULL,
    idempotency_key     text        NOT NULL,
    request_fingerprint bytea       NOT NULL,
    stream_id           text        NOT NULL,
    first_version       bigint      NOT NULL,
    last_version        bigint      NOT NULL,
    created_at          timestamptz NOT NULL,
    PRIMARY KEY (principal, idempotency_key)
);

-- BRIN, not btree: rows arrive in created_at order, the purge needs only ranges, and a BRIN index costs
-- almost nothing per insert (measured: the idempotency row is the second largest cost of an append).
CREATE INDEX idempotency_keys_created_at ON idempotency_keys USING brin (created_at);

-- Uniqueness across streams (one registration per person, unique certificate numbers, …), claimed in the
-- same statement as the append. Mutable: erasing a person deletes their claim.
CREATE TABLE claims (
    scope      text        NOT NULL,
    claim_key  text        NOT NULL,
    stream_id  text        NOT NULL,
    claimed_at timestamptz NOT NULL,
    PRIMARY KEY (scope, claim_key)
);

REVOKE ALL ON events, idempotency_keys, claims FROM PUBLIC;
GRANT SELECT, INSERT ON events TO ledger_service;
GRANT SELECT, INSERT, DELETE ON idempotency_keys, claims TO ledger_service;

-- Readiness compares the applied migrations with the ones the binary embeds.
GRANT SELECT ON _sqlx_migrations TO ledger_service;

-- The notary's signed checkpoints (#6; docs/adr/0008-notary-checkpoints.md). Forward-only.
--
-- Each row seals the log up to one event in the global order: `digest` is the running global digest of
-- every event hash folded in (tx_id, position) order from the start of the log, `event_count` how many
-- events that is, `(tx_id, position)` the last of them. Rows chain (`prev_hash` = the previous row's
-- `hash`, 32 zero bytes for sequence 1) and each is signed with the notary's Ed25519 key, which never
-- enters the database; `key_id` names the key (first 8 bytes of SHA-256 of the public key, hex).
--
-- Append-only like the log: the service role may INSERT and SELECT; the trigger refuses UPDATE, DELETE
-- and TRUNCATE for everyone (the owner may disable it — `ledger-audit verify` then names what changed,
-- against a checkpoint exported outside the database as its trust anchor).
CREATE TABLE notary_checkpoints (
    sequence    bigint      PRIMARY KEY CHECK (sequence >= 1),
    prev_hash   bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    tx_id       xid8        NOT NULL,
    position    bigint      NOT NULL,
    event_count bigint      NOT NULL CHECK (event_count >= 1),
    digest      bytea       NOT NULL CHECK (octet_length(digest) = 32),
    signed_at   timestamptz NOT NULL,
    key_id      text        NOT NULL,
    signature   bytea       NOT NULL CHECK (octet_length(signature) = 64),
    hash        bytea       NOT NULL CHECK (octet_length(hash) = 32)
);

-- "The notary's fence at time T" (replay --as-of <timestamp>) is the newest checkpoint signed at or
-- before T.
CREATE INDEX notary_checkpoints_signed_at ON notary_checkpoints (signed_at);

CREATE TRIGGER notary_checkpoints_no_update_or_delete
    BEFORE UPDATE OR DELETE ON notary_checkpoints
    FOR EACH ROW EXECUTE FUNCTION events_reject_change();

CREATE TRIGGER notary_checkpoints_no_truncate
    BEFORE TRUNCATE ON notary_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();

REVOKE ALL ON notary_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT ON notary_checkpoints TO ledger_service;

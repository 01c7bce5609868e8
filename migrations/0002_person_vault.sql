-- Per-person data keys (crypto-shredding). Each subject's key is wrapped by a master key that lives
-- outside the database (configuration). Erasure deletes the row: every sealed value of that subject in
-- the log becomes unreadable, while the events, their hashes and the statistics stay intact.
CREATE TABLE person_keys (
    subject     text        PRIMARY KEY,
    wrapped_key bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- What was erased and when (no personal data): distinguishes "erased" from "never had a key".
CREATE TABLE person_erasures (
    subject   text        PRIMARY KEY,
    erased_at timestamptz NOT NULL
);

REVOKE ALL ON person_keys, person_erasures FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON person_keys TO ledger_service;
GRANT SELECT, INSERT ON person_erasures TO ledger_service;

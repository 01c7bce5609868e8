//! Every statement of the event store, as constants (binds only, never string-built values).

/// One autocommit statement: chains the new events to the stream head (`sha256(prev_hash || digest)`),
/// inserts them (the unique key `(stream_id, stream_version)` checks the expected version; a missing head
/// row inserts nothing, which is how contiguity is checked), records the idempotency key and takes the
/// uniqueness claims. Any unique violation rolls the whole statement back.
///
/// Binds: $1 stream_id, $2 base version (0 = new stream), $3 event_type[], $4 schema_version[],
/// $5 payload[] (JSON text), $6 metadata[] (JSON text), $7 occurred_at[], $8 digest[], $9 recorded_at,
/// $10 principal, $11 idempotency_key, $12 fingerprint, $13 claim scope[], $14 claim key[].
pub const APPEND: &str = r"
WITH RECURSIVE
input AS (
    SELECT t.ord, t.event_type, t.schema_version, t.payload, t.metadata, t.occurred_at, t.digest
    FROM unnest($3::text[], $4::int4[], $5::text[], $6::text[], $7::timestamptz[], $8::bytea[])
         WITH ORDINALITY AS t(event_type, schema_version, payload, metadata, occurred_at, digest, ord)
),
head AS MATERIALIZED (
    SELECT CASE WHEN $2::bigint = 0
                THEN '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
                ELSE (SELECT e.hash FROM events e WHERE e.stream_id = $1 AND e.stream_version = $2::bigint)
           END AS hash
),
chain (ord, prev_hash, hash) AS (
    SELECT i.ord, h.hash, sha256(h.hash || i.digest)
    FROM input i CROSS JOIN head h
    WHERE i.ord = 1 AND h.hash IS NOT NULL
    UNION ALL
    SELECT i.ord, c.hash, sha256(c.hash || i.digest)
    FROM chain c JOIN input i ON i.ord = c.ord + 1
),
appended AS (
    INSERT INTO events (stream_id, stream_version, event_type, schema_version, payload, metadata,
                        occurred_at, recorded_at, prev_hash, hash)
    SELECT $1, $2::bigint + i.ord, i.event_type, i.schema_version, i.payload::json, i.metadata::json,
           i.occurred_at, $9, c.prev_hash, c.hash
    FROM input i JOIN chain c ON c.ord = i.ord
    ORDER BY i.ord
    RETURNING position, tx_id, stream_version
),
remembered AS (
    INSERT INTO idempotency_keys (principal, idempotency_key, request_fingerprint, stream_id,
                                  first_version, last_version, created_at)
    SELECT $10, $11, $12, $1, $2::bigint + 1, $2::bigint + cardinality($3::text[]), $9
    WHERE EXISTS (SELECT FROM appended)
),
claimed AS (
    INSERT INTO claims (scope, claim_key, stream_id, claimed_at)
    SELECT c.scope, c.claim_key, $1, $9
    FROM unnest($13::text[], $14::text[]) AS c(scope, claim_key)
    WHERE EXISTS (SELECT FROM appended)
)
SELECT a.position, a.tx_id::text AS tx_text, a.stream_version
FROM appended a
ORDER BY a.stream_version";

/// The one-event append without claims, the common case: the same guarantees as [`APPEND`] with a plan
/// of one index probe for the head and two inserts (measured +44% commands/s over [`APPEND`] at 32 in
/// flight, docs/BENCHMARKS.md).
///
/// Binds: $1 stream_id, $2 base version, $3 event_type, $4 schema_version, $5 payload, $6 metadata,
/// $7 occurred_at, $8 digest, $9 recorded_at, $10 principal, $11 idempotency_key, $12 fingerprint.
pub const APPEND_ONE: &str = r"
WITH appended AS (
    INSERT INTO events (stream_id, stream_version, event_type, schema_version, payload, metadata,
                        occurred_at, recorded_at, prev_hash, hash)
    SELECT $1, $2::bigint + 1, $3, $4, $5::json, $6::json, $7, $9, h.hash, sha256(h.hash || $8::bytea)
    FROM (
        SELECT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea AS hash
        WHERE $2::bigint = 0
        UNION ALL
        SELECT e.hash FROM events e
        WHERE $2::bigint > 0 AND e.stream_id = $1 AND e.stream_version = $2::bigint
    ) h
    RETURNING position, tx_id, stream_version
),
remembered AS (
    INSERT INTO idempotency_keys (principal, idempotency_key, request_fingerprint, stream_id,
                                  first_version, last_version, created_at)
    SELECT $10, $11, $12, $1, $2::bigint + 1, $2::bigint + 1, $9
    WHERE EXISTS (SELECT FROM appended)
)
SELECT a.position, a.tx_id::text AS tx_text, a.stream_version
FROM appended a";

/// The claims table's unique key: a violation of it means a claim is taken.
pub const CLAIMS_KEY: &str = "claims_pkey";

pub const CURRENT_VERSION: &str =
    "SELECT coalesce(max(stream_version), 0) AS version FROM events WHERE stream_id = $1";

pub const FIND_IDEMPOTENCY: &str =
    "SELECT request_fingerprint, stream_id, first_version, last_version
FROM idempotency_keys WHERE principal = $1 AND idempotency_key = $2";

pub const TOKENS_OF_VERSIONS: &str =
    "SELECT position, tx_id::text AS tx_text, stream_version FROM events
WHERE stream_id = $1 AND stream_version BETWEEN $2 AND $3 ORDER BY stream_version";

pub const FIND_CLAIMS: &str = "SELECT c.scope, c.stream_id FROM claims c
JOIN unnest($1::text[], $2::text[]) AS w(scope, claim_key) ON c.scope = w.scope AND c.claim_key = w.claim_key";

pub const PURGE_IDEMPOTENCY: &str = "DELETE FROM idempotency_keys WHERE created_at < $1";

pub const CLAIM_HOLDER: &str = "SELECT stream_id FROM claims WHERE scope = $1 AND claim_key = $2";

pub const RELEASE_CLAIMS_OF_STREAM: &str = "DELETE FROM claims WHERE scope = $1 AND stream_id = $2";

pub const RELEASE_CLAIM: &str = "DELETE FROM claims WHERE scope = $1 AND claim_key = $2";

/// Binds: $1 stream_id, $2 after version, $3 limit.
pub const READ_STREAM: &str = "SELECT position, tx_id::text AS tx_text, stream_id, stream_version, event_type,
schema_version, payload::text AS payload, metadata::text AS metadata, occurred_at, recorded_at, prev_hash, hash
FROM events WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version LIMIT $3";

/// Binds: $1 stream ids (text[]). For loading the facts of a command from several streams at once.
pub const READ_STREAMS: &str = "SELECT position, tx_id::text AS tx_text, stream_id, stream_version, event_type,
schema_version, payload::text AS payload, metadata::text AS metadata, occurred_at, recorded_at, prev_hash, hash
FROM events WHERE stream_id = ANY($1) ORDER BY stream_id, stream_version";

/// Binds: $1 tx_id (text), $2 position, $3 limit. Only rows below the fence: no transaction with a
/// smaller xid can still commit, so nothing below it can appear later.
pub const READ_ALL: &str = "SELECT position, tx_id::text AS tx_text, stream_id, stream_version, event_type,
schema_version, payload::text AS payload, metadata::text AS metadata, occurred_at, recorded_at, prev_hash, hash
FROM events
WHERE (tx_id, position) > ($1::text::xid8, $2::bigint)
  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY tx_id, position
LIMIT $3";

/// Binds: $1 tx_id (text), $2 position, $3 limit. Every committed row in `(tx_id, position)` order with
/// its stream predecessor's hash. Not bounded by the fence: verification must check every row that is
/// committed, and a long transaction elsewhere in the cluster must not hide rows from it (it did: a
/// verification reported "no mismatch" for rows it never read).
pub const READ_ALL_WITH_PREDECESSOR: &str = "SELECT e.position, e.tx_id::text AS tx_text, e.stream_id,
e.stream_version, e.event_type, e.schema_version, e.payload::text AS payload, e.metadata::text AS metadata,
e.occurred_at, e.recorded_at, e.prev_hash, e.hash, p.hash AS predecessor_hash
FROM events e
LEFT JOIN events p ON p.stream_id = e.stream_id AND p.stream_version = e.stream_version - 1
WHERE (e.tx_id, e.position) > ($1::text::xid8, $2::bigint)
ORDER BY e.tx_id, e.position
LIMIT $3";

pub const FENCE: &str = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS fence";

pub const NOTIFY: &str = "SELECT pg_notify($1, $2)";

/// Server-side TCP keepalives of a leader's lock connection (`EventStore::leader_connection`).
pub const KEEPALIVES: &str = "SELECT set_config('tcp_keepalives_idle', '10', false),
set_config('tcp_keepalives_interval', '5', false), set_config('tcp_keepalives_count', '3', false)";

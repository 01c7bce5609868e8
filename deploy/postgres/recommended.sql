-- Recommended PostgreSQL settings for Volunteer Ledger (run as a superuser or the database owner;
-- adjust names). See docs/SCALING.md for why each matters.

-- The service's login role: a member of the NOLOGIN group the migrations grant to (INSERT/SELECT on the
-- log, nothing more).
--   CREATE ROLE ledger_app LOGIN PASSWORD '…' IN ROLE ledger_service;

-- A transaction left open by a crashed or stuck client holds the global-order fence
-- (pg_snapshot_xmin): every reader of the log — projectors, subscriptions, the notary — waits behind
-- it. The service never idles inside a transaction; end any session that does.
ALTER ROLE ledger_app SET idle_in_transaction_session_timeout = '10s';
-- No statement of the service runs long; a runaway one should not hold the fence either.
ALTER ROLE ledger_app SET statement_timeout = '30s';
ALTER ROLE ledger_app SET lock_timeout = '5s';
-- Times are stored and hashed in UTC; make ad-hoc sessions agree.
ALTER ROLE ledger_app SET timezone = 'UTC';

-- Server settings (postgresql.conf or ALTER SYSTEM; most need a reload, wal_level a restart):
--   synchronous_commit = on            -- an acknowledged write survives a crash (never turn off)
--   fsync = on, full_page_writes = on
--   wal_level = replica                -- streaming replicas and PITR
--   max_wal_senders = 10, wal_keep_size = '2GB'
--   archive_mode = on, archive_command = '…'   -- point-in-time recovery; see "erasure" below
--   tcp_keepalives_idle = 10, tcp_keepalives_interval = 5, tcp_keepalives_count = 3
--                                       -- a dead node's advisory locks (projector/notary leaders)
--                                       -- are released in ~25 s, not after the kernel's 2 hours
--   idle_session_timeout = 0            -- the leaders' lock connections idle by design
--   track_commit_timestamp = off        -- not used
--
-- Erasure and backups: destroying a person's data key (EraseVolunteer) makes the person unreadable in
-- the live database at once; base backups and archived WAL taken before still hold the wrapped key
-- until they expire. Keep backup retention within the period the privacy notice promises.

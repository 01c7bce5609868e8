//! # schema — the embedded migrations in `migrations/`
//!
//! Policy: migrations are forward-only and each stays backward compatible with the code that runs while
//! it is applied — except a change of a read model's shape, which says so in its header (the old
//! version's projectors are stopped first; they would fail loudly, never write a wrong answer). They run as the owner role (`MIGRATION_DATABASE_URL`), never as the service role. The
//! NOLOGIN group `ledger_service` receives the service's privileges; the service logs in as a member of
//! it. Nothing else in the workspace embeds SQL DDL.

/// Every migration, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// The group role the service's login role must be a member of.
pub const SERVICE_ROLE: &str = "ledger_service";

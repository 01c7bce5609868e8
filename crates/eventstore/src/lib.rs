//! # eventstore — the Postgres event log
//!
//! Policy of this crate (the invariants are tested in `tests/it/eventstore_*.rs`):
//! - **Never loses an acknowledged write.** An append is one autocommit statement; success is returned only
//!   after Postgres committed it.
//! - **Never skips an event.** The global order is `(tx_id, position)`, read only below the
//!   `pg_snapshot_xmin(pg_current_snapshot())` fence ([`Token`]). Within a stream, tx_id order equals
//!   version order, because the version-checked insert is the first write of every append (there is only
//!   one statement, and its snapshot precedes all its writes).
//! - **Never rewrites an event.** The service role may INSERT and SELECT the log only; a trigger rejects
//!   UPDATE/DELETE/TRUNCATE for everyone; each event is hash-chained to its stream predecessor
//!   ([`hash`]) and [`verify`] names the first row that does not match.
//! - **Idempotent.** Every append carries a [`CommandIdentity`]: the same key again returns the original
//!   result without writing; the same key with a different request fingerprint is an error.
//! - **No NOTIFY inside the append** (Postgres serialises notifying commits on one lock). Subscribers are
//!   woken in-process and by a separate, debounced notifier ([`subscribe`]), with polling as a fallback.
//!
//! This crate knows nothing of the domain: payloads and metadata are JSON text it stores byte-exactly.

mod append;
pub mod clock;
mod error;
pub mod hash;
mod model;
mod read;
mod sql;
mod store;
pub mod subscribe;
mod token;
pub mod verify;

pub use clock::{Clock, SystemClock};
pub use error::{AppendError, StoreError};
pub use model::{
    AppendOutcome, AppendRequest, AppendResult, Claim, CommandIdentity, ExpectedVersion, NewEvent,
    RecordedEvent,
};
pub use store::{EventStore, StoreConfig};
pub use subscribe::Subscription;
pub use token::Token;

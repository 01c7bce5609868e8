//! # audit — what an auditor runs to prove the history was never altered
//!
//! [`verify()`] checks the log in the database; [`bundle::export`] writes a bundle and
//! [`bundle::verify`] checks one offline. Both run the same checks in one pass over the events in the
//! global order `(tx_id, position)`, with the last `(version, hash)` of every stream in memory and the
//! notary's running global digest (`notary::fold`):
//!
//! - **every event**: its stream's versions are contiguous (a gap is a removed event; a version at or
//!   below one already seen is a reordering), its `prev_hash` is its predecessor's hash (32 zero bytes
//!   for version 1), and its hash is `SHA-256(prev_hash ‖ digest of the row)` (`docs/adr/0003`);
//! - **every checkpoint** (`docs/adr/0008`): sequences contiguous from 1, each chained to the previous,
//!   its hash matching its fields, signed by the auditor's public key (another key id is a failure), its
//!   token and count increasing; when the fold reaches its token, the count and the global digest must
//!   equal what it signed. This is what catches a truncated stream tail, a deleted event and a stream
//!   re-chained by someone without the signing key; a checkpoint whose last event is gone is never
//!   reached, which is a failure too;
//! - **the anchor** (optional): a checkpoint exported earlier and kept outside the database must verify
//!   and be present, identical, so deleting the newest checkpoints shows;
//! - events after the newest checkpoint are reported as not yet covered (not a failure).
//!
//! Policy of this crate: it never writes to the database (one read-only REPEATABLE READ snapshot per
//! run); a check that ran and found something is a [`Failure`] in the [`Report`] (the first one, named
//! by stream, version and token, or by checkpoint sequence and interval), while [`AuditError`] means
//! the check could not run; no event content (payload or metadata) appears in any report or error.

mod check;
mod error;
mod report;

pub mod bundle;
pub mod verify;

pub use error::AuditError;
pub use report::{CheckpointSummary, Failure, Report, Uncovered};
pub use verify::{Progress, Scan, VerifyOptions, scan, verify};

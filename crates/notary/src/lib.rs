//! # notary — signed checkpoints of the whole log
//!
//! The per-stream hash chain (`eventstore::hash`) proves that each stream is intact up to its head, but
//! not that a head was not cut off, nor that someone with write access did not re-chain a stream. The
//! notary closes that gap (`docs/adr/0008-notary-checkpoints.md`).
//!
//! Policy of this crate:
//! - **One fold, one order.** The global digest folds every event's stored `hash` together with its
//!   `(tx_id, position)` in the gap-free global order ([`format::fold`]), from 32 zero bytes. The same
//!   function is used by the notary that signs and by the auditor that checks.
//! - **Checkpoints are signed and chained.** Each [`Checkpoint`] carries its sequence, the previous
//!   checkpoint's hash, the last covered event's token, the count of covered events and the digest, and
//!   is signed with Ed25519 over its canonical bytes ([`format`]). The private key is read from a file and
//!   never enters the database or a log line.
//! - **One notary at a time.** The [`runner`] holds a session advisory lock on a dedicated connection; a
//!   checkpoint row is inserted with the next sequence only if that sequence is still free, so a stale
//!   leader writes nothing.
//! - **It signs only what verifies.** Before folding an event the notary recomputes the event's own hash
//!   from its row; a row that does not match stops the notary (it never signs over a tampered row).
//! - SQL lives in constants with binds only.

pub mod format;
pub mod keys;
pub mod runner;
pub mod store;

mod error;

pub use error::NotaryError;
pub use format::{Checkpoint, ExportedCheckpoint, GENESIS_DIGEST, fold};
pub use keys::{Keyring, NotaryKey, PublicKey};
pub use runner::{Notary, NotaryConfig, NotaryProgress};

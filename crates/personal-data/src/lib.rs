//! # Personal data: per-person encryption (crypto-shredding), keyed hashes and masking
//!
//! Pure cryptography: no I/O, no database, no async. PIPL requires that personal data (names, ID
//! numbers, phones, health data) never sits in plaintext in the immutable event log, and that a deletion
//! request makes it unreadable while statistics survive. This crate is how.
//!
//! ## Policy
//! - **What is encrypted with what.** Every person ("subject", e.g. `"volunteer-<uuid>"`) has a
//!   [`DataKey`]: 32 random bytes from the operating system. Each personal value is sealed with it by
//!   AES-256-GCM under a fresh random 96-bit nonce ([`seal`], [`seal_record`]); the result, a
//!   [`SealedValue`], travels in events as text `pd1.<base64url-no-pad(nonce ‖ ciphertext ‖ tag)>`. The
//!   data key itself is never stored in plaintext: the [`MasterKey`] (from configuration, outside the
//!   database) wraps it with AES-256-GCM into a [`WrappedDataKey`] (62 bytes:
//!   `format 0x01 ‖ master-key version ‖ nonce ‖ encrypted key ‖ tag`) kept in a mutable key-store table.
//! - **What the associated data binds.** A seal binds a domain label, the format version, the subject
//!   and the *purpose* (the field, e.g. `"volunteer.personal"`), each length-framed: a ciphertext cannot
//!   be moved to another person or another field, nor opened under another key. A wrapping binds a domain
//!   label, the format version, the master-key version and the subject: a wrapped key cannot be
//!   re-assigned to another person, and the version byte cannot be altered.
//! - **What erasure means.** Destroying a subject's wrapped data key (deleting its key-store row) makes
//!   every `SealedValue` of that subject unreadable forever, while the events themselves — and the hash
//!   chain over their ciphertext — stay intact, and dates, hours and counts stay readable. Copies of the
//!   wrapped key in backups and WAL remain readable with the master key until they expire; that retention
//!   window is the operator's to document and bound.
//! - **Keyed hashes.** [`KeyedHasher`] (HMAC-SHA256, secret distinct from the master key) gives
//!   de-duplication keys of ID numbers and fingerprints of plaintext commands, with domain separation by
//!   label. A de-duplication key is as sensitive as the number (only ~10¹¹ values): keep it in a mutable
//!   table that erasure deletes, never in events or read models.
//! - **Masking** ([`mask_name`], [`mask_phone`], [`mask_id_number`]) is the default for display.
//! - **Hygiene.** Keys and records are wiped on drop and print `[redacted]` under `Debug`; opened
//!   plaintext is returned in [`zeroize::Zeroizing`] buffers; [`Error`]'s messages never contain
//!   plaintext, key material, or the text that failed to parse. The internal states of the AES and HMAC
//!   implementations are not wiped (their `zeroize` features are not enabled in the workspace).

mod aead;
mod error;
mod hasher;
mod keys;
mod mask;
mod record;
mod seal;
mod secret;

#[cfg(test)]
mod tests;

pub use error::{Error, KeyEncoding, KeyRole, RecordProblem};
pub use hasher::{DEDUP_ID_NUMBER_LABEL, KeyedHasher};
pub use keys::{DataKey, MasterKey, WRAPPED_KEY_FORMAT, WRAPPED_KEY_LEN, WrappedDataKey};
pub use mask::{mask_id_number, mask_name, mask_phone};
pub use record::{PersonalRecord, open_record, seal_record};
pub use seal::{SEALED_PREFIX, SealedValue, open, seal};
pub use secret::KEY_LEN;
pub use zeroize::Zeroizing;

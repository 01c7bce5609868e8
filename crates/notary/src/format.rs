//! The global digest and the checkpoint format (specified in `docs/adr/0008-notary-checkpoints.md`).
//!
//! **Global digest.** `G₀` = 32 zero bytes; for the n-th event of the log in `(tx_id, position)` order,
//! `Gₙ = SHA-256("vledger/global/v1\n" ‖ Gₙ₋₁ ‖ tx_id u64 BE ‖ position i64 BE ‖ hash)` where `hash` is
//! the event's stored per-stream chain hash (which covers its content and its stream predecessor).
//! `tx_id` and `position` are assigned by the database, so only this digest covers them.
//!
//! **Checkpoint.** Canonical bytes, in order (big-endian integers; `len` = u32 byte length):
//!
//! | # | field | encoding |
//! |---|---|---|
//! | 1 | domain tag | ASCII `vledger/checkpoint/v1\n` (22 bytes) |
//! | 2 | sequence | u64 (1, 2, 3, …) |
//! | 3 | prev_hash | 32 bytes: the previous checkpoint's `hash`, zeros for sequence 1 |
//! | 4 | tx_id | u64, of the last covered event |
//! | 5 | position | i64, of the last covered event |
//! | 6 | event_count | u64, events covered from the start of the log |
//! | 7 | digest | 32 bytes: `G[event_count]` |
//! | 8 | signed_at | i64 microseconds since the Unix epoch, UTC |
//! | 9 | key_id | len, ASCII hex |
//!
//! `hash = SHA-256(canonical bytes)`; `signature = Ed25519(canonical bytes)`. The exported form
//! ([`ExportedCheckpoint`]) is JSON with hex byte strings, so it can be kept outside the database and
//! handed to `ledger-audit verify --anchor`.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use eventstore::Token;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::NotaryError;

/// The global digest before the first event.
pub const GENESIS_DIGEST: [u8; 32] = [0; 32];

const GLOBAL_TAG: &[u8] = b"vledger/global/v1\n";
const CHECKPOINT_TAG: &[u8] = b"vledger/checkpoint/v1\n";

/// The name of this layout in exported documents.
pub const FORMAT: &str = "vledger/checkpoint/v1";

/// Fold one event (its token and stored chain hash) into the running global digest.
pub fn fold(previous: &[u8; 32], token: Token, event_hash: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(GLOBAL_TAG);
    h.update(previous);
    h.update(token.tx_id.to_be_bytes());
    h.update(token.position.to_be_bytes());
    h.update(event_hash);
    h.finalize().into()
}

/// A signed statement: "the log, up to `token`, has `event_count` events whose global digest is
/// `digest`", chained to the previous checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub sequence: u64,
    pub prev_hash: [u8; 32],
    /// The last event covered.
    pub token: Token,
    pub event_count: u64,
    pub digest: [u8; 32],
    /// Truncated to microseconds (what Postgres stores, and what is signed).
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
    pub signature: [u8; 64],
    pub hash: [u8; 32],
}

/// The fields of a checkpoint before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned {
    pub sequence: u64,
    pub prev_hash: [u8; 32],
    pub token: Token,
    pub event_count: u64,
    pub digest: [u8; 32],
    pub signed_at_micros: i64,
    pub key_id: String,
}

impl Unsigned {
    /// The canonical bytes: what is hashed and signed.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(CHECKPOINT_TAG.len() + 8 + 32 + 8 + 8 + 8 + 32 + 8 + 4 + 16);
        out.extend_from_slice(CHECKPOINT_TAG);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(&self.token.tx_id.to_be_bytes());
        out.extend_from_slice(&self.token.position.to_be_bytes());
        out.extend_from_slice(&self.event_count.to_be_bytes());
        out.extend_from_slice(&self.digest);
        out.extend_from_slice(&self.signed_at_micros.to_be_bytes());
        let key_id = self.key_id.as_bytes();
        // key ids are 16 hex characters; the length always fits.
        let len = u32::try_from(key_id.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(key_id);
        out
    }

    /// `SHA-256(canonical bytes)`.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_bytes()).into()
    }
}

impl Checkpoint {
    /// The signed fields, to recompute the canonical bytes and the hash.
    pub fn unsigned(&self) -> Unsigned {
        Unsigned {
            sequence: self.sequence,
            prev_hash: self.prev_hash,
            token: self.token,
            event_count: self.event_count,
            digest: self.digest,
            signed_at_micros: self.signed_at.timestamp_micros(),
            key_id: self.key_id.clone(),
        }
    }

    /// Whether `hash` is the hash of the other fields (a signature check is separate:
    /// [`crate::PublicKey::verify`]).
    pub fn hash_matches(&self) -> bool {
        self.unsigned().hash() == self.hash
    }

    /// The portable JSON form.
    pub fn export(&self) -> ExportedCheckpoint {
        ExportedCheckpoint {
            format: FORMAT.to_owned(),
            sequence: self.sequence,
            prev_hash: hex::encode(self.prev_hash),
            token: self.token.to_string(),
            tx_id: self.token.tx_id,
            position: self.token.position,
            event_count: self.event_count,
            digest: hex::encode(self.digest),
            signed_at: self.signed_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            key_id: self.key_id.clone(),
            signature: hex::encode(self.signature),
            hash: hex::encode(self.hash),
        }
    }
}

/// A checkpoint as JSON, for keeping outside the database (the auditor's trust anchor) and for bundles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedCheckpoint {
    /// Always [`FORMAT`].
    pub format: String,
    pub sequence: u64,
    pub prev_hash: String,
    /// `tx_id.position`, the opaque token the APIs use.
    pub token: String,
    pub tx_id: u64,
    pub position: i64,
    pub event_count: u64,
    pub digest: String,
    /// RFC 3339, UTC, microseconds.
    pub signed_at: String,
    pub key_id: String,
    pub signature: String,
    pub hash: String,
}

fn bytes<const N: usize>(field: &str, text: &str) -> Result<[u8; N], NotaryError> {
    let raw = hex::decode(text)
        .map_err(|_| NotaryError::Document(format!("{field} is not hexadecimal")))?;
    raw.try_into()
        .map_err(|_| NotaryError::Document(format!("{field} is not {N} bytes")))
}

impl TryFrom<&ExportedCheckpoint> for Checkpoint {
    type Error = NotaryError;

    /// Parse and check self-consistency: format, the token matching `tx_id`/`position`, lengths, and the
    /// hash. The signature is checked against a key separately.
    fn try_from(e: &ExportedCheckpoint) -> Result<Self, NotaryError> {
        if e.format != FORMAT {
            return Err(NotaryError::Document(format!(
                "format is {:?}, expected {FORMAT:?}",
                e.format
            )));
        }
        let token = Token {
            tx_id: e.tx_id,
            position: e.position,
        };
        if e.token != token.to_string() {
            return Err(NotaryError::Document(format!(
                "token {:?} does not match tx_id {} and position {}",
                e.token, e.tx_id, e.position
            )));
        }
        let signed_at = DateTime::parse_from_rfc3339(&e.signed_at)
            .map_err(|_| NotaryError::Document("signed_at is not RFC 3339".to_owned()))?
            .with_timezone(&Utc);
        let checkpoint = Checkpoint {
            sequence: e.sequence,
            prev_hash: bytes("prev_hash", &e.prev_hash)?,
            token,
            event_count: e.event_count,
            digest: bytes("digest", &e.digest)?,
            signed_at,
            key_id: e.key_id.clone(),
            signature: bytes("signature", &e.signature)?,
            hash: bytes("hash", &e.hash)?,
        };
        if !checkpoint.hash_matches() {
            return Err(NotaryError::Document(format!(
                "checkpoint {}: hash does not match its fields",
                e.sequence
            )));
        }
        Ok(checkpoint)
    }
}

/// Microseconds since the epoch as a UTC time (checkpoint times are stored and signed in microseconds).
pub fn micros_to_time(micros: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_micros(micros).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsigned() -> Unsigned {
        Unsigned {
            sequence: 3,
            prev_hash: [7; 32],
            token: Token {
                tx_id: 900,
                position: 41,
            },
            event_count: 40,
            digest: [9; 32],
            signed_at_micros: 1_763_942_400_000_001,
            key_id: "00112233aabbccdd".to_owned(),
        }
    }

    #[test]
    fn fold_covers_order_token_and_hash() {
        let t = Token {
            tx_id: 5,
            position: 2,
        };
        let base = fold(&GENESIS_DIGEST, t, &[1; 32]);
        assert_ne!(fold(&[1; 32], t, &[1; 32]), base, "previous digest");
        assert_ne!(
            fold(&GENESIS_DIGEST, Token { tx_id: 6, ..t }, &[1; 32]),
            base,
            "tx_id"
        );
        assert_ne!(
            fold(&GENESIS_DIGEST, Token { position: 3, ..t }, &[1; 32]),
            base,
            "position"
        );
        assert_ne!(fold(&GENESIS_DIGEST, t, &[2; 32]), base, "event hash");
        // Order matters: a then b differs from b then a.
        let (a, b) = (
            (t, [1u8; 32]),
            (
                Token {
                    tx_id: 6,
                    position: 1,
                },
                [2u8; 32],
            ),
        );
        let ab = fold(&fold(&GENESIS_DIGEST, a.0, &a.1), b.0, &b.1);
        let ba = fold(&fold(&GENESIS_DIGEST, b.0, &b.1), a.0, &a.1);
        assert_ne!(ab, ba);
    }

    #[test]
    fn checkpoint_hash_changes_with_every_signed_field() {
        let base = unsigned().hash();
        let variants = [
            Unsigned {
                sequence: 4,
                ..unsigned()
            },
            Unsigned {
                prev_hash: [8; 32],
                ..unsigned()
            },
            Unsigned {
                token: Token {
                    tx_id: 901,
                    position: 41,
                },
                ..unsigned()
            },
            Unsigned {
                token: Token {
                    tx_id: 900,
                    position: 42,
                },
                ..unsigned()
            },
            Unsigned {
                event_count: 41,
                ..unsigned()
            },
            Unsigned {
                digest: [0; 32],
                ..unsigned()
            },
            Unsigned {
                signed_at_micros: 1,
                ..unsigned()
            },
            Unsigned {
                key_id: "00112233aabbccde".to_owned(),
                ..unsigned()
            },
        ];
        for v in variants {
            assert_ne!(v.hash(), base, "{v:?} hashed like the original");
        }
    }

    #[test]
    fn canonical_bytes_start_with_the_tag_and_have_the_documented_length() {
        let bytes = unsigned().canonical_bytes();
        assert!(bytes.starts_with(b"vledger/checkpoint/v1\n"));
        assert_eq!(bytes.len(), 22 + 8 + 32 + 8 + 8 + 8 + 32 + 8 + 4 + 16);
    }
}

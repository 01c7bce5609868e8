//! The per-stream hash chain (specified in `docs/adr/0003-hash-chain.md`).
//!
//! `digest = SHA-256(canonical bytes of the event)`; `hash = SHA-256(prev_hash ‖ digest)`, with
//! `prev_hash` = 32 zero bytes for version 1. The canonical bytes are, in order:
//!
//! | field | encoding |
//! |---|---|
//! | domain tag | the 17 ASCII bytes `vledger/event/v1\n` |
//! | stream_id | u32 big-endian byte length, UTF-8 bytes |
//! | stream_version | u64 big-endian |
//! | event_type | u32 BE length, UTF-8 bytes |
//! | schema_version | u32 big-endian |
//! | occurred_at | i64 BE microseconds since the Unix epoch (UTC) |
//! | recorded_at | i64 BE microseconds since the Unix epoch (UTC) |
//! | metadata | u32 BE length, the exact stored JSON text |
//! | payload | u32 BE length, the exact stored JSON text |
//!
//! `position` and `tx_id` are assigned by the database and so are not covered here; the notary's global
//! digest covers them. Everything is recomputable from one row and its predecessor's hash.

use sha2::{Digest, Sha256};

/// The `prev_hash` of every stream's first event.
pub const GENESIS: [u8; 32] = [0; 32];

const DOMAIN_TAG: &[u8] = b"vledger/event/v1\n";

/// The fields the digest covers, borrowed from an event about to be written or read back.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalEvent<'a> {
    pub stream_id: &'a str,
    pub stream_version: u64,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub occurred_at_micros: i64,
    pub recorded_at_micros: i64,
    pub metadata: &'a str,
    pub payload: &'a str,
}

fn put_len_prefixed(h: &mut Sha256, bytes: &[u8]) {
    // Lengths are validated (≤ a few MiB) before anything is hashed, so they fit u32.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    h.update(len.to_be_bytes());
    h.update(bytes);
}

impl CanonicalEvent<'_> {
    /// SHA-256 of the canonical bytes.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(DOMAIN_TAG);
        put_len_prefixed(&mut h, self.stream_id.as_bytes());
        h.update(self.stream_version.to_be_bytes());
        put_len_prefixed(&mut h, self.event_type.as_bytes());
        h.update(self.schema_version.to_be_bytes());
        h.update(self.occurred_at_micros.to_be_bytes());
        h.update(self.recorded_at_micros.to_be_bytes());
        put_len_prefixed(&mut h, self.metadata.as_bytes());
        put_len_prefixed(&mut h, self.payload.as_bytes());
        h.finalize().into()
    }
}

/// `SHA-256(prev_hash ‖ digest)`: the link of the chain. Postgres computes the same with
/// `sha256(prev_hash || digest)` inside the append statement.
pub fn chain(prev_hash: &[u8; 32], digest: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(digest);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CanonicalEvent<'static> {
        CanonicalEvent {
            stream_id: "team-1",
            stream_version: 1,
            event_type: "TeamRegistered",
            schema_version: 1,
            occurred_at_micros: 1_700_000_000_000_000,
            recorded_at_micros: 1_700_000_000_000_001,
            metadata: "{}",
            payload: r#"{"name":"越城区结核病防治志愿服务队"}"#,
        }
    }

    #[test]
    fn digest_changes_when_any_covered_field_changes() {
        let base = sample().digest();
        let variants = [
            CanonicalEvent {
                stream_id: "team-2",
                ..sample()
            },
            CanonicalEvent {
                stream_version: 2,
                ..sample()
            },
            CanonicalEvent {
                event_type: "TeamAmended",
                ..sample()
            },
            CanonicalEvent {
                schema_version: 2,
                ..sample()
            },
            CanonicalEvent {
                occurred_at_micros: 1,
                ..sample()
            },
            CanonicalEvent {
                recorded_at_micros: 1,
                ..sample()
            },
            CanonicalEvent {
                metadata: "{ }",
                ..sample()
            },
            CanonicalEvent {
                payload: "{}",
                ..sample()
            },
        ];
        for v in variants {
            assert_ne!(v.digest(), base, "{v:?} hashed like the original");
        }
    }

    #[test]
    fn length_prefixes_keep_field_boundaries_unambiguous() {
        // Moving bytes from metadata into payload must change the digest.
        let a = CanonicalEvent {
            metadata: "{\"a\":1}",
            payload: "{}",
            ..sample()
        };
        let b = CanonicalEvent {
            metadata: "{\"a\":1}{",
            payload: "}",
            ..sample()
        };
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn chain_is_sha256_of_prev_then_digest() {
        // Known answer: SHA-256 of 64 zero bytes.
        let h = chain(&GENESIS, &[0; 32]);
        assert_eq!(
            hex::encode(h),
            "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
        );
    }
}

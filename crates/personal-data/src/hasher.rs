//! Keyed hashes (HMAC-SHA256) for de-duplication keys and request fingerprints.
//!
//! The secret is distinct from the master key ([`KeyedHasher::ensure_distinct_from`]). Every MAC input
//! is `DOMAIN ‖ frame(kind) ‖ frame(…)…` where `frame(x) = u64-be(len x) ‖ x`: the framing has exactly
//! one reading, and de-duplication keys (`kind = "dedup/id-number"`) and fingerprints
//! (`kind = "fingerprint"`, then the caller's label) can never collide with each other or across labels.
//!
//! An ID number has only ~10¹¹ possible values: a de-duplication key is safe only while the secret is;
//! it belongs in a mutable table that erasure deletes, never in an event or read model.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::aead::push_framed;
use crate::error::{Error, KeyRole};
use crate::keys::MasterKey;
use crate::secret::Secret32;

/// Domain-separation prefix of every MAC input of this crate.
const DOMAIN: &[u8] = b"volunteer-ledger/personal-data/keyed-hash/v1\0";

/// The `kind` of a de-duplication key.
pub const DEDUP_ID_NUMBER_LABEL: &str = "dedup/id-number";

/// The `kind` of a fingerprint (the caller's label follows it).
const FINGERPRINT_KIND: &str = "fingerprint";

/// SHA-256 block size: HMAC keys shorter than this are zero-padded to it.
const BLOCK_LEN: usize = 64;

/// HMAC-SHA256 under a secret from configuration. `Debug` prints `[redacted]`; the secret is wiped on
/// drop; the type is not `Clone`.
pub struct KeyedHasher {
    secret: Secret32,
}

impl KeyedHasher {
    /// Reads the secret from configuration text, in the same forms as
    /// [`MasterKey::from_config_text`] (32 bytes, hex or base64).
    ///
    /// # Errors
    /// As [`MasterKey::from_config_text`], naming the keyed-hash secret.
    pub fn from_config_text(text: &str) -> Result<Self, Error> {
        Ok(Self {
            secret: Secret32::from_config_text(KeyRole::HasherSecret, text)?,
        })
    }

    /// Refuses a configuration that reuses the master key as the keyed-hash secret.
    ///
    /// # Errors
    /// [`Error::SecretsNotDistinct`].
    pub fn ensure_distinct_from(&self, master: &MasterKey) -> Result<(), Error> {
        if self.secret.ct_eq(master.secret()) {
            Err(Error::SecretsNotDistinct)
        } else {
            Ok(())
        }
    }

    /// The de-duplication key of a *normalised* identity-document number (the caller normalises:
    /// upper-case check letter, no spaces).
    #[must_use]
    pub fn dedup_key(&self, normalized_id_number: &str) -> [u8; 32] {
        self.framed(&[
            DEDUP_ID_NUMBER_LABEL.as_bytes(),
            normalized_id_number.as_bytes(),
        ])
    }

    /// A fingerprint of `bytes` under `label` (e.g. the command type), for idempotency records of
    /// plaintext commands: equal requests give equal fingerprints without storing the request.
    #[must_use]
    pub fn fingerprint(&self, label: &str, bytes: &[u8]) -> [u8; 32] {
        self.framed(&[FINGERPRINT_KIND.as_bytes(), label.as_bytes(), bytes])
    }

    fn framed(&self, fields: &[&[u8]]) -> [u8; 32] {
        let mut msg = Zeroizing::new(Vec::with_capacity(
            DOMAIN.len() + fields.iter().map(|f| 8 + f.len()).sum::<usize>(),
        ));
        msg.extend_from_slice(DOMAIN);
        for field in fields {
            push_framed(&mut msg, field);
        }
        hmac_sha256(self.secret.bytes(), &msg)
    }
}

impl fmt::Debug for KeyedHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyedHasher { secret: [redacted] }")
    }
}

/// HMAC-SHA256 for keys of at most one block (64 bytes, checked at compile time), through the
/// infallible `KeyInit::new`: the key is zero-padded to the block size in a wiped buffer, exactly as
/// RFC 2104 pads short keys.
pub(crate) fn hmac_sha256<const N: usize>(key: &[u8; N], msg: &[u8]) -> [u8; 32] {
    const {
        assert!(
            N <= BLOCK_LEN,
            "HMAC keys here are at most one SHA-256 block"
        )
    };
    let mut block = Zeroizing::new([0u8; BLOCK_LEN]);
    for (dst, src) in block.iter_mut().zip(key) {
        *dst = *src;
    }
    let mut mac = Hmac::<Sha256>::new(<&hmac::digest::Key<Hmac<Sha256>>>::from(&*block));
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

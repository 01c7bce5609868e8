//! The notary's Ed25519 keys. The private key lives in a PKCS#8 PEM file named by configuration and
//! never enters the database, an event or a log line; the public key is published (SPKI PEM) so that
//! anyone holding it can check the checkpoints. `key_id` = the first 8 bytes of SHA-256 of the 32-byte
//! public key, in hex: it names the key in every checkpoint, so a rotated key is visible.

use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::NotaryError;
use crate::format::{Checkpoint, Unsigned};

fn key_id_of(public: &VerifyingKey) -> String {
    let h = Sha256::digest(public.as_bytes());
    hex::encode(&h[..8])
}

fn key_error(path: &Path, reason: impl Into<String>) -> NotaryError {
    NotaryError::Key {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// The signing key. `Debug` shows the key id only.
pub struct NotaryKey {
    signing: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for NotaryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotaryKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl NotaryKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, NotaryError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| NotaryError::Key {
            path: "(generated)".to_owned(),
            reason: format!("no randomness: {e}"),
        })?;
        Ok(Self::from_signing(SigningKey::from_bytes(&seed)))
    }

    fn from_signing(signing: SigningKey) -> Self {
        let key_id = key_id_of(&signing.verifying_key());
        Self { signing, key_id }
    }

    /// Parse a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`, as `ledger-audit keygen` or
    /// `openssl genpkey -algorithm ed25519` write it).
    pub fn from_pem(pem: &str) -> Result<Self, NotaryError> {
        SigningKey::from_pkcs8_pem(pem)
            .map(Self::from_signing)
            .map_err(|_| NotaryError::Key {
                path: "(text)".to_owned(),
                reason: "not a PKCS#8 PEM Ed25519 private key".to_owned(),
            })
    }

    /// Read the key file.
    pub fn from_file(path: &Path) -> Result<Self, NotaryError> {
        let pem = std::fs::read_to_string(path).map_err(|e| key_error(path, e.to_string()))?;
        Self::from_pem(&pem).map_err(|_| key_error(path, "not a PKCS#8 PEM Ed25519 private key"))
    }

    /// The private key as PKCS#8 PEM (for `keygen`; write it with owner-only permissions).
    pub fn to_pem(&self) -> Result<String, NotaryError> {
        self.signing
            .to_pkcs8_pem(LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| NotaryError::Key {
                path: "(generated)".to_owned(),
                reason: format!("cannot encode: {e}"),
            })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public(&self) -> PublicKey {
        PublicKey::from_verifying(self.signing.verifying_key())
    }

    /// Sign a checkpoint.
    pub fn sign(&self, unsigned: Unsigned) -> Result<Checkpoint, NotaryError> {
        if unsigned.key_id != self.key_id {
            return Err(NotaryError::Integrity(format!(
                "checkpoint {} names key {}, this notary holds {}",
                unsigned.sequence, unsigned.key_id, self.key_id
            )));
        }
        let bytes = unsigned.canonical_bytes();
        let signature = self.signing.sign(&bytes).to_bytes();
        let signed_at =
            crate::format::micros_to_time(unsigned.signed_at_micros).ok_or_else(|| {
                NotaryError::Integrity(format!(
                    "checkpoint {}: signing time out of range",
                    unsigned.sequence
                ))
            })?;
        Ok(Checkpoint {
            sequence: unsigned.sequence,
            prev_hash: unsigned.prev_hash,
            token: unsigned.token,
            event_count: unsigned.event_count,
            digest: unsigned.digest,
            signed_at,
            hash: unsigned.hash(),
            key_id: unsigned.key_id,
            signature,
        })
    }
}

/// The notary's public key: checks checkpoint signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    verifying: VerifyingKey,
    key_id: String,
}

impl PublicKey {
    fn from_verifying(verifying: VerifyingKey) -> Self {
        let key_id = key_id_of(&verifying);
        Self { verifying, key_id }
    }

    /// Parse an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, NotaryError> {
        VerifyingKey::from_public_key_pem(pem)
            .map(Self::from_verifying)
            .map_err(|_| NotaryError::Key {
                path: "(text)".to_owned(),
                reason: "not an SPKI PEM Ed25519 public key".to_owned(),
            })
    }

    /// Read a public key file.
    pub fn from_file(path: &Path) -> Result<Self, NotaryError> {
        let pem = std::fs::read_to_string(path).map_err(|e| key_error(path, e.to_string()))?;
        Self::from_pem(&pem).map_err(|_| key_error(path, "not an SPKI PEM Ed25519 public key"))
    }

    /// SPKI PEM, as served at the well-known path.
    pub fn to_pem(&self) -> Result<String, NotaryError> {
        self.verifying
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| NotaryError::Key {
                path: "(public)".to_owned(),
                reason: format!("cannot encode: {e}"),
            })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Whether `checkpoint` was signed by this key: its key id names this key, its hash matches its
    /// fields and the Ed25519 signature over its canonical bytes verifies (strictly).
    pub fn verify(&self, checkpoint: &Checkpoint) -> bool {
        if checkpoint.key_id != self.key_id {
            return false;
        }
        let unsigned = checkpoint.unsigned();
        if unsigned.hash() != checkpoint.hash {
            return false;
        }
        let signature = Signature::from_bytes(&checkpoint.signature);
        self.verifying
            .verify_strict(&unsigned.canonical_bytes(), &signature)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use eventstore::Token;

    use super::*;

    fn unsigned(key: &NotaryKey) -> Unsigned {
        Unsigned {
            sequence: 1,
            prev_hash: [0; 32],
            token: Token {
                tx_id: 10,
                position: 3,
            },
            event_count: 3,
            digest: [5; 32],
            signed_at_micros: 1_763_942_400_000_000,
            key_id: key.key_id().to_owned(),
        }
    }

    #[test]
    fn a_signed_checkpoint_verifies_with_its_public_key_only() {
        let key = NotaryKey::generate().unwrap();
        let other = NotaryKey::generate().unwrap();
        let cp = key.sign(unsigned(&key)).unwrap();
        assert!(key.public().verify(&cp));
        assert!(!other.public().verify(&cp), "another key accepted it");
    }

    #[test]
    fn an_altered_field_or_signature_fails_verification() {
        let key = NotaryKey::generate().unwrap();
        let cp = key.sign(unsigned(&key)).unwrap();
        let mut count = cp.clone();
        count.event_count += 1;
        assert!(!key.public().verify(&count), "edited count accepted");
        // Even with the hash recomputed, the signature no longer matches.
        count.hash = count.unsigned().hash();
        assert!(!key.public().verify(&count), "re-hashed edit accepted");
        let mut sig = cp.clone();
        sig.signature[10] ^= 1;
        assert!(!key.public().verify(&sig), "altered signature accepted");
    }

    #[test]
    fn keys_round_trip_through_pem_and_keep_their_id() {
        let key = NotaryKey::generate().unwrap();
        let again = NotaryKey::from_pem(&key.to_pem().unwrap()).unwrap();
        assert_eq!(again.key_id(), key.key_id());
        let public = PublicKey::from_pem(&key.public().to_pem().unwrap()).unwrap();
        assert_eq!(public, key.public());
        assert_eq!(public.key_id().len(), 16);
        assert!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
    }

    #[test]
    fn exported_checkpoints_round_trip_and_reject_edits() {
        let key = NotaryKey::generate().unwrap();
        let cp = key.sign(unsigned(&key)).unwrap();
        let exported = cp.export();
        let json = serde_json::to_string(&exported).unwrap();
        let back: crate::ExportedCheckpoint = serde_json::from_str(&json).unwrap();
        assert_eq!(Checkpoint::try_from(&back).unwrap(), cp);
        let mut edited = exported.clone();
        edited.event_count += 1;
        assert!(Checkpoint::try_from(&edited).is_err());
        let mut token = exported;
        token.token = "11.3".to_owned();
        assert!(Checkpoint::try_from(&token).is_err());
    }
}

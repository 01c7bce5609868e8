//! The notary's Ed25519 keys. The private key lives in a PKCS#8 PEM file named by configuration and
//! never enters the database, an event or a log line; the public key is published (SPKI PEM) so that
//! anyone holding it can check the checkpoints. `key_id` = the first 8 bytes of SHA-256 of the 32-byte
//! public key, in hex: it names the key in every checkpoint, so a rotated key is visible.
//!
//! **Rotation** ([`Keyring`]): a new key continues the chain its predecessors signed. The public keys
//! that ever signed a chain form its keyring, oldest first; a chain verifies only when each checkpoint
//! names a key of the keyring, verifies under it, and the keys never go back — once a key has signed, no
//! key retired before it signs again. A retired key that leaked therefore cannot extend the chain past
//! its rotation without the auditor's check failing.

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

const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";

/// The public keys that sign (or signed) a chain of checkpoints, in the order they took over: retired
/// keys oldest first, the current key last. Key ids are distinct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    retired: Vec<PublicKey>,
    current: PublicKey,
}

fn keyring_error(reason: impl Into<String>) -> NotaryError {
    NotaryError::Key {
        path: "(keyring)".to_owned(),
        reason: reason.into(),
    }
}

impl Keyring {
    /// A keyring of the given keys, oldest first. Refused when empty or when a key appears twice (its
    /// place in the order would be ambiguous).
    pub fn new(mut keys: Vec<PublicKey>) -> Result<Self, NotaryError> {
        let current = keys.pop().ok_or_else(|| keyring_error("no public key"))?;
        let ring = Self {
            retired: keys,
            current,
        };
        for (i, key) in ring.keys().enumerate() {
            if ring.keys().take(i).any(|k| k.key_id == key.key_id) {
                return Err(keyring_error(format!("key {} is listed twice", key.key_id)));
            }
        }
        Ok(ring)
    }

    /// A keyring of one key (no rotation yet).
    pub fn single(key: PublicKey) -> Self {
        Self {
            retired: Vec::new(),
            current: key,
        }
    }

    /// Every SPKI PEM public key block of `pem`, in the order they appear (oldest first).
    pub fn from_pem(pem: &str) -> Result<Self, NotaryError> {
        let mut keys = Vec::new();
        let mut rest = pem;
        while let Some(begin) = rest.find(PEM_BEGIN) {
            let block = rest.get(begin..).unwrap_or_default();
            let end = block
                .find(PEM_END)
                .ok_or_else(|| keyring_error("a public key block has no end line"))?
                + PEM_END.len();
            keys.push(PublicKey::from_pem(block.get(..end).unwrap_or_default())?);
            rest = block.get(end..).unwrap_or_default();
        }
        Self::new(keys)
    }

    /// Read a file of one or more SPKI PEM public keys (oldest first).
    pub fn from_file(path: &Path) -> Result<Self, NotaryError> {
        let pem = std::fs::read_to_string(path).map_err(|e| key_error(path, e.to_string()))?;
        Self::from_pem(&pem).map_err(|e| match e {
            NotaryError::Key { reason, .. } => key_error(path, reason),
            other => other,
        })
    }

    /// The keyrings of `files` joined in the order given (each file oldest first).
    pub fn from_files(files: &[impl AsRef<Path>]) -> Result<Self, NotaryError> {
        let mut keys = Vec::new();
        for f in files {
            keys.extend(Self::from_file(f.as_ref())?.keys().cloned());
        }
        Self::new(keys)
    }

    /// `retired` (oldest first) followed by `current`.
    pub fn rotated(retired: &[PublicKey], current: PublicKey) -> Result<Self, NotaryError> {
        let mut keys = retired.to_vec();
        keys.push(current);
        Self::new(keys)
    }

    /// Every key as SPKI PEM, oldest first, in one text.
    pub fn to_pem(&self) -> Result<String, NotaryError> {
        self.keys().map(PublicKey::to_pem).collect()
    }

    /// The keys, oldest first.
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.retired.iter().chain(std::iter::once(&self.current))
    }

    /// The keys before the current one, oldest first.
    pub fn retired(&self) -> &[PublicKey] {
        &self.retired
    }

    /// The newest key: the one that signs from now on.
    pub fn current(&self) -> &PublicKey {
        &self.current
    }

    /// The place of `key_id` in the order (0 = the oldest), if it is in the keyring.
    pub fn rank(&self, key_id: &str) -> Option<usize> {
        self.keys().position(|k| k.key_id == key_id)
    }

    /// The key ids, oldest first, comma-separated (for messages).
    pub fn key_ids(&self) -> String {
        self.keys()
            .map(|k| k.key_id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The rank of the key that signed `checkpoint`, when that key is in the keyring and the checkpoint
    /// verifies under it ([`PublicKey::verify`]).
    pub fn verify(&self, checkpoint: &Checkpoint) -> Option<usize> {
        let rank = self.rank(&checkpoint.key_id)?;
        self.keys()
            .nth(rank)
            .filter(|k| k.verify(checkpoint))
            .map(|_| rank)
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
    fn a_keyring_verifies_each_checkpoint_under_the_key_it_names_and_ranks_it() {
        let (old, new) = (
            NotaryKey::generate().unwrap(),
            NotaryKey::generate().unwrap(),
        );
        let ring = Keyring::rotated(&[old.public()], new.public()).unwrap();
        assert_eq!(ring.verify(&old.sign(unsigned(&old)).unwrap()), Some(0));
        assert_eq!(ring.verify(&new.sign(unsigned(&new)).unwrap()), Some(1));
        assert_eq!(ring.current(), &new.public());
        let stranger = NotaryKey::generate().unwrap();
        assert_eq!(
            ring.verify(&stranger.sign(unsigned(&stranger)).unwrap()),
            None
        );
        // A checkpoint naming a keyring key but signed by another one does not verify.
        let mut forged = stranger.sign(unsigned(&stranger)).unwrap();
        forged.key_id = old.key_id().to_owned();
        assert_eq!(ring.verify(&forged), None);
    }

    #[test]
    fn a_keyring_round_trips_through_one_pem_text_in_order_and_refuses_repeats() {
        let (a, b) = (
            NotaryKey::generate().unwrap(),
            NotaryKey::generate().unwrap(),
        );
        let ring = Keyring::new(vec![a.public(), b.public()]).unwrap();
        let again = Keyring::from_pem(&ring.to_pem().unwrap()).unwrap();
        assert_eq!(again, ring);
        assert_eq!(again.rank(b.key_id()), Some(1));
        assert!(Keyring::new(vec![a.public(), a.public()]).is_err());
        assert!(Keyring::new(Vec::new()).is_err());
        assert!(Keyring::from_pem("no key here").is_err());
        let single = Keyring::from_pem(&a.public().to_pem().unwrap()).unwrap();
        assert_eq!(single, Keyring::single(a.public()));
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

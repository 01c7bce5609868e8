//! The master key, per-person data keys and their wrapped (stored) form.

use core::fmt;

use crate::aead::{self, NONCE_LEN, TAG_LEN};
use crate::error::{Error, KeyRole};
use crate::secret::{KEY_LEN, Secret32};

/// Format version of [`WrappedDataKey`]'s byte form.
pub const WRAPPED_KEY_FORMAT: u8 = 1;

/// Length of a [`WrappedDataKey`] in bytes:
/// format (1) ‖ master-key version (1) ‖ nonce (12) ‖ encrypted data key (32) ‖ tag (16).
pub const WRAPPED_KEY_LEN: usize = 2 + NONCE_LEN + KEY_LEN + TAG_LEN;

/// Domain-separation label at the head of a wrapping's associated data.
const WRAP_LABEL: &[u8] = b"volunteer-ledger/personal-data/wrap\0";

/// The master key: wraps and unwraps per-person [`DataKey`]s. Kept outside the database (configuration).
///
/// It carries a *version* (chosen by configuration) that is written into every key it wraps, so that a
/// key store can hold keys wrapped by an old and a new master key during rotation.
/// `Debug` prints `[redacted]`; the bytes are wiped on drop; the type is not `Clone`.
pub struct MasterKey {
    version: u8,
    key: Secret32,
}

impl MasterKey {
    /// Reads the master key from configuration text: 32 bytes as hex (64 digits) or base64 (standard or
    /// URL-safe, padded or not), optionally prefixed `hex:` or `base64:`; surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`Error::KeyTextEmpty`], [`Error::KeyTextNotHexOrBase64`], [`Error::KeyTextInvalid`] or
    /// [`Error::KeyLength`] (which names the encoding and the decoded length).
    pub fn from_config_text(version: u8, text: &str) -> Result<Self, Error> {
        Ok(Self {
            version,
            key: Secret32::from_config_text(KeyRole::MasterKey, text)?,
        })
    }

    /// The version written into every key this master key wraps.
    #[must_use]
    pub fn version(&self) -> u8 {
        self.version
    }

    pub(crate) fn secret(&self) -> &Secret32 {
        &self.key
    }

    /// Wraps `data_key` for `subject` (e.g. `"volunteer-<uuid>"`): AES-256-GCM under this master key,
    /// with the format version, this key's version and the subject as associated data.
    ///
    /// # Errors
    /// [`Error::EmptyContext`] for an empty subject, [`Error::Random`] if no nonce can be drawn.
    pub fn wrap_data_key(
        &self,
        subject: &str,
        data_key: &DataKey,
    ) -> Result<WrappedDataKey, Error> {
        non_empty("subject", subject)?;
        let aad = wrap_aad(WRAPPED_KEY_FORMAT, self.version, subject);
        let sealed = aead::seal(self.key.bytes(), &aad, data_key.key.bytes())?;
        let mut bytes = [0u8; WRAPPED_KEY_LEN];
        let (header, body) = bytes.split_at_mut(2);
        header.copy_from_slice(&[WRAPPED_KEY_FORMAT, self.version]);
        if body.len() != sealed.len() {
            return Err(Error::Encrypt);
        }
        body.copy_from_slice(&sealed);
        Ok(WrappedDataKey { bytes })
    }

    /// Unwraps the data key of `subject`.
    ///
    /// # Errors
    /// [`Error::MasterKeyVersion`] if the key was wrapped by another master-key version;
    /// [`Error::Unwrap`] for a wrong master key, a wrong subject or an altered wrapped key;
    /// [`Error::EmptyContext`] for an empty subject.
    pub fn unwrap_data_key(
        &self,
        subject: &str,
        wrapped: &WrappedDataKey,
    ) -> Result<DataKey, Error> {
        non_empty("subject", subject)?;
        let [format, version, body @ ..] = &wrapped.bytes;
        if *version != self.version {
            return Err(Error::MasterKeyVersion {
                wrapped_with: *version,
                offered: self.version,
            });
        }
        let aad = wrap_aad(*format, *version, subject);
        let plain = aead::open(self.key.bytes(), &aad, body).ok_or(Error::Unwrap)?;
        let mut key = Secret32::zeroed();
        if plain.len() != KEY_LEN {
            return Err(Error::Unwrap);
        }
        key.bytes_mut().copy_from_slice(&plain);
        Ok(DataKey { key })
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("version", &self.version)
            .field("key", &format_args!("[redacted]"))
            .finish()
    }
}

fn wrap_aad(format: u8, version: u8, subject: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_LABEL.len() + 2 + subject.len());
    aad.extend_from_slice(WRAP_LABEL);
    aad.extend_from_slice(&[format, version]);
    aad.extend_from_slice(subject.as_bytes());
    aad
}

pub(crate) fn non_empty(what: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        Err(Error::EmptyContext { what })
    } else {
        Ok(())
    }
}

/// A person's data key: 32 random bytes that seal every personal value of that person.
///
/// Never stored in plaintext: it is kept only as a [`WrappedDataKey`]. `Debug` prints `[redacted]`; the
/// bytes are wiped on drop; the type is not `Clone`.
pub struct DataKey {
    key: Secret32,
}

impl DataKey {
    /// A fresh key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`Error::Random`] if the generator fails.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self {
            key: Secret32::random()?,
        })
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        self.key.bytes()
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// A data key encrypted under a master key, as stored in the key-store table (one row per subject).
///
/// Byte form ([`WRAPPED_KEY_LEN`] = 62 bytes):
/// `format (0x01) ‖ master-key version ‖ nonce (12) ‖ AES-256-GCM(data key) (32) ‖ tag (16)`.
/// Deleting this row is the erasure of the person: without it no sealed value of the subject can be
/// opened again.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedDataKey {
    bytes: [u8; WRAPPED_KEY_LEN],
}

impl WrappedDataKey {
    /// Reads the byte form.
    ///
    /// # Errors
    /// [`Error::WrappedKeyLength`] or [`Error::WrappedKeyFormat`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let bytes: [u8; WRAPPED_KEY_LEN] =
            bytes.try_into().map_err(|_| Error::WrappedKeyLength {
                len: bytes.len(),
                expected: WRAPPED_KEY_LEN,
            })?;
        if bytes[0] != WRAPPED_KEY_FORMAT {
            return Err(Error::WrappedKeyFormat { version: bytes[0] });
        }
        Ok(Self { bytes })
    }

    /// The byte form, for the key-store table.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The byte form as an owned vector.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.to_vec()
    }

    /// The version of the master key that wrapped this key (select the master key by it).
    #[must_use]
    pub fn master_key_version(&self) -> u8 {
        self.bytes[1]
    }
}

impl fmt::Debug for WrappedDataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedDataKey")
            .field("format", &self.bytes[0])
            .field("master_key_version", &self.bytes[1])
            .finish_non_exhaustive()
    }
}

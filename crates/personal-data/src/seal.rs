//! Sealing single values with a person's data key, and the `pd1.` text form of a sealed value.

use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::aead::{self, NONCE_LEN, TAG_LEN, push_framed};
use crate::error::Error;
use crate::keys::{DataKey, non_empty};

/// Prefix of the text form of a [`SealedValue`]: format version 1.
pub const SEALED_PREFIX: &str = "pd1.";

/// Format version bound into the associated data of every seal.
const SEAL_FORMAT: u8 = 1;

/// Domain-separation label at the head of a seal's associated data.
const SEAL_LABEL: &[u8] = b"volunteer-ledger/personal-data/seal\0";

/// Smallest possible body: a nonce and a tag around an empty plaintext.
const MIN_BODY_LEN: usize = NONCE_LEN + TAG_LEN;

/// An encrypted personal value: `nonce (12) ‖ ciphertext ‖ tag (16)` under a person's [`DataKey`].
///
/// Its text form, which events carry as `domain::ids::Sealed(String)`, is
/// `pd1.<base64url without padding of nonce ‖ ciphertext ‖ tag>`; [`SealedValue::parse`] and
/// `Display` are exact inverses. With serde it (de)serialises as that string.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    bytes: Vec<u8>,
}

impl SealedValue {
    /// Parses the text form `pd1.<base64url-no-pad>`.
    ///
    /// # Errors
    /// [`Error::SealedPrefix`], [`Error::SealedVersion`], [`Error::SealedEncoding`] (padding, characters
    /// outside the URL-safe alphabet, non-canonical trailing bits) or [`Error::SealedLength`]. No error
    /// repeats the input.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let body = match text.strip_prefix(SEALED_PREFIX) {
            Some(body) => body,
            None => return Err(prefix_error(text)),
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| Error::SealedEncoding)?;
        if bytes.len() < MIN_BODY_LEN {
            return Err(Error::SealedLength {
                len: bytes.len(),
                min: MIN_BODY_LEN,
            });
        }
        Ok(Self { bytes })
    }
}

/// Distinguishes a future version `pdN.` from text that is not a sealed value at all.
fn prefix_error(text: &str) -> Error {
    let version = text
        .strip_prefix("pd")
        .and_then(|rest| rest.split_once('.'))
        .map(|(digits, _)| digits)
        .filter(|d| !d.starts_with('0') && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u16>().ok());
    match version {
        Some(version) => Error::SealedVersion { version },
        None => Error::SealedPrefix,
    }
}

impl FromStr for SealedValue {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for SealedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SEALED_PREFIX)?;
        f.write_str(&URL_SAFE_NO_PAD.encode(&self.bytes))
    }
}

impl fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedValue({self})")
    }
}

impl From<SealedValue> for String {
    fn from(value: SealedValue) -> Self {
        value.to_string()
    }
}

impl serde::Serialize for SealedValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SealedValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn seal_aad(subject: &str, purpose: &str) -> Result<Vec<u8>, Error> {
    non_empty("subject", subject)?;
    non_empty("purpose", purpose)?;
    let mut aad = Vec::with_capacity(SEAL_LABEL.len() + 17 + subject.len() + purpose.len());
    aad.extend_from_slice(SEAL_LABEL);
    aad.push(SEAL_FORMAT);
    push_framed(&mut aad, subject.as_bytes());
    push_framed(&mut aad, purpose.as_bytes());
    Ok(aad)
}

/// Seals `plaintext` for `subject` (e.g. `"volunteer-<uuid>"`) and `purpose` (the field, e.g.
/// `"volunteer.personal"`) with AES-256-GCM under `key` and a fresh random 96-bit nonce. Subject and
/// purpose are associated data: the result opens only with the same key, subject and purpose.
///
/// # Errors
/// [`Error::EmptyContext`] for an empty subject or purpose, [`Error::Random`], [`Error::Encrypt`].
pub fn seal(
    key: &DataKey,
    subject: &str,
    purpose: &str,
    plaintext: &[u8],
) -> Result<SealedValue, Error> {
    let aad = seal_aad(subject, purpose)?;
    Ok(SealedValue {
        bytes: aead::seal(key.bytes(), &aad, plaintext)?,
    })
}

/// Opens a value sealed by [`seal`]. The plaintext is wiped when the returned buffer drops.
///
/// # Errors
/// [`Error::Open`] for a wrong key, subject or purpose or an altered value;
/// [`Error::EmptyContext`] for an empty subject or purpose.
pub fn open(
    key: &DataKey,
    subject: &str,
    purpose: &str,
    sealed: &SealedValue,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let aad = seal_aad(subject, purpose)?;
    aead::open(key.bytes(), &aad, &sealed.bytes).ok_or(Error::Open)
}

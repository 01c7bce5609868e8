//! The crate's error type.
//!
//! Policy: no variant carries plaintext, key material, or the text that failed to parse. Variants
//! carry only lengths, version numbers and the *role* of a key, so an error can be logged and
//! returned to a caller without leaking what it was about.

use core::fmt;

/// Which configured secret a key-text error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The master key that wraps per-person data keys.
    MasterKey,
    /// The secret of the [`KeyedHasher`](crate::KeyedHasher).
    HasherSecret,
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MasterKey => "master key",
            Self::HasherSecret => "keyed-hash secret",
        })
    }
}

/// The text encoding a key was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEncoding {
    /// Hexadecimal, two digits per byte.
    Hex,
    /// Base64, standard or URL-safe alphabet, padded or not.
    Base64,
}

impl fmt::Display for KeyEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hex => "hex",
            Self::Base64 => "base64",
        })
    }
}

/// Everything that can go wrong in this crate. `Display` never shows plaintext or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key's configuration text is empty (or only whitespace).
    #[error("{key}: the configuration value is empty")]
    KeyTextEmpty {
        /// Which key.
        key: KeyRole,
    },
    /// A key's configuration text is neither hex nor base64.
    #[error(
        "{key}: the configuration value is neither hex (64 digits) nor base64 (43 or 44 characters)"
    )]
    KeyTextNotHexOrBase64 {
        /// Which key.
        key: KeyRole,
    },
    /// A key's configuration text carried an explicit `hex:`/`base64:` prefix but is not valid in it.
    #[error("{key}: the configuration value is not valid {encoding}")]
    KeyTextInvalid {
        /// Which key.
        key: KeyRole,
        /// The encoding the prefix announced.
        encoding: KeyEncoding,
    },
    /// A key's configuration text decoded to the wrong number of bytes.
    #[error("{key}: the {encoding} value decodes to {len} bytes; exactly 32 are required")]
    KeyLength {
        /// Which key.
        key: KeyRole,
        /// The encoding the text was read in.
        encoding: KeyEncoding,
        /// The number of bytes it decoded to.
        len: usize,
    },
    /// The keyed-hash secret equals the master key; they must be distinct secrets.
    #[error("the keyed-hash secret must differ from the master key")]
    SecretsNotDistinct,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random(#[source] getrandom::Error),
    /// A subject id or purpose was empty.
    #[error("the {what} of a sealed value or wrapped key must not be empty")]
    EmptyContext {
        /// `"subject"` or `"purpose"`.
        what: &'static str,
    },
    /// AES-GCM refused to encrypt (the plaintext exceeds the algorithm's limit).
    #[error("encryption failed: the plaintext is too long for AES-256-GCM")]
    Encrypt,
    /// A wrapped data key in its byte form has the wrong length.
    #[error("wrapped data key: {len} bytes; exactly {expected} are required")]
    WrappedKeyLength {
        /// Length found.
        len: usize,
        /// Length required.
        expected: usize,
    },
    /// A wrapped data key's format version is not supported.
    #[error("wrapped data key: unsupported format version {version}")]
    WrappedKeyFormat {
        /// The version byte found.
        version: u8,
    },
    /// A wrapped data key was wrapped by another master-key version than the one offered.
    #[error(
        "wrapped data key: wrapped by master key version {wrapped_with}, offered version {offered}"
    )]
    MasterKeyVersion {
        /// The master-key version recorded in the wrapped key.
        wrapped_with: u8,
        /// The version of the master key offered for unwrapping.
        offered: u8,
    },
    /// Unwrapping failed: wrong master key, wrong subject, or the wrapped key was altered.
    #[error(
        "the data key could not be unwrapped (wrong master key or subject, or the wrapped key was altered)"
    )]
    Unwrap,
    /// A sealed value's text does not start with `pd1.`.
    #[error("sealed value: the text does not start with the prefix `pd1.`")]
    SealedPrefix,
    /// A sealed value's text names a format version this crate does not know.
    #[error("sealed value: unsupported format version {version} (this build reads `pd1.`)")]
    SealedVersion {
        /// The version number found in the prefix.
        version: u16,
    },
    /// A sealed value's body is not unpadded base64url.
    #[error("sealed value: the body is not unpadded base64url")]
    SealedEncoding,
    /// A sealed value's body is too short to hold a nonce and a tag.
    #[error("sealed value: the body decodes to {len} bytes; at least {min} are required")]
    SealedLength {
        /// Length found.
        len: usize,
        /// Minimum length (nonce + tag).
        min: usize,
    },
    /// Opening failed: wrong data key, subject or purpose, or the sealed value was altered.
    #[error(
        "the sealed value could not be opened (wrong key, subject or purpose, or the value was altered)"
    )]
    Open,
    /// An opened personal record's binary encoding is malformed.
    #[error("personal record: {0}")]
    Record(RecordProblem),
}

/// What is wrong with a personal record's binary encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordProblem {
    /// The version byte is not one this build reads.
    UnsupportedVersion(u8),
    /// The encoding ends in the middle of a field.
    Truncated,
    /// Bytes follow the last field.
    TrailingBytes,
    /// An optional field's presence tag is neither 0 nor 1.
    BadPresenceTag(u8),
    /// A text field is not UTF-8.
    NotUtf8,
    /// A field is longer than 4 GiB and cannot be encoded.
    FieldTooLong,
}

impl fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedVersion(v) => write!(f, "unsupported encoding version {v}"),
            Self::Truncated => f.write_str("the encoding ends in the middle of a field"),
            Self::TrailingBytes => f.write_str("bytes follow the last field"),
            Self::BadPresenceTag(t) => write!(f, "optional-field tag {t} is neither 0 nor 1"),
            Self::NotUtf8 => f.write_str("a text field is not valid UTF-8"),
            Self::FieldTooLong => f.write_str("a field is too long to encode"),
        }
    }
}

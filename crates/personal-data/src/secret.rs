//! Heap-pinned 32-byte secrets that are wiped on drop, and their configuration-text form.
//!
//! The bytes live in a `Box` so moving the owner does not leave copies of the key on the stack, and
//! `Drop` overwrites them with zeros. Configuration text is accepted as hex (64 digits) or base64
//! (standard or URL-safe alphabet, padded or not), optionally announced by a `hex:` or `base64:`
//! prefix; surrounding whitespace is ignored. Decoding goes into wiped buffers. The caller's own copy
//! of the text is the caller's to wipe (e.g. keep it in `zeroize::Zeroizing<String>`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, KeyEncoding, KeyRole};

/// Length of every key and secret in this crate.
pub const KEY_LEN: usize = 32;

/// 32 secret bytes on the heap, zeroized on drop. Deliberately neither `Clone` nor `Debug`.
pub(crate) struct Secret32(Box<[u8; KEY_LEN]>);

impl Secret32 {
    /// A zero-filled secret, to be filled in place.
    pub(crate) fn zeroed() -> Self {
        Self(Box::new([0; KEY_LEN]))
    }

    /// Fresh random bytes from the operating system.
    pub(crate) fn random() -> Result<Self, Error> {
        let mut s = Self::zeroed();
        getrandom::fill(s.0.as_mut_slice()).map_err(Error::Random)?;
        Ok(s)
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8; KEY_LEN] {
        &mut self.0
    }

    /// Equality without an early exit on the first differing byte.
    pub(crate) fn ct_eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// Reads a 32-byte secret from configuration text (see the module docs for accepted forms).
    pub(crate) fn from_config_text(key: KeyRole, text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("hex:") {
            return decode_hex(key, rest.trim()).map_err(|e| match e {
                Error::KeyTextNotHexOrBase64 { key } => Error::KeyTextInvalid {
                    key,
                    encoding: KeyEncoding::Hex,
                },
                other => other,
            });
        }
        if let Some(rest) = text.strip_prefix("base64:") {
            return decode_base64(key, rest.trim());
        }
        if text.is_empty() {
            return Err(Error::KeyTextEmpty { key });
        }
        let all_hex = text.bytes().all(|b| b.is_ascii_hexdigit());
        if all_hex && text.len().is_multiple_of(2) {
            return decode_hex(key, text);
        }
        match decode_base64(key, text) {
            Ok(s) => Ok(s),
            // Hex digits only, but an odd number of them and not a 32-byte base64 value either.
            Err(_) if all_hex => Err(Error::KeyTextInvalid {
                key,
                encoding: KeyEncoding::Hex,
            }),
            Err(Error::KeyTextInvalid { key, .. }) => Err(Error::KeyTextNotHexOrBase64 { key }),
            Err(other) => Err(other),
        }
    }
}

impl Drop for Secret32 {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for Secret32 {}

fn decode_hex(key: KeyRole, text: &str) -> Result<Secret32, Error> {
    if text.is_empty() {
        return Err(Error::KeyTextEmpty { key });
    }
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::KeyTextNotHexOrBase64 { key });
    }
    if text.len() != 2 * KEY_LEN {
        return Err(Error::KeyLength {
            key,
            encoding: KeyEncoding::Hex,
            len: text.len() / 2,
        });
    }
    let mut s = Secret32::zeroed();
    hex::decode_to_slice(text, s.bytes_mut().as_mut_slice())
        .map_err(|_| Error::KeyTextNotHexOrBase64 { key })?;
    Ok(s)
}

fn decode_base64(key: KeyRole, text: &str) -> Result<Secret32, Error> {
    if text.is_empty() {
        return Err(Error::KeyTextEmpty { key });
    }
    let invalid = Error::KeyTextInvalid {
        key,
        encoding: KeyEncoding::Base64,
    };
    // Decoded output is never longer than the input; decode into a buffer that is wiped on drop.
    let mut buf = Zeroizing::new(vec![0u8; text.len()]);
    let len = STANDARD_PAD_INDIFFERENT
        .decode_slice(text, buf.as_mut_slice())
        .or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode_slice(text, buf.as_mut_slice()))
        .map_err(|_| invalid)?;
    let decoded = buf.get(..len).unwrap_or_default();
    if decoded.len() != KEY_LEN {
        return Err(Error::KeyLength {
            key,
            encoding: KeyEncoding::Base64,
            len: decoded.len(),
        });
    }
    let mut s = Secret32::zeroed();
    s.bytes_mut().copy_from_slice(decoded);
    Ok(s)
}

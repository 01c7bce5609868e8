//! The one place that calls AES-256-GCM: random 96-bit nonce, output `nonce ‖ ciphertext ‖ tag`.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::secret::KEY_LEN;

/// AES-GCM nonce length (96 bits).
pub(crate) const NONCE_LEN: usize = 12;
/// AES-GCM tag length (128 bits).
pub(crate) const TAG_LEN: usize = 16;

type Nonce = aes_gcm::aead::Nonce<Aes256Gcm>;

fn cipher(key: &[u8; KEY_LEN]) -> Aes256Gcm {
    Aes256Gcm::new(<&Key<Aes256Gcm>>::from(key))
}

/// Encrypts under a fresh random nonce; returns `nonce ‖ ciphertext ‖ tag`.
pub(crate) fn seal(key: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(Error::Random)?;
    let ciphertext = cipher(key)
        .encrypt(
            <&Nonce>::from(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::Encrypt)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Decrypts `nonce ‖ ciphertext ‖ tag`; `None` when the tag does not verify or the input is too short.
pub(crate) fn open(key: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (nonce, ciphertext) = sealed.split_first_chunk::<NONCE_LEN>()?;
    if ciphertext.len() < TAG_LEN {
        return None;
    }
    cipher(key)
        .decrypt(
            <&Nonce>::from(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

/// Appends `u64-be(len) ‖ bytes`, so that a sequence of fields has exactly one reading.
pub(crate) fn push_framed(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

//! A person's identity bundle, sealed as one value with a small explicit binary encoding.
//!
//! Encoding, version 1 (all lengths are u32 big-endian byte counts of UTF-8 text):
//! `0x01 ‖ len ‖ name ‖ opt(id_number) ‖ opt(phone)` where `opt(x)` is `0x00` when absent and
//! `0x01 ‖ len ‖ x` when present. Decoding rejects unknown versions, tags other than 0/1, truncation,
//! invalid UTF-8 and trailing bytes. Buffers holding the encoding are wiped after use.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, RecordProblem};
use crate::keys::DataKey;
use crate::seal::{SealedValue, open, seal};

/// Version byte of the record encoding.
const RECORD_VERSION: u8 = 1;

/// The personal part of a registration: what must never appear in an event in plaintext.
///
/// Wiped on drop. `Debug` shows only which fields are present, never their contents.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PersonalRecord {
    /// Full name.
    pub name: String,
    /// Identity-document number, normalised by the caller.
    pub id_number: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

impl fmt::Debug for PersonalRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |o: &Option<String>| o.as_ref().map(|_| "[redacted]");
        f.debug_struct("PersonalRecord")
            .field("name", &format_args!("[redacted]"))
            .field("id_number", &redacted(&self.id_number))
            .field("phone", &redacted(&self.phone))
            .finish()
    }
}

impl PersonalRecord {
    /// The binary encoding (see the module docs), in a buffer wiped on drop.
    ///
    /// # Errors
    /// [`Error::Record`] with [`RecordProblem::FieldTooLong`] for a field over 4 GiB.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        // version ‖ len ‖ name ‖ (tag [‖ len ‖ text]) × 2
        let len = 1
            + 4
            + self.name.len()
            + [&self.id_number, &self.phone]
                .iter()
                .map(|f| 1 + f.as_ref().map_or(0, |s| 4 + s.len()))
                .sum::<usize>();
        // Exact capacity: the buffer never reallocates, so no unwiped copy is left behind.
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        out.push(RECORD_VERSION);
        push_text(&mut out, &self.name)?;
        for field in [&self.id_number, &self.phone] {
            match field {
                None => out.push(0),
                Some(text) => {
                    out.push(1);
                    push_text(&mut out, text)?;
                }
            }
        }
        Ok(out)
    }

    /// Reads the binary encoding.
    ///
    /// # Errors
    /// [`Error::Record`] naming the problem.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader(bytes);
        let version = r.byte()?;
        if version != RECORD_VERSION {
            return Err(Error::Record(RecordProblem::UnsupportedVersion(version)));
        }
        let name = r.text()?;
        let id_number = r.optional_text()?;
        let phone = r.optional_text()?;
        if !r.0.is_empty() {
            return Err(Error::Record(RecordProblem::TrailingBytes));
        }
        Ok(Self {
            name,
            id_number,
            phone,
        })
    }
}

fn push_text(out: &mut Vec<u8>, text: &str) -> Result<(), Error> {
    let len = u32::try_from(text.len()).map_err(|_| Error::Record(RecordProblem::FieldTooLong))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(Error::Record(RecordProblem::Truncated));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, Error> {
        let (&b, rest) = self
            .0
            .split_first()
            .ok_or(Error::Record(RecordProblem::Truncated))?;
        self.0 = rest;
        Ok(b)
    }

    fn text(&mut self) -> Result<String, Error> {
        let (len, rest) = self
            .0
            .split_first_chunk::<4>()
            .ok_or(Error::Record(RecordProblem::Truncated))?;
        self.0 = rest;
        let len = usize::try_from(u32::from_be_bytes(*len))
            .map_err(|_| Error::Record(RecordProblem::Truncated))?;
        let bytes = self.take(len)?;
        core::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| Error::Record(RecordProblem::NotUtf8))
    }

    fn optional_text(&mut self) -> Result<Option<String>, Error> {
        match self.byte()? {
            0 => Ok(None),
            1 => self.text().map(Some),
            tag => Err(Error::Record(RecordProblem::BadPresenceTag(tag))),
        }
    }
}

/// Seals a [`PersonalRecord`] as one [`SealedValue`] (see [`seal`] for key, subject and purpose).
///
/// # Errors
/// As [`seal`] and [`PersonalRecord::encode`].
pub fn seal_record(
    key: &DataKey,
    subject: &str,
    purpose: &str,
    record: &PersonalRecord,
) -> Result<SealedValue, Error> {
    seal(key, subject, purpose, &record.encode()?)
}

/// Opens a [`PersonalRecord`] sealed by [`seal_record`].
///
/// # Errors
/// As [`open`], then [`Error::Record`] if the plaintext is not a valid record encoding.
pub fn open_record(
    key: &DataKey,
    subject: &str,
    purpose: &str,
    sealed: &SealedValue,
) -> Result<PersonalRecord, Error> {
    PersonalRecord::decode(&open(key, subject, purpose, sealed)?)
}

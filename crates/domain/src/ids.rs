//! Identifiers and small value types shared by every aggregate.
//!
//! Ids are validated on construction (`parse`) so an aggregate never holds a malformed one. Opaque ids are
//! UUIDs chosen by the caller (the application layer makes v7 UUIDs); region codes are GB/T 2260.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::rules;

macro_rules! uuid_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// Parse from text; `field` names the command field for the error.
            pub fn parse(field: &str, s: &str) -> Result<Self, DomainError> {
                uuid::Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| DomainError::invalid(field, format!("{s:?} is not a UUID")))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(/// A volunteer team / service organisation.
    TeamId);
uuid_id!(/// A natural person registered as volunteer.
    VolunteerId);
uuid_id!(/// One volunteer activity.
    ActivityId);
uuid_id!(/// A configured campaign (e.g. 百千万 2023-12..2025-03).
    CampaignId);
uuid_id!(/// A host unit (依托单位): CDC, hospital, school, …; also a government department, which is how a
    /// campaign names its "relevant departments" (A3).
    HostUnitId);
uuid_id!(/// A training session (A11).
    TrainingId);
uuid_id!(/// A typical case nomination (A18).
    CaseId);
uuid_id!(/// A service certificate.
    CertificateId);
uuid_id!(/// A supervision finding (A20).
    FindingId);
uuid_id!(/// A dispatch order of an emergency HQ (B3/B4).
    DispatchId);
uuid_id!(/// A second-grid-member deployment (B5).
    DeploymentId);
uuid_id!(/// A shared medicine box (B8/B9).
    MedicineBoxId);
uuid_id!(/// A community need (B10).
    NeedId);
uuid_id!(/// A correction request on a service record.
    CorrectionId);

/// A GB/T 2260 administrative division code: six digits, e.g. `330602` (越城区).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode([u8; 6]);

impl RegionCode {
    pub fn parse(field: &str, s: &str) -> Result<Self, DomainError> {
        let bytes = s.as_bytes();
        if bytes.len() != 6 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(DomainError::invalid_by(
                rules::GBT2260,
                field,
                format!("{s:?} is not a six-digit GB/T 2260 code"),
            ));
        }
        if bytes[0] == b'0' {
            return Err(DomainError::invalid_by(
                rules::GBT2260,
                field,
                format!("{s:?}: a province code cannot start with 0"),
            ));
        }
        let mut code = [0u8; 6];
        code.copy_from_slice(bytes);
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        // The bytes are ASCII digits by construction.
        std::str::from_utf8(&self.0).unwrap_or("000000")
    }

    /// The province prefix `xx0000`.
    pub fn province(&self) -> RegionCode {
        Self([self.0[0], self.0[1], b'0', b'0', b'0', b'0'])
    }

    /// The prefecture (city) prefix `xxxx00`.
    pub fn city(&self) -> RegionCode {
        Self([self.0[0], self.0[1], self.0[2], self.0[3], b'0', b'0'])
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for RegionCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse("region", &s).map_err(|e| e.reason)
    }
}

impl From<RegionCode> for String {
    fn from(c: RegionCode) -> String {
        c.as_str().to_owned()
    }
}

/// Personal data sealed by the caller (AES-GCM with the person's data key, see crate `personal-data`),
/// carried opaquely. The domain never opens it; after erasure nobody can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

/// Content hash of an archived attachment (A12): lowercase hex SHA-256. Attachments never enter events.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(String);

impl ContentHash {
    pub fn parse(field: &str, s: &str) -> Result<Self, DomainError> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::invalid(
                field,
                "must be a lowercase hex SHA-256 (64 characters)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Non-empty, trimmed text of bounded length (names of teams, places, summaries' sections, …).
/// Not for personal data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    /// `max_chars` counts Unicode scalar values.
    pub fn parse(field: &str, s: &str, max_chars: usize) -> Result<Self, DomainError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(DomainError::invalid(field, "must not be empty"));
        }
        let n = t.chars().count();
        if n > max_chars {
            return Err(DomainError::invalid(
                field,
                format!("is {n} characters long; at most {max_chars} are allowed"),
            ));
        }
        if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(DomainError::invalid(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Check an already-parsed text against a module's own limit (commands carry parsed `Text` whose
    /// bound the caller chose); `field` names the command field for the error.
    pub fn check_max(&self, field: &str, max_chars: usize) -> Result<(), DomainError> {
        let n = self.0.chars().count();
        if n > max_chars {
            return Err(DomainError::invalid(
                field,
                format!("is {n} characters long; at most {max_chars} are allowed"),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbt2260_region_code_accepts_shaoxing_counties_and_derives_the_city() {
        let c = RegionCode::parse("region", "330602").unwrap();
        assert_eq!(c.city().as_str(), "330600");
        assert_eq!(c.province().as_str(), "330000");
    }

    #[test]
    fn gbt2260_region_code_rejects_wrong_length_letters_and_leading_zero() {
        for bad in ["33060", "3306021", "33060a", "030602", ""] {
            let e = RegionCode::parse("team.region", bad).unwrap_err();
            assert_eq!(e.field, "team.region");
            assert_eq!(e.rule, rules::GBT2260);
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded_in_characters_not_bytes() {
        assert_eq!(Text::parse("name", "  绍兴  ", 2).unwrap().as_str(), "绍兴");
        assert!(Text::parse("name", "绍兴市", 2).is_err());
        assert!(Text::parse("name", "   ", 10).is_err());
    }
}

//! # Identity documents — GB 11643 and the other accepted documents (A7, PIPL)
//!
//! Policy of this module (pure validation, no aggregate):
//! - **Resident identity card (GB 11643).** 18 characters: a 6-digit GB/T 2260 region, a `YYYYMMDD` birth
//!   date that exists, is not before 1900 and not after the given "today", a 3-digit sequence and a MOD 11-2
//!   check character (`0`-`9` or `X`; a lowercase `x` is accepted and normalised to `X`). Every rejection
//!   carries rule [`rules::GB11643`] and names the field (`number` or `birth_date`).
//! - **Hong Kong / Macau / Taiwan residence permits (港澳台居民居住证).** The same 18-character GB 11643
//!   structure with the region prefix `810000` / `820000` / `830000`; the check character is validated and
//!   the birth date is read from the number (a declared birth date, if given, must agree).
//! - **Foreigners' permanent residence card (外国人永久居留身份证).** New 2023 format: 18 characters starting
//!   with `9`, with the birth date in positions 7-14 and a GB 11643 check character (the declared birth date
//!   must agree with the number). Old format: 15 characters = 3 letters + 12 digits. A declared birth date is
//!   required for both.
//! - **Passports.** 5-17 characters `A-Z0-9` after uppercasing and removing nothing else; declared birth
//!   date required.
//! - The output [`VerifiedIdentity`] holds the normalised number, which the caller feeds to a *keyed* hash
//!   for de-duplication. The number is personal data: it never goes into an event (the volunteer's event
//!   keeps only [`adult_on`], A7) and [`VerifiedIdentity`]'s `Debug` masks it.
//! - [`adult_on`] is the day a person turns 18 (年满18周岁); a 29 February birthday turns 18 on 1 March in a
//!   non-leap year.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::rules;

/// GB 11643 weights of the 17 leading digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// GB 11643 check characters, indexed by the weighted sum mod 11.
const CHECK_CHARS: &[u8; 11] = b"10X98765432";
/// Birth dates before this year are rejected as implausible.
pub const EARLIEST_BIRTH_YEAR: i32 = 1900;
/// Age of majority (年满18周岁, A7).
pub const ADULT_AGE_YEARS: i32 = 18;

/// Which document identifies a volunteer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 居民身份证 (GB 11643).
    ResidentIdCard,
    /// 港澳居民居住证, prefix 810000.
    HongKongResidencePermit,
    /// 港澳居民居住证, prefix 820000.
    MacauResidencePermit,
    /// 台湾居民居住证, prefix 830000.
    TaiwanResidencePermit,
    /// 外国人永久居留身份证 (2023 18-character format or the older 15-character one).
    ForeignPermanentResidenceCard,
    /// A passport.
    Passport,
}

impl DocumentKind {
    /// Every kind, for parsing and tests.
    pub const ALL: [DocumentKind; 6] = [
        Self::ResidentIdCard,
        Self::HongKongResidencePermit,
        Self::MacauResidencePermit,
        Self::TaiwanResidencePermit,
        Self::ForeignPermanentResidenceCard,
        Self::Passport,
    ];

    /// The snake_case wire name, e.g. `resident_id_card`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResidentIdCard => "resident_id_card",
            Self::HongKongResidencePermit => "hong_kong_residence_permit",
            Self::MacauResidencePermit => "macau_residence_permit",
            Self::TaiwanResidencePermit => "taiwan_residence_permit",
            Self::ForeignPermanentResidenceCard => "foreign_permanent_residence_card",
            Self::Passport => "passport",
        }
    }

    /// Parse the wire name; `field` names the command field for the error.
    pub fn parse(field: &str, s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    field,
                    format!("{s:?} is not a known identity document kind"),
                )
            })
    }

    /// The GB 11643 region prefix of a residence permit.
    fn permit_prefix(self) -> Option<&'static str> {
        match self {
            Self::HongKongResidencePermit => Some("810000"),
            Self::MacauResidencePermit => Some("820000"),
            Self::TaiwanResidencePermit => Some("830000"),
            _ => None,
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checked identity document. `normalized_number` is personal data: feed it to a keyed hash for
/// de-duplication and never put it in an event.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub kind: DocumentKind,
    pub birth_date: NaiveDate,
    /// Uppercased, validated document number.
    pub normalized_number: String,
}

impl VerifiedIdentity {
    /// The day the person turns 18 (A7).
    pub fn adult_on(&self) -> NaiveDate {
        adult_on(self.birth_date)
    }
}

impl fmt::Debug for VerifiedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedIdentity")
            .field("kind", &self.kind)
            .field("birth_date", &self.birth_date)
            .field("normalized_number", &"<masked>")
            .finish()
    }
}

/// The date a person born on `birth_date` turns 18 (A7). A 29 February birthday turns 18 on 1 March when
/// the eighteenth year is not a leap year. Saturates at [`NaiveDate::MAX`] instead of overflowing.
pub fn adult_on(birth_date: NaiveDate) -> NaiveDate {
    let year = birth_date.year().saturating_add(ADULT_AGE_YEARS);
    birth_date
        .with_year(year)
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
        .unwrap_or(NaiveDate::MAX)
}

/// The MOD 11-2 check character of 17 leading ASCII digits; `None` if they are not 17 digits.
pub fn gb11643_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let idx = usize::try_from(sum % 11).ok()?;
    CHECK_CHARS.get(idx).map(|c| char::from(*c))
}

/// Verify a document number. `declared_birth_date` is required for foreigners' permanent residence cards
/// and passports, optional (but checked against the number) otherwise. `today` is the caller's business
/// date (Asia/Shanghai); birth dates after it are rejected. Error fields: `number`, `birth_date`.
pub fn verify(
    kind: DocumentKind,
    number: &str,
    declared_birth_date: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<VerifiedIdentity, DomainError> {
    let normalized = number.trim().to_ascii_uppercase();
    let from_number = match kind {
        DocumentKind::ResidentIdCard => {
            let d = gb11643_structure("number", &normalized, today)?;
            let region = &normalized[..6];
            if normalized.starts_with('9') || matches!(region, "810000" | "820000" | "830000") {
                return Err(DomainError::invalid_by(
                    rules::GB11643,
                    "number",
                    format!(
                        "region {region} is not a resident identity card region; declare the document as a residence permit or permanent residence card"
                    ),
                ));
            }
            Some(d)
        }
        DocumentKind::HongKongResidencePermit
        | DocumentKind::MacauResidencePermit
        | DocumentKind::TaiwanResidencePermit => {
            let prefix = kind.permit_prefix().unwrap_or_default();
            if !normalized.starts_with(prefix) {
                return Err(DomainError::invalid_by(
                    rules::GB11643,
                    "number",
                    format!("a {kind} number starts with {prefix}"),
                ));
            }
            Some(gb11643_structure("number", &normalized, today)?)
        }
        DocumentKind::ForeignPermanentResidenceCard => match normalized.len() {
            18 => {
                if !normalized.starts_with('9') {
                    return Err(DomainError::invalid_by(
                        rules::GB11643,
                        "number",
                        "an 18-character permanent residence card number starts with 9",
                    ));
                }
                Some(gb11643_structure("number", &normalized, today)?)
            }
            15 => {
                let (letters, digits) = normalized.split_at(3);
                if !letters.bytes().all(|b| b.is_ascii_uppercase())
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(DomainError::invalid(
                        "number",
                        "a 15-character permanent residence card number is 3 letters and 12 digits",
                    ));
                }
                None
            }
            n => {
                return Err(DomainError::invalid(
                    "number",
                    format!(
                        "a permanent residence card number has 18 (2023 format) or 15 characters, not {n}"
                    ),
                ));
            }
        },
        DocumentKind::Passport => {
            let n = normalized.chars().count();
            if !(5..=17).contains(&n) || !normalized.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(DomainError::invalid(
                    "number",
                    "a passport number has 5 to 17 characters A-Z and 0-9",
                ));
            }
            None
        }
    };
    let birth_date = match (from_number, declared_birth_date) {
        (Some(d), None) => d,
        (Some(d), Some(declared)) if d == declared => d,
        (Some(d), Some(declared)) => {
            return Err(DomainError::invalid_by(
                rules::GB11643,
                "birth_date",
                format!("the declared birth date {declared} differs from {d} in the number"),
            ));
        }
        (None, Some(declared)) => {
            check_birth_date(declared, today)
                .map_err(|reason| DomainError::invalid("birth_date", reason))?;
            declared
        }
        (None, None) => {
            return Err(DomainError::invalid(
                "birth_date",
                format!("a birth date must be declared for a {kind}"),
            ));
        }
    };
    Ok(VerifiedIdentity {
        kind,
        birth_date,
        normalized_number: normalized,
    })
}

/// Check the GB 11643 structure of an uppercased 18-character number; returns the birth date.
fn gb11643_structure(field: &str, s: &str, today: NaiveDate) -> Result<NaiveDate, DomainError> {
    let err = |reason: String| DomainError::invalid_by(rules::GB11643, field, reason);
    let bytes = s.as_bytes();
    if bytes.len() != 18 {
        return Err(err(format!(
            "has {} characters; a GB 11643 number has 18",
            s.chars().count()
        )));
    }
    if !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err(err("the first 17 characters must be digits".to_owned()));
    }
    if bytes[0] == b'0' {
        return Err(err("the region code cannot start with 0".to_owned()));
    }
    let birth = NaiveDate::parse_from_str(&s[6..14], "%Y%m%d")
        .map_err(|_| err(format!("{} is not a calendar date", &s[6..14])))?;
    check_birth_date(birth, today).map_err(err)?;
    let expected = gb11643_check_char(&s[..17])
        .ok_or_else(|| err("the first 17 characters must be digits".to_owned()))?;
    let actual = char::from(bytes[17]);
    if actual != expected {
        return Err(err(format!(
            "check character {actual:?} is wrong (MOD 11-2 gives {expected:?})"
        )));
    }
    Ok(birth)
}

fn check_birth_date(birth: NaiveDate, today: NaiveDate) -> Result<(), String> {
    if birth > today {
        return Err(format!("birth date {birth} is after today ({today})"));
    }
    if birth.year() < EARLIEST_BIRTH_YEAR {
        return Err(format!(
            "birth date {birth} is before {EARLIEST_BIRTH_YEAR}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, RuleId};
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const TODAY: &str = "2024-06-01";
    /// Valid numbers computed with MOD 11-2 for these tests.
    const ID_1990: &str = "330602199001011231";
    const ID_X: &str = "11010519491231002X";

    fn resident(n: &str) -> Result<VerifiedIdentity, DomainError> {
        verify(DocumentKind::ResidentIdCard, n, None, d(TODAY))
    }

    fn assert_gb11643(e: &DomainError, field: &str) {
        assert_eq!(e.rule, rules::GB11643, "{e}");
        assert_eq!(e.field, field, "{e}");
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn gb11643_valid_number_yields_birth_date_and_normalised_number() {
        let v = resident(ID_1990).unwrap();
        assert_eq!(v.kind, DocumentKind::ResidentIdCard);
        assert_eq!(v.birth_date, d("1990-01-01"));
        assert_eq!(v.normalized_number, ID_1990);
        assert_eq!(v.adult_on(), d("2008-01-01"));
    }

    #[test]
    fn gb11643_check_char_matches_known_numbers() {
        assert_eq!(gb11643_check_char(&ID_1990[..17]), Some('1'));
        assert_eq!(gb11643_check_char(&ID_X[..17]), Some('X'));
        assert_eq!(gb11643_check_char("1234"), None);
        assert_eq!(gb11643_check_char("3306021990010112a"), None);
    }

    #[test]
    fn gb11643_lowercase_x_is_accepted_and_normalised() {
        let v = resident(&ID_X.to_lowercase()).unwrap();
        assert_eq!(v.normalized_number, ID_X);
        assert_eq!(v.birth_date, d("1949-12-31"));
    }

    #[test]
    fn gb11643_surrounding_whitespace_is_trimmed() {
        assert_eq!(
            resident(&format!("  {ID_1990} "))
                .unwrap()
                .normalized_number,
            ID_1990
        );
    }

    #[test]
    fn gb11643_wrong_check_digit_is_rejected() {
        for bad in [
            "330602199001011232",
            "33060219900101123X",
            "110105194912310021",
        ] {
            assert_gb11643(&resident(bad).unwrap_err(), "number");
        }
    }

    #[test]
    fn gb11643_wrong_length_or_non_digits_are_rejected() {
        for bad in [
            "33060219900101123",
            "3306021990010112311",
            "33060219900101A231",
            "",
        ] {
            assert_gb11643(&resident(bad).unwrap_err(), "number");
        }
    }

    #[test]
    fn gb11643_non_existent_birth_date_is_rejected() {
        // 1990-02-30 with a correct check character for its 17 digits
        let first17 = "33060219900230123";
        let n = format!("{first17}{}", gb11643_check_char(first17).unwrap());
        let e = resident(&n).unwrap_err();
        assert_gb11643(&e, "number");
        assert!(e.reason.contains("calendar date"), "{e}");
    }

    #[test]
    fn gb11643_birth_date_in_the_future_is_rejected() {
        let first17 = "33060220240602123";
        let n = format!("{first17}{}", gb11643_check_char(first17).unwrap());
        assert_gb11643(&resident(&n).unwrap_err(), "number");
        // the same number is fine a day later
        assert!(verify(DocumentKind::ResidentIdCard, &n, None, d("2024-06-02")).is_ok());
    }

    #[test]
    fn gb11643_birth_before_1900_is_rejected() {
        let first17 = "33060218991231123";
        let n = format!("{first17}{}", gb11643_check_char(first17).unwrap());
        assert_gb11643(&resident(&n).unwrap_err(), "number");
    }

    #[test]
    fn gb11643_permit_or_foreigner_prefix_on_a_resident_card_is_rejected() {
        for n in ["810000198503150025", "933042198005120011"] {
            assert_gb11643(&resident(n).unwrap_err(), "number");
        }
    }

    #[test]
    fn gb11643_declared_birth_date_must_agree_with_the_number() {
        let e = verify(
            DocumentKind::ResidentIdCard,
            ID_1990,
            Some(d("1990-01-02")),
            d(TODAY),
        )
        .unwrap_err();
        assert_gb11643(&e, "birth_date");
        assert!(
            verify(
                DocumentKind::ResidentIdCard,
                ID_1990,
                Some(d("1990-01-01")),
                d(TODAY)
            )
            .is_ok()
        );
    }

    #[test]
    fn gb11643_residence_permits_are_checked_with_their_prefix() {
        for (kind, n, birth) in [
            (
                DocumentKind::HongKongResidencePermit,
                "810000198503150025",
                "1985-03-15",
            ),
            (
                DocumentKind::MacauResidencePermit,
                "820000199207040039",
                "1992-07-04",
            ),
            (
                DocumentKind::TaiwanResidencePermit,
                "830000200001010042",
                "2000-01-01",
            ),
        ] {
            let v = verify(kind, n, None, d(TODAY)).unwrap();
            assert_eq!(v.birth_date, d(birth));
            assert_eq!(v.kind, kind);
        }
        // a Hong Kong number declared as Macau
        let e = verify(
            DocumentKind::MacauResidencePermit,
            "810000198503150025",
            None,
            d(TODAY),
        )
        .unwrap_err();
        assert_gb11643(&e, "number");
        // wrong check character
        let e = verify(
            DocumentKind::HongKongResidencePermit,
            "810000198503150026",
            None,
            d(TODAY),
        )
        .unwrap_err();
        assert_gb11643(&e, "number");
    }

    #[test]
    fn gb11643_permanent_residence_card_2023_format_is_checked_and_agrees_with_declared_birth_date()
    {
        let k = DocumentKind::ForeignPermanentResidenceCard;
        let v = verify(k, "933042198005120011", Some(d("1980-05-12")), d(TODAY)).unwrap();
        assert_eq!(v.birth_date, d("1980-05-12"));
        assert_gb11643(
            &verify(k, "933042198005120012", Some(d("1980-05-12")), d(TODAY)).unwrap_err(),
            "number",
        );
        assert_gb11643(
            &verify(k, "933042198005120011", Some(d("1980-05-13")), d(TODAY)).unwrap_err(),
            "birth_date",
        );
        // 18 characters not starting with 9
        assert_gb11643(
            &verify(k, ID_1990, Some(d("1990-01-01")), d(TODAY)).unwrap_err(),
            "number",
        );
    }

    #[test]
    fn permanent_residence_card_old_format_is_three_letters_and_twelve_digits() {
        let k = DocumentKind::ForeignPermanentResidenceCard;
        let v = verify(k, "usa330680051201", Some(d("1968-05-12")), d(TODAY)).unwrap();
        assert_eq!(v.normalized_number, "USA330680051201");
        assert_eq!(v.birth_date, d("1968-05-12"));
        for bad in ["US1330680051201", "USA33068005120A", "USA3306800512"] {
            let e = verify(k, bad, Some(d("1968-05-12")), d(TODAY)).unwrap_err();
            assert_eq!(e.field, "number");
            assert_eq!(e.rule, RuleId::INPUT);
        }
    }

    #[test]
    fn permanent_residence_card_and_passport_need_a_declared_birth_date() {
        for (k, n) in [
            (
                DocumentKind::ForeignPermanentResidenceCard,
                "USA330680051201",
            ),
            (DocumentKind::Passport, "E12345678"),
        ] {
            let e = verify(k, n, None, d(TODAY)).unwrap_err();
            assert_eq!(e.field, "birth_date");
        }
    }

    #[test]
    fn passport_is_5_to_17_alphanumerics_after_uppercasing() {
        let v = verify(
            DocumentKind::Passport,
            "e1234567",
            Some(d("1995-01-01")),
            d(TODAY),
        )
        .unwrap();
        assert_eq!(v.normalized_number, "E1234567");
        assert!(
            verify(
                DocumentKind::Passport,
                "AB123",
                Some(d("1995-01-01")),
                d(TODAY)
            )
            .is_ok()
        );
        assert!(
            verify(
                DocumentKind::Passport,
                "A1234567890123456",
                Some(d("1995-01-01")),
                d(TODAY)
            )
            .is_ok()
        );
        for bad in ["AB12", "A12345678901234567", "E1234-567", "E 1234567"] {
            let e =
                verify(DocumentKind::Passport, bad, Some(d("1995-01-01")), d(TODAY)).unwrap_err();
            assert_eq!(e.field, "number", "{bad}");
        }
    }

    #[test]
    fn declared_birth_date_in_the_future_is_rejected() {
        let e = verify(
            DocumentKind::Passport,
            "E1234567",
            Some(d("2024-06-02")),
            d(TODAY),
        )
        .unwrap_err();
        assert_eq!(e.field, "birth_date");
    }

    #[test]
    fn verified_identity_debug_masks_the_number() {
        let v = resident(ID_1990).unwrap();
        let dbg = format!("{v:?}");
        assert!(!dbg.contains(ID_1990), "{dbg}");
        assert!(dbg.contains("masked"));
    }

    #[test]
    fn document_kind_round_trips_through_its_wire_name() {
        for k in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse("kind", k.as_str()).unwrap(), k);
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
        assert_eq!(
            DocumentKind::parse("kind", "driver_licence")
                .unwrap_err()
                .field,
            "kind"
        );
    }

    #[test]
    fn a7_adult_on_is_the_eighteenth_birthday() {
        assert_eq!(adult_on(d("2006-06-01")), d("2024-06-01"));
        assert_eq!(adult_on(d("1990-12-31")), d("2008-12-31"));
    }

    #[test]
    fn a7_adult_on_for_29_february_is_1_march_in_a_non_leap_year() {
        // 2004 + 18 = 2022 and 1980 + 18 = 1998 are not leap years
        assert_eq!(adult_on(d("2004-02-29")), d("2022-03-01"));
        assert_eq!(adult_on(d("1980-02-29")), d("1998-03-01"));
        // a 28 February birthday stays on 28 February
        assert_eq!(adult_on(d("2006-02-28")), d("2024-02-28"));
    }

    proptest! {
        #[test]
        fn gb11643_every_correctly_checked_number_verifies_and_every_other_check_char_fails(
            region in 110000u32..=659999,
            days in 0i64..(100 * 365),
            seq in 0u32..1000,
        ) {
            let birth = d("1920-01-01") + chrono::Duration::days(days);
            let first17 = format!("{region:06}{}{seq:03}", birth.format("%Y%m%d"));
            let good = gb11643_check_char(&first17).unwrap();
            let n = format!("{first17}{good}");
            let v = resident(&n).unwrap();
            prop_assert_eq!(v.birth_date, birth);
            prop_assert_eq!(&v.normalized_number, &n);
            for c in CHECK_CHARS.iter().map(|b| char::from(*b)).filter(|c| *c != good) {
                let e = resident(&format!("{first17}{c}")).unwrap_err();
                prop_assert_eq!(e.rule, rules::GB11643);
            }
        }

        #[test]
        fn a7_adult_on_is_the_same_month_and_day_18_years_later(days in 0i64..(150 * 365)) {
            let birth = d("1900-01-01") + chrono::Duration::days(days);
            let a = adult_on(birth);
            prop_assert_eq!(a.year(), birth.year() + 18);
            if (birth.month(), birth.day()) == (2, 29)
                && NaiveDate::from_ymd_opt(a.year(), 2, 29).is_none() {
                prop_assert_eq!((a.month(), a.day()), (3, 1));
            } else {
                prop_assert_eq!((a.month(), a.day()), (birth.month(), birth.day()));
            }
        }
    }
}

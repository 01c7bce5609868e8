//! # Disclosure of personal data (PIPL: "log who viewed unmasked data"; the auditor "unmasks personal
//! data only with a recorded reason", `DOMAIN.md`)
//!
//! Policy of this module:
//! - Stream category `"disclosure"`, instance id = the [`VolunteerId`]: one stream per person, so "who
//!   saw this person's data, and why" is one stream read, and the record is in the tamper-evident log.
//! - **Recorded before shown.** The application appends [`PersonalDataDisclosed`] and only then opens
//!   the sealed record; if the append fails nothing is shown.
//! - **A reason is mandatory**: at least [`REASON_MIN_CHARS`] and at most [`REASON_MAX_CHARS`]
//!   characters (after trimming). The fields shown are a non-empty set without repeats.
//! - **Only a readable person can be disclosed**: registered and not erased ([`DisclosureFacts`] from the
//!   volunteer stream). After erasure there is nothing to show.
//! - **No plaintext** enters the event: which fields were shown and why; who and when are the event's
//!   metadata and receipt time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::domain_events;
use crate::error::DomainError;
use crate::ids::{Text, VolunteerId};

pub const REASON_MIN_CHARS: usize = 4;
pub const REASON_MAX_CHARS: usize = 500;

/// A personal field that can be shown unmasked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisclosedField {
    Name,
    DocumentNumber,
    Phone,
}

impl DisclosedField {
    pub const ALL: [DisclosedField; 3] = [Self::Name, Self::DocumentNumber, Self::Phone];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::DocumentNumber => "document_number",
            Self::Phone => "phone",
        }
    }

    /// Parse the wire name; `field` names the request field for the error.
    pub fn parse(field: &str, s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    field,
                    format!("{s:?} is not one of name, document_number, phone"),
                )
            })
    }
}

/// Show some of a volunteer's personal fields unmasked, for a stated reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDisclosure {
    pub volunteer: VolunteerId,
    pub fields: Vec<DisclosedField>,
    pub reason: Text,
}

/// What the volunteer's own stream says (loaded by the application).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DisclosureFacts {
    pub registered: bool,
    pub erased: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataDisclosed {
    pub volunteer_id: VolunteerId,
    pub fields: Vec<DisclosedField>,
    pub reason: Text,
    /// The service's receipt time of the request.
    pub disclosed_at: DateTime<Utc>,
}

domain_events! {
    /// Events of a person's disclosure record.
    pub enum DisclosureEvent {
        Disclosed(PersonalDataDisclosed) = ("PersonalDataDisclosed", 1),
    }
}

/// The disclosure record of one person: how often their data was shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disclosures {
    pub volunteer: Option<VolunteerId>,
    pub count: u64,
}

impl Aggregate for Disclosures {
    const CATEGORY: &'static str = "disclosure";
    type Command = RecordDisclosure;
    type Event = DisclosureEvent;
    type Facts = DisclosureFacts;

    fn decide(
        &self,
        c: &RecordDisclosure,
        facts: &DisclosureFacts,
        ctx: &Decision,
    ) -> Result<Vec<DisclosureEvent>, DomainError> {
        if self.volunteer.is_some_and(|v| v != c.volunteer) {
            return Err(DomainError::invalid(
                "volunteer",
                "does not match the disclosure record",
            ));
        }
        let n = c.reason.as_str().chars().count();
        if n < REASON_MIN_CHARS {
            return Err(DomainError::invalid(
                "reason",
                format!("is {n} characters long; state the reason in at least {REASON_MIN_CHARS}"),
            ));
        }
        c.reason.check_max("reason", REASON_MAX_CHARS)?;
        if c.fields.is_empty() {
            return Err(DomainError::invalid(
                "fields",
                "name at least one field to show",
            ));
        }
        let mut fields = c.fields.clone();
        fields.sort_unstable();
        if fields.windows(2).any(|w| w[0] == w[1]) {
            return Err(DomainError::invalid("fields", "a field is named twice"));
        }
        if !facts.registered {
            return Err(DomainError::not_found(
                "volunteer",
                format!("volunteer {} is not registered", c.volunteer),
            ));
        }
        if facts.erased {
            return Err(DomainError::lifecycle(
                "volunteer",
                "this person's data was erased; there is nothing to show",
            ));
        }
        Ok(vec![DisclosureEvent::Disclosed(PersonalDataDisclosed {
            volunteer_id: c.volunteer,
            fields,
            reason: c.reason.clone(),
            disclosed_at: ctx.received_at,
        })])
    }

    fn evolve(&mut self, event: &DisclosureEvent) {
        match event {
            DisclosureEvent::Disclosed(e) => {
                self.volunteer = Some(e.volunteer_id);
                self.count += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::error::ErrorKind;
    use crate::event::DomainEvent;

    fn vid(n: u128) -> VolunteerId {
        VolunteerId(uuid::Uuid::from_u128(n))
    }

    fn ctx() -> Decision {
        Decision {
            received_at: Utc.with_ymd_and_hms(2024, 6, 1, 2, 0, 0).unwrap(),
        }
    }

    fn cmd(fields: &[DisclosedField], reason: &str) -> RecordDisclosure {
        RecordDisclosure {
            volunteer: vid(1),
            fields: fields.to_vec(),
            reason: Text::parse("reason", reason, 10_000).unwrap(),
        }
    }

    const READABLE: DisclosureFacts = DisclosureFacts {
        registered: true,
        erased: false,
    };

    #[test]
    fn a_disclosure_records_the_fields_sorted_the_reason_and_the_receipt_time() {
        let events = Disclosures::default()
            .decide(
                &cmd(
                    &[DisclosedField::Phone, DisclosedField::Name],
                    "核实服务记录更正申请",
                ),
                &READABLE,
                &ctx(),
            )
            .unwrap();
        assert_eq!(
            events,
            vec![DisclosureEvent::Disclosed(PersonalDataDisclosed {
                volunteer_id: vid(1),
                fields: vec![DisclosedField::Name, DisclosedField::Phone],
                reason: Text::parse("reason", "核实服务记录更正申请", 100).unwrap(),
                disclosed_at: ctx().received_at,
            })]
        );
        let mut state = Disclosures::default();
        state.evolve(&events[0]);
        state.evolve(&events[0]);
        assert_eq!(state.count, 2);
    }

    #[test]
    fn a_disclosure_without_a_real_reason_or_fields_is_refused_naming_the_field() {
        let d = Disclosures::default();
        let short = d
            .decide(&cmd(&[DisclosedField::Name], "查看"), &READABLE, &ctx())
            .unwrap_err();
        assert_eq!(
            (short.kind, short.field.as_str()),
            (ErrorKind::InvalidArgument, "reason")
        );
        let long = d
            .decide(
                &cmd(&[DisclosedField::Name], &"因".repeat(REASON_MAX_CHARS + 1)),
                &READABLE,
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(long.field, "reason");
        let none = d
            .decide(&cmd(&[], "核实身份信息"), &READABLE, &ctx())
            .unwrap_err();
        assert_eq!(none.field, "fields");
        let twice = d
            .decide(
                &cmd(
                    &[DisclosedField::Phone, DisclosedField::Phone],
                    "核实身份信息",
                ),
                &READABLE,
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(twice.field, "fields");
    }

    #[test]
    fn an_erased_or_unknown_person_cannot_be_disclosed() {
        let d = Disclosures::default();
        let c = cmd(&[DisclosedField::Name], "核实身份信息");
        let erased = d
            .decide(
                &c,
                &DisclosureFacts {
                    registered: true,
                    erased: true,
                },
                &ctx(),
            )
            .unwrap_err();
        assert_eq!(erased.kind, ErrorKind::RuleViolation);
        let unknown = d
            .decide(&c, &DisclosureFacts::default(), &ctx())
            .unwrap_err();
        assert_eq!(unknown.kind, ErrorKind::NotFound);
    }

    #[test]
    fn field_names_parse_and_unknown_ones_name_the_field() {
        for f in DisclosedField::ALL {
            assert_eq!(DisclosedField::parse("fields", f.as_str()).unwrap(), f);
        }
        assert_eq!(
            DisclosedField::parse("fields[1]", "birth_date")
                .unwrap_err()
                .field,
            "fields[1]"
        );
    }

    #[test]
    fn golden_json_of_every_disclosure_event() {
        let e = DisclosureEvent::Disclosed(PersonalDataDisclosed {
            volunteer_id: vid(1),
            fields: vec![DisclosedField::Name, DisclosedField::DocumentNumber],
            reason: Text::parse("reason", "核实服务记录更正申请", 100).unwrap(),
            disclosed_at: ctx().received_at,
        });
        let json = r#"{"volunteer_id":"00000000-0000-0000-0000-000000000001","fields":["name","document_number"],"reason":"核实服务记录更正申请","disclosed_at":"2024-06-01T02:00:00Z"}"#;
        assert_eq!(e.event_type(), "PersonalDataDisclosed");
        assert_eq!(e.schema_version(), 1);
        assert_eq!(e.to_payload().unwrap(), json);
        assert_eq!(
            DisclosureEvent::from_payload("PersonalDataDisclosed", 1, json).unwrap(),
            e
        );
    }
}

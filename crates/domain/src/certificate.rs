//! # Service certificate (志愿服务证明) — "谁组织谁记录，谁记录谁证明" (志愿服务记录与证明出具办法)
//!
//! Policy of this module:
//! - Stream category `"certificate"`, instance id = [`CertificateId`]. A certificate is issued once.
//! - **Who certifies.** The issuing team certifies only activities it recorded itself: every included
//!   activity must exist, be recorded by the issuing team, not be voided, and include the volunteer as a
//!   participant ([`CertificateFacts`]). An activity is listed once; an activity dated after `issued_on` is
//!   rejected, and `issued_on` cannot be after the receipt date (Asia/Shanghai).
//! - **Content.** The certificate number is unique (the application checks the number index and passes
//!   [`CertificateFacts::number_in_use`]); it is 1-64 characters without whitespace. Total minutes = the
//!   sum of the volunteer's minutes in the included activities (current revision of each).
//! - **Verifiable hash.** [`CertificateIssued::sha256`] is the lowercase hex SHA-256 of the UTF-8
//!   [`canonical_text`]:
//!   ```text
//!   volunteer-ledger certificate v1
//!   number:<number>
//!   volunteer:<volunteer uuid, lowercase hyphenated>
//!   team:<issuing team uuid>
//!   issued_on:<YYYY-MM-DD>
//!   activity:<activity uuid>,<YYYY-MM-DD>,<minutes>     (one line each, ordered by date then id)
//!   total_minutes:<sum>
//!   ```
//!   every line ending in `\n`. Anyone holding the certificate's data can recompute it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::activity::Activity;
use crate::aggregate::{Aggregate, Decision};
use crate::campaign::shanghai_date;
use crate::domain_events;
use crate::error::DomainError;
use crate::ids::{ActivityId, CertificateId, TeamId, Text, VolunteerId};

pub const NUMBER_MAX_CHARS: usize = 64;
/// Most activities on one certificate.
pub const MAX_ACTIVITIES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueCertificate {
    pub certificate: CertificateId,
    pub number: Text,
    pub volunteer: VolunteerId,
    pub issuing_team: TeamId,
    pub activities: Vec<ActivityId>,
    pub issued_on: NaiveDate,
}

/// What the application layer loads: whether the number is taken, and every included activity replayed
/// from its `activity` stream (a missing key means not recorded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateFacts {
    pub number_in_use: bool,
    pub activities: BTreeMap<ActivityId, Activity>,
}

/// One certified activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedActivity {
    pub activity_id: ActivityId,
    pub date: NaiveDate,
    pub minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateIssued {
    pub certificate_id: CertificateId,
    pub number: Text,
    pub volunteer_id: VolunteerId,
    pub issuing_team_id: TeamId,
    /// Ordered by date, then activity id.
    pub activities: Vec<CertifiedActivity>,
    pub total_minutes: u64,
    pub issued_on: NaiveDate,
    /// Lowercase hex SHA-256 of [`canonical_text`].
    pub sha256: String,
}

impl CertificateIssued {
    /// The hash recomputed from the content matches the stored one.
    pub fn verify(&self) -> bool {
        certificate_hash(&canonical_text(
            &self.number,
            self.volunteer_id,
            self.issuing_team_id,
            self.issued_on,
            &self.activities,
        )) == self.sha256
    }
}

domain_events! {
    /// Events of a certificate.
    pub enum CertificateEvent {
        Issued(CertificateIssued) = ("CertificateIssued", 1),
    }
}

/// The canonical text the certificate hash is computed over (see the module doc).
pub fn canonical_text(
    number: &Text,
    volunteer: VolunteerId,
    team: TeamId,
    issued_on: NaiveDate,
    activities: &[CertifiedActivity],
) -> String {
    let mut s = String::new();
    let total: u64 = activities.iter().map(|a| u64::from(a.minutes)).sum();
    // Writing to a String cannot fail.
    let _ = writeln!(s, "volunteer-ledger certificate v1");
    let _ = writeln!(s, "number:{number}");
    let _ = writeln!(s, "volunteer:{volunteer}");
    let _ = writeln!(s, "team:{team}");
    let _ = writeln!(s, "issued_on:{issued_on}");
    for a in activities {
        let _ = writeln!(s, "activity:{},{},{}", a.activity_id, a.date, a.minutes);
    }
    let _ = writeln!(s, "total_minutes:{total}");
    s
}

/// Lowercase hex SHA-256 of a canonical text.
pub fn certificate_hash(canonical: &str) -> String {
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// The certificate aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Certificate {
    issued: Option<CertificateIssued>,
}

impl Certificate {
    pub fn issued(&self) -> Option<&CertificateIssued> {
        self.issued.as_ref()
    }
}

impl Aggregate for Certificate {
    const CATEGORY: &'static str = "certificate";
    type Command = IssueCertificate;
    type Event = CertificateEvent;
    type Facts = CertificateFacts;

    fn decide(
        &self,
        c: &IssueCertificate,
        facts: &CertificateFacts,
        ctx: &Decision,
    ) -> Result<Vec<CertificateEvent>, DomainError> {
        if self.issued.is_some() {
            return Err(DomainError::already_exists(
                "certificate",
                "the certificate is issued already",
            ));
        }
        c.number.check_max("number", NUMBER_MAX_CHARS)?;
        if c.number.as_str().chars().any(char::is_whitespace) {
            return Err(DomainError::invalid(
                "number",
                "must not contain whitespace",
            ));
        }
        if facts.number_in_use {
            return Err(DomainError::already_exists(
                "number",
                format!("certificate number {} is in use", c.number),
            ));
        }
        let today = shanghai_date(ctx.received_at);
        if c.issued_on > today {
            return Err(DomainError::invalid(
                "issued_on",
                format!(
                    "{} is after the receipt date {today} (Asia/Shanghai)",
                    c.issued_on
                ),
            ));
        }
        if c.activities.is_empty() || c.activities.len() > MAX_ACTIVITIES {
            return Err(DomainError::invalid(
                "activities",
                format!("a certificate lists 1 to {MAX_ACTIVITIES} activities"),
            ));
        }
        let mut certified = Vec::with_capacity(c.activities.len());
        for (i, id) in c.activities.iter().enumerate() {
            let field = format!("activities[{i}]");
            if c.activities[..i].contains(id) {
                return Err(DomainError::invalid(
                    field,
                    format!("activity {id} is listed twice"),
                ));
            }
            let Some(a) = facts.activities.get(id).filter(|a| a.id() == Some(*id)) else {
                return Err(DomainError::not_found(
                    field,
                    format!("activity {id} is not recorded"),
                ));
            };
            if a.is_voided() {
                return Err(DomainError::lifecycle(
                    field,
                    format!("activity {id} is voided"),
                ));
            }
            if a.team() != Some(c.issuing_team) {
                return Err(DomainError::lifecycle(
                    field,
                    format!(
                        "activity {id} was recorded by another team; who records certifies (谁记录谁证明)"
                    ),
                ));
            }
            let Some(minutes) = a.minutes_of(c.volunteer) else {
                return Err(DomainError::lifecycle(
                    field,
                    format!(
                        "volunteer {} did not take part in activity {id}",
                        c.volunteer
                    ),
                ));
            };
            let Some(date) = a.date().filter(|d| *d <= c.issued_on) else {
                return Err(DomainError::invalid(
                    field,
                    format!(
                        "activity {id} is dated after the issue date {}",
                        c.issued_on
                    ),
                ));
            };
            certified.push(CertifiedActivity {
                activity_id: *id,
                date,
                minutes,
            });
        }
        certified.sort_by_key(|a| (a.date, a.activity_id));
        let total_minutes = certified.iter().map(|a| u64::from(a.minutes)).sum();
        let sha256 = certificate_hash(&canonical_text(
            &c.number,
            c.volunteer,
            c.issuing_team,
            c.issued_on,
            &certified,
        ));
        Ok(vec![CertificateEvent::Issued(CertificateIssued {
            certificate_id: c.certificate,
            number: c.number.clone(),
            volunteer_id: c.volunteer,
            issuing_team_id: c.issuing_team,
            activities: certified,
            total_minutes,
            issued_on: c.issued_on,
            sha256,
        })])
    }

    fn evolve(&mut self, event: &CertificateEvent) {
        match event {
            CertificateEvent::Issued(e) => self.issued = Some(e.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::tests::{act_id, details};
    use crate::activity::{ActivityEvent, ActivityRecorded, ActivityVoided};
    use crate::event::DomainEvent;
    use crate::team::tests::team_id;
    use crate::volunteer::tests::{d, vol_id};
    use crate::{ErrorKind, RuleId};
    use proptest::prelude::*;

    fn ctx() -> Decision {
        Decision {
            received_at: chrono::DateTime::parse_from_rfc3339("2024-06-01T02:00:00Z")
                .unwrap()
                .to_utc(),
        }
    }
    fn text(s: &str) -> Text {
        Text::parse("t", s, 1000).unwrap()
    }
    fn activity(n: u128, date: &str, team: u128, parts: &[(u128, u32)], voided: bool) -> Activity {
        let mut det = details(date, parts);
        det.team_id = team_id(team);
        let mut events = vec![ActivityEvent::Recorded(ActivityRecorded {
            activity_id: act_id(n),
            details: det,
        })];
        if voided {
            events.push(ActivityEvent::Voided(ActivityVoided {
                reason: text("重复"),
            }));
        }
        Activity::replay(&events)
    }
    /// Activities of team 1: #1 (v1 60 min), #2 (v1 90 min, v2 30), #3 other team, #4 voided, #5 without v1.
    fn facts() -> CertificateFacts {
        CertificateFacts {
            number_in_use: false,
            activities: [
                activity(1, "2024-03-24", 1, &[(1, 60)], false),
                activity(2, "2024-03-05", 1, &[(1, 90), (2, 30)], false),
                activity(3, "2024-04-01", 2, &[(1, 60)], false),
                activity(4, "2024-04-02", 1, &[(1, 60)], true),
                activity(5, "2024-04-03", 1, &[(2, 60)], false),
            ]
            .into_iter()
            .map(|a| (a.id().unwrap(), a))
            .collect(),
        }
    }
    fn issue(acts: &[u128]) -> IssueCertificate {
        IssueCertificate {
            certificate: CertificateId(uuid::Uuid::from_u128(77)),
            number: text("SX-2024-000123"),
            volunteer: vol_id(1),
            issuing_team: team_id(1),
            activities: acts.iter().map(|n| act_id(*n)).collect(),
            issued_on: d("2024-05-31"),
        }
    }
    fn rejected(c: &IssueCertificate, f: &CertificateFacts) -> DomainError {
        Certificate::default().decide(c, f, &ctx()).unwrap_err()
    }

    #[test]
    fn who_records_certifies_total_minutes_is_the_sum_in_date_order() {
        let events = Certificate::default()
            .decide(&issue(&[1, 2]), &facts(), &ctx())
            .unwrap();
        let CertificateEvent::Issued(e) = &events[0];
        assert_eq!(e.total_minutes, 150);
        assert_eq!(e.activities[0].activity_id, act_id(2));
        assert_eq!(e.activities[0].date, d("2024-03-05"));
        assert_eq!(e.activities[1].minutes, 60);
        assert!(e.verify());
        let s = Certificate::replay(&events);
        assert_eq!(s.issued(), Some(e));
    }

    #[test]
    fn who_records_certifies_an_activity_of_another_team_is_rejected() {
        let e = rejected(&issue(&[1, 3]), &facts());
        assert_eq!(
            (e.rule, e.field.as_str()),
            (RuleId::LIFECYCLE, "activities[1]")
        );
        assert!(e.reason.contains("another team"));
    }

    #[test]
    fn a_voided_activity_is_not_certified() {
        let e = rejected(&issue(&[4]), &facts());
        assert_eq!(e.field, "activities[0]");
        assert!(e.reason.contains("voided"));
    }

    #[test]
    fn an_activity_the_volunteer_did_not_take_part_in_is_rejected() {
        let e = rejected(&issue(&[1, 5]), &facts());
        assert_eq!(e.field, "activities[1]");
        assert!(e.reason.contains("did not take part"));
    }

    #[test]
    fn unknown_duplicate_or_no_activities_are_rejected() {
        assert_eq!(rejected(&issue(&[9]), &facts()).kind, ErrorKind::NotFound);
        assert_eq!(rejected(&issue(&[1, 1]), &facts()).field, "activities[1]");
        assert_eq!(rejected(&issue(&[]), &facts()).field, "activities");
    }

    #[test]
    fn an_activity_after_the_issue_date_or_an_issue_date_after_today_is_rejected() {
        let mut c = issue(&[1]);
        c.issued_on = d("2024-03-23");
        assert_eq!(rejected(&c, &facts()).field, "activities[0]");
        c.issued_on = d("2024-06-02");
        assert_eq!(rejected(&c, &facts()).field, "issued_on");
    }

    #[test]
    fn the_number_is_unique_and_without_whitespace() {
        let mut f = facts();
        f.number_in_use = true;
        let e = rejected(&issue(&[1]), &f);
        assert_eq!(
            (e.kind, e.field.as_str()),
            (ErrorKind::AlreadyExists, "number")
        );
        let mut c = issue(&[1]);
        c.number = text("SX 2024");
        assert_eq!(rejected(&c, &facts()).field, "number");
    }

    #[test]
    fn issuing_twice_is_rejected() {
        let events = Certificate::default()
            .decide(&issue(&[1]), &facts(), &ctx())
            .unwrap();
        let s = Certificate::replay(&events);
        assert_eq!(
            s.decide(&issue(&[1]), &facts(), &ctx()).unwrap_err().kind,
            ErrorKind::AlreadyExists
        );
    }

    #[test]
    fn the_hash_is_sha256_of_the_documented_canonical_text() {
        let acts = [CertifiedActivity {
            activity_id: act_id(2),
            date: d("2024-03-05"),
            minutes: 90,
        }];
        let t = canonical_text(&text("SX-1"), vol_id(1), team_id(1), d("2024-05-31"), &acts);
        assert_eq!(
            t,
            "volunteer-ledger certificate v1\nnumber:SX-1\nvolunteer:00000000-0000-0000-0000-000000000001\nteam:00000000-0000-0000-0000-000000000001\nissued_on:2024-05-31\nactivity:00000000-0000-0000-0000-000000000002,2024-03-05,90\ntotal_minutes:90\n"
        );
        // sha256("abc") is the FIPS 180-2 test vector
        assert_eq!(
            certificate_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_tampered_certificate_fails_verification() {
        let events = Certificate::default()
            .decide(&issue(&[1, 2]), &facts(), &ctx())
            .unwrap();
        let CertificateEvent::Issued(mut e) = events[0].clone();
        e.activities[0].minutes += 1;
        assert!(!e.verify());
    }

    #[test]
    fn golden_json_of_the_certificate_event() {
        let acts = vec![CertifiedActivity {
            activity_id: act_id(2),
            date: d("2024-03-05"),
            minutes: 90,
        }];
        let sha = certificate_hash(&canonical_text(
            &text("SX-1"),
            vol_id(1),
            team_id(1),
            d("2024-05-31"),
            &acts,
        ));
        let e = CertificateEvent::Issued(CertificateIssued {
            certificate_id: CertificateId(uuid::Uuid::from_u128(77)),
            number: text("SX-1"),
            volunteer_id: vol_id(1),
            issuing_team_id: team_id(1),
            activities: acts,
            total_minutes: 90,
            issued_on: d("2024-05-31"),
            sha256: sha.clone(),
        });
        let json = format!(
            r#"{{"certificate_id":"00000000-0000-0000-0000-00000000004d","number":"SX-1","volunteer_id":"00000000-0000-0000-0000-000000000001","issuing_team_id":"00000000-0000-0000-0000-000000000001","activities":[{{"activity_id":"00000000-0000-0000-0000-000000000002","date":"2024-03-05","minutes":90}}],"total_minutes":90,"issued_on":"2024-05-31","sha256":"{sha}"}}"#
        );
        assert_eq!(e.event_type(), "CertificateIssued");
        assert_eq!(e.schema_version(), 1);
        assert_eq!(e.to_payload().unwrap(), json);
        assert_eq!(
            CertificateEvent::from_payload("CertificateIssued", 1, &json).unwrap(),
            e
        );
        assert_eq!(sha.len(), 64);
        assert_eq!(CertificateEvent::TYPES.len(), 1);
    }

    proptest! {
        #[test]
        fn issued_certificates_verify_and_sum_their_minutes(
            picks in proptest::collection::vec(1u128..6, 1..6),
        ) {
            let f = facts();
            match Certificate::default().decide(&issue(&picks), &f, &ctx()) {
                Ok(events) => {
                    let s = Certificate::replay(&events);
                    let e = s.issued().unwrap();
                    prop_assert!(e.verify());
                    let sum: u64 = picks.iter()
                        .map(|n| u64::from(f.activities[&act_id(*n)].minutes_of(vol_id(1)).unwrap()))
                        .sum();
                    prop_assert_eq!(e.total_minutes, sum);
                    for a in &e.activities {
                        let act = &f.activities[&a.activity_id];
                        prop_assert_eq!(act.team(), Some(team_id(1)));
                        prop_assert!(!act.is_voided());
                    }
                }
                Err(_) => prop_assert!(
                    picks.iter().any(|n| [3, 4, 5].contains(n))
                        || (1..picks.len()).any(|i| picks[..i].contains(&picks[i]))
                ),
            }
        }
    }
}

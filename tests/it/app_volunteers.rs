//! The application layer on volunteers: personal data sealed before it reaches the log, one
//! registration per person, A7 and GB 11643 at the door, erasure by crypto-shredding, retries, scope.

use app::{ErrorCode, RegisterVolunteerInput, Role, VolunteerInput};
use chrono::NaiveDate;
use domain::identity::DocumentKind;
use domain::ids::{CampaignId, RegionCode, Text, VolunteerId};
use domain::volunteer::{Attestation, EraseVolunteer, ReserveTier, VolunteerCommand};
use eventstore::Token;

use crate::support::{TestLedger, count_events, ctx, ledger, resident_id};

const NAME: &str = "张三丰";
const PHONE: &str = "13589971234";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn registration(id: VolunteerId, number: &str) -> RegisterVolunteerInput {
    RegisterVolunteerInput {
        volunteer: id,
        document_kind: DocumentKind::ResidentIdCard,
        document_number: number.to_owned(),
        declared_birth_date: None,
        name: NAME.to_owned(),
        phone: Some(PHONE.to_owned()),
        home_region: RegionCode::parse("home_region", "330602").unwrap(),
        attestation: Attestation {
            law_abiding: true,
            capable: true,
            understands_tb_core_messages: true,
        },
        skills: vec![Text::parse("skills[0]", "健康宣教", 50).unwrap()],
        reserve_tier: ReserveTier::FirstEchelon,
        registered_on: date(2024, 5, 20),
    }
}

async fn setup() -> TestLedger {
    ledger(CampaignId(uuid::Uuid::new_v4())).await
}

async fn key_rows(t: &TestLedger) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM person_keys")
        .fetch_one(t.ledger.store().pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn registration_seals_personal_data_before_it_reaches_the_log_and_shows_it_masked() {
    let t = setup().await;
    let number = resident_id("330602", "19900307", "123");
    let id = VolunteerId(uuid::Uuid::new_v4());
    let cdc = ctx(Role::CountyCdc, &["330602"], &[]);
    let out = t
        .ledger
        .volunteer(&cdc, VolunteerInput::Register(registration(id, &number)))
        .await
        .unwrap();
    assert_eq!((out.version, out.replayed), (1, false));
    for plaintext in [NAME, &number, PHONE, "19900307", "1990-03-07"] {
        let hits: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%' OR metadata::text LIKE '%' || $1 || '%'")
            .bind(plaintext)
            .fetch_one(t.ledger.store().pool())
            .await
            .unwrap();
        assert_eq!(hits, 0, "{plaintext:?} must not appear in the log");
    }
    let view = t.ledger.volunteer_view(&cdc.actor, id).await.unwrap();
    assert!(!view.erased);
    assert_eq!(view.masked_name.as_deref(), Some("张**"));
    assert_eq!(view.masked_phone.as_deref(), Some("1358997****"));
    assert_eq!(
        view.masked_document_number.as_deref(),
        Some(format!("330602********{}", &number[14..]).as_str())
    );
    let metadata: String = sqlx::query_scalar("SELECT metadata::text FROM events")
        .fetch_one(t.ledger.store().pool())
        .await
        .unwrap();
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["actor"], cdc.actor.subject.as_str());
    assert_eq!(metadata["subject_region"], "330602");
    assert_eq!(metadata["command"], "RegisterVolunteer");
}

#[tokio::test]
async fn one_registration_per_person_a_second_with_the_same_document_writes_nothing() {
    let t = setup().await;
    let number = resident_id("330602", "19851111", "002");
    let cdc = ctx(Role::CountyCdc, &["330602"], &[]);
    t.ledger
        .volunteer(
            &cdc,
            VolunteerInput::Register(registration(VolunteerId(uuid::Uuid::new_v4()), &number)),
        )
        .await
        .unwrap();
    let again = registration(VolunteerId(uuid::Uuid::new_v4()), &number.to_lowercase());
    let err = t
        .ledger
        .volunteer(
            &ctx(Role::CountyCdc, &["330602"], &[]),
            VolunteerInput::Register(again),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::AlreadyExists);
    assert_eq!(err.field.as_deref(), Some("document.number"));
    assert_eq!(count_events(t.ledger.store()).await, 1);
    assert_eq!(
        key_rows(&t).await,
        1,
        "no key was created for the refused registration"
    );
}

#[tokio::test]
async fn a7_a_person_under_18_on_the_registration_date_is_refused_and_nothing_is_written() {
    let t = setup().await;
    // Born 2006-05-21: turns 18 the day after the registration date 2024-05-20.
    let mut input = registration(
        VolunteerId(uuid::Uuid::new_v4()),
        &resident_id("330602", "20060521", "011"),
    );
    input.registered_on = date(2024, 5, 20);
    let err = t
        .ledger
        .volunteer(
            &ctx(Role::CountyCdc, &["330602"], &[]),
            VolunteerInput::Register(input.clone()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.rule.as_deref()),
        (ErrorCode::RuleViolation, Some("A7")),
        "{err:?}"
    );
    assert_eq!(count_events(t.ledger.store()).await, 0);
    assert_eq!(
        key_rows(&t).await,
        0,
        "the key created for the refused registration was forgotten"
    );
    // The next day they are 18: accepted.
    input.registered_on = date(2024, 5, 21);
    t.ledger
        .volunteer(
            &ctx(Role::CountyCdc, &["330602"], &[]),
            VolunteerInput::Register(input),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn gb11643_a_wrong_check_digit_is_refused_naming_the_document_number() {
    let t = setup().await;
    let good = resident_id("330602", "19900307", "123");
    let bad_check = if good.ends_with('0') { '1' } else { '0' };
    let bad = format!("{}{bad_check}", &good[..17]);
    let err = t
        .ledger
        .volunteer(
            &ctx(Role::CountyCdc, &["330602"], &[]),
            VolunteerInput::Register(registration(VolunteerId(uuid::Uuid::new_v4()), &bad)),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.rule.as_deref(), err.field.as_deref()),
        (
            ErrorCode::InvalidArgument,
            Some("GB11643"),
            Some("document.number")
        )
    );
    assert_eq!(count_events(t.ledger.store()).await, 0);
}

#[tokio::test]
async fn a_county_cdc_cannot_register_a_volunteer_of_another_county() {
    let t = setup().await;
    let input = registration(
        VolunteerId(uuid::Uuid::new_v4()),
        &resident_id("330602", "19900307", "123"),
    );
    let err = t
        .ledger
        .volunteer(
            &ctx(Role::CountyCdc, &["330603"], &[]),
            VolunteerInput::Register(input.clone()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    for role in [
        Role::Auditor,
        Role::Supervisor,
        Role::HealthBureauApprover,
        Role::TeamLeader,
    ] {
        let err = t
            .ledger
            .volunteer(
                &ctx(role, &["330602"], &[]),
                VolunteerInput::Register(input.clone()),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Forbidden, "{role:?}");
    }
    assert_eq!(count_events(t.ledger.store()).await, 0);
    assert_eq!(key_rows(&t).await, 0);
    // The city CDC covers the county.
    t.ledger
        .volunteer(
            &ctx(Role::CityCdc, &["330600"], &[]),
            VolunteerInput::Register(input),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_retried_registration_returns_the_first_result_and_a_changed_body_is_refused() {
    let t = setup().await;
    let id = VolunteerId(uuid::Uuid::new_v4());
    let number = resident_id("330602", "19900307", "123");
    let cdc = ctx(Role::CountyCdc, &["330602"], &[]);
    let first = t
        .ledger
        .volunteer(&cdc, VolunteerInput::Register(registration(id, &number)))
        .await
        .unwrap();
    let again = t
        .ledger
        .volunteer(&cdc, VolunteerInput::Register(registration(id, &number)))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!((again.token, again.version), (first.token, first.version));
    let mut changed = registration(id, &number);
    changed.phone = Some("13800000000".into());
    let err = t
        .ledger
        .volunteer(&cdc, VolunteerInput::Register(changed))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::AlreadyExists, Some("idempotency_key"))
    );
    assert_eq!(count_events(t.ledger.store()).await, 1);
}

#[tokio::test]
async fn erasure_destroys_the_key_keeps_the_chain_and_frees_the_document() {
    let t = setup().await;
    let id = VolunteerId(uuid::Uuid::new_v4());
    let number = resident_id("330602", "19900307", "123");
    let cdc = ctx(Role::CountyCdc, &["330602"], &[]);
    t.ledger
        .volunteer(&cdc, VolunteerInput::Register(registration(id, &number)))
        .await
        .unwrap();
    let found = t
        .ledger
        .find_volunteer_by_document(&cdc.actor, DocumentKind::ResidentIdCard, &number, None)
        .await
        .unwrap();
    assert_eq!(found, Some(id));

    let erase = VolunteerInput::Other {
        volunteer: id,
        command: VolunteerCommand::Erase(EraseVolunteer {
            reason: Text::parse("reason", "本人申请删除个人信息", 200).unwrap(),
        }),
    };
    let erase_ctx = ctx(Role::CountyCdc, &["330602"], &[]);
    t.ledger.volunteer(&erase_ctx, erase.clone()).await.unwrap();

    let view = t.ledger.volunteer_view(&cdc.actor, id).await.unwrap();
    assert!(view.erased);
    assert_eq!(
        (
            view.masked_name,
            view.masked_phone,
            view.masked_document_number
        ),
        (None, None, None)
    );
    assert_eq!(key_rows(&t).await, 0);
    let stream = format!("volunteer-{id}");
    assert_eq!(
        t.ledger
            .store()
            .verify_stream(&stream)
            .await
            .unwrap()
            .first_mismatch,
        None
    );
    assert_eq!(
        t.ledger
            .store()
            .verify_range(Token::START)
            .await
            .unwrap()
            .first_mismatch,
        None
    );
    assert_eq!(
        count_events(t.ledger.store()).await,
        2,
        "the registration event stays; erasure adds one"
    );
    assert_eq!(
        t.ledger
            .find_volunteer_by_document(&cdc.actor, DocumentKind::ResidentIdCard, &number, None)
            .await
            .unwrap(),
        None
    );
    // Retrying the erasure is harmless; further commands on the erased volunteer are refused.
    assert!(
        t.ledger
            .volunteer(&erase_ctx, erase)
            .await
            .unwrap()
            .replayed
    );
    // The document is free again: the person may register anew under a new id.
    t.ledger
        .volunteer(
            &ctx(Role::CountyCdc, &["330602"], &[]),
            VolunteerInput::Register(registration(VolunteerId(uuid::Uuid::new_v4()), &number)),
        )
        .await
        .unwrap();
}

//! Unmasking personal data for a recorded reason (PIPL; DOMAIN.md: the auditor "unmasks personal data
//! only with a recorded reason"): the disclosure is in the log — who, which fields, why — before
//! anything is shown; only the fields asked for are shown; without a reason, out of scope, for a role
//! that may not, or after erasure, nothing is shown and nothing is recorded.

use app::Role;
use grpc_api::pb;
use pb::volunteer_service_client::VolunteerServiceClient;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::api_support::TestService;
use crate::support::resident_id;

const NAME: &str = "披露测试员司马";
const PHONE: &str = "13911112222";

async fn post(
    svc: &TestService,
    path: &str,
    bearer: &str,
    body: &Value,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let res = Client::new()
        .post(format!("{}{path}", svc.http))
        .header("authorization", bearer)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

/// A volunteer of 越城区 with a name, an ID number and a phone; its id.
async fn register(svc: &TestService) -> (uuid::Uuid, String) {
    let v = uuid::Uuid::new_v4();
    let document = resident_id("330602", "19880215", "536");
    let (status, body, _) = post(
        svc,
        "/api/v1/volunteers",
        &svc.dev_bearer(Role::CountyCdc),
        &json!({
            "volunteer_id": v, "document_kind": "resident_id_card", "document_number": document,
            "name": NAME, "phone": PHONE, "home_region": "330602",
            "attestation": {"law_abiding": true, "capable": true, "understands_tb_core_messages": true},
            "registered_on": "2025-01-03"
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (v, document)
}

async fn disclosures_in_log(svc: &TestService, v: uuid::Uuid) -> Vec<eventstore::RecordedEvent> {
    svc.ledger()
        .store()
        .read_stream(&format!("disclosure-{v}"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmasking_records_who_which_fields_and_why_before_showing_only_those_fields() {
    let svc = TestService::start().await;
    let (v, document) = register(&svc).await;
    let county = svc.dev_bearer(Role::CountyCdc);
    let reason = "核实服务记录更正申请中的本人身份";
    let (status, body, headers) = post(
        &svc,
        &format!("/api/v1/volunteers/{v}/disclosures"),
        &county,
        &json!({"fields": ["name", "document_number"], "reason": reason}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], NAME);
    assert_eq!(body["document_number"], document);
    assert_eq!(body["phone"], Value::Null, "not asked for, not shown");
    assert_eq!(body["fields"], json!(["name", "document_number"]));
    assert_eq!(headers["cache-control"], "no-store");

    let log = disclosures_in_log(&svc, v).await;
    assert_eq!(log.len(), 1);
    let e = &log[0];
    assert_eq!(e.event_type, "PersonalDataDisclosed");
    assert_eq!(body["token"], e.token.to_string());
    let payload: Value = serde_json::from_str(&e.payload).unwrap();
    assert_eq!(payload["reason"], reason);
    assert_eq!(payload["fields"], json!(["name", "document_number"]));
    let metadata: Value = serde_json::from_str(&e.metadata).unwrap();
    assert_eq!(metadata["actor"], svc.dev_actor(Role::CountyCdc).subject);
    assert_eq!(metadata["role"], "county_cdc");
    assert_eq!(metadata["command"], "UnmaskPersonalData");
    assert_eq!(metadata["subject_region"], "330602");
    for text in [&e.payload, &e.metadata] {
        assert!(!text.contains(NAME) && !text.contains(&document) && !text.contains(PHONE));
    }

    // The auditor finds it in the audit history (A20), and may unmask too — over gRPC.
    let auditor = svc.dev_bearer(Role::Auditor);
    let history: Value = Client::new()
        .get(format!(
            "{}/api/v1/audit/history?stream_id=disclosure-{v}&min_token={}",
            svc.http, e.token
        ))
        .header("authorization", &auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        history["items"][0]["command"], "UnmaskPersonalData",
        "{history}"
    );
    assert_eq!(
        history["items"][0]["actor"],
        svc.dev_actor(Role::CountyCdc).subject
    );

    let channel = Channel::from_shared(svc.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = VolunteerServiceClient::new(channel);
    let mut request = Request::new(pb::DisclosePersonalDataRequest {
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        volunteer_id: v.to_string(),
        fields: vec![pb::DisclosedField::Phone.into()],
        reason: "审计抽查联系方式的真实性".to_owned(),
    });
    request
        .metadata_mut()
        .insert("authorization", auditor.parse().unwrap());
    let shown = client
        .disclose_personal_data(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shown.phone.as_deref(), Some(PHONE));
    assert_eq!((shown.name, shown.document_number), (None, None));
    let log = disclosures_in_log(&svc, v).await;
    assert_eq!(log.len(), 2);
    let metadata: Value = serde_json::from_str(&log[1].metadata).unwrap();
    assert_eq!(metadata["role"], "auditor");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmasking_without_a_reason_out_of_scope_by_the_wrong_role_or_after_erasure_shows_and_records_nothing()
 {
    let svc = TestService::start().await;
    let (v, _) = register(&svc).await;
    let path = format!("/api/v1/volunteers/{v}/disclosures");
    let county = svc.dev_bearer(Role::CountyCdc);
    let good = json!({"fields": ["name"], "reason": "核实本人身份信息"});

    for (body, field) in [
        (json!({"fields": ["name"], "reason": "查看"}), "reason"),
        (json!({"fields": ["name"], "reason": "   "}), "reason"),
        (
            json!({"fields": [], "reason": "核实本人身份信息"}),
            "fields",
        ),
        (
            json!({"fields": ["name", "name"], "reason": "核实本人身份信息"}),
            "fields",
        ),
    ] {
        let (status, answer, _) = post(&svc, &path, &county, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert_eq!(answer["field"], field, "{answer}");
        assert_eq!(answer["name"], Value::Null);
    }
    let (status, answer, _) = post(
        &svc,
        &path,
        &county,
        &json!({"fields": ["birth_date"], "reason": "核实本人身份信息"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // Roles that may not unmask, and a CDC of another county.
    for role in [
        Role::TeamLeader,
        Role::YouthLeague,
        Role::HealthBureauApprover,
    ] {
        let (status, answer, _) = post(&svc, &path, &svc.dev_bearer(role), &good).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}: {answer}");
    }
    let mut other_county = svc.dev_actor(Role::CountyCdc);
    other_county.regions = vec![domain::ids::RegionCode::parse("region", "330603").unwrap()];
    other_county.subject = "county-cdc-keqiao".to_owned();
    let (status, answer, _) = post(&svc, &path, &svc.bearer(&other_county), &good).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(
        disclosures_in_log(&svc, v).await.is_empty(),
        "nothing recorded"
    );

    // After erasure there is nothing to show, and nothing is recorded.
    let (status, answer, _) = post(
        &svc,
        &format!("/api/v1/volunteers/{v}/erase"),
        &county,
        &json!({"reason": "本人申请删除个人信息"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer, _) = post(&svc, &path, &county, &good).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["field"], "volunteer");
    assert!(disclosures_in_log(&svc, v).await.is_empty());

    // gRPC names the bad enum value's position.
    let channel = Channel::from_shared(svc.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = Request::new(pb::DisclosePersonalDataRequest {
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        volunteer_id: v.to_string(),
        fields: vec![pb::DisclosedField::Unspecified.into()],
        reason: "核实本人身份信息".to_owned(),
    });
    request
        .metadata_mut()
        .insert("authorization", county.parse().unwrap());
    let status = VolunteerServiceClient::new(channel)
        .disclose_personal_data(request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        status
            .metadata()
            .get("x-error-field")
            .unwrap()
            .to_str()
            .unwrap(),
        "fields[0]"
    );
    svc.stop().await;
}

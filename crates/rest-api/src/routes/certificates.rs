//! Service certificates: issue one from recorded activities. The domain checks that every activity was
//! recorded, that the volunteer served in it and that the number is unused; the hash is computed there.

use axum::extract::State;
use chrono::NaiveDate;
use domain::certificate::IssueCertificate;
use domain::ids::{ActivityId, CertificateId, TeamId, VolunteerId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, created};
use crate::RestState;
use crate::dto::{WriteAccepted, text};
use crate::extract::{Body, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new().routes(routes!(issue_certificate))
}

/// Issue a service certificate to a volunteer for recorded activities.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IssueCertificateRequest {
    pub certificate_id: Uuid,
    /// The certificate number printed on it (unique).
    pub number: String,
    pub volunteer_id: Uuid,
    pub issuing_team_id: Uuid,
    /// The activities the certificate covers.
    pub activity_ids: Vec<Uuid>,
    pub issued_on: NaiveDate,
}

#[utoipa::path(post, path = "/api/v1/certificates", tag = "certificates",
    request_body = IssueCertificateRequest,
    responses((status = 201, description = "Certificate issued", body = WriteAccepted)))]
async fn issue_certificate(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<IssueCertificateRequest>,
) -> Created {
    let command = IssueCertificate {
        certificate: CertificateId(r.certificate_id),
        number: text("number", &r.number)?,
        volunteer: VolunteerId(r.volunteer_id),
        issuing_team: TeamId(r.issuing_team_id),
        activities: r.activity_ids.into_iter().map(ActivityId).collect(),
        issued_on: r.issued_on,
    };
    created(s.ledger.issue_certificate(&ctx, command).await)
}

//! `CertificateService`: issue a service certificate from recorded activities. Conversion only.

use domain::certificate::IssueCertificate;
use domain::ids::{ActivityId, CertificateId, TeamId, VolunteerId};
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{date, text, uuid, uuids, written};
use crate::pb;
use crate::pb::certificate_service_server::CertificateService;

api!(CertificateApi);

#[tonic::async_trait]
impl CertificateService for CertificateApi {
    async fn issue_certificate(
        &self,
        request: Request<pb::IssueCertificateRequest>,
    ) -> Result<Response<pb::IssueCertificateResponse>, Status> {
        rpc!("CertificateService/IssueCertificate", {
            let (ctx, r) = context::command(&self.state, request)?;
            let command = IssueCertificate {
                certificate: CertificateId(uuid("certificate_id", &r.certificate_id)?),
                number: text("number", &r.number)?,
                volunteer: VolunteerId(uuid("volunteer_id", &r.volunteer_id)?),
                issuing_team: TeamId(uuid("issuing_team_id", &r.issuing_team_id)?),
                activities: uuids("activity_ids", &r.activity_ids)?
                    .into_iter()
                    .map(ActivityId)
                    .collect(),
                issued_on: date("issued_on", &r.issued_on)?,
            };
            let out = self.state.ledger.issue_certificate(&ctx, command).await?;
            Ok(pb::IssueCertificateResponse {
                result: written(out),
            })
        })
    }
}

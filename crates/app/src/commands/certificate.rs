//! Certificates (谁记录谁证明): the facts are every included activity; the number is unique across all
//! certificates through a claim taken in the same statement as the append.

use std::collections::BTreeMap;

use domain::activity::Activity;
use domain::campaign::shanghai_start_of_day;
use domain::certificate::{Certificate, CertificateFacts, IssueCertificate};
use domain::team::Team;

use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Prepared};
use crate::policy::{CommandKind, Subject};

/// Claim scope of certificate numbers.
pub const CERTIFICATE_NUMBER_CLAIM: &str = "certificate-number";

impl Ledger {
    /// Issue a service certificate from the issuing team's own records.
    pub async fn issue_certificate(
        &self,
        ctx: &CommandContext,
        command: IssueCertificate,
    ) -> Result<CommandOutcome, AppError> {
        let kind = CommandKind::IssueCertificate;
        let fingerprint = self.fingerprint(kind, &command);
        let result: Result<CommandOutcome, AppError> = async {
            let team = self.load::<Team>(&command.issuing_team.to_string()).await?;
            let Some(region) = team.state.region() else {
                return Err(AppError::not_found(
                    "issuing_team",
                    format!("team {} is not registered", command.issuing_team),
                ));
            };
            let number = command.number.as_str().to_owned();
            let number_in_use = self
                .store()
                .claim_holder(CERTIFICATE_NUMBER_CLAIM, &number)
                .await?
                .is_some();
            let ids: Vec<String> = command.activities.iter().map(ToString::to_string).collect();
            let mut activities = BTreeMap::new();
            for a in self.load_many::<Activity>(&ids).await? {
                if let Some(id) = a.state.id() {
                    activities.insert(id, a.state);
                }
            }
            let loaded = self
                .load::<Certificate>(&command.certificate.to_string())
                .await?;
            self.commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject: Subject {
                        region,
                        team: Some(command.issuing_team),
                    },
                    command: &command,
                    facts: &CertificateFacts {
                        number_in_use,
                        activities,
                    },
                    fingerprint,
                    claims: vec![eventstore::Claim {
                        scope: CERTIFICATE_NUMBER_CLAIM.into(),
                        key: number,
                    }],
                    occurred_at: shanghai_start_of_day(command.issued_on),
                },
            )
            .await
        }
        .await;
        self.or_replayed(ctx, fingerprint, result).await
    }
}

//! Annual summaries (A15, A16): the facts are the campaign's window and the deadline of the summary's year.

use domain::summary::{AnnualSummary, SummaryCommand, SummaryFacts};

use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Prepared};
use crate::policy::{CommandKind, Subject};

impl Ledger {
    /// Draft, revise, submit, approve, return, accept an annual summary.
    pub async fn summary(
        &self,
        ctx: &CommandContext,
        command: SummaryCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            SummaryCommand::Draft(_) => CommandKind::DraftSummary,
            SummaryCommand::Revise(_) => CommandKind::ReviseSummary,
            SummaryCommand::SubmitForApproval(_) => CommandKind::SubmitForApproval,
            SummaryCommand::Approve(_) => CommandKind::ApproveSummary,
            SummaryCommand::Return(_) => CommandKind::ReturnSummary,
            SummaryCommand::SubmitToCity(_) => CommandKind::SubmitToCity,
            SummaryCommand::Accept(_) => CommandKind::AcceptSummary,
            SummaryCommand::ReturnToCounty(_) => CommandKind::ReturnToCounty,
        };
        let fingerprint = self.fingerprint(kind, &command);
        let result: Result<CommandOutcome, AppError> = async {
            let key = command.summary();
            let campaign = self.campaign().await?;
            let window_year = campaign.year_in_window(key.year());
            let facts = SummaryFacts {
                // Outside the window there is no deadline; the domain rejects the year (A14) before using it.
                deadline: campaign
                    .summary_deadline(key.year())
                    .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
                year_in_window: window_year.is_some(),
                partial_year: window_year.is_some_and(|y| y.partial),
            };
            let loaded = self.load::<AnnualSummary>(&key.id()).await?;
            self.commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject: Subject {
                        region: key.county(),
                        team: None,
                    },
                    command: &command,
                    facts: &facts,
                    fingerprint,
                    claims: vec![],
                    occurred_at: None,
                },
            )
            .await
        }
        .await;
        self.or_replayed(ctx, fingerprint, result).await
    }
}

//! Yearly evaluations of a county by the city CDC (A17; A14 for the year).
//!
//! Loads: the evaluation's stream and the configured campaign, whose window tells whether the evaluated
//! year is one the campaign touches ([`EvaluationFacts::year_in_window`]). The subject is the evaluated
//! county (from the command's key).

use domain::evaluation::{Evaluation, EvaluationCommand, EvaluationFacts};

use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Prepared};
use crate::policy::{CommandKind, Subject};

impl Ledger {
    /// Record (or revise) the city CDC's evaluation of a county's year.
    pub async fn evaluation(
        &self,
        ctx: &CommandContext,
        command: EvaluationCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            EvaluationCommand::Record(_) => CommandKind::RecordEvaluation,
        };
        let fingerprint = self.fingerprint(kind, &command);
        let result: Result<CommandOutcome, AppError> = async {
            let key = command.evaluation();
            let facts = EvaluationFacts {
                year_in_window: self.campaign().await?.year_in_window(key.year()).is_some(),
            };
            let loaded = self.load::<Evaluation>(&key.id()).await?;
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

//! Typical cases (A18): a county nominates, the city selects and forwards to the province.
//!
//! Loads: the case's stream; for `Nominate` every related activity and then the teams that ran them (two
//! round trips), giving [`CaseFacts::activity_regions`] — the region of each activity's team. A voided
//! activity counts as absent: it cannot be what a case is about. The subject is the nominating county:
//! from the command for `Nominate`, from the stream otherwise (not found when never nominated).

use std::collections::BTreeMap;

use domain::activity::Activity;
use domain::ids::{ActivityId, RegionCode, TeamId};
use domain::team::Team;
use domain::typical_case::{CaseCommand, CaseFacts, TypicalCase};

use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Prepared};
use crate::policy::{CommandKind, Subject};

impl Ledger {
    /// Nominate, withdraw, select or forward a typical case.
    pub async fn typical_case(
        &self,
        ctx: &CommandContext,
        command: CaseCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            CaseCommand::Nominate(_) => CommandKind::NominateCase,
            CaseCommand::Withdraw(_) => CommandKind::WithdrawNomination,
            CaseCommand::Select(_) => CommandKind::SelectCase,
            CaseCommand::Forward(_) => CommandKind::ForwardToProvince,
        };
        let fingerprint = self.fingerprint(kind, &command);
        let result: Result<CommandOutcome, AppError> = async {
            let case = command.case();
            let loaded = self.load::<TypicalCase>(&case.to_string()).await?;
            let (county, facts) = match &command {
                CaseCommand::Nominate(c) => {
                    let regions = self.activity_regions(&c.activities, false).await?;
                    (
                        c.county,
                        CaseFacts {
                            activity_regions: regions
                                .into_iter()
                                .map(|(id, (region, _))| (id, region))
                                .collect(),
                        },
                    )
                }
                CaseCommand::Withdraw(_) | CaseCommand::Select(_) | CaseCommand::Forward(_) => {
                    let county = loaded.state.nomination().map(|n| n.county).ok_or_else(|| {
                        AppError::not_found("case", format!("case {case} was never nominated"))
                    })?;
                    (county, CaseFacts::default())
                }
            };
            self.commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject: Subject {
                        region: county,
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

    /// For each recorded activity of `ids` (voided ones only when `include_voided`), the region of the
    /// team that ran it, and the team. Absent: not recorded, voided (unless included), or team unknown.
    pub(crate) async fn activity_regions(
        &self,
        ids: &[ActivityId],
        include_voided: bool,
    ) -> Result<BTreeMap<ActivityId, (RegionCode, TeamId)>, AppError> {
        let activities = self.load_states::<Activity, _>(ids.iter().copied()).await?;
        let ran_by: BTreeMap<ActivityId, TeamId> = activities
            .iter()
            .filter(|(_, a)| include_voided || !a.is_voided())
            .filter_map(|(id, a)| a.team().map(|t| (*id, t)))
            .collect();
        let teams = self
            .load_states::<Team, _>(ran_by.values().copied())
            .await?;
        Ok(ran_by
            .into_iter()
            .filter_map(|(id, team)| {
                teams
                    .get(&team)
                    .and_then(Team::region)
                    .map(|r| (id, (r, team)))
            })
            .collect())
    }
}

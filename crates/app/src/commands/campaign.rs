//! Campaigns (A14 window, rule sets for A1/A3/A4/A5/A6/A16): define, amend the rules.
//!
//! Loads: the campaign's stream, and the host units its rule set names as relevant departments (A3), in
//! one round trip, into [`CampaignFacts`] (kind per registered unit). The subject is the campaign's city:
//! from the command for `Define`, from the stream for `AmendRules` (not found when undefined).
//!
//! Only `Define` carries the campaign id, so the handler takes it as an argument; a `Define` whose id
//! differs from it is refused.

use domain::campaign::{Campaign, CampaignCommand, CampaignFacts, RuleSet, shanghai_start_of_day};
use domain::host_unit::HostUnit;
use domain::ids::CampaignId;

use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Prepared};
use crate::policy::{CommandKind, Subject};

impl Ledger {
    /// Define campaign `campaign` or amend its rules.
    pub async fn campaign_command(
        &self,
        ctx: &CommandContext,
        campaign: CampaignId,
        command: CampaignCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            CampaignCommand::Define(_) => CommandKind::DefineCampaign,
            CampaignCommand::AmendRules(_) => CommandKind::AmendCampaignRules,
        };
        let fingerprint = self.fingerprint(kind, &(campaign, &command));
        let result: Result<CommandOutcome, AppError> = async {
            let loaded = self.load::<Campaign>(&campaign.to_string()).await?;
            let (city, rules, occurred_at) = match &command {
                CampaignCommand::Define(c) => {
                    if c.campaign != campaign {
                        return Err(AppError::invalid(
                            "campaign",
                            format!(
                                "the command defines {} but is addressed to {campaign}",
                                c.campaign
                            ),
                        ));
                    }
                    (c.city, &c.rules, shanghai_start_of_day(c.window_start))
                }
                CampaignCommand::AmendRules(c) => {
                    let city = loaded.state.city().ok_or_else(|| {
                        AppError::not_found(
                            "campaign",
                            format!("campaign {campaign} is not defined"),
                        )
                    })?;
                    (city, &c.rules, shanghai_start_of_day(c.effective_from))
                }
            };
            let facts = self.campaign_facts(rules).await?;
            self.commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject: Subject {
                        region: city,
                        team: None,
                    },
                    command: &command,
                    facts: &facts,
                    fingerprint,
                    claims: vec![],
                    occurred_at,
                },
            )
            .await
        }
        .await;
        self.or_replayed(ctx, fingerprint, result).await
    }

    /// A3: the kind of every registered host unit the rule set names as a relevant department.
    async fn campaign_facts(&self, rules: &RuleSet) -> Result<CampaignFacts, AppError> {
        let units = self
            .load_states::<HostUnit, _>(rules.relevant_departments.iter().copied())
            .await?;
        let host_units = units
            .into_iter()
            .filter_map(|(id, unit)| unit.kind().map(|kind| (id, kind)))
            .collect();
        Ok(CampaignFacts { host_units })
    }
}

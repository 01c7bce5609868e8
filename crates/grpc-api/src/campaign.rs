//! `CampaignService`: define a campaign (A14 window) and amend its rule set. Conversion only.

use app::AppError;
use domain::campaign::{AmendCampaignRules, CampaignCommand, DefineCampaign, DueDay, RuleSet};
use domain::ids::{CampaignId, HostUnitId};
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{at, date, dot, message, region, text, uuid, uuids, written};
use crate::pb;
use crate::pb::campaign_service_server::CampaignService;

api!(CampaignApi);

fn rules(field: &str, r: &Option<pb::RuleSet>) -> Result<RuleSet, AppError> {
    let r = message(field, r)?;
    let kinds = dot(field, "mandatory_host_kinds");
    Ok(RuleSet {
        coverage_per_100k: r.coverage_per_100k,
        team_min_activities_per_year: r.team_min_activities_per_year,
        volunteer_min_activities_per_year: r.volunteer_min_activities_per_year,
        summary_due: DueDay::new(
            &dot(field, "summary_due_month"),
            r.summary_due_month,
            r.summary_due_day,
        )?,
        relevant_departments: uuids(&dot(field, "relevant_departments"), &r.relevant_departments)?
            .into_iter()
            .map(HostUnitId)
            .collect(),
        mandatory_host_kinds: r
            .mandatory_host_kinds
            .iter()
            .enumerate()
            .map(|(i, k)| crate::host_unit::kind(&at(&kinds, i), *k))
            .collect::<Result<_, _>>()?,
    })
}

#[tonic::async_trait]
impl CampaignService for CampaignApi {
    async fn define_campaign(
        &self,
        request: Request<pb::DefineCampaignRequest>,
    ) -> Result<Response<pb::DefineCampaignResponse>, Status> {
        rpc!("CampaignService/DefineCampaign", {
            let (ctx, r) = context::command(&self.state, request)?;
            let id = CampaignId(uuid("campaign_id", &r.campaign_id)?);
            let command = CampaignCommand::Define(DefineCampaign {
                campaign: id,
                name: text("name", &r.name)?,
                city: region("city", &r.city)?,
                window_start: date("window_start", &r.window_start)?,
                window_end: date("window_end", &r.window_end)?,
                rules: rules("rules", &r.rules)?,
            });
            let out = self
                .state
                .ledger
                .campaign_command(&ctx, id, command)
                .await?;
            Ok(pb::DefineCampaignResponse {
                result: written(out),
            })
        })
    }

    async fn amend_campaign_rules(
        &self,
        request: Request<pb::AmendCampaignRulesRequest>,
    ) -> Result<Response<pb::AmendCampaignRulesResponse>, Status> {
        rpc!("CampaignService/AmendCampaignRules", {
            let (ctx, r) = context::command(&self.state, request)?;
            let id = CampaignId(uuid("campaign_id", &r.campaign_id)?);
            let command = CampaignCommand::AmendRules(AmendCampaignRules {
                rules: rules("rules", &r.rules)?,
                effective_from: date("effective_from", &r.effective_from)?,
                reason: text("reason", &r.reason)?,
            });
            let out = self
                .state
                .ledger
                .campaign_command(&ctx, id, command)
                .await?;
            Ok(pb::AmendCampaignRulesResponse {
                result: written(out),
            })
        })
    }
}

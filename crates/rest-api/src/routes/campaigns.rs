//! Campaigns: define (A14 window and rule set), amend the rules.

use axum::extract::State;
use chrono::NaiveDate;
use domain::campaign::{AmendCampaignRules, CampaignCommand, DefineCampaign, DueDay, RuleSet};
use domain::ids::{CampaignId, HostUnitId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{HostKindInput, WriteAccepted, host_unit_kind, region, text, uuid_param};
use crate::error::ApiError;
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(define_campaign))
        .routes(routes!(amend_rules))
}

/// A campaign's rule set.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RuleSetInput {
    /// A1: volunteers per 100 000 residents.
    pub coverage_per_100k: u32,
    /// A5: activities per team per calendar year.
    pub team_min_activities_per_year: u32,
    /// A6: activities per volunteer per calendar year.
    pub volunteer_min_activities_per_year: u32,
    /// A16: the summary is due on or before this month …
    pub summary_due_month: u32,
    /// … and day of the following year.
    pub summary_due_day: u32,
    /// A3: the relevant departments (host units of kind `government_department`).
    pub relevant_departments: Vec<Uuid>,
    /// A4: host kinds that must host a team.
    pub mandatory_host_kinds: Vec<HostKindInput>,
}

fn rules(field: &str, r: RuleSetInput) -> Result<RuleSet, ApiError> {
    let summary_due = DueDay::new(
        &format!("{field}.summary_due_day"),
        r.summary_due_month,
        r.summary_due_day,
    )?;
    let mandatory_host_kinds = r
        .mandatory_host_kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            host_unit_kind(
                &format!("{field}.mandatory_host_kinds[{i}].kind"),
                k.kind,
                k.pilot_level,
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(RuleSet {
        coverage_per_100k: r.coverage_per_100k,
        team_min_activities_per_year: r.team_min_activities_per_year,
        volunteer_min_activities_per_year: r.volunteer_min_activities_per_year,
        summary_due,
        relevant_departments: r.relevant_departments.into_iter().map(HostUnitId).collect(),
        mandatory_host_kinds,
    })
}

/// Define a campaign.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DefineCampaignRequest {
    pub campaign_id: Uuid,
    pub name: String,
    /// The campaign's city (GB/T 2260).
    #[schema(pattern = "^[1-9][0-9]{5}$")]
    pub city: String,
    /// A14, inclusive.
    pub window_start: NaiveDate,
    /// A14, inclusive.
    pub window_end: NaiveDate,
    pub rules: RuleSetInput,
}

/// Amend a campaign's rules from a date.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AmendRulesRequest {
    pub rules: RuleSetInput,
    pub effective_from: NaiveDate,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = DefineCampaignRequest,
    responses((status = 201, description = "Campaign defined", body = WriteAccepted)))]
async fn define_campaign(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<DefineCampaignRequest>,
) -> Created {
    let campaign = CampaignId(r.campaign_id);
    let command = CampaignCommand::Define(DefineCampaign {
        campaign,
        name: text("name", &r.name)?,
        city: region("city", &r.city)?,
        window_start: r.window_start,
        window_end: r.window_end,
        rules: rules("rules", r.rules)?,
    });
    created(s.ledger.campaign_command(&ctx, campaign, command).await)
}

#[utoipa::path(post, path = "/api/v1/campaigns/{campaign_id}/amend-rules", tag = "campaigns",
    params(("campaign_id" = Uuid, Path, description = "The campaign")),
    request_body = AmendRulesRequest,
    responses((status = 200, description = "Rules amended", body = WriteAccepted)))]
async fn amend_rules(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<AmendRulesRequest>,
) -> Done {
    let campaign = CampaignId(uuid_param("campaign_id", &id)?);
    let command = CampaignCommand::AmendRules(AmendCampaignRules {
        rules: rules("rules", r.rules)?,
        effective_from: r.effective_from,
        reason: text("reason", &r.reason)?,
    });
    done(s.ledger.campaign_command(&ctx, campaign, command).await)
}

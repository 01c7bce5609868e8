//! Annual summaries (A15, A16): draft, revise, submit for approval, approve/return (health bureau),
//! submit to the city, accept/return (city CDC). A summary is addressed by county and year.

use axum::extract::State;
use domain::ids::CaseId;
use domain::summary::{
    AcceptSummary, ApproveSummary, CountyYear, DraftSummary, ReturnSummary, ReturnToCounty,
    ReviseSummary, SubmitForApproval, SubmitToCity, SummaryCommand, SummarySections,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{WriteAccepted, region, text};
use crate::error::ApiError;
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(draft_summary))
        .routes(routes!(revise_summary))
        .routes(routes!(submit_for_approval))
        .routes(routes!(approve_summary))
        .routes(routes!(return_summary))
        .routes(routes!(submit_to_city))
        .routes(routes!(accept_summary))
        .routes(routes!(return_to_county))
}

/// A15: the four sections.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SummarySectionsInput {
    /// 队伍建立情况.
    pub team_buildup: String,
    /// 保障情况: funding (A22) and work plans (A23).
    pub support: String,
    /// 活动开展情况.
    pub activities: String,
    /// 效果评价.
    pub effect: String,
}

fn sections(s: &SummarySectionsInput) -> Result<SummarySections, ApiError> {
    Ok(SummarySections {
        team_buildup: text("sections.team_buildup", &s.team_buildup)?,
        support: text("sections.support", &s.support)?,
        activities: text("sections.activities", &s.activities)?,
        effect: text("sections.effect", &s.effect)?,
    })
}

/// Draft the summary of a county's year.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DraftSummaryRequest {
    #[schema(pattern = "^[1-9][0-9]{3}([0-9][1-9]|[1-9][0-9])$")]
    pub county: String,
    #[schema(minimum = 2000, maximum = 2100)]
    pub year: i32,
    pub sections: SummarySectionsInput,
    #[serde(default)]
    pub typical_cases: Vec<Uuid>,
}

/// Replace the content of a draft or returned summary.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviseSummaryRequest {
    pub sections: SummarySectionsInput,
    #[serde(default)]
    pub typical_cases: Vec<Uuid>,
}

/// Return a summary with a reason.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReturnSummaryRequest {
    pub reason: String,
}

fn key(county: &str, year: &str) -> Result<CountyYear, ApiError> {
    let county = region("county", county)?;
    let year = year
        .parse::<i32>()
        .map_err(|_| ApiError::invalid("year", format!("{year:?} is not a year")))?;
    CountyYear::new("summary", county, year).map_err(|e| {
        let field = if e.field.ends_with(".year") {
            "year"
        } else {
            "county"
        };
        ApiError::invalid(field, e.reason)
    })
}

#[utoipa::path(post, path = "/api/v1/summaries", tag = "summaries", request_body = DraftSummaryRequest,
    responses((status = 201, description = "Summary drafted", body = WriteAccepted)))]
async fn draft_summary(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<DraftSummaryRequest>,
) -> Created {
    let key = key(&r.county, &r.year.to_string())?;
    let command = SummaryCommand::Draft(DraftSummary {
        summary: key,
        sections: sections(&r.sections)?,
        typical_cases: r.typical_cases.into_iter().map(CaseId).collect(),
    });
    created(s.ledger.summary(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/summaries/{county}/{year}/revise", tag = "summaries",
    params(
        ("county" = String, Path, description = "County-level GB/T 2260 code", pattern = "^[1-9][0-9]{3}([0-9][1-9]|[1-9][0-9])$"),
        ("year" = i32, Path, description = "Report year", minimum = 2000, maximum = 2100),
    ),
    request_body = ReviseSummaryRequest,
    responses((status = 200, description = "Summary revised", body = WriteAccepted)))]
async fn revise_summary(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams((county, year)): PathParams<(String, String)>,
    Body(r): Body<ReviseSummaryRequest>,
) -> Done {
    let command = SummaryCommand::Revise(ReviseSummary {
        summary: key(&county, &year)?,
        sections: sections(&r.sections)?,
        typical_cases: r.typical_cases.into_iter().map(CaseId).collect(),
    });
    done(s.ledger.summary(&ctx, command).await)
}

/// The transitions without a body, one handler each (for their own OpenAPI operation).
macro_rules! transition {
    ($name:ident, $path:literal, $description:literal, |$k:ident| $command:expr) => {
        #[utoipa::path(post, path = $path, tag = "summaries",
            params(
                ("county" = String, Path, description = "County-level GB/T 2260 code", pattern = "^[1-9][0-9]{3}([0-9][1-9]|[1-9][0-9])$"),
                ("year" = i32, Path, description = "Report year", minimum = 2000, maximum = 2100),
            ),
            responses((status = 200, description = $description, body = WriteAccepted)))]
        async fn $name(
            State(s): State<RestState>,
            Write(ctx): Write,
            PathParams((county, year)): PathParams<(String, String)>,
        ) -> Done {
            let $k = key(&county, &year)?;
            done(s.ledger.summary(&ctx, $command).await)
        }
    };
}

transition!(
    submit_for_approval,
    "/api/v1/summaries/{county}/{year}/submit-for-approval",
    "Submitted to the county health bureau",
    |k| SummaryCommand::SubmitForApproval(SubmitForApproval { summary: k })
);
transition!(
    approve_summary,
    "/api/v1/summaries/{county}/{year}/approve",
    "Approved by the county health bureau",
    |k| SummaryCommand::Approve(ApproveSummary { summary: k })
);
transition!(
    submit_to_city,
    "/api/v1/summaries/{county}/{year}/submit-to-city",
    "Submitted to the city CDC (timeliness judged on the first submission)",
    |k| SummaryCommand::SubmitToCity(SubmitToCity { summary: k })
);
transition!(
    accept_summary,
    "/api/v1/summaries/{county}/{year}/accept",
    "Accepted by the city CDC (final)",
    |k| SummaryCommand::Accept(AcceptSummary { summary: k })
);

#[utoipa::path(post, path = "/api/v1/summaries/{county}/{year}/return", tag = "summaries",
    params(
        ("county" = String, Path, description = "County-level GB/T 2260 code", pattern = "^[1-9][0-9]{3}([0-9][1-9]|[1-9][0-9])$"),
        ("year" = i32, Path, description = "Report year", minimum = 2000, maximum = 2100),
    ),
    request_body = ReturnSummaryRequest,
    responses((status = 200, description = "Returned to the county CDC by the health bureau", body = WriteAccepted)))]
async fn return_summary(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams((county, year)): PathParams<(String, String)>,
    Body(r): Body<ReturnSummaryRequest>,
) -> Done {
    let command = SummaryCommand::Return(ReturnSummary {
        summary: key(&county, &year)?,
        reason: text("reason", &r.reason)?,
    });
    done(s.ledger.summary(&ctx, command).await)
}

#[utoipa::path(post, path = "/api/v1/summaries/{county}/{year}/return-to-county", tag = "summaries",
    params(
        ("county" = String, Path, description = "County-level GB/T 2260 code", pattern = "^[1-9][0-9]{3}([0-9][1-9]|[1-9][0-9])$"),
        ("year" = i32, Path, description = "Report year", minimum = 2000, maximum = 2100),
    ),
    request_body = ReturnSummaryRequest,
    responses((status = 200, description = "Returned to the county by the city CDC", body = WriteAccepted)))]
async fn return_to_county(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams((county, year)): PathParams<(String, String)>,
    Body(r): Body<ReturnSummaryRequest>,
) -> Done {
    let command = SummaryCommand::ReturnToCounty(ReturnToCounty {
        summary: key(&county, &year)?,
        reason: text("reason", &r.reason)?,
    });
    done(s.ledger.summary(&ctx, command).await)
}

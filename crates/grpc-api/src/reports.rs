//! `ReportService`: coverage (A1/A2), compliance (A3–A6), activity frequency (A13/A17) and the summary
//! board (A16) from the read models, with read-your-writes by token.
//!
//! Policy: scope and the `ReadReports` grant are checked by the app layer; with `min_token` the answer
//! waits (bounded) until the projector serving it has passed that write, else `UNAVAILABLE`. Long lists
//! (compliance findings, frequency rows) are paged by `page_size` / `page_token` (an offset over the
//! read model's deterministic order; `app::reads::page`). Enumerated values of the answers are the
//! domain's names as strings (`app::reads::report_name`).

use app::AppError;
use app::reads::{self, ComplianceFinding, FrequencyGrouping, Timeliness};
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{at, date, region, to_timestamp};
use crate::convert::{ids, min_token, page_size};
use crate::pb;
use crate::pb::report_service_server::ReportService;

api!(ReportApi);

#[tonic::async_trait]
impl ReportService for ReportApi {
    async fn get_coverage(
        &self,
        request: Request<pb::GetCoverageRequest>,
    ) -> Result<Response<pb::GetCoverageResponse>, Status> {
        rpc!("ReportService/GetCoverage", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.get_ref();
            let region = region("region", &r.region)?;
            let on = date("date", &r.date)?;
            let min_token = min_token(&r.min_token)?;
            let c = self
                .state
                .reads
                .coverage(&actor, region, on, min_token)
                .await?;
            Ok(pb::GetCoverageResponse {
                region: c.region.to_string(),
                date: c.date.format("%Y-%m-%d").to_string(),
                registered_volunteers: c.registered_volunteers,
                active_volunteers: c.active_volunteers,
                population: c.population.as_ref().map(|p| pb::Population {
                    year: p.year,
                    count: p.count,
                    source: p.source.clone(),
                }),
                required_per_100k: c.required_per_100k,
                per_100k: c.per_100k.map(|p| p.decimal(2)),
                passes: c.passes,
                shortfall: c.shortfall,
                parked_events: c.parked_events,
                as_of_token: c.as_of.to_string(),
            })
        })
    }

    async fn get_compliance(
        &self,
        request: Request<pb::GetComplianceRequest>,
    ) -> Result<Response<pb::GetComplianceResponse>, Status> {
        rpc!("ReportService/GetCompliance", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.get_ref();
            let region = region("region", &r.region)?;
            let on = date("date", &r.date)?;
            let min_token = min_token(&r.min_token)?;
            let limit = page_size(r.page_size)?;
            let c = self
                .state
                .reads
                .compliance(&actor, region, on, min_token)
                .await?;
            let page = reads::page(
                reads::findings(&c),
                "page_token",
                Some(&r.page_token),
                "page_size",
                limit,
            )?;
            Ok(pb::GetComplianceResponse {
                region: c.region.to_string(),
                date: c.date.format("%Y-%m-%d").to_string(),
                year: c.year,
                teams_checked: c.teams_checked,
                teams_below_minimum: count(c.teams_below_minimum.len()),
                volunteers_checked: c.volunteers_checked,
                volunteers_below_minimum: count(c.volunteers_below_minimum.len()),
                hosts_without_team: count(c.hosts_without_team.len()),
                findings: page.items.into_iter().map(finding).collect(),
                total_findings: page.total,
                next_page_token: page.next_cursor.unwrap_or_default(),
                parked_events: c.parked_events,
                as_of_token: c.as_of.to_string(),
            })
        })
    }

    async fn get_frequency(
        &self,
        request: Request<pb::GetFrequencyRequest>,
    ) -> Result<Response<pb::GetFrequencyResponse>, Status> {
        rpc!("ReportService/GetFrequency", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.get_ref();
            let region = region("region", &r.region)?;
            let from = date("from", &r.from)?;
            let to = date("to", &r.to)?;
            let grouping = grouping(&r.group_by)?;
            let min_token = min_token(&r.min_token)?;
            let limit = page_size(r.page_size)?;
            let f = self
                .state
                .reads
                .frequency(&actor, region, from, to, grouping, min_token)
                .await?;
            let page = reads::page(
                f.rows,
                "page_token",
                Some(&r.page_token),
                "page_size",
                limit,
            )?;
            Ok(pb::GetFrequencyResponse {
                region: f.region.to_string(),
                from: f.from.format("%Y-%m-%d").to_string(),
                to: f.to.format("%Y-%m-%d").to_string(),
                group_by: dimensions(f.grouping),
                rows: page
                    .items
                    .into_iter()
                    .map(|row| pb::FrequencyRow {
                        team_id: row.team.map(|t| t.0.to_string()),
                        region: row.region.map(|r| r.to_string()),
                        month: row.month.map(|m| m.format("%Y-%m-%d").to_string()),
                        kind: row.kind.map(|k| reads::report_name(&k)),
                        key_day: row.key_day.map(|k| reads::report_name(&k)),
                        figures: Some(pb::FrequencyFigures {
                            activities: row.figures.activities,
                            participations: row.figures.participations,
                            volunteer_minutes: row.figures.volunteer_minutes,
                            people_reached: row.figures.people_reached,
                            media_pieces: row.figures.media_pieces,
                            materials_distributed: row.figures.materials_distributed,
                        }),
                    })
                    .collect(),
                total_rows: page.total,
                next_page_token: page.next_cursor.unwrap_or_default(),
                parked_events: f.parked_events,
                as_of_token: f.as_of.to_string(),
            })
        })
    }

    async fn get_summary_board(
        &self,
        request: Request<pb::GetSummaryBoardRequest>,
    ) -> Result<Response<pb::GetSummaryBoardResponse>, Status> {
        rpc!("ReportService/GetSummaryBoard", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.get_ref();
            let code = region("region", &r.region)?;
            let min_token = min_token(&r.min_token)?;
            let b = self
                .state
                .reads
                .summary_board(&actor, code, r.year, min_token)
                .await?;
            Ok(pb::GetSummaryBoardResponse {
                region: code.to_string(),
                year: b.year,
                city: b.city.map(|c| c.to_string()),
                in_window: b.window_year.is_some(),
                deadline: b.deadline.map(to_timestamp),
                judged_at: Some(to_timestamp(b.now)),
                rows: b
                    .rows
                    .into_iter()
                    .map(|row| pb::SummaryBoardRow {
                        county: row.county.to_string(),
                        status: reads::report_name(&row.status),
                        timeliness: timeliness(row.timeliness).to_owned(),
                        first_submitted_at: row
                            .first_submission
                            .map(|f| to_timestamp(f.received_at)),
                        partial_year: row.partial_year,
                        revision: row.revision,
                        submissions_to_city: row.submissions_to_city,
                        last_submitted_at: row.last_submitted_at.map(to_timestamp),
                        last_event_at: row.last_event_at.map(to_timestamp),
                    })
                    .collect(),
                parked_events: b.parked_events,
                as_of_token: b.as_of.to_string(),
            })
        })
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn grouping(list: &[i32]) -> Result<FrequencyGrouping, AppError> {
    use pb::FrequencyDimension as D;
    let mut g = FrequencyGrouping::TOTALS;
    for (i, v) in list.iter().enumerate() {
        let name = match crate::convert::enumeration::<D>(&at("group_by", i), *v)? {
            D::Unspecified => "",
            D::Team => "team",
            D::Region => "region",
            D::Month => "month",
            D::Kind => "kind",
            D::KeyDay => "key_day",
        };
        reads::set_dimension(&at("group_by", i), &mut g, name)?;
    }
    Ok(g)
}

fn dimensions(g: FrequencyGrouping) -> Vec<i32> {
    use pb::FrequencyDimension as D;
    reads::grouping_names(g)
        .into_iter()
        .map(|d| match d {
            "team" => D::Team,
            "region" => D::Region,
            "month" => D::Month,
            "kind" => D::Kind,
            "key_day" => D::KeyDay,
            _ => D::Unspecified,
        })
        .map(i32::from)
        .collect()
}

fn timeliness(t: Timeliness) -> &'static str {
    match t {
        Timeliness::NotDue => "not_due",
        Timeliness::Missing => "missing",
        Timeliness::OnTime { .. } => "on_time",
        Timeliness::Late { .. } => "late",
    }
}

fn finding(f: ComplianceFinding) -> pb::ComplianceFinding {
    use pb::compliance_finding::Subject;
    let rule = f.rule();
    let subject = match f {
        ComplianceFinding::Team(t) => Subject::Team(pb::TeamShortfall {
            team_id: t.team.0.to_string(),
            region: t.region.to_string(),
            host_unit_id: t.host_unit.0.to_string(),
            activity_ids: ids(&t.activities),
            voided_activity_ids: ids(&t.voided),
        }),
        ComplianceFinding::Volunteer(v) => Subject::Volunteer(pb::VolunteerShortfall {
            volunteer_id: v.volunteer.0.to_string(),
            team_ids: ids(&v.teams),
            activity_ids: ids(&v.activities),
        }),
        ComplianceFinding::Host(h) => Subject::HostUnit(pb::HostWithoutTeam {
            host_unit_id: h.host_unit.0.to_string(),
            kind: reads::report_name(&h.kind),
            region: h.region.to_string(),
            inactive_team_ids: ids(&h.teams_not_active),
        }),
    };
    pb::ComplianceFinding {
        rule,
        subject: Some(subject),
    }
}

//! `RecordsService`: the volunteer service record (hours per year, certificates) and the Jiangsu read
//! models (deployments in force per grid, the reserve roster, medicine-box stock, needs), with
//! read-your-writes by token.
//!
//! Policy: scope and grants are checked by the app layer (`app::records`); this module converts the
//! request (field-named `INVALID_ARGUMENT`) and shapes the answer. With `min_token` an answer waits
//! (bounded) until the projector serving it has passed that write, else `UNAVAILABLE`. Service hours are
//! paged by volunteer id (`page_token` = the previous page's `next_page_token`); the Jiangsu lists by an
//! offset over the read model's deterministic order (`app::reads::page`). Enumerated values of the
//! answers are the domain's names (`app::reads::report_name`). Ids only, no names.

use app::AppError;
use app::reads::{self};
use app::records::{self, HoursOf};
use chrono::NaiveDate;
use domain::ids::{TeamId, VolunteerId};
use domain::jiangsu::need::NeedStatus;
use domain::volunteer::ReserveTier;
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{date, enumeration, region, to_timestamp, uuid};
use crate::convert::{ids, min_token, page_size};
use crate::pb;
use crate::pb::records_service_server::RecordsService;

api!(RecordsApi);

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn tier(v: i32) -> Result<Option<ReserveTier>, AppError> {
    if v == 0 {
        return Ok(None);
    }
    match enumeration::<pb::ReserveTier>("tier", v)? {
        pb::ReserveTier::FirstEchelon => Ok(Some(ReserveTier::FirstEchelon)),
        pb::ReserveTier::None | pb::ReserveTier::Unspecified => Err(AppError::invalid(
            "tier",
            "NONE is no reserve tier (leave it UNSPECIFIED for every tier)",
        )),
    }
}

fn need_status(v: i32) -> Result<Option<NeedStatus>, AppError> {
    if v == 0 {
        return Ok(None);
    }
    Ok(Some(match enumeration::<pb::NeedStatus>("status", v)? {
        pb::NeedStatus::Unspecified => {
            return Err(AppError::invalid("status", "is not a need status"));
        }
        pb::NeedStatus::Posted => NeedStatus::Posted,
        pb::NeedStatus::Verified => NeedStatus::Verified,
        pb::NeedStatus::Taken => NeedStatus::Taken,
        pb::NeedStatus::Fulfilled => NeedStatus::Fulfilled,
        pb::NeedStatus::Rejected => NeedStatus::Rejected,
    }))
}

#[tonic::async_trait]
impl RecordsService for RecordsApi {
    async fn get_service_record(
        &self,
        request: Request<pb::GetServiceRecordRequest>,
    ) -> Result<Response<pb::GetServiceRecordResponse>, Status> {
        rpc!("RecordsService/GetServiceRecord", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.get_ref();
            let volunteer = VolunteerId(uuid("volunteer_id", &r.volunteer_id)?);
            let year = r.year.map(|y| records::check_year("year", y)).transpose()?;
            let min_token = min_token(&r.min_token)?;
            let rec = self
                .state
                .reads
                .service_record(&actor, volunteer, year, min_token)
                .await?;
            Ok(pb::GetServiceRecordResponse {
                volunteer_id: rec.volunteer.to_string(),
                home_region: rec.home_region.map(|h| h.to_string()).unwrap_or_default(),
                team_ids: ids(&rec.teams),
                years: rec
                    .years
                    .into_iter()
                    .map(|y| pb::ServiceYear {
                        year: y.year,
                        activities: y.activities,
                        minutes: y.minutes,
                        first_activity: day(y.first_activity),
                        last_activity: day(y.last_activity),
                        items: y
                            .items
                            .into_iter()
                            .map(|a| pb::ServedActivity {
                                activity_id: a.activity.to_string(),
                                team_id: a.team.to_string(),
                                date: day(a.date),
                                revision: a.revision,
                                minutes: a.minutes,
                            })
                            .collect(),
                    })
                    .collect(),
                certificates: rec
                    .certificates
                    .into_iter()
                    .map(|c| pb::IssuedCertificate {
                        certificate_id: c.certificate.to_string(),
                        number: c.number,
                        issuing_team_id: c.issuing_team.to_string(),
                        issued_on: day(c.issued_on),
                        total_minutes: c.total_minutes,
                        activity_ids: ids(&c.activities),
                        sha256: c.sha256,
                    })
                    .collect(),
                parked_events: rec.parked_events,
                as_of_token: rec.as_of.to_string(),
            })
        })
    }

    async fn list_service_hours(
        &self,
        request: Request<pb::ListServiceHoursRequest>,
    ) -> Result<Response<pb::ListServiceHoursResponse>, Status> {
        rpc!("RecordsService/ListServiceHours", {
            use pb::list_service_hours_request::Of;
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.get_ref();
            let of = match &r.of {
                Some(Of::Region(code)) => HoursOf::Region(region("region", code)?),
                Some(Of::TeamId(team)) => HoursOf::Team(TeamId(uuid("team_id", team)?)),
                None => return Err(AppError::invalid("region", "give a region or a team_id")),
            };
            let year = records::check_year("year", r.year)?;
            let limit = page_size(r.page_size)?;
            let after = records::parse_cursor("page_token", Some(&r.page_token))?;
            let min_token = min_token(&r.min_token)?;
            let page = self
                .state
                .reads
                .service_hours(&actor, of, year, after, limit, min_token)
                .await?;
            Ok(pb::ListServiceHoursResponse {
                year: page.year,
                volunteers: page
                    .items
                    .into_iter()
                    .map(|h| pb::VolunteerHours {
                        volunteer_id: h.volunteer.to_string(),
                        activities: h.activities,
                        minutes: h.minutes,
                        first_activity: day(h.first_activity),
                        last_activity: day(h.last_activity),
                    })
                    .collect(),
                next_page_token: page.next_cursor.unwrap_or_default(),
                parked_events: page.parked_events,
                as_of_token: page.as_of.to_string(),
            })
        })
    }

    async fn list_deployments(
        &self,
        request: Request<pb::ListDeploymentsRequest>,
    ) -> Result<Response<pb::ListDeploymentsResponse>, Status> {
        rpc!("RecordsService/ListDeployments", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.get_ref();
            let code = if r.region.is_empty() {
                None
            } else {
                Some(region("region", &r.region)?)
            };
            let grid = if r.grid.is_empty() {
                None
            } else {
                Some(records::parse_grid("grid", &r.grid)?)
            };
            let on = date("date", &r.date)?;
            let limit = page_size(r.page_size)?;
            let min_token = min_token(&r.min_token)?;
            let d = self
                .state
                .reads
                .deployments_in_force(&actor, code, grid.as_deref(), on, min_token)
                .await?;
            let page = reads::page(
                d.rows,
                "page_token",
                Some(&r.page_token),
                "page_size",
                limit,
            )?;
            Ok(pb::ListDeploymentsResponse {
                date: day(d.date),
                deployments: page
                    .items
                    .into_iter()
                    .map(|g| pb::GridDeployment {
                        deployment_id: g.deployment.to_string(),
                        volunteer_id: g.volunteer.to_string(),
                        region: g.region.to_string(),
                        grid: g.grid,
                        from: day(g.from),
                        planned_end: g.planned_end.map(day),
                        ended_on: g.ended_on.map(day),
                        version: g.version,
                    })
                    .collect(),
                total: page.total,
                next_page_token: page.next_cursor.unwrap_or_default(),
                parked_events: d.parked_events,
                as_of_token: d.as_of.to_string(),
            })
        })
    }

    async fn list_reserve(
        &self,
        request: Request<pb::ListReserveRequest>,
    ) -> Result<Response<pb::ListReserveResponse>, Status> {
        rpc!("RecordsService/ListReserve", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.get_ref();
            let code = region("region", &r.region)?;
            let tier = tier(r.tier)?;
            let limit = page_size(r.page_size)?;
            let min_token = min_token(&r.min_token)?;
            let roster = self
                .state
                .reads
                .reserve_roster(&actor, code, tier, min_token)
                .await?;
            let page = reads::page(
                roster.rows,
                "page_token",
                Some(&r.page_token),
                "page_size",
                limit,
            )?;
            Ok(pb::ListReserveResponse {
                region: code.to_string(),
                members: page
                    .items
                    .into_iter()
                    .map(|m| pb::ReserveMember {
                        volunteer_id: m.volunteer.to_string(),
                        home_region: m.home_region.to_string(),
                        tier: reads::report_name(&m.tier),
                        registered_on: day(m.registered_on),
                        version: m.version,
                        dispatch_ids: ids(&m.dispatches),
                    })
                    .collect(),
                total: page.total,
                next_page_token: page.next_cursor.unwrap_or_default(),
                parked_events: roster.parked_events,
                as_of_token: roster.as_of.to_string(),
            })
        })
    }

    async fn list_medicine_stock(
        &self,
        request: Request<pb::ListMedicineStockRequest>,
    ) -> Result<Response<pb::ListMedicineStockResponse>, Status> {
        rpc!("RecordsService/ListMedicineStock", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.get_ref();
            let code = region("region", &r.region)?;
            let limit = page_size(r.page_size)?;
            let min_token = min_token(&r.min_token)?;
            let m = self
                .state
                .reads
                .medicine_stock(&actor, code, min_token)
                .await?;
            let page = reads::page(
                m.rows,
                "page_token",
                Some(&r.page_token),
                "page_size",
                limit,
            )?;
            Ok(pb::ListMedicineStockResponse {
                region: code.to_string(),
                stock: page
                    .items
                    .into_iter()
                    .map(|s| pb::MedicineStock {
                        medicine_box_id: s.medbox.to_string(),
                        kind: reads::report_name(&s.kind),
                        region: s.region.to_string(),
                        medicine: s.medicine,
                        unit: s.unit,
                        donated: s.donated,
                        dispensed: s.dispensed,
                        stock: s.stock,
                        donation_versions: s.donations,
                        dispensing_versions: s.dispensings,
                    })
                    .collect(),
                total: page.total,
                next_page_token: page.next_cursor.unwrap_or_default(),
                parked_events: m.parked_events,
                as_of_token: m.as_of.to_string(),
            })
        })
    }

    async fn list_needs(
        &self,
        request: Request<pb::ListNeedsRequest>,
    ) -> Result<Response<pb::ListNeedsResponse>, Status> {
        rpc!("RecordsService/ListNeeds", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.get_ref();
            let code = region("region", &r.region)?;
            let status = need_status(r.status)?;
            let limit = page_size(r.page_size)?;
            let min_token = min_token(&r.min_token)?;
            let n = self
                .state
                .reads
                .needs(&actor, code, status, min_token)
                .await?;
            let page = reads::page(
                n.rows,
                "page_token",
                Some(&r.page_token),
                "page_size",
                limit,
            )?;
            Ok(pb::ListNeedsResponse {
                region: code.to_string(),
                statuses: n.statuses.iter().map(reads::report_name).collect(),
                needs: page
                    .items
                    .into_iter()
                    .map(|row| pb::NeedRow {
                        need_id: row.need.to_string(),
                        region: row.region.to_string(),
                        category: reads::report_name(&row.category),
                        status: reads::report_name(&row.status),
                        team_id: row.team.map(|t| t.to_string()),
                        posted_at: Some(to_timestamp(row.posted_at)),
                        updated_at: Some(to_timestamp(row.updated_at)),
                        version: row.version,
                    })
                    .collect(),
                total: page.total,
                next_page_token: page.next_cursor.unwrap_or_default(),
                parked_events: n.parked_events,
                as_of_token: n.as_of.to_string(),
            })
        })
    }
}

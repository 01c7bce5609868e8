//! `ReportService`: coverage (A1/A2) from the read model, with read-your-writes by token.
//!
//! Policy: scope and the `ReadReports` grant are checked by the app layer; with `min_token` the answer
//! waits (bounded) until the coverage projector has passed that write, else `UNAVAILABLE`.

use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{date, region};
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
            let min_token = if r.min_token.is_empty() {
                None
            } else {
                Some(app::events::parse_token("min_token", &r.min_token)?)
            };
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
                population: c.population.map(|p| pb::Population {
                    year: p.year,
                    count: p.count,
                    source: p.source,
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
}

//! Queries of the read models, with read-your-writes.
//!
//! Policy of this module:
//! - **Read-your-writes by token.** A write answers with the token of what it wrote; a read may pass it as
//!   `min_token` and then waits until the projector serving that read has passed it — at most
//!   [`ReadModels::max_wait`], after which the answer is `Unavailable` ("not caught up yet, retry"),
//!   never a stale answer silently presented as fresh.
//! - **Scope.** A region query needs the actor's scope to cover the region (partners need the
//!   `ReadReports` grant as well); team-scoped roles cannot query region figures.
//! - Read models never hold personal data; nothing here decrypts.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use domain::ids::RegionCode;
use eventstore::Token;
use projections::{Coverage, Progress, WaitError};
use tokio::sync::watch;

use crate::actor::{Actor, Role};
use crate::error::{AppError, ErrorCode};
use crate::ledger::Ledger;

/// The grant that lets a partner query reports.
pub const READ_REPORTS_GRANT: &str = "ReadReports";

/// The read models this process can answer from, with the progress of each projector.
#[derive(Clone)]
pub struct ReadModels {
    ledger: Ledger,
    progress: BTreeMap<&'static str, watch::Receiver<Progress>>,
    max_wait: Duration,
}

impl std::fmt::Debug for ReadModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModels")
            .field("projectors", &self.progress.keys().collect::<Vec<_>>())
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

impl ReadModels {
    /// `progress` maps projector ids to their runners' progress (`Runner::progress`).
    pub fn new(
        ledger: Ledger,
        progress: BTreeMap<&'static str, watch::Receiver<Progress>>,
        max_wait: Duration,
    ) -> Self {
        Self {
            ledger,
            progress,
            max_wait,
        }
    }

    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// The checkpoint of a projector as this process last saw it.
    pub fn checkpoint(&self, projector: &str) -> Option<Token> {
        self.progress.get(projector).map(|p| p.borrow().checkpoint)
    }

    /// Wait until `projector` has passed `min_token` (no wait without one).
    pub async fn caught_up(
        &self,
        projector: &str,
        min_token: Option<Token>,
    ) -> Result<(), AppError> {
        let Some(wanted) = min_token else {
            return Ok(());
        };
        let Some(rx) = self.progress.get(projector) else {
            return Err(AppError::internal(
                "read models",
                &format!("projector {projector} is not running in this process"),
            ));
        };
        let mut rx = rx.clone();
        let waited = tokio::time::timeout(self.max_wait, rx.wait_for(|p| p.checkpoint >= wanted))
            .await
            .map(|r| r.map(|p| p.checkpoint));
        let reached = rx.borrow().checkpoint;
        let err = match waited {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(_)) => WaitError::RunnerGone { wanted, reached },
            Err(_) => WaitError::Timeout { wanted, reached },
        };
        Err(AppError {
            code: ErrorCode::Unavailable,
            rule: None,
            field: Some("min_token".into()),
            message: format!("the {projector} read model has not caught up yet ({err}); retry"),
        })
    }

    /// Coverage (A1/A2) of `region` on `date`.
    pub async fn coverage(
        &self,
        actor: &Actor,
        region: RegionCode,
        date: NaiveDate,
        min_token: Option<Token>,
    ) -> Result<Coverage, AppError> {
        may_read_region(actor, &region)?;
        self.caught_up(projections::CoverageProjector::ID, min_token)
            .await?;
        let campaign = self.ledger.campaign().await?;
        let required = campaign
            .rules_on(date)
            .or_else(|| campaign.versions().first())
            .map_or(projections::A1_PER_100K, |v| v.rules.coverage_per_100k);
        projections::coverage(self.ledger.store().pool(), region, date, required)
            .await
            .map_err(|e| AppError::internal("coverage query", &e))
    }
}

/// Region-level reports: region-scoped roles over their regions; partners with `ReadReports`.
pub fn may_read_region(actor: &Actor, region: &RegionCode) -> Result<(), AppError> {
    let allowed = match actor.role {
        Role::TeamLeader | Role::YouthLeague => false,
        Role::IntegrationPartner => {
            actor.grants.iter().any(|g| g == READ_REPORTS_GRANT) && actor.covers_region(region)
        }
        _ => actor.covers_region(region),
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "reports of region {region} are outside your scope"
        )))
    }
}

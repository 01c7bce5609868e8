//! Command handlers, one module per area. Each handler: fingerprint → replay check → load the aggregate
//! and its facts → name the subject → [`crate::pipeline`] (authorise, decide, append).

mod activity;
mod campaign;
pub(crate) mod certificate;
mod evaluation;
mod host_unit;
mod jiangsu;
mod region;
mod summary;
mod supervision;
mod team;
mod typical_case;
pub(crate) mod volunteer;

use domain::campaign::Campaign;

use crate::error::AppError;
use crate::ledger::Ledger;

impl Ledger {
    /// The configured campaign; an error until it has been defined.
    pub(crate) async fn campaign(&self) -> Result<Campaign, AppError> {
        let loaded = self
            .load::<Campaign>(&self.config().campaign.to_string())
            .await?;
        if loaded.state.is_defined() {
            Ok(loaded.state)
        } else {
            Err(AppError::not_found(
                "campaign",
                "the configured campaign has not been defined yet",
            ))
        }
    }
}

//! Host units (依托单位; A3, A4, A10, B1): register, name the CDC's designated manager, end the assignment.
//!
//! Loads: only the host unit's own stream (the domain needs no facts). The subject is the unit's region:
//! from the command for `Register`, from the stream otherwise (not found when unregistered).
//!
//! Personal data: `AssignDesignatedManager` (A10) names a person. The caller leaves the command's `person`
//! empty and passes the manager in plaintext beside the command; it is sealed with the unit's data key
//! (subject `hostunit-<id>`, purpose [`MANAGER_PURPOSE`]) only after the actor is authorised. The
//! fingerprint is computed over the plaintext (only ever HMACed, never logged). If the unit's first
//! assignment fails after its key was created, the unused key is forgotten again.

use domain::campaign::shanghai_start_of_day;
use domain::host_unit::{HostUnit, HostUnitCommand};
use domain::ids::{HostUnitId, RegionCode};
use personal_data::PersonalRecord;

use super::team::{plaintext, validate_person};
use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Loaded, Prepared};
use crate::policy::{CommandKind, Subject, authorize};

/// Seal purpose of the A10 designated manager.
pub const MANAGER_PURPOSE: &str = "hostunit.manager";

impl Ledger {
    /// Register host unit `host_unit`, assign or end its designated manager.
    ///
    /// `AssignDesignatedManager` needs `manager` in plaintext (the command's `person` left empty); every
    /// other command takes `None`.
    pub async fn host_unit(
        &self,
        ctx: &CommandContext,
        host_unit: HostUnitId,
        mut command: HostUnitCommand,
        manager: Option<&PersonalRecord>,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            HostUnitCommand::Register(_) => CommandKind::RegisterHostUnit,
            HostUnitCommand::AssignDesignatedManager(_) => CommandKind::AssignDesignatedManager,
            HostUnitCommand::EndManagerAssignment(_) => CommandKind::EndManagerAssignment,
        };
        let manager = match (&command, manager) {
            (HostUnitCommand::AssignDesignatedManager(c), Some(m)) => {
                if !c.person.0.is_empty() {
                    return Err(AppError::invalid(
                        "person",
                        "leave the sealed field empty: the service seals the plaintext given beside the command",
                    ));
                }
                validate_person("person", m, false)?;
                Some(m)
            }
            (HostUnitCommand::AssignDesignatedManager(_), None) => {
                return Err(AppError::invalid(
                    "person",
                    "the designated manager is required",
                ));
            }
            (_, Some(_)) => {
                return Err(AppError::invalid(
                    "person",
                    "only an assignment names a manager",
                ));
            }
            (_, None) => None,
        };
        let fingerprint = match manager {
            Some(m) => self.fingerprint(kind, &format!("{host_unit}|{command:?}|{}", plaintext(m))),
            None => self.fingerprint(kind, &(host_unit, &command)),
        };
        if let Some(done) = self.replayed(ctx, fingerprint).await? {
            return Ok(done);
        }
        let loaded = self.load::<HostUnit>(&host_unit.to_string()).await?;
        let (region, occurred_at) = match &command {
            HostUnitCommand::Register(c) => {
                if c.host_unit != host_unit {
                    return Err(AppError::invalid(
                        "host_unit",
                        format!(
                            "the command registers {} but is addressed to {host_unit}",
                            c.host_unit
                        ),
                    ));
                }
                (c.region, None)
            }
            HostUnitCommand::AssignDesignatedManager(c) => (
                registered_region(&loaded, host_unit)?,
                shanghai_start_of_day(c.from),
            ),
            HostUnitCommand::EndManagerAssignment(c) => (
                registered_region(&loaded, host_unit)?,
                shanghai_start_of_day(c.until),
            ),
        };
        let subject = Subject { region, team: None };
        let first_key = loaded.state.assignments().is_empty();
        let (stream_id, version) = (loaded.stream_id.clone(), loaded.version);
        if let (HostUnitCommand::AssignDesignatedManager(c), Some(m)) = (&mut command, manager) {
            // Authorise before the vault is touched (the pipeline authorises again; that is cheap).
            authorize(&ctx.actor, kind, &subject)?;
            c.person = self.seal_personal(&stream_id, MANAGER_PURPOSE, m).await?;
        }
        let result = self
            .commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject,
                    command: &command,
                    facts: &(),
                    fingerprint,
                    claims: vec![],
                    occurred_at,
                },
            )
            .await;
        if result.is_err() && manager.is_some() && first_key {
            self.forget_unused_key(&stream_id, version).await;
        }
        result
    }

    /// After a failed command that may have created `stream_id`'s data key: forget the key when nothing was
    /// appended since the stream was loaded at `version` (the key then protects nothing).
    pub(crate) async fn forget_unused_key(&self, stream_id: &str, version: u64) {
        match self.store().current_version(stream_id).await {
            Ok(now) if now == version => {
                if let Err(e) = self.vault().forget(stream_id).await {
                    tracing::warn!(error = %e, stream_id, "could not forget an unused data key");
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, stream_id, "could not check whether a data key is in use")
            }
        }
    }
}

/// The region of a registered host unit; not found (naming `host_unit`) otherwise.
pub(crate) fn registered_region(
    loaded: &Loaded<HostUnit>,
    id: HostUnitId,
) -> Result<RegionCode, AppError> {
    loaded.state.region().ok_or_else(|| {
        AppError::not_found("host_unit", format!("host unit {id} is not registered"))
    })
}

//! Regions (GB/T 2260, A1 population): define, retire, record the resident population.
//!
//! Loads: the region's own stream; for `Define` the parent region (its level, [`RegionFacts::parent_level`]);
//! for `Retire` the successor region (whether it is defined). The subject is the region itself, so a city
//! CDC may define and maintain its own code and the counties below it.
//!
//! Only `Define` carries the code, so the handler takes the code as an argument; a `Define` whose code
//! differs from it is refused.

use domain::campaign::shanghai_start_of_day;
use domain::ids::RegionCode;
use domain::region::{Region, RegionCommand, RegionFacts};

use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Prepared};
use crate::policy::{CommandKind, Subject};

impl Ledger {
    /// Define or retire region `code`, or record its resident population for a year.
    pub async fn region(
        &self,
        ctx: &CommandContext,
        code: RegionCode,
        command: RegionCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            RegionCommand::Define(_) => CommandKind::DefineRegion,
            RegionCommand::Retire(_) => CommandKind::RetireRegion,
            RegionCommand::RecordResidentPopulation(_) => CommandKind::RecordResidentPopulation,
        };
        let fingerprint = self.fingerprint(kind, &(code, &command));
        let result: Result<CommandOutcome, AppError> = async {
            let mut facts = RegionFacts::default();
            let occurred_at = match &command {
                RegionCommand::Define(c) => {
                    if c.code != code {
                        return Err(AppError::invalid(
                            "code",
                            format!("the command defines {} but is addressed to {code}", c.code),
                        ));
                    }
                    if let Some(parent) = c.parent {
                        facts.parent_level =
                            self.load::<Region>(parent.as_str()).await?.state.level();
                    }
                    shanghai_start_of_day(c.valid_from)
                }
                RegionCommand::Retire(c) => {
                    if let Some(successor) = c.successor {
                        facts.successor_defined = self
                            .load::<Region>(successor.as_str())
                            .await?
                            .state
                            .is_defined();
                    }
                    shanghai_start_of_day(c.valid_to)
                }
                RegionCommand::RecordResidentPopulation(_) => None,
            };
            let loaded = self.load::<Region>(code.as_str()).await?;
            self.commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject: Subject {
                        region: code,
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
}

//! # "Second grid member" deployments (第二网格员) — rule B5
//!
//! Policy of this module:
//! - A volunteer from a home unit (their employer or organisation, as text) is deployed to a community grid
//!   for a period: stream category `"deployment"`, id a caller-chosen [`DeploymentId`]. The deployment
//!   records the volunteer (by id only), the home unit, the county-level region and grid reference, the
//!   first day and an optional planned last day (not before the first).
//! - The volunteer must exist and not be erased (PIPL erasure ends new processing), told by the
//!   application layer in [`DeploymentFacts`].
//! - A deployment ends once, on a day not before its first day.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Decision};
use crate::domain_events;
use crate::error::DomainError;
use crate::ids::{DeploymentId, RegionCode, Text, VolunteerId};
use crate::rules;
use crate::summary::check_text;

pub const UNIT_MAX_CHARS: usize = 200;
pub const GRID_MAX_CHARS: usize = 200;

/// Deploy a volunteer to a community grid (B5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployToGrid {
    pub deployment: DeploymentId,
    pub volunteer: VolunteerId,
    /// The volunteer's home unit (派出单位).
    pub home_unit: Text,
    /// The region of the community (for jurisdiction scoping).
    pub region: RegionCode,
    /// Community and grid reference, e.g. "玄武区梅园新村街道 第3网格".
    pub grid: Text,
    pub from: NaiveDate,
    pub planned_end: Option<NaiveDate>,
}

/// End a deployment (B5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndDeployment {
    pub deployment: DeploymentId,
    /// Last day of service.
    pub on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentCommand {
    Deploy(DeployToGrid),
    End(EndDeployment),
}

impl DeploymentCommand {
    pub fn deployment(&self) -> DeploymentId {
        match self {
            Self::Deploy(c) => c.deployment,
            Self::End(c) => c.deployment,
        }
    }
}

/// Facts for [`DeployToGrid`] about the volunteer; [`EndDeployment`] ignores them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeploymentFacts {
    pub volunteer_exists: bool,
    /// The volunteer's personal data was erased on request.
    pub volunteer_erased: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerDeployedToGrid {
    pub volunteer: VolunteerId,
    pub home_unit: Text,
    pub region: RegionCode,
    pub grid: Text,
    pub from: NaiveDate,
    pub planned_end: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridDeploymentEnded {
    pub on: NaiveDate,
}

domain_events! {
    /// Events of a second-grid-member deployment.
    pub enum DeploymentEvent {
        Deployed(VolunteerDeployedToGrid) = ("VolunteerDeployedToGrid", 1),
        Ended(GridDeploymentEnded) = ("GridDeploymentEnded", 1),
    }
}

/// The deployment aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    deployed: Option<VolunteerDeployedToGrid>,
    ended_on: Option<NaiveDate>,
}

impl Deployment {
    pub fn deployed(&self) -> Option<&VolunteerDeployedToGrid> {
        self.deployed.as_ref()
    }
    pub fn ended_on(&self) -> Option<NaiveDate> {
        self.ended_on
    }
    /// Whether the volunteer serves the grid on `day` (from the first day to the end, inclusive).
    pub fn serves_on(&self, day: NaiveDate) -> bool {
        match &self.deployed {
            None => false,
            Some(d) => d.from <= day && self.ended_on.is_none_or(|end| day <= end),
        }
    }
}

impl Aggregate for Deployment {
    const CATEGORY: &'static str = "deployment";
    type Command = DeploymentCommand;
    type Event = DeploymentEvent;
    type Facts = DeploymentFacts;

    fn decide(
        &self,
        command: &DeploymentCommand,
        facts: &DeploymentFacts,
        _ctx: &Decision,
    ) -> Result<Vec<DeploymentEvent>, DomainError> {
        match command {
            DeploymentCommand::Deploy(c) => {
                if self.deployed.is_some() {
                    return Err(DomainError::already_exists(
                        "deployment",
                        format!("deployment {} exists already", c.deployment),
                    ));
                }
                if !facts.volunteer_exists {
                    return Err(DomainError::not_found(
                        "volunteer",
                        format!("no volunteer {}", c.volunteer),
                    ));
                }
                if facts.volunteer_erased {
                    return Err(DomainError::rule(
                        rules::B5,
                        "volunteer",
                        "the volunteer's data was erased; they cannot be deployed",
                    ));
                }
                check_text("home_unit", &c.home_unit, UNIT_MAX_CHARS)?;
                check_text("grid", &c.grid, GRID_MAX_CHARS)?;
                if let Some(end) = c.planned_end
                    && end < c.from
                {
                    return Err(DomainError::invalid_by(
                        rules::B5,
                        "planned_end",
                        format!("planned end {end} is before the first day {}", c.from),
                    ));
                }
                Ok(vec![DeploymentEvent::Deployed(VolunteerDeployedToGrid {
                    volunteer: c.volunteer,
                    home_unit: c.home_unit.clone(),
                    region: c.region,
                    grid: c.grid.clone(),
                    from: c.from,
                    planned_end: c.planned_end,
                })])
            }
            DeploymentCommand::End(c) => {
                let Some(d) = &self.deployed else {
                    return Err(DomainError::not_found(
                        "deployment",
                        format!("no deployment {}", c.deployment),
                    ));
                };
                if let Some(end) = self.ended_on {
                    return Err(DomainError::lifecycle(
                        "deployment",
                        format!("the deployment ended on {end} already"),
                    ));
                }
                if c.on < d.from {
                    return Err(DomainError::rule(
                        rules::B5,
                        "on",
                        format!(
                            "a deployment cannot end on {} before its first day {}",
                            c.on, d.from
                        ),
                    ));
                }
                Ok(vec![DeploymentEvent::Ended(GridDeploymentEnded {
                    on: c.on,
                })])
            }
        }
    }

    fn evolve(&mut self, event: &DeploymentEvent) {
        match event {
            DeploymentEvent::Deployed(e) => self.deployed = Some(e.clone()),
            DeploymentEvent::Ended(e) => self.ended_on = Some(e.on),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::DomainEvent;
    use crate::jiangsu::test_support::{ctx, date, region, text};
    use crate::{ErrorKind, RuleId};

    const DEP: DeploymentId = DeploymentId(uuid::Uuid::from_u128(0xDE));
    const V: VolunteerId = VolunteerId(uuid::Uuid::from_u128(7));
    const OK: DeploymentFacts = DeploymentFacts {
        volunteer_exists: true,
        volunteer_erased: false,
    };

    fn deploy_cmd() -> DeployToGrid {
        DeployToGrid {
            deployment: DEP,
            volunteer: V,
            home_unit: text("江苏省卫生健康委员会"),
            region: region("320102"),
            grid: text("梅园新村街道 第3网格"),
            from: date("2022-04-01"),
            planned_end: Some(date("2022-04-30")),
        }
    }
    fn deploy(
        c: DeployToGrid,
        facts: DeploymentFacts,
    ) -> Result<Vec<DeploymentEvent>, DomainError> {
        Deployment::default().decide(&DeploymentCommand::Deploy(c), &facts, &ctx())
    }
    fn deployed() -> Deployment {
        Deployment::replay(&deploy(deploy_cmd(), OK).unwrap())
    }
    fn end(on: &str) -> DeploymentCommand {
        DeploymentCommand::End(EndDeployment {
            deployment: DEP,
            on: date(on),
        })
    }

    #[test]
    fn b5_a_volunteer_is_deployed_to_a_grid_for_a_period() {
        let s = deployed();
        let d = s.deployed().unwrap();
        assert_eq!(d.volunteer, V);
        assert_eq!(d.from, date("2022-04-01"));
        assert!(s.serves_on(date("2022-04-01")));
        assert!(s.serves_on(date("2022-06-01")));
        assert!(!s.serves_on(date("2022-03-31")));
        assert_eq!(
            Deployment::stream_id(&DEP.to_string()),
            format!("deployment-{DEP}")
        );
    }

    #[test]
    fn b5_deploying_twice_is_rejected() {
        let e = deployed()
            .decide(&DeploymentCommand::Deploy(deploy_cmd()), &OK, &ctx())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
    }

    #[test]
    fn b5_an_unknown_volunteer_is_not_found() {
        let e = deploy(deploy_cmd(), DeploymentFacts::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.field, "volunteer");
    }

    #[test]
    fn b5_an_erased_volunteer_cannot_be_deployed() {
        let e = deploy(
            deploy_cmd(),
            DeploymentFacts {
                volunteer_erased: true,
                ..OK
            },
        )
        .unwrap_err();
        assert_eq!(e.rule, rules::B5);
        assert_eq!(e.field, "volunteer");
    }

    #[test]
    fn b5_a_planned_end_before_the_first_day_is_rejected() {
        let e = deploy(
            DeployToGrid {
                planned_end: Some(date("2022-03-31")),
                ..deploy_cmd()
            },
            OK,
        )
        .unwrap_err();
        assert_eq!(e.rule, rules::B5);
        assert_eq!(e.field, "planned_end");
        // a one-day deployment is fine
        assert!(
            deploy(
                DeployToGrid {
                    planned_end: Some(date("2022-04-01")),
                    ..deploy_cmd()
                },
                OK
            )
            .is_ok()
        );
    }

    #[test]
    fn b5_ending_before_the_first_day_is_rejected() {
        let e = deployed()
            .decide(&end("2022-03-31"), &OK, &ctx())
            .unwrap_err();
        assert_eq!(e.rule, rules::B5);
        assert_eq!(e.field, "on");
    }

    #[test]
    fn b5_a_deployment_ends_once_on_or_after_its_first_day() {
        let mut s = deployed();
        for e in &s.decide(&end("2022-04-01"), &OK, &ctx()).unwrap() {
            s.evolve(e);
        }
        assert_eq!(s.ended_on(), Some(date("2022-04-01")));
        assert!(s.serves_on(date("2022-04-01")));
        assert!(!s.serves_on(date("2022-04-02")));
        let e = s.decide(&end("2022-04-05"), &OK, &ctx()).unwrap_err();
        assert_eq!(e.rule, RuleId::LIFECYCLE);
    }

    #[test]
    fn b5_ending_an_unknown_deployment_is_not_found() {
        let e = Deployment::default()
            .decide(&end("2022-04-05"), &OK, &ctx())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    #[test]
    fn golden_json_of_every_deployment_event() {
        let d = DeploymentEvent::Deployed(VolunteerDeployedToGrid {
            volunteer: V,
            home_unit: text("单位"),
            region: region("320102"),
            grid: text("第3网格"),
            from: date("2022-04-01"),
            planned_end: None,
        });
        let json = r#"{"volunteer":"00000000-0000-0000-0000-000000000007","home_unit":"单位","region":"320102","grid":"第3网格","from":"2022-04-01","planned_end":null}"#;
        assert_eq!(d.event_type(), "VolunteerDeployedToGrid");
        assert_eq!(d.to_payload().unwrap(), json);
        assert_eq!(
            DeploymentEvent::from_payload("VolunteerDeployedToGrid", 1, json).unwrap(),
            d
        );
        let e = DeploymentEvent::Ended(GridDeploymentEnded {
            on: date("2022-04-30"),
        });
        let json = r#"{"on":"2022-04-30"}"#;
        assert_eq!(e.event_type(), "GridDeploymentEnded");
        assert_eq!(e.to_payload().unwrap(), json);
        assert_eq!(
            DeploymentEvent::from_payload("GridDeploymentEnded", 1, json).unwrap(),
            e
        );
        assert_eq!(
            DeploymentEvent::TYPES,
            &[("VolunteerDeployedToGrid", 1), ("GridDeploymentEnded", 1)]
        );
    }
}

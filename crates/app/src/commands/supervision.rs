//! Supervision findings (A20): the supervisor records and closes, the supervised organisation responds.
//!
//! Loads: the finding's stream; for `Record` the region of the subject and of every sampled record
//! ([`FindingFacts`]): a team's region, a volunteer's home (registering) county, the region of the team that
//! ran an activity (voided activities included: they stay supervisable), a summary's county — in one round
//! trip per kind (activities, then their teams). Subjects: `Record` and `Close` act in the finding's
//! jurisdiction; `Respond` acts for the organisation the finding is about (the subject record's region and,
//! for a team or an activity, its team, so a team leader may answer for their own team).

use std::collections::BTreeMap;

use domain::ids::{RegionCode, TeamId};
use domain::summary::AnnualSummary;
use domain::supervision::{FindingCommand, FindingFacts, RecordRef, SupervisionFinding};
use domain::team::Team;
use domain::volunteer::Volunteer;

use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Prepared};
use crate::policy::{CommandKind, Subject};

impl Ledger {
    /// Record, respond to or close a supervision finding.
    pub async fn supervision_finding(
        &self,
        ctx: &CommandContext,
        command: FindingCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            FindingCommand::Record(_) => CommandKind::RecordSupervisionFinding,
            FindingCommand::Respond(_) => CommandKind::RespondToFinding,
            FindingCommand::Close(_) => CommandKind::CloseFinding,
        };
        let fingerprint = self.fingerprint(kind, &command);
        let result: Result<CommandOutcome, AppError> = async {
            let finding = command.finding();
            let loaded = self
                .load::<SupervisionFinding>(&finding.to_string())
                .await?;
            let (subject, facts) = match &command {
                FindingCommand::Record(c) => {
                    let refs: Vec<RecordRef> = std::iter::once(c.subject)
                        .chain(c.sampled.iter().copied())
                        .collect();
                    let regions = self.record_regions(&refs).await?;
                    let facts = FindingFacts {
                        regions: regions
                            .into_iter()
                            .map(|(r, (region, _))| (r, region))
                            .collect(),
                    };
                    (
                        Subject {
                            region: c.jurisdiction,
                            team: None,
                        },
                        facts,
                    )
                }
                FindingCommand::Respond(_) | FindingCommand::Close(_) => {
                    let recorded = loaded.state.record().ok_or_else(|| {
                        AppError::not_found("finding", format!("no finding {finding} was recorded"))
                    })?;
                    let subject = if matches!(command, FindingCommand::Respond(_)) {
                        // The subject record exists (it was checked when the finding was recorded); should it
                        // not resolve, the jurisdiction is the scope.
                        let (region, team) = self
                            .record_regions(&[recorded.subject])
                            .await?
                            .remove(&recorded.subject)
                            .unwrap_or((recorded.jurisdiction, None));
                        Subject { region, team }
                    } else {
                        Subject {
                            region: recorded.jurisdiction,
                            team: None,
                        }
                    };
                    (subject, FindingFacts::default())
                }
            };
            self.commit(
                ctx,
                Prepared {
                    kind,
                    loaded,
                    subject,
                    command: &command,
                    facts: &facts,
                    fingerprint,
                    claims: vec![],
                    occurred_at: None,
                },
            )
            .await
        }
        .await;
        self.or_replayed(ctx, fingerprint, result).await
    }

    /// The region (and team, where there is one) of every referenced record that exists.
    async fn record_regions(
        &self,
        refs: &[RecordRef],
    ) -> Result<BTreeMap<RecordRef, (RegionCode, Option<TeamId>)>, AppError> {
        let mut out = BTreeMap::new();
        let teams = self
            .load_states::<Team, _>(refs.iter().filter_map(|r| {
                if let RecordRef::Team(t) = r {
                    Some(*t)
                } else {
                    None
                }
            }))
            .await?;
        for (id, team) in teams {
            if let Some(region) = team.region() {
                out.insert(RecordRef::Team(id), (region, Some(id)));
            }
        }
        let volunteers = self
            .load_states::<Volunteer, _>(refs.iter().filter_map(|r| {
                if let RecordRef::Volunteer(v) = r {
                    Some(*v)
                } else {
                    None
                }
            }))
            .await?;
        for (id, volunteer) in volunteers {
            if let Some(region) = volunteer
                .home_region()
                .filter(|_| volunteer.is_registered())
            {
                out.insert(RecordRef::Volunteer(id), (region, None));
            }
        }
        let activities: Vec<_> = refs
            .iter()
            .filter_map(|r| {
                if let RecordRef::Activity(a) = r {
                    Some(*a)
                } else {
                    None
                }
            })
            .collect();
        for (id, (region, team)) in self.activity_regions(&activities, true).await? {
            out.insert(RecordRef::Activity(id), (region, Some(team)));
        }
        let summaries = self
            .load_states::<AnnualSummary, _>(refs.iter().filter_map(|r| {
                if let RecordRef::Summary(s) = r {
                    Some(*s)
                } else {
                    None
                }
            }))
            .await?;
        for (key, summary) in summaries {
            if summary.key().is_some() {
                out.insert(RecordRef::Summary(key), (key.county(), None));
            }
        }
        Ok(out)
    }
}

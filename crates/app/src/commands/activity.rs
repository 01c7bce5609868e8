//! Activities (A7, A12, A13, A17): the facts are the team and every participant (and a volunteer
//! recorder), loaded in one round trip; the domain checks membership and age on the activity's date.

use std::collections::BTreeMap;

use domain::activity::{Activity, ActivityCommand, ActivityDetails, ActivityFacts, Recorder};
use domain::campaign::shanghai_start_of_day;
use domain::ids::{ActivityId, TeamId};
use domain::team::Team;
use domain::volunteer::Volunteer;

use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Prepared};
use crate::policy::{CommandKind, Subject};

fn volunteers_named(details: &ActivityDetails) -> Vec<String> {
    let mut ids: Vec<String> = details
        .participants
        .iter()
        .map(|p| p.volunteer_id.to_string())
        .collect();
    if let Recorder::Volunteer(v) = details.record.recorder {
        ids.push(v.to_string());
    }
    ids.sort();
    ids.dedup();
    ids
}

impl Ledger {
    /// Record, correct or void an activity.
    pub async fn activity(
        &self,
        ctx: &CommandContext,
        activity: ActivityId,
        command: ActivityCommand,
    ) -> Result<CommandOutcome, AppError> {
        let kind = match &command {
            ActivityCommand::Record(_) => CommandKind::RecordActivity,
            ActivityCommand::Correct(_) => CommandKind::CorrectActivity,
            ActivityCommand::Void(_) => CommandKind::VoidActivity,
        };
        if let ActivityCommand::Record(r) = &command
            && r.activity != activity
        {
            return Err(AppError::invalid(
                "activity",
                "the activity id of the command and of the target differ",
            ));
        }
        let fingerprint = self.fingerprint(kind, &(activity, &command));
        if let Some(done) = self.replayed(ctx, fingerprint).await? {
            return Ok(done);
        }
        let loaded = self.load::<Activity>(&activity.to_string()).await?;
        let details = match &command {
            ActivityCommand::Record(r) => Some(&r.details),
            ActivityCommand::Correct(c) => Some(&c.details),
            ActivityCommand::Void(_) => None,
        };
        let team_id: TeamId = match (details, loaded.state.team()) {
            (Some(d), _) => d.team_id,
            (None, Some(t)) => t,
            (None, None) => {
                return Err(AppError::not_found(
                    "activity",
                    format!("activity {activity} is not recorded"),
                ));
            }
        };
        let team = self.load::<Team>(&team_id.to_string()).await?;
        let Some(region) = team.state.region() else {
            return Err(AppError::not_found(
                "details.team_id",
                format!("team {team_id} is not registered"),
            ));
        };
        let mut facts = ActivityFacts {
            team: Some(team.state),
            volunteers: BTreeMap::new(),
        };
        if let Some(d) = details {
            for v in self.load_many::<Volunteer>(&volunteers_named(d)).await? {
                if let Some(id) = v.state.id() {
                    facts.volunteers.insert(id, v.state);
                }
            }
        }
        let occurred_at = details.and_then(|d| shanghai_start_of_day(d.date));
        self.commit(
            ctx,
            Prepared {
                kind,
                loaded,
                subject: Subject {
                    region,
                    team: Some(team_id),
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
}

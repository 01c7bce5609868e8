//! Activities (A7, A12, A13, A17): the facts are the team and every participant (and a volunteer
//! recorder), loaded in one round trip; the domain checks membership and age on the activity's date.

use std::collections::BTreeMap;

use domain::activity::{Activity, ActivityCommand, ActivityDetails, ActivityFacts, Recorder};
use domain::aggregate::Aggregate;
use domain::campaign::shanghai_start_of_day;
use domain::ids::ActivityId;
use domain::team::Team;
use domain::volunteer::Volunteer;

use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::{CommandOutcome, Prepared, fold};
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
        let result = self
            .activity_prepared(ctx, activity, &command, kind, fingerprint)
            .await;
        self.or_replayed(ctx, fingerprint, result).await
    }

    /// Load what the command needs and commit. Record and correct name their team, so the activity, the
    /// team and every volunteer named are read in ONE round trip; void learns the team from the activity.
    async fn activity_prepared(
        &self,
        ctx: &CommandContext,
        activity: ActivityId,
        command: &ActivityCommand,
        kind: CommandKind,
        fingerprint: [u8; 32],
    ) -> Result<CommandOutcome, AppError> {
        let details = match command {
            ActivityCommand::Record(r) => Some(&r.details),
            ActivityCommand::Correct(c) => Some(&c.details),
            ActivityCommand::Void(_) => None,
        };
        let activity_stream = Activity::stream_id(&activity.to_string());
        let (loaded, team_id, team, volunteers) = match details {
            Some(d) => {
                let team_stream = Team::stream_id(&d.team_id.to_string());
                let volunteer_streams: Vec<String> = volunteers_named(d)
                    .iter()
                    .map(|v| Volunteer::stream_id(v))
                    .collect();
                let mut wanted = vec![activity_stream.clone(), team_stream.clone()];
                wanted.extend(volunteer_streams.iter().cloned());
                let by_stream = self.store().read_streams(&wanted).await?;
                let events_of = |s: &str| by_stream.get(s).map_or(&[][..], Vec::as_slice);
                let loaded =
                    fold::<Activity>(activity_stream.clone(), events_of(&activity_stream))?;
                let team = fold::<Team>(team_stream.clone(), events_of(&team_stream))?;
                let volunteers = volunteer_streams
                    .iter()
                    .map(|s| fold::<Volunteer>(s.clone(), events_of(s)))
                    .collect::<Result<Vec<_>, _>>()?;
                (loaded, d.team_id, team, volunteers)
            }
            None => {
                let loaded = self.load::<Activity>(&activity.to_string()).await?;
                let Some(team_id) = loaded.state.team() else {
                    return Err(AppError::not_found(
                        "activity",
                        format!("activity {activity} is not recorded"),
                    ));
                };
                let team = self.load::<Team>(&team_id.to_string()).await?;
                (loaded, team_id, team, Vec::new())
            }
        };
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
        for v in volunteers {
            if let Some(id) = v.state.id() {
                facts.volunteers.insert(id, v.state);
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
                command,
                facts: &facts,
                fingerprint,
                claims: vec![],
                occurred_at,
            },
        )
        .await
    }
}

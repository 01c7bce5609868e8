//! Activities stored as one row each, with their participants in arrays (coverage, compliance, the
//! service record).
//!
//! Policy of this module:
//! - **One row per activity, never one per participation.** An activity's participants are an array
//!   column of its row, **sorted by volunteer id** (so the stored value does not depend on the order a
//!   command listed them in, and a row built from the log equals one converted from older tables); a
//!   correction rewrites the array, a void marks the row. An activity lists up to
//!   [`domain::activity::MAX_PARTICIPANTS`] people, which one row holds easily.
//! - A run of activity rows is still one statement: the arrays of the run's rows are bound as one flat
//!   array sliced per row ([`crate::batch::Lists`]).
//! - **Finding a volunteer's activities.** Queries go through the teams the volunteer has belonged to and
//!   test membership of the array (`= ANY(participants)` or `unnest`): the domain accepts only members of
//!   the activity's team on its date as participants, on recording and on every correction, and a team
//!   never changes (`crates/domain/src/activity.rs`), so no participation lies outside those teams.
//!   (docs/adr/0012-activity-rows.md)

use chrono::NaiveDate;
use domain::activity::ActivityDetails;
use uuid::Uuid;

use crate::batch::Lists;
use crate::error::ApplyError;

/// An activity's participants with their minutes, sorted by volunteer id.
pub(crate) fn participants(details: &ActivityDetails) -> Vec<(Uuid, u32)> {
    let mut list: Vec<(Uuid, u32)> = details
        .participants
        .iter()
        .map(|p| (p.volunteer_id.0, p.minutes))
        .collect();
    list.sort_unstable();
    list
}

/// An activity's participants, sorted by volunteer id.
pub(crate) fn participant_ids(details: &ActivityDetails) -> Vec<Uuid> {
    participants(details).into_iter().map(|(v, _)| v).collect()
}

/// The columns of a run of activity rows: id, team, date and the participants' slices.
#[derive(Debug, Default)]
pub(crate) struct ActivityColumns {
    pub activities: Vec<Uuid>,
    pub teams: Vec<Uuid>,
    pub dates: Vec<NaiveDate>,
    pub participants: Lists<Uuid>,
}

impl ActivityColumns {
    pub fn push(
        &mut self,
        activity: Uuid,
        team: Uuid,
        on: NaiveDate,
        participants: impl IntoIterator<Item = Uuid>,
    ) -> Result<(), ApplyError> {
        self.participants
            .push(participants)
            .ok_or_else(|| ApplyError::Invalid("too many participants in one batch".to_owned()))?;
        self.activities.push(activity);
        self.teams.push(team);
        self.dates.push(on);
        Ok(())
    }

    /// `statement` bound with $1 activities, $2 teams, $3 dates, $4 first and $5 last elements of each
    /// row's participants in $6.
    pub fn bind(
        self,
        statement: &'static str,
    ) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
        sqlx::query(statement)
            .bind(self.activities)
            .bind(self.teams)
            .bind(self.dates)
            .bind(self.participants.first)
            .bind(self.participants.last)
            .bind(self.participants.flat)
    }
}

//! Activities (A7, A12, A13, A17): record, correct, void. The domain checks membership and age of every
//! participant on the activity's date; its errors name `details.participants[i].volunteer_id`.

use axum::extract::State;
use chrono::{NaiveDate, NaiveTime};
use domain::activity::{
    ActivityCommand, ActivityDetails, ActivityRecord, CorrectActivity, Participant, RecordActivity,
    Recorder, VoidActivity,
};
use domain::ids::{ActivityId, ContentHash, TeamId, VolunteerId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Created, Done, created, done};
use crate::RestState;
use crate::dto::{ActivityKindDto, KeyDayDto, WriteAccepted, opt_text, text, uuid_param};
use crate::error::ApiError;
use crate::extract::{Body, PathParams, Write};

pub(super) fn routes() -> OpenApiRouter<RestState> {
    OpenApiRouter::new()
        .routes(routes!(record_activity))
        .routes(routes!(correct_activity))
        .routes(routes!(void_activity))
}

/// One participant and the minutes served (1 to 1440).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ParticipantInput {
    pub volunteer_id: Uuid,
    pub minutes: u32,
}

/// A12: who recorded the activity.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecorderKind {
    /// A designated volunteer of the team (`volunteer_id` required).
    Volunteer,
    /// The team's leader on the activity date.
    TeamLeader,
}

/// A12: the record made after the activity.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ActivityRecordInput {
    pub recorder: RecorderKind,
    /// The recording volunteer when `recorder` is `volunteer`.
    pub recorder_volunteer_id: Option<Uuid>,
    pub content: String,
    pub summary: String,
    /// Lowercase hex SHA-256 of each archived attachment.
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// Everything recorded about an activity (replaced as a whole by a correction).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ActivityDetailsInput {
    pub team_id: Uuid,
    pub kind: ActivityKindDto,
    pub key_day: Option<KeyDayDto>,
    pub date: NaiveDate,
    /// `HH:MM` (Asia/Shanghai).
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start_time: Option<String>,
    /// `HH:MM` (Asia/Shanghai), after `start_time`.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end_time: Option<String>,
    pub place: String,
    /// 网格 reference.
    pub grid: Option<String>,
    pub participants: Vec<ParticipantInput>,
    /// A17.
    pub people_reached: u32,
    /// A17.
    pub media_pieces: u32,
    /// A17.
    pub materials_distributed: u32,
    pub record: ActivityRecordInput,
}

fn time(field: &str, s: Option<&str>) -> Result<Option<NaiveTime>, ApiError> {
    s.map(|s| {
        NaiveTime::parse_from_str(s, "%H:%M")
            .map_err(|_| ApiError::invalid(field, format!("{s:?} is not a time HH:MM")))
    })
    .transpose()
}

fn details(field: &str, d: ActivityDetailsInput) -> Result<ActivityDetails, ApiError> {
    let f = |name: &str| format!("{field}.{name}");
    let recorder = match (d.record.recorder, d.record.recorder_volunteer_id) {
        (RecorderKind::Volunteer, Some(v)) => Recorder::Volunteer(VolunteerId(v)),
        (RecorderKind::Volunteer, None) => {
            return Err(ApiError::invalid(
                f("record.recorder_volunteer_id"),
                "a volunteer recorder needs recorder_volunteer_id",
            ));
        }
        (RecorderKind::TeamLeader, None) => Recorder::TeamLeader,
        (RecorderKind::TeamLeader, Some(_)) => {
            return Err(ApiError::invalid(
                f("record.recorder_volunteer_id"),
                "only a volunteer recorder has recorder_volunteer_id",
            ));
        }
    };
    let attachments = d
        .record
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| ContentHash::parse(&f(&format!("record.attachments[{i}]")), a))
        .collect::<Result<_, _>>()?;
    Ok(ActivityDetails {
        team_id: TeamId(d.team_id),
        kind: d.kind.into(),
        key_day: d.key_day.map(Into::into),
        date: d.date,
        start_time: time(&f("start_time"), d.start_time.as_deref())?,
        end_time: time(&f("end_time"), d.end_time.as_deref())?,
        place: text(&f("place"), &d.place)?,
        grid: opt_text(&f("grid"), d.grid.as_deref())?,
        participants: d
            .participants
            .into_iter()
            .map(|p| Participant {
                volunteer_id: VolunteerId(p.volunteer_id),
                minutes: p.minutes,
            })
            .collect(),
        people_reached: d.people_reached,
        media_pieces: d.media_pieces,
        materials_distributed: d.materials_distributed,
        record: ActivityRecord {
            recorder,
            content: text(&f("record.content"), &d.record.content)?,
            summary: text(&f("record.summary"), &d.record.summary)?,
            attachments,
        },
    })
}

/// Record an activity.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecordActivityRequest {
    pub activity_id: Uuid,
    pub details: ActivityDetailsInput,
}

/// Replace an activity's details (the team stays the same).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CorrectActivityRequest {
    pub details: ActivityDetailsInput,
    pub reason: String,
}

/// Void an activity (final).
#[derive(Debug, Deserialize, ToSchema)]
pub struct VoidActivityRequest {
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/activities", tag = "activities", request_body = RecordActivityRequest,
    responses((status = 201, description = "Activity recorded", body = WriteAccepted)))]
async fn record_activity(
    State(s): State<RestState>,
    Write(ctx): Write,
    Body(r): Body<RecordActivityRequest>,
) -> Created {
    let activity = ActivityId(r.activity_id);
    let command = ActivityCommand::Record(RecordActivity {
        activity,
        details: details("details", r.details)?,
    });
    created(s.ledger.activity(&ctx, activity, command).await)
}

#[utoipa::path(post, path = "/api/v1/activities/{activity_id}/correct", tag = "activities",
    params(("activity_id" = Uuid, Path, description = "The activity")),
    request_body = CorrectActivityRequest,
    responses((status = 200, description = "Activity corrected", body = WriteAccepted)))]
async fn correct_activity(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<CorrectActivityRequest>,
) -> Done {
    let activity = ActivityId(uuid_param("activity_id", &id)?);
    let command = ActivityCommand::Correct(CorrectActivity {
        details: details("details", r.details)?,
        reason: text("reason", &r.reason)?,
    });
    done(s.ledger.activity(&ctx, activity, command).await)
}

#[utoipa::path(post, path = "/api/v1/activities/{activity_id}/void", tag = "activities",
    params(("activity_id" = Uuid, Path, description = "The activity")),
    request_body = VoidActivityRequest,
    responses((status = 200, description = "Activity voided", body = WriteAccepted)))]
async fn void_activity(
    State(s): State<RestState>,
    Write(ctx): Write,
    PathParams(id): PathParams<String>,
    Body(r): Body<VoidActivityRequest>,
) -> Done {
    let activity = ActivityId(uuid_param("activity_id", &id)?);
    let command = ActivityCommand::Void(VoidActivity {
        reason: text("reason", &r.reason)?,
    });
    done(s.ledger.activity(&ctx, activity, command).await)
}

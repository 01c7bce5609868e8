//! `ActivityService`: record, correct, void activities (A7, A12, A13, A17). Conversion only: membership
//! and age on the activity's date (A7) are the domain's to judge.

use app::AppError;
use domain::activity::{
    ActivityCommand, ActivityDetails, ActivityKind, ActivityRecord, CorrectActivity, KeyDay,
    Participant, RecordActivity, Recorder, VoidActivity,
};
use domain::ids::{ActivityId, ContentHash, TeamId, VolunteerId};
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{
    at, date, dot, enumeration, message, opt_text, opt_time, text, uuid, written,
};
use crate::pb;
use crate::pb::activity_service_server::ActivityService;

api!(ActivityApi);

fn kind(field: &str, v: i32) -> Result<ActivityKind, AppError> {
    use pb::ActivityKind as K;
    Ok(match enumeration::<K>(field, v)? {
        K::Unspecified => return Err(AppError::invalid(field, "is required")),
        K::KnowledgePublicity => ActivityKind::KnowledgePublicity,
        K::PatientCare => ActivityKind::PatientCare,
        K::TreatmentFollowUp => ActivityKind::TreatmentFollowUp,
        K::HealthCheckUp => ActivityKind::HealthCheckUp,
        K::PreventiveTherapyMobilisation => ActivityKind::PreventiveTherapyMobilisation,
        K::CampusFreshmanCheckUpPublicity => ActivityKind::CampusFreshmanCheckUpPublicity,
        K::KeyDayCampaign => ActivityKind::KeyDayCampaign,
        K::SummerPractice => ActivityKind::SummerPractice,
        K::Other => ActivityKind::Other,
    })
}

fn key_day(field: &str, v: Option<i32>) -> Result<Option<KeyDay>, AppError> {
    let Some(v) = v else {
        return Ok(None);
    };
    Ok(Some(match enumeration::<pb::KeyDay>(field, v)? {
        pb::KeyDay::Unspecified => return Err(AppError::invalid(field, "is required")),
        pb::KeyDay::VolunteerDay => KeyDay::VolunteerDay,
        pb::KeyDay::WorldTbDay => KeyDay::WorldTbDay,
        pb::KeyDay::WorldNoTobaccoDay => KeyDay::WorldNoTobaccoDay,
        pb::KeyDay::WorldAidsDay => KeyDay::WorldAidsDay,
    }))
}

fn record(field: &str, r: &Option<pb::ActivityRecord>) -> Result<ActivityRecord, AppError> {
    use pb::activity_record::Recorder as R;
    let r = message(field, r)?;
    let recorder = match &r.recorder {
        Some(R::RecorderVolunteerId(v)) => {
            Recorder::Volunteer(VolunteerId(uuid(&dot(field, "recorder_volunteer_id"), v)?))
        }
        Some(R::RecorderTeamLeader(true)) => Recorder::TeamLeader,
        Some(R::RecorderTeamLeader(false)) => {
            return Err(AppError::invalid(
                dot(field, "recorder_team_leader"),
                "must be true when set (or name the recording volunteer instead)",
            ));
        }
        None => {
            return Err(AppError::invalid(
                dot(field, "recorder"),
                "is required: recorder_volunteer_id or recorder_team_leader",
            ));
        }
    };
    let attachments = dot(field, "attachments");
    Ok(ActivityRecord {
        recorder,
        content: text(&dot(field, "content"), &r.content)?,
        summary: text(&dot(field, "summary"), &r.summary)?,
        attachments: r
            .attachments
            .iter()
            .enumerate()
            .map(|(i, h)| ContentHash::parse(&at(&attachments, i), h))
            .collect::<Result<_, _>>()?,
    })
}

fn details(field: &str, d: &Option<pb::ActivityDetails>) -> Result<ActivityDetails, AppError> {
    let d = message(field, d)?;
    let f = |sub: &str| dot(field, sub);
    let participants = f("participants");
    Ok(ActivityDetails {
        team_id: TeamId(uuid(&f("team_id"), &d.team_id)?),
        kind: kind(&f("kind"), d.kind)?,
        key_day: key_day(&f("key_day"), d.key_day)?,
        date: date(&f("date"), &d.date)?,
        start_time: opt_time(&f("start_time"), d.start_time.as_ref())?,
        end_time: opt_time(&f("end_time"), d.end_time.as_ref())?,
        place: text(&f("place"), &d.place)?,
        grid: opt_text(&f("grid"), d.grid.as_ref())?,
        participants: d
            .participants
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Ok(Participant {
                    volunteer_id: VolunteerId(uuid(
                        &dot(&at(&participants, i), "volunteer_id"),
                        &p.volunteer_id,
                    )?),
                    minutes: p.minutes,
                })
            })
            .collect::<Result<_, AppError>>()?,
        people_reached: d.people_reached,
        media_pieces: d.media_pieces,
        materials_distributed: d.materials_distributed,
        record: record(&f("record"), &d.record)?,
    })
}

#[tonic::async_trait]
impl ActivityService for ActivityApi {
    async fn record_activity(
        &self,
        request: Request<pb::RecordActivityRequest>,
    ) -> Result<Response<pb::RecordActivityResponse>, Status> {
        rpc!("ActivityService/RecordActivity", {
            let (ctx, r) = context::command(&self.state, request)?;
            let activity = ActivityId(uuid("activity_id", &r.activity_id)?);
            let command = ActivityCommand::Record(RecordActivity {
                activity,
                details: details("details", &r.details)?,
            });
            let out = self.state.ledger.activity(&ctx, activity, command).await?;
            Ok(pb::RecordActivityResponse {
                result: written(out),
            })
        })
    }

    async fn correct_activity(
        &self,
        request: Request<pb::CorrectActivityRequest>,
    ) -> Result<Response<pb::CorrectActivityResponse>, Status> {
        rpc!("ActivityService/CorrectActivity", {
            let (ctx, r) = context::command(&self.state, request)?;
            let activity = ActivityId(uuid("activity_id", &r.activity_id)?);
            let command = ActivityCommand::Correct(CorrectActivity {
                details: details("details", &r.details)?,
                reason: text("reason", &r.reason)?,
            });
            let out = self.state.ledger.activity(&ctx, activity, command).await?;
            Ok(pb::CorrectActivityResponse {
                result: written(out),
            })
        })
    }

    async fn void_activity(
        &self,
        request: Request<pb::VoidActivityRequest>,
    ) -> Result<Response<pb::VoidActivityResponse>, Status> {
        rpc!("ActivityService/VoidActivity", {
            let (ctx, r) = context::command(&self.state, request)?;
            let activity = ActivityId(uuid("activity_id", &r.activity_id)?);
            let command = ActivityCommand::Void(VoidActivity {
                reason: text("reason", &r.reason)?,
            });
            let out = self.state.ledger.activity(&ctx, activity, command).await?;
            Ok(pb::VoidActivityResponse {
                result: written(out),
            })
        })
    }
}

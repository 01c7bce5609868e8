//! The demo dataset: Shaoxing's "百千万" campaign, so a newcomer's first run has real content.
//!
//! Policy: every id and idempotency key is fixed, so loading twice writes nothing the second time
//! (every command is answered as a replay). All commands go through the same pipeline as production,
//! as the role that would issue them. People are synthetic ("示例志愿者…") with valid-format but
//! invented document numbers; regions and populations are the real 2023 figures of DOMAIN.md.

use chrono::NaiveDate;
use domain::activity::{
    ActivityCommand, ActivityDetails, ActivityKind, ActivityRecord, KeyDay, Participant,
    RecordActivity, Recorder,
};
use domain::campaign::{CampaignCommand, DefineCampaign, RuleSet};
use domain::host_unit::{HostUnitCommand, HostUnitKind, RegisterHostUnit};
use domain::identity::{DocumentKind, gb11643_check_char};
use domain::ids::{
    ActivityId, CampaignId, HostUnitId, RegionCode, Sealed, TeamId, Text, VolunteerId,
};
use domain::region::{DefineRegion, RecordResidentPopulation, RegionCommand, RegionLevel};
use domain::summary::{
    AcceptSummary, ApproveSummary, CountyYear, DraftSummary, SubmitForApproval, SubmitToCity,
    SummaryCommand, SummarySections,
};
use domain::team::{RegisterTeam, TeamCommand, TeamLevel, TeamProfile};
use domain::volunteer::{Attestation, JoinTeam, ReserveTier, VolunteerCommand};
use personal_data::PersonalRecord;

use crate::actor::{Actor, Role};
use crate::commands::volunteer::{RegisterVolunteerInput, VolunteerInput};
use crate::error::AppError;
use crate::ledger::{CommandContext, Ledger};
use crate::pipeline::CommandOutcome;

/// The demo campaign's id (the default `LEDGER_CAMPAIGN_ID` of the run command).
pub const DEMO_CAMPAIGN: CampaignId = CampaignId(uuid::Uuid::from_u128(
    0x7f1a_0000_0000_4000_8000_0000_0000_0001,
));

/// Shaoxing's counties: code, name, short name, resident population at the end of 2023.
const COUNTIES: [(&str, &str, &str, u64); 6] = [
    ("330602", "越城区", "越城", 1_130_600),
    ("330603", "柯桥区", "柯桥", 1_124_500),
    ("330604", "上虞区", "上虞", 802_800),
    ("330624", "新昌县", "新昌", 411_700),
    ("330681", "诸暨市", "诸暨", 1_229_200),
    ("330683", "嵊州市", "嵊州", 695_200),
];
const POPULATION_SOURCE: &str = "2023年绍兴市国民经济和社会发展统计公报";
const VOLUNTEERS_PER_COUNTY: u128 = 5;

/// What a load did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoReport {
    /// Commands that wrote events now.
    pub written: usize,
    /// Commands answered from an earlier load.
    pub replayed: usize,
}

impl DemoReport {
    fn count(&mut self, outcome: &CommandOutcome) {
        if outcome.replayed {
            self.replayed += 1;
        } else {
            self.written += 1;
        }
    }
}

/// The demo's county team of the `n`-th county (1 = 越城区 330602 … 6 = 嵊州市 330683), for the development
/// tokens of team-scoped roles.
pub fn demo_team(n: u8) -> TeamId {
    TeamId(id(2, u128::from(n)))
}

fn id(kind: u128, n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x7f1a_0000_0000_4000_8000_0000_0000_0000 | (kind << 32) | n)
}

fn text(field: &str, s: &str) -> Result<Text, AppError> {
    Ok(Text::parse(field, s, 20_000)?)
}

fn region(code: &str) -> Result<RegionCode, AppError> {
    Ok(RegionCode::parse("region", code)?)
}

fn date(y: i32, m: u32, d: u32) -> Result<NaiveDate, AppError> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| AppError::internal("demo data", &"invalid date"))
}

fn ctx(role: Role, scope: &str, step: &str) -> Result<CommandContext, AppError> {
    Ok(CommandContext {
        actor: Actor {
            subject: format!("demo-{}-{scope}", role.as_str()),
            role,
            regions: vec![region(scope)?],
            teams: vec![],
            grants: vec![],
        },
        idempotency_key: format!("demo-{step}"),
        correlation_id: Some("demo-load".to_owned()),
        causation_id: None,
        client: "demo".to_owned(),
    })
}

fn resident_id(county: &str, birth: &str, seq: u128) -> Result<String, AppError> {
    let body = format!("{county}{birth}{:03}", seq % 1000);
    let check =
        gb11643_check_char(&body).ok_or_else(|| AppError::internal("demo data", &"check digit"))?;
    Ok(format!("{body}{check}"))
}

/// Load the demo dataset (idempotent).
pub async fn load(ledger: &Ledger) -> Result<DemoReport, AppError> {
    let mut report = DemoReport::default();
    let province = ctx(Role::CityCdc, "330000", "")?;
    let step = |c: &CommandContext, key: &str| CommandContext {
        idempotency_key: format!("demo-{key}"),
        ..c.clone()
    };

    // Regions and populations (A1's denominators).
    let zhejiang = region("330000")?;
    let shaoxing = region("330600")?;
    let since = date(1983, 7, 1)?;
    let define = |code: RegionCode, name: &str, level, parent| -> Result<RegionCommand, AppError> {
        Ok(RegionCommand::Define(DefineRegion {
            code,
            name: text("name", name)?,
            level,
            parent,
            valid_from: since,
            valid_to: None,
        }))
    };
    report.count(
        &ledger
            .region(
                &step(&province, "region-330000"),
                zhejiang,
                define(zhejiang, "浙江省", RegionLevel::Province, None)?,
            )
            .await?,
    );
    report.count(
        &ledger
            .region(
                &step(&province, "region-330600"),
                shaoxing,
                define(shaoxing, "绍兴市", RegionLevel::City, Some(zhejiang))?,
            )
            .await?,
    );
    let population = |count| -> Result<RegionCommand, AppError> {
        Ok(RegionCommand::RecordResidentPopulation(
            RecordResidentPopulation {
                year: 2023,
                count,
                source: text("source", POPULATION_SOURCE)?,
                reason: None,
            },
        ))
    };
    report.count(
        &ledger
            .region(
                &step(&province, "population-330600"),
                shaoxing,
                population(5_394_000)?,
            )
            .await?,
    );
    for (code, name, _, pop) in COUNTIES {
        let c = region(code)?;
        report.count(
            &ledger
                .region(
                    &step(&province, &format!("region-{code}")),
                    c,
                    define(c, name, RegionLevel::County, Some(shaoxing))?,
                )
                .await?,
        );
        report.count(
            &ledger
                .region(
                    &step(&province, &format!("population-{code}")),
                    c,
                    population(pop)?,
                )
                .await?,
        );
    }

    // The city's relevant department (A3) and the campaign (A14 window, rules).
    let city = ctx(Role::CityCdc, "330600", "")?;
    let department = HostUnitId(id(1, 0));
    let register_department = HostUnitCommand::Register(RegisterHostUnit {
        host_unit: department,
        kind: HostUnitKind::GovernmentDepartment,
        name: text("name", "绍兴市卫生健康委员会")?,
        region: shaoxing,
    });
    report.count(
        &ledger
            .host_unit(
                &step(&city, "hostunit-department"),
                department,
                register_department,
                None,
            )
            .await?,
    );
    let define_campaign = CampaignCommand::Define(DefineCampaign {
        campaign: DEMO_CAMPAIGN,
        name: text(
            "name",
            "绍兴市“百千万”结核病防治志愿服务活动（2023—2025年）",
        )?,
        city: shaoxing,
        window_start: date(2023, 12, 1)?,
        window_end: date(2025, 3, 31)?,
        rules: RuleSet::baiqianwan(vec![department]),
    });
    report.count(
        &ledger
            .campaign_command(&step(&city, "campaign"), DEMO_CAMPAIGN, define_campaign)
            .await?,
    );

    // Per county: the CDC, its team, five volunteers, two key-day activities.
    for (i, (code, name, short, _)) in COUNTIES.iter().enumerate() {
        let n = i as u128 + 1;
        let county = ctx(Role::CountyCdc, code, "")?;
        let c = region(code)?;
        let cdc = HostUnitId(id(1, n));
        let register_cdc = HostUnitCommand::Register(RegisterHostUnit {
            host_unit: cdc,
            kind: HostUnitKind::Cdc,
            name: text("name", &format!("{name}疾病预防控制中心"))?,
            region: c,
        });
        report.count(
            &ledger
                .host_unit(
                    &step(&county, &format!("hostunit-{code}")),
                    cdc,
                    register_cdc,
                    None,
                )
                .await?,
        );
        let team = demo_team(i as u8 + 1);
        let register_team = TeamCommand::Register(RegisterTeam {
            team,
            host_unit: cdc,
            region: c,
            level: TeamLevel::County,
            profile: TeamProfile {
                name: text("name", &format!("{name}结核病防治志愿服务队"))?,
                national_platform_id: Some(text(
                    "national_platform_id",
                    &format!("DEMO-{code}-0001"),
                )?),
                leader: Sealed(String::new()),
                on_call_contact: Sealed(String::new()),
                party_member_team: false,
                student_team: false,
            },
            registered_on: date(2024, 1, 5)?,
        });
        let leader = PersonalRecord {
            name: format!("示例队长{short}"),
            id_number: None,
            phone: Some(format!("1380000{:04}", n)),
        };
        report.count(
            &ledger
                .team(
                    &step(&county, &format!("team-{code}")),
                    team,
                    register_team,
                    Some(&leader),
                    Some(&leader),
                )
                .await?,
        );

        let mut members = Vec::new();
        for k in 0..VOLUNTEERS_PER_COUNTY {
            let volunteer = VolunteerId(id(3, n * 100 + k));
            let input = RegisterVolunteerInput {
                volunteer,
                document_kind: DocumentKind::ResidentIdCard,
                document_number: resident_id(
                    code,
                    &format!("{}0{}1{}", 1970 + k * 3, 1 + k, k),
                    500 + n * 10 + k,
                )?,
                declared_birth_date: None,
                name: format!("示例志愿者{short}{:02}", k + 1),
                phone: None,
                home_region: c,
                attestation: Attestation {
                    law_abiding: true,
                    capable: true,
                    understands_tb_core_messages: true,
                },
                skills: vec![text("skills[0]", "健康宣教")?],
                reserve_tier: if k == 0 {
                    ReserveTier::FirstEchelon
                } else {
                    ReserveTier::None
                },
                registered_on: date(2024, 1, 10)?,
            };
            report.count(
                &ledger
                    .volunteer(
                        &step(&county, &format!("volunteer-{code}-{k}")),
                        VolunteerInput::Register(input),
                    )
                    .await?,
            );
            let join = VolunteerCommand::JoinTeam(JoinTeam {
                team,
                joined_on: date(2024, 1, 10)?,
            });
            report.count(
                &ledger
                    .volunteer(
                        &step(&county, &format!("join-{code}-{k}")),
                        VolunteerInput::Other {
                            volunteer,
                            command: join,
                        },
                    )
                    .await?,
            );
            members.push(volunteer);
        }

        for (a, (on, key_day, content)) in [
            (
                date(2024, 3, 24)?,
                KeyDay::WorldTbDay,
                "世界防治结核病日主题宣传：终结结核流行，自由健康呼吸",
            ),
            (
                date(2024, 5, 31)?,
                KeyDay::WorldNoTobaccoDay,
                "世界无烟日控烟与结核病防治联合宣传",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let activity = ActivityId(id(4, n * 10 + a as u128));
            let details = ActivityDetails {
                team_id: team,
                kind: ActivityKind::KeyDayCampaign,
                key_day: Some(key_day),
                date: on,
                start_time: None,
                end_time: None,
                place: text("place", &format!("{name}城区广场"))?,
                grid: None,
                participants: members
                    .iter()
                    .map(|v| Participant {
                        volunteer_id: *v,
                        minutes: 120,
                    })
                    .collect(),
                people_reached: 300 + 50 * n as u32,
                media_pieces: 2,
                materials_distributed: 500,
                record: ActivityRecord {
                    recorder: Recorder::Volunteer(members[0]),
                    content: text("content", content)?,
                    summary: text("summary", "发放宣传资料，现场咨询，引导可疑症状者就诊")?,
                    attachments: vec![],
                },
            };
            let record = ActivityCommand::Record(RecordActivity { activity, details });
            report.count(
                &ledger
                    .activity(
                        &step(&county, &format!("activity-{code}-{a}")),
                        activity,
                        record,
                    )
                    .await?,
            );
        }
    }

    // 2024 summaries: 越城区 through to acceptance (submitted late: the demo loads after the deadline,
    // and a late submission is accepted and flagged, A16); 柯桥区 drafted.
    for (code, through) in [("330602", true), ("330603", false)] {
        let key = CountyYear::new("summary", region(code)?, 2024)?;
        let county = ctx(Role::CountyCdc, code, "")?;
        let sections = SummarySections {
            team_buildup: text(
                "team_buildup",
                "依托区疾控中心组建志愿服务队1支，注册志愿者5名",
            )?,
            support: text("support", "落实专项经费，印发年度工作计划")?,
            activities: text(
                "activities",
                "围绕3·24世界防治结核病日、5·31世界无烟日开展主题宣传2次",
            )?,
            effect: text("effect", "覆盖群众600余人次，结核病防治核心知识知晓率提升")?,
        };
        let draft = SummaryCommand::Draft(DraftSummary {
            summary: key,
            sections,
            typical_cases: vec![],
        });
        report.count(
            &ledger
                .summary(&step(&county, &format!("summary-{code}-draft")), draft)
                .await?,
        );
        if !through {
            continue;
        }
        let approve_ctx = ctx(Role::HealthBureauApprover, code, "")?;
        report.count(
            &ledger
                .summary(
                    &step(&county, &format!("summary-{code}-submit")),
                    SummaryCommand::SubmitForApproval(SubmitForApproval { summary: key }),
                )
                .await?,
        );
        report.count(
            &ledger
                .summary(
                    &step(&approve_ctx, &format!("summary-{code}-approve")),
                    SummaryCommand::Approve(ApproveSummary { summary: key }),
                )
                .await?,
        );
        report.count(
            &ledger
                .summary(
                    &step(&county, &format!("summary-{code}-to-city")),
                    SummaryCommand::SubmitToCity(SubmitToCity { summary: key }),
                )
                .await?,
        );
        report.count(
            &ledger
                .summary(
                    &step(&city, &format!("summary-{code}-accept")),
                    SummaryCommand::Accept(AcceptSummary { summary: key }),
                )
                .await?,
        );
    }
    Ok(report)
}

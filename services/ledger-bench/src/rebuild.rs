//! `ledger-bench rebuild`: every read model rebuilt from empty (`projections::rebuild::rebuild` of each
//! projector of [`projections::replay::READ_MODELS`], the production shadow build and swap) against a
//! plain scan of the same log ([`EventStore::read_all_after`] in pages of the rebuild's batch size,
//! rows decoded into `RecordedEvent`s, nothing applied), interleaved run by run on one generated
//! province-scale campaign year.
//!
//! ## The generator
//!
//! A campaign year at `--scale` of the issue's province (100 counties, 10 000 teams, 1 000 000
//! volunteers, 2 000 000 activities at scale 1; the counties stay 100 at every scale): a province, 10
//! cities and 100 counties with 2023 resident populations; the campaign (the service's default campaign
//! id, `RuleSet::baiqianwan`) with a relevant department; per county a CDC and a designated hospital and
//! one more host unit per further team; the teams; the volunteers (each registered with a personal
//! record sealed by `personal_data::seal_record` under a data key of its own — real AES-256-GCM — and
//! joined to one team of its county; every tenth also to a second one); the activities of 2024 with 3–8
//! participants among their team's members; and each county's 2024 summary drafted, approved and
//! submitted (every tenth late, every second accepted).
//!
//! Every payload is a `domain` event value encoded by `DomainEvent::to_payload`, every metadata has the
//! fields `app::pipeline` writes, stream ids are `Aggregate::stream_id`, and the per-stream chains are
//! computed here with `eventstore::hash` — so the log verifies and the production projectors apply it
//! without parking anything (checked after each rebuild). The owner writes it straight into `events`
//! with `COPY … FROM STDIN`, `--events-per-transaction` rows per transaction (the service path's
//! idempotency rows are not written: no command is ever retried against this log). Person-vault keys are
//! not stored either (the projectors never decrypt).
//!
//! ## Each run
//!
//! `CHECKPOINT`, the scan leg; `CHECKPOINT`, the rebuild leg: every projector from an empty shadow,
//! digests off — side by side with `projections::replay::rebuild_all` (one reader of the log feeding
//! every shadow's bulk pass, as `ledger-api rebuild --all`), or with `--sequential` one after the other
//! (`rebuild` each, per-projector CPU figures); `--unlogged-bulk` builds the bulk pass into unlogged
//! tables (`RebuildOptions::unlogged_bulk`). Each leg reports events/s over the log's event count (for
//! the rebuild: all projectors together, one log's worth of events), client and Postgres CPU per event,
//! and per projector its time and Postgres CPU. The summary is the median of the per-run ratios
//! rebuild/scan.
//!
//! `--floor` adds a third leg after the rebuild: the rows it wrote, copied again by Postgres alone
//! (index-less copies filled by `INSERT … SELECT`, then every index built, side by side per read model;
//! like the rebuild leg, timed without a final `CHECKPOINT`) — the cost of writing those rows with
//! nothing else, a bound on any rebuild that must write them. `--bound` adds two legs: the scan (each
//! payload also decoded once into its domain event) and the floor at the same time — the least any
//! rebuild of these read models must do (read and decode the log, write the rows), so an upper bound on
//! the rebuild rate this machine allows; and the same with the rows sent from memory by binary `COPY`
//! (read out beforehand, untimed) instead of `INSERT … SELECT`, which is how a client would send them.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use app::Role;
use chrono::{DateTime, NaiveDate, Utc};
use domain::DomainEvent;
use domain::activity::{
    ActivityDetails, ActivityEvent, ActivityKind, ActivityRecord, ActivityRecorded, KeyDay,
    Participant, Recorder,
};
use domain::aggregate::Aggregate;
use domain::campaign::{Campaign, CampaignDefined, CampaignEvent, RuleSet};
use domain::host_unit::{HostUnit, HostUnitEvent, HostUnitKind, HostUnitRegistered, PilotLevel};
use domain::identity::DocumentKind;
use domain::ids::{ActivityId, HostUnitId, RegionCode, Sealed, TeamId, Text, VolunteerId};
use domain::region::{Region, RegionDefined, RegionEvent, RegionLevel, ResidentPopulationRecorded};
use domain::summary::{
    AnnualSummary, CountyYear, SummaryAccepted, SummaryApproved, SummaryDrafted, SummaryEvent,
    SummarySections, SummarySubmittedForApproval, SummarySubmittedToCity,
};
use domain::team::{Team, TeamEvent, TeamLevel, TeamProfile, TeamRegistered};
use domain::volunteer::{
    Attestation, ReserveTier, Volunteer, VolunteerEvent, VolunteerJoinedTeam, VolunteerRegistered,
};
use eventstore::hash::{self, CanonicalEvent, GENESIS};
use eventstore::{EventStore, StoreConfig, Token};
use futures_util::StreamExt;
use personal_data::{DataKey, PersonalRecord, seal_record};
use projections::rebuild::RebuildOptions;
use projections::replay::{READ_MODELS, ReadModel, rebuild_all};
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Row};

use crate::append::redact;
use crate::stats;
use crate::sysstat::{self, CpuSnapshot, Server};

const ROLE_EXISTS: &str = "SELECT 1 FROM pg_roles WHERE rolname = $1";
const BACKEND_PID: &str = "SELECT pg_backend_pid() AS pid";
const CHECKPOINT: &str = "CHECKPOINT";
const VACUUM: &str = "VACUUM (ANALYZE) events";
const SERVER_SETTINGS: &str = "SELECT current_setting('server_version') AS version,
    current_setting('fsync') AS fsync, current_setting('shared_buffers') AS shared_buffers";
const LOG_SIZE: &str = "SELECT count(*) AS n, count(DISTINCT stream_id) AS streams, \
    pg_size_pretty(pg_total_relation_size('events')) AS size, \
    avg(octet_length(payload::text))::bigint AS payload, avg(octet_length(metadata::text))::bigint AS metadata \
    FROM events";
const TYPES: &str =
    "SELECT event_type, count(*) AS n FROM events GROUP BY event_type ORDER BY n DESC";
const PARKED: &str = "SELECT projector, count(*) AS n FROM projection_parked GROUP BY projector";
/// The floor leg's scratch schema (dropped before and after the leg).
const FLOOR_SCHEMA: &str = "bench_floor";
/// Binds: $1 table. The table's indexes (primary key included) as DDL on the floor's copy of it.
const FLOOR_INDEXES: &str =
    "SELECT replace(pg_get_indexdef(i.indexrelid), ' ON public.' || $1 || ' ',
    ' ON bench_floor.' || $1 || ' ') AS ddl
FROM pg_index i WHERE i.indrelid = ('public.' || $1)::regclass";
const COPY_EVENTS: &str = "COPY events (stream_id, stream_version, event_type, schema_version, payload, \
metadata, occurred_at, recorded_at, prev_hash, hash) FROM STDIN";

/// The full-scale province of the issue (scale 1).
const FULL_TEAMS: f64 = 10_000.0;
const FULL_VOLUNTEERS: f64 = 1_000_000.0;
const FULL_ACTIVITIES: f64 = 2_000_000.0;
const CITIES: u32 = 10;
const COUNTIES_PER_CITY: u32 = 10;
/// The province and the campaign's city.
const PROVINCE: &str = "330000";
const CAMPAIGN_CITY: &str = "330100";
const CLIENT: &str = "ledger-bench";

/// The generated database: where it is, and whether this run created it.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Owner (superuser or CREATEDB) URL of the cluster to benchmark on; one database is created in it.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Login role the service connects as (a member of `ledger_service`; deploy/pg-private creates it).
    #[arg(long, default_value = "ledger_app")]
    pub app_user: String,
    /// Password of `--app-user`, for clusters without trust authentication on loopback.
    #[arg(long, env = "LEDGER_BENCH_APP_PASSWORD", hide_env_values = true)]
    pub app_password: Option<String>,
    /// Fraction of the issue's province (10 000 teams, 1 000 000 volunteers, 2 000 000 activities; the
    /// 100 counties stay).
    #[arg(long, default_value_t = 0.05)]
    pub scale: f64,
    /// Rows per generating transaction (one COPY each).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub events_per_transaction: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 20_261_124)]
    pub seed: u64,
    /// Leave the database in place afterwards (its name is printed).
    #[arg(long)]
    pub keep_database: bool,
    /// Run on a database kept by an earlier run (`--keep-database`) instead of generating one.
    #[arg(long)]
    pub reuse_database: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub db: GenArgs,
    /// Interleaved runs (scan, then rebuild of every projector); the summary takes medians over runs.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// Events per page of the scan and per batch of the rebuild (`RebuildOptions::batch_size`).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(i64).range(1..))]
    batch_size: i64,
    /// Only these projector ids (comma list); default every read model.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Rebuild the projectors one after the other (per-projector CPU figures) instead of side by side
    /// as `ledger-api rebuild --all` does.
    #[arg(long)]
    sequential: bool,
    /// Build the shadows' bulk pass into UNLOGGED tables and make them logged before the swap
    /// (`RebuildOptions::unlogged_bulk`).
    #[arg(long)]
    unlogged_bulk: bool,
    /// A third leg per run, the floor: the rows the rebuild wrote, copied again by Postgres alone
    /// (`INSERT … SELECT` into index-less tables, then every index built; one connection per read model,
    /// side by side) — what writing those rows costs with no log read, no decoding and no client at all.
    #[arg(long)]
    floor: bool,
    /// A further leg per run, the bound: the scan, each event's payload also decoded once into its
    /// domain event, and the floor, at the same time (the log read and decoded while Postgres writes
    /// the rebuilt rows again and builds their indexes). Any rebuild must at least read the log and write those rows, so no rebuild of these read
    /// models can run faster on this machine than this leg.
    #[arg(long)]
    bound: bool,
}

// ---------------------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------------------

/// splitmix64: a small deterministic generator (the data only has to look varied, not be random).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

/// Metadata as `app::pipeline` stores it (same field names and order).
#[derive(Serialize)]
struct Metadata<'a> {
    actor: &'a str,
    role: &'a str,
    actor_regions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    actor_teams: Vec<String>,
    subject_region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_team: Option<String>,
    command: &'a str,
    idempotency_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    causation_id: Option<&'a str>,
    client: &'a str,
}

/// Who ran a command, for its metadata.
struct By<'a> {
    role: Role,
    region: &'a str,
    team: Option<TeamId>,
    command: &'static str,
}

/// A command without a team subject.
fn by<'a>(role: Role, region: &'a str, command: &'static str) -> By<'a> {
    By {
        role,
        region,
        team: None,
        command,
    }
}

fn uid(kind: u128, n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x5b1e_0000_0000_4000_8000_0000_0000_0000 | (kind << 40) | n)
}

fn text(s: &str) -> anyhow::Result<Text> {
    Text::parse("text", s, 20_000).map_err(|e| anyhow::anyhow!("{e}"))
}

fn code(s: &str) -> anyhow::Result<RegionCode> {
    RegionCode::parse("region", s).map_err(|e| anyhow::anyhow!("{e}"))
}

fn day(y: i32, m: u32, d: u32) -> anyhow::Result<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d).context("invalid date")
}

fn timestamp(micros: i64) -> anyhow::Result<String> {
    let t = DateTime::<Utc>::from_timestamp_micros(micros).context("timestamp out of range")?;
    Ok(t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string())
}

/// COPY text format: escape backslash, tab, newline and carriage return.
fn copy_escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// The log being written: a COPY buffer flushed every `per_tx` rows, one transaction each.
struct Log<'c> {
    conn: &'c mut PgConnection,
    buf: String,
    rows: u64,
    per_tx: u64,
    written: u64,
    /// Receipt time of the next event, advancing.
    recorded: i64,
    rng: Rng,
    started: Instant,
}

impl Log<'_> {
    /// Append one event to `stream` at `version` after `prev`; its hash.
    async fn emit<E: DomainEvent>(
        &mut self,
        stream: &str,
        version: u64,
        prev: [u8; 32],
        event: &E,
        by: &By<'_>,
    ) -> anyhow::Result<[u8; 32]> {
        let payload = event.to_payload()?;
        let actor = format!("bench-{}-{}", by.role.as_str(), by.region);
        let key = uuid::Uuid::from_u64_pair(self.rng.next(), self.rng.next()).to_string();
        let metadata = serde_json::to_string(&Metadata {
            actor: &actor,
            role: by.role.as_str(),
            actor_regions: vec![by.region.to_owned()],
            actor_teams: vec![],
            subject_region: by.region.to_owned(),
            subject_team: by.team.map(|t| t.to_string()),
            command: by.command,
            idempotency_key: &key,
            correlation_id: None,
            causation_id: None,
            client: CLIENT,
        })?;
        self.recorded += 1_000 + i64::try_from(self.rng.below(4_000))?;
        let occurred = self.recorded;
        let event_type = event.event_type();
        let schema_version = event.schema_version();
        let digest = CanonicalEvent {
            stream_id: stream,
            stream_version: version,
            event_type,
            schema_version,
            occurred_at_micros: occurred,
            recorded_at_micros: self.recorded,
            metadata: &metadata,
            payload: &payload,
        }
        .digest();
        let hash = hash::chain(&prev, &digest);
        let b = &mut self.buf;
        copy_escape(b, stream);
        b.push_str(&format!("\t{version}\t{event_type}\t{schema_version}\t"));
        copy_escape(b, &payload);
        b.push('\t');
        copy_escape(b, &metadata);
        let ts = timestamp(occurred)?;
        b.push_str(&format!(
            "\t{ts}\t{ts}\t\\\\x{}\t\\\\x{}\n",
            hex::encode(prev),
            hex::encode(hash)
        ));
        self.rows += 1;
        if self.rows >= self.per_tx {
            self.flush().await?;
        }
        Ok(hash)
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut copy = self
            .conn
            .copy_in_raw(COPY_EVENTS)
            .await
            .context("starting COPY")?;
        copy.send(self.buf.as_bytes())
            .await
            .context("sending rows")?;
        copy.finish().await.context("finishing COPY")?;
        let before = self.written;
        self.written += self.rows;
        self.rows = 0;
        self.buf.clear();
        if self.written / 250_000 != before / 250_000 {
            eprintln!(
                "generated {} events ({:.0} events/s)",
                self.written,
                self.written as f64 / self.started.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }
}

/// One county of the generated province.
struct County {
    code: String,
    teams: Vec<TeamId>,
    /// Members per team (index as `teams`).
    members: Vec<Vec<VolunteerId>>,
}

/// The sizes a scale gives.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub counties: u64,
    pub teams: u64,
    pub volunteers: u64,
    pub activities: u64,
}

impl Sizes {
    pub fn at(scale: f64) -> anyhow::Result<Self> {
        ensure!(scale > 0.0 && scale <= 1.0, "--scale must be in (0, 1]");
        let counties = u64::from(CITIES * COUNTIES_PER_CITY);
        let n = |full: f64, min: u64| ((full * scale).round() as u64).max(min);
        Ok(Self {
            counties,
            teams: n(FULL_TEAMS, counties),
            volunteers: n(FULL_VOLUNTEERS, counties * 10),
            activities: n(FULL_ACTIVITIES, counties),
        })
    }
}

/// Write the campaign year into the empty log of `conn`'s database.
async fn generate(conn: &mut PgConnection, args: &GenArgs) -> anyhow::Result<Sizes> {
    let sizes = Sizes::at(args.scale)?;
    let mut log = Log {
        conn,
        buf: String::with_capacity(1 << 22),
        rows: 0,
        per_tx: args.events_per_transaction,
        written: 0,
        recorded: 1_704_067_200_000_000, // 2024-01-01T00:00:00Z
        rng: Rng(args.seed),
        started: Instant::now(),
    };
    let since = day(1983, 7, 1)?;

    // Regions and 2023 resident populations.
    let mut regions: Vec<(String, RegionLevel, Option<String>, &'static str)> =
        vec![(PROVINCE.to_owned(), RegionLevel::Province, None, "浙江省")];
    for c in 1..=CITIES {
        let city = format!("33{c:02}00");
        regions.push((
            city.clone(),
            RegionLevel::City,
            Some(PROVINCE.to_owned()),
            "示例市",
        ));
        for k in 1..=COUNTIES_PER_CITY {
            regions.push((
                format!("33{c:02}{k:02}"),
                RegionLevel::County,
                Some(city.clone()),
                "示例县",
            ));
        }
    }
    let mut populations: HashMap<String, u64> = HashMap::new();
    let mut heads: HashMap<String, [u8; 32]> = HashMap::new();
    for (c, level, parent, name) in &regions {
        let stream = Region::stream_id(c);
        let pop = match level {
            RegionLevel::County => log.rng.range(200_000, 1_500_000),
            _ => 0,
        };
        populations.insert(c.clone(), pop);
        let h = log
            .emit(
                &stream,
                1,
                GENESIS,
                &RegionEvent::Defined(RegionDefined {
                    code: code(c)?,
                    name: text(name)?,
                    level: *level,
                    parent: parent.as_deref().map(code).transpose()?,
                    valid_from: since,
                    valid_to: None,
                }),
                &by(Role::CityCdc, PROVINCE, "DefineRegion"),
            )
            .await?;
        heads.insert(c.clone(), h);
    }
    // Populations: counties as drawn, cities and the province as their sums.
    let mut sums: HashMap<String, u64> = HashMap::new();
    for (c, level, _, _) in &regions {
        if matches!(level, RegionLevel::County) {
            let p = populations.get(c).copied().unwrap_or(0);
            *sums.entry(format!("{}00", &c[..4])).or_default() += p;
            *sums.entry(PROVINCE.to_owned()).or_default() += p;
        }
    }
    for (c, level, _, _) in &regions {
        let count = if matches!(level, RegionLevel::County) {
            populations.get(c).copied().unwrap_or(0)
        } else {
            sums.get(c).copied().unwrap_or(0)
        };
        let prev = *heads.get(c).context("region head")?;
        log.emit(
            &Region::stream_id(c),
            2,
            prev,
            &RegionEvent::ResidentPopulationRecorded(ResidentPopulationRecorded {
                year: 2023,
                count,
                source: text("2023年国民经济和社会发展统计公报（基准测试数据）")?,
                supersedes: false,
                reason: None,
            }),
            &by(Role::CityCdc, PROVINCE, "RecordResidentPopulation"),
        )
        .await?;
    }

    // The relevant department and the campaign.
    let department = HostUnitId(uid(1, 0));
    log.emit(
        &HostUnit::stream_id(&department.to_string()),
        1,
        GENESIS,
        &HostUnitEvent::Registered(HostUnitRegistered {
            host_unit_id: department,
            kind: HostUnitKind::GovernmentDepartment,
            name: text("示例市卫生健康委员会")?,
            region: code(CAMPAIGN_CITY)?,
        }),
        &by(Role::CityCdc, CAMPAIGN_CITY, "RegisterHostUnit"),
    )
    .await?;
    let campaign = app::demo::DEMO_CAMPAIGN;
    log.emit(
        &Campaign::stream_id(&campaign.to_string()),
        1,
        GENESIS,
        &CampaignEvent::Defined(CampaignDefined {
            campaign_id: campaign,
            name: text("“百千万”结核病防治志愿服务活动（基准测试）")?,
            city: code(CAMPAIGN_CITY)?,
            window_start: day(2023, 12, 1)?,
            window_end: day(2025, 3, 31)?,
            rules: RuleSet::baiqianwan(vec![department]),
        }),
        &by(Role::CityCdc, CAMPAIGN_CITY, "DefineCampaign"),
    )
    .await?;

    // Host units and teams, county by county.
    let mut counties: Vec<County> = Vec::new();
    let county_codes: Vec<String> = regions
        .iter()
        .filter(|r| matches!(r.1, RegionLevel::County))
        .map(|r| r.0.clone())
        .collect();
    let mut team_n: u128 = 0;
    let mut host_n: u128 = 0;
    for (ci, c) in county_codes.iter().enumerate() {
        let teams_here = share(sizes.teams, sizes.counties, ci as u64);
        let mut county = County {
            code: c.clone(),
            teams: Vec::new(),
            members: Vec::new(),
        };
        for t in 0..teams_here {
            host_n += 1;
            let host = HostUnitId(uid(1, host_n));
            let kind = match t % 6 {
                0 => HostUnitKind::Cdc,
                1 => HostUnitKind::DesignatedTbHospital,
                2 => HostUnitKind::TbFreeCommunityPilot(PilotLevel::City),
                3 => HostUnitKind::School,
                4 => HostUnitKind::Enterprise,
                _ => HostUnitKind::SocialOrganisation,
            };
            log.emit(
                &HostUnit::stream_id(&host.to_string()),
                1,
                GENESIS,
                &HostUnitEvent::Registered(HostUnitRegistered {
                    host_unit_id: host,
                    kind,
                    name: text(&format!("示例单位{host_n}"))?,
                    region: code(c)?,
                }),
                &by(Role::CountyCdc, c, "RegisterHostUnit"),
            )
            .await?;
            team_n += 1;
            let team = TeamId(uid(2, team_n));
            let stream = Team::stream_id(&team.to_string());
            let leader = DataKey::generate()?;
            let person = PersonalRecord {
                name: format!("示例队长{team_n}"),
                id_number: None,
                phone: Some(format!("138{:08}", team_n % 100_000_000)),
            };
            log.emit(
                &stream,
                1,
                GENESIS,
                &TeamEvent::Registered(TeamRegistered {
                    team_id: team,
                    host_unit_id: host,
                    host_unit_kind: kind,
                    region: code(c)?,
                    level: TeamLevel::County,
                    profile: TeamProfile {
                        name: text(&format!("示例结核病防治志愿服务队{team_n}"))?,
                        national_platform_id: None,
                        leader: Sealed(
                            seal_record(&leader, &stream, "team.leader", &person)?.to_string(),
                        ),
                        on_call_contact: Sealed(
                            seal_record(&leader, &stream, "team.on_call", &person)?.to_string(),
                        ),
                        party_member_team: t % 7 == 3,
                        student_team: t % 11 == 5,
                    },
                    registered_on: day(2024, 1, 2)?,
                }),
                &By {
                    role: Role::CountyCdc,
                    region: c,
                    team: Some(team),
                    command: "RegisterTeam",
                },
            )
            .await?;
            county.teams.push(team);
            county.members.push(Vec::new());
        }
        counties.push(county);
    }

    // Volunteers: registered with a sealed personal record, joined to a team (every tenth to two).
    let mut vol_n: u128 = 0;
    for (ci, county) in counties.iter_mut().enumerate() {
        let here = share(sizes.volunteers, sizes.counties, ci as u64);
        let c = county.code.clone();
        let nteams = county.teams.len() as u64;
        for k in 0..here {
            vol_n += 1;
            let volunteer = VolunteerId(uid(3, vol_n));
            let stream = Volunteer::stream_id(&volunteer.to_string());
            let key = DataKey::generate()?;
            let record = PersonalRecord {
                name: format!("示例志愿者{vol_n}"),
                id_number: Some(format!("{c}19{:02}0101{:03}X", 60 + k % 40, k % 1000)),
                phone: Some(format!("139{:08}", vol_n % 100_000_000)),
            };
            let registered_on = day(2024, 1, 3 + u32::try_from(k % 20)?)?;
            let mut h = log
                .emit(
                    &stream,
                    1,
                    GENESIS,
                    &VolunteerEvent::Registered(VolunteerRegistered {
                        volunteer_id: volunteer,
                        document_kind: DocumentKind::ResidentIdCard,
                        adult_on: day(1978 + i32::try_from(k % 40)?, 1, 1)?,
                        personal: Sealed(
                            seal_record(&key, &stream, "volunteer.personal", &record)?.to_string(),
                        ),
                        home_region: code(&c)?,
                        attestation: Attestation {
                            law_abiding: true,
                            capable: true,
                            understands_tb_core_messages: true,
                        },
                        skills: vec![text("健康宣教")?],
                        reserve_tier: if k % 50 == 0 {
                            ReserveTier::FirstEchelon
                        } else {
                            ReserveTier::None
                        },
                        registered_on,
                    }),
                    &by(Role::CountyCdc, &c, "RegisterVolunteer"),
                )
                .await?;
            let first = log.rng.below(nteams) as usize;
            let mut joined = vec![first];
            if k % 10 == 9 && nteams > 1 {
                joined.push((first + 1) % nteams as usize);
            }
            for (j, ti) in joined.into_iter().enumerate() {
                let team = *county.teams.get(ti).context("team index")?;
                h = log
                    .emit(
                        &stream,
                        2 + j as u64,
                        h,
                        &VolunteerEvent::JoinedTeam(VolunteerJoinedTeam {
                            team_id: team,
                            joined_on: registered_on,
                        }),
                        &By {
                            role: Role::CountyCdc,
                            region: &c,
                            team: Some(team),
                            command: "JoinTeam",
                        },
                    )
                    .await?;
                county
                    .members
                    .get_mut(ti)
                    .context("team index")?
                    .push(volunteer);
            }
        }
    }

    // Activities of 2024, spread over the teams of every county, in date order.
    let kinds = [
        ActivityKind::KnowledgePublicity,
        ActivityKind::PatientCare,
        ActivityKind::TreatmentFollowUp,
        ActivityKind::HealthCheckUp,
        ActivityKind::PreventiveTherapyMobilisation,
        ActivityKind::Other,
    ];
    let first_day = day(2024, 2, 1)?;
    let days = 300u64;
    let all_teams: Vec<(usize, usize)> = counties
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| (0..c.teams.len()).map(move |ti| (ci, ti)))
        .collect();
    for a in 0..sizes.activities {
        // Every team gets its share round-robin, so each has at least one activity when there are enough.
        let (ci, ti) = *all_teams
            .get((a % all_teams.len() as u64) as usize)
            .context("team")?;
        let county = counties.get(ci).context("county")?;
        let team = *county.teams.get(ti).context("team")?;
        let members = county.members.get(ti).context("members")?;
        if members.is_empty() {
            continue;
        }
        let on = first_day + chrono::Days::new(a * days / sizes.activities);
        let n = (log.rng.range(3, 8) as usize).min(members.len());
        let start = log.rng.below(members.len() as u64) as usize;
        let participants: Vec<Participant> = (0..n)
            .filter_map(|i| members.get((start + i) % members.len()))
            .map(|v| Participant {
                volunteer_id: *v,
                minutes: 60 + 30 * (log.rng.below(6) as u32),
            })
            .collect();
        let recorder = participants
            .first()
            .map(|p| Recorder::Volunteer(p.volunteer_id))
            .context("no participant")?;
        let key_day = match (on.format("%m-%d").to_string().as_str(), a % 3) {
            ("03-24", _) => Some(KeyDay::WorldTbDay),
            ("05-31", 0) => Some(KeyDay::WorldNoTobaccoDay),
            _ => None,
        };
        let kind = if key_day.is_some() {
            ActivityKind::KeyDayCampaign
        } else {
            kinds[(a % kinds.len() as u64) as usize]
        };
        let activity = ActivityId(uid(4, u128::from(a)));
        let (people_reached, media_pieces, materials_distributed) = (
            20 + log.rng.below(300) as u32,
            log.rng.below(3) as u32,
            log.rng.below(500) as u32,
        );
        log.emit(
            &domain::activity::Activity::stream_id(&activity.to_string()),
            1,
            GENESIS,
            &ActivityEvent::Recorded(ActivityRecorded {
                activity_id: activity,
                details: ActivityDetails {
                    team_id: team,
                    kind,
                    key_day,
                    date: on,
                    start_time: None,
                    end_time: None,
                    place: text("社区卫生服务中心广场")?,
                    grid: None,
                    participants,
                    people_reached,
                    media_pieces,
                    materials_distributed,
                    record: ActivityRecord {
                        recorder,
                        content: text("结核病防治核心知识宣传，发放宣传资料，现场咨询")?,
                        summary: text("引导可疑症状者就诊，登记随访对象")?,
                        attachments: vec![],
                    },
                },
            }),
            &By {
                role: Role::TeamLeader,
                region: &county.code,
                team: Some(team),
                command: "RecordActivity",
            },
        )
        .await?;
    }

    // The 2024 summaries: drafted, approved, submitted to the city (every tenth late), every second
    // accepted.
    let deadline: DateTime<Utc> = "2025-01-05T16:00:00Z".parse()?;
    for (ci, county) in counties.iter().enumerate() {
        let c = &county.code;
        let key = CountyYear::new("summary", code(c)?, 2024).map_err(|e| anyhow::anyhow!("{e}"))?;
        let stream = AnnualSummary::stream_id(&key.id());
        let late = ci % 10 == 9;
        let received_at: DateTime<Utc> = if late {
            "2025-01-05T16:01:00Z".parse()?
        } else {
            "2025-01-03T02:00:00Z".parse()?
        };
        let events = [
            (
                SummaryEvent::Drafted(SummaryDrafted {
                    county: code(c)?,
                    year: 2024,
                    partial_year: false,
                    revision: 1,
                    sections: SummarySections {
                        team_buildup: text("组建志愿服务队，注册志愿者")?,
                        support: text("落实专项经费，印发年度工作计划")?,
                        activities: text("围绕宣传日开展主题宣传")?,
                        effect: text("结核病防治核心知识知晓率提升")?,
                    },
                    typical_cases: vec![],
                }),
                Role::CountyCdc,
                "DraftSummary",
            ),
            (
                SummaryEvent::SubmittedForApproval(SummarySubmittedForApproval { revision: 1 }),
                Role::CountyCdc,
                "SubmitForApproval",
            ),
            (
                SummaryEvent::Approved(SummaryApproved { revision: 1 }),
                Role::HealthBureauApprover,
                "ApproveSummary",
            ),
            (
                SummaryEvent::SubmittedToCity(SummarySubmittedToCity {
                    revision: 1,
                    submission: 1,
                    first_submission: true,
                    received_at,
                    deadline,
                    on_time: Some(!late),
                }),
                Role::CountyCdc,
                "SubmitToCity",
            ),
            (
                SummaryEvent::Accepted(SummaryAccepted { revision: 1 }),
                Role::CityCdc,
                "AcceptSummary",
            ),
        ];
        let take = if ci % 2 == 0 { 5 } else { 4 };
        let mut h = GENESIS;
        for (v, (event, role, command)) in events.iter().take(take).enumerate() {
            h = log
                .emit(&stream, v as u64 + 1, h, event, &by(*role, c, command))
                .await?;
        }
    }
    log.flush().await?;
    Ok(sizes)
}

/// The `i`-th of `parts` near-equal shares of `total`.
fn share(total: u64, parts: u64, i: u64) -> u64 {
    total / parts + u64::from(i < total % parts)
}

// ---------------------------------------------------------------------------------------------------------
// The database
// ---------------------------------------------------------------------------------------------------------

/// The benchmark's database on the cluster.
pub struct Db {
    pub owner: PgConnectOptions,
    pub name: String,
    created: bool,
    keep: bool,
}

impl Db {
    /// The owner's options on the benchmark database.
    pub fn owner_here(&self) -> PgConnectOptions {
        self.owner.clone().database(&self.name)
    }

    /// The service role's options on the benchmark database.
    pub fn app_here(&self, args: &GenArgs) -> PgConnectOptions {
        let mut o = self.owner_here().username(&args.app_user);
        if let Some(p) = &args.app_password {
            o = o.password(p);
        }
        o
    }

    /// Drop the database unless it is kept or reused.
    pub async fn finish(self) {
        if self.created && !self.keep {
            let dropped = async {
                let mut c = PgConnection::connect_with(&self.owner).await?;
                // A generated name (hex only).
                c.execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .await?;
                c.close().await?;
                anyhow::Ok(())
            }
            .await;
            if let Err(e) = dropped {
                eprintln!("warning: could not drop {}: {e:#}", self.name);
            }
        } else {
            println!("kept database {}", self.name);
        }
    }
}

/// Print the command line and the server; create, migrate and fill the database (or take the reused one).
pub async fn prepare(args: &GenArgs, bench: &str) -> anyhow::Result<Db> {
    let argv: Vec<String> = std::env::args()
        .map(|a| if a.contains("://") { redact(&a) } else { a })
        .collect();
    println!("ledger-bench {bench}");
    println!("command: {}", argv.join(" "));
    let owner = PgConnectOptions::from_str(&args.database_url)
        .context("--database-url is not a Postgres URL")?
        .application_name("ledger-bench");
    let mut c = PgConnection::connect_with(&owner)
        .await
        .context("connecting with --database-url (the owner role)")?;
    let s = sqlx::query(SERVER_SETTINGS).fetch_one(&mut c).await?;
    let get = |k: &str| s.try_get::<String, _>(k).unwrap_or_default();
    println!(
        "server: PostgreSQL {}; fsync={} shared_buffers={}",
        get("version"),
        get("fsync"),
        get("shared_buffers"),
    );
    ensure!(
        sqlx::query(ROLE_EXISTS)
            .bind(&args.app_user)
            .fetch_optional(&mut c)
            .await?
            .is_some(),
        "role {:?} does not exist on this cluster; deploy/pg-private creates ledger_app",
        args.app_user
    );
    let db = match &args.reuse_database {
        Some(name) => {
            ensure!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "--reuse-database takes a name ledger-bench generated"
            );
            c.close().await?;
            return Ok(Db {
                owner,
                name: name.clone(),
                created: false,
                keep: true,
            });
        }
        None => {
            let suffix: String = uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .chars()
                .take(12)
                .collect();
            Db {
                owner,
                name: format!("vl_bench_year_{suffix}"),
                created: true,
                keep: args.keep_database,
            }
        }
    };
    c.execute(AssertSqlSafe(format!("CREATE DATABASE {}", db.name)))
        .await
        .with_context(|| format!("creating database {}", db.name))?;
    c.close().await?;
    let filled = fill(args, &db).await;
    if let Err(e) = filled {
        db.finish().await;
        return Err(e);
    }
    Ok(db)
}

async fn fill(args: &GenArgs, db: &Db) -> anyhow::Result<()> {
    let migrate = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(db.owner_here())
        .await?;
    schema::MIGRATOR
        .run(&migrate)
        .await
        .context("migrating the benchmark database")?;
    migrate.close().await;
    let mut conn = PgConnection::connect_with(&db.owner_here()).await?;
    let t0 = Instant::now();
    let sizes = generate(&mut conn, args).await?;
    let secs = t0.elapsed().as_secs_f64();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut conn)
        .await?;
    println!(
        "generated scale {} ({} counties, {} teams, {} volunteers, {} activities): {n} events in {secs:.0} s ({:.0} events/s, {} per transaction)",
        args.scale,
        sizes.counties,
        sizes.teams,
        sizes.volunteers,
        sizes.activities,
        n as f64 / secs,
        args.events_per_transaction
    );
    let t0 = Instant::now();
    conn.execute(VACUUM).await.context("VACUUM (ANALYZE)")?;
    println!("vacuumed in {:.0} s", t0.elapsed().as_secs_f64());
    conn.close().await?;
    Ok(())
}

/// Print the log's size and its event types.
pub async fn describe(pool: &PgPool) -> anyhow::Result<u64> {
    let size = sqlx::query(LOG_SIZE).fetch_one(pool).await?;
    let n: i64 = size.try_get("n")?;
    println!(
        "log: {n} events in {} streams, {} (table and indexes), payload {} B and metadata {} B on average",
        size.try_get::<i64, _>("streams")?,
        size.try_get::<String, _>("size")?,
        size.try_get::<i64, _>("payload")?,
        size.try_get::<i64, _>("metadata")?,
    );
    let types: Vec<String> = sqlx::query(TYPES)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(format!(
                "{} {}",
                r.try_get::<String, _>("event_type")?,
                r.try_get::<i64, _>("n")?
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    println!("event types: {}", types.join(", "));
    Ok(u64::try_from(n)?)
}

// ---------------------------------------------------------------------------------------------------------
// The legs
// ---------------------------------------------------------------------------------------------------------

async fn checkpoint(owner: &PgConnectOptions) {
    let done = async {
        let mut c = PgConnection::connect_with(owner).await?;
        c.execute(CHECKPOINT).await?;
        c.close().await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = done {
        eprintln!("warning: CHECKPOINT before a leg failed: {e:#}");
    }
}

/// CPU and time of a stretch of work.
struct Meter {
    cpu: Option<CpuSnapshot>,
    server: Option<u64>,
    start: Instant,
}

/// What a meter measured.
#[derive(Debug, Clone, Copy)]
struct Measured {
    secs: f64,
    client_secs: Option<f64>,
    server_secs: Option<f64>,
    busy_pct: Option<f64>,
}

impl Meter {
    fn start(server: Option<Server>) -> Self {
        Self {
            cpu: CpuSnapshot::now(),
            server: server.and_then(|s| s.ticks()),
            start: Instant::now(),
        }
    }

    fn stop(&self, server: Option<Server>) -> Measured {
        let secs = self.start.elapsed().as_secs_f64();
        let used = self.cpu.zip(CpuSnapshot::now()).map(|(a, b)| a.until(&b));
        Measured {
            secs,
            client_secs: used.map(|u| u.own_secs),
            server_secs: self
                .server
                .zip(server.and_then(|s| s.ticks()))
                .map(|(a, b)| sysstat::ticks_to_secs(b.saturating_sub(a))),
            busy_pct: used.map(|u| u.machine_busy_pct),
        }
    }
}

fn us_per(secs: Option<f64>, events: u64) -> String {
    secs.filter(|_| events > 0).map_or("-".to_owned(), |s| {
        format!("{:.2}", s * 1e6 / events as f64)
    })
}

/// The scan leg: the whole log through `read_all_after`, page by page.
async fn scan(store: &EventStore, page: i64) -> anyhow::Result<u64> {
    scan_each(store, page, |_| Ok(())).await
}

/// The whole log through `read_all_after`, page by page, `each` called on every event (monomorphised:
/// the plain scan pays nothing for it).
async fn scan_each(
    store: &EventStore,
    page: i64,
    each: impl Fn(&eventstore::RecordedEvent) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut after = Token::START;
    let mut n = 0u64;
    loop {
        let events = store.read_all_after(after, page).await?;
        for e in &events {
            each(e)?;
        }
        let Some(last) = events.last() else {
            return Ok(n);
        };
        after = last.token;
        n += events.len() as u64;
        if (events.len() as i64) < page {
            return Ok(n);
        }
    }
}

/// The payload of `event` decoded once into its aggregate's event type (the generated log holds only
/// these aggregates); a payload that decodes into none of them is an error.
fn decode_once(event: &eventstore::RecordedEvent) -> anyhow::Result<()> {
    fn is<E: DomainEvent>(
        e: &eventstore::RecordedEvent,
    ) -> Option<Result<(), domain::event::EventCodecError>> {
        match E::from_payload(&e.event_type, e.schema_version, &e.payload) {
            Err(domain::event::EventCodecError::UnknownType { .. }) => None,
            other => Some(other.map(|decoded| drop(std::hint::black_box(decoded)))),
        }
    }
    let decoded = is::<ActivityEvent>(event)
        .or_else(|| is::<VolunteerEvent>(event))
        .or_else(|| is::<TeamEvent>(event))
        .or_else(|| is::<HostUnitEvent>(event))
        .or_else(|| is::<RegionEvent>(event))
        .or_else(|| is::<SummaryEvent>(event))
        .or_else(|| is::<CampaignEvent>(event));
    match decoded {
        Some(result) => Ok(result?),
        None => anyhow::bail!("no aggregate decodes a {:?}", event.event_type),
    }
}

/// [`scan`], and each event's payload decoded once ([`decode_once`]): the least reading any rebuild does.
async fn scan_decoded(store: &EventStore, page: i64) -> anyhow::Result<u64> {
    scan_each(store, page, decode_once).await
}

/// One projector's rebuild in one run: seconds, client and Postgres CPU seconds, events applied.
type Sample = (f64, Option<f64>, Option<f64>, u64);

/// Rebuild `models` from empty (the production shadow build and swap, digests off): side by side
/// (`rebuild_all`, as `ledger-api rebuild --all`) or one after the other, each metered. Per model: seconds,
/// CPU (only when sequential) and events applied.
async fn rebuild_models(
    store: &EventStore,
    models: &[&'static dyn ReadModel],
    options: &RebuildOptions,
    sequential: bool,
    server: Option<Server>,
) -> anyhow::Result<Vec<Sample>> {
    let mut out = Vec::new();
    if sequential {
        for m in models {
            let pm = Meter::start(server);
            let report = m
                .rebuild(store, options)
                .await
                .with_context(|| format!("rebuilding {}", m.model_id()))?;
            let p = pm.stop(server);
            ensure!(
                report.parked == 0,
                "{} parked {} events of the generated log",
                m.model_id(),
                report.parked
            );
            out.push((p.secs, p.client_secs, p.server_secs, report.applied));
        }
        return Ok(out);
    }
    for (m, report) in models.iter().zip(rebuild_all(store, models, options).await) {
        let report = report.with_context(|| format!("rebuilding {}", m.model_id()))?;
        ensure!(
            report.parked == 0,
            "{} parked {} events of the generated log",
            m.model_id(),
            report.parked
        );
        out.push((report.total.as_secs_f64(), None, None, report.applied));
    }
    Ok(out)
}

/// The floor leg: every table of `models` copied by Postgres alone into [`FLOOR_SCHEMA`] — an index-less
/// copy filled by `INSERT … SELECT`, then its indexes built — one connection per read model, side by
/// side. DDL is built from the projectors' static table names (checked to be plain identifiers) and
/// from the server's own index definitions.
async fn floor(pool: &PgPool, models: &[&'static dyn ReadModel]) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for m in models {
        let (pool, tables) = (pool.clone(), m.model_tables());
        tasks.spawn(async move {
            let mut c = pool.acquire().await?;
            for t in tables {
                let t = plain(t)?;
                c.execute(AssertSqlSafe(format!(
                    "CREATE TABLE {FLOOR_SCHEMA}.{t} (LIKE public.{t}); \
                     INSERT INTO {FLOOR_SCHEMA}.{t} SELECT * FROM public.{t}"
                )))
                .await?;
                floor_indexes(&mut c, t).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// `t` when it is a plain identifier (lower-case letters, digits, `_`), which DDL may name as is.
fn plain(t: &'static str) -> anyhow::Result<&'static str> {
    ensure!(
        !t.is_empty()
            && t.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '_' || ch.is_ascii_digit()),
        "table name {t:?}"
    );
    Ok(t)
}

/// Build on the floor's copy of `t` every index the live table has (primary key included).
async fn floor_indexes(c: &mut PgConnection, t: &str) -> anyhow::Result<()> {
    let ddl: Vec<String> = sqlx::query_scalar(FLOOR_INDEXES)
        .bind(t)
        .fetch_all(&mut *c)
        .await?;
    for d in ddl {
        c.execute(AssertSqlSafe(d)).await?;
    }
    Ok(())
}

/// The rows of each table of each model in Postgres's binary `COPY` format, read into memory (outside
/// any timed leg) for [`floor_sent`].
type CopiedRows = Vec<Vec<(&'static str, Vec<u8>)>>;

async fn copy_rows_out(
    pool: &PgPool,
    models: &[&'static dyn ReadModel],
) -> anyhow::Result<CopiedRows> {
    let mut c = pool.acquire().await?;
    let mut out = Vec::with_capacity(models.len());
    for m in models {
        let mut tables = Vec::new();
        for t in m.model_tables() {
            let t = plain(t)?;
            let mut bytes = Vec::new();
            let mut chunks = c
                .copy_out_raw(&format!("COPY public.{t} TO STDOUT (FORMAT binary)"))
                .await?;
            while let Some(chunk) = chunks.next().await {
                bytes.extend_from_slice(&chunk?);
            }
            drop(chunks);
            tables.push((t, bytes));
        }
        out.push(tables);
    }
    Ok(out)
}

/// The floor with the rows sent by the client: per table an index-less copy filled by
/// `COPY … FROM STDIN (FORMAT binary)` from the bytes of [`copy_rows_out`] (1 MiB a message), then its
/// indexes built; one connection per read model, side by side. What a rebuild computing its rows in
/// the client must at least pay to hand them over, in Postgres's cheapest input format.
async fn floor_sent(pool: &PgPool, rows: &std::sync::Arc<CopiedRows>) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..rows.len() {
        let (pool, rows) = (pool.clone(), std::sync::Arc::clone(rows));
        tasks.spawn(async move {
            let mut c = pool.acquire().await?;
            for (t, bytes) in rows.get(i).map(Vec::as_slice).unwrap_or_default() {
                c.execute(AssertSqlSafe(format!(
                    "CREATE TABLE {FLOOR_SCHEMA}.{t} (LIKE public.{t})"
                )))
                .await?;
                let mut copy = c
                    .copy_in_raw(&format!(
                        "COPY {FLOOR_SCHEMA}.{t} FROM STDIN (FORMAT binary)"
                    ))
                    .await?;
                for piece in bytes.chunks(1 << 20) {
                    copy.send(piece).await?;
                }
                copy.finish().await?;
                floor_indexes(&mut c, t).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// One row of the per-run table.
fn print_leg(run: u32, leg: &str, total: u64, x: &Measured, scan_rate: f64) {
    println!(
        "| {run} | {leg} | {total} | {:.2} | {:.0} | {:.2} | {} | {} | {} |",
        x.secs,
        total as f64 / x.secs,
        (total as f64 / x.secs) / scan_rate,
        us_per(x.client_secs, total),
        us_per(x.server_secs, total),
        x.busy_pct.map_or("-".to_owned(), |b| format!("{b:.0}"))
    );
}

/// The floor's schema, empty.
async fn new_floor_schema(pool: &PgPool) -> anyhow::Result<()> {
    drop_floor(pool).await?;
    pool.execute(AssertSqlSafe(format!("CREATE SCHEMA {FLOOR_SCHEMA}")))
        .await?;
    Ok(())
}

/// What a bound leg of one run needs.
struct BoundLeg<'a> {
    run: u32,
    pool: &'a PgPool,
    store: &'a EventStore,
    batch: i64,
    owner: PgConnectOptions,
    server: Option<Server>,
    total: u64,
    scan_rate: f64,
}

impl BoundLeg<'_> {
    /// `CHECKPOINT`, then the scan decoding each payload once and `write` at the same time, timed
    /// together; the floor schema dropped, the leg printed as `label`, its ratio to the scan returned.
    async fn run(
        &self,
        label: &str,
        write: impl Future<Output = anyhow::Result<()>>,
    ) -> anyhow::Result<f64> {
        checkpoint(&self.owner).await;
        let m = Meter::start(self.server);
        let (n, written) = tokio::join!(scan_decoded(self.store, self.batch), write);
        written?;
        let b = m.stop(self.server);
        ensure!(
            n? == self.total,
            "run {}: the bound's scan read fewer than {} events",
            self.run,
            self.total
        );
        drop_floor(self.pool).await?;
        print_leg(self.run, label, self.total, &b, self.scan_rate);
        Ok((self.total as f64 / b.secs) / self.scan_rate)
    }
}

async fn drop_floor(pool: &PgPool) -> anyhow::Result<()> {
    pool.execute(AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {FLOOR_SCHEMA} CASCADE"
    )))
    .await?;
    Ok(())
}

pub async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    let db = prepare(&args.db, "rebuild").await?;
    let result = bench(&args, &db).await;
    db.finish().await;
    result
}

async fn bench(args: &RebuildArgs, db: &Db) -> anyhow::Result<()> {
    // The owner's pool: rebuilds create schemas. Side by side, one reader reads the log through it for
    // every bulk pass, and each rebuild its own catch-ups (a connection per projector plus the reader);
    // each also opens connections of its own for the shadow and the swap.
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(READ_MODELS.len()).unwrap_or(8) + 1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(db.owner_here())
        .await?;
    let store = EventStore::new(pool.clone(), StoreConfig::default());
    let pid: i32 = sqlx::query(BACKEND_PID)
        .fetch_one(&pool)
        .await?
        .try_get("pid")?;
    let server = Server::locate(pid);
    let total = describe(&pool).await?;
    let models: Vec<&'static dyn ReadModel> = READ_MODELS
        .iter()
        .copied()
        .filter(|m| args.only.is_empty() || args.only.iter().any(|o| o == m.model_id()))
        .collect();
    ensure!(!models.is_empty(), "--only names no read model");
    let ids: Vec<&'static str> = models.iter().map(|m| m.model_id()).collect();
    println!(
        "projectors: {} ({}); batch {} events; bulk pass {}; machine: {} CPUs, load average {}; server CPU {}",
        ids.join(", "),
        if args.sequential {
            "one after the other"
        } else {
            "side by side, one reader"
        },
        args.batch_size,
        if args.unlogged_bulk {
            "unlogged"
        } else {
            "logged"
        },
        sysstat::cpus(),
        sysstat::load_average().map_or("?".into(), |l| format!("{l:.2}")),
        if server.is_some() {
            "measured (same machine)"
        } else {
            "not measured"
        }
    );
    let options = RebuildOptions {
        batch_size: args.batch_size,
        digests: false,
        unlogged_bulk: args.unlogged_bulk,
        ..RebuildOptions::default()
    };
    let t0 = Instant::now();
    let warm = scan(&store, args.batch_size).await?;
    ensure!(warm == total, "the scan read {warm} of {total} events");
    println!(
        "warm-up scan: {warm} events in {:.1} s (not measured)",
        t0.elapsed().as_secs_f64()
    );

    println!();
    println!(
        "| run | leg | events | s | events/s | × scan | client CPU µs/event | server CPU µs/event | machine busy % |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    let mut scans = Vec::new();
    let mut rebuilds = Vec::new();
    let mut floors = Vec::new();
    let mut bounds = Vec::new();
    let mut sent_bounds = Vec::new();
    let mut per_projector: HashMap<&'static str, Vec<Sample>> = HashMap::new();
    for i in 1..=args.runs {
        checkpoint(&db.owner_here()).await;
        let m = Meter::start(server);
        let n = scan(&store, args.batch_size).await?;
        let s = m.stop(server);
        ensure!(n == total, "run {i}: the scan read {n} of {total} events");
        checkpoint(&db.owner_here()).await;
        let m = Meter::start(server);
        let samples = rebuild_models(&store, &models, &options, args.sequential, server).await?;
        for (id, sample) in ids.iter().zip(samples) {
            per_projector.entry(id).or_default().push(sample);
        }
        let r = m.stop(server);
        let scan_rate = total as f64 / s.secs;
        let rebuild_rate = total as f64 / r.secs;
        for (leg, x) in [("scan", &s), ("rebuild all", &r)] {
            print_leg(i, leg, total, x, scan_rate);
        }
        ratios.push(rebuild_rate / scan_rate);
        scans.push(scan_rate);
        rebuilds.push(rebuild_rate);
        if args.floor {
            drop_floor(&pool).await?;
            pool.execute(AssertSqlSafe(format!("CREATE SCHEMA {FLOOR_SCHEMA}")))
                .await?;
            checkpoint(&db.owner_here()).await;
            let m = Meter::start(server);
            floor(&pool, &models).await?;
            // Stopped before a CHECKPOINT, as the rebuild leg is: its dirty pages are not flushed either.
            let f = m.stop(server);
            drop_floor(&pool).await?;
            print_leg(
                i,
                "floor: the rows written again by Postgres alone",
                total,
                &f,
                scan_rate,
            );
            floors.push((total as f64 / f.secs) / scan_rate);
        }
        if args.bound {
            let leg = BoundLeg {
                run: i,
                pool: &pool,
                store: &store,
                batch: args.batch_size,
                owner: db.owner_here(),
                server,
                total,
                scan_rate,
            };
            new_floor_schema(&pool).await?;
            bounds.push(
                leg.run(
                    "bound: the scan with each payload decoded once, and the floor, at the same time",
                    floor(&pool, &models),
                )
                .await?,
            );
            new_floor_schema(&pool).await?;
            let rows = std::sync::Arc::new(copy_rows_out(&pool, &models).await?);
            sent_bounds.push(
                leg.run(
                    "bound, rows sent: as the bound, the rows sent by binary COPY",
                    floor_sent(&pool, &rows),
                )
                .await?,
            );
        }
    }
    let parked: Vec<String> = sqlx::query(PARKED)
        .fetch_all(&pool)
        .await?
        .iter()
        .map(|r| {
            Ok(format!(
                "{} {}",
                r.try_get::<String, _>("projector")?,
                r.try_get::<i64, _>("n")?
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    ensure!(parked.is_empty(), "parked events: {}", parked.join(", "));
    pool.close().await;

    println!();
    println!(
        "per projector (median over runs{}):",
        if args.sequential {
            "; each reads the whole log once"
        } else {
            "; side by side, fed by one reader of the log, so the times overlap and CPU is not split"
        }
    );
    println!();
    println!(
        "| projector | applied | s | log events/s | × scan | client CPU µs/event | server CPU µs/event |"
    );
    println!("|---|---|---|---|---|---|---|");
    let scan_median = stats::median(&scans).unwrap_or(f64::NAN);
    for id in &ids {
        let rows = per_projector.get(id).cloned().unwrap_or_default();
        let med = |f: &dyn Fn(&Sample) -> Option<f64>| {
            stats::median(&rows.iter().filter_map(f).collect::<Vec<_>>())
        };
        let secs = med(&|r| Some(r.0)).unwrap_or(f64::NAN);
        let per =
            |v: Option<f64>| v.map_or("-".to_owned(), |s| format!("{:.2}", s * 1e6 / total as f64));
        println!(
            "| {id} | {} | {secs:.2} | {:.0} | {:.2} | {} | {} |",
            rows.first().map_or(0, |r| r.3),
            total as f64 / secs,
            total as f64 / secs / scan_median,
            per(med(&|r| r.1)),
            per(med(&|r| r.2)),
        );
    }
    println!();
    let list = ratios
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "median ratio rebuild-all/scan: {:.2} ({list}); medians: scan {scan_median:.0} events/s, rebuild of all {} projectors {:.0} events/s",
        stats::median(&ratios).unwrap_or(f64::NAN),
        ids.len(),
        stats::median(&rebuilds).unwrap_or(f64::NAN),
    );
    if !floors.is_empty() {
        println!(
            "floor (the same rows written by Postgres alone, no log read, no client): median {:.2}× the scan",
            stats::median(&floors).unwrap_or(f64::NAN)
        );
    }
    if !sent_bounds.is_empty() {
        println!(
            "bound, rows sent (as the bound, the rows sent from memory by binary COPY instead of INSERT … SELECT): median {:.2}× the scan",
            stats::median(&sent_bounds).unwrap_or(f64::NAN)
        );
    }
    if !bounds.is_empty() {
        println!(
            "bound (the scan decoding each payload once, and the floor, at the same time: the least any rebuild must do): median {:.2}× the scan",
            stats::median(&bounds).unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

//! `ledger-bench grpc-record-activity`: `RecordActivity` with N participants through the real service
//! over gRPC, interleaved run by run with the two baselines of [`crate::append`]: the raw `pgbench`
//! single-row INSERT and the bare append path ([`eventstore::EventStore::append`]).
//!
//! Each run:
//! 1. `CHECKPOINT`, the raw leg (pgbench, exactly as `ledger-bench append`);
//! 2. for each `--variants` leg (default `service`, the bare append): `CHECKPOINT`, the leg;
//! 3. a fresh database, migrated by the service itself (`--migration-database-url`, the owner role), and
//!    `ledger_api::start` in this process on ephemeral ports, serving as `--app-user` with a pool of
//!    `--db-pool-size` connections, HS256 tokens with a random secret, production mode, the demo dataset
//!    loaded (regions, the campaign, the 越城区 CDC) and the projectors running as in production. The
//!    service runs on a tokio runtime of its own (`--service-threads` workers named `ledger-svc`), so
//!    its CPU is told apart from the client's by thread;
//! 4. the fixture, through the API: per worker a team of 越城区 with `max(5, --participants)` member
//!    volunteers (register, join), so no two workers share a team or a volunteer;
//! 5. for each `--participants` value: `CHECKPOINT`, then `--tasks` workers each calling
//!    `ActivityService/RecordActivity` for `--seconds`: a new activity (its own stream) per call, the
//!    first N members of the worker's team as participants, the first also the recorder, a unique
//!    idempotency key, `authorization: Bearer <jwt>` of a county-CDC actor per worker (minted once; the
//!    service verifies it on every call). The workers share `--channels` HTTP/2 connections (1: one
//!    channel multiplexing every call; `--tasks`: one per worker), all connected before the clock starts;
//!    With `--in-process` (the default), each gRPC leg is followed by `CHECKPOINT` and the **app leg**:
//!    the same workers, commands and actors, calling `app::Ledger::activity` on the service's runtime
//!    with no transport at all — so `grpc / app` is what the API layers (tonic, HTTP/2, the bearer
//!    token, the request conversion) cost, and `app / bare append` what the command itself costs;
//! 6. the service is shut down and its database dropped.
//!
//! What `RecordActivity` does in the service (crates/app/src/commands/activity.rs, pipeline.rs): verify
//! the JWT (remembered until its `exp`), convert and validate the request, keyed fingerprint, then two
//! statements on the pool: one `read_streams` of the activity's stream (empty), the team's and the N
//! participants' (and recorder's) volunteer streams, then decide (policy, membership and age on the
//! date: the eligibility check) and the append of one event with its idempotency row — the statement
//! the bare append leg runs, with a larger payload. The projectors (seven) then apply the event in
//! their own batches, in the same process.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use app::{Actor, Role};
use clap::Parser as _;
use domain::ids::RegionCode;
use grpc_api::pb;
use pb::activity_service_client::ActivityServiceClient;
use pb::team_service_client::TeamServiceClient;
use pb::volunteer_service_client::VolunteerServiceClient;
use sqlx::{AssertSqlSafe, Connection, Executor};
use tokio::task::JoinSet;
use tonic::Request;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use crate::append::{self, AppendArgs, Leg, RawLeg, Setup, Snapshot, fmt_opt, micros_since};
use crate::pgbench;
use crate::stats;
use crate::sysstat;

/// Name of the service runtime's threads (at most 15 bytes: `/proc` truncates thread names).
const SERVICE_THREADS: &str = "ledger-svc";
/// The county of the fixture, and its CDC host unit from the demo dataset (`app::demo`: kind 1, county 1).
const COUNTY: &str = "330602";
const COUNTY_CDC: &str = "7f1a0000-0000-4000-8000-000100000001";
const ISSUER: &str = "volunteer-ledger";
const AUDIENCE: &str = "ledger-api";
/// The fixture's dates: teams registered, volunteers joined, then the activities on 3·5.
const TEAM_REGISTERED_ON: &str = "2025-01-05";
const JOINED_ON: &str = "2025-01-10";
const ACTIVITY_DATE: &str = "2025-03-05";
/// Members per fixture team at least (the issue's "5 participants").
const MIN_MEMBERS: u32 = 5;

#[derive(Debug, clap::Args)]
pub struct GrpcArgs {
    #[command(flatten)]
    base: AppendArgs,
    /// Participants per activity; a comma list runs one gRPC leg per value in each run (e.g. `5,1`
    /// prices the per-participant eligibility check).
    #[arg(long, value_delimiter = ',', default_value = "5", value_parser = clap::value_parser!(u32).range(1..=100))]
    participants: Vec<u32>,
    /// HTTP/2 connections the workers share: 1 = one channel multiplexing every call, `--tasks` = a
    /// channel per worker.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=500))]
    channels: u32,
    /// Connections in the service's pool (`LEDGER_DB_POOL_SIZE`); default `--tasks`, the same as the
    /// bare-append leg's pool.
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=1000))]
    db_pool_size: Option<u32>,
    /// Worker threads of the service's runtime (the production binary uses one per CPU).
    #[arg(long, default_value_t = sysstat::cpus().max(1) as u64, value_parser = clap::value_parser!(u64).range(1..=64))]
    service_threads: u64,
    /// Run the projectors in the service, as production does.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    projectors: bool,
    /// After each gRPC leg, the same commands called on the service's `app::Ledger` in its runtime, with
    /// no transport (leg `app Np`): the gRPC leg's ratio to it is what tonic, HTTP/2, the bearer token
    /// and the request conversion cost — the issue's "API layers".
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    in_process: bool,
}

/// One leg's figures, with the service's CPU when the leg went through it.
struct Row {
    label: String,
    leg: Leg,
    /// CPU seconds of the service's threads (gRPC legs only).
    service_cpu_secs: Option<f64>,
}

impl Row {
    fn plain(label: &str, leg: Leg) -> Self {
        Self {
            label: label.to_owned(),
            leg,
            service_cpu_secs: None,
        }
    }

    fn service_cpu_ms_per_1k(&self) -> Option<f64> {
        self.leg.per_1k(self.service_cpu_secs)
    }

    /// Client + service + Postgres CPU per 1000 operations.
    fn total_cpu_ms_per_1k(&self) -> Option<f64> {
        let client = self.leg.client_cpu_ms_per_1k()?;
        let server = self.leg.server_cpu_ms_per_1k()?;
        Some(client + server + self.service_cpu_ms_per_1k().unwrap_or(0.0))
    }
}

const RAW: &str = "raw pgbench";
const APPEND: &str = "bare append";

fn api_label(participants: u32) -> String {
    format!("grpc {participants}p")
}

fn app_label(participants: u32) -> String {
    format!("app {participants}p")
}

pub async fn run(args: GrpcArgs) -> anyhow::Result<()> {
    let setup = append::setup(&args.base).await?;
    let result = bench(&args, &setup).await;
    append::finish(&args.base, &setup).await;
    result
}

async fn bench(args: &GrpcArgs, setup: &Setup) -> anyhow::Result<()> {
    let pgbench_bin = args.base.pgbench.clone().unwrap_or_else(pgbench::find);
    append::create_databases(setup, &args.base.app_user).await?;
    append::print_header(&args.base, setup, &pgbench_bin).await?;
    println!(
        "gRPC legs: RecordActivity with {:?} participants, {} workers on {} HTTP/2 channel(s); the \
         service in-process on its own runtime ({} worker threads), pool {}, projectors {}; a fresh \
         database per run",
        args.participants,
        args.base.tasks,
        args.channels,
        args.service_threads,
        pool_size(args),
        if args.projectors { "on" } else { "off" },
    );
    let dir = std::env::temp_dir().join(format!("ledger-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = bench_runs(args, setup, &pgbench_bin, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn pool_size(args: &GrpcArgs) -> u32 {
    args.db_pool_size.unwrap_or(args.base.tasks).max(2)
}

async fn bench_runs(
    args: &GrpcArgs,
    setup: &Setup,
    pgbench_bin: &Path,
    dir: &Path,
) -> anyhow::Result<()> {
    let raw_leg = RawLeg::prepare(&args.base, setup, pgbench_bin, dir)?;
    let mut warned = false;
    let mut runs: Vec<Vec<Row>> = Vec::new();
    for i in 1..=args.base.runs {
        let mut rows = Vec::new();
        append::checkpoint(setup, &mut warned).await;
        rows.push(Row::plain(RAW, raw_leg.run(i).await?));
        for &variant in &args.base.variants {
            append::checkpoint(setup, &mut warned).await;
            let leg = append::service_leg(&args.base, setup, variant)
                .await
                .with_context(|| format!("run {i}: {} leg", variant.name()))?;
            let label = match variant {
                append::Variant::Service => APPEND,
                other => other.name(),
            };
            rows.push(Row::plain(label, leg));
        }
        let db = format!("{}_api{i}", setup.svc_db.replace("_svc_", "_"));
        let api = api_legs(args, setup, &db, &mut warned).await;
        if args.base.keep_databases {
            println!("kept database {db}");
        } else if let Err(e) = drop_database(setup, &db).await {
            eprintln!("warning: could not drop {db}: {e:#}");
        }
        rows.extend(api.with_context(|| format!("run {i}: gRPC legs"))?);
        print_run(i, args.base.runs, &rows);
        runs.push(rows);
    }
    print_summary(args, &runs);
    Ok(())
}

async fn drop_database(setup: &Setup, db: &str) -> anyhow::Result<()> {
    let mut c = append::admin(setup, None).await?;
    // Generated name (hex and underscores only).
    c.execute(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .await?;
    c.close().await?;
    Ok(())
}

/// The service's database, the service, the fixture, then one leg per `--participants` value.
async fn api_legs(
    args: &GrpcArgs,
    setup: &Setup,
    db: &str,
    warned: &mut bool,
) -> anyhow::Result<Vec<Row>> {
    let mut c = append::admin(setup, None).await?;
    // Generated name (hex and underscores only).
    c.execute(AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .await
        .with_context(|| format!("creating database {db}"))?;
    c.close().await?;

    let service = Service::start(args, db).await?;
    let result = async {
        let channels = service.channels(args.channels).await?;
        let members = args
            .participants
            .iter()
            .copied()
            .max()
            .unwrap_or(MIN_MEMBERS)
            .max(MIN_MEMBERS);
        let t0 = Instant::now();
        let teams = fixture(&channels, &service.issuer, args.base.tasks, members).await?;
        println!(
            "  fixture: {} teams x {members} members through the API in {:.1} s",
            teams.len(),
            t0.elapsed().as_secs_f64()
        );
        let mut rows = Vec::new();
        for &p in &args.participants {
            projectors_caught_up(args, setup, db).await?;
            append::checkpoint(setup, warned).await;
            rows.push(
                api_leg(args, setup, &service, &channels, &teams, p)
                    .await
                    .with_context(|| format!("{} leg", api_label(p)))?,
            );
            if args.in_process {
                projectors_caught_up(args, setup, db).await?;
                append::checkpoint(setup, warned).await;
                rows.push(
                    app_leg(args, setup, &service, &teams, p)
                        .await
                        .with_context(|| format!("{} leg", app_label(p)))?,
                );
            }
        }
        anyhow::Ok(rows)
    }
    .await;
    service.stop().await;
    result
}

/// Whether an event lies after the oldest projector checkpoint (some projector has not applied it).
const PROJECTOR_BACKLOG: &str = "SELECT EXISTS (SELECT 1 FROM events e
WHERE (e.tx_id, e.position) > (SELECT c.tx_id, c.position FROM projection_checkpoints c
                               ORDER BY c.tx_id, c.position LIMIT 1)) AS behind";

/// With the projectors on, wait (at most two minutes) until they have applied everything written so
/// far, so that no leg shares the machine with the previous leg's backlog.
async fn projectors_caught_up(args: &GrpcArgs, setup: &Setup, db: &str) -> anyhow::Result<()> {
    if !args.projectors {
        return Ok(());
    }
    let mut c = append::admin(setup, Some(db)).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let behind: bool = sqlx::query_scalar(PROJECTOR_BACKLOG)
            .fetch_one(&mut c)
            .await
            .context("reading the projectors' backlog")?;
        if !behind {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the projectors are still behind the log after two minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.close().await?;
    Ok(())
}

/// `scheme://owner[:pw]@host/db?q` → `scheme://user[:password]@host/db?q` (for the service role).
fn with_user(url: &str, user: &str, password: Option<&str>) -> anyhow::Result<String> {
    let scheme_end = url
        .find("://")
        .map(|i| i + 3)
        .context("the database URL must look like postgres://user@host:port/db")?;
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let userinfo = match password {
        Some(p) => format!("{user}:{p}"),
        None => user.to_owned(),
    };
    Ok(format!("{head}{userinfo}@{host}{tail}"))
}

/// 64 random hex digits (a throwaway key per run).
fn random_hex32() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// `ledger_api` running in this process on a runtime of its own.
struct Service {
    /// `Some` until dropped; a runtime may not be dropped inside async code, so it is shut down in the
    /// background.
    runtime: Option<tokio::runtime::Runtime>,
    running: Option<ledger_api::Running>,
    grpc_url: String,
    issuer: access::DevIssuer,
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Service {
    async fn start(args: &GrpcArgs, db: &str) -> anyhow::Result<Self> {
        let owner_url = append::with_database(&args.base.database_url, db)?;
        let app_url = with_user(
            &owner_url,
            &args.base.app_user,
            args.base.app_password.as_deref(),
        )?;
        let secret = random_hex32();
        let pool = pool_size(args).to_string();
        let (master_key, hash_key) = (random_hex32(), random_hex32());
        let config = ledger_api::Config::try_parse_from([
            "ledger-api",
            "--database-url",
            &app_url,
            "--migration-database-url",
            &owner_url,
            "--master-key",
            &master_key,
            "--hash-key",
            &hash_key,
            "--jwt-hs256-secret",
            &secret,
            "--jwt-issuer",
            ISSUER,
            "--jwt-audience",
            AUDIENCE,
            "--db-pool-size",
            &pool,
            "--env",
            "production",
            "--demo",
            "--projectors",
            if args.projectors { "true" } else { "false" },
        ])
        .context("configuring ledger-api")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::try_from(args.service_threads)?)
            .thread_name(SERVICE_THREADS)
            .enable_all()
            .build()
            .context("building the service's runtime")?;
        let t0 = Instant::now();
        let running = runtime
            .spawn(async move {
                let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                anyhow::Ok(ledger_api::start(config, http, grpc).await?)
            })
            .await
            .context("the service's start task panicked")?
            .context("starting ledger-api (migrations, demo dataset)")?;
        let grpc_addr = running
            .grpc_addr
            .context("the service started without its gRPC listener")?;
        println!(
            "  service: {db} migrated, demo loaded, gRPC on {} ({:.1} s)",
            grpc_addr,
            t0.elapsed().as_secs_f64()
        );
        Ok(Self {
            runtime: Some(runtime),
            grpc_url: format!("http://{grpc_addr}"),
            running: Some(running),
            issuer: access::DevIssuer::with_secret(secret.into_bytes(), ISSUER, AUDIENCE),
        })
    }

    /// `n` connected channels.
    async fn channels(&self, n: u32) -> anyhow::Result<Vec<Channel>> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(
                Channel::from_shared(self.grpc_url.clone())?
                    .connect()
                    .await
                    .with_context(|| format!("connecting to {}", self.grpc_url))?,
            );
        }
        Ok(out)
    }

    /// CPU ticks of the service's threads so far.
    fn ticks() -> Option<u64> {
        sysstat::own_threads_ticks(SERVICE_THREADS)
    }

    /// Drain and stop the service, then its runtime.
    async fn stop(mut self) {
        if let (Some(running), Some(rt)) = (self.running.take(), self.runtime.as_ref()) {
            let stopped = rt.spawn(running.shutdown());
            if tokio::time::timeout(Duration::from_secs(30), stopped)
                .await
                .is_err()
            {
                eprintln!("warning: the service did not stop within 30 s; abandoning it");
            }
        }
        // Drop shuts the runtime down in the background.
    }
}

/// `Bearer <jwt>` of a county-CDC actor of [`COUNTY`], valid for a day.
fn bearer(issuer: &access::DevIssuer, subject: &str) -> anyhow::Result<MetadataValue<Ascii>> {
    let actor = Actor {
        subject: subject.to_owned(),
        role: Role::CountyCdc,
        regions: vec![RegionCode::parse("regions", COUNTY).map_err(|e| anyhow!("{e}"))?],
        teams: vec![],
        grants: vec![],
    };
    let token = issuer
        .mint(&actor, chrono::Utc::now().timestamp(), 24 * 3600)
        .map_err(|e| anyhow!("minting a token: {e}"))?;
    Ok(format!("Bearer {token}").parse()?)
}

fn authed<T>(bearer: &MetadataValue<Ascii>, message: T) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut().insert("authorization", bearer.clone());
    r
}

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A valid GB 11643 resident id number of [`COUNTY`], distinct for each `n` below 40 000, born 1960–1999.
fn resident_id(n: u32) -> anyhow::Result<String> {
    let body = format!("{COUNTY}{}0101{:03}", 1960 + (n / 1000) % 40, n % 1000);
    let check = domain::identity::gb11643_check_char(&body)
        .with_context(|| format!("no check digit for {body}"))?;
    Ok(format!("{body}{check}"))
}

/// One worker's team and its members (ids as the API takes them).
struct WorkerTeam {
    team: String,
    members: Vec<String>,
}

/// Per worker a team of [`COUNTY`] with `members` volunteers, registered and joined through the API.
async fn fixture(
    channels: &[Channel],
    issuer: &access::DevIssuer,
    workers: u32,
    members: u32,
) -> anyhow::Result<Vec<WorkerTeam>> {
    let bearer = Arc::new(bearer(issuer, "bench-setup")?);
    let mut tasks = JoinSet::new();
    for w in 0..workers {
        let ch = channels
            .get(w as usize % channels.len())
            .context("no channel")?
            .clone();
        let bearer = Arc::clone(&bearer);
        tasks.spawn(async move {
            let r = team_fixture(ch, &bearer, w, members).await;
            r.map(|t| (w, t))
                .with_context(|| format!("fixture of worker {w}"))
        });
    }
    let mut teams: Vec<(u32, WorkerTeam)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        teams.push(joined.context("a fixture task panicked")??);
    }
    teams.sort_by_key(|(w, _)| *w);
    Ok(teams.into_iter().map(|(_, t)| t).collect())
}

async fn team_fixture(
    ch: Channel,
    bearer: &MetadataValue<Ascii>,
    w: u32,
    members: u32,
) -> anyhow::Result<WorkerTeam> {
    let mut teams = TeamServiceClient::new(ch.clone());
    let mut volunteers = VolunteerServiceClient::new(ch);
    let team = key();
    let leader = Some(pb::Person {
        name: format!("基准队长{w:03}"),
        id_number: None,
        phone: Some(format!("138{w:08}")),
    });
    teams
        .register_team(authed(
            bearer,
            pb::RegisterTeamRequest {
                idempotency_key: key(),
                team_id: team.clone(),
                host_unit_id: COUNTY_CDC.to_owned(),
                region: COUNTY.to_owned(),
                level: pb::TeamLevel::County.into(),
                profile: Some(pb::TeamProfile {
                    name: format!("越城区基准志愿服务分队{w:03}"),
                    national_platform_id: None,
                    leader: leader.clone(),
                    on_call_contact: leader,
                    party_member_team: false,
                    student_team: false,
                }),
                registered_on: TEAM_REGISTERED_ON.to_owned(),
            },
        ))
        .await
        .context("RegisterTeam")?;
    let mut ids = Vec::new();
    for k in 0..members {
        let volunteer = key();
        volunteers
            .register_volunteer(authed(
                bearer,
                pb::RegisterVolunteerRequest {
                    idempotency_key: key(),
                    volunteer_id: volunteer.clone(),
                    document_kind: pb::DocumentKind::ResidentIdCard.into(),
                    document_number: resident_id(w * members + k)?,
                    declared_birth_date: None,
                    name: format!("基准志愿者{w:03}{k:02}"),
                    phone: None,
                    home_region: COUNTY.to_owned(),
                    attestation: Some(pb::Attestation {
                        law_abiding: true,
                        capable: true,
                        understands_tb_core_messages: true,
                    }),
                    skills: vec!["健康宣教".to_owned()],
                    reserve_tier: pb::ReserveTier::None.into(),
                    registered_on: JOINED_ON.to_owned(),
                },
            ))
            .await
            .context("RegisterVolunteer")?;
        volunteers
            .join_team(authed(
                bearer,
                pb::JoinTeamRequest {
                    idempotency_key: key(),
                    volunteer_id: volunteer.clone(),
                    team_id: team.clone(),
                    joined_on: JOINED_ON.to_owned(),
                },
            ))
            .await
            .context("JoinTeam")?;
        ids.push(volunteer);
    }
    Ok(WorkerTeam { team, members: ids })
}

/// The request of one call: a new activity of `team` with the first `participants` members.
fn record_activity(t: &WorkerTeam, participants: usize) -> pb::RecordActivityRequest {
    let people: Vec<pb::Participant> = t
        .members
        .iter()
        .take(participants)
        .map(|v| pb::Participant {
            volunteer_id: v.clone(),
            minutes: 150,
        })
        .collect();
    pb::RecordActivityRequest {
        idempotency_key: key(),
        activity_id: key(),
        details: Some(pb::ActivityDetails {
            team_id: t.team.clone(),
            kind: pb::ActivityKind::KeyDayCampaign.into(),
            key_day: Some(pb::KeyDay::VolunteerDay.into()),
            date: ACTIVITY_DATE.to_owned(),
            start_time: Some("09:00".to_owned()),
            end_time: Some("11:30".to_owned()),
            place: "越城区府山街道社区服务中心".to_owned(),
            grid: None,
            participants: people,
            people_reached: 200,
            media_pieces: 1,
            materials_distributed: 300,
            record: Some(pb::ActivityRecord {
                recorder: t
                    .members
                    .first()
                    .cloned()
                    .map(pb::activity_record::Recorder::RecorderVolunteerId),
                content: "志愿者日结核病防治知识宣传".to_owned(),
                summary: "发放资料，现场咨询".to_owned(),
                attachments: vec![],
            }),
        }),
    }
}

async fn api_leg(
    args: &GrpcArgs,
    setup: &Setup,
    service: &Service,
    channels: &[Channel],
    teams: &[WorkerTeam],
    participants: u32,
) -> anyhow::Result<Row> {
    let mut clients = Vec::new();
    for w in 0..args.base.tasks {
        let ch = channels
            .get(w as usize % channels.len())
            .context("no channel")?;
        clients.push((
            ActivityServiceClient::new(ch.clone()),
            bearer(&service.issuer, &format!("bench-recorder-{w}"))?,
        ));
    }
    let teams: Arc<Vec<WorkerTeam>> = Arc::new(
        teams
            .iter()
            .map(|t| WorkerTeam {
                team: t.team.clone(),
                members: t.members.clone(),
            })
            .collect(),
    );

    let metered = Metered::start(setup);
    let deadline = metered.start + Duration::from_secs(args.base.seconds);
    let mut tasks = JoinSet::new();
    for (w, (mut client, bearer)) in clients.into_iter().enumerate() {
        let teams = Arc::clone(&teams);
        let n = participants as usize;
        tasks.spawn(async move {
            let team = teams.get(w).context("no fixture team")?;
            let mut latencies: Vec<u32> = Vec::with_capacity(16 * 1024);
            while Instant::now() < deadline {
                let request = authed(&bearer, record_activity(team, n));
                let t0 = Instant::now();
                let reply = client
                    .record_activity(request)
                    .await
                    .with_context(|| format!("worker {w}: RecordActivity"))?
                    .into_inner();
                latencies.push(micros_since(t0));
                let written = reply.result.context("no result in the reply")?;
                ensure!(
                    !written.replayed && written.version == 1,
                    "worker {w}: unexpected result {written:?}"
                );
            }
            anyhow::Ok(latencies)
        });
    }
    finish_leg(api_label(participants), "grpc", tasks, metered, setup).await
}

/// What a leg's clock and meters were at its start.
struct Metered {
    before: Snapshot,
    service_before: Option<u64>,
    start: Instant,
}

impl Metered {
    fn start(setup: &Setup) -> Self {
        Self {
            before: Snapshot::take(setup.server),
            service_before: Service::ticks(),
            start: Instant::now(),
        }
    }
}

/// Wait for a leg's workers and turn their latencies and the meters into its [`Row`].
async fn finish_leg(
    label: String,
    name: &'static str,
    mut tasks: JoinSet<anyhow::Result<Vec<u32>>>,
    metered: Metered,
    setup: &Setup,
) -> anyhow::Result<Row> {
    let mut latencies: Vec<u32> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        // The first failure returns; dropping the JoinSet aborts the other workers.
        let mut l = joined.context("a worker panicked")??;
        latencies.append(&mut l);
    }
    let elapsed = metered.start.elapsed();
    let used = metered.before.until_now(setup.server).await;
    let service_secs = metered
        .service_before
        .zip(Service::ticks())
        .map(|(a, b)| sysstat::ticks_to_secs(b.saturating_sub(a)));
    let own = used.cpu.map(|c| c.own_secs);
    let ops = latencies.len() as u64;
    Ok(Row {
        label,
        leg: Leg {
            name,
            ops,
            ops_per_sec: ops as f64 / elapsed.as_secs_f64(),
            latency: stats::latency(&mut latencies),
            // This process minus the service's threads: the tonic client (if any) and the benchmark.
            client_cpu_secs: own.map(|o| (o - service_secs.unwrap_or(0.0)).max(0.0)),
            server_cpu_secs: used.server_secs,
            machine_busy_pct: used.cpu.map(|c| c.machine_busy_pct),
            load: used.load,
        },
        service_cpu_secs: service_secs,
    })
}

/// The commands of [`api_leg`] without a transport: `--tasks` workers on the service's runtime call
/// `Ledger::activity` with the domain command the gRPC adapter would have built from the same request,
/// as the same county-CDC actors. Their CPU is the service's (the threads are its).
async fn app_leg(
    args: &GrpcArgs,
    setup: &Setup,
    service: &Service,
    teams: &[WorkerTeam],
    participants: u32,
) -> anyhow::Result<Row> {
    use domain::activity::{
        ActivityCommand, ActivityDetails, ActivityKind, ActivityRecord, KeyDay, Participant,
        RecordActivity, Recorder,
    };
    use domain::ids::{ActivityId, TeamId, Text, VolunteerId};

    let ledger = service
        .running
        .as_ref()
        .context("the service is not running")?
        .ledger
        .clone();
    let runtime = service
        .runtime
        .as_ref()
        .context("the service has no runtime")?
        .handle()
        .clone();
    let text = |s: &str| Text::parse("text", s, 500).map_err(|e| anyhow!("{e}"));
    let date = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").context("a fixture date");
    let mut details = Vec::new();
    for t in teams {
        let members = t
            .members
            .iter()
            .map(|v| Ok(VolunteerId(uuid::Uuid::parse_str(v)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let first = *members.first().context("a fixture team without members")?;
        details.push(ActivityDetails {
            team_id: TeamId(uuid::Uuid::parse_str(&t.team)?),
            kind: ActivityKind::KeyDayCampaign,
            key_day: Some(KeyDay::VolunteerDay),
            date: date(ACTIVITY_DATE)?,
            start_time: chrono::NaiveTime::from_hms_opt(9, 0, 0),
            end_time: chrono::NaiveTime::from_hms_opt(11, 30, 0),
            place: text("越城区府山街道社区服务中心")?,
            grid: None,
            participants: members
                .iter()
                .take(participants as usize)
                .map(|v| Participant {
                    volunteer_id: *v,
                    minutes: 150,
                })
                .collect(),
            people_reached: 200,
            media_pieces: 1,
            materials_distributed: 300,
            record: ActivityRecord {
                recorder: Recorder::Volunteer(first),
                content: text("志愿者日结核病防治知识宣传")?,
                summary: text("发放资料，现场咨询")?,
                attachments: vec![],
            },
        });
    }
    let county = RegionCode::parse("regions", COUNTY).map_err(|e| anyhow!("{e}"))?;

    let metered = Metered::start(setup);
    let deadline = metered.start + Duration::from_secs(args.base.seconds);
    let mut tasks = JoinSet::new();
    for (w, details) in details.into_iter().enumerate() {
        let ledger = ledger.clone();
        let actor = Actor {
            subject: format!("bench-recorder-{w}"),
            role: Role::CountyCdc,
            regions: vec![county],
            teams: vec![],
            grants: vec![],
        };
        tasks.spawn_on(
            async move {
                let mut latencies: Vec<u32> = Vec::with_capacity(16 * 1024);
                while Instant::now() < deadline {
                    let ctx = app::CommandContext {
                        actor: actor.clone(),
                        idempotency_key: key(),
                        correlation_id: None,
                        causation_id: None,
                        client: "bench".to_owned(),
                    };
                    let activity = ActivityId(uuid::Uuid::new_v4());
                    let command = ActivityCommand::Record(RecordActivity {
                        activity,
                        details: details.clone(),
                    });
                    let t0 = Instant::now();
                    let out = ledger
                        .activity(&ctx, activity, command)
                        .await
                        .map_err(|e| anyhow!("worker {w}: RecordActivity: {e:?}"))?;
                    latencies.push(micros_since(t0));
                    ensure!(
                        !out.replayed && out.version == 1,
                        "worker {w}: unexpected outcome {out:?}"
                    );
                }
                anyhow::Ok(latencies)
            },
            &runtime,
        );
    }
    finish_leg(app_label(participants), "app", tasks, metered, setup).await
}

fn ratio_to(rows: &[Row], label: &str, row: &Row) -> Option<f64> {
    rows.iter()
        .find(|r| r.label == label)
        .map(|base| row.leg.ops_per_sec / base.leg.ops_per_sec)
}

fn print_run(i: u32, runs: u32, rows: &[Row]) {
    println!();
    println!("run {i}/{runs}");
    println!(
        "  {:<14} {:>8} {:>8} {:>6} {:>8} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6}",
        "leg",
        "ops",
        "ops/s",
        "x raw",
        "x append",
        "p50 ms",
        "p99 ms",
        "max ms",
        "client",
        "service",
        "postgres",
        "total",
        "busy%",
        "load"
    );
    for r in rows {
        println!(
            "  {:<14} {:>8} {:>8.0} {:>6} {:>8} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6}",
            r.label,
            r.leg.ops,
            r.leg.ops_per_sec,
            fmt_opt(ratio_to(rows, RAW, r), 2),
            fmt_opt(ratio_to(rows, APPEND, r), 2),
            fmt_opt(r.leg.latency.map(|l| l.p50_ms), 2),
            fmt_opt(r.leg.latency.map(|l| l.p99_ms), 2),
            fmt_opt(r.leg.latency.map(|l| l.max_ms), 1),
            fmt_opt(r.leg.client_cpu_ms_per_1k(), 0),
            fmt_opt(r.service_cpu_ms_per_1k(), 0),
            fmt_opt(r.leg.server_cpu_ms_per_1k(), 0),
            fmt_opt(r.total_cpu_ms_per_1k(), 0),
            fmt_opt(r.leg.machine_busy_pct, 0),
            fmt_opt(r.leg.load, 2),
        );
    }
    println!("  (CPU columns: ms per 1000 operations)");
}

fn joined(values: &[f64], precision: usize) -> String {
    values
        .iter()
        .map(|v| format!("{v:.precision$}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_summary(args: &GrpcArgs, runs: &[Vec<Row>]) {
    println!();
    println!(
        "summary: medians over {} runs ({} in flight, {} s legs)",
        runs.len(),
        args.base.tasks,
        args.base.seconds
    );
    let mut labels: Vec<&str> = Vec::new();
    for r in runs.iter().flatten() {
        if !labels.contains(&r.label.as_str()) {
            labels.push(&r.label);
        }
    }
    let mut md = Vec::new();
    for label in &labels {
        let mut ops = Vec::new();
        let mut x_raw = Vec::new();
        let mut x_append = Vec::new();
        let mut p50 = Vec::new();
        let mut p99 = Vec::new();
        let mut client = Vec::new();
        let mut service = Vec::new();
        let mut server = Vec::new();
        for rows in runs {
            let Some(r) = rows.iter().find(|r| r.label == *label) else {
                continue;
            };
            ops.push(r.leg.ops_per_sec);
            x_raw.extend(ratio_to(rows, RAW, r));
            x_append.extend(ratio_to(rows, APPEND, r));
            p50.extend(r.leg.latency.map(|l| l.p50_ms));
            p99.extend(r.leg.latency.map(|l| l.p99_ms));
            client.extend(r.leg.client_cpu_ms_per_1k());
            service.extend(r.service_cpu_ms_per_1k());
            server.extend(r.leg.server_cpu_ms_per_1k());
        }
        let m = stats::median;
        println!(
            "  {:<14} ops/s {:>6}  x raw {} ({})  x append {} ({})  p50 {} ms  p99 {} ms  CPU us/op: \
             client {} service {} postgres {}",
            label,
            fmt_opt(m(&ops), 0),
            fmt_opt(m(&x_raw), 2),
            joined(&x_raw, 2),
            fmt_opt(m(&x_append), 2),
            joined(&x_append, 2),
            fmt_opt(m(&p50), 2),
            fmt_opt(m(&p99), 2),
            fmt_opt(m(&client), 0),
            fmt_opt(m(&service), 0),
            fmt_opt(m(&server), 0),
        );
        md.push(format!(
            "| {label} | {} | {} ({}) | {} ({}) | {} | {} | {} | {} | {} |",
            fmt_opt(m(&ops), 0),
            fmt_opt(m(&x_raw), 2),
            joined(&x_raw, 2),
            fmt_opt(m(&x_append), 2),
            joined(&x_append, 2),
            fmt_opt(m(&p50), 2),
            fmt_opt(m(&p99), 2),
            fmt_opt(m(&client), 0),
            fmt_opt(m(&service), 0),
            fmt_opt(m(&server), 0),
        ));
        if label.starts_with("grpc") {
            let verdict = |v: Option<f64>, bar: f64| match v {
                Some(x) if x >= bar => format!("{x:.2} >= {bar} met"),
                Some(x) => format!("{x:.2} < {bar} NOT met"),
                None => "-".to_owned(),
            };
            println!(
                "  {:<14} bar: x raw {}; x append {}",
                "",
                verdict(m(&x_raw), 0.5),
                verdict(m(&x_append), 0.8)
            );
            let in_process = label.replacen("grpc", "app", 1);
            let x_app: Vec<f64> = runs
                .iter()
                .filter_map(|rows| {
                    let r = rows.iter().find(|r| r.label == *label)?;
                    ratio_to(rows, &in_process, r)
                })
                .collect();
            if !x_app.is_empty() {
                println!(
                    "  {:<14} the API layers: x {in_process} {} ({})",
                    "",
                    fmt_opt(m(&x_app), 2),
                    joined(&x_app, 2)
                );
            }
        }
    }

    println!();
    println!("markdown (medians; per-run ratios in parentheses; CPU in µs per operation):");
    println!(
        "| leg | ops/s | × raw | × bare append | p50 ms | p99 ms | client CPU | service CPU | Postgres CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for line in md {
        println!("{line}");
    }
    println!();
    println!("markdown (per run; CPU in µs per operation):");
    println!(
        "| run | leg | ops/s | × raw | × bare append | p50 ms | p99 ms | client CPU | service CPU | Postgres CPU | busy % | load |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, rows) in runs.iter().enumerate() {
        for r in rows {
            println!(
                "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                i + 1,
                r.label,
                r.leg.ops_per_sec,
                fmt_opt(ratio_to(rows, RAW, r), 2),
                fmt_opt(ratio_to(rows, APPEND, r), 2),
                fmt_opt(r.leg.latency.map(|l| l.p50_ms), 2),
                fmt_opt(r.leg.latency.map(|l| l.p99_ms), 2),
                fmt_opt(r.leg.client_cpu_ms_per_1k(), 0),
                fmt_opt(r.service_cpu_ms_per_1k(), 0),
                fmt_opt(r.leg.server_cpu_ms_per_1k(), 0),
                fmt_opt(r.leg.machine_busy_pct, 0),
                fmt_opt(r.leg.load, 2),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_urls() {
        assert_eq!(
            with_user(
                "postgres://o@127.0.0.1:5/db?sslmode=disable",
                "ledger_app",
                None
            )
            .ok(),
            Some("postgres://ledger_app@127.0.0.1:5/db?sslmode=disable".to_owned())
        );
        assert_eq!(
            with_user("postgresql://o:secret@h/db", "a", Some("pw")).ok(),
            Some("postgresql://a:pw@h/db".to_owned())
        );
    }

    #[test]
    fn resident_ids_are_valid_and_distinct() {
        let ids: Vec<String> = (0..2500).filter_map(|n| resident_id(n).ok()).collect();
        assert_eq!(ids.len(), 2500);
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 2500);
        assert!(ids.iter().all(|id| id.len() == 18));
    }

    #[test]
    fn requests_name_the_first_members() {
        let t = WorkerTeam {
            team: key(),
            members: (0..5).map(|_| key()).collect(),
        };
        let r = record_activity(&t, 3);
        let d = r.details.unwrap_or_default();
        assert_eq!(d.participants.len(), 3);
        assert_eq!(d.team_id, t.team);
        assert_ne!(r.activity_id, r.idempotency_key);
    }
}

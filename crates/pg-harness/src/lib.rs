//! # pg-harness — real Postgres for tests and benchmarks, never a mock
//!
//! Policy:
//! - Ordinary tests share one cluster: `VL_TEST_ADMIN_URL` (set by `deploy/test`), else `DATABASE_URL`
//!   used as an admin connection (it needs CREATEDB and CREATEROLE), else a private cluster started for
//!   this process. Each test gets its own database, cloned from a template migrated once per migration
//!   set, so tests never see each other's rows.
//! - Tests that hold transactions open or restart the server always get a [`Cluster::private`] one:
//!   the global-order fence is cluster-wide and would stall everyone else.
//! - Private clusters are started by `deploy/pg-private` (the same script the run command uses) and are
//!   stopped and deleted when dropped — and, if the process dies first, by a reaper that waits for it.
//! - Database names are generated here (hex only); they are the only identifiers spliced into SQL.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::OnceLock;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// What went wrong setting up a database for a test.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("deploy/pg-private failed: {0}")]
    Script(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Password the harness gives `ledger_app` on clusters it does not own (private clusters trust loopback).
const APP_PASSWORD: &str = "vl-test";
const TEMPLATE_LOCK: i64 = 0x766c_7465_6d70;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/pg-private")
}

/// A Postgres cluster the harness may create databases in.
#[derive(Debug)]
pub struct Cluster {
    admin: PgConnectOptions,
    /// Set for private clusters: their directory, removed on drop.
    dir: Option<PathBuf>,
    /// The cluster of [`Cluster::shared`]: never halted, whoever started it.
    shared: bool,
}

impl Cluster {
    /// A private throwaway cluster (fsync off), stopped and deleted on drop.
    pub fn private() -> Result<Cluster, HarnessError> {
        let dir = std::env::temp_dir().join(format!("vl-pg-{}", uuid::Uuid::new_v4().simple()));
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&dir)
            .arg("--fast")
            .output()?;
        if !out.status.success() {
            return Err(HarnessError::Script(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        spawn_reaper(&dir)?;
        Ok(Cluster {
            admin: PgConnectOptions::from_str(&url)?,
            dir: Some(dir),
            shared: false,
        })
    }

    /// The cluster for ordinary tests (see the crate docs for how it is chosen).
    pub fn shared() -> Result<&'static Cluster, HarnessError> {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        if let Some(c) = SHARED.get() {
            return Ok(c);
        }
        // An empty variable counts as unset.
        let configured = ["VL_TEST_ADMIN_URL", "DATABASE_URL"]
            .iter()
            .find_map(|name| {
                std::env::var(name)
                    .ok()
                    .filter(|url| !url.trim().is_empty())
            });
        let cluster = match configured {
            Some(url) => Cluster {
                admin: PgConnectOptions::from_str(&url)?,
                dir: None,
                shared: true,
            },
            None => {
                let mut private = Cluster::private()?;
                private.shared = true;
                private
            }
        };
        // A racing initialiser may have won; its cluster is used and ours is dropped (and removed).
        Ok(SHARED.get_or_init(|| cluster))
    }

    /// Stop the server of this private cluster (fast shutdown: open sessions are ended), keeping its
    /// data and port; [`Cluster::resume`] starts it again. Blocks until the server has exited.
    /// Refused for the shared cluster and for configured ones: other tests use them.
    pub fn halt(&self) -> Result<(), HarnessError> {
        self.run_private("halt")
    }

    /// Start a [halted](Cluster::halt) private cluster again on the same port. Blocks until it
    /// accepts connections.
    pub fn resume(&self) -> Result<(), HarnessError> {
        self.run_private("resume")
    }

    fn run_private(&self, action: &str) -> Result<(), HarnessError> {
        let dir = match &self.dir {
            Some(dir) if !self.shared => dir,
            _ => {
                return Err(HarnessError::Script(format!(
                    "{action}: only a cluster of its own (Cluster::private) may be stopped and started"
                )));
            }
        };
        let out = Command::new("bash")
            .arg(script())
            .arg(action)
            .arg(dir)
            .output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(HarnessError::Script(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ))
        }
    }

    /// Connection options for the admin (owner) role on database `db`.
    pub fn admin_options(&self, db: &str) -> PgConnectOptions {
        self.admin.clone().database(db)
    }

    /// A fresh, migrated database for one test.
    pub async fn database(&self) -> Result<TestDb, HarnessError> {
        let template = self.template().await?;
        let name = format!("vl_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect_with(&self.admin_options("postgres")).await?;
        admin
            .execute(AssertSqlSafe(format!(
                "CREATE DATABASE {name} TEMPLATE {template}"
            )))
            .await?;
        admin.close().await?;
        Ok(TestDb {
            owner: self.admin_options(&name),
            app: self
                .admin_options(&name)
                .username("ledger_app")
                .password(APP_PASSWORD),
            name,
        })
    }

    /// The migrated template for the current migration set, created once per cluster.
    async fn template(&self) -> Result<String, HarnessError> {
        let mut fingerprint = 0xcbf2_9ce4_8422_2325_u64; // FNV-1a over every migration's checksum
        for m in schema::MIGRATOR.iter() {
            for b in m.checksum.iter().chain(m.version.to_be_bytes().iter()) {
                fingerprint = (fingerprint ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        let template = format!("vl_template_{fingerprint:016x}");
        let mut admin = PgConnection::connect_with(&self.admin_options("postgres")).await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(TEMPLATE_LOCK)
            .execute(&mut admin)
            .await?;
        let result = self.create_template_locked(&mut admin, &template).await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(TEMPLATE_LOCK)
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        result.map(|()| template)
    }

    async fn create_template_locked(
        &self,
        admin: &mut PgConnection,
        template: &str,
    ) -> Result<(), HarnessError> {
        let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(template)
            .fetch_optional(&mut *admin)
            .await?;
        if exists.is_some() {
            return Ok(());
        }
        admin
            .execute(
                "DO $$ BEGIN
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledger_service') THEN CREATE ROLE ledger_service NOLOGIN; END IF;
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledger_app') THEN CREATE ROLE ledger_app LOGIN IN ROLE ledger_service; END IF;
                 END $$",
            )
            .await?;
        sqlx::query(AssertSqlSafe(format!(
            "ALTER ROLE ledger_app PASSWORD '{APP_PASSWORD}'"
        )))
        .execute(&mut *admin)
        .await?;
        let building = format!("{template}_building");
        admin
            .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {building}")))
            .await?;
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .await?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.admin_options(&building))
            .await?;
        schema::MIGRATOR.run(&pool).await?;
        pool.close().await;
        admin
            .execute(AssertSqlSafe(format!(
                "ALTER DATABASE {building} RENAME TO {template}"
            )))
            .await?;
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = Command::new("bash")
                .arg(script())
                .arg("stop")
                .arg(dir)
                .arg("--remove")
                .status();
        }
    }
}

/// Stop and delete the cluster in `dir` when this process exits, however it exits.
fn spawn_reaper(dir: &Path) -> Result<(), HarnessError> {
    let pid = std::process::id();
    let cmd = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; bash '{}' stop '{}' --remove",
        script().display(),
        dir.display()
    );
    Command::new("setsid")
        .args(["bash", "-c", &cmd])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    Ok(())
}

/// One test's database, with both roles.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub name: String,
    /// The owner (migrations, tamper scenarios).
    pub owner: PgConnectOptions,
    /// The service role: INSERT/SELECT on the log only.
    pub app: PgConnectOptions,
}

impl TestDb {
    /// A pool connected as the service role.
    pub async fn app_pool(&self, max_connections: u32) -> Result<PgPool, HarnessError> {
        Ok(PgPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(self.app.clone())
            .await?)
    }

    /// A URL of the service role on this database (for a service under test configured by URL).
    pub fn app_url(&self) -> String {
        format!(
            "postgres://ledger_app:{APP_PASSWORD}@{}:{}/{}?sslmode=disable",
            self.app.get_host(),
            self.app.get_port(),
            self.name
        )
    }

    /// A pool connected as the owner.
    pub async fn owner_pool(&self) -> Result<PgPool, HarnessError> {
        Ok(PgPoolOptions::new()
            .max_connections(4)
            .connect_with(self.owner.clone())
            .await?)
    }
}

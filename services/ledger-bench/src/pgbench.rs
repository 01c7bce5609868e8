//! The raw baseline: `pgbench` running `single.sql` of measurements.md (one jsonb event per autocommit
//! INSERT, each client to its own stream, a new stream every 100 events) against a plain `events` table.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};

/// The baseline table, exactly as in measurements.md. Created empty (measurements.md prefilled 1 M rows).
pub const RAW_SCHEMA: &str = "CREATE TABLE events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id uuid NOT NULL, stream_version int NOT NULL, event_type text NOT NULL,
    payload jsonb NOT NULL, metadata jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, stream_version))";

/// `single.sql`, verbatim from measurements.md.
pub const SINGLE_SQL: &str = r"\set v :v + 1
\set sn (:v - 1) / 100
\set sv (:v - 1) % 100 + 1
INSERT INTO events (stream_id, stream_version, event_type, payload, metadata)
VALUES (md5(:run::text || '-' || :client_id::text || '-' || :sn::text)::uuid, :sv, 'OrderPlaced', :payload, :meta);
";

/// The newest `pgbench` under `/usr/lib/postgresql/*/bin`, else the one on `PATH`.
pub fn find() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|d| {
            let version = d.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = d.path().join("bin/pgbench");
            bin.is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map_or_else(|| PathBuf::from("pgbench"), |(_, p)| p)
}

/// `pgbench --version`, for the report.
pub async fn version(pgbench: &Path) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(pgbench)
        .arg("--version")
        .output()
        .await
        .with_context(|| format!("running {} --version", pgbench.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// What one pgbench run reported.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `tps = … (without initial connection time)`.
    pub tps: f64,
    pub transactions: u64,
    /// Per-transaction latencies in µs, when `--log` was asked for.
    pub latencies_us: Option<Vec<u32>>,
    /// The full command line, for the report.
    pub command_line: String,
}

/// Parameters of one baseline run.
pub struct Run<'a> {
    pub pgbench: &'a Path,
    pub script: &'a Path,
    /// libpq connection URI of the raw database.
    pub url: &'a str,
    pub clients: usize,
    pub seconds: u64,
    /// The `run` variable: distinct per run, so streams never collide across runs.
    pub run_tag: u64,
    pub payload: &'a str,
    pub meta: &'a str,
    /// When set, `pgbench --log` writes per-transaction latencies under this directory.
    pub log_dir: Option<&'a Path>,
}

impl Run<'_> {
    fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "-n".into(),
            "-M".into(),
            "prepared".into(),
            "-f".into(),
            self.script.display().to_string(),
            "-c".into(),
            self.clients.to_string(),
            "-j".into(),
            "2".into(),
            "-T".into(),
            self.seconds.to_string(),
            "-D".into(),
            format!("run={}", self.run_tag),
            "-D".into(),
            "v=0".into(),
            "-D".into(),
            format!("payload={}", self.payload),
            "-D".into(),
            format!("meta={}", self.meta),
        ];
        if let Some(dir) = self.log_dir {
            a.push("--log".into());
            a.push(format!(
                "--log-prefix={}",
                dir.join("pgbench_log").display()
            ));
        }
        a.push(self.url.to_owned());
        a
    }

    /// The command line as it would be typed (payloads abbreviated, the URL without password).
    fn display(&self) -> String {
        let mut parts = vec![self.pgbench.display().to_string()];
        for a in self.args() {
            if a.starts_with("payload=") {
                parts.push("\"payload=$(cat payload.json)\"".into());
            } else if a.starts_with("meta=") {
                parts.push("\"meta=$(cat meta.json)\"".into());
            } else if a == self.url {
                parts.push(crate::append::redact(self.url));
            } else {
                parts.push(a);
            }
        }
        parts.join(" ")
    }

    pub async fn execute(&self) -> anyhow::Result<Outcome> {
        let out = tokio::process::Command::new(self.pgbench)
            .args(self.args())
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("starting {}", self.pgbench.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            bail!(
                "pgbench failed ({}):\n{stdout}\n{stderr}",
                out.status.code().map_or("killed".into(), |c| c.to_string())
            );
        }
        let parsed = parse(&stdout)
            .with_context(|| format!("unexpected pgbench output:\n{stdout}\n{stderr}"))?;
        if parsed.failed > 0 {
            bail!(
                "pgbench reported {} failed transactions:\n{stdout}\n{stderr}",
                parsed.failed
            );
        }
        let latencies_us = match self.log_dir {
            Some(dir) => Some(read_logs(dir).context("reading pgbench --log files")?),
            None => None,
        };
        Ok(Outcome {
            tps: parsed.tps,
            transactions: parsed.transactions,
            latencies_us,
            command_line: self.display(),
        })
    }
}

#[derive(Debug, PartialEq)]
struct Parsed {
    tps: f64,
    transactions: u64,
    failed: u64,
}

fn parse(stdout: &str) -> anyhow::Result<Parsed> {
    let mut tps = None;
    let mut transactions = None;
    let mut failed = 0;
    for line in stdout.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("tps = ")
            && line.contains("without initial connection time")
        {
            tps = rest.split_whitespace().next().map(str::parse).transpose()?;
        } else if let Some(rest) = line.strip_prefix("number of transactions actually processed:") {
            transactions = rest
                .split_whitespace()
                .next()
                .map(|n| n.split('/').next().unwrap_or(n).parse())
                .transpose()?;
        } else if let Some(rest) = line.strip_prefix("number of failed transactions:") {
            failed = rest
                .split_whitespace()
                .next()
                .map(str::parse)
                .transpose()?
                .unwrap_or(0);
        }
    }
    Ok(Parsed {
        tps: tps.context("no `tps = … (without initial connection time)` line")?,
        transactions: transactions
            .context("no `number of transactions actually processed` line")?,
        failed,
    })
}

/// Latencies (µs, third column) from every `pgbench_log.*` file in `dir`; the files are removed.
fn read_logs(dir: &Path) -> anyhow::Result<Vec<u32>> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_log = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("pgbench_log."));
        if !is_log {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        // client_id transaction_no time script_no time_epoch time_us; `time` is not a number for
        // failed or skipped transactions.
        latencies.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u32>().ok()),
        );
        std::fs::remove_file(&path)?;
    }
    Ok(latencies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pgbench_15_output() {
        let out = "transaction type: single.sql
scaling factor: 1
query mode: prepared
number of clients: 32
number of threads: 2
maximum number of tries: 1
duration: 20 s
number of transactions actually processed: 104857
number of failed transactions: 0 (0.000%)
latency average = 6.101 ms
initial connection time = 41.502 ms
tps = 5245.160524 (without initial connection time)
";
        assert_eq!(
            parse(out).expect("parses"),
            Parsed {
                tps: 5245.160524,
                transactions: 104_857,
                failed: 0
            }
        );
        assert!(parse("tps = 1.0 (including connections establishing)").is_err());
    }
}

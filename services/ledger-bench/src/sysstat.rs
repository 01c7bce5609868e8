//! CPU accounting from `/proc` (Linux): how busy the machine was during a leg and how much CPU the client
//! side (this process, or the waited-for `pgbench`) used. On a 2-core machine the client competes with
//! the server, so a client that burns more CPU per command lowers the ratio by itself.
//!
//! The server's CPU is read the same way when it runs on this machine: the postmaster's own and
//! reaped children's time (`cutime`, `cstime`: every backend that exited) plus the time of its live
//! children. Backends of a leg exit when the leg closes its connections, so the difference over a leg is
//! the CPU the server spent on it (plus autovacuum and background writers, which the leg caused too).
//!
//! Everything here is best effort: off Linux, or with a server on another host, the figures are absent,
//! never an error.

/// Clock ticks per second of `/proc` figures (`USER_HZ`, 100 on every mainstream Linux platform).
const USER_HZ: f64 = 100.0;

/// A snapshot of CPU counters, in clock ticks.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnapshot {
    /// All CPUs: ticks not idle (idle and iowait excluded).
    machine_busy: u64,
    /// All CPUs: all ticks.
    machine_total: u64,
    /// This process: user + system.
    own: u64,
    /// Waited-for children of this process: user + system.
    children: u64,
}

/// CPU use between two snapshots.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuUse {
    /// Share of all CPUs that was busy (any process, including other people's compilers), 0–100.
    pub machine_busy_pct: f64,
    /// CPU seconds used by this process.
    pub own_secs: f64,
    /// CPU seconds used by waited-for children (pgbench).
    pub children_secs: f64,
}

fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8) // user nice system idle iowait irq softirq steal (guest time is inside user)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let total: u64 = f.iter().sum();
    let idle = f.get(3)? + f.get(4)?;
    Some((total.saturating_sub(idle), total))
}

/// Fields of `/proc/<pid>/stat` this module reads.
struct ProcStat {
    comm: String,
    ppid: u32,
    /// utime + stime.
    own: u64,
    /// cutime + cstime (waited-for children).
    children: u64,
}

fn proc_stat(pid: &str) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_stat(stat: &str) -> Option<ProcStat> {
    // The command name is in parentheses and may contain spaces: count fields after the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let f: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // Field 3 (state) is f[0]; ppid=4, utime=14, stime=15, cutime=16, cstime=17.
    let n = |i: usize| f.get(i)?.parse::<u64>().ok();
    Some(ProcStat {
        comm,
        ppid: f.get(1)?.parse().ok()?,
        own: n(11)? + n(12)?,
        children: n(13)? + n(14)?,
    })
}

fn process_ticks() -> Option<(u64, u64)> {
    let s = proc_stat("self")?;
    Some((s.own, s.children))
}

/// The postmaster of a server running on this machine.
#[derive(Debug, Clone, Copy)]
pub struct Server {
    postmaster: u32,
}

impl Server {
    /// From the pid of one of its backends (`pg_backend_pid()`); `None` unless that pid is a local
    /// `postgres` process whose parent is one too.
    pub fn locate(backend_pid: i32) -> Option<Self> {
        let backend = proc_stat(&backend_pid.to_string())?;
        let postmaster = proc_stat(&backend.ppid.to_string())?;
        (backend.comm.starts_with("postgres") && postmaster.comm.starts_with("postgres")).then_some(
            Self {
                postmaster: backend.ppid,
            },
        )
    }

    /// CPU ticks of the server so far: the postmaster, its reaped children and its live children.
    pub fn ticks(&self) -> Option<u64> {
        let mut live = 0;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            if let Some(s) = proc_stat(pid)
                && s.ppid == self.postmaster
            {
                live += s.own;
            }
        }
        let pm = proc_stat(&self.postmaster.to_string())?;
        Some(pm.own + pm.children + live)
    }
}

/// CPU ticks (user + system) so far of this process's live threads whose name starts with `prefix`
/// (e.g. the threads of a tokio runtime built with `thread_name`). Threads that already exited are not
/// counted, so sample while the threads are alive.
pub fn own_threads_ticks(prefix: &str) -> Option<u64> {
    let mut ticks = 0;
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(s) = parse_stat(&stat)
            && s.comm.starts_with(prefix)
        {
            ticks += s.own;
        }
    }
    Some(ticks)
}

/// Ticks to seconds.
pub fn ticks_to_secs(ticks: u64) -> f64 {
    ticks as f64 / USER_HZ
}

impl CpuSnapshot {
    pub fn now() -> Option<Self> {
        let (machine_busy, machine_total) = machine_ticks()?;
        let (own, children) = process_ticks()?;
        Some(Self {
            machine_busy,
            machine_total,
            own,
            children,
        })
    }

    /// CPU use from `self` until `later`.
    pub fn until(&self, later: &Self) -> CpuUse {
        let busy = later.machine_busy.saturating_sub(self.machine_busy) as f64;
        let total = later.machine_total.saturating_sub(self.machine_total) as f64;
        CpuUse {
            machine_busy_pct: if total > 0.0 {
                100.0 * busy / total
            } else {
                0.0
            },
            own_secs: later.own.saturating_sub(self.own) as f64 / USER_HZ,
            children_secs: later.children.saturating_sub(self.children) as f64 / USER_HZ,
        }
    }
}

/// The 1-minute load average, if readable.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Number of CPUs the machine reports.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_monotonic_on_linux() {
        if let (Some(a), Some(b)) = (CpuSnapshot::now(), CpuSnapshot::now()) {
            let u = a.until(&b);
            assert!(u.machine_busy_pct >= 0.0 && u.machine_busy_pct <= 100.0);
            assert!(u.own_secs >= 0.0);
        }
    }
}

//! What the benchmarks in `benches/` share: their knobs and how they report figures.

use std::time::Duration;

/// The environment variable `name` as a number, or `default` when unset or not a number.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0 to 1) of durations sorted ascending; panics on an empty slice.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Runs a benchmark's async body on two worker threads (one per core of the team's machines).
pub fn block_on<F: std::future::Future<Output = ()>>(body: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(body);
}

/// CPU time (user + system, every thread, children it waited for excluded) a process has used so
/// far, from `/proc/<pid>/stat`; zero when it is gone.
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command (which may hold spaces), from field 3 on: utime is 14, stime 15.
    let Some((_, rest)) = stat.rsplit_once(") ") else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / per_second)
}

/// CPU time of named processes between two moments: [`CpuMeter::start`], then
/// [`CpuMeter::per_item`] to divide what each used by a count.
pub struct CpuMeter {
    start: Vec<(String, u32, Duration)>,
}

impl CpuMeter {
    pub fn start(processes: &[(&str, u32)]) -> CpuMeter {
        CpuMeter {
            start: processes
                .iter()
                .map(|&(name, pid)| (name.to_owned(), pid, cpu_time(pid)))
                .collect(),
        }
    }

    /// Each process's CPU time since the start divided by `items`, and the sum, in milliseconds.
    pub fn per_item(&self, items: usize) -> (Vec<(String, f64)>, f64) {
        let each: Vec<(String, f64)> = self
            .start
            .iter()
            .map(|(name, pid, before)| {
                let used = cpu_time(*pid).saturating_sub(*before);
                (name.clone(), used.as_secs_f64() * 1000.0 / items.max(1) as f64)
            })
            .collect();
        let total = each.iter().map(|(_, v)| v).sum();
        (each, total)
    }
}

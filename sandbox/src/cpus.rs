//! Which CPUs this process may use, and keeping the judge's own threads off its slots' CPUs.

use std::fs;

/// The CPUs this process may run on (`sched_getaffinity`), in order: what slots may be pinned to.
pub fn allowed_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect(),
        Err(_) => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
    }
}

/// Keeps every thread of this process (the judge: its async runtime, its bookkeeping) on `cpus`,
/// off the CPUs its slots are pinned to. Threads started later inherit it from their creator.
pub fn confine_own_threads(cpus: &[usize]) -> std::io::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for &c in cpus {
        set.set(c).map_err(std::io::Error::from)?;
    }
    for entry in fs::read_dir("/proc/self/task")? {
        let Ok(tid) = entry?.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // A thread may have ended since the listing: only the first thread's failure matters.
        let r = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(tid), &set);
        if tid == std::process::id() as i32 {
            r.map_err(std::io::Error::from)?;
        }
    }
    Ok(())
}

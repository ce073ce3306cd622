//! One control group per sandbox slot: created once, reset between runs, removed on drop.
//!
//! cgroup v1 (separate `memory`, `pids`, `cpuacct` and `cpuset` hierarchies, as on the machines
//! here) and cgroup v2 (used when v1 is not, and our cgroup delegates the `memory` and `pids`
//! controllers; the judge moves itself into a leaf to enable them below it; CPU time comes from
//! `cpu.stat`, which needs no controller) are both tested: v1 on the host, v2 in a virtual machine
//! (`make test-cgroup-v2`, see `scripts/cgroup-v2-vm.sh`). Otherwise the sandbox runs with rlimits
//! only and [`Cgroups::detect`] says why. A slot given a CPU gets a `cpuset` holding only that CPU
//! where the controller is there (v1: its own hierarchy; v2: delegated like the others); without
//! it, the zygote's affinity is all that pins the runs.
//!
//! The slot's zygote process lives inside the slot's cgroup, so that every run it forks is born
//! there: moving a process between v1 cgroups costs an RCU grace period (milliseconds), forking
//! inside one costs nothing. The zygote is tiny and idle; its share is subtracted from memory
//! figures, it is never killed by [`SlotCgroup::kill_all`], and the OOM killer picks a run rather
//! than it: runs raise their `oom_score_adj` to 1000 (the zygote lowers its own to -1000 where it
//! may; that needs `CAP_SYS_RESOURCE`, which containers often lack).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PREFIX: &str = "judge-worker-";

/// Which cgroup interface this machine offers us.
#[derive(Debug, Clone)]
pub enum Cgroups {
    /// Per-controller directories that will hold our slot cgroups.
    V1 {
        memory: PathBuf,
        pids: PathBuf,
        cpuacct: PathBuf,
        /// The `cpuset` hierarchy, when mounted and writable.
        cpuset: Option<PathBuf>,
    },
    /// Our own v2 cgroup, below which slot cgroups go; `cpuset`: that controller is enabled below
    /// it.
    V2 { parent: PathBuf, cpuset: bool },
    /// No usable cgroups: the reason, for the start-up warning.
    Unavailable(String),
}

impl Cgroups {
    /// Finds the hierarchies and our place in them from `/proc/self/mountinfo` and
    /// `/proc/self/cgroup`.
    pub fn detect() -> Cgroups {
        match detect() {
            Ok(c) => c,
            Err(e) => Cgroups::Unavailable(e),
        }
    }

    pub fn is_available(&self) -> bool {
        !matches!(self, Cgroups::Unavailable(_))
    }

    /// Creates the cgroup of the slot that runs as `uid`. The name embeds our pid, so that
    /// [`sweep_stale`](Self::sweep_stale) can tell the leftovers of a dead judge from the slots of
    /// a live one, and the uid, which is the slot's identity: two pools of one process with
    /// overlapping uids are refused here rather than sharing (and killing) each other's runs.
    pub fn slot_name(uid: u32) -> String {
        format!("{PREFIX}{}-uid{uid}", std::process::id())
    }

    /// Creates the cgroup of the slot that runs as `uid`, its runs held to `cpu` when given.
    pub fn create_slot(&self, uid: u32, cpu: Option<usize>) -> io::Result<SlotCgroup> {
        let name = Self::slot_name(uid);
        match self {
            Cgroups::V1 {
                memory,
                pids,
                cpuacct,
                cpuset,
            } => {
                let cpuset = cpuset.as_ref().filter(|_| cpu.is_some());
                let mut dirs = vec![memory.join(&name), pids.join(&name), cpuacct.join(&name)];
                dirs.extend(cpuset.map(|c| c.join(&name)));
                for (i, d) in dirs.iter().enumerate() {
                    if let Err(e) = fs::create_dir(d) {
                        for created in &dirs[..i] {
                            let _ = fs::remove_dir(created);
                        }
                        return Err(with_path(e, d));
                    }
                }
                let cpuset = dirs.get(3).cloned();
                let slot = SlotCgroup::new(SlotKind::V1 {
                    memsw: dirs[0].join("memory.memsw.limit_in_bytes").exists(),
                    memory: dirs[0].clone(),
                    pids: dirs[1].clone(),
                    cpuacct: dirs[2].clone(),
                    cpuset: cpuset.clone(),
                });
                // No swap for solutions: swapped pages would escape the memory limit.
                let _ = write(&dirs[0].join("memory.swappiness"), "0");
                let _ = write(&dirs[0].join("memory.move_charge_at_immigrate"), "0");
                if let (Some(dir), Some(cpu)) = (&cpuset, cpu) {
                    // A v1 cpuset starts empty: memory nodes first (those of the parent), then the
                    // CPU, or no task may join it. (`slot` removes the directories if this fails.)
                    let parent = dir.parent().unwrap_or(dir);
                    let mems = fs::read_to_string(parent.join("cpuset.mems"))?;
                    write(&dir.join("cpuset.mems"), mems.trim())?;
                    write(&dir.join("cpuset.cpus"), &cpu.to_string())?;
                }
                Ok(slot)
            }
            Cgroups::V2 { parent, cpuset } => {
                let dir = parent.join(&name);
                fs::create_dir(&dir).map_err(|e| with_path(e, &dir))?;
                let slot = SlotCgroup::new(SlotKind::V2 { dir: dir.clone() });
                let _ = write(&dir.join("memory.swap.max"), "0");
                if let (true, Some(cpu)) = (*cpuset, cpu) {
                    write(&dir.join("cpuset.cpus"), &cpu.to_string())?;
                }
                Ok(slot)
            }
            Cgroups::Unavailable(_) => Ok(SlotCgroup::new(SlotKind::None)),
        }
    }

    /// Removes slot cgroups left by judges that died without cleaning up (killed by SIGKILL, a
    /// crashed test run). Cgroups of live processes are left alone.
    pub fn sweep_stale(&self) {
        let parents: Vec<&Path> = match self {
            Cgroups::V1 {
                memory,
                pids,
                cpuacct,
                cpuset,
            } => {
                let mut v: Vec<&Path> = vec![memory, pids, cpuacct];
                v.extend(cpuset.as_deref());
                v
            }
            Cgroups::V2 { parent, .. } => vec![parent],
            Cgroups::Unavailable(_) => vec![],
        };
        for parent in parents {
            let Ok(entries) = fs::read_dir(parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(rest) = name.strip_prefix(PREFIX) else {
                    continue;
                };
                let owner = rest.split('-').next().unwrap_or("");
                if owner.parse::<u32>().is_ok() && !Path::new("/proc").join(owner).exists() {
                    let dir = entry.path();
                    let _ = kill_procs(&dir.join("cgroup.procs"), None, Duration::from_secs(2));
                    let _ = fs::remove_dir(&dir);
                }
            }
        }
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn detect() -> Result<Cgroups, String> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let own =
        fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    // (mount point, root inside the hierarchy, super options or "" for v2)
    let mut v1: Vec<(String, String, String)> = Vec::new();
    let mut v2: Option<(String, String)> = None;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        match r[0] {
            "cgroup" => v1.push((l[4].to_owned(), l[3].to_owned(), r[2].to_owned())),
            "cgroup2" => v2 = Some((l[4].to_owned(), l[3].to_owned())),
            _ => {}
        }
    }
    let own_path = |controller: &str| -> Option<String> {
        own.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let ctrls = parts.next()?;
            let path = parts.next()?;
            if controller.is_empty() {
                (ctrls.is_empty()).then(|| path.to_owned())
            } else {
                ctrls.split(',').any(|c| c == controller).then(|| path.to_owned())
            }
        })
    };
    let v1_dir = |controller: &str| -> Option<PathBuf> {
        let (mount, root, _) = v1
            .iter()
            .find(|(_, _, opts)| opts.split(',').any(|o| o == controller))?;
        let path = own_path(controller)?;
        let rel = path.strip_prefix(root.as_str()).unwrap_or(&path);
        let dir = Path::new(mount).join(rel.trim_start_matches('/'));
        dir.is_dir().then_some(dir)
    };
    if let (Some(memory), Some(pids), Some(cpuacct)) = (v1_dir("memory"), v1_dir("pids"), v1_dir("cpuacct")) {
        let probe = memory.join(format!("{PREFIX}probe-{}", std::process::id()));
        fs::create_dir(&probe).map_err(|e| format!("cannot create a cgroup in {}: {e}", memory.display()))?;
        let _ = fs::remove_dir(&probe);
        let cpuset = v1_dir("cpuset").filter(|dir| {
            let probe = dir.join(format!("{PREFIX}probe-{}", std::process::id()));
            let ok = fs::create_dir(&probe).is_ok();
            let _ = fs::remove_dir(&probe);
            ok
        });
        return Ok(Cgroups::V1 {
            memory,
            pids,
            cpuacct,
            cpuset,
        });
    }
    if let Some((mount, root)) = v2 {
        let path = own_path("").ok_or("no cgroup v2 entry in /proc/self/cgroup")?;
        let rel = path.strip_prefix(root.as_str()).unwrap_or(&path);
        let parent = Path::new(&mount).join(rel.trim_start_matches('/'));
        let offered = fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
        let offered: Vec<&str> = offered.split_whitespace().collect();
        if !offered.contains(&"memory") || !offered.contains(&"pids") {
            return Err(format!(
                "cgroup v2 at {} does not delegate the memory and pids controllers (it offers: {})",
                parent.display(),
                offered.join(" ")
            ));
        }
        // Slot cgroups are our children, so the controllers must be enabled below us. The "no
        // internal processes" rule forbids that while our own cgroup holds processes: move
        // ourselves into a leaf of our own first.
        let cpuset = offered.contains(&"cpuset");
        let wanted = if cpuset {
            "+memory +pids +cpuset"
        } else {
            "+memory +pids"
        };
        let enable = || write(&parent.join("cgroup.subtree_control"), wanted);
        if enable().is_err() {
            let leaf = parent.join(format!("{PREFIX}{}-self", std::process::id()));
            match fs::create_dir(&leaf) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("cgroup v2: cannot create {}: {e}", leaf.display())),
            }
            write(&leaf.join("cgroup.procs"), &std::process::id().to_string())
                .map_err(|e| format!("cgroup v2: cannot move into {}: {e}", leaf.display()))?;
            enable().map_err(|e| {
                format!(
                    "cgroup v2 at {} does not let us enable memory and pids controllers: {e}",
                    parent.display()
                )
            })?;
        }
        return Ok(Cgroups::V2 { parent, cpuset });
    }
    Err("no cgroup v1 memory+pids+cpuacct hierarchies and no cgroup v2 mounted".to_owned())
}

#[derive(Debug)]
enum SlotKind {
    V1 {
        memory: PathBuf,
        pids: PathBuf,
        cpuacct: PathBuf,
        cpuset: Option<PathBuf>,
        memsw: bool,
    },
    V2 {
        dir: PathBuf,
    },
    None,
}

/// What a run used, read from the cgroup after it ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct CgroupUsage {
    pub cpu: Duration,
    /// Peak memory of the run's processes, bytes (the idle zygote's share subtracted; page cache
    /// of files written in earlier runs and not yet freed may still count).
    pub memory_peak: u64,
    /// The kernel's OOM killer acted in this cgroup during the run.
    pub oom_killed: bool,
    /// The memory limit was reached at some point (allocation refused or reclaimed).
    pub memory_limit_hit: bool,
}

/// The control group of one sandbox slot.
#[derive(Debug)]
pub struct SlotCgroup {
    kind: SlotKind,
    zygote: Option<i32>,
    limit: Option<(u64, u32)>,
    oom_base: u64,
    usage_base: u64,
    /// Memory charged to the slot while only the idle zygote is in it.
    idle_usage: Option<u64>,
    cpu_base: u64,
}

impl SlotCgroup {
    fn new(kind: SlotKind) -> SlotCgroup {
        SlotCgroup {
            kind,
            zygote: None,
            limit: None,
            oom_base: 0,
            usage_base: 0,
            idle_usage: None,
            cpu_base: 0,
        }
    }

    pub fn is_enforcing(&self) -> bool {
        !matches!(self.kind, SlotKind::None)
    }

    /// The `cgroup.procs` files a process writes `0` into to join this slot.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        match &self.kind {
            SlotKind::V1 {
                memory,
                pids,
                cpuacct,
                cpuset,
                ..
            } => {
                let mut v = vec![
                    memory.join("cgroup.procs"),
                    pids.join("cgroup.procs"),
                    cpuacct.join("cgroup.procs"),
                ];
                v.extend(cpuset.as_ref().map(|c| c.join("cgroup.procs")));
                v
            }
            SlotKind::V2 { dir } => vec![dir.join("cgroup.procs")],
            SlotKind::None => vec![],
        }
    }

    /// Records the host pid of the slot's zygote, which `kill_all` spares.
    pub fn set_zygote(&mut self, pid: i32) {
        self.zygote = Some(pid);
    }

    /// Records what the idle zygote holds, once it is ready: that much is subtracted from every
    /// peak. Not the usage just before each run, which may include kernel memory (dentries of
    /// files deleted between runs) freed *during* the run and so make a peak look smaller than
    /// what the run really touched.
    pub fn record_idle(&mut self) {
        let current = match &self.kind {
            SlotKind::V1 { memory, .. } => read_u64(&memory.join("memory.usage_in_bytes")),
            SlotKind::V2 { dir } => read_u64(&dir.join("memory.current")),
            SlotKind::None => return,
        };
        self.idle_usage = current.ok();
    }

    /// Sets the limits of the next run and resets its counters. `processes` excludes the zygote.
    pub fn prepare(&mut self, memory: u64, processes: u32) -> io::Result<()> {
        let procs = processes.saturating_add(1).to_string();
        match &self.kind {
            SlotKind::V1 {
                memory: mem,
                pids,
                cpuacct,
                memsw,
                ..
            } => {
                if self.limit != Some((memory, processes)) {
                    if *memsw {
                        write(&mem.join("memory.memsw.limit_in_bytes"), "-1")?;
                    }
                    write(&mem.join("memory.limit_in_bytes"), &memory.to_string())?;
                    if *memsw {
                        write(&mem.join("memory.memsw.limit_in_bytes"), &memory.to_string())?;
                    }
                    write(&pids.join("pids.max"), &procs)?;
                    self.limit = Some((memory, processes));
                }
                write(&mem.join("memory.max_usage_in_bytes"), "0")?;
                write(&mem.join("memory.failcnt"), "0")?;
                write(&cpuacct.join("cpuacct.usage"), "0")?;
                self.oom_base = oom_kills(&fs::read_to_string(mem.join("memory.oom_control"))?);
                let now = read_u64(&mem.join("memory.usage_in_bytes"))?;
                self.usage_base = self.idle_usage.map_or(0, |idle| idle.min(now));
            }
            SlotKind::V2 { dir } => {
                if self.limit != Some((memory, processes)) {
                    write(&dir.join("memory.max"), &memory.to_string())?;
                    write(&dir.join("pids.max"), &procs)?;
                    self.limit = Some((memory, processes));
                }
                // Writing resets the peak on kernels >= 6.12; older ones keep the all-time peak.
                let _ = write(&dir.join("memory.peak"), "0");
                self.oom_base = oom_kills(&fs::read_to_string(dir.join("memory.events"))?);
                let now = read_u64(&dir.join("memory.current"))?;
                self.usage_base = self.idle_usage.map_or(0, |idle| idle.min(now));
                self.cpu_base = 0;
                self.cpu_base = self.cpu_usage()?.as_micros() as u64;
            }
            SlotKind::None => {}
        }
        Ok(())
    }

    /// CPU time (user + system) used in the slot since [`prepare`](Self::prepare).
    pub fn cpu_usage(&self) -> io::Result<Duration> {
        match &self.kind {
            SlotKind::V1 { cpuacct, .. } => {
                Ok(Duration::from_nanos(read_u64(&cpuacct.join("cpuacct.usage"))?))
            }
            SlotKind::V2 { dir } => {
                let stat = fs::read_to_string(dir.join("cpu.stat"))?;
                let usec = stat
                    .lines()
                    .find_map(|l| l.strip_prefix("usage_usec "))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(0);
                Ok(Duration::from_micros(usec.saturating_sub(self.cpu_base)))
            }
            SlotKind::None => Ok(Duration::ZERO),
        }
    }

    /// How long the run's threads have waited, runnable, for a CPU that something else held: the
    /// kernel's per-thread run delay (`/proc/<tid>/schedstat`, second field) summed over the
    /// slot's threads, the idle zygote left out. Threads that already ended are not counted, so
    /// this never overstates a wait that a single thread could have had.
    ///
    /// Read by hand: no crate exposes schedstat, and the cgroup's own `cpu.pressure` exists only
    /// on v2 kernels with PSI on; the per-thread figure is there on both.
    pub fn cpu_wait(&self) -> io::Result<Duration> {
        let tasks = match &self.kind {
            SlotKind::V1 { cpuacct, .. } => cpuacct.join("tasks"),
            SlotKind::V2 { dir } => dir.join("cgroup.threads"),
            SlotKind::None => return Ok(Duration::ZERO),
        };
        let text = fs::read_to_string(&tasks).map_err(|e| with_path(e, &tasks))?;
        let waited = text
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
            .filter(|&tid| Some(tid) != self.zygote)
            // A thread may end between the listing and this read: it no longer waits.
            .filter_map(|tid| fs::read_to_string(format!("/proc/{tid}/schedstat")).ok())
            .filter_map(|stat| stat.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        Ok(Duration::from_nanos(waited))
    }

    /// Reads what the run used. Call after [`kill_all`](Self::kill_all).
    pub fn usage(&self) -> io::Result<CgroupUsage> {
        match &self.kind {
            SlotKind::V1 { memory, .. } => {
                let peak = read_u64(&memory.join("memory.max_usage_in_bytes"))?;
                let failcnt = read_u64(&memory.join("memory.failcnt"))?;
                let oom = oom_kills(&fs::read_to_string(memory.join("memory.oom_control"))?);
                Ok(CgroupUsage {
                    cpu: self.cpu_usage()?,
                    memory_peak: peak.saturating_sub(self.usage_base),
                    oom_killed: oom > self.oom_base,
                    memory_limit_hit: failcnt > 0,
                })
            }
            SlotKind::V2 { dir } => {
                let peak = read_u64(&dir.join("memory.peak")).unwrap_or(0);
                let events = fs::read_to_string(dir.join("memory.events"))?;
                let oom = oom_kills(&events);
                Ok(CgroupUsage {
                    cpu: self.cpu_usage()?,
                    memory_peak: peak.saturating_sub(self.usage_base),
                    oom_killed: oom > self.oom_base,
                    memory_limit_hit: oom > self.oom_base,
                })
            }
            SlotKind::None => Ok(CgroupUsage::default()),
        }
    }

    /// Kills every process of the slot but the zygote, and waits until they are gone.
    pub fn kill_all(&self) -> io::Result<()> {
        let procs = match &self.kind {
            SlotKind::V1 { pids, .. } => pids.join("cgroup.procs"),
            SlotKind::V2 { dir } => dir.join("cgroup.procs"),
            SlotKind::None => return Ok(()),
        };
        kill_procs(&procs, self.zygote, Duration::from_secs(5))
    }
}

impl SlotCgroup {
    fn dirs(&self) -> Vec<&Path> {
        match &self.kind {
            SlotKind::V1 {
                memory,
                pids,
                cpuacct,
                cpuset,
                ..
            } => {
                let mut v: Vec<&Path> = vec![memory, pids, cpuacct];
                v.extend(cpuset.as_deref());
                v
            }
            SlotKind::V2 { dir } => vec![dir],
            SlotKind::None => vec![],
        }
    }
}

impl Drop for SlotCgroup {
    fn drop(&mut self) {
        let procs = self.procs_files();
        for (dir, procs) in self.dirs().into_iter().zip(procs) {
            let _ = kill_procs(&procs, None, Duration::from_secs(5));
            // rmdir fails while exited tasks are still being released; retry for a while, then
            // say so (the next judge's sweep removes it once we are gone).
            let start = Instant::now();
            loop {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) if start.elapsed() > Duration::from_secs(3) => {
                        tracing::warn!(cgroup = %dir.display(), error = %e, "cannot remove slot cgroup");
                        break;
                    }
                    Err(_) => {
                        let _ = kill_procs(&dir.join("cgroup.procs"), None, Duration::from_millis(100));
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        }
    }
}

/// SIGKILLs every pid listed in `procs` (except `spare`) until none is left. A fork bomb cannot
/// outrun this: the pids limit bounds it and a killed process forks no more.
fn kill_procs(procs: &Path, spare: Option<i32>, timeout: Duration) -> io::Result<()> {
    let start = Instant::now();
    loop {
        let text = match fs::read_to_string(procs) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut any = false;
        for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            if Some(pid) == spare {
                continue;
            }
            any = true;
            // SAFETY: plain kill(2) of a pid we just read from our own cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if !any {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(io::Error::other(format!(
                "processes survive in {} after {timeout:?}",
                procs.display()
            )));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn oom_kills(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn read_u64(path: &Path) -> io::Result<u64> {
    let text = fs::read_to_string(path).map_err(|e| with_path(e, path))?;
    let t = text.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))
}

fn write(path: &Path, value: &str) -> io::Result<()> {
    fs::write(path, value).map_err(|e| with_path(e, path))
}

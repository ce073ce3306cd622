//! Runs untrusted programs with hard limits and says what happened: one call,
//! [`Sandbox::run`] — this program, these limits, these standard streams — answered by a
//! [`RunResult`] (exit status, CPU and wall time, peak memory, the limit that ended it).
//!
//! It knows nothing about problems, languages, verdicts or NATS; the judge builds those on top.
//! It may use the kernel (namespaces, cgroups, seccomp, rlimits) and the filesystem under its
//! state directory, nothing else. The binary that embeds it must let it start itself as a
//! slot's zygote: call [`zygote::zygote_main`] first thing in `main` when the first argument is
//! [`ZYGOTE_ARG`], or point [`SandboxConfig::helper`] at a binary that does.
//!
//! # The environment
//!
//! A [`Sandbox`] is one *slot*: prepared once, reused run after run (as go-judge's environment
//! pool does), because building namespaces and a mount tree from nothing costs more than the
//! 1 ms a run may add. Each slot has:
//!
//! - its own mount, network, IPC, UTS and PID namespaces, held by a zygote process that is PID 1
//!   of the PID namespace (see [`zygote`]). Every run is a fresh fork of it.
//! - a root made of a small read-only tmpfs and read-only bind mounts of exactly the paths the
//!   toolchains need ([`SandboxConfig::binds`]), `/dev/{null,zero,random,urandom}`, a `/proc`
//!   with `hidepid=2` (a program sees only its own processes), `/etc/passwd` naming the sandbox
//!   user, the writable work directory `/box` and a private writable `/tmp` (both tmpfs of
//!   [`SandboxConfig::scratch_size`], charged to the run's memory), and read-only `/prog` (the
//!   compiled submission) and `/checker` (a compiled output validator).
//! - a network namespace with only a loopback interface, left down: no network at all, not even
//!   to the host's 127.0.0.1.
//! - a uid/gid of its own (`uid_base + slot`), no supplementary groups, no capabilities, no new
//!   privileges, and the seccomp filter of [`seccomp`].
//! - its own cgroup (see [`cgroup`]).
//! - no System V IPC: the IPC namespace outlives runs, so its limits are set to zero and nothing
//!   can be left in it for the next run (see [`root`]).
//! - an empty environment apart from what the caller passes: nothing of the judge's environment
//!   (credentials!) reaches a program.
//!
//! Between runs the caller empties `/box` and `/tmp` ([`Sandbox::clean`]); every process of the
//! previous run is dead by then: when a run's main process ends, whatever the reason, the zygote
//! kills and reaps every other process of the namespace and the judge empties the cgroup.
//! Files the judge copies in or out are opened relative to the directory, without following
//! symbolic links ([`files`]).
//!
//! # Limits ([`Limits`]): unit, what is counted, what the program sees
//!
//! - `cpu_time`: user + system CPU time of all processes and threads of the run together
//!   (cgroup `cpuacct`). The judge polls it and kills the whole run at the limit, so a program
//!   stops within a few milliseconds of CPU past it. As a backstop every process also gets
//!   `RLIMIT_CPU` = the limit rounded up to a second, plus one when the cgroup watchdog works
//!   (`SIGXCPU`, then `SIGKILL` a second later).
//! - `wall_time`: real time from the fork; at the limit the whole run is killed (`SIGKILL`). This is
//!   what stops a program that sleeps or blocks.
//! - `memory`: bytes of memory charged to the run's cgroup — resident pages, page cache of files
//!   it writes, kernel memory — of all its processes together, *not* address space (the JVM and
//!   Node reserve far more than they touch). At the limit the kernel first reclaims cache, then its
//!   OOM killer sends `SIGKILL` to a process of the run; the run reports
//!   [`LimitExceeded::Memory`]. Without swap no page escapes the limit (`memory.swappiness` is 0 and
//!   `memory.memsw` is set equal when present). `malloc` does not fail first, it is killed.
//! - `processes`: tasks (processes *and* threads) alive at once, cgroup `pids.max`. `fork`,
//!   `clone` and `pthread_create` fail with `EAGAIN` at the limit.
//! - `file_size`: bytes per file written, standard output included when it goes to a file
//!   (`RLIMIT_FSIZE`). A write past it raises `SIGXFSZ` (the program dies) or, if ignored, fails
//!   with `EFBIG`. A captured stream ([`Sink::Capture`]) is a pipe, never counted here.
//! - `open_files`: descriptors per process (`RLIMIT_NOFILE`); `open` fails with `EMFILE`.
//! - `stack`: bytes of main-thread stack (`RLIMIT_STACK`), `SIGSEGV` past it. Defaults to
//!   `memory`: recursion is limited by memory, as on most judges.
//! - `address_space`: optional `RLIMIT_AS` per process; off by default, on when no cgroup can
//!   be used (the only memory limit left then).
//!
//! # Standard streams ([`Stdio`])
//!
//! Standard input is a descriptor of the caller's or `/dev/null`. Standard output and standard
//! error each go to a descriptor of the caller's ([`Sink::Fd`], a file: bounded by `file_size`) or
//! are captured ([`Sink::Capture`]): a pipe the sandbox drains while the program runs, keeping its
//! first and last bytes ([`Captured`]). A captured stream never blocks, never fills a disk and never
//! ends a run however much is written to it: a program flooding it runs on until another limit
//! ends it. Both captured: one pipe, interleaved as written (a compiler's output).
//!
//! # CPUs
//!
//! A slot given a CPU ([`SandboxConfig::cpus`]) runs every program on that CPU only: its cgroup's
//! `cpuset` (v1 or v2) holds exactly that CPU, and its zygote's affinity too (which is all there is
//! without a cpuset). A program's children cannot wander to another core, and two slots given two
//! CPUs never share one, so a program's time does not move with what the other slot runs.
//!
//! # Where limits fail
//!
//! Without usable cgroups ([`Cgroups::Unavailable`]) processes and threads are limited by
//! `RLIMIT_NPROC` (exact, since each slot has a uid of its own), CPU time is that of the main
//! process only (`RLIMIT_CPU` and its rusage; children escape it), memory is limited by `RLIMIT_AS`
//! per process (address space, which penalises the JVM and Node) and measured as the main
//! process's peak RSS, and an out-of-memory death cannot be told apart from other crashes:
//! [`SandboxPool::new`] logs a warning saying so. When the main process ends, every other process
//! of the run is killed in both modes. Without cgroups, what a run writes to `/box` and `/tmp`
//! is bounded by their tmpfs size only, not by its memory limit.

mod capture;
pub mod cgroup;
pub mod files;
mod pool;
pub mod probe;
pub mod root;
pub mod seccomp;
pub mod zygote;

use std::fs::{self, File};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio as ProcessStdio};
use std::time::{Duration, Instant};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use capture::Capture;
pub use capture::Captured;
pub use cgroup::Cgroups;
use cgroup::SlotCgroup;
pub use pool::{SandboxPool, SlotGuard};
pub use probe::probe;
pub use zygote::{Bind, ZYGOTE_ARG};
use zygote::{Reply, Request, Rlimits, ZygoteConfig};

/// Limits of one run. See the module documentation for what each one counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub cpu_time: Duration,
    pub wall_time: Duration,
    /// Bytes.
    pub memory: u64,
    pub processes: u32,
    /// Bytes per written file, standard output included.
    pub file_size: u64,
    pub open_files: u32,
    /// Bytes; `None`: the memory limit.
    pub stack: Option<u64>,
    /// Bytes of address space per process; `None`: unlimited (the default with cgroups).
    pub address_space: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_time: Duration::from_secs(1),
            wall_time: Duration::from_secs(3),
            memory: 256 << 20,
            processes: 64,
            file_size: 64 << 20,
            open_files: 256,
            stack: None,
            address_space: None,
        }
    }
}

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

impl ExitStatus {
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exit code {c}"),
            ExitStatus::Signaled(s) => {
                let name = nix::sys::signal::Signal::try_from(*s)
                    .map(|s| s.as_str())
                    .unwrap_or("unknown signal");
                write!(f, "signal {s} ({name})")
            }
        }
    }
}

/// The limit that ended a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitExceeded {
    CpuTime,
    WallTime,
    Memory,
    FileSize,
}

/// What a run did and used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    pub status: ExitStatus,
    /// User + system time of every process of the run.
    pub cpu_time: Duration,
    pub wall_time: Duration,
    /// Peak memory of the run's processes together, bytes.
    pub memory: u64,
    pub limit: Option<LimitExceeded>,
    /// The program never started: why (`execve` failed, …). Not the program's fault.
    pub exec_error: Option<String>,
    /// What the program wrote to its captured streams ([`Sink::Capture`]); empty when none was.
    pub captured: Captured,
}

/// A program to run inside a sandbox.
#[derive(Debug, Clone, Default)]
pub struct Command {
    /// `argv[0]` is the absolute path of the executable (inside the sandbox, which sees host paths
    /// it binds at the same place).
    pub argv: Vec<String>,
    /// `NAME=value` entries: the program's whole environment.
    pub env: Vec<String>,
    /// Working directory inside the sandbox; `/box` when empty.
    pub cwd: String,
}

/// Where the program's standard streams go. `stdin: None` is `/dev/null`.
pub struct Stdio<'a> {
    pub stdin: Option<BorrowedFd<'a>>,
    pub stdout: Sink<'a>,
    pub stderr: Sink<'a>,
}

/// Where an output stream goes.
#[derive(Debug, Clone, Copy)]
pub enum Sink<'a> {
    /// A descriptor of the caller's (a file: what is written there counts against `file_size`).
    Fd(BorrowedFd<'a>),
    /// A pipe drained by the sandbox, keeping at most this many bytes: the first three quarters,
    /// the last quarter ([`RunResult::captured`]). Never counts against a limit. Both streams
    /// captured share one pipe and the larger bound.
    Capture(usize),
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox setup failed: {0}")]
    Setup(String),
    #[error("sandbox I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("sandbox zygote died")]
    ZygoteDied,
}

/// What every slot of a pool shares.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Our own binary, started with [`ZYGOTE_ARG`] to become a slot's zygote.
    pub helper: PathBuf,
    /// Host directory holding one subdirectory per slot (box, tmp, prog, checker, root, io).
    pub state_dir: PathBuf,
    /// Host paths visible read-only inside, at the same path.
    pub binds: Vec<Bind>,
    /// Slot `n` runs as uid and gid `uid_base + n`.
    pub uid_base: u32,
    /// Size of each of the `/box` and `/tmp` tmpfs, bytes (what is written there also counts
    /// against the run's memory limit).
    pub scratch_size: u64,
    /// Run with rlimits only even where cgroups could be used (to test that mode).
    pub disable_cgroups: bool,
    /// CPUs to pin the slots to: slot `n` runs on `cpus[n % len]` only. Empty: not pinned.
    pub cpus: Vec<usize>,
}

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

/// Default read-only binds: the system's programs and libraries, and the few files of `/etc` a
/// toolchain reads. `/etc` itself is not visible (`/etc/shadow`!).
pub fn default_binds() -> Vec<Bind> {
    [
        "/usr",
        "/bin",
        "/sbin",
        "/lib",
        "/lib64",
        "/lib32",
        "/libx32",
        "/etc/alternatives",
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/localtime",
    ]
    .into_iter()
    .map(Bind::read_only)
    .collect()
}

/// One prepared sandbox slot. Not `Sync`: one run at a time; use a [`SandboxPool`] to share.
pub struct Sandbox {
    slot: usize,
    /// The CPU this slot is pinned to, if any.
    cpu: Option<usize>,
    dir: PathBuf,
    config: SandboxConfig,
    cgroup: SlotCgroup,
    sock: OwnedFd,
    helper: Child,
    /// Host pid of the zygote, through whose root the judge reaches `/box` and `/tmp`.
    zygote_pid: i32,
    dev_null: File,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("slot", &self.slot)
            .field("dir", &self.dir)
            .finish()
    }
}

impl Sandbox {
    /// Prepares slot `slot`: directories, cgroup, zygote.
    pub fn new(cgroups: &Cgroups, config: &SandboxConfig, slot: usize) -> Result<Sandbox, SandboxError> {
        let dir = config.state_dir.join(format!("slot-{slot}"));
        let uid = config.uid_base + slot as u32;
        for (name, mode, owner) in [
            ("root", 0o755, 0),
            ("prog", 0o755, 0),
            ("checker", 0o755, 0),
            ("io", 0o700, 0),
        ] {
            let d = dir.join(name);
            fs::create_dir_all(&d)?;
            fs::set_permissions(&d, fs::Permissions::from_mode(mode))?;
            chown(&d, Some(owner), Some(owner))?;
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
        let cpu = (!config.cpus.is_empty()).then(|| config.cpus[slot % config.cpus.len()]);
        let cgroup = cgroups.create_slot(uid, cpu)?;
        let (sock, helper) = spawn_zygote(config, &dir, uid, cpu, &cgroup)?;
        let mut sandbox = Sandbox {
            slot,
            cpu,
            dir,
            config: config.clone(),
            cgroup,
            sock,
            helper,
            zygote_pid: 0,
            dev_null: File::open("/dev/null")?,
        };
        sandbox.wait_ready()?;
        Ok(sandbox)
    }

    /// Waits for both the helper's message (the zygote's pid) and the zygote's "ready", which come
    /// from two processes in either order.
    fn wait_ready(&mut self) -> Result<(), SandboxError> {
        let (mut pid, mut ready) = (None, false);
        while pid.is_none() || !ready {
            match zygote::recv::<Reply>(self.sock.as_raw_fd())? {
                Some((Reply::Helper { zygote_pid }, _)) => pid = Some(zygote_pid),
                Some((Reply::Ready, _)) => ready = true,
                Some((Reply::SetupFailed { error }, _)) => return Err(SandboxError::Setup(error)),
                Some((other, _)) => return Err(SandboxError::Setup(format!("unexpected {other:?}"))),
                None => return Err(SandboxError::Setup("zygote exited during setup".into())),
            }
        }
        let pid = pid.expect("loop ends with a pid");
        self.zygote_pid = pid;
        self.cgroup.set_zygote(pid);
        self.cgroup.record_idle();
        Ok(())
    }

    /// Replaces a dead zygote by a fresh one.
    fn respawn(&mut self) -> Result<(), SandboxError> {
        let _ = self.helper.kill();
        let _ = self.helper.wait();
        self.cgroup.kill_all()?;
        let uid = self.config.uid_base + self.slot as u32;
        let (sock, helper) = spawn_zygote(&self.config, &self.dir, uid, self.cpu, &self.cgroup)?;
        self.sock = sock;
        self.helper = helper;
        self.wait_ready()
    }

    pub fn slot(&self) -> usize {
        self.slot
    }

    /// The CPU every run of this slot is pinned to, if any.
    pub fn cpu(&self) -> Option<usize> {
        self.cpu
    }

    /// `/box`, the writable work directory, as the judge reaches it (through the zygote's root:
    /// it is a tmpfs mounted in the slot's mount namespace only).
    pub fn box_dir(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/box", self.zygote_pid))
    }

    /// `/tmp`, as the judge reaches it.
    pub fn tmp_dir(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/tmp", self.zygote_pid))
    }

    /// Host path of `/prog` (read-only inside).
    pub fn prog_dir(&self) -> PathBuf {
        self.dir.join("prog")
    }

    /// Host path of `/checker` (read-only inside).
    pub fn checker_dir(&self) -> PathBuf {
        self.dir.join("checker")
    }

    /// A host directory for the judge's own files (captured output), invisible inside.
    pub fn io_dir(&self) -> PathBuf {
        self.dir.join("io")
    }

    /// Empties `/box` and `/tmp` without following links a program may have planted. Also the
    /// moment to notice a zygote that died since the last run (they live in its mount namespace)
    /// and start a fresh one, with fresh, empty directories.
    pub fn clean(&mut self) -> Result<(), SandboxError> {
        if !matches!(self.helper.try_wait(), Ok(None)) {
            tracing::warn!(slot = self.slot, "sandbox zygote died; starting a new one");
            self.respawn()?;
        }
        files::empty_dir(&self.box_dir())?;
        files::empty_dir(&self.tmp_dir())?;
        Ok(())
    }

    /// Whether memory and process limits are enforced by a cgroup.
    pub fn enforces_cgroup_limits(&self) -> bool {
        self.cgroup.is_enforcing()
    }

    /// Runs `cmd` with `limits` and waits for it (and for every process it started) to end.
    pub fn run(
        &mut self,
        cmd: &Command,
        limits: &Limits,
        stdio: Stdio<'_>,
    ) -> Result<RunResult, SandboxError> {
        match self.run_once(cmd, limits, &stdio) {
            Err(SandboxError::ZygoteDied) => {
                tracing::warn!(slot = self.slot, "sandbox zygote died; starting a new one");
                self.respawn()?;
                self.run_once(cmd, limits, &stdio)
            }
            Err(e) => {
                // We may have left a run going and its reply unread: start afresh rather than
                // read that reply as the next run's.
                tracing::error!(slot = self.slot, error = %e, "sandbox run failed; restarting the slot");
                let _ = self.respawn();
                Err(e)
            }
            ok => ok,
        }
    }

    fn run_once(
        &mut self,
        cmd: &Command,
        limits: &Limits,
        stdio: &Stdio<'_>,
    ) -> Result<RunResult, SandboxError> {
        let enforcing = self.cgroup.is_enforcing();
        self.cgroup.prepare(limits.memory, limits.processes)?;
        let request = Request::Run {
            argv: cmd.argv.clone(),
            env: cmd.env.clone(),
            cwd: if cmd.cwd.is_empty() {
                "/box".to_owned()
            } else {
                cmd.cwd.clone()
            },
            rlimits: Rlimits {
                // A backstop a second past the limit: the cgroup watchdog is the precise one.
                cpu_seconds: limits.cpu_time.as_secs_f64().ceil() as u64 + u64::from(enforcing),
                file_size: limits.file_size,
                open_files: limits.open_files as u64,
                stack: limits.stack.unwrap_or(limits.memory),
                address_space: if enforcing {
                    limits.address_space
                } else {
                    Some(limits.address_space.unwrap_or(limits.memory))
                },
                processes: (!enforcing).then_some(u64::from(limits.processes)),
            },
        };
        let stdin = stdio.stdin.unwrap_or(self.dev_null.as_fd());
        let keep = [stdio.stdout, stdio.stderr]
            .iter()
            .filter_map(|s| match s {
                Sink::Capture(n) => Some(*n),
                Sink::Fd(_) => None,
            })
            .max();
        let mut capture = keep.map(Capture::new).transpose()?;
        let sink_fd = |sink: Sink<'_>| match sink {
            Sink::Fd(fd) => fd.as_raw_fd(),
            Sink::Capture(_) => capture
                .as_ref()
                .and_then(Capture::write_fd)
                .expect("a capture exists for a captured stream"),
        };
        let fds = [stdin.as_raw_fd(), sink_fd(stdio.stdout), sink_fd(stdio.stderr)];
        zygote::send(self.sock.as_raw_fd(), &request, &fds).map_err(|_| SandboxError::ZygoteDied)?;
        if let Some(c) = &mut capture {
            // The zygote holds its own copy now; the pipe ends when the run's processes are gone.
            c.close_write();
        }
        let start = Instant::now();
        let mut killed: Option<LimitExceeded> = None;
        // cpuacct readings taken while a task runs are not always monotonic with the final one;
        // the figure reported is never below the one a kill was decided on.
        let mut cpu_seen = Duration::ZERO;
        let reply = loop {
            let elapsed = start.elapsed();
            let cpu = if enforcing {
                self.cgroup.cpu_usage()?
            } else {
                Duration::ZERO
            };
            cpu_seen = cpu_seen.max(cpu);
            if killed.is_none() {
                if enforcing && cpu > limits.cpu_time {
                    killed = Some(LimitExceeded::CpuTime);
                } else if elapsed > limits.wall_time {
                    killed = Some(LimitExceeded::WallTime);
                }
                if killed.is_some() {
                    let _ = zygote::send(self.sock.as_raw_fd(), &Request::Kill, &[]);
                    self.cgroup.kill_all()?;
                }
            }
            // Sleep until the soonest moment a limit could be crossed: CPU can be spent at most
            // `cores` times faster than wall time (one core when the slot is pinned).
            let cores = match self.cpu {
                Some(_) => 1,
                None => std::thread::available_parallelism().map_or(1, |n| n.get()) as u32,
            };
            let cpu_left = limits.cpu_time.saturating_sub(cpu) / (2 * cores);
            let wall_left = limits.wall_time.saturating_sub(elapsed);
            let wait = if killed.is_some() {
                Duration::from_millis(100)
            } else if enforcing {
                cpu_left
                    .min(wall_left)
                    .clamp(Duration::from_millis(1), Duration::from_millis(100))
            } else {
                wall_left.clamp(Duration::from_millis(1), Duration::from_millis(100))
            };
            let mut pfds = [
                libc::pollfd {
                    fd: self.sock.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: capture.as_ref().map_or(-1, Capture::poll_fd),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: poll on valid descriptors (a negative one is ignored).
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), 2, wait.as_millis() as i32) };
            if n > 0 && pfds[1].revents != 0 {
                if let Some(c) = &mut capture {
                    c.drain()?;
                }
            }
            if n > 0 && pfds[0].revents != 0 {
                match zygote::recv::<Reply>(self.sock.as_raw_fd()) {
                    Ok(Some((reply @ Reply::Finished { .. }, _))) => break reply,
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => return Err(SandboxError::ZygoteDied),
                }
            }
        };
        // Whatever the main process did, nothing of the run survives it.
        self.cgroup.kill_all()?;
        let captured = match capture {
            Some(mut c) => {
                // Every writer is dead: what is left in the pipe is all there is.
                let deadline = Instant::now() + Duration::from_secs(2);
                while !c.drain()? && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                c.finish()
            }
            None => Captured::default(),
        };
        let Reply::Finished {
            status,
            wall_ns,
            cpu_ns,
            max_rss_kb,
            exec_error,
        } = reply
        else {
            unreachable!("the loop only breaks on Finished");
        };
        let status = if libc::WIFSIGNALED(status) {
            ExitStatus::Signaled(libc::WTERMSIG(status))
        } else {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        };
        let usage = self.cgroup.usage()?;
        let (cpu_time, memory) = if enforcing {
            (usage.cpu.max(cpu_seen), usage.memory_peak)
        } else {
            (Duration::from_nanos(cpu_ns), max_rss_kb * 1024)
        };
        let limit = killed.or_else(|| {
            if usage.oom_killed {
                Some(LimitExceeded::Memory)
            } else if cpu_time > limits.cpu_time || status == ExitStatus::Signaled(libc::SIGXCPU) {
                Some(LimitExceeded::CpuTime)
            } else if status == ExitStatus::Signaled(libc::SIGXFSZ) {
                Some(LimitExceeded::FileSize)
            } else if !status.success() && (usage.memory_limit_hit || memory >= limits.memory) {
                Some(LimitExceeded::Memory)
            } else {
                None
            }
        });
        Ok(RunResult {
            status,
            cpu_time,
            wall_time: Duration::from_nanos(wall_ns),
            memory,
            limit,
            exec_error,
            captured,
        })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Closing our end of the socket makes the zygote kill its namespace and exit; the helper
        // follows it. Kill the helper too in case it is stuck.
        let (a, _b) = match socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        ) {
            Ok(p) => p,
            Err(_) => {
                let _ = self.helper.kill();
                let _ = self.helper.wait();
                return;
            }
        };
        drop(std::mem::replace(&mut self.sock, a));
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match self.helper.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.helper.kill();
                    let _ = self.helper.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        // The cgroup's own Drop kills what is left and removes it.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn spawn_zygote(
    config: &SandboxConfig,
    dir: &Path,
    uid: u32,
    cpu: Option<usize>,
    cgroup: &SlotCgroup,
) -> Result<(OwnedFd, Child), SandboxError> {
    let zcfg = ZygoteConfig {
        uid,
        cpu,
        gid: uid,
        root: dir.join("root"),
        scratch_size: config.scratch_size,
        prog_dir: dir.join("prog"),
        checker_dir: dir.join("checker"),
        binds: config.binds.clone(),
        cgroup_procs: cgroup.procs_files(),
    };
    let json = serde_json::to_string(&zcfg).map_err(std::io::Error::other)?;
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(std::io::Error::from)?;
    let theirs_raw = theirs.as_raw_fd();
    let mut command = std::process::Command::new(&config.helper);
    command
        .arg(ZYGOTE_ARG)
        .arg(json)
        .env_clear()
        .stdin(ProcessStdio::null())
        .stdout(ProcessStdio::null())
        .stderr(ProcessStdio::inherit());
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if theirs_raw == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else if libc::dup2(theirs_raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| SandboxError::Setup(format!("start {}: {e}", config.helper.display())))?;
    drop(theirs);
    Ok((ours, child))
}

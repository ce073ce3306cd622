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
//!   what stops a program that sleeps or blocks. With a cgroup, time the run's threads spent
//!   runnable but waiting for a CPU held by something else (their kernel run delay) is added to
//!   the limit, up to three times the limit in all: a program slowed by a loaded machine is timed
//!   by its CPU time, not cut off by the clock, while one that sleeps waits for no CPU and is
//!   stopped at the limit itself. A run cut off by the cap while it had waited more than the cap
//!   allows ends as [`LimitExceeded::MachineBusy`], not `WallTime`: a verdict on it would be the
//!   machine's, so the caller runs it again later.
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
mod cpus;
pub mod files;
mod pool;
pub mod probe;
pub mod root;
pub mod seccomp;
mod slot;
pub mod zygote;

use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::Duration;

pub use capture::Captured;
pub use cgroup::Cgroups;
pub use cpus::{allowed_cpus, confine_own_threads};
pub use pool::{SandboxPool, SlotGuard};
pub use probe::probe;
pub use slot::Sandbox;
pub use zygote::{Bind, ZYGOTE_ARG};

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
    /// Over the wall-clock limit, with all the time it waited for a CPU given back: the program
    /// slept, blocked or ran too long by itself.
    WallTime,
    /// Stopped at the wall-clock cap (three times the limit) while the time it waited for a CPU
    /// held by something else was more than the cap leaves over the limit: the machine, not the
    /// program, kept it from finishing, so nothing can be concluded about the program. Run it
    /// again when the machine is less busy.
    MachineBusy,
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

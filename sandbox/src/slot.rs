//! One sandbox slot ([`Sandbox`]): its directories, cgroup and zygote, and the watchdog that runs
//! a program under its limits while draining its captured streams.

use std::fs::{self, File};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio as ProcessStdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::capture::Capture;
use crate::cgroup::SlotCgroup;
use crate::files;
use crate::zygote::{self, Reply, Request, Rlimits, ZygoteConfig, ZYGOTE_ARG};
use crate::{
    Captured, Cgroups, Command, ExitStatus, LimitExceeded, Limits, RunResult, SandboxConfig, SandboxError,
    Sink, Stdio,
};

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
        match self.run_once(cmd, limits, &stdio, Vec::new(), None) {
            Err(SandboxError::ZygoteDied) => {
                tracing::warn!(slot = self.slot, "sandbox zygote died; starting a new one");
                self.respawn()?;
                self.run_once(cmd, limits, &stdio, Vec::new(), None)
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

    /// Runs `cmd` joined to another program (typically running in another slot at the same
    /// time) by the descriptors `stdin` and `stdout`, usually pipe ends. They are handed over:
    /// closed here as soon as the program holds them, so that the other side reads end-of-file
    /// (or gets `EPIPE`) once this program is gone. Standard error is captured (`stderr_keep`
    /// bytes). Setting `stop` ends the run early (within about 100 ms), its processes killed
    /// with `SIGKILL`, reported without a limit: the caller knows it asked.
    ///
    /// A pipe is not a file: what the program writes to it counts against no limit; a program
    /// that floods it blocks once the pipe is full, until the other side reads or its own
    /// limits end it.
    pub fn run_piped(
        &mut self,
        cmd: &Command,
        limits: &Limits,
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr_keep: usize,
        stop: &AtomicBool,
    ) -> Result<RunResult, SandboxError> {
        if !matches!(self.helper.try_wait(), Ok(None)) {
            self.respawn()?;
        }
        // SAFETY: the borrowed descriptors are used only to send them to the zygote, which
        // happens in `run_once` before it drops `handed` (which owns them).
        let (stdin_fd, stdout_fd) = unsafe {
            (
                BorrowedFd::borrow_raw(stdin.as_raw_fd()),
                BorrowedFd::borrow_raw(stdout.as_raw_fd()),
            )
        };
        let stdio = Stdio {
            stdin: Some(stdin_fd),
            stdout: Sink::Fd(stdout_fd),
            stderr: Sink::Capture(stderr_keep),
        };
        let result = self.run_once(cmd, limits, &stdio, vec![stdin, stdout], Some(stop));
        if let Err(e) = &result {
            tracing::error!(slot = self.slot, error = %e, "sandbox run failed; restarting the slot");
            let _ = self.respawn();
        }
        result
    }

    fn run_once(
        &mut self,
        cmd: &Command,
        limits: &Limits,
        stdio: &Stdio<'_>,
        handed: Vec<OwnedFd>,
        stop: Option<&AtomicBool>,
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
        // The zygote holds its own copies of what was handed over.
        drop(handed);
        if let Some(c) = &mut capture {
            // The zygote holds its own copy now; the pipe ends when the run's processes are gone.
            c.close_write();
        }
        let start = Instant::now();
        let mut killed: Option<LimitExceeded> = None;
        // cpuacct readings taken while a task runs are not always monotonic with the final one;
        // the figure reported is never below the one a kill was decided on.
        let mut cpu_seen = Duration::ZERO;
        let mut stopped = false;
        // Without a cgroup no wait is known (`cpu_wait` is zero): the deadline stays the limit.
        let mut wall_deadline = limits.wall_time;
        let wall_cap = limits.wall_time * 3;
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
                } else if elapsed > wall_deadline {
                    // Time spent waiting for a CPU that others held is the machine's, not the
                    // program's: the clock runs on by that much (a loaded host gives no false
                    // time limits), up to three times the limit. A sleeping or blocked program
                    // waits for no CPU and is stopped at the limit itself.
                    let waited = self.cgroup.cpu_wait().unwrap_or_default();
                    wall_deadline = (limits.wall_time + waited).min(wall_cap);
                    if elapsed > wall_deadline {
                        killed = Some(if limits.wall_time + waited > wall_cap {
                            LimitExceeded::MachineBusy
                        } else {
                            LimitExceeded::WallTime
                        });
                    }
                }
                if killed.is_some() || (!stopped && stop.is_some_and(|s| s.load(Ordering::Acquire))) {
                    stopped = killed.is_none();
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
            let wall_left = wall_deadline.saturating_sub(elapsed);
            let wait = if killed.is_some() || stopped {
                Duration::from_millis(100)
            } else if enforcing {
                cpu_left
                    .min(wall_left)
                    .clamp(Duration::from_millis(1), Duration::from_millis(100))
            } else {
                wall_left.clamp(Duration::from_millis(1), Duration::from_millis(100))
            };
            // A run that may be asked to stop notices within this.
            let wait = if stop.is_some() && !stopped {
                wait.min(Duration::from_millis(20))
            } else {
                wait
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

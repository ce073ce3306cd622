//! The long-lived process inside a slot's namespaces that forks every run.
//!
//! Building namespaces and a mount tree costs milliseconds (a network namespace alone about
//! 1.3 ms here); forking a prepared process costs a fraction of one. So each slot starts one
//! helper — our own binary with the hidden `__sandbox-zygote` argument, a fresh single-threaded
//! process, which makes forking and then running ordinary Rust code in the child safe — that:
//!
//! 1. unshares mount, network, IPC, UTS and PID namespaces and forks the zygote, PID 1 of the new
//!    PID namespace (the helper itself only waits for it);
//! 2. the zygote joins the slot's cgroup, builds the root and `pivot_root`s into it (see
//!    [`root`](super::root)), installs the seccomp filter on itself (runs inherit it) and says it
//!    is ready;
//! 3. then, per request: fork; in the child, set stdio, rlimits, an unprivileged uid and no new
//!    privileges, then `execve`; in the zygote, wait for the child, kill and reap whatever else
//!    of the run is left, and report its status, wall time and rusage. A `Kill` request during a
//!    run (a limit was reached) kills every process of the namespace but the zygote.
//!
//! The zygote is PID 1 of its namespace: signals from inside cannot touch it (`kill -9 -1` kills
//! the run's own processes only), and when it exits the kernel kills everything left in the
//! namespace. It exits when the judge's end of the socket closes, so a dead judge leaves nothing
//! running. Messages are JSON over a `SOCK_SEQPACKET` pair, stdio travels as `SCM_RIGHTS`.

use std::ffi::CString;
use std::fs;
use std::io::{IoSlice, IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Instant;

use nix::sched::{unshare, CloneFlags};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::unistd::{fork, ForkResult};
use serde::{Deserialize, Serialize};

/// The argument that turns our binary into a zygote.
pub const ZYGOTE_ARG: &str = "__sandbox-zygote";
/// Where the helper finds its socket.
const SOCKET_FD: RawFd = 3;
const MAX_MESSAGE: usize = 256 * 1024;

/// A host path made visible inside the sandbox at the same path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    pub source: PathBuf,
    pub writable: bool,
}

impl Bind {
    pub fn read_only(source: impl Into<PathBuf>) -> Bind {
        Bind {
            source: source.into(),
            writable: false,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ZygoteConfig {
    pub uid: u32,
    /// The CPU every run is pinned to, if any.
    pub cpu: Option<usize>,
    pub gid: u32,
    /// Empty host directory on which the root tmpfs is mounted.
    pub root: PathBuf,
    /// Size of each of the `/box` and `/tmp` tmpfs, bytes.
    pub scratch_size: u64,
    pub prog_dir: PathBuf,
    pub checker_dir: PathBuf,
    pub binds: Vec<Bind>,
    pub cgroup_procs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Rlimits {
    pub cpu_seconds: u64,
    pub file_size: u64,
    pub open_files: u64,
    pub stack: u64,
    pub address_space: Option<u64>,
    /// `RLIMIT_NPROC`, only without cgroups: the slot's uid is its own, so this bounds the
    /// processes and threads of the run.
    pub processes: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    Run {
        argv: Vec<String>,
        env: Vec<String>,
        cwd: String,
        rlimits: Rlimits,
    },
    /// Kill every process of the current run (sent while one is running).
    Kill,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// From the helper: the zygote's pid as the judge sees it.
    Helper {
        zygote_pid: i32,
    },
    Ready,
    SetupFailed {
        error: String,
    },
    Finished {
        /// Raw wait status.
        status: i32,
        wall_ns: u64,
        cpu_ns: u64,
        max_rss_kb: u64,
        /// Set when the child never reached the program (`execve` failed, a limit could not be
        /// set).
        exec_error: Option<String>,
    },
}

pub(crate) fn send(sock: RawFd, msg: &impl Serialize, fds: &[RawFd]) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    let iov = [IoSlice::new(&bytes)];
    let cmsgs = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsgs };
    sendmsg::<()>(sock, &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)?;
    Ok(())
}

/// Receives one message and the descriptors that came with it; `None` at end of stream.
pub(crate) fn recv<T: for<'de> Deserialize<'de>>(sock: RawFd) -> std::io::Result<Option<(T, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let (n, fds) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = loop {
            match recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other?,
            }
        };
        let mut fds = Vec::new();
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                // SAFETY: the kernel just installed these descriptors for us; nobody else owns
                // them.
                fds.extend(raw.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        (msg.bytes, fds)
    };
    if n == 0 {
        return Ok(None);
    }
    let msg = serde_json::from_slice(&buf[..n]).map_err(std::io::Error::other)?;
    Ok(Some((msg, fds)))
}

/// Entry point of the helper process (`judge-worker __sandbox-zygote CONFIG`). Never returns.
pub fn zygote_main(config: &str) -> ! {
    // SAFETY: the judge put our end of the socket at this descriptor before exec.
    let sock = unsafe { OwnedFd::from_raw_fd(SOCKET_FD) };
    let cfg: ZygoteConfig = match serde_json::from_str(config) {
        Ok(c) => c,
        Err(e) => fail(&sock, format!("bad zygote config: {e}")),
    };
    let flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWPID;
    if let Err(e) = unshare(flags) {
        fail(&sock, format!("unshare namespaces: {e}"));
    }
    // SAFETY: this process is single-threaded (freshly exec'd, no threads started).
    match unsafe { fork() } {
        Err(e) => fail(&sock, format!("fork zygote: {e}")),
        Ok(ForkResult::Parent { child }) => {
            let _ = send(
                sock.as_raw_fd(),
                &Reply::Helper {
                    zygote_pid: child.as_raw(),
                },
                &[],
            );
            drop(sock);
            let mut status = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(child.as_raw(), &mut status, 0) };
            std::process::exit(0);
        }
        Ok(ForkResult::Child) => {
            if let Err(e) = super::root::build(&cfg) {
                fail(&sock, e);
            }
            serve(&cfg, sock)
        }
    }
}

fn fail(sock: &OwnedFd, error: String) -> ! {
    let _ = send(sock.as_raw_fd(), &Reply::SetupFailed { error }, &[]);
    std::process::exit(1);
}

fn serve(cfg: &ZygoteConfig, sock: OwnedFd) -> ! {
    // The filter goes on the zygote itself, once: every run inherits it through fork, which saves
    // attaching (and JIT-compiling) it per run, about a quarter of a millisecond. Nothing the
    // zygote does from here on is denied by it. Without no_new_privs, installing needs
    // CAP_SYS_ADMIN, which we have; the runs set no_new_privs themselves.
    match super::seccomp::filters() {
        Ok(filters) => {
            for f in &filters {
                if let Err(e) = seccompiler_install(f) {
                    fail(&sock, format!("seccomp: {e}"));
                }
            }
        }
        Err(e) => fail(&sock, format!("seccomp filter: {e}")),
    }
    if send(sock.as_raw_fd(), &Reply::Ready, &[]).is_err() {
        std::process::exit(1);
    }
    loop {
        let (req, fds) = match recv::<Request>(sock.as_raw_fd()) {
            Ok(Some(m)) => m,
            _ => shutdown(),
        };
        reap_zombies();
        let Request::Run {
            argv,
            env,
            cwd,
            rlimits,
        } = req
        else {
            continue;
        };
        let reply = run(cfg, &sock, &argv, &env, &cwd, &rlimits, fds);
        if send(sock.as_raw_fd(), &reply, &[]).is_err() {
            shutdown();
        }
    }
}

/// The judge is gone: take every process of the namespace down with us.
fn shutdown() -> ! {
    // SAFETY: kill(2) and _exit(2); as PID 1, -1 means every other process in our namespace.
    unsafe {
        libc::kill(-1, libc::SIGKILL);
        libc::_exit(0)
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER)` without seccompiler's `apply_filter`, which insists on
/// setting no_new_privs first: the zygote must keep the ability to change uid for its runs.
fn seccompiler_install(filter: &seccompiler::BpfProgram) -> std::io::Result<()> {
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the kernel copies the program; `filter` outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Kills every other process of our namespace and reaps them all. Every one of them is our
/// descendant (orphans are re-parented to us, PID 1), so "no child left" means the namespace is
/// empty. Repeated because a process may finish a `fork` just after a `kill(-1)` passed it.
fn kill_and_reap_all() {
    loop {
        // SAFETY: kill(2) and waitpid(2); as PID 1, -1 reaches every process but us.
        unsafe { libc::kill(-1, libc::SIGKILL) };
        let mut status = 0;
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if r < 0 {
            return; // ECHILD: nothing left
        }
        if r == 0 {
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
    }
}

fn reap_zombies() {
    let mut status = 0;
    // SAFETY: reaping any exited child without blocking.
    while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
}

#[allow(clippy::too_many_arguments)]
fn run(
    cfg: &ZygoteConfig,
    sock: &OwnedFd,
    argv: &[String],
    env: &[String],
    cwd: &str,
    rlimits: &Rlimits,
    fds: Vec<OwnedFd>,
) -> Reply {
    let finished_early = |error: String| Reply::Finished {
        status: 127 << 8,
        wall_ns: 0,
        cpu_ns: 0,
        max_rss_kb: 0,
        exec_error: Some(error),
    };
    if fds.len() != 3 {
        return finished_early(format!("expected 3 stdio descriptors, got {}", fds.len()));
    }
    let mut pipe = [0; 2];
    // SAFETY: pipe2 into a local array.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return finished_early(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both ends were just created and are owned by nobody else.
    let (err_r, err_w) = unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
    let start = Instant::now();
    // SAFETY: the zygote is single-threaded, so the child may run ordinary code.
    let pid = match unsafe { fork() } {
        Err(e) => return finished_early(format!("fork: {e}")),
        Ok(ForkResult::Child) => {
            drop(err_r);
            let error = exec_child(cfg, argv, env, cwd, rlimits, &fds);
            let _ = nix::unistd::write(&err_w, error.as_bytes());
            // SAFETY: leave without running the zygote's destructors.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => child.as_raw(),
    };
    drop(err_w);
    drop(fds);
    let mut exec_error = String::new();
    let _ = fs::File::from(err_r).read_to_string(&mut exec_error);
    // SAFETY: pidfd_open of our own child, which cannot be reaped before we wait for it.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    loop {
        let mut pfds = [
            libc::pollfd {
                fd: pidfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll on two valid descriptors.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), 2, if pidfd < 0 { 10 } else { -1 }) };
        if n < 0 {
            continue;
        }
        if pfds[1].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            shutdown();
        }
        if pfds[1].revents & libc::POLLIN != 0 {
            match recv::<Request>(sock.as_raw_fd()) {
                Ok(Some((Request::Kill, _))) => {
                    // SAFETY: as PID 1, -1 reaches every process of the namespace but us.
                    unsafe { libc::kill(-1, libc::SIGKILL) };
                }
                Ok(Some(_)) => {}
                _ => shutdown(),
            }
        }
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            let wall_ns = start.elapsed().as_nanos() as u64;
            // Whatever the program left running in the background dies with it, before we answer.
            kill_and_reap_all();
            if pidfd >= 0 {
                // SAFETY: closing the pidfd we opened.
                unsafe { libc::close(pidfd) };
            }
            let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
            return Reply::Finished {
                status,
                wall_ns,
                cpu_ns: tv(usage.ru_utime) + tv(usage.ru_stime),
                max_rss_kb: usage.ru_maxrss as u64,
                exec_error: (!exec_error.is_empty()).then_some(exec_error),
            };
        }
    }
}

/// Runs in the forked child: becomes the sandboxed program or returns why it could not.
fn exec_child(
    cfg: &ZygoteConfig,
    argv: &[String],
    env: &[String],
    cwd: &str,
    rlimits: &Rlimits,
    fds: &[OwnedFd],
) -> String {
    let cstrings = |v: &[String]| -> Result<Vec<CString>, String> {
        v.iter()
            .map(|s| CString::new(s.as_bytes()).map_err(|e| e.to_string()))
            .collect()
    };
    let (argv, env) = match (cstrings(argv), cstrings(env)) {
        (Ok(a), Ok(e)) if !a.is_empty() => (a, e),
        _ => return "bad argv or environment".to_owned(),
    };
    // SAFETY: plain system calls on descriptors and values we own; we are about to exec.
    unsafe {
        for (i, fd) in fds.iter().enumerate() {
            if libc::dup2(fd.as_raw_fd(), i as i32) < 0 {
                return format!("dup2: {}", std::io::Error::last_os_error());
            }
        }
        // Nothing of the zygote's (its socket above all) survives the exec.
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
        libc::setsid();
        libc::umask(0o022);
        // A program starts as from a shell: writing to a pipe nobody reads kills it with SIGPIPE
        // (our own runtime ignores that signal, and an ignored signal survives `execve`).
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if let Err(e) = fs::write("/proc/self/oom_score_adj", "1000") {
        return format!("oom_score_adj: {e}");
    }
    if let Err(e) = std::env::set_current_dir(cwd) {
        return format!("chdir {cwd}: {e}");
    }
    let secs = rlimits.cpu_seconds.max(1);
    let mut limits = vec![
        (libc::RLIMIT_CPU, secs, secs + 1),
        (libc::RLIMIT_FSIZE, rlimits.file_size, rlimits.file_size),
        (libc::RLIMIT_NOFILE, rlimits.open_files, rlimits.open_files),
        (libc::RLIMIT_STACK, rlimits.stack, rlimits.stack),
        (libc::RLIMIT_CORE, 0, 0),
        (libc::RLIMIT_MEMLOCK, 0, 0),
        (libc::RLIMIT_MSGQUEUE, 0, 0),
    ];
    if let Some(a) = rlimits.address_space {
        limits.push((libc::RLIMIT_AS, a, a));
    }
    if let Some(n) = rlimits.processes {
        limits.push((libc::RLIMIT_NPROC, n, n));
    }
    for (res, soft, hard) in limits {
        let lim = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: setrlimit with a valid struct.
        if unsafe { libc::setrlimit(res, &lim) } != 0 {
            return format!("setrlimit {res}: {}", std::io::Error::last_os_error());
        }
    }
    // SAFETY: dropping to the slot's unprivileged ids; checked below.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(cfg.gid, cfg.gid, cfg.gid) != 0
            || libc::setresuid(cfg.uid, cfg.uid, cfg.uid) != 0
        {
            return format!("drop privileges: {}", std::io::Error::last_os_error());
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return format!("no_new_privs: {}", std::io::Error::last_os_error());
        }
    }
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|c| c.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut env_p: Vec<*const libc::c_char> = env.iter().map(|c| c.as_ptr()).collect();
    env_p.push(std::ptr::null());
    // SAFETY: NUL-terminated arrays of pointers into CStrings that outlive the call.
    unsafe { libc::execve(argv[0].as_ptr(), argv_p.as_ptr(), env_p.as_ptr()) };
    format!(
        "execve {}: {}",
        argv[0].to_string_lossy(),
        std::io::Error::last_os_error()
    )
}

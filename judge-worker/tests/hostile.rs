//! Hostile submissions: each one is contained, and the judge is healthy afterwards — the next
//! submission is judged correctly, and no process, cgroup or mount is left over.
//!
//! Most programs print the right answer (`a + b`) only if their attack *failed*, so `accepted`
//! means "contained"; the others must end with the limit verdict they provoke.

mod support;

use std::net::TcpListener;

use common::Verdict;
use common::Verdict as V;
use judge_worker::JudgeOptions;
use problem_package::ProblemPackage;

const ACCEPTED_C: &str = r#"
#include <stdio.h>
int main(void) { long long a, b; scanf("%lld %lld", &a, &b); printf("%lld\n", a + b); return 0; }
"#;

/// Prelude of the "contained" programs: `ok()` prints the answer, `escaped(why)` something wrong.
const PRELUDE: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/ptrace.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <arpa/inet.h>
static long long A, B, PORT;
static void read_input(void) { if (scanf("%lld %lld %lld", &A, &B, &PORT) != 3) exit(1); }
static void ok(void) { printf("%lld\n", A + B); exit(0); }
static void escaped(const char *why) { printf("ESCAPED %s\n", why); exit(0); }
"#;

struct Case<'a> {
    uid_base: u32,
    language: &'a str,
    source: String,
    expected: &'a [V],
    /// Extra limits: (time limit s, memory MiB, output MiB)
    limits: (f64, u64, u64),
}

fn contained(uid_base: u32, body: &str) -> Case<'static> {
    Case {
        uid_base,
        language: "c",
        source: format!("{PRELUDE}\nint main(void) {{ read_input();\n{body}\n}}\n"),
        expected: &[V::Accepted],
        limits: (1.0, 128, 8),
    }
}

/// Runs the case, checks its verdict, then that the judge still judges correctly and that nothing
/// is left behind once the judge is gone.
fn run(case: Case<'_>) {
    let Some(judge) = support::judge(case.uid_base) else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a host port");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let (tl, mem, out) = case.limits;
    let root = support::package(dir.path(), tl, mem, out, &[(&format!("1 2 {port}\n"), "3\n")]);
    let package = ProblemPackage::load(&root).unwrap_or_else(|e| panic!("{e}"));
    let shadow_before = std::fs::read("/etc/shadow").ok();

    let report = judge.judge(
        &package,
        case.language,
        case.source.as_bytes(),
        &JudgeOptions::default(),
        |_| {},
    );
    eprintln!("{report:?}");
    assert!(
        case.expected.contains(&report.verdict),
        "expected one of {:?}, got {} ({:?} {:?})",
        case.expected,
        report.verdict,
        report.tests.last().and_then(|t| t.detail.clone()),
        report.error
    );
    // Nobody reached the host's port, nobody touched the host's files.
    assert!(listener.accept().is_err(), "a submission connected to the host");
    assert_eq!(
        std::fs::read("/etc/shadow").ok(),
        shadow_before,
        "/etc/shadow changed"
    );
    assert!(!std::path::Path::new("/tmp/judge-escaped").exists());

    // The judge is healthy: the next submission is judged correctly.
    let next = judge.judge(
        &package,
        "c",
        ACCEPTED_C.as_bytes(),
        &JudgeOptions::default(),
        |_| {},
    );
    assert_eq!(next.verdict, Verdict::Accepted, "next submission: {next:?}");
    // Nothing of the submission runs any more.
    assert_eq!(
        support::processes_of_uid(case.uid_base),
        Vec::<i32>::new(),
        "processes left"
    );

    drop(judge);
    assert_eq!(
        support::leftover_cgroups(case.uid_base),
        Vec::<std::path::PathBuf>::new(),
        "cgroups left"
    );
    assert_eq!(
        support::mounts_under("/tmp/judge-worker-"),
        Vec::<String>::new(),
        "mounts left"
    );
    assert_eq!(
        support::processes_of_uid(case.uid_base),
        Vec::<i32>::new(),
        "processes left"
    );
    assert_eq!(
        support::our_zygotes(case.uid_base),
        Vec::<i32>::new(),
        "zygotes left"
    );
}

#[test]
fn fork_bomb() {
    run(Case {
        uid_base: 63000,
        language: "c",
        source: "#include <unistd.h>\nint main(void) { for (;;) fork(); }".into(),
        expected: &[V::TimeLimitExceeded],
        limits: (1.0, 128, 8),
    });
}

#[test]
fn thread_bomb() {
    run(Case {
        uid_base: 63010,
        language: "c",
        source: r#"
#include <pthread.h>
#include <unistd.h>
static void *spin(void *p) { for (;;) pause(); return p; }
int main(void) { pthread_t t; for (;;) pthread_create(&t, 0, spin, 0); }
"#
        .into(),
        expected: &[V::TimeLimitExceeded],
        limits: (1.0, 128, 8),
    });
}

#[test]
fn memory_bomb_touching_pages() {
    run(Case {
        uid_base: 63020,
        language: "c",
        source: r#"
#include <stdlib.h>
int main(void) { for (;;) { volatile char *p = malloc(1 << 20); for (int i = 0; i < (1 << 20); i += 4096) p[i] = 1; } }
"#
        .into(),
        expected: &[V::MemoryLimitExceeded],
        limits: (2.0, 128, 8),
    });
}

#[test]
fn stack_overflow() {
    run(Case {
        uid_base: 63030,
        language: "c",
        source: r#"
#include <stdio.h>
static int deep(volatile int n) { volatile char pad[4096]; pad[0] = n; return deep(n + 1) + pad[0]; }
int main(void) { printf("%d\n", deep(0)); }
"#
        .into(),
        expected: &[V::RuntimeError, V::MemoryLimitExceeded],
        limits: (2.0, 128, 8),
    });
}

#[test]
fn infinite_loop() {
    run(Case {
        uid_base: 63040,
        language: "c",
        source: "int main(void) { volatile long x = 0; for (;;) x++; }".into(),
        expected: &[V::TimeLimitExceeded],
        limits: (1.0, 128, 8),
    });
}

#[test]
fn sleep_forever() {
    run(Case {
        uid_base: 63050,
        language: "python3",
        source: "import time\ntime.sleep(10**6)\n".into(),
        expected: &[V::TimeLimitExceeded],
        limits: (0.5, 128, 8),
    });
}

#[test]
fn one_gigabyte_of_output() {
    run(Case {
        uid_base: 63060,
        language: "c",
        source: r#"
#include <stdio.h>
#include <string.h>
int main(void) { static char buf[1 << 20]; memset(buf, 'x', sizeof buf); for (int i = 0; i < 1024; i++) fwrite(buf, 1, sizeof buf, stdout); }
"#
        .into(),
        expected: &[V::OutputLimitExceeded],
        limits: (2.0, 128, 8),
    });
}

#[test]
fn writing_outside_the_work_directory() {
    run(contained(
        63070,
        r#"
const char *paths[] = {"/etc/passwd", "/usr/bin/judge-escaped", "/prog/x", "/x", "/proc/sys/kernel/hostname",
                       "/checker/x", "/tmp/../judge-escaped", "/dev/judge-escaped"};
for (unsigned i = 0; i < sizeof paths / sizeof *paths; i++) {
    int fd = open(paths[i], O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0 && write(fd, "x", 1) == 1) escaped(paths[i]);
}
/* /box and /tmp are ours to write */
FILE *f = fopen("/box/mine", "w"); if (!f || fputs("ok", f) < 0) escaped("cannot write /box");
ok();
"#,
    ));
}

#[test]
fn reading_secrets() {
    // A secret in the judge's own environment must not reach the submission.
    // SAFETY (edition 2021: safe): set before the judge starts any thread of its own.
    std::env::set_var("JUDGE_TEST_SECRET", "hunter2-in-the-judge-env");
    run(contained(
        63080,
        r#"
const char *paths[] = {"/etc/shadow", "/proc/1/environ", "/proc/1/cmdline", "/root/.bash_history"};
char buf[4096];
for (unsigned i = 0; i < sizeof paths / sizeof *paths; i++) {
    int fd = open(paths[i], O_RDONLY);
    if (fd >= 0 && read(fd, buf, sizeof buf) > 0) escaped(paths[i]);
}
extern char **environ;
for (char **e = environ; *e; e++) if (strstr(*e, "hunter2")) escaped("environment");
int fd = open("/proc/self/environ", O_RDONLY);
ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;
if (n > 0) { buf[n] = 0; for (ssize_t i = 0; i < n; i++) if (!buf[i]) buf[i] = ' '; if (strstr(buf, "hunter2")) escaped("proc environ"); }
ok();
"#,
    ));
}

#[test]
fn symlinks_to_host_files_left_in_the_work_directory() {
    run(contained(
        63090,
        r#"
if (symlink("/etc/shadow", "/box/output") || symlink("/etc", "/box/feedback") || symlink("/etc/shadow", "/tmp/input"))
    escaped("cannot create links?");
if (symlink("/etc/shadow", "/box/judgemessage.txt")) escaped("cannot create links?");
ok();
"#,
    ));
}

#[test]
fn connecting_to_the_host() {
    run(contained(
        63100,
        r#"
int s = socket(AF_INET, SOCK_STREAM, 0);
if (s >= 0) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET; a.sin_port = htons((unsigned short)PORT); a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) escaped("connected to 127.0.0.1");
}
ok();
"#,
    ));
}

#[test]
fn ptrace() {
    run(contained(
        63110,
        r#"
if (ptrace(PTRACE_TRACEME, 0, 0, 0) == 0) escaped("PTRACE_TRACEME");
if (ptrace(PTRACE_ATTACH, 1, 0, 0) == 0) escaped("PTRACE_ATTACH 1");
ok();
"#,
    ));
}

#[test]
fn kill_everything() {
    // A host process running under the slot's own uid: still outside the sandbox's reach.
    let mut bystander = std::process::Command::new("/bin/sleep");
    std::os::unix::process::CommandExt::uid(&mut bystander, 63120);
    let mut bystander = bystander.arg("60").spawn().expect("spawn bystander");
    run(Case {
        expected: &[V::Accepted],
        ..contained(63125, "kill(-1, SIGKILL); ok();")
    });
    assert!(
        bystander.try_wait().expect("try_wait").is_none(),
        "host process killed"
    );
    let _ = bystander.kill();
    let _ = bystander.wait();
}

#[test]
fn setuid_root() {
    run(contained(
        63130,
        r#"
if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) escaped("setuid");
if (getuid() == 0 || geteuid() == 0) escaped("root");
ok();
"#,
    ));
}

#[test]
fn creating_a_namespace() {
    run(contained(
        63140,
        r#"
if (unshare(CLONE_NEWUSER) == 0) escaped("unshare user");
if (unshare(CLONE_NEWNS) == 0) escaped("unshare mount");
if (unshare(CLONE_NEWNET) == 0) escaped("unshare net");
long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
if (r == 0) _exit(0);
if (r > 0) escaped("clone newuser");
ok();
"#,
    ));
}

#[test]
fn compile_bomb() {
    run(Case {
        uid_base: 63150,
        language: "cpp",
        // The preprocessor reads an endless file.
        source: "#include </dev/zero>\nint main() {}\n".into(),
        expected: &[V::CompilationError],
        limits: (1.0, 128, 8),
    });
}

#[test]
fn the_judge_recovers_when_its_zygote_dies() {
    let Some(judge) = support::judge(63160) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = support::package(dir.path(), 1.0, 64, 8, &[("1 2 0\n", "3\n")]);
    let package = ProblemPackage::load(&root).unwrap_or_else(|e| panic!("{e}"));
    let zygotes = support::our_zygotes(63160);
    assert_eq!(zygotes.len(), 1, "one slot, one zygote: {zygotes:?}");
    // SAFETY: kill(2) of a process we started.
    unsafe { libc::kill(zygotes[0], libc::SIGKILL) };
    std::thread::sleep(std::time::Duration::from_millis(50));
    let r = judge.judge(
        &package,
        "c",
        ACCEPTED_C.as_bytes(),
        &JudgeOptions::default(),
        |_| {},
    );
    assert_eq!(r.verdict, Verdict::Accepted, "{r:?}");
    drop(judge);
    assert_eq!(support::our_zygotes(63160), Vec::<i32>::new(), "zygotes left");
    assert_eq!(
        support::leftover_cgroups(63160),
        Vec::<std::path::PathBuf>::new(),
        "cgroups left"
    );
}

/// Without cgroups (rlimits only), the same attacks are still contained, if less precisely judged.
#[test]
fn rlimits_only_mode_still_contains() {
    if !support::can_sandbox() {
        return;
    }
    let judge = judge_worker::Judge::new(judge_worker::JudgeConfig {
        slots: 1,
        helper: Some(env!("CARGO_BIN_EXE_judge-worker").into()),
        uid_base: 63170,
        disable_cgroups: true,
        ..judge_worker::JudgeConfig::default()
    })
    .expect("judge");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = support::package(dir.path(), 1.0, 64, 1, &[("1 2 0\n", "3\n")]);
    let package = ProblemPackage::load(&root).unwrap_or_else(|e| panic!("{e}"));
    let cases: &[(&str, &str, &[V])] = &[
        ("c", "#include <unistd.h>\nint main(void) { for (;;) fork(); }", &[V::TimeLimitExceeded]),
        ("c", "int main(void) { volatile long x = 0; for (;;) x++; }", &[V::TimeLimitExceeded]),
        ("python3", "import time\ntime.sleep(1000)\n", &[V::TimeLimitExceeded]),
        (
            "c",
            "#include <stdlib.h>\nint main(void) { for (;;) { volatile char *p = malloc(1 << 20); p[0] = 1; } }",
            &[V::RuntimeError, V::MemoryLimitExceeded],
        ),
        ("c", "#include <stdio.h>\nint main(void) { for (;;) puts(\"spam\"); }", &[V::OutputLimitExceeded]),
        ("c", ACCEPTED_C, &[V::Accepted]),
    ];
    for (lang, source, expected) in cases {
        let r = judge.judge(
            &package,
            lang,
            source.as_bytes(),
            &JudgeOptions::default(),
            |_| {},
        );
        assert!(expected.contains(&r.verdict), "{source}: {r:?}");
        assert_eq!(
            support::processes_of_uid(63170),
            Vec::<i32>::new(),
            "processes left"
        );
    }
}

#[test]
fn system_v_ipc_cannot_outlive_a_run() {
    run(contained(
        63180,
        r#"
if (shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600) >= 0) escaped("shmget");
if (msgget(IPC_PRIVATE, IPC_CREAT | 0600) >= 0) escaped("msgget");
if (semget(IPC_PRIVATE, 1, IPC_CREAT | 0600) >= 0) escaped("semget");
ok();
"#,
    ));
}

#[test]
fn filling_the_disk() {
    // Files of up to the output limit each, as many as will fit, in /box and /tmp: they land in
    // the sandbox's own tmpfs and count against the memory limit, never on the host's disk.
    run(Case {
        uid_base: 63190,
        language: "c",
        source: r#"
#include <stdio.h>
#include <string.h>
int main(void) {
    static char buf[1 << 20];
    memset(buf, 'x', sizeof buf);
    for (int i = 0;; i++) {
        char name[64];
        snprintf(name, sizeof name, "/%s/fill%d", i % 2 ? "tmp" : "box", i);
        FILE *f = fopen(name, "w");
        if (!f) return 1;
        for (int j = 0; j < 8; j++) if (fwrite(buf, 1, sizeof buf, f) != sizeof buf) return 1;
        if (fclose(f)) return 1;
    }
}
"#
        .into(),
        expected: &[V::MemoryLimitExceeded, V::RuntimeError],
        limits: (5.0, 128, 8),
    });
}

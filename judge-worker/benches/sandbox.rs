//! `cargo bench -p judge-worker --bench sandbox`: the sandbox's per-run overhead and the judge's
//! throughput, each side by side with the bare equivalent measured in the same run.
//!
//! 1. Median time to run a trivial static binary in a prepared sandbox slot (fork from the zygote,
//!    limits, uid, seccomp, exec, wait, cgroup reset and readout) versus a bare fork + exec + wait of
//!    the same binary. Runs alternate so that both see the same machine state.
//! 2. Judging a 20-test A+B in C++ and in Python with every core busy (one slot and one job per
//!    core), versus compiling and running the same tests bare with the same parallelism.
//! 3. The spread of a CPU-bound program's time over 20 runs while the other slot spins, with the
//!    slots pinned to CPUs and not ([`spread`]).
//! 4. Per language: compile and run of an A+B judged versus bare ([`languages`]).
//!
//! `BENCH_ONLY=spread` measures only the spread. With `BENCH_ONLY=per-test` only the per-run overhead and the cost of one judged test are
//! measured, and printed also as a `PER-TEST` line: what `scripts/cgroup-vm.sh --bench` runs in
//! its virtual machine under cgroup v1 and under v2.

#[path = "sandbox/languages.rs"]
mod languages;
#[path = "sandbox/spread.rs"]
mod spread;

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command as HostCommand;
use std::time::{Duration, Instant};

use judge_worker::{Judge, JudgeConfig, JudgeOptions};
use problem_package::ProblemPackage;
use sandbox::{default_binds, Command, Limits, SandboxConfig, SandboxPool, Sink, Stdio};

const RUNS: usize = 400;
const TESTS: usize = 20;

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("!!! the sandbox benchmark needs root; skipped");
        return;
    }
    let helper = PathBuf::from(env!("CARGO_BIN_EXE_judge-worker"));
    let cores = sandbox::allowed_cpus().len().max(1);
    if std::env::var("BENCH_ONLY").as_deref() == Ok("per-test") {
        let (sandboxed, bare) = overhead(&helper);
        let per_test = judged_test(&helper);
        println!(
            "PER-TEST sandbox_run_ms={:.3} bare_run_ms={:.3} judged_test_ms={:.3}",
            ms(sandboxed),
            ms(bare),
            ms(per_test)
        );
        return;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("spread") {
        spread::spread(&helper);
        return;
    }
    println!("## Judge engine (`cargo bench -p judge-worker --bench sandbox`, {cores} cores)\n");
    overhead(&helper);
    spread::spread(&helper);
    throughput(&helper, cores);
    let dir = tempfile::tempdir().expect("tempdir");
    let root = package_with(dir.path(), 10);
    let judge = Judge::new(JudgeConfig {
        slots: 1,
        helper: Some(helper.clone()),
        uid_base: 65300,
        ..JudgeConfig::default()
    })
    .expect("judge");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems");
    languages::languages(&judge, &examples, &root);
}

/// Median time of one test of a 20-test C A+B judged in one slot (compile excluded).
fn judged_test(helper: &Path) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = package(dir.path());
    let package = ProblemPackage::load(&root).expect("package");
    let judge = Judge::new(JudgeConfig {
        slots: 1,
        helper: Some(helper.to_owned()),
        uid_base: 65400,
        ..JudgeConfig::default()
    })
    .expect("judge");
    let c = "#include <stdio.h>\nint main(void) { long long a, b; scanf(\"%lld %lld\", &a, &b); printf(\"%lld\\n\", a + b); return 0; }\n";
    let mut per_test = Vec::new();
    for _ in 0..5 {
        let mut first = None;
        let report = judge.judge(&package, "c", c.as_bytes(), &JudgeOptions::default(), |p| {
            if let judge_worker::Progress::Running { test: 1, .. } = p {
                first = Some(Instant::now());
            }
        });
        let end = Instant::now();
        assert_eq!(report.verdict, common::Verdict::Accepted, "{report:?}");
        per_test.push((end - first.expect("tests ran")) / TESTS as u32);
    }
    let m = median(per_test);
    println!("### One judged test: a C A+B, {TESTS} tests, median of 5 judgings\n");
    println!(
        "| | per test |\n|---|---|\n| judged (clean, run, check) | {:.3} ms |\n",
        ms(m)
    );
    m
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median per run in the sandbox and bare.
fn overhead(helper: &Path) -> (Duration, Duration) {
    let pool = SandboxPool::with_temp_state(
        SandboxConfig {
            helper: helper.to_owned(),
            state_dir: PathBuf::new(),
            binds: default_binds(),
            uid_base: 65000,
            disable_cgroups: false,
            scratch_size: 64 << 20,
            cpus: sandbox::allowed_cpus().into_iter().take(1).collect(),
        },
        1,
    )
    .expect("sandbox pool");
    let mut slot = pool.lend();
    let src = slot.io_dir().join("trivial.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").expect("write source");
    let bin = slot.prog_dir().join("trivial");
    let ok = HostCommand::new("gcc")
        .args(["-O2", "-static", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "gcc -static failed");
    let null = File::options().write(true).open("/dev/null").expect("/dev/null");
    let cmd = Command {
        argv: vec!["/prog/trivial".into()],
        env: vec![],
        cwd: "/box".into(),
    };
    let limits = Limits::default();
    let host_bin = CString::new(bin.to_string_lossy().as_bytes()).expect("path");
    let (mut sandboxed, mut bare) = (Vec::new(), Vec::new());
    for i in 0..RUNS + 20 {
        let t = Instant::now();
        let r = slot
            .run(
                &cmd,
                &limits,
                Stdio {
                    stdin: None,
                    stdout: Sink::Fd(null.as_fd()),
                    stderr: Sink::Fd(null.as_fd()),
                },
            )
            .expect("sandbox run");
        let s = t.elapsed();
        assert!(r.status.success(), "{r:?}");
        let t = Instant::now();
        bare_run(&host_bin);
        let b = t.elapsed();
        if i >= 20 {
            sandboxed.push(s);
            bare.push(b);
        }
    }
    let (s, b) = (median(sandboxed), median(bare));
    println!("### Per-run overhead: trivial static binary, median of {RUNS} runs\n");
    println!("| | median per run |\n|---|---|");
    println!("| bare fork + exec + wait | {:.3} ms |", ms(b));
    println!("| sandbox (prepared slot) | {:.3} ms |", ms(s));
    println!(
        "| **sandbox overhead** | **{:+.3} ms** ({:.2}×) |\n",
        ms(s) - ms(b),
        ms(s) / ms(b)
    );
    (s, b)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// fork + execve + waitpid, nothing else: the baseline.
fn bare_run(bin: &CString) {
    let argv = [bin.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null()];
    // SAFETY: the child only calls execve and _exit (async-signal-safe) before exec.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            libc::execve(bin.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
    }
}

const CPP: &str =
    "#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; std::cout << a + b << '\\n'; }\n";
const PY: &str = "a, b = map(int, input().split())\nprint(a + b)\n";

fn package(dir: &Path) -> PathBuf {
    package_with(dir, TESTS)
}

/// An A+B package of `tests` tests.
fn package_with(dir: &Path, tests: usize) -> PathBuf {
    let root = dir.join(format!("aplusb{tests}"));
    std::fs::create_dir_all(root.join("data/secret")).expect("mkdir");
    std::fs::create_dir_all(root.join("statement")).expect("mkdir");
    std::fs::write(
        root.join("problem.yaml"),
        "problem_format_version: 2023-07-draft\nname: A+B\nlimits:\n  time_limit: 1\n  memory: 256\n",
    )
    .expect("problem.yaml");
    std::fs::write(root.join("statement/problem.en.md"), "# A+B\n").expect("statement");
    for i in 0..tests {
        let (a, b) = (i as i64 * 7919 - 50_000, i as i64 * 104_729);
        std::fs::write(root.join(format!("data/secret/{i:02}.in")), format!("{a} {b}\n")).expect("in");
        std::fs::write(
            root.join(format!("data/secret/{i:02}.ans")),
            format!("{}\n", a + b),
        )
        .expect("ans");
    }
    root
}

fn throughput(helper: &Path, cores: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = package(dir.path());
    let package = ProblemPackage::load(&root).expect("package");
    let judge = Judge::new(JudgeConfig {
        slots: cores,
        helper: Some(helper.to_owned()),
        uid_base: 65100,
        ..JudgeConfig::default()
    })
    .expect("judge");
    let jobs = cores * 4;
    println!("### Throughput: {jobs} submissions of a {TESTS}-test A+B, {cores} at a time\n");
    println!("| language | judged in the sandbox | compiled and run bare | ratio |\n|---|---|---|---|");
    for (lang, source) in [("cpp", CPP), ("python3", PY)] {
        if judge.language(lang).is_none() {
            println!("| {lang} | not offered here | | |");
            continue;
        }
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..cores {
                s.spawn(|| {
                    for _ in 0..jobs / cores {
                        let r = judge.judge(
                            &package,
                            lang,
                            source.as_bytes(),
                            &JudgeOptions::default(),
                            |_| {},
                        );
                        assert_eq!(r.verdict, common::Verdict::Accepted, "{r:?}");
                    }
                });
            }
        });
        let judged = t.elapsed();
        let t = Instant::now();
        std::thread::scope(|s| {
            for w in 0..cores {
                let root = &root;
                let dir = dir.path();
                s.spawn(move || {
                    for j in 0..jobs / cores {
                        bare_judging(lang, source, root, &dir.join(format!("bare-{w}-{j}")));
                    }
                });
            }
        });
        let bare = t.elapsed();
        println!(
            "| {lang} | {:.2} s ({:.1} submissions/s) | {:.2} s | {:.2}× |",
            judged.as_secs_f64(),
            jobs as f64 / judged.as_secs_f64(),
            bare.as_secs_f64(),
            judged.as_secs_f64() / bare.as_secs_f64()
        );
    }
    println!();
}

/// What judging costs with no sandbox at all: compile (or syntax-check), then run each test and
/// compare its output.
fn bare_judging(lang: &str, source: &str, root: &Path, work: &Path) {
    std::fs::create_dir_all(work).expect("mkdir");
    let run: Vec<String> = if lang == "cpp" {
        let src = work.join("main.cpp");
        std::fs::write(&src, source).expect("write");
        let ok = HostCommand::new("g++")
            .args(["-std=gnu++20", "-O2", "-pipe", "-o", "main", "main.cpp"])
            .current_dir(work)
            .status()
            .expect("g++")
            .success();
        assert!(ok);
        vec![work.join("main").to_string_lossy().into_owned()]
    } else {
        let src = work.join("main.py");
        std::fs::write(&src, source).expect("write");
        let ok = HostCommand::new("/usr/bin/python3")
            .args([
                "-c",
                "import ast; ast.parse(open('main.py','rb').read(), 'main.py')",
            ])
            .current_dir(work)
            .status()
            .expect("python3")
            .success();
        assert!(ok);
        vec![
            "/usr/bin/python3".into(),
            "-S".into(),
            src.to_string_lossy().into_owned(),
        ]
    };
    for i in 0..TESTS {
        let input = File::open(root.join(format!("data/secret/{i:02}.in"))).expect("in");
        let out = HostCommand::new(&run[0])
            .args(&run[1..])
            .stdin(input)
            .output()
            .expect("run");
        let ans = std::fs::read(root.join(format!("data/secret/{i:02}.ans"))).expect("ans");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .collect::<Vec<_>>(),
            String::from_utf8_lossy(&ans)
                .split_whitespace()
                .collect::<Vec<_>>()
        );
    }
}

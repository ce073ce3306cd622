//! Verdicts that agree with the best judges (DOMjudge, DMOJ), each checked through the local
//! `judge` command as a learner's submission would meet it: standard error is never output, the
//! wall clock stops a sleeping program soon after its time limit, JVM programs are run by whatever
//! class holds their `main` (or refused at compile time when none does), and a run stays on the CPU
//! its slot is pinned to.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs `judge-worker judge --json` on `source` (saved as `file_name`) against `package` with
/// `extra` arguments; returns the report.
fn judge(
    package: &Path,
    language: &str,
    file_name: &str,
    source: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(file_name);
    std::fs::write(&file, source).expect("write source");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_judge-worker"));
    cmd.arg("judge")
        .args(extra)
        .args(["--json", "--language", language, "--problem"]);
    cmd.arg(package).arg(&file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run judge-worker");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON report ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    eprintln!("{language} {file_name}: {report}");
    report
}

fn package(dir: &Path, time_limit: f64, answer: &str) -> std::path::PathBuf {
    support::package(dir, time_limit, 64, 1, &[("1 2\n", answer)])
}

fn verdict(report: &Value) -> &str {
    report["verdict"].as_str().unwrap_or("?")
}

#[test]
fn a_flood_of_standard_error_runs_into_the_time_limit_not_the_output_limit() {
    if !support::can_sandbox() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = package(dir.path(), 1.0, "3\n");
    // 1 MiB output limit; the program writes without end to stderr.
    let flood = r#"#include <stdio.h>
#include <string.h>
int main(void) { static char buf[1 << 16]; memset(buf, 'e', sizeof buf);
  for (;;) fwrite(buf, 1, sizeof buf, stderr); }"#;
    let r = judge(&pkg, "c", "flood.c", flood, &["--uid-base", "63600"], &[]);
    assert_eq!(verdict(&r), "time_limit_exceeded", "{r}");
    // 16 MiB of standard error, sixteen times the output limit, then the right answer (under a
    // time limit that leaves room for it even in an emulated machine).
    let roomy = package(&dir.path().join("roomy"), 5.0, "3\n");
    let chatty = r#"#include <stdio.h>
#include <string.h>
int main(void) { static char buf[1 << 20]; memset(buf, 'e', sizeof buf);
  fputs("first line of the log\n", stderr);
  for (int i = 0; i < 16; i++) fwrite(buf, 1, sizeof buf, stderr);
  fputs("\nlast line of the log\n", stderr);
  puts("3"); return 0; }"#;
    let r = judge(&roomy, "c", "chatty.c", chatty, &["--uid-base", "63600"], &[]);
    assert_eq!(verdict(&r), "accepted", "{r}");
    // Standard output over the limit is still output_limit_exceeded.
    let spam = "#include <stdio.h>\nint main(void) { for (;;) puts(\"spam\"); }";
    let r = judge(&pkg, "c", "spam.c", spam, &["--uid-base", "63600"], &[]);
    assert_eq!(verdict(&r), "output_limit_exceeded", "{r}");
}

#[test]
fn standard_error_is_shown_on_sample_tests_only_head_and_tail() {
    if !support::can_sandbox() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = package(dir.path(), 1.0, "3\n");
    std::fs::create_dir_all(root.join("data/sample")).expect("mkdir");
    std::fs::write(root.join("data/sample/1.in"), "1 2\n").expect("write");
    std::fs::write(root.join("data/sample/1.ans"), "3\n").expect("write");
    let chatty = r#"#include <stdio.h>
int main(void) { fputs("first line of the log\n", stderr);
  for (int i = 0; i < 100000; i++) fputs("middle of the log\n", stderr);
  fputs("last line of the log\n", stderr); puts("3"); return 0; }"#;
    let r = judge(&root, "c", "chatty.c", chatty, &["--uid-base", "63610"], &[]);
    assert_eq!(verdict(&r), "accepted", "{r}");
    let tests = r["tests"].as_array().expect("tests");
    let sample = tests
        .iter()
        .find(|t| t["name"].as_str().unwrap_or("").starts_with("sample/"))
        .expect("a sample test");
    let shown = sample["stderr"].as_str().expect("the sample's stderr is shown");
    assert!(shown.starts_with("first line of the log"), "{shown}");
    assert!(shown.trim_end().ends_with("last line of the log"), "{shown}");
    assert!(shown.len() < 8 * 1024, "bounded: {} bytes", shown.len());
    let secret = tests
        .iter()
        .find(|t| t["name"].as_str().unwrap_or("").starts_with("secret/"))
        .expect("a secret test");
    assert!(
        secret.get("stderr").is_none(),
        "a secret test's stderr could leak its data: {secret}"
    );
}

#[test]
fn a_sleeping_program_is_stopped_within_the_limit_plus_the_default_overshoot() {
    if !support::can_sandbox() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // The issue's case: a 10 s sleep under a 5 s limit passed the old 11 s wall clock.
    let pkg = package(dir.path(), 5.0, "3\n");
    let sleeper =
        "#include <stdio.h>\n#include <unistd.h>\nint main(void) { sleep(10); puts(\"3\"); return 0; }";
    let r = judge(&pkg, "c", "sleep.c", sleeper, &["--uid-base", "63620"], &[]);
    assert_eq!(verdict(&r), "time_limit_exceeded", "{r}");
    let wall = r["tests"][0]["wall_time_ms"].as_u64().expect("wall time");
    // 5 s + max(1 s, 10 % of 5 s) = 6 s, and the watchdog's few milliseconds.
    // (The figure is the program's own, from its fork: a few milliseconds under the watchdog's.)
    assert!((5900..6500).contains(&wall), "stopped at {wall} ms of wall time");
}

#[test]
fn the_overshoot_is_set_per_judge_by_flag_or_environment() {
    if !support::can_sandbox() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = package(dir.path(), 1.0, "3\n");
    // Blocked, not sleeping: waiting for a signal that never comes.
    let blocked = "#include <unistd.h>\nint main(void) { pause(); return 0; }";
    let r = judge(
        &pkg,
        "c",
        "pause.c",
        blocked,
        &["--uid-base", "63630", "--wall-time-overshoot", "300ms"],
        &[],
    );
    assert_eq!(verdict(&r), "time_limit_exceeded", "{r}");
    let wall = r["tests"][0]["wall_time_ms"].as_u64().expect("wall time");
    assert!((1200..1700).contains(&wall), "flag: stopped at {wall} ms");
    let r = judge(
        &pkg,
        "c",
        "pause.c",
        blocked,
        &["--uid-base", "63630"],
        &[("JUDGE_WALL_TIME_OVERSHOOT", "2s|10%")],
    );
    assert_eq!(verdict(&r), "time_limit_exceeded", "{r}");
    let wall = r["tests"][0]["wall_time_ms"].as_u64().expect("wall time");
    assert!((2900..3400).contains(&wall), "environment: stopped at {wall} ms");
}

const JAVA_IN_A_PACKAGE: &str = r#"package org.example.contest;

import java.util.Scanner;

public class Solution {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        long a = in.nextLong(), b = in.nextLong();
        System.out.println(a + b);
    }
}
"#;

#[test]
fn java_in_a_package_with_any_public_class_name_is_run_by_its_full_name() {
    if !support::can_sandbox() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = package(dir.path(), 5.0, "3\n");
    let r = judge(
        &pkg,
        "java",
        "whatever.java",
        JAVA_IN_A_PACKAGE,
        &["--uid-base", "63640"],
        &[],
    );
    assert_eq!(verdict(&r), "accepted", "{r}");
    // A helper class declared first, the entry point second, no public class at all.
    let two = "class Helper { static long add(long a, long b) { return a + b; } }\n\
               class Entry { public static void main(String[] x) { java.util.Scanner s = new java.util.Scanner(System.in); \
               System.out.println(Helper.add(s.nextLong(), s.nextLong())); } }\n";
    let r = judge(&pkg, "java", "two.java", two, &["--uid-base", "63640"], &[]);
    assert_eq!(verdict(&r), "accepted", "{r}");
}

#[test]
fn a_jvm_program_without_main_is_a_compilation_error_that_says_so() {
    if !support::can_sandbox() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = package(dir.path(), 5.0, "3\n");
    let cases = [
        (
            "java",
            "Solution.java",
            "public class Solution { public static void solve(String[] a) { System.out.println(3); } }\n",
        ),
        (
            "java",
            "Static.java",
            "public class Static { public void main(String[] a) { System.out.println(3); } }\n",
        ),
        (
            "kotlin",
            "main.kt",
            "package contest\n\nfun solve() { println(3) }\n",
        ),
        (
            "scala",
            "main.scala",
            "object Main { def solve(): Unit = println(3) }\n",
        ),
    ];
    for (language, file, source) in cases {
        let r = judge(&pkg, language, file, source, &["--uid-base", "63650"], &[]);
        assert_eq!(verdict(&r), "compilation_error", "{language}: {r}");
        let message = r["compile_output"].as_str().unwrap_or("");
        assert!(
            message.contains("public static void main"),
            "{language}: {message}"
        );
    }
}

#[test]
fn kotlin_and_scala_in_packages_are_run_by_their_full_names() {
    if !support::can_sandbox() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = package(dir.path(), 5.0, "3\n");
    let kotlin = "package org.example.contest\n\nfun main() {\n    val (a, b) = readLine()!!.trim().split(\" \").map { it.toLong() }\n    println(a + b)\n}\n";
    let r = judge(&pkg, "kotlin", "main.kt", kotlin, &["--uid-base", "63660"], &[]);
    assert_eq!(verdict(&r), "accepted", "{r}");
    let scala = "package org.example.contest\n\nobject Solve {\n  def main(args: Array[String]): Unit = {\n    val Array(a, b) = scala.io.StdIn.readLine().trim.split(\" \").map(_.toLong)\n    println(a + b)\n  }\n}\n";
    let r = judge(&pkg, "scala", "main.scala", scala, &["--uid-base", "63660"], &[]);
    assert_eq!(verdict(&r), "accepted", "{r}");
}

#[test]
fn a_run_stays_on_its_slots_cpu_even_when_it_asks_for_every_cpu() {
    if !support::can_sandbox() {
        return;
    }
    let cpus = sandbox::allowed_cpus();
    let cpu = *cpus.last().expect("at least one CPU");
    let dir = tempfile::tempdir().expect("tempdir");
    // The program asks for every CPU of the machine, then prints where it may run.
    let pkg = package(dir.path(), 2.0, &format!("{cpu}\n{cpu}\n"));
    let escape = r#"#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>
static void where(void) { cpu_set_t s; CPU_ZERO(&s); sched_getaffinity(0, sizeof s, &s);
  for (int i = 0; i < CPU_SETSIZE; i++) if (CPU_ISSET(i, &s)) printf("%d ", i); printf("\n"); fflush(stdout); }
int main(void) {
  cpu_set_t all; CPU_ZERO(&all); for (int i = 0; i < 1024 && i < CPU_SETSIZE; i++) CPU_SET(i, &all);
  sched_setaffinity(0, sizeof all, &all);
  where();
  if (fork() == 0) { sched_setaffinity(0, sizeof all, &all); where(); _exit(0); }
  wait(0); return 0; }"#;
    let arg = cpu.to_string();
    let r = judge(
        &pkg,
        "c",
        "escape.c",
        escape,
        &["--uid-base", "63670", "--cpus", &arg],
        &[],
    );
    assert_eq!(verdict(&r), "accepted", "{r}");
}

/// Keeps `cpu` busy from this process until dropped: `n` threads pinned there, spinning.
struct Hogs {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Hogs {
    fn on(cpu: usize, n: usize) -> Hogs {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    // SAFETY: a zeroed cpu_set_t is a valid empty set; this thread pins itself.
                    unsafe {
                        let mut set: libc::cpu_set_t = std::mem::zeroed();
                        libc::CPU_SET(cpu, &mut set);
                        assert_eq!(libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set), 0);
                    }
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        Hogs { stop, threads }
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[test]
fn a_program_slowed_by_a_loaded_machine_is_timed_by_its_cpu_not_cut_off_by_the_clock() {
    if !support::can_sandbox() {
        return;
    }
    let cpu = *sandbox::allowed_cpus().last().expect("at least one CPU");
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = package(dir.path(), 2.0, "3\n");
    // 1.4 s of CPU, then the answer: within the 2 s limit, but with two other threads on its CPU
    // it gets a half (its own session's share, when the kernel groups tasks by session) or a third
    // of it, so 2.8 to 4.2 s of wall time: past the 2 s wall clock this judge is given.
    let worker = r#"#include <stdio.h>
#include <time.h>
int main(void) { volatile unsigned long x = 0; while (clock() < CLOCKS_PER_SEC * 7 / 5) x++;
  puts("3"); return 0; }"#;
    let arg = cpu.to_string();
    // Judged with the slot pinned to `cpu`, no overshoot, while two threads of ours spin there.
    let on_the_loaded_cpu = |file_name: &str, source: &str| {
        let _hogs = Hogs::on(cpu, 2);
        let extra = [
            "--uid-base",
            "63680",
            "--cpus",
            &arg,
            "--wall-time-overshoot",
            "0ms",
        ];
        judge(&pkg, "c", file_name, source, &extra, &[])
    };
    let r = on_the_loaded_cpu("worker.c", worker);
    let test = &r["tests"][0];
    let wall = test["wall_time_ms"].as_u64().expect("wall time");
    let time = test["time_ms"].as_u64().expect("time");
    assert!(
        wall > 2000,
        "the program was not slowed ({time} ms of CPU in {wall} ms): this test proves nothing"
    );
    assert_eq!(verdict(&r), "accepted", "{r}");
    assert!(time < 2000, "{r}");

    // The same machine, a program that sleeps: it waits for no CPU and is stopped at the limit.
    let sleeper =
        "#include <stdio.h>\n#include <unistd.h>\nint main(void) { sleep(5); puts(\"3\"); return 0; }";
    let r = on_the_loaded_cpu("sleep.c", sleeper);
    assert_eq!(verdict(&r), "time_limit_exceeded", "{r}");
    let wall = r["tests"][0]["wall_time_ms"].as_u64().expect("wall time");
    // The judge's clock starts as it hands the run over, the reported wall time at the fork
    // inside the sandbox a little later (CI once saw 1,997 ms on a busy machine).
    assert!((1900..2500).contains(&wall), "the sleeper stopped at {wall} ms");
}

/// Processes spinning on one CPU, each in a session of its own (so that the kernel's grouping of
/// tasks by session gives each a whole share), for at most `seconds`, or until dropped.
struct SessionHogs(Vec<std::process::Child>);

impl SessionHogs {
    fn on(cpu: usize, n: usize, seconds: u32) -> SessionHogs {
        use std::os::unix::process::CommandExt;
        let children = (0..n)
            .map(|_| {
                let mut cmd = Command::new("timeout");
                cmd.args([&seconds.to_string(), "sh", "-c", "while :; do :; done"]);
                // SAFETY: only async-signal-safe calls between fork and exec.
                unsafe {
                    cmd.pre_exec(move || {
                        libc::setsid();
                        let mut set: libc::cpu_set_t = std::mem::zeroed();
                        libc::CPU_SET(cpu, &mut set);
                        if libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                cmd.spawn().expect("start a hog")
            })
            .collect();
        SessionHogs(children)
    }
}

impl Drop for SessionHogs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            // The session of `timeout` holds its shell; killing the group ends both.
            // SAFETY: a signal to a process group we started.
            unsafe { libc::kill(-(c.id() as i32), libc::SIGKILL) };
            let _ = c.wait();
        }
    }
}

#[test]
fn a_run_the_machine_starves_past_the_wall_clock_cap_is_run_again_not_judged_too_slow() {
    use std::io::BufRead;
    if !support::can_sandbox() {
        return;
    }
    let cpu = *sandbox::allowed_cpus().last().expect("at least one CPU");
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = package(dir.path(), 1.0, "3\n");
    let source = dir.path().join("worker.c");
    // 0.8 s of CPU, within the 1 s limit; with six processes of other sessions spinning on its
    // CPU it gets a seventh of it, so it would need 5.6 s of wall time: past the cap of three
    // times its 1 s wall clock, however much of its wait is given back.
    std::fs::write(
        &source,
        r#"#include <stdio.h>
#include <time.h>
int main(void) { volatile unsigned long x = 0; while (clock() < CLOCKS_PER_SEC * 4 / 5) x++;
  puts("3"); return 0; }"#,
    )
    .expect("write source");
    let hogs = SessionHogs::on(cpu, 6, 120);
    let mut judge = Command::new(env!("CARGO_BIN_EXE_judge-worker"))
        .args(["judge", "--uid-base", "63690", "--cpus", &cpu.to_string()])
        .args([
            "--wall-time-overshoot",
            "0ms",
            "--json",
            "--language",
            "c",
            "--problem",
        ])
        .arg(&pkg)
        .arg(&source)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run judge-worker");
    // The flood lasts until the judge says a run was starved (the compile's or the test's), so
    // the run after the pause meets a quiet machine however slow this one is.
    let stderr = judge.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut hogs = Some(hogs);
        let mut log = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("too busy to time the run") {
                hogs = None;
            }
            log.push_str(&line);
            log.push('\n');
        }
        drop(hogs);
        log
    });
    let out = judge.wait_with_output().expect("judge-worker ran");
    let log = reader.join().expect("log reader");
    let r: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not one JSON report ({e}): {log}"));
    assert!(
        log.contains("too busy to time the run"),
        "no run was starved past the cap, so this test proves nothing: {log}"
    );
    assert_eq!(verdict(&r), "accepted", "{r}");
    let time = r["tests"][0]["time_ms"].as_u64().expect("time");
    assert!((700..1000).contains(&time), "{r}");
}

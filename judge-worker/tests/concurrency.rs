//! One judge, several slots, submissions judged at the same time from several threads: each gets
//! its own verdict, whatever its neighbour does.

mod support;

use std::sync::Arc;

use common::Verdict;
use judge_worker::{Judge, JudgeConfig, JudgeOptions};
use problem_package::ProblemPackage;

#[test]
fn slots_judge_in_parallel_without_disturbing_each_other() {
    if !support::can_sandbox() {
        return;
    }
    let judge = Arc::new(
        Judge::new(JudgeConfig {
            slots: 2,
            helper: Some(env!("CARGO_BIN_EXE_judge-worker").into()),
            uid_base: 64100,
            ..JudgeConfig::default()
        })
        .expect("judge"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // 2 s, not 1: under software emulation (the cgroup v2 machine) the memory hog's page faults are
    // slow enough that 1 s of CPU once ran out 0.25 MiB short of the 64 MiB limit.
    let root = support::package(dir.path(), 2.0, 64, 8, &[("1 2\n", "3\n"), ("40 2\n", "42\n")]);
    let package = Arc::new(ProblemPackage::load(&root).unwrap_or_else(|e| panic!("{e}")));
    let cases: Vec<(&str, &str, Verdict)> = vec![
        ("c", "#include <unistd.h>\nint main(void) { for (;;) fork(); }", Verdict::TimeLimitExceeded),
        (
            "c",
            "#include <stdio.h>\nint main(void) { long long a, b; scanf(\"%lld %lld\", &a, &b); printf(\"%lld\\n\", a + b); }",
            Verdict::Accepted,
        ),
        ("python3", "a, b = map(int, input().split())\nprint(a + b)\n", Verdict::Accepted),
        ("python3", "a, b = map(int, input().split())\nprint(a * b)\n", Verdict::WrongAnswer),
        (
            "c",
            "#include <stdlib.h>\nint main(void) { for (;;) { volatile char *p = malloc(1 << 20); for (int i = 0; i < (1 << 20); i += 4096) p[i] = 1; } }",
            Verdict::MemoryLimitExceeded,
        ),
        ("python3", "print(sum(map(int, input().split())))\n", Verdict::Accepted),
    ];
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(lang, source, expected)| {
            let judge = judge.clone();
            let package = package.clone();
            std::thread::spawn(move || {
                let r = judge.judge(
                    &package,
                    lang,
                    source.as_bytes(),
                    &JudgeOptions::default(),
                    |_| {},
                );
                assert_eq!(r.verdict, expected, "{source}: {r:?}");
            })
        })
        .collect();
    for h in handles {
        h.join().expect("judging thread");
    }
    drop(judge);
    for uid in [64100, 64101] {
        assert_eq!(
            support::processes_of_uid(uid),
            Vec::<i32>::new(),
            "processes left"
        );
        assert_eq!(
            support::leftover_cgroups(uid),
            Vec::<std::path::PathBuf>::new(),
            "cgroups left"
        );
    }
}

/// Two slots, two CPUs: each slot's runs are held to a CPU of its own (its cgroup's cpuset and its
/// zygote's affinity), so a program's children never wander onto the other slot's CPU.
#[test]
fn each_slot_runs_on_a_cpu_of_its_own() {
    if !support::can_sandbox() {
        return;
    }
    let cpus = sandbox::allowed_cpus();
    if cpus.len() < 2 {
        // One CPU: nothing to tell apart. (Not a skip of the sandbox: it was made above.)
        eprintln!("one CPU here: pinning has a single choice");
        return;
    }
    let pool = sandbox::SandboxPool::with_temp_state(
        sandbox::SandboxConfig {
            helper: env!("CARGO_BIN_EXE_judge-worker").into(),
            state_dir: Default::default(),
            binds: sandbox::default_binds(),
            uid_base: 64110,
            scratch_size: 16 << 20,
            disable_cgroups: false,
            cpus: cpus[..2].to_vec(),
        },
        2,
    )
    .expect("pool");
    let mut a = pool.lend();
    let mut b = pool.lend();
    let mut seen = Vec::new();
    for slot in [&mut a, &mut b] {
        let r = slot
            .run(
                &sandbox::Command {
                    argv: vec![
                        "/bin/sh".into(),
                        "-c".into(),
                        "grep Cpus_allowed_list /proc/self/status".into(),
                    ],
                    env: vec![],
                    cwd: String::new(),
                },
                &sandbox::Limits::default(),
                sandbox::Stdio {
                    stdin: None,
                    stdout: sandbox::Sink::Capture(4096),
                    stderr: sandbox::Sink::Capture(4096),
                },
            )
            .expect("run");
        assert!(r.status.success(), "{r:?}");
        let text = r.captured.text();
        let list = text.split(':').nth(1).unwrap_or("").trim().to_owned();
        assert_eq!(Some(list.clone()), slot.cpu().map(|c| c.to_string()), "{text}");
        seen.push(list);
    }
    assert_ne!(seen[0], seen[1], "two slots on one CPU");
}

/// A judge with fewer slots than CPUs keeps its own threads off the slots' CPUs.
#[test]
fn the_judges_own_threads_keep_off_the_slots_cpus() {
    if !support::can_sandbox() {
        return;
    }
    let before = sandbox::allowed_cpus();
    if before.len() < 2 {
        eprintln!("one CPU here: no spare CPU for the judge's threads");
        return;
    }
    let judge = Judge::new(JudgeConfig {
        slots: 1,
        helper: Some(env!("CARGO_BIN_EXE_judge-worker").into()),
        uid_base: 64120,
        ..JudgeConfig::default()
    })
    .expect("judge");
    let after = sandbox::allowed_cpus();
    assert_eq!(
        after.len(),
        before.len() - 1,
        "before {before:?}, after {after:?}"
    );
    // A thread started now inherits it.
    let child = std::thread::spawn(sandbox::allowed_cpus).join().expect("thread");
    assert_eq!(child, after);
    drop(judge);
}

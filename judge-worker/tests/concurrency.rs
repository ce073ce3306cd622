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
    let root = support::package(dir.path(), 1.0, 64, 8, &[("1 2\n", "3\n"), ("40 2\n", "42\n")]);
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

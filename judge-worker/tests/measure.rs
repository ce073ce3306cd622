//! Time and memory figures checked against programs of known cost.

mod support;

use common::Verdict;
use judge_worker::JudgeOptions;
use problem_package::ProblemPackage;

fn judge_c(uid_base: u32, time_limit: f64, memory_mib: u64, source: &str) -> Option<common::JudgeReport> {
    // CPU and memory figures are the subject here, not the wall clock: a machine busy with other
    // work (its slot's CPU shared with a build) must not stop a program before its CPU time is up.
    let judge = support::judge_with(judge_worker::JudgeConfig {
        uid_base,
        wall_time_overshoot: "10s".parse().expect("an overshoot"),
        ..judge_worker::JudgeConfig::default()
    })?;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = support::package(dir.path(), time_limit, memory_mib, 8, &[("1 2\n", "3\n")]);
    let package = ProblemPackage::load(&root).unwrap_or_else(|e| panic!("{e}"));
    let report = judge.judge(&package, "c", source.as_bytes(), &JudgeOptions::default(), |_| {});
    eprintln!("{report:?}");
    Some(report)
}

const PRINT_ANSWER: &str = "puts(\"3\");";

#[test]
fn touching_100_mib_reports_at_least_that() {
    let src = format!(
        r#"#include <stdio.h>
#include <stdlib.h>
int main(void) {{
    size_t n = 100u << 20;
    volatile char *p = malloc(n);
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    {PRINT_ANSWER}
    return p[0] - 1;
}}"#
    );
    let Some(r) = judge_c(64000, 2.0, 256, &src) else {
        return;
    };
    assert_eq!(r.verdict, Verdict::Accepted);
    assert!(r.memory_kb >= 100 * 1024, "reported {} KB", r.memory_kb);
    assert!(r.memory_kb <= 110 * 1024, "reported {} KB", r.memory_kb);
}

#[test]
fn memory_of_the_whole_tree_is_counted() {
    // Parent and child touch 60 MiB each at the same time.
    let src = format!(
        r#"#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
int main(void) {{
    size_t n = 60u << 20;
    int go[2]; pipe(go);
    pid_t c = fork();
    volatile char *p = malloc(n);
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    if (c == 0) {{ char x; read(go[0], &x, 1); _exit(0); }}
    usleep(100000);
    write(go[1], "x", 1);
    waitpid(c, 0, 0);
    {PRINT_ANSWER}
    return 0;
}}"#
    );
    let Some(r) = judge_c(64010, 2.0, 256, &src) else {
        return;
    };
    assert_eq!(r.verdict, Verdict::Accepted);
    assert!(r.memory_kb >= 120 * 1024, "reported {} KB", r.memory_kb);
}

#[test]
fn spinning_1_5_s_reports_about_that() {
    let src = format!(
        r#"#include <stdio.h>
#include <time.h>
int main(void) {{
    while (clock() < 1.5 * CLOCKS_PER_SEC) {{}}
    {PRINT_ANSWER}
    return 0;
}}"#
    );
    let Some(r) = judge_c(64020, 3.0, 64, &src) else {
        return;
    };
    assert_eq!(r.verdict, Verdict::Accepted);
    assert!(
        (1450..=1700).contains(&r.run_time_ms),
        "reported {} ms",
        r.run_time_ms
    );
}

#[test]
fn cpu_of_all_threads_is_counted() {
    let src = format!(
        r#"#include <pthread.h>
#include <stdio.h>
#include <time.h>
static void *spin(void *a) {{
    struct timespec t;
    do clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); while (t.tv_sec * 1000 + t.tv_nsec / 1000000 < 600);
    return a;
}}
int main(void) {{
    pthread_t a, b;
    pthread_create(&a, 0, spin, 0); pthread_create(&b, 0, spin, 0);
    pthread_join(a, 0); pthread_join(b, 0);
    {PRINT_ANSWER}
    return 0;
}}"#
    );
    let Some(r) = judge_c(64030, 3.0, 64, &src) else {
        return;
    };
    assert_eq!(r.verdict, Verdict::Accepted);
    assert!(
        (1150..=1450).contains(&r.run_time_ms),
        "reported {} ms",
        r.run_time_ms
    );
}

#[test]
fn a_spinning_program_is_stopped_within_1_1_s_of_cpu_at_a_1_s_limit() {
    let Some(r) = judge_c(
        64040,
        1.0,
        64,
        "int main(void) { volatile long x = 0; for (;;) x++; }",
    ) else {
        return;
    };
    assert_eq!(r.verdict, Verdict::TimeLimitExceeded);
    assert!(
        (1000..=1100).contains(&r.run_time_ms),
        "reported {} ms",
        r.run_time_ms
    );
}

#[test]
fn sleeping_costs_wall_time_not_cpu() {
    let src = format!(
        r#"#include <stdio.h>
#include <unistd.h>
int main(void) {{ usleep(500000); {PRINT_ANSWER} return 0; }}"#
    );
    let Some(r) = judge_c(64050, 2.0, 64, &src) else {
        return;
    };
    assert_eq!(r.verdict, Verdict::Accepted);
    // Only its start-up, never the 500 ms it slept: a few ms here, but up to 114 ms measured in
    // the emulated machine of the cgroup v2 test (qemu TCG charges a guest for the time its
    // virtual CPU waited for the host), so the bound is well under the sleep, not near zero.
    assert!(r.run_time_ms < 250, "cpu {} ms", r.run_time_ms);
    let wall = r.tests[0].wall_time_ms;
    assert!((480..=700).contains(&wall), "wall {wall} ms");
}

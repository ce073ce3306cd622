//! Interactive problems against submissions and validators that misbehave: every case ends with a
//! verdict, soon, and never hangs; a broken validator is the judge's fault, not the submitter's.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Verdict;
use judge_worker::JudgeOptions;
use problem_package::ProblemPackage;

/// The guessing game with its own validator replaced by `validator` when given.
fn guess_package(dir: &Path, validator: Option<&str>) -> ProblemPackage {
    let from = support::examples_dir().join("guess");
    copy_dir(&from, dir);
    if let Some(v) = validator {
        std::fs::write(dir.join("output_validators/guess/validate.py"), v).expect("write validator");
    }
    ProblemPackage::load(dir).unwrap_or_else(|e| panic!("{e}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn misbehaving_submissions_get_verdicts_never_hangs() {
    let Some(judge) = support::judge(62090) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let package = guess_package(dir.path(), None);
    let cases: &[(&str, &str, &[Verdict])] = &[
        // Writes without end and never reads: the validator rejects its first line.
        (
            "floods",
            "while True:\n    print('x' * 1000)\n",
            &[Verdict::WrongAnswer],
        ),
        // Guesses once, then neither reads nor ends: its wall time ends it.
        (
            "stops reading",
            "import time\nprint(1, flush=True)\ntime.sleep(60)\n",
            &[Verdict::TimeLimitExceeded],
        ),
        // Ends after one guess, with success: the interaction is not over.
        ("exits early", "print(1, flush=True)\n", &[Verdict::WrongAnswer]),
        // Ends after one guess, failing: the validator either sees its output end and rejects it,
        // or dies writing its reply to it (then the failure is the verdict).
        (
            "crashes",
            "print(1, flush=True)\nraise SystemExit(3)\n",
            &[Verdict::WrongAnswer, Verdict::RuntimeError],
        ),
        // Finds the number (500 in the sample), then fails: accepted by the validator, but the
        // run failed.
        (
            "crashes after winning",
            "print(500, flush=True)\ninput()\nraise SystemExit(3)\n",
            &[Verdict::RuntimeError],
        ),
        // Says nothing and waits: both sides wait until its wall time ends it.
        ("waits", "input()\n", &[Verdict::TimeLimitExceeded]),
        // Keeps computing after the validator gave up on it: stopped at once, wrong answer.
        (
            "spins",
            "print('no', flush=True)\nwhile True:\n    pass\n",
            &[Verdict::WrongAnswer],
        ),
    ];
    for (what, source, expected) in cases {
        let start = Instant::now();
        let report = judge.judge(
            &package,
            "python3",
            source.as_bytes(),
            &JudgeOptions::default(),
            |_| {},
        );
        let took = start.elapsed();
        eprintln!(
            "{what}: {} in {took:?} ({:?})",
            report.verdict,
            report.tests.last().map(|t| &t.detail)
        );
        assert!(expected.contains(&report.verdict), "{what}: {report:?}");
        // One test (the first fails), ended within its wall limit and a margin.
        assert!(took < Duration::from_secs(15), "{what} took {took:?}");
    }
}

#[test]
fn a_crashing_or_silent_validator_is_an_internal_error() {
    let Some(judge) = support::judge(62100) else {
        return;
    };
    let accepted =
        std::fs::read(support::examples_dir().join("guess/submissions/accepted/bisect.py")).unwrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let crashing = guess_package(
        dir.path(),
        Some("import sys\nsys.stdin.readline()\nraise RuntimeError('bug')\n"),
    );
    let report = judge.judge(&crashing, "python3", &accepted, &JudgeOptions::default(), |_| {});
    assert_eq!(report.verdict, Verdict::InternalError, "{report:?}");
    assert!(
        report
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("output validator failed"),
        "{report:?}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let exits_zero = guess_package(
        dir.path(),
        Some("import sys\nsys.stdin.readline()\nprint('correct', flush=True)\n"),
    );
    let report = judge.judge(
        &exits_zero,
        "python3",
        &accepted,
        &JudgeOptions::default(),
        |_| {},
    );
    assert_eq!(
        report.verdict,
        Verdict::InternalError,
        "exit code 0 is no verdict: {report:?}"
    );
}

#[test]
fn only_the_submissions_time_counts() {
    let Some(judge) = support::judge(62110) else {
        return;
    };
    // The validator burns 30 ms of CPU before each answer (up to 0.3 s a test, over the 0.2 s time
    // limit); the submission spends almost none: accepted, with a time far below the validator's.
    let slow = r#"import sys, time
secret = int(open(sys.argv[1]).read().split()[0])
for _ in range(10):
    guess = int(sys.stdin.readline())
    end = time.process_time() + 0.03
    while time.process_time() < end:
        pass
    if guess == secret:
        print('correct', flush=True)
        sys.exit(42)
    print('lower' if secret < guess else 'higher', flush=True)
sys.exit(43)
"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut package = guess_package(dir.path(), Some(slow));
    package.limits.time_limit_ms = 200;
    let accepted =
        std::fs::read(support::examples_dir().join("guess/submissions/accepted/bisect.c")).unwrap();
    let report = judge.judge(&package, "c", &accepted, &JudgeOptions::default(), |_| {});
    assert_eq!(report.verdict, Verdict::Accepted, "{report:?}");
    assert!(report.run_time_ms < 200, "the submission's own time: {report:?}");
}

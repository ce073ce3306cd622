//! The local command: `judge-worker judge --problem DIR --language ID FILE`.

mod support;

use std::process::Command;

fn judge_worker() -> Command {
    Command::new(env!("CARGO_BIN_EXE_judge-worker"))
}

#[test]
fn judge_prints_one_json_object() {
    if !support::can_sandbox() {
        return;
    }
    let problem = support::examples_dir().join("aplusb");
    let out = judge_worker()
        .args([
            "judge",
            "--uid-base",
            "63500",
            "--json",
            "--language",
            "c",
            "--problem",
        ])
        .arg(&problem)
        .arg(problem.join("submissions/accepted/aplusb.c"))
        .output()
        .expect("run judge-worker");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["verdict"], "accepted");
    assert!(report["run_time_ms"].is_u64() && report["memory_kb"].is_u64());
    let tests = report["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 6);
    assert_eq!(tests[0]["index"], 1);
    assert_eq!(tests[0]["verdict"], "accepted");
    assert!(tests[0]["time_ms"].is_u64() && tests[0]["memory_kb"].is_u64());
    assert!(
        report["compile_output"].is_null(),
        "present, and null for a clean compile"
    );
}

/// A scoring problem's report carries its score, the most it could be and each group's result;
/// some points are `partially_accepted` and exit with 1.
#[test]
fn judge_reports_the_score_and_groups_of_a_scoring_problem() {
    if !support::can_sandbox() {
        return;
    }
    let problem = support::examples_dir().join("triangular");
    let run = |language: &str, file: &str| {
        let out = judge_worker()
            .args([
                "judge",
                "--uid-base",
                "63550",
                "--json",
                "--language",
                language,
                "--problem",
            ])
            .arg(&problem)
            .arg(problem.join(file))
            .output()
            .expect("run judge-worker");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        (out.status.code(), report)
    };
    let (code, full) = run("python3", "submissions/accepted/formula.py");
    assert_eq!(code, Some(0), "{full}");
    assert_eq!(full["verdict"], "accepted");
    assert_eq!(
        (full["score"].as_f64(), full["max_score"].as_f64()),
        (Some(100.0), Some(100.0))
    );
    let groups = full["groups"].as_array().expect("groups");
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["secret", "secret/1-small", "secret/2-medium", "secret/3-large"]
    );
    let maxima: Vec<f64> = groups.iter().map(|g| g["max_score"].as_f64().unwrap()).collect();
    assert_eq!(maxima, [100.0, 30.0, 30.0, 40.0]);

    let (code, partial) = run("c", "submissions/partially_accepted/overflow.c");
    assert_eq!(code, Some(1));
    assert_eq!(partial["verdict"], "partially_accepted", "{partial}");
    assert_eq!(partial["score"].as_f64(), Some(60.0));
    let groups = partial["groups"].as_array().expect("groups");
    assert_eq!(groups[3]["verdict"], "wrong_answer");
    assert_eq!(groups[3]["score"].as_f64(), Some(0.0));
    assert_eq!(groups[1]["verdict"], "accepted");
    assert_eq!(
        (groups[1]["accepted_tests"].as_u64(), groups[1]["tests"].as_u64()),
        (Some(2), Some(2))
    );
    // Every test ran, although a group failed: the next one could have earned points.
    assert_eq!(partial["tests"].as_array().map(Vec::len), Some(7));

    let (code, none) = run("python3", "submissions/wrong_answer/zero.py");
    assert_eq!(code, Some(1));
    assert_eq!(none["verdict"], "wrong_answer");
    assert_eq!(none["score"].as_f64(), Some(0.0));
}

/// Interactive and multi-pass problems through the local command: the validator's verdict per
/// test, the exit code of the submission's verdict.
#[test]
fn judge_runs_interactive_and_multi_pass_problems() {
    if !support::can_sandbox() {
        return;
    }
    let run = |problem: &str, language: &str, file: &str| {
        let problem = support::examples_dir().join(problem);
        let out = judge_worker()
            .args([
                "judge",
                "--uid-base",
                "63560",
                "--json",
                "--language",
                language,
                "--problem",
            ])
            .arg(&problem)
            .arg(problem.join(file))
            .output()
            .expect("run judge-worker");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        (out.status.code(), report)
    };
    let (code, report) = run("guess", "c", "submissions/accepted/bisect.c");
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["tests"].as_array().map(Vec::len), Some(5));
    let (code, report) = run("guess", "python3", "submissions/wrong_answer/count_up.py");
    assert_eq!(code, Some(1));
    assert_eq!(report["verdict"], "wrong_answer", "{report}");
    let detail = report["tests"][0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("no correct guess"),
        "the validator's message: {report}"
    );
    let (code, report) = run("twopass", "python3", "submissions/accepted/letters.py");
    assert_eq!(code, Some(0), "{report}");
    let (code, report) = run(
        "twopass",
        "python3",
        "submissions/run_time_error/second_run_crashes.py",
    );
    assert_eq!(code, Some(1));
    assert_eq!(report["verdict"], "runtime_error", "{report}");
}

#[test]
fn judge_stops_at_the_first_failure_unless_asked_for_all_tests() {
    if !support::can_sandbox() {
        return;
    }
    let problem = support::examples_dir().join("aplusb");
    let file = problem.join("submissions/wrong_answer/minus.py");
    let run = |all: bool| {
        let mut cmd = judge_worker();
        cmd.args([
            "judge",
            "--uid-base",
            "63510",
            "--json",
            "--language",
            "python3",
            "--problem",
        ])
        .arg(&problem);
        if all {
            cmd.arg("--all-tests");
        }
        let out = cmd.arg(&file).output().expect("run judge-worker");
        assert_eq!(out.status.code(), Some(1), "a rejected submission exits with 1");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    let first = run(false);
    assert_eq!(first["verdict"], "wrong_answer");
    assert_eq!(first["tests"].as_array().map(Vec::len), Some(1));
    let all = run(true);
    assert_eq!(all["verdict"], "wrong_answer");
    assert_eq!(all["tests"].as_array().map(Vec::len), Some(6));
}

#[test]
fn judge_prints_a_table_and_compile_errors() {
    if !support::can_sandbox() {
        return;
    }
    let problem = support::examples_dir().join("aplusb");
    let out = judge_worker()
        .args(["judge", "--uid-base", "63520", "--language", "cpp", "--problem"])
        .arg(&problem)
        .arg(support::examples_dir().join("../submissions/aplusb/compilation_error/syntax.cpp"))
        .output()
        .expect("run judge-worker");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("error: expected"), "{text}");
    assert!(text.contains("verdict: compilation_error"), "{text}");
}

#[test]
fn a_malformed_package_is_refused_with_reasons() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("problem.yaml"), "limits: 3\n").expect("write");
    let out = judge_worker()
        .arg("check-package")
        .arg(dir.path())
        .output()
        .expect("run judge-worker");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("limits is not a mapping") && err.contains("no data/"),
        "{err}"
    );
}

#[test]
fn a_judge_killed_mid_run_leaves_no_process_behind() {
    if !support::can_sandbox() {
        return;
    }
    let problem = support::examples_dir().join("aplusb");
    let mut child = judge_worker()
        .args([
            "judge",
            "--uid-base",
            "63530",
            "--language",
            "python3",
            "--problem",
        ])
        .arg(&problem)
        .arg(problem.join("submissions/time_limit_exceeded/sleep.py"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run judge-worker");
    let start = std::time::Instant::now();
    while support::processes_of_uid(63530).is_empty() {
        assert!(start.elapsed().as_secs() < 20, "the submission never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL the judge");
    child.wait().expect("reap");
    // The zygote notices its judge is gone and takes the submission down with it.
    let start = std::time::Instant::now();
    while !support::processes_of_uid(63530).is_empty() {
        assert!(
            start.elapsed().as_secs() < 5,
            "submission still running after its judge died"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Its cgroups are swept by the next judge that starts.
    let dead = child.id();
    assert!(support::judge(63540).is_some());
    let prefix = format!("judge-worker-{dead}-");
    let left: Vec<_> = support::leftover_cgroups_with_prefix(&prefix);
    assert!(left.is_empty(), "cgroups of the killed judge left: {left:?}");
    let dirs: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(
        dirs.is_empty(),
        "state directory of the killed judge left: {dirs:?}"
    );
}

/// `check-package --verify`: a legacy package with no time limit gets one derived from its
/// accepted submissions as problemtools derives it (the slowest × 5, rounded up to whole
/// seconds), every packaged submission agrees with its folder, and the exit code says so.
#[test]
fn check_package_verify_derives_the_time_limit_and_judges_every_packaged_submission() {
    if !support::can_sandbox() {
        return;
    }
    let out = judge_worker()
        .args(["check-package", "--uid-base", "63800", "--verify", "--json"])
        .arg(support::examples_dir().join("lcg"))
        .output()
        .expect("run judge-worker");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(out.status.success(), "{v}");
    assert_eq!(v["time_limit_source"], "derived_from_submissions");
    let derived = &v["derived"];
    let slowest = derived["slowest_ms"].as_u64().expect("slowest");
    assert!(slowest >= 300, "lcg.c runs for about a second: {v}");
    let expected = (slowest as f64 * 5.0 / 1000.0).ceil().max(1.0) as u64 * 1000;
    assert_eq!(v["time_limit_ms"].as_u64(), Some(expected), "{v}");
    let times = derived["times"].as_array().expect("times");
    assert!(
        times
            .iter()
            .any(|t| t["submission"] == "submissions/accepted/lcg.c"),
        "{v}"
    );
    let subs = v["submissions"].as_array().expect("submissions");
    assert_eq!(subs.len(), 4, "{v}");
    assert!(subs.iter().all(|s| s["agrees"] == true), "{v}");

    // A package whose own submission disagrees: exit 1, the table says which.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("hello");
    let src = support::examples_dir().join("../domjudge/hello");
    for rel in [
        "problem.yaml",
        "domjudge-problem.ini",
        "problem.pdf",
        "data/sample/1.in",
        "data/sample/1.ans",
    ] {
        let to = root.join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(src.join(rel), to).expect("copy");
    }
    std::fs::create_dir_all(root.join("submissions/accepted")).expect("mkdir");
    std::fs::write(root.join("submissions/accepted/nope.py"), "print('nope')\n").expect("write");
    std::fs::write(
        root.join("submissions/accepted/tagged.py"),
        "# @EXPECTED_RESULTS@: WRONG-ANSWER\nprint('nope')\n",
    )
    .expect("write");
    let out = judge_worker()
        .args(["check-package", "--uid-base", "63800", "--verify"])
        .arg(&root)
        .output()
        .expect("run judge-worker");
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(
        table.contains("nope.py") && table.contains("DISAGREES"),
        "{table}"
    );
    let tagged = table.lines().find(|l| l.contains("tagged.py")).expect("a row");
    assert!(tagged.ends_with("ok"), "the tag wins over the folder: {table}");
    assert!(table.contains("NOT VERIFIED"), "{table}");
}

//! Shared by the judge's integration tests: a real [`Judge`] (our own binary as the sandbox
//! zygote) and throwaway problem packages.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use judge_worker::{Judge, JudgeConfig};

/// The repository's `examples/problems`.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/problems")
}

/// Whether this test may use the sandbox: `true`, or a failure naming what is missing, or — only
/// when the run opted out with `ALLOW_NO_SANDBOX=1` — a loud, counted skip.
#[track_caller]
pub fn can_sandbox() -> bool {
    sandbox::probe::tests_may_run(&test_name())
}

/// The running test's name (the test harness names its thread after it).
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a judge-worker test")
        .to_owned()
}

/// A judge with one slot, or `None` when the run opted out of sandbox tests (see [`can_sandbox`]).
pub fn judge(uid_base: u32) -> Option<Judge> {
    judge_with(JudgeConfig {
        uid_base,
        ..JudgeConfig::default()
    })
}

/// A judge with one slot and `config`'s settings (our own binary as the helper).
pub fn judge_with(config: JudgeConfig) -> Option<Judge> {
    if !can_sandbox() {
        return None;
    }
    let config = JudgeConfig {
        slots: 1,
        helper: Some(PathBuf::from(env!("CARGO_BIN_EXE_judge-worker"))),
        ..config
    };
    match Judge::new(config) {
        Ok(j) => Some(j),
        Err(e) => panic!("cannot start the judge: {e}"),
    }
}

/// The example submissions of problem `name`: each folder with the verdicts its submissions may
/// get — the package's own (`submissions/<folder>/`, named as the format names them) and the
/// extra ones filed by verdict (`examples/submissions/<name>/<verdict>/`).
pub fn verdict_dirs(name: &str) -> Vec<(PathBuf, Vec<&'static str>)> {
    let mut out = Vec::new();
    let own = examples_dir().join(name).join("submissions");
    for entry in std::fs::read_dir(&own).expect("submissions/").flatten() {
        let folder = entry.file_name().to_string_lossy().into_owned();
        let allowed = problem_package::submissions::expected_verdicts(&folder)
            .unwrap_or_else(|| panic!("{}: not a folder of the format", entry.path().display()));
        out.push((entry.path(), allowed.to_vec()));
    }
    let extra = examples_dir().join("../submissions").join(name);
    for entry in std::fs::read_dir(&extra).into_iter().flatten().flatten() {
        let verdict: &'static str = match entry.file_name().to_string_lossy().as_ref() {
            "compilation_error" => "compilation_error",
            "memory_limit_exceeded" => "memory_limit_exceeded",
            "output_limit_exceeded" => "output_limit_exceeded",
            other => panic!("examples/submissions/{name}/{other}: not a verdict of its own"),
        };
        out.push((entry.path(), vec![verdict]));
    }
    out
}

/// The language of a solution file, by its name's ending (see the language table's `file_suffix`).
pub fn language_of(path: &Path) -> Option<String> {
    judge_worker::language::language_of_file(path)
}

/// Every language of the built-in table.
pub fn all_languages() -> Vec<String> {
    let table: serde_yaml::Value =
        serde_yaml::from_str(judge_worker::language::BUILTIN_LANGUAGES).expect("valid table");
    table["languages"]
        .as_sequence()
        .expect("languages")
        .iter()
        .map(|l| l["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Writes a 2023-07 package with one secret test per `(input, answer)`.
pub fn package(
    dir: &Path,
    time_limit: f64,
    memory_mib: u64,
    output_mib: u64,
    tests: &[(&str, &str)],
) -> PathBuf {
    let root = dir.join("problem");
    std::fs::create_dir_all(root.join("data/secret")).expect("create package");
    std::fs::create_dir_all(root.join("statement")).expect("create package");
    std::fs::write(
        root.join("problem.yaml"),
        format!(
            "problem_format_version: 2023-07-draft\nname: test\nlimits:\n  time_limit: {time_limit}\n  memory: {memory_mib}\n  output: {output_mib}\n"
        ),
    )
    .expect("write problem.yaml");
    std::fs::write(root.join("statement/problem.en.md"), "# test\n").expect("write statement");
    for (i, (input, answer)) in tests.iter().enumerate() {
        std::fs::write(root.join(format!("data/secret/{i:02}.in")), input).expect("write test");
        std::fs::write(root.join(format!("data/secret/{i:02}.ans")), answer).expect("write test");
    }
    root
}

/// Processes of this machine running as `uid`.
pub fn processes_of_uid(uid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let owner = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok());
        if owner == Some(uid) {
            out.push(pid);
        }
    }
    out
}

/// Cgroups of the slot running as `uid` in this process that were not removed.
pub fn leftover_cgroups(uid: u32) -> Vec<PathBuf> {
    leftover_cgroups_with_prefix(&sandbox::Cgroups::slot_name(uid))
}

/// Cgroup directories whose name starts with `prefix`.
pub fn leftover_cgroups_with_prefix(prefix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            if !ft.is_dir() || ft.is_symlink() {
                continue;
            }
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                out.push(entry.path());
            } else if stack.len() < 10_000 {
                stack.push(entry.path());
            }
        }
    }
    out
}

/// Mount points in our mount namespace under `dir`.
pub fn mounts_under(dir: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(dir))
        .map(str::to_owned)
        .collect()
}

/// Pids of the sandbox zygotes of the slot running as `uid` that this test process started
/// (children of our helper processes).
pub fn our_zygotes(uid: u32) -> Vec<i32> {
    let ppid_of = |pid: i32| -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
    };
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if !cmdline.contains(sandbox::ZYGOTE_ARG) || !cmdline.contains(&format!("\"uid\":{uid},")) {
            continue;
        }
        if ppid_of(pid).and_then(ppid_of) == Some(me) {
            out.push(pid);
        }
    }
    out
}

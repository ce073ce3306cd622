//! Every example solution gets a verdict its folder allows, in every language this machine
//! offers: those the package carries (`examples/problems/*/submissions/<folder>/`, folders of the
//! format) and those filed by verdicts the format has no folder for
//! (`examples/submissions/<problem>/<verdict>/`).

mod support;

use judge_worker::JudgeOptions;
use problem_package::ProblemPackage;

/// Judges the examples of problem `name` in `languages` (`None`: every language there is an
/// example in) and checks each language has an accepted and a rejected one.
fn check_problem(name: &str, uid_base: u32, languages: Option<&[&str]>) {
    let Some(judge) = support::judge(uid_base) else {
        return;
    };
    if let Some(wanted) = languages {
        let offered: Vec<String> = judge.languages().into_iter().map(|l| l.id).collect();
        let missing: Vec<_> = wanted
            .iter()
            .filter(|l| !offered.iter().any(|o| o == *l))
            .collect();
        assert!(
            missing.is_empty(),
            "languages not offered here: {missing:?} ({:?}); `make languages` installs them",
            judge.unavailable_languages()
        );
    }
    let root = support::examples_dir().join(name);
    let package = ProblemPackage::load(&root).unwrap_or_else(|e| panic!("{e}"));
    let offered: Vec<String> = judge.languages().into_iter().map(|l| l.id).collect();
    let mut failures = Vec::new();
    let mut judged = 0;
    let mut dirs = support::verdict_dirs(name);
    dirs.sort();
    let mut languages_with =
        |(verdict_dir, allowed): &(std::path::PathBuf, Vec<&'static str>)| -> Vec<String> {
            let mut files: Vec<_> = std::fs::read_dir(verdict_dir)
                .expect("verdict dir")
                .flatten()
                .map(|e| e.path())
                .collect();
            files.sort();
            let expected = verdict_dir.file_name().unwrap().to_string_lossy().into_owned();
            let mut langs = Vec::new();
            for file in files {
                let Some(lang) = support::language_of(&file) else {
                    continue;
                };
                if languages.is_some_and(|w| !w.contains(&lang.as_str())) {
                    continue;
                }
                langs.push(lang.clone());
                if !offered.contains(&lang) {
                    eprintln!(
                        "!!! SKIPPED {}: language {lang} is not offered here",
                        file.display()
                    );
                    continue;
                }
                let source = std::fs::read(&file).expect("read solution");
                let report = judge.judge(&package, &lang, &source, &JudgeOptions::default(), |_| {});
                judged += 1;
                eprintln!(
                    "{name}/{expected}/{}: {} ({} ms, {} KB)",
                    file.file_name().unwrap().to_string_lossy(),
                    report.verdict,
                    report.run_time_ms,
                    report.memory_kb
                );
                if !allowed.contains(&report.verdict.as_str()) {
                    failures.push(format!(
                        "{}: expected {allowed:?}, got {} ({:?})",
                        file.display(),
                        report.verdict,
                        report
                            .tests
                            .last()
                            .map(|t| t.detail.clone())
                            .or(Some(report.error.clone()))
                    ));
                }
            }
            langs
        };
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for dir in &dirs {
        let langs = languages_with(dir);
        if dir.0.ends_with("accepted") {
            accepted.extend(langs);
        } else {
            rejected.extend(langs);
        }
    }
    let required: Vec<String> = match languages {
        Some(l) => l.iter().map(|s| s.to_string()).collect(),
        None => ["c", "cpp", "python3", "rust", "java", "javascript"]
            .map(String::from)
            .to_vec(),
    };
    for lang in &required {
        assert!(accepted.contains(lang), "{name}: no accepted solution in {lang}");
        assert!(rejected.contains(lang), "{name}: no incorrect solution in {lang}");
    }
    assert!(judged > 0);
    assert!(failures.is_empty(), "wrong verdicts:\n{}", failures.join("\n"));
}

// A+B in every language of the table, in three groups so that the runner can judge them side by
// side: each language's accepted, wrong, non-compiling and (for garbage-collected runtimes)
// memory-hungry examples.
const NATIVE: &[&str] = &[
    "c", "cpp", "rust", "go", "haskell", "pascal", "ocaml", "fortran", "d", "nim",
];
const VIRTUAL_MACHINES: &[&str] = &["java", "kotlin", "scala", "csharp", "erlang", "elixir"];
const SCRIPTS: &[&str] = &[
    "python3",
    "pypy3",
    "javascript",
    "typescript",
    "ruby",
    "php",
    "lua",
    "perl",
    "racket",
    "commonlisp",
    "bash",
];

#[test]
fn aplusb_compiled_to_machine_code() {
    check_problem("aplusb", 62000, Some(NATIVE));
}

#[test]
fn aplusb_on_virtual_machines() {
    check_problem("aplusb", 62030, Some(VIRTUAL_MACHINES));
}

#[test]
fn aplusb_in_scripting_languages() {
    check_problem("aplusb", 62040, Some(SCRIPTS));
}

#[test]
fn the_three_groups_are_the_whole_language_table() {
    let mut grouped: Vec<String> = [NATIVE, VIRTUAL_MACHINES, SCRIPTS]
        .concat()
        .into_iter()
        .map(String::from)
        .collect();
    grouped.sort();
    let mut all = support::all_languages();
    all.sort();
    assert_eq!(grouped, all);
    assert!(all.len() >= 25, "{} languages", all.len());
}

#[test]
fn average_with_float_tolerance() {
    check_problem("average", 62010, None);
}

#[test]
fn splitsum_with_custom_validator() {
    check_problem("splitsum", 62020, None);
}

#[test]
fn triangular_scoring_with_subtasks() {
    check_problem("triangular", 62060, Some(&["c", "cpp", "python3"]));
}

#[test]
fn guess_interactive() {
    check_problem("guess", 62070, Some(&["c", "cpp", "python3"]));
}

#[test]
fn twopass_multi_pass() {
    check_problem("twopass", 62080, Some(&["c", "python3"]));
}

#[test]
fn every_example_package_loads() {
    for entry in std::fs::read_dir(support::examples_dir()).expect("examples") {
        let path = entry.expect("entry").path();
        if let Err(e) = ProblemPackage::load(&path) {
            panic!("{e}");
        }
    }
}

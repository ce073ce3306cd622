//! Every example solution gets a verdict its folder allows, in every language this machine
//! offers: those the package carries (`examples/problems/*/submissions/<folder>/`, folders of the
//! format) and those filed by verdicts the format has no folder for
//! (`examples/submissions/<problem>/<verdict>/`).

mod support;

use judge_worker::JudgeOptions;
use problem_package::ProblemPackage;

fn check_problem(name: &str, uid_base: u32) {
    let Some(judge) = support::judge(uid_base) else {
        return;
    };
    let root = support::examples_dir().join(name);
    let package = ProblemPackage::load(&root).unwrap_or_else(|e| panic!("{e}"));
    let offered: Vec<String> = judge.languages().into_iter().map(|l| l.id).collect();
    let mut failures = Vec::new();
    let mut judged = 0;
    let mut dirs = support::verdict_dirs(name);
    dirs.sort();
    let mut languages_with =
        |(verdict_dir, allowed): &(std::path::PathBuf, Vec<&'static str>)| -> Vec<&'static str> {
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
                langs.push(lang);
                if !offered.iter().any(|o| o == lang) {
                    eprintln!(
                        "!!! SKIPPED {}: language {lang} is not offered here",
                        file.display()
                    );
                    continue;
                }
                let source = std::fs::read(&file).expect("read solution");
                let report = judge.judge(&package, lang, &source, &JudgeOptions::default(), |_| {});
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
    for lang in ["c", "cpp", "python3", "rust", "java", "javascript"] {
        assert!(accepted.contains(&lang), "{name}: no accepted solution in {lang}");
        assert!(
            rejected.contains(&lang),
            "{name}: no incorrect solution in {lang}"
        );
    }
    assert!(judged > 0);
    assert!(failures.is_empty(), "wrong verdicts:\n{}", failures.join("\n"));
}

#[test]
fn aplusb() {
    check_problem("aplusb", 62000);
}

#[test]
fn average_with_float_tolerance() {
    check_problem("average", 62010);
}

#[test]
fn splitsum_with_custom_validator() {
    check_problem("splitsum", 62020);
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

//! Scoring problems: how the results of the secret test cases become a score.
//!
//! Read from the `testdata.yaml` (or `test_group.yaml`, the name later drafts use) of each group
//! under `data/secret/`:
//! - 2023-07: `scoring: {score, aggregation}` (also accepted as top-level `score` and
//!   `aggregation` keys). `aggregation` is `pass-fail`, `sum` or `min`; the default is `sum` for
//!   `secret` and `pass-fail` for its subgroups. `secret` is worth 100 unless it says otherwise;
//!   a child of a `sum` group without a `score` gets an even share of what its siblings leave
//!   (`(M - S) / (A + T)`), a child of a `min` group the group's whole score.
//! - legacy: `grader_flags` (`sum`, the default, `min`, `max` or `avg`; the verdict-only flags are
//!   ignored), `accept_score` (default 1) and `reject_score` (default 0), inherited by subgroups.
//!   A group is worth what its aggregation makes of its children's worth.
//!
//! Samples are judged but never scored. What is not supported (an `unbounded` score,
//! `require_pass`) refuses the package, by name.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use crate::{PackageFormat, TestCase};

/// How a group makes one score of its children's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregation {
    /// Its whole score when every test in it is accepted, else nothing.
    PassFail,
    Sum,
    Min,
    Max,
    Avg,
}

/// A scored test group: `secret` or one of its subgroups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreGroup {
    /// Its path under `data/`, e.g. `secret/group1`.
    pub name: String,
    pub max_score: f64,
    pub aggregation: Aggregation,
    pub items: Vec<ScoreItem>,
}

/// A member of a scored group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScoreItem {
    /// A test case: its position in the package's `tests`, and its score when accepted and when
    /// not (0 unless a legacy `reject_score` says otherwise).
    Test {
        test: usize,
        max_score: f64,
        reject_score: f64,
    },
    Group(ScoreGroup),
}

/// The scoring of a scoring problem: the `secret` group's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scoring {
    pub secret: ScoreGroup,
}

/// One scored group's result.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupScore {
    pub name: String,
    pub score: f64,
    pub max_score: f64,
    /// Whether every test case in it (and in its subgroups) was accepted.
    pub all_accepted: bool,
    /// The positions (in the package's tests) of its test cases, subgroups included.
    pub tests: Vec<usize>,
}

impl Scoring {
    /// The submission's score, given which tests were accepted (`accepted[i]` for test `i`; a test
    /// that did not run counts as rejected), and every group's result in tree order (`secret`
    /// first).
    pub fn score(&self, accepted: &dyn Fn(usize) -> bool) -> (f64, Vec<GroupScore>) {
        let mut groups = Vec::new();
        let score = group_score(&self.secret, accepted, &mut groups);
        (round(score), groups)
    }
}

/// Scores are rounded to 6 decimals, so that thirds add up to their whole.
fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn group_score(g: &ScoreGroup, accepted: &dyn Fn(usize) -> bool, out: &mut Vec<GroupScore>) -> f64 {
    let slot = out.len();
    out.push(GroupScore {
        name: g.name.clone(),
        score: 0.0,
        max_score: g.max_score,
        all_accepted: true,
        tests: Vec::new(),
    });
    let mut scores = Vec::new();
    let mut all = true;
    let mut tests = Vec::new();
    for item in &g.items {
        match item {
            ScoreItem::Test {
                test,
                max_score,
                reject_score,
            } => {
                let ok = accepted(*test);
                all &= ok;
                tests.push(*test);
                scores.push(if ok { *max_score } else { *reject_score });
            }
            ScoreItem::Group(sub) => {
                let s = group_score(sub, accepted, out);
                let sub_result = out.iter().find(|r| r.name == sub.name).expect("just pushed");
                all &= sub_result.all_accepted;
                tests.extend(sub_result.tests.iter().copied());
                scores.push(s);
            }
        }
    }
    let score = if scores.is_empty() {
        0.0
    } else {
        match g.aggregation {
            Aggregation::PassFail => {
                if all {
                    g.max_score
                } else {
                    0.0
                }
            }
            Aggregation::Sum => scores.iter().sum(),
            Aggregation::Min => scores.iter().copied().fold(f64::INFINITY, f64::min),
            Aggregation::Max => scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Aggregation::Avg => scores.iter().sum::<f64>() / scores.len() as f64,
        }
    };
    let score = round(score);
    out[slot].score = score;
    out[slot].all_accepted = all;
    out[slot].tests = tests;
    score
}

/// The settings a group's YAML file gives.
#[derive(Debug, Clone, Default)]
struct Settings {
    score: Option<f64>,
    aggregation: Option<Aggregation>,
    accept_score: Option<f64>,
    reject_score: Option<f64>,
}

fn read_settings(dir: &Path, format: PackageFormat, reasons: &mut Vec<String>) -> Settings {
    let mut s = Settings::default();
    let Some((path, text)) = ["test_group.yaml", "testdata.yaml"]
        .iter()
        .find_map(|n| Some((dir.join(n), std::fs::read_to_string(dir.join(n)).ok()?)))
    else {
        return s;
    };
    let what = path.display().to_string();
    let v: Value = match serde_yaml::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            reasons.push(format!("{what}: {e}"));
            return s;
        }
    };
    let number = |v: &Value, key: &str, reasons: &mut Vec<String>| match v.as_f64() {
        Some(x) if x.is_finite() && x >= 0.0 => Some(x),
        _ if v.as_str() == Some("unbounded") => {
            reasons.push(format!("{what}: {key}: an unbounded score is not supported"));
            None
        }
        _ => {
            reasons.push(format!("{what}: {key} must be a non-negative number"));
            None
        }
    };
    match format {
        PackageFormat::Draft2023 => {
            let scoring = v.get("scoring").unwrap_or(&v);
            if let Some(x) = scoring.get("score") {
                s.score = number(x, "score", reasons);
            }
            if let Some(a) = scoring.get("aggregation") {
                s.aggregation = match a.as_str() {
                    Some("pass-fail") => Some(Aggregation::PassFail),
                    Some("sum") => Some(Aggregation::Sum),
                    Some("min") => Some(Aggregation::Min),
                    _ => {
                        reasons.push(format!("{what}: aggregation must be pass-fail, sum or min"));
                        None
                    }
                };
            }
            if scoring.get("require_pass").is_some() {
                reasons.push(format!("{what}: require_pass is not supported"));
            }
        }
        PackageFormat::Legacy => {
            if let Some(flags) = v.get("grader_flags") {
                let flags = flags.as_str().unwrap_or_default();
                for f in flags.split_whitespace() {
                    s.aggregation = match f {
                        "sum" => Some(Aggregation::Sum),
                        "min" => Some(Aggregation::Min),
                        "max" => Some(Aggregation::Max),
                        "avg" => Some(Aggregation::Avg),
                        _ => s.aggregation,
                    };
                }
            }
            if let Some(x) = v.get("accept_score") {
                s.accept_score = number(x, "accept_score", reasons);
            }
            if let Some(x) = v.get("reject_score") {
                s.reject_score = number(x, "reject_score", reasons);
            }
            if v.get("grading")
                .and_then(Value::as_str)
                .is_some_and(|g| g != "default")
            {
                reasons.push(format!("{what}: custom graders are not supported"));
            }
        }
    }
    s
}

/// Reads the scoring of `data/secret` of a scoring problem whose test cases are `tests`.
pub(crate) fn load(
    data: &Path,
    format: PackageFormat,
    tests: &[TestCase],
    reasons: &mut Vec<String>,
) -> Scoring {
    let dir = data.join("secret");
    let inherited = if format == PackageFormat::Legacy {
        read_settings(data, format, reasons)
    } else {
        Settings::default()
    };
    let secret = match format {
        PackageFormat::Draft2023 => draft_group(&dir, "secret", None, true, tests, reasons),
        PackageFormat::Legacy => legacy_group(&dir, "secret", &inherited, tests, reasons),
    };
    Scoring { secret }
}

/// A directory's direct test cases (by position in `tests`) and subdirectories, in test order.
fn children(dir: &Path, name: &str, tests: &[TestCase]) -> Vec<Result<usize, String>> {
    let mut subdirs: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    subdirs.sort();
    // Merge test cases and subgroups by base name, as the package's test order does.
    let mut out: Vec<(String, Result<usize, String>)> = tests
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let rest = t.name.strip_prefix(name)?.strip_prefix('/')?;
            (!rest.contains('/')).then(|| (rest.to_owned(), Ok(i)))
        })
        .collect();
    out.extend(subdirs.into_iter().map(|d| (d.clone(), Err(d))));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, c)| c).collect()
}

fn draft_group(
    dir: &Path,
    name: &str,
    max: Option<f64>,
    is_secret: bool,
    tests: &[TestCase],
    reasons: &mut Vec<String>,
) -> ScoreGroup {
    let own = read_settings(dir, PackageFormat::Draft2023, reasons);
    let aggregation = own.aggregation.unwrap_or(if is_secret {
        Aggregation::Sum
    } else {
        Aggregation::PassFail
    });
    let max_score = own.score.or(max).unwrap_or(100.0);
    let kids = children(dir, name, tests);
    // Declared scores of the subgroups, to share what is left among the rest.
    let declared: Vec<Option<f64>> = kids
        .iter()
        .map(|k| match k {
            Ok(_) => None,
            Err(sub) => read_settings(&dir.join(sub), PackageFormat::Draft2023, &mut Vec::new()).score,
        })
        .collect();
    let undeclared = declared.iter().filter(|d| d.is_none()).count();
    let share = match aggregation {
        Aggregation::Sum => {
            let given: f64 = declared.iter().flatten().sum();
            if given > max_score + 1e-9 {
                reasons.push(format!(
                    "data/{name}: its subgroups' scores ({given}) exceed its own ({max_score})"
                ));
            }
            if undeclared == 0 {
                0.0
            } else {
                ((max_score - given) / undeclared as f64).max(0.0)
            }
        }
        _ => max_score,
    };
    let mut items = Vec::new();
    for (kid, declared) in kids.into_iter().zip(declared) {
        match kid {
            Ok(test) => items.push(ScoreItem::Test {
                test,
                max_score: if aggregation == Aggregation::PassFail {
                    0.0
                } else {
                    share
                },
                reject_score: 0.0,
            }),
            Err(sub) => {
                let sub_name = format!("{name}/{sub}");
                let sub_max = if aggregation == Aggregation::PassFail {
                    Some(0.0)
                } else {
                    Some(declared.unwrap_or(share))
                };
                let g = draft_group(&dir.join(&sub), &sub_name, sub_max, false, tests, reasons);
                if aggregation == Aggregation::PassFail && g.aggregation != Aggregation::PassFail {
                    reasons.push(format!(
                        "data/{sub_name}: a subgroup of a pass-fail group must be pass-fail"
                    ));
                }
                items.push(ScoreItem::Group(g));
            }
        }
    }
    ScoreGroup {
        name: name.to_owned(),
        max_score,
        aggregation,
        items,
    }
}

fn legacy_group(
    dir: &Path,
    name: &str,
    inherited: &Settings,
    tests: &[TestCase],
    reasons: &mut Vec<String>,
) -> ScoreGroup {
    let own = read_settings(dir, PackageFormat::Legacy, reasons);
    let settings = Settings {
        score: None,
        aggregation: own.aggregation.or(inherited.aggregation),
        accept_score: own.accept_score.or(inherited.accept_score),
        reject_score: own.reject_score.or(inherited.reject_score),
    };
    let aggregation = settings.aggregation.unwrap_or(Aggregation::Sum);
    let mut items = Vec::new();
    let mut maxima = Vec::new();
    for kid in children(dir, name, tests) {
        match kid {
            Ok(test) => {
                let max_score = settings.accept_score.unwrap_or(1.0);
                maxima.push(max_score);
                items.push(ScoreItem::Test {
                    test,
                    max_score,
                    reject_score: settings.reject_score.unwrap_or(0.0),
                });
            }
            Err(sub) => {
                let g = legacy_group(
                    &dir.join(&sub),
                    &format!("{name}/{sub}"),
                    &settings,
                    tests,
                    reasons,
                );
                maxima.push(g.max_score);
                items.push(ScoreItem::Group(g));
            }
        }
    }
    let max_score = if maxima.is_empty() {
        0.0
    } else {
        match aggregation {
            Aggregation::Sum | Aggregation::PassFail => maxima.iter().sum(),
            Aggregation::Min => maxima.iter().copied().fold(f64::INFINITY, f64::min),
            Aggregation::Max => maxima.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Aggregation::Avg => maxima.iter().sum::<f64>() / maxima.len() as f64,
        }
    };
    ScoreGroup {
        name: name.to_owned(),
        max_score: round(max_score),
        aggregation,
        items,
    }
}

#[cfg(test)]
mod tests {
    use crate::ProblemPackage;
    use std::path::Path;

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
    }

    fn case(root: &Path, name: &str) {
        write(
            root,
            &[
                (&format!("data/{name}.in"), "1"),
                (&format!("data/{name}.ans"), "1"),
            ],
        );
    }

    /// The positions of the tests whose names are in `names`.
    fn passing<'a>(p: &'a ProblemPackage, names: &'a [&str]) -> impl Fn(usize) -> bool + 'a {
        move |i| names.contains(&p.tests[i].name.as_str())
    }

    #[test]
    fn draft_subtasks_share_the_secret_groups_score_and_pass_or_fail_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            &[
                (
                    "problem.yaml",
                    "problem_format_version: 2023-07-draft\nname: S\ntype: scoring\n",
                ),
                ("statement/problem.en.md", "# S"),
                ("data/secret/a/testdata.yaml", "scoring:\n  score: 20\n"),
                // No score: an even share of what `a` leaves (80 / 2).
                ("data/secret/c/test_group.yaml", "scoring:\n  aggregation: min\n"),
            ],
        );
        for t in [
            "sample/1",
            "secret/a/1",
            "secret/a/2",
            "secret/b/1",
            "secret/c/1",
            "secret/c/2",
        ] {
            case(root, t);
        }
        let p = ProblemPackage::load(root).expect("valid");
        let scoring = p.scoring.as_ref().expect("a scoring problem");
        assert_eq!(scoring.secret.max_score, 100.0);
        let all: Vec<&str> = p.tests.iter().map(|t| t.name.as_str()).collect();
        let (score, groups) = scoring.score(&passing(&p, &all));
        assert_eq!(score, 100.0);
        let maxima: Vec<(&str, f64)> = groups.iter().map(|g| (g.name.as_str(), g.max_score)).collect();
        assert_eq!(
            maxima,
            [
                ("secret", 100.0),
                ("secret/a", 20.0),
                ("secret/b", 40.0),
                ("secret/c", 40.0)
            ]
        );
        // One failure in a pass-fail group loses it; in a min group, the failed test's 0 is the
        // minimum. The sample never counts.
        let (score, groups) = scoring.score(&passing(&p, &["secret/a/1", "secret/b/1", "secret/c/1"]));
        assert_eq!(score, 40.0);
        assert!(!groups[1].all_accepted && groups[2].all_accepted && !groups[3].all_accepted);
        assert_eq!(groups[3].tests.len(), 2);
    }

    #[test]
    fn draft_sum_of_test_cases_and_legacy_accept_scores() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            &[
                (
                    "problem.yaml",
                    "problem_format_version: 2023-07-draft\nname: S\ntype: scoring\n",
                ),
                ("statement/problem.en.md", "# S"),
            ],
        );
        for t in ["secret/1", "secret/2", "secret/3"] {
            case(root, t);
        }
        let p = ProblemPackage::load(root).expect("valid");
        let (score, _) = p.scoring.as_ref().unwrap().score(&passing(&p, &["secret/1"]));
        assert_eq!(score, 33.333333);
        let (score, _) = p.scoring.as_ref().unwrap().score(&|_| true);
        assert_eq!(score, 100.0);

        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            &[
                ("problem.yaml", "name: L\ntype: scoring\n"),
                ("problem_statement/problem.en.tex", "x"),
                (
                    "data/secret/testdata.yaml",
                    "on_reject: continue\ngrader_flags: sum\n",
                ),
                (
                    "data/secret/g1/testdata.yaml",
                    "grader_flags: min\naccept_score: 25\n",
                ),
                (
                    "data/secret/g2/testdata.yaml",
                    "grader_flags: min\naccept_score: 75\n",
                ),
            ],
        );
        for t in ["secret/g1/1", "secret/g1/2", "secret/g2/1"] {
            case(root, t);
        }
        let p = ProblemPackage::load(root).expect("valid");
        let scoring = p.scoring.as_ref().unwrap();
        assert_eq!(scoring.secret.max_score, 100.0);
        assert_eq!(
            scoring.score(&passing(&p, &["secret/g1/1", "secret/g2/1"])).0,
            75.0
        );
        assert_eq!(
            scoring.score(&passing(&p, &["secret/g1/1", "secret/g1/2"])).0,
            25.0
        );
    }

    #[test]
    fn what_cannot_be_scored_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            &[
                (
                    "problem.yaml",
                    "problem_format_version: 2023-07-draft\nname: S\ntype: scoring\n",
                ),
                ("statement/problem.en.md", "# S"),
                ("data/secret/a/testdata.yaml", "scoring:\n  score: unbounded\n"),
                (
                    "data/secret/b/testdata.yaml",
                    "scoring:\n  aggregation: product\n",
                ),
                ("data/secret/c/testdata.yaml", "scoring:\n  score: 200\n"),
            ],
        );
        for t in ["secret/a/1", "secret/b/1", "secret/c/1"] {
            case(root, t);
        }
        let all = ProblemPackage::load(root)
            .expect_err("invalid")
            .reasons
            .join("\n");
        for needle in ["unbounded", "aggregation must be", "exceed"] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }
}

//! What verifying a package needs, without running anything: the submissions the package carries
//! with the verdicts each may get, and the time limit derived from the accepted ones when the
//! package sets none.
//!
//! Expected verdicts come from the folder (`submissions/<folder>/`, see
//! [`crate::submissions::expected_verdicts`]) or, where a file carries one, from DOMjudge's
//! `@EXPECTED_RESULTS@:` tag, which wins (DOMjudge's own rule).
//!
//! The derived limit follows problemtools (`checks/submissions.py`, `_compute_time_limit`): the
//! slowest accepted submission's time (its slowest test) × the multiplier, rounded *up* to a
//! multiple of the time resolution, at least one resolution step:
//! `max(1, ceil(slowest × multiplier / resolution)) × resolution`. The multiplier is legacy
//! `limits.time_multiplier` (default 5) or 2023-07 `limits.time_multipliers.ac_to_time_limit`
//! (default 2); the resolution 2023-07 `limits.time_resolution` (default 1 s; legacy has none:
//! 1 s).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use crate::package::{PackageFormat, ProblemPackage, TimeLimitSource};
use crate::submissions::expected_verdicts;

/// A submission the package carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagedSubmission {
    /// Path inside the package, e.g. `submissions/accepted/sol.c`.
    pub path: String,
    /// The verdicts it may get (snake case, as the judge names them).
    pub expected: Vec<String>,
    /// Where `expected` came from: `folder` or `tag` (`@EXPECTED_RESULTS@:`).
    pub expected_from: String,
}

/// DOMjudge's results, as `@EXPECTED_RESULTS@:` names them, in the judge's verdicts.
fn domjudge_result(name: &str) -> Option<&'static [&'static str]> {
    Some(match name.to_ascii_uppercase().as_str() {
        "CORRECT" => &["accepted"],
        "WRONG-ANSWER" | "NO-OUTPUT" => &["wrong_answer"],
        "TIMELIMIT" => &["time_limit_exceeded"],
        // DOMjudge reports a memory limit as a run error.
        "RUN-ERROR" => &["runtime_error", "memory_limit_exceeded"],
        "COMPILER-ERROR" => &["compilation_error"],
        "OUTPUT-LIMIT" => &["output_limit_exceeded"],
        "MEMORY-LIMIT" => &["memory_limit_exceeded"],
        _ => return None,
    })
}

const TAG: &str = "@EXPECTED_RESULTS@:";

/// The verdicts a DOMjudge `@EXPECTED_RESULTS@:` tag in `source` allows; `Err` names a result
/// DOMjudge does not have.
pub fn expected_results_tag(source: &str) -> Option<Result<Vec<String>, String>> {
    let at = source.find(TAG)?;
    let line = source[at + TAG.len()..].lines().next().unwrap_or("");
    // The tag may sit in a comment that closes on the same line (`*/`, `-->`).
    let line = line
        .split("*/")
        .next()
        .unwrap_or(line)
        .split("-->")
        .next()
        .unwrap_or(line);
    let mut out: Vec<String> = Vec::new();
    for name in line
        .split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        match domjudge_result(name) {
            Some(verdicts) => {
                for v in verdicts {
                    if !out.iter().any(|o| o == v) {
                        out.push((*v).to_owned());
                    }
                }
            }
            None => return Some(Err(format!("{TAG} names {name:?}, not a DOMjudge result"))),
        }
    }
    if out.is_empty() {
        return Some(Err(format!("{TAG} names no result")));
    }
    Some(Ok(out))
}

/// Every single-file submission under `submissions/`, in path order, with what it may get;
/// files whose expectation is unknown or unreadable are named in the returned warnings instead.
pub fn packaged_submissions(root: &Path) -> (Vec<PackagedSubmission>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut folders: Vec<_> = std::fs::read_dir(root.join("submissions"))
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    folders.sort();
    for folder in folders {
        let folder_name = folder
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for file in files {
            let name = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let path = format!("submissions/{folder_name}/{name}");
            if file.is_dir() {
                warnings.push(format!("{path}: a submission of several files is not verified"));
                continue;
            }
            let text = std::fs::read(&file).map(|b| String::from_utf8_lossy(&b).into_owned());
            let tagged = text.as_deref().ok().and_then(expected_results_tag);
            let (expected, from) = match (tagged, expected_verdicts(&folder_name)) {
                (Some(Ok(tag)), _) => (tag, "tag"),
                (Some(Err(e)), _) => {
                    warnings.push(format!("{path}: {e}"));
                    continue;
                }
                (None, Some(v)) => (v.iter().map(|s| (*s).to_owned()).collect(), "folder"),
                (None, None) => {
                    warnings.push(format!(
                        "{path}: the format names no folder {folder_name:?} and the file has no {TAG} tag"
                    ));
                    continue;
                }
            };
            out.push(PackagedSubmission {
                path,
                expected,
                expected_from: from.to_owned(),
            });
        }
    }
    (out, warnings)
}

/// How a limit is derived from the accepted submissions' times.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeMultipliers {
    /// Slowest accepted time × this = the time limit (before rounding).
    pub ac_to_time_limit: f64,
    /// The limit × this: how long problemtools lets a run go to tell "just over" from "far over".
    pub time_limit_to_tle: f64,
    /// The limit is rounded up to a multiple of this many seconds.
    pub time_resolution: f64,
}

impl TimeMultipliers {
    /// The package's, with the format's defaults.
    pub fn of(package: &ProblemPackage) -> TimeMultipliers {
        let yaml: Value = std::fs::read_to_string(package.root.join("problem.yaml"))
            .ok()
            .and_then(|t| serde_yaml::from_str(&t).ok())
            .unwrap_or(Value::Null);
        let limits = yaml.get("limits");
        let number = |v: Option<&Value>, default: f64| {
            v.and_then(Value::as_f64)
                .filter(|x| *x > 0.0 && x.is_finite())
                .unwrap_or(default)
        };
        match package.format {
            PackageFormat::Legacy => TimeMultipliers {
                ac_to_time_limit: number(limits.and_then(|l| l.get("time_multiplier")), 5.0),
                time_limit_to_tle: number(limits.and_then(|l| l.get("time_safety_margin")), 2.0),
                time_resolution: 1.0,
            },
            PackageFormat::Draft2023 => {
                let m = limits.and_then(|l| l.get("time_multipliers"));
                TimeMultipliers {
                    ac_to_time_limit: number(m.and_then(|m| m.get("ac_to_time_limit")), 2.0),
                    time_limit_to_tle: number(m.and_then(|m| m.get("time_limit_to_tle")), 1.5),
                    time_resolution: number(limits.and_then(|l| l.get("time_resolution")), 1.0),
                }
            }
        }
    }

    /// problemtools' limit for `slowest`, the slowest accepted submission's time.
    pub fn time_limit(&self, slowest: Duration) -> Duration {
        let steps = (slowest.as_secs_f64() * self.ac_to_time_limit / self.time_resolution).ceil();
        Duration::from_secs_f64(steps.max(1.0) * self.time_resolution)
    }
}

/// One accepted submission's time, as the derivation used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmissionTime {
    /// Path inside the package.
    pub submission: String,
    /// Its slowest test's CPU time.
    pub time_ms: u64,
}

/// A time limit derived from the package's accepted submissions: what it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DerivedTimeLimit {
    pub multipliers: TimeMultipliers,
    /// The slowest accepted submission's time.
    pub slowest_ms: u64,
    pub times: Vec<SubmissionTime>,
}

// The multipliers are positive finite numbers (checked where they are read), never NaN.
impl Eq for DerivedTimeLimit {}

impl ProblemPackage {
    /// Sets the time limit derived from `times` (each accepted submission's slowest test), as
    /// problemtools does, recording where it came from. `None` when there are no times.
    pub fn derive_time_limit(&mut self, times: Vec<SubmissionTime>) -> Option<Duration> {
        let slowest = times.iter().map(|t| t.time_ms).max()?;
        let multipliers = TimeMultipliers::of(self);
        let limit = multipliers.time_limit(Duration::from_millis(slowest));
        self.limits.time_limit_ms = limit.as_millis() as u64;
        self.limits.time_limit_source = TimeLimitSource::DerivedFromSubmissions;
        self.limits.derived = Some(DerivedTimeLimit {
            multipliers,
            slowest_ms: slowest,
            times,
        });
        Some(limit)
    }

    /// Whether the package sets no time limit anywhere (the limit is the judge's default).
    pub fn needs_derived_time_limit(&self) -> bool {
        self.limits.time_limit_source == TimeLimitSource::Default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_rounded_up_as_problemtools_does() {
        let legacy = TimeMultipliers {
            ac_to_time_limit: 5.0,
            time_limit_to_tle: 2.0,
            time_resolution: 1.0,
        };
        let ms = Duration::from_millis;
        assert_eq!(legacy.time_limit(ms(1000)), Duration::from_secs(5));
        assert_eq!(legacy.time_limit(ms(1001)), Duration::from_secs(6));
        assert_eq!(
            legacy.time_limit(ms(30)),
            Duration::from_secs(1),
            "at least one step"
        );
        assert_eq!(legacy.time_limit(ms(0)), Duration::from_secs(1));
        let draft = TimeMultipliers {
            ac_to_time_limit: 2.0,
            time_limit_to_tle: 1.5,
            time_resolution: 0.5,
        };
        assert_eq!(draft.time_limit(ms(1100)), ms(2500));
        assert_eq!(draft.time_limit(ms(100)), ms(500));
    }

    #[test]
    fn multipliers_come_from_problem_yaml_with_the_formats_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let write = |p: &str, t: &str| {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, t).expect("write");
        };
        write("data/secret/1.in", "1");
        write("data/secret/1.ans", "1");
        write("problem.yaml", "name: x\n");
        let mut p = ProblemPackage::load(root).expect("valid");
        assert!(p.needs_derived_time_limit());
        assert_eq!(TimeMultipliers::of(&p).ac_to_time_limit, 5.0);
        let times = vec![
            SubmissionTime {
                submission: "submissions/accepted/a.c".into(),
                time_ms: 400,
            },
            SubmissionTime {
                submission: "submissions/accepted/b.py".into(),
                time_ms: 1000,
            },
        ];
        assert_eq!(p.derive_time_limit(times), Some(Duration::from_secs(5)));
        assert_eq!(
            p.limits.time_limit_source,
            TimeLimitSource::DerivedFromSubmissions
        );
        assert_eq!(p.limits.derived.as_ref().map(|d| d.slowest_ms), Some(1000));
        assert_eq!(p.derive_time_limit(Vec::new()), None);

        write("problem.yaml", "limits:\n  time_multiplier: 3\n");
        assert_eq!(
            TimeMultipliers::of(&ProblemPackage::load(root).expect("valid")).ac_to_time_limit,
            3.0
        );
        write(
            "problem.yaml",
            "problem_format_version: 2023-07-draft\nname: x\nlimits:\n  time_resolution: 0.1\n  time_multipliers: {ac_to_time_limit: 1.5}\n",
        );
        let m = TimeMultipliers::of(&ProblemPackage::load(root).expect("valid"));
        assert_eq!(
            (m.ac_to_time_limit, m.time_limit_to_tle, m.time_resolution),
            (1.5, 1.5, 0.1)
        );
    }

    #[test]
    fn submissions_are_filed_by_folder_or_by_domjudge_tag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for (path, text) in [
            ("submissions/accepted/a.c", "int main(){}"),
            (
                "submissions/wrong_answer/b.py",
                "# @EXPECTED_RESULTS@: WRONG-ANSWER, TIMELIMIT\n",
            ),
            ("submissions/mixed/c.c", "/* @EXPECTED_RESULTS@: RUN-ERROR */"),
            ("submissions/mixed/d.c", "no tag"),
            ("submissions/accepted/e.c", "// @EXPECTED_RESULTS@: SLOW"),
            ("submissions/accepted/multi/main.c", ""),
        ] {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        let (subs, warnings) = packaged_submissions(root);
        let got: Vec<(&str, Vec<&str>, &str)> = subs
            .iter()
            .map(|s| {
                (
                    s.path.as_str(),
                    s.expected.iter().map(String::as_str).collect(),
                    s.expected_from.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("submissions/accepted/a.c", vec!["accepted"], "folder"),
                (
                    "submissions/mixed/c.c",
                    vec!["runtime_error", "memory_limit_exceeded"],
                    "tag"
                ),
                (
                    "submissions/wrong_answer/b.py",
                    vec!["wrong_answer", "time_limit_exceeded"],
                    "tag"
                ),
            ]
        );
        let all = warnings.join("\n");
        for needle in ["e.c", "SLOW", "d.c", "multi"] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }
}

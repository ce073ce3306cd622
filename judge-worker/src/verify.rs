//! Verifying a package on this machine (`judge-worker check-package --verify DIR`): every
//! submission the package carries is judged and must get a verdict its place allows (its folder,
//! or DOMjudge's `@EXPECTED_RESULTS@:` tag). When the package sets no time limit, the accepted
//! submissions are judged first under [`UNKNOWN_LIMIT_CAP`] and the limit is derived from their
//! times as problemtools derives it ([`ProblemPackage::derive_time_limit`]); the rest are then
//! judged under that limit.

use std::time::Duration;

use problem_package::verify::{packaged_submissions, DerivedTimeLimit, SubmissionTime};
use problem_package::{ProblemPackage, TimeLimitSource};
use serde::Serialize;

use crate::{Judge, JudgeOptions};

/// The limit accepted submissions run under while the real one is unknown. problemtools uses
/// 300 s; a minute keeps a broken "accepted" submission from holding a laptop for an hour.
pub const UNKNOWN_LIMIT_CAP: Duration = Duration::from_secs(60);

/// One packaged submission, judged.
#[derive(Debug, Clone, Serialize)]
pub struct SubmissionCheck {
    /// Path inside the package.
    pub path: String,
    pub language: Option<String>,
    /// The verdicts its place allows.
    pub expected: Vec<String>,
    /// `None`: not judged (see `note`).
    pub verdict: Option<String>,
    pub time_ms: u64,
    pub memory_kb: u64,
    /// Judged and got an allowed verdict.
    pub agrees: bool,
    pub note: Option<String>,
}

/// What verifying a package found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub time_limit_ms: u64,
    pub time_limit_source: TimeLimitSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived: Option<DerivedTimeLimit>,
    pub submissions: Vec<SubmissionCheck>,
    /// Submissions that could not be verified, and why.
    pub warnings: Vec<String>,
}

impl Verification {
    /// Every judged submission got a verdict its place allows, and at least one was judged.
    pub fn agrees(&self) -> bool {
        self.submissions.iter().any(|s| s.verdict.is_some())
            && self.submissions.iter().all(|s| s.agrees || s.verdict.is_none())
    }
}

/// Derives `package`'s time limit from its accepted submissions (judged under
/// [`UNKNOWN_LIMIT_CAP`]) when it sets none, as [`verify`] does first; returns those judgings.
/// Nothing is judged when the package sets a limit.
pub fn derive_time_limit(judge: &Judge, package: &mut ProblemPackage) -> Vec<SubmissionCheck> {
    if !package.needs_derived_time_limit() {
        return Vec::new();
    }
    let (subs, _) = packaged_submissions(&package.root);
    let mut capped = package.clone();
    capped.limits.time_limit_ms = UNKNOWN_LIMIT_CAP.as_millis() as u64;
    let mut checks = Vec::new();
    let mut times = Vec::new();
    for s in subs.into_iter().filter(|s| s.expected == ["accepted"]) {
        let mut check = SubmissionCheck {
            language: crate::language::language_of_file(std::path::Path::new(&s.path)),
            path: s.path,
            expected: s.expected,
            verdict: None,
            time_ms: 0,
            memory_kb: 0,
            agrees: false,
            note: None,
        };
        judge_one(judge, &mut check, &capped);
        if check.agrees {
            times.push(SubmissionTime {
                submission: check.path.clone(),
                time_ms: check.time_ms,
            });
        }
        checks.push(check);
    }
    package.derive_time_limit(times);
    checks
}

fn judge_one(judge: &Judge, check: &mut SubmissionCheck, package: &ProblemPackage) {
    let Some(language) = check.language.clone() else {
        check.note = Some("no language of this judge has this file name".into());
        return;
    };
    if judge.language(&language).is_none() {
        check.note = Some(format!("language {language} is not offered here"));
        return;
    }
    let source = match std::fs::read(package.root.join(&check.path)) {
        Ok(s) => s,
        Err(e) => {
            check.note = Some(e.to_string());
            return;
        }
    };
    let report = judge.judge(package, &language, &source, &JudgeOptions::default(), |_| {});
    let verdict = report.verdict.as_str().to_owned();
    check.agrees = check.expected.contains(&verdict);
    check.verdict = Some(verdict);
    check.time_ms = report.run_time_ms;
    check.memory_kb = report.memory_kb;
    check.note = report.error.clone();
}

/// Judges every submission `package` carries (deriving its time limit first when it sets none,
/// which `package` then keeps). `progress` hears of each submission as it starts.
pub fn verify(judge: &Judge, package: &mut ProblemPackage, mut progress: impl FnMut(&str)) -> Verification {
    let (subs, mut warnings) = packaged_submissions(&package.root);
    let mut checks: Vec<SubmissionCheck> = subs
        .iter()
        .map(|s| SubmissionCheck {
            path: s.path.clone(),
            language: crate::language::language_of_file(std::path::Path::new(&s.path)),
            expected: s.expected.clone(),
            verdict: None,
            time_ms: 0,
            memory_kb: 0,
            agrees: false,
            note: None,
        })
        .collect();
    let mut run = |check: &mut SubmissionCheck, package: &ProblemPackage| {
        progress(&check.path);
        judge_one(judge, check, package);
    };
    let only_accepted = |c: &SubmissionCheck| c.expected == ["accepted"];
    let mut done = vec![false; checks.len()];
    if package.needs_derived_time_limit() {
        let mut capped = package.clone();
        capped.limits.time_limit_ms = UNKNOWN_LIMIT_CAP.as_millis() as u64;
        let mut times = Vec::new();
        for (i, check) in checks.iter_mut().enumerate() {
            if !only_accepted(check) {
                continue;
            }
            run(check, &capped);
            done[i] = true;
            if check.agrees {
                times.push(SubmissionTime {
                    submission: check.path.clone(),
                    time_ms: check.time_ms,
                });
            }
        }
        if package.derive_time_limit(times).is_none() {
            warnings.push(format!(
                "the package sets no time limit and no accepted submission was judged: the default {} ms applies",
                package.limits.time_limit_ms
            ));
        }
    }
    for (i, check) in checks.iter_mut().enumerate() {
        if !done[i] {
            run(check, package);
        }
    }
    for c in &checks {
        if c.verdict.is_none() {
            warnings.push(format!(
                "{}: not judged ({})",
                c.path,
                c.note.as_deref().unwrap_or("?")
            ));
        }
    }
    Verification {
        time_limit_ms: package.limits.time_limit_ms,
        time_limit_source: package.limits.time_limit_source,
        derived: package.limits.derived.clone(),
        submissions: checks,
        warnings,
    }
}

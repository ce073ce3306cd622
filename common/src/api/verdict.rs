//! Grading outcomes as every service sees them: the judge produces them, the submission worker stores
//! them, the edge serves them. One definition, so a verdict means the same thing everywhere.

use serde::{Deserialize, Serialize};

/// The final judgement of a submission or of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    /// A scoring problem's submission that earned some of its points, not all.
    PartiallyAccepted,
    WrongAnswer,
    TimeLimitExceeded,
    MemoryLimitExceeded,
    RuntimeError,
    OutputLimitExceeded,
    CompilationError,
    /// The judge's fault (a broken package, a sandbox failure), never the submitter's.
    InternalError,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::PartiallyAccepted => "partially_accepted",
            Verdict::WrongAnswer => "wrong_answer",
            Verdict::TimeLimitExceeded => "time_limit_exceeded",
            Verdict::MemoryLimitExceeded => "memory_limit_exceeded",
            Verdict::RuntimeError => "runtime_error",
            Verdict::OutputLimitExceeded => "output_limit_exceeded",
            Verdict::CompilationError => "compilation_error",
            Verdict::InternalError => "internal_error",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text a program wrote (or a test's data), bounded: its start when there was more.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Output {
    pub text: String,
    /// Whether `text` is only part of it.
    pub truncated: bool,
}

/// The first line where a program's output and the expected output differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FirstDifference {
    /// 1-based.
    pub line: u32,
    /// That line of the expected output (absent: the expected output had ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// That line of the program's output (absent: the program's output had ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub got: Option<String>,
}

impl FirstDifference {
    /// Compares line by line, ignoring trailing whitespace on each line and trailing empty
    /// lines; `None` when the lines agree (the difference is then in spacing or tolerance).
    pub fn of(expected: &str, got: &str) -> Option<FirstDifference> {
        const CLIP: usize = 200;
        let lines = |t: &str| -> Vec<String> {
            let mut v: Vec<String> = t.lines().map(|l| l.trim_end().to_owned()).collect();
            while v.last().is_some_and(|l| l.is_empty()) {
                v.pop();
            }
            v
        };
        let clip = |l: &String| -> String {
            let mut end = l.len().min(CLIP);
            while !l.is_char_boundary(end) {
                end -= 1;
            }
            l[..end].to_owned()
        };
        let (e, g) = (lines(expected), lines(got));
        (0..e.len().max(g.len()))
            .find(|&i| e.get(i) != g.get(i))
            .map(|i| FirstDifference {
                line: i as u32 + 1,
                expected: e.get(i).map(clip),
                got: g.get(i).map(clip),
            })
    }
}

/// Why a *sample* test failed, shown to the learner (whose statement shows the sample anyway):
/// the input, the expected output and what the program printed, each bounded. A secret test
/// never has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Feedback {
    pub input: Output,
    pub expected: Output,
    /// What the program wrote on standard output.
    pub got: Output,
    /// Where `got` first departs from `expected`, line by line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_difference: Option<FirstDifference>,
}

/// Whether a test's data is shown in the statement (a sample) rather than kept secret.
pub fn is_sample(test_name: &str) -> bool {
    test_name.starts_with("sample/")
}

/// The outcome of one test case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestResult {
    /// 1-based position in the problem's test order (samples first, then secret groups in
    /// lexicographic order).
    pub index: u32,
    /// The test's name inside the package, e.g. `secret/group1/03`.
    pub name: String,
    pub verdict: Verdict,
    /// CPU time (user + system) of the whole process tree.
    pub time_ms: u64,
    /// Wall-clock time.
    pub wall_time_ms: u64,
    /// Peak resident memory of the whole process tree.
    pub memory_kb: u64,
    /// Exit code or signal and similar detail for `runtime_error`, validator feedback for
    /// `wrong_answer`; short, never the test data itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What the program wrote on standard error (its start and its end, a few KiB), on sample
    /// tests only: a secret test's could carry its data out. Standard error is never output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// The program's exit code, when it ended by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended the program (a crash, or the judge's kill at a limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// On the first failing sample test only: its data and what the program printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<Feedback>,
}

impl TestResult {
    /// What may leave the judge of this result: everything for a sample; for a secret test only
    /// its verdict, time and memory (a validator's message, standard error, even an exit code
    /// can carry a secret test's data out).
    pub fn shown_to_learner(mut self) -> TestResult {
        if !is_sample(&self.name) {
            self.detail = None;
            self.stderr = None;
            self.exit_code = None;
            self.signal = None;
            self.feedback = None;
        }
        self
    }
}

/// One scored test group of a scoring problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupResult {
    /// Its path inside the package's `data/`, e.g. `secret/group1`.
    pub name: String,
    /// `accepted` when every test case in it was, else the first other verdict among them.
    pub verdict: Verdict,
    pub score: f64,
    pub max_score: f64,
    /// How many of its test cases (subgroups included) were accepted, of how many.
    pub accepted_tests: u32,
    pub tests: u32,
}

/// The outcome of judging one submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JudgeReport {
    pub verdict: Verdict,
    /// Maximum CPU time over the tests that ran.
    pub run_time_ms: u64,
    /// Maximum peak memory over the tests that ran.
    pub memory_kb: u64,
    pub tests: Vec<TestResult>,
    /// The compiler's output (truncated), present when there was a compile step with output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile_output: Option<String>,
    /// Why the judge failed, for `internal_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A scoring problem's score: what the secret groups earned (samples never count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The most a scoring problem's submission can earn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_score: Option<f64>,
    /// A scoring problem's groups, `secret` first, then its subgroups in test order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupResult>,
}

impl JudgeReport {
    /// The report with every secret test reduced to what may be shown (see
    /// [`TestResult::shown_to_learner`]): what a judge publishes.
    pub fn shown_to_learner(mut self) -> JudgeReport {
        self.tests = self.tests.into_iter().map(TestResult::shown_to_learner).collect();
        self
    }

    /// A report with its verdict only: no tests, no figures, no output.
    pub fn of(verdict: Verdict) -> JudgeReport {
        JudgeReport {
            verdict,
            run_time_ms: 0,
            memory_kb: 0,
            tests: Vec::new(),
            compile_output: None,
            error: None,
            score: None,
            max_score: None,
            groups: Vec::new(),
        }
    }

    /// The report of a job the judges could not grade, with the reason.
    pub fn internal_error(reason: impl Into<String>) -> JudgeReport {
        JudgeReport {
            error: Some(reason.into()),
            ..JudgeReport::of(Verdict::InternalError)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_differing_line_is_marked() {
        let d = FirstDifference::of("3\n4\n5\n", "3\n4 \n6\n").unwrap();
        assert_eq!(
            (d.line, d.expected.as_deref(), d.got.as_deref()),
            (3, Some("5"), Some("6"))
        );
        let d = FirstDifference::of("1\n2\n", "1\n").unwrap();
        assert_eq!((d.line, d.got), (2, None));
        let d = FirstDifference::of("1\n", "1\n2\n").unwrap();
        assert_eq!((d.line, d.expected, d.got.as_deref()), (2, None, Some("2")));
        assert_eq!(
            FirstDifference::of("1\n\n", "1"),
            None,
            "trailing blank lines do not count"
        );
        let long = "é".repeat(300);
        let d = FirstDifference::of(&long, "").unwrap();
        assert!(d.expected.unwrap().len() <= 200);
    }

    #[test]
    fn a_secret_test_shows_only_verdict_time_and_memory() {
        let test = |name: &str| TestResult {
            index: 1,
            name: name.to_owned(),
            verdict: Verdict::WrongAnswer,
            time_ms: 5,
            wall_time_ms: 6,
            memory_kb: 7,
            detail: Some("token 1: expected \"secret\"".into()),
            stderr: Some("secret".into()),
            exit_code: Some(0),
            signal: None,
            feedback: Some(Feedback {
                input: Output::default(),
                expected: Output::default(),
                got: Output::default(),
                first_difference: None,
            }),
        };
        let report = JudgeReport {
            verdict: Verdict::WrongAnswer,
            run_time_ms: 5,
            memory_kb: 7,
            tests: vec![test("sample/1"), test("secret/1")],
            compile_output: None,
            error: None,
            score: None,
            max_score: None,
            groups: Vec::new(),
        }
        .shown_to_learner();
        assert_eq!(report.tests[0], test("sample/1"), "a sample keeps everything");
        let secret = serde_json::to_value(&report.tests[1]).unwrap();
        let mut keys: Vec<_> = secret.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["index", "memory_kb", "name", "time_ms", "verdict", "wall_time_ms"]
        );
    }
}

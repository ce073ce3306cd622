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
    /// The report of a job the judges could not grade, with the reason.
    pub fn internal_error(reason: impl Into<String>) -> JudgeReport {
        JudgeReport {
            verdict: Verdict::InternalError,
            run_time_ms: 0,
            memory_kb: 0,
            tests: Vec::new(),
            compile_output: None,
            error: Some(reason.into()),
            score: None,
            max_score: None,
            groups: Vec::new(),
        }
    }
}

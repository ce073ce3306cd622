//! Runs without grading (`/api/runs`): a learner's code compiled and run in the judges' sandbox,
//! with the judges' limits, on a problem's samples or on input of their own. A run is never a
//! submission: it is not stored in the database, never scored, and forgotten after a while.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::body::Field;
use super::verdict::{Output, Verdict};

/// `POST /api/runs`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewRun {
    /// Run on this problem's samples (or, with `stdin`, on that input with this problem's
    /// limits).
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, example = "aplusb")]
    pub problem_id: Field<String>,
    /// A language id of `GET /api/languages`.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, example = "python3")]
    pub language: Field<String>,
    /// At most 64 KiB.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 65536,
        example = "a, b = map(int, input().split())\nprint(a + b)\n")]
    pub source: Field<String>,
    /// The program's standard input (at most 64 KiB). Without it the run is on the problem's
    /// samples; without it and without a problem, on an empty input.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 65536, example = "1 2\n")]
    pub stdin: Field<String>,
}
crate::inspect_fields!(NewRun {
    problem_id,
    language,
    source,
    stdin
});

/// Where a run stands. It only moves forward: `queued → compiling → running → done`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Compiling,
    Running,
    Done,
}

impl RunStatus {
    /// Whether the run is over (its live stream ends after it).
    pub fn is_final(self) -> bool {
        self == RunStatus::Done
    }
}

/// What one case of a run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunCase {
    /// `sample/1`, … for samples, `stdin` for the caller's own input.
    pub name: String,
    /// For a sample: its verdict. For the caller's own input: `accepted` or `wrong_answer` when
    /// an expected output was given; else only when the run failed (a limit, a runtime error),
    /// absent when it ran to a normal end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The sample's input and expected output (the caller can read them in the statement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Output>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Output>,
    pub stdout: Output,
    pub stderr: Output,
    /// The exit code, when the program ended by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended the program, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// CPU time (user + system) of the whole process tree.
    pub time_ms: u64,
    pub wall_time_ms: u64,
    /// Peak memory of the whole process tree.
    pub memory_kb: u64,
    /// Why the case failed (a limit, the validator's message), short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What a judge found when it ran the code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunReport {
    /// On samples: the first failing sample's verdict, else `accepted`; `compilation_error` when
    /// it does not compile; `internal_error` when the judge failed. On the caller's own input:
    /// only `compilation_error` or `internal_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(default)]
    pub cases: Vec<RunCase>,
    /// The compiler's output (truncated), when it said anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile_output: Option<String>,
    /// Why the judge failed, for `internal_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time the judge spent on the run once a sandbox slot was free: fetching the problem,
    /// compiling and every case, in milliseconds. The rest of a run's latency is queueing and
    /// transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_ms: Option<u64>,
    /// How long the run waited from being accepted to a judge starting it (its queue and a free
    /// sandbox slot), in milliseconds, by the judge's clock against the accepting worker's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_ms: Option<u64>,
}

/// A run as the API shows it, and as it is kept (a few minutes) while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Run {
    pub id: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_id: Option<String>,
    pub language: String,
    pub source: String,
    /// The caller's input; absent: the problem's samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// What the output must be (compared token by token, as the default validator does), for
    /// a run on the caller's input (Judge0's `expected_output`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_output: Option<String>,
    pub status: RunStatus,
    pub created_at: DateTime<Utc>,
    /// The report: empty until `done`.
    #[serde(default, flatten)]
    pub report: RunReport,
}

/// The answer to `POST /api/runs` when it does not wait (202): where to follow the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunAccepted {
    pub id: String,
    pub status: RunStatus,
}

/// The query of `POST /api/runs`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// Answer when the run is done (200 with the run), or after a bounded wait with 202 and the
    /// run as it stands.
    pub wait: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_done_run_shows_its_report_flat() {
        let run = Run {
            id: "r".into(),
            user_id: "u".into(),
            problem_id: None,
            language: "c".into(),
            source: "int main;".into(),
            stdin: None,
            expected_output: None,
            status: RunStatus::Done,
            created_at: chrono::DateTime::from_timestamp_millis(0).unwrap(),
            report: RunReport {
                verdict: Some(Verdict::CompilationError),
                compile_output: Some("error".into()),
                ..Default::default()
            },
        };
        let v = serde_json::to_value(&run).unwrap();
        assert_eq!(v["status"], "done");
        assert_eq!(v["verdict"], "compilation_error");
        let back: Run = serde_json::from_value(v).unwrap();
        assert_eq!(back, run);
        assert!(RunStatus::Done.is_final() && !RunStatus::Running.is_final());
    }
}

//! Submissions: the status machine, the document the API shows, and the events of its live
//! stream.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::body::Field;
use super::verdict::{GroupResult, JudgeReport, TestResult, Verdict};
use crate::jobs::{GradingStatus, GradingUpdate};

/// Where a submission stands. It only moves forward: `queued → compiling → running → judged`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Compiling,
    Running,
    Judged,
}

impl Status {
    /// Every status, in order.
    pub const ALL: [Status; 4] = [Status::Queued, Status::Compiling, Status::Running, Status::Judged];
    /// The statuses of a submission that still waits for its verdict.
    pub const WAITING: [Status; 3] = [Status::Queued, Status::Compiling, Status::Running];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Compiling => "compiling",
            Status::Running => "running",
            Status::Judged => "judged",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the verdict is in (the live stream ends after it).
    pub fn is_final(self) -> bool {
        self == Status::Judged
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which test is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// 1-based.
    pub test: u32,
    pub of: u32,
}

/// A submission as the API shows it. Lists leave out `source`, `tests` and `compile_output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Submission {
    pub id: String,
    pub user_id: String,
    pub problem_id: String,
    pub problem_version: u32,
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// The verdict and its figures, once judged.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Which judging this is: 1, and one more with each rejudge.
    #[serde(default = "crate::jobs::first_judging")]
    pub judging: u32,
    /// The rejudge this judging belongs to, if any (`GET /api/rejudges/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejudge_id: Option<String>,
    /// The earlier judgings, oldest first (empty until it is rejudged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Judging>,
}

/// One earlier judging of a submission, kept when it was judged again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Judging {
    /// 1 for the first judging.
    pub judging: u32,
    /// The problem version it was judged on.
    pub problem_version: u32,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_kb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// When that verdict was stored, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_at: Option<DateTime<Utc>>,
}

/// What judging a submission found; every field is absent until it is judged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Outcome {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Maximum CPU time over the tests that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_time_ms: Option<u64>,
    /// Maximum peak memory over the tests that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_kb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<Vec<TestResult>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile_output: Option<String>,
    /// Why the judge failed, for `internal_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Which delivery of the grading job produced the verdict (1 for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u64>,
    /// A scoring problem's score (see [`JudgeReport::score`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_score: Option<f64>,
    /// A scoring problem's groups (see [`JudgeReport::groups`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupResult>>,
}

impl Outcome {
    /// Every field's name as serialised: what clearing a judged record's outcome removes.
    pub const FIELDS: [&'static str; 10] = [
        "verdict",
        "run_time_ms",
        "memory_kb",
        "tests",
        "compile_output",
        "error",
        "attempt",
        "score",
        "max_score",
        "groups",
    ];

    /// The outcome a judge's report makes, from delivery `attempt`.
    pub fn judged(report: &JudgeReport, attempt: u64) -> Outcome {
        Outcome {
            verdict: Some(report.verdict),
            run_time_ms: Some(report.run_time_ms),
            memory_kb: Some(report.memory_kb),
            tests: Some(report.tests.clone()),
            compile_output: report.compile_output.clone(),
            error: report.error.clone(),
            attempt: Some(attempt),
            score: report.score,
            max_score: report.max_score,
            groups: (!report.groups.is_empty()).then(|| report.groups.clone()),
        }
    }
}

/// `POST /api/submissions`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewSubmission {
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, example = "aplusb")]
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
}
crate::inspect_fields!(NewSubmission {
    problem_id,
    language,
    source
});

/// The query of `GET /api/submissions`: the caller's own submissions, optionally of one problem
/// or in one status, paged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubmissionQuery {
    /// Only submissions to this problem.
    pub problem_id: Option<String>,
    /// Only submissions in this status.
    #[param(value_type = Option<Status>)]
    pub status: Option<String>,
    /// Items per page, 1 to 100.
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl SubmissionQuery {
    /// The paging part.
    pub fn page(&self) -> super::PageQuery {
        super::PageQuery {
            limit: self.limit.clone(),
            cursor: self.cursor.clone(),
        }
    }
}

/// The answer to `POST /api/submissions` (202): where it stands and, in `Location`, where to
/// follow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubmissionAccepted {
    pub id: String,
    pub status: Status,
}

/// One event of `GET /api/submissions/{id}/events`: the submission as it stands (the first
/// event), or what changed. Its SSE id grows with progress ([`StatusEvent::rank`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusEvent {
    pub id: String,
    pub status: Status,
    /// Which judging the event belongs to (more than 1 during a rejudge).
    #[serde(default = "crate::jobs::first_judging")]
    pub judging: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// The verdict and its figures, on the last event.
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub report: Option<JudgeReport>,
}

impl StatusEvent {
    /// The event a judge's update makes.
    pub fn from_update(update: &GradingUpdate) -> StatusEvent {
        let (status, progress, report) = match &update.status {
            GradingStatus::Compiling => (Status::Compiling, None, None),
            GradingStatus::Running { test, of } => {
                (Status::Running, Some(Progress { test: *test, of: *of }), None)
            }
            GradingStatus::Judged { report } => (Status::Judged, None, Some(report.clone())),
        };
        StatusEvent {
            id: update.submission_id.clone(),
            status,
            judging: update.judging,
            progress,
            report,
        }
    }

    /// An SSE id that grows with progress, so a client's `Last-Event-ID` says how far it got; a
    /// later judging (a rejudge) ranks above every step of the one before.
    pub fn rank(judging: u32, status: Status, progress: Option<Progress>) -> u64 {
        let step = match status {
            Status::Queued => 0,
            Status::Compiling => 1,
            Status::Running => 1 + u64::from(progress.map_or(0, |p| p.test)),
            Status::Judged => 1 << 33,
        };
        (u64::from(judging.max(1)) - 1) * (1 << 34) + step
    }
}

impl Submission {
    /// Its SSE id (see [`StatusEvent::rank`]).
    pub fn rank(&self) -> u64 {
        StatusEvent::rank(self.judging, self.status, self.progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_spell_as_the_api_does() {
        for s in Status::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert!(Status::Queued < Status::Running && Status::Running < Status::Judged);
    }

    #[test]
    fn the_field_list_names_every_field_of_an_outcome() {
        let full = Outcome {
            verdict: Some(Verdict::Accepted),
            run_time_ms: Some(1),
            memory_kb: Some(1),
            tests: Some(Vec::new()),
            compile_output: Some(String::new()),
            error: Some(String::new()),
            attempt: Some(1),
            score: Some(1.0),
            max_score: Some(1.0),
            groups: Some(Vec::new()),
        };
        let serialised = serde_json::to_value(full).unwrap();
        let mut names: Vec<&str> = serialised
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut listed = Outcome::FIELDS.to_vec();
        names.sort_unstable();
        listed.sort_unstable();
        assert_eq!(names, listed);
    }

    #[test]
    fn a_verdict_event_carries_the_report_flat() {
        let update = GradingUpdate {
            submission_id: "s".into(),
            attempt: 1,
            judging: 1,
            status: GradingStatus::Judged {
                report: JudgeReport::internal_error("boom"),
            },
        };
        let event = serde_json::to_value(StatusEvent::from_update(&update)).unwrap();
        assert_eq!(event["status"], "judged");
        assert_eq!(event["verdict"], "internal_error");
        assert_eq!(event["error"], "boom");
        assert!(
            StatusEvent::rank(1, Status::Judged, None)
                > StatusEvent::rank(1, Status::Running, Some(Progress { test: 99, of: 99 }))
        );
        // A rejudge starts again from `queued`, above everything of the judging before.
        assert!(StatusEvent::rank(2, Status::Queued, None) > StatusEvent::rank(1, Status::Judged, None));
    }
}

//! Rejudges: an admin judges a problem's submissions again (all of them, those with given
//! verdicts, or those judged on versions before a given one), behind new submissions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::body::Field;
use super::verdict::Verdict;

/// `POST /api/problems/{id}/rejudge`. An empty body, or `{}`, rejudges every judged submission
/// of the problem.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewRejudge {
    /// Only submissions whose verdict is one of these.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Verdict>>, example = json!(["wrong_answer", "time_limit_exceeded"]))]
    pub verdicts: Field<Vec<String>>,
    /// Only submissions judged on a problem version before this one (e.g. the current version,
    /// to rejudge what an older package judged).
    #[serde(default)]
    #[schema(value_type = Option<u32>, minimum = 1, example = 2)]
    pub before_version: Field<u32>,
}
crate::inspect_fields!(NewRejudge {
    verdicts,
    before_version
});

/// The answer to `POST /api/problems/{id}/rejudge` (202): how many submissions it judges again
/// and, in `Location`, where to follow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RejudgeAccepted {
    pub id: String,
    pub total: u64,
}

/// A rejudge and how far it got (`GET /api/rejudges/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rejudge {
    pub id: String,
    pub problem_id: String,
    /// The problem version the submissions are judged on now.
    pub problem_version: u32,
    /// The filter asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdicts: Option<Vec<Verdict>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_version: Option<u32>,
    /// Submissions selected.
    pub total: u64,
    /// Of those, queued for their new judging so far (all of them once the rejudge is under way,
    /// but those that were no longer judged when their turn came).
    pub queued: u64,
    /// Of those, judged again so far.
    pub judged: u64,
    /// Of those judged again, how many got another verdict than the judging before.
    pub changed: u64,
    /// Still waiting for their new verdict (queued or being judged).
    pub waiting: u64,
    /// Every selected submission judged again.
    pub done: bool,
    /// Who asked.
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
}

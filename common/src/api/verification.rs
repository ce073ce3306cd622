//! Problem versions and their verification: every uploaded package's own submissions
//! (`submissions/<verdict>/…`, DOMjudge's `@EXPECTED_RESULTS@:` tags) are judged through the
//! pipeline, behind new submissions, and must each get a verdict its place allows. A version whose
//! submissions disagree is not used for new submissions unless an admin activates it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::submission::{Progress, Status};
use super::verdict::Verdict;

/// How a version's verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Its submissions are being judged.
    Running,
    /// Every judged submission got a verdict its place allows.
    Passed,
    /// At least one got a verdict its place does not allow: the version is held back.
    Failed,
    /// Nothing could be judged: the package carries no submission, or none in a language a judge
    /// offers. Used at once, with a warning.
    Unverified,
    /// The uploader asked for no verification (`?verify=false`). Used at once.
    Skipped,
}

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::Running => "running",
            VerificationStatus::Passed => "passed",
            VerificationStatus::Failed => "failed",
            VerificationStatus::Unverified => "unverified",
            VerificationStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<VerificationStatus> {
        [
            VerificationStatus::Running,
            VerificationStatus::Passed,
            VerificationStatus::Failed,
            VerificationStatus::Unverified,
            VerificationStatus::Skipped,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// Whether a version in this state becomes the one new submissions use without an admin.
    pub fn activates(self) -> bool {
        !matches!(self, VerificationStatus::Running | VerificationStatus::Failed)
    }
}

/// One uploaded version of a problem (`GET /api/problems/{id}/versions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProblemVersion {
    pub problem_id: String,
    pub version: u32,
    /// Hex SHA-256 of the package zip.
    pub package_digest: String,
    pub verification: VerificationStatus,
    /// New submissions are judged on this version now.
    pub active: bool,
    /// Packaged submissions to judge (those that cannot be judged here are not counted).
    pub total: u32,
    /// Of those, judged so far.
    pub judged: u32,
    /// Of those judged, how many got a verdict their place does not allow.
    pub disagreeing: u32,
    pub uploaded_at: DateTime<Utc>,
    /// When the last packaged submission was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<DateTime<Utc>>,
    /// When it became the version new submissions use, and by whom (`verification`, or the admin's
    /// user id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_by: Option<String>,
}

/// One packaged submission and how it fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PackagedCheck {
    /// Its path inside the package (`submissions/accepted/sum.cpp`).
    pub path: String,
    /// The language it is judged as, if a judge offers one for its file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The verdicts its place allows.
    pub expected: Vec<Verdict>,
    /// `queued` to `judged`; absent when it is not judged (see `note`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_kb: Option<u64>,
    /// Judged, and the verdict is one its place allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agrees: Option<bool>,
    /// Why it is not judged, or what the judge said of an unexpected verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A version's verification report (`GET /api/problems/{id}/versions/{version}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerificationReport {
    #[serde(flatten)]
    pub version: ProblemVersion,
    /// The time limit in force for the package, and where it came from.
    pub limits: super::ProblemLimits,
    pub submissions: Vec<PackagedCheck>,
    /// Packaged files that are not verified (several files, an unknown folder, an unreadable
    /// tag, a language no judge offers), and why.
    pub warnings: Vec<String>,
}

/// The latest upload of a problem and its verification, as the problem shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LatestVersion {
    pub version: u32,
    pub verification: VerificationStatus,
}

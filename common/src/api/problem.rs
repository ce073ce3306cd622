//! Programming problems as the API shows them (not to be confused with RFC 9457 problem
//! documents, which are [`crate::problem`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

// The format's own types are the API's: a statement, a sample and the limits mean the same in a
// package and in an answer, so they are defined once, by the package crate.
pub use problem_package::{ProblemLimits, Sample, Statement, StatementFormat, TimeLimitSource};

/// A problem in the list (`GET /api/problems`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProblemSummary {
    pub id: String,
    pub name: String,
    /// Grows by one with every upload of a changed package.
    pub version: u32,
    pub limits: ProblemLimits,
}

/// Which statement `GET /api/problems/{id}/statement` serves, as strings from the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// A language code (default: `en`, else the first statement's).
    pub language: Option<String>,
    /// `markdown`, `latex`, `html`, `pdf` or `text` (default: the first in that language).
    pub format: Option<String>,
}

/// One problem (`GET /api/problems/{id}`, and the answer to an upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProblemDetail {
    #[serde(flatten)]
    pub summary: ProblemSummary,
    pub statements: Vec<Statement>,
    pub samples: Vec<Sample>,
    /// What is odd about the package but did not stop it being judged (no statement, samples
    /// only, …).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The newest upload and how its verification stands. When its version is not `version`,
    /// new submissions still use `version` (the newer one is being verified, or failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<super::LatestVersion>,
    /// New submissions are refused: the problem's only version failed its verification, and no
    /// admin activated it anyway.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

//! The HTTP API's documents, as every crate sees them: what the workers answer, what the edge
//! passes on, what clients read. One definition per document, so a field means the same thing
//! everywhere. Dates are `chrono::DateTime<Utc>` and serialise as RFC 3339 UTC; how a service
//! stores them is its own business.

pub mod body;
pub mod comment;
pub mod language;
pub mod page;
pub mod problem;
pub mod rejudge;
pub mod run;
pub mod submission;
pub mod verdict;
pub mod verification;

pub use body::{BodyError, Field, Fields};
pub use comment::{Comment, NewComment};
pub use language::Language;
pub use page::{Page, PageQuery};
pub use problem::{
    ProblemDetail, ProblemLimits, ProblemSummary, Sample, Statement, StatementFormat, StatementQuery,
};
pub use rejudge::{NewRejudge, Rejudge, RejudgeAccepted};
pub use run::{NewRun, Run, RunAccepted, RunCase, RunQuery, RunReport, RunStatus};
pub use submission::{
    Judging, NewSubmission, Outcome, Progress, Status, StatusEvent, Submission, SubmissionAccepted,
    SubmissionQuery,
};
pub use verdict::{
    is_sample, Feedback, FirstDifference, GroupResult, JudgeReport, Output, TestResult, Verdict,
};
pub use verification::{
    LatestVersion, PackagedCheck, ProblemVersion, VerificationReport, VerificationStatus,
};

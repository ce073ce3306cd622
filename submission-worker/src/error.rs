//! The submission worker's one error type, and the one place its errors become problem
//! documents.

use common::api::BodyError;
use common::service::ServiceError;
use common::{FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    /// The body or query is not what the operation takes (every bad field named).
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("authentication required")]
    Unauthenticated,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The resource does not exist (or is not the caller's to see).
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("the request names no resource")]
    MissingId,
    #[error("no such operation: {0}")]
    NoSuchOperation(String),
    /// Over the per-minute rate; allowed again after `retry_after` seconds.
    #[error("at most {per_minute} submissions a minute")]
    RateLimited { per_minute: i64, retry_after: u64 },
    /// Over the per-minute rate of runs; allowed again after `retry_after` seconds.
    #[error("at most {per_minute} runs a minute")]
    RunRateLimited { per_minute: i64, retry_after: u64 },
    #[error("at most {max} submissions waiting at once")]
    TooManyQueued { max: i64 },
    #[error("the idempotency key is being used right now")]
    IdempotencyConflict,
    /// The problem's version in use failed its own verification; an admin must activate one.
    #[error("the problem is held back")]
    ProblemHeld,
    /// The package cannot be judged; every reason.
    #[error("invalid package: {}", .0.join("; "))]
    InvalidPackage(Vec<String>),
    /// The store failed; the client may retry.
    #[error("store: {0}")]
    Store(#[from] mongodb::error::Error),
    /// JetStream (the package store) failed; the client may retry.
    #[error("broker: {0}")]
    Broker(String),
    /// The per-user counters (a NATS key-value bucket) are unreachable.
    #[error("submission counters: {0}")]
    Counters(String),
    #[error("internal: {0}")]
    Internal(String),

    // Start-up failures (never sent to a client).
    #[error(transparent)]
    Migrate(#[from] mongo_store::migrate::MigrateError),
    #[error("nats: {0}")]
    Nats(#[from] async_nats::Error),
    #[error("nats connect: {0}")]
    Connect(#[from] async_nats::ConnectError),
}

impl ServiceError for SubmissionError {
    fn problem(&self) -> Problem {
        use SubmissionError as E;
        match self {
            E::Body(e) => e.problem(),
            E::Unauthenticated => Problem::new(401, "unauthenticated", "Authentication required"),
            E::Forbidden(why) => Problem::new(403, "forbidden", why),
            E::NotFound(what) => Problem::new(404, "not_found", &format!("No such {what}")),
            E::MissingId => Problem::new(400, "missing_id", "The request names no resource"),
            E::NoSuchOperation(subject) => {
                Problem::new(404, "not_found", "No such operation").with_detail(subject.clone())
            }
            E::RateLimited {
                per_minute,
                retry_after,
            } => Problem::new(429, "rate_limited", "Too many submissions this minute").with_detail(format!(
                "at most {per_minute} a minute; try again in {retry_after} s"
            )),
            E::RunRateLimited {
                per_minute,
                retry_after,
            } => Problem::new(429, "rate_limited", "Too many runs this minute").with_detail(format!(
                "at most {per_minute} a minute; try again in {retry_after} s"
            )),
            E::TooManyQueued { max } => Problem::new(
                429,
                "too_many_queued",
                "Too many submissions waiting to be judged",
            )
            .with_detail(format!("at most {max} waiting at once")),
            E::IdempotencyConflict => {
                Problem::new(409, "conflict", "The idempotency key is being used right now")
            }
            E::ProblemHeld => Problem::new(
                409,
                "problem_held",
                "The problem takes no submissions: its package's own submissions disagree with it",
            )
            .with_detail("an admin can upload a fixed package or activate a version (POST /api/problems/{id}/versions/{version}/activate)"),
            E::InvalidPackage(reasons) => Problem {
                detail: Some("the problem package is invalid".to_owned()),
                errors: reasons
                    .iter()
                    .map(|message| FieldError::new("package", message.clone()))
                    .collect(),
                ..Problem::new(422, "invalid_package", "The problem package is invalid")
            },
            E::Store(e) => {
                tracing::error!(error = %e, "store unavailable");
                Problem::new(503, "store_unavailable", "The submission store is unavailable")
                    .with_detail("try again shortly")
            }
            E::Broker(why) => Problem::new(503, "broker_unavailable", "The package store is unavailable")
                .with_detail(why.clone()),
            E::Counters(why) => {
                tracing::error!(error = %why, "submission counters unavailable");
                Problem::new(
                    503,
                    "counters_unavailable",
                    "The submission counters are unavailable",
                )
                .with_detail("try again shortly")
            }
            other => {
                Problem::new(500, "internal", "The submission service failed").with_detail(other.to_string())
            }
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            SubmissionError::RateLimited { retry_after, .. }
            | SubmissionError::RunRateLimited { retry_after, .. } => Some(*retry_after),
            SubmissionError::TooManyQueued { .. } => Some(5),
            _ => None,
        }
    }
}

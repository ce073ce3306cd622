//! NATS subjects, service names and header names: the wire contract between the edge and the
//! workers. Every subject is spelled here once; `nats.conf` grants permissions on the same names.

/// The auth service (`nats micro info auth`), its queue group and endpoint subjects.
pub mod auth {
    pub const SERVICE: &str = "auth";
    pub const QUEUE_GROUP: &str = "auth";
    pub const REGISTER: &str = "auth.register";
    pub const LOGIN: &str = "auth.login";
    pub const REFRESH: &str = "auth.refresh";
    pub const LOGOUT: &str = "auth.logout";
    pub const ME: &str = "auth.me";
}

/// The submission service: problems, submissions, comments, languages.
pub mod submission {
    pub const SERVICE: &str = "submission";
    pub const QUEUE_GROUP: &str = "submission";
    pub const LANGUAGES: &str = "submission.languages.list";
    pub const PROBLEMS_CREATE: &str = "submission.problems.create";
    pub const PROBLEMS_LIST: &str = "submission.problems.list";
    pub const PROBLEMS_GET: &str = "submission.problems.get";
    pub const PROBLEMS_STATEMENT: &str = "submission.problems.statement";
    pub const SUBMISSIONS_CREATE: &str = "submission.submissions.create";
    pub const SUBMISSIONS_GET: &str = "submission.submissions.get";
    pub const SUBMISSIONS_LIST: &str = "submission.submissions.list";
    pub const COMMENTS_LIST: &str = "submission.comments.list";
    pub const COMMENTS_CREATE: &str = "submission.comments.create";
    pub const COMMENTS_DELETE: &str = "submission.comments.delete";
    pub const RUNS_CREATE: &str = "submission.runs.create";
    pub const RUNS_GET: &str = "submission.runs.get";
    pub const REJUDGES_CREATE: &str = "submission.rejudges.create";
    pub const REJUDGES_GET: &str = "submission.rejudges.get";
    /// A problem's uploaded versions (resource: the problem id).
    pub const VERSIONS_LIST: &str = "submission.versions.list";
    /// One version's verification report (resource: `<problem>:<version>`).
    pub const VERSIONS_GET: &str = "submission.versions.get";
    /// Puts a version in use (resource: `<problem>:<version>`).
    pub const VERSIONS_ACTIVATE: &str = "submission.versions.activate";
}

/// The Judge0-compatible layer, served by the submission service (`/judge0/…` at the edge): it
/// translates Judge0 CE's requests into runs and runs into Judge0's answers.
pub mod judge0 {
    pub const SUBMISSIONS_CREATE: &str = "submission.judge0.submissions.create";
    pub const SUBMISSIONS_GET: &str = "submission.judge0.submissions.get";
    pub const BATCH_CREATE: &str = "submission.judge0.batch.create";
    pub const BATCH_GET: &str = "submission.judge0.batch.get";
    pub const LANGUAGES: &str = "submission.judge0.languages.list";
    pub const LANGUAGE: &str = "submission.judge0.languages.get";
    pub const STATUSES: &str = "submission.judge0.statuses";
    pub const ABOUT: &str = "submission.judge0.about";
    pub const CONFIG_INFO: &str = "submission.judge0.config_info";
}

/// The request subjects whose handlers only read: a request to one of them whose answer was lost
/// (the NATS node between caller and worker died with it) may be sent again as it is.
pub const READS: &[&str] = &[
    auth::ME,
    submission::LANGUAGES,
    submission::PROBLEMS_LIST,
    submission::PROBLEMS_GET,
    submission::PROBLEMS_STATEMENT,
    submission::SUBMISSIONS_GET,
    submission::SUBMISSIONS_LIST,
    submission::COMMENTS_LIST,
    submission::RUNS_GET,
    submission::REJUDGES_GET,
    submission::VERSIONS_LIST,
    submission::VERSIONS_GET,
    judge0::SUBMISSIONS_GET,
    judge0::BATCH_GET,
    judge0::LANGUAGES,
    judge0::LANGUAGE,
    judge0::STATUSES,
    judge0::ABOUT,
    judge0::CONFIG_INFO,
];

/// The judge service (`nats micro info judge`): its metadata lists the languages it runs.
pub mod judge {
    pub const SERVICE: &str = "judge";
    /// The metadata key holding the languages, a JSON array of `{id, name, version}`.
    pub const LANGUAGES_METADATA: &str = "languages";
}

/// The grading pipeline's subjects (the streams over them are in [`crate::jobs`]).
pub mod jobs {
    /// Grading jobs, one message per submission (the `JOBS` work queue).
    pub const GRADE: &str = "jobs.grade";
    /// Every submission's updates (the `RESULTS` stream).
    pub const RESULTS: &str = "results.>";
    /// Runs without grading, one message per run (the `RUNS` work queue, pulled ahead of grading
    /// jobs).
    pub const RUN: &str = "jobs.run";
    /// Judging again of submissions already judged, one message per submission and judging (the
    /// `REJUDGE` work queue, pulled only when no new submission waits).
    pub const REJUDGE: &str = "jobs.rejudge";

    /// The subject on which a key-value bucket's entry `key` changes: a core subscription to it
    /// sees every new value (how the edge follows a run).
    pub fn key_value_entry(bucket: &str, key: &str) -> String {
        format!("$KV.{bucket}.{key}")
    }

    /// The updates of one submission: progress, then the verdict.
    pub fn results(submission_id: &str) -> String {
        format!("results.{submission_id}")
    }

    /// The advisory JetStream sends when a message of `stream`'s durable `consumer` reached its
    /// last delivery without an ack.
    pub fn max_deliveries_advisory(stream: &str, consumer: &str) -> String {
        format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}")
    }

    /// The subjects of a key-value bucket's stream.
    pub fn key_value(bucket: &str) -> String {
        format!("$KV.{bucket}.>")
    }
}

/// Headers set on every request the edge makes to a worker. Workers trust them because only the
/// edge may publish on service subjects (see `nats.conf`).
pub mod headers {
    /// The authenticated caller's user id; absent for anonymous calls.
    pub const USER_ID: &str = "X-User-Id";
    /// The authenticated caller's role (`user` or `admin`).
    pub const USER_ROLE: &str = "X-User-Role";
    /// Correlates logs across the edge and the workers.
    pub const REQUEST_ID: &str = "X-Request-Id";
    /// The HTTP status a worker's reply maps to (replies without it are 200).
    pub const STATUS: &str = "X-Status";
    /// Seconds a client should wait before retrying (sent with 429 and 503).
    pub const RETRY_AFTER: &str = "Retry-After";
    /// Where a created resource lives (sent with 201 and 202).
    pub const LOCATION: &str = "Location";
    /// The client's `Idempotency-Key`, passed through, or one the edge made for a create it may
    /// send again.
    pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
    /// `1` on the first send of a key the edge made itself: no request can have used it before,
    /// so the worker does not look for an earlier one (the unique index still guards).
    pub const FRESH_KEY: &str = "X-Fresh-Key";
    /// The media type of a reply that is not JSON (a statement served in its own format).
    pub const CONTENT_TYPE: &str = "Content-Type";
    /// The request's query string as a JSON object of strings, for operations that take both a
    /// query and a body (the Judge0 layer).
    pub const QUERY: &str = "X-Query";
    /// The id the URL names (`/api/problems/{id}`, `POST /api/problems?id=`), if any.
    pub const RESOURCE_ID: &str = "X-Resource-Id";
    /// JetStream's de-duplication id of a published message.
    pub use async_nats::header::NATS_MESSAGE_ID as MESSAGE_ID;
    /// The NATS service API's error reply headers (what a worker's own failure comes back as).
    pub use async_nats::service::{
        NATS_SERVICE_ERROR as SERVICE_ERROR, NATS_SERVICE_ERROR_CODE as SERVICE_ERROR_CODE,
    };
}

/// The `$SRV.PING.<service>` subject of the NATS service API, used for readiness checks.
pub fn service_ping(service: &str) -> String {
    format!("$SRV.PING.{service}")
}

/// The `$SRV.INFO.<service>` subject: every instance answers with its info and metadata.
pub fn service_info(service: &str) -> String {
    format!("$SRV.INFO.{service}")
}

/// The reply-subject prefix of a NATS user (`_INBOX_<user>`): each may subscribe only to its own,
/// as `nats.conf` grants.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

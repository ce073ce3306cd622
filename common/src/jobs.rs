//! The grading pipeline's JetStream contract: streams, the judges' shared consumer, the object
//! store of problem packages, and the messages that travel through them. The provisioning step
//! (`submission-worker provision`, run with the operator's credentials) creates them; the running
//! services only use them, so `nats.conf` grants them no stream or consumer creation.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use serde::{Deserialize, Serialize};

use crate::api::JudgeReport;
use crate::subjects;

/// Work-queue stream of grading jobs on [`subjects::jobs::GRADE`]; message id = submission id (or
/// `<id>:<attempt>` on re-judge).
pub const JOBS_STREAM: &str = "JOBS";
/// The one durable pull consumer every judge pulls from.
pub const JUDGE_CONSUMER: &str = "judge";
/// Deliveries of one job before it ends as `internal_error`.
pub const MAX_DELIVER: i64 = 3;
/// How long a judge may hold a job without acking progress before it is redelivered (the
/// default; judges read the provisioned value from the consumer).
pub const ACK_WAIT: Duration = Duration::from_secs(30);
/// Status updates and verdicts from the judges on [`subjects::jobs::RESULTS`], one subject per
/// submission.
pub const RESULTS_STREAM: &str = "RESULTS";
/// The submission workers' shared durable consumer of results.
pub const RESULTS_CONSUMER: &str = "submissions";
/// Captures the advisories JetStream sends when a job ran out of deliveries (the judge died on
/// every attempt, so none could report), so none is lost while no submission worker runs.
pub const DEAD_JOBS_STREAM: &str = "DEAD_JOBS";
/// The submission workers' shared durable consumer of [`DEAD_JOBS_STREAM`].
pub const DEAD_JOBS_CONSUMER: &str = "submissions";
/// Key-value bucket of per-user submission counters (waiting, and made this minute), one entry
/// per user id.
pub const LIMITS_BUCKET: &str = "submission_limits";
/// Problem packages (zip), named by the SHA-256 of their bytes.
pub const PROBLEMS_BUCKET: &str = "problems";
/// Work-queue stream of runs without grading on [`subjects::jobs::RUN`]; message id = run id.
pub const RUNS_STREAM: &str = "RUNS";
/// The one durable pull consumer of runs every judge pulls from (ahead of grading jobs).
pub const RUNNER_CONSUMER: &str = "judge";
/// Deliveries of one run before it is given up (a run is cheap to ask for again).
pub const RUN_MAX_DELIVER: i64 = 2;
/// A run nobody picked up within this long is dropped from the queue: its author has gone.
pub const RUN_QUEUE_MAX_AGE: Duration = Duration::from_secs(300);
/// Key-value bucket of runs (one entry per run id, the [`crate::api::Run`] as it stands). The
/// submission worker creates the entry and answers reads (checking the owner); the judge writes
/// the progress and the report into it; the edge follows an entry's subject for live updates.
/// Entries expire after [`RUN_TTL`]: a run is never kept like a submission.
pub const RUNS_BUCKET: &str = "runs";
/// How long a run's entry is kept.
pub const RUN_TTL: Duration = Duration::from_secs(3600);

/// One run without grading, as the judge receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunJob {
    /// The run as stored when it was accepted (`queued`, with its source and input); the judge
    /// writes it back with its progress and report.
    pub run: crate::api::Run,
    /// The problem's package (its samples, limits and validator), if the run names a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_digest: Option<String>,
}

/// The subject of the advisory JetStream sends when a job of the judges' consumer reached its
/// last delivery without an ack.
pub fn max_deliveries_subject() -> String {
    subjects::jobs::max_deliveries_advisory(JOBS_STREAM, JUDGE_CONSUMER)
}

/// The part of nats-server's `io.nats.jetstream.advisory.v1.max_deliver` advisory we use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxDeliveriesAdvisory {
    pub stream: String,
    pub consumer: String,
    /// The job's sequence in [`JOBS_STREAM`].
    pub stream_seq: u64,
    pub deliveries: u64,
}

/// One submission to grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradingJob {
    pub submission_id: String,
    pub problem_id: String,
    pub problem_version: u32,
    /// Hex SHA-256 of the package zip: its name in the `problems` object store.
    pub package_digest: String,
    pub language: String,
    pub source: String,
    /// Run every test instead of stopping at the first failure.
    #[serde(default)]
    pub run_all_tests: bool,
}

/// Where a job stands, as the judge reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GradingStatus {
    Compiling,
    Running { test: u32, of: u32 },
    Judged { report: JudgeReport },
}

/// A message on `results.<submission id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradingUpdate {
    pub submission_id: String,
    /// Which delivery of the job produced it (1 for the first).
    pub attempt: u64,
    #[serde(flatten)]
    pub status: GradingStatus,
}

/// Creates (or updates) the streams, the judges' consumer and the package bucket.
pub async fn provision(js: &jetstream::Context) -> Result<(), async_nats::Error> {
    provision_with(js, ACK_WAIT).await
}

/// [`provision`] with the judges' ack wait: how soon the job of a judge that died is handed to
/// another (tests use a short one).
pub async fn provision_with(
    js: &jetstream::Context,
    job_ack_wait: Duration,
) -> Result<(), async_nats::Error> {
    let jobs = js
        .get_or_create_stream(stream::Config {
            name: JOBS_STREAM.to_owned(),
            subjects: vec![subjects::jobs::GRADE.to_owned()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await?;
    jobs.get_or_create_consumer(
        JUDGE_CONSUMER,
        consumer::pull::Config {
            max_deliver: MAX_DELIVER,
            ..durable(JUDGE_CONSUMER, subjects::jobs::GRADE, job_ack_wait)
        },
    )
    .await?;
    let results = js
        .get_or_create_stream(stream::Config {
            name: RESULTS_STREAM.to_owned(),
            subjects: vec![subjects::jobs::RESULTS.to_owned()],
            storage: stream::StorageType::File,
            max_age: Duration::from_secs(7 * 86400),
            ..Default::default()
        })
        .await?;
    results
        .get_or_create_consumer(
            RESULTS_CONSUMER,
            durable(RESULTS_CONSUMER, subjects::jobs::RESULTS, ACK_WAIT),
        )
        .await?;
    let dead = js
        .get_or_create_stream(stream::Config {
            name: DEAD_JOBS_STREAM.to_owned(),
            subjects: vec![max_deliveries_subject()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    dead.get_or_create_consumer(
        DEAD_JOBS_CONSUMER,
        durable(DEAD_JOBS_CONSUMER, &max_deliveries_subject(), ACK_WAIT),
    )
    .await?;
    // The counters' bucket is created as the stream async-nats' `create_key_value` would make,
    // because that call fails against nats-server 2.9 (it reads account fields added in 2.10.8).
    js.get_or_create_stream(kv_stream(LIMITS_BUCKET)).await?;
    let runs = js
        .get_or_create_stream(stream::Config {
            name: RUNS_STREAM.to_owned(),
            subjects: vec![subjects::jobs::RUN.to_owned()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            max_age: RUN_QUEUE_MAX_AGE,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await?;
    runs.get_or_create_consumer(
        RUNNER_CONSUMER,
        consumer::pull::Config {
            max_deliver: RUN_MAX_DELIVER,
            ..durable(RUNNER_CONSUMER, subjects::jobs::RUN, ACK_WAIT)
        },
    )
    .await?;
    js.get_or_create_stream(stream::Config {
        max_age: RUN_TTL,
        ..kv_stream(RUNS_BUCKET)
    })
    .await?;
    if js.get_object_store(PROBLEMS_BUCKET).await.is_err() {
        js.create_object_store(jetstream::object_store::Config {
            bucket: PROBLEMS_BUCKET.to_owned(),
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    }
    Ok(())
}

/// A durable pull consumer with explicit acks on `filter`.
fn durable(name: &str, filter: &str, ack_wait: Duration) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(name.to_owned()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait,
        // Singular: nats-server 2.9 ignores the plural `filter_subjects`.
        filter_subject: filter.to_owned(),
        ..Default::default()
    }
}

/// The stream behind a key-value bucket holding one value per key, as `create_key_value` builds it.
fn kv_stream(bucket: &str) -> stream::Config {
    stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![subjects::jobs::key_value(bucket)],
        max_messages_per_subject: 1,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    }
}

//! The grading pipeline's JetStream contract: streams, the judges' shared consumer, the object
//! store of problem packages, and the messages that travel through them. The provisioning step
//! (`submission-worker provision`, run with the operator's credentials) creates them; the running
//! services only use them, so `nats.conf` grants them no stream or consumer creation.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use serde::{Deserialize, Serialize};

use crate::api::JudgeReport;
use crate::subjects;

/// Work-queue stream of grading jobs on [`subjects::jobs::GRADE`]; message id = submission id.
pub const JOBS_STREAM: &str = "JOBS";
/// Work-queue stream of rejudging jobs on [`subjects::jobs::REJUDGE`]; message id =
/// `<submission>:<judging>`. Judges pull from it (with the same consumer name and settings as
/// [`JOBS_STREAM`]) only when no new submission waits, so a rejudge of any size delays a new
/// submission by at most the job each judge slot holds.
pub const REJUDGE_STREAM: &str = "REJUDGE";
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
/// How long [`RESULTS_STREAM`] remembers a verdict's message id (JetStream's default, set
/// explicitly): a second verdict for the same judging published within it is dropped.
pub const RESULTS_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
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

/// The same advisory for a rejudging job.
pub fn rejudge_max_deliveries_subject() -> String {
    subjects::jobs::max_deliveries_advisory(REJUDGE_STREAM, JUDGE_CONSUMER)
}

/// The part of nats-server's `io.nats.jetstream.advisory.v1.max_deliver` advisory we use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxDeliveriesAdvisory {
    pub stream: String,
    pub consumer: String,
    /// The job's sequence in `stream` ([`JOBS_STREAM`] or [`REJUDGE_STREAM`]).
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
    /// Which judging of the submission this is: 1 when it is new, one more with each rejudge.
    /// Updates carry it back, so none from an earlier judging can touch a later one.
    #[serde(default = "first_judging")]
    pub judging: u32,
}

/// The judging of a submission that was never rejudged.
pub fn first_judging() -> u32 {
    1
}

/// The message id a judge gives the verdict of `judging` of a submission: the same for every
/// delivery of that job, so JetStream stores it once.
pub fn verdict_message_id(submission_id: &str, judging: u32) -> String {
    if judging <= 1 {
        format!("{submission_id}:judged")
    } else {
        format!("{submission_id}:judged:{judging}")
    }
}

/// What every id of a job that judges a package's own submission starts with: its updates go to
/// the problem version's verification, not to a submission.
pub const PACKAGED_JOB_PREFIX: &str = "verify:";

/// The id of the job judging submission `index` of a package (`verify:<problem>:<version>:<index>`):
/// its results subject, its message id and its key in the store.
pub fn packaged_job_id(problem_id: &str, version: u32, index: u32) -> String {
    format!("{PACKAGED_JOB_PREFIX}{problem_id}:{version}:{index}")
}

/// Whether `id` is a [`packaged_job_id`] rather than a submission's.
pub fn is_packaged_job(id: &str) -> bool {
    id.starts_with(PACKAGED_JOB_PREFIX)
}

/// Where a job stands, as the judge reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GradingStatus {
    Compiling,
    Running { test: u32, of: u32 },
    Judged { report: JudgeReport },
}

/// A message on `results.<submission id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradingUpdate {
    pub submission_id: String,
    /// Which delivery of the job produced it (1 for the first).
    pub attempt: u64,
    /// The job's [`GradingJob::judging`].
    #[serde(default = "first_judging")]
    pub judging: u32,
    #[serde(flatten)]
    pub status: GradingStatus,
}

/// How the grading pipeline's streams, consumers and buckets are provisioned.
#[derive(Debug, Clone)]
pub struct Provisioning {
    /// The judges' ack wait: how soon the job of a judge that died is handed to another (tests use
    /// a short one).
    pub job_ack_wait: Duration,
    /// How many servers hold a copy of every stream, consumer and bucket: 1 on a single node, 3 on
    /// a three-node cluster (`NATS_REPLICAS`).
    pub replicas: usize,
}

impl Default for Provisioning {
    fn default() -> Self {
        Provisioning {
            job_ack_wait: ACK_WAIT,
            replicas: 1,
        }
    }
}

/// Creates (or updates) the streams, the judges' consumer and the package bucket, one replica each.
pub async fn provision(js: &jetstream::Context) -> Result<(), async_nats::Error> {
    provision_with(js, &Provisioning::default()).await
}

/// Creates what the pipeline uses, or brings what exists to `p`'s replica count (streams and
/// consumers made by an earlier run on one node are raised to three when the cluster grows).
/// Running it again changes nothing else: an existing consumer keeps its ack wait.
pub async fn provision_with(js: &jetstream::Context, p: &Provisioning) -> Result<(), async_nats::Error> {
    let replicas = p.replicas;
    // New submissions' jobs, then rejudges' (pulled only when no new one waits): the same shape.
    for (name, subject) in [
        (JOBS_STREAM, subjects::jobs::GRADE),
        (REJUDGE_STREAM, subjects::jobs::REJUDGE),
    ] {
        let queue = ensure_stream(
            js,
            stream::Config {
                name: name.to_owned(),
                subjects: vec![subject.to_owned()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                num_replicas: replicas,
                ..Default::default()
            },
        )
        .await?;
        ensure_consumer(
            &queue,
            consumer::pull::Config {
                max_deliver: MAX_DELIVER,
                ..durable(JUDGE_CONSUMER, subject, p.job_ack_wait, replicas)
            },
        )
        .await?;
    }
    let results = ensure_stream(
        js,
        stream::Config {
            name: RESULTS_STREAM.to_owned(),
            subjects: vec![subjects::jobs::RESULTS.to_owned()],
            storage: stream::StorageType::File,
            max_age: Duration::from_secs(7 * 86400),
            duplicate_window: RESULTS_DUPLICATE_WINDOW,
            num_replicas: replicas,
            ..Default::default()
        },
    )
    .await?;
    ensure_consumer(
        &results,
        durable(RESULTS_CONSUMER, subjects::jobs::RESULTS, ACK_WAIT, replicas),
    )
    .await?;
    let dead = ensure_stream(
        js,
        stream::Config {
            name: DEAD_JOBS_STREAM.to_owned(),
            subjects: vec![max_deliveries_subject(), rejudge_max_deliveries_subject()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        },
    )
    .await?;
    ensure_consumer(
        &dead,
        // Unfiltered: it takes every advisory the stream keeps (grading and rejudging jobs).
        durable(DEAD_JOBS_CONSUMER, "", ACK_WAIT, replicas),
    )
    .await?;
    // The counters' bucket is created as the stream async-nats' `create_key_value` would make,
    // because that call fails against nats-server 2.9 (it reads account fields added in 2.10.8).
    ensure_stream(js, kv_stream(LIMITS_BUCKET, replicas)).await?;
    let runs = ensure_stream(
        js,
        stream::Config {
            name: RUNS_STREAM.to_owned(),
            subjects: vec![subjects::jobs::RUN.to_owned()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            max_age: RUN_QUEUE_MAX_AGE,
            duplicate_window: Duration::from_secs(120),
            num_replicas: replicas,
            ..Default::default()
        },
    )
    .await?;
    ensure_consumer(
        &runs,
        consumer::pull::Config {
            max_deliver: RUN_MAX_DELIVER,
            ..durable(RUNNER_CONSUMER, subjects::jobs::RUN, ACK_WAIT, replicas)
        },
    )
    .await?;
    ensure_stream(
        js,
        stream::Config {
            max_age: RUN_TTL,
            ..kv_stream(RUNS_BUCKET, replicas)
        },
    )
    .await?;
    if js.get_object_store(PROBLEMS_BUCKET).await.is_err() {
        js.create_object_store(jetstream::object_store::Config {
            bucket: PROBLEMS_BUCKET.to_owned(),
            storage: stream::StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        })
        .await?;
    }
    let mut problems = js.get_stream(format!("OBJ_{PROBLEMS_BUCKET}")).await?;
    set_stream_replicas(js, &mut problems, replicas).await?;
    Ok(())
}

/// The stream named in `config`, created if missing, with `config.num_replicas` replicas and
/// `config.subjects` (a stream made by an earlier release gains the subjects added since).
async fn ensure_stream(
    js: &jetstream::Context,
    config: stream::Config,
) -> Result<stream::Stream, async_nats::Error> {
    let (replicas, subjects) = (config.num_replicas, config.subjects.clone());
    let mut stream = js.get_or_create_stream(config).await?;
    let info = stream.info().await?;
    if info.config.subjects != subjects {
        js.update_stream(stream::Config {
            subjects,
            ..info.config.clone()
        })
        .await?;
    }
    set_stream_replicas(js, &mut stream, replicas).await?;
    Ok(stream)
}

/// Changes an existing stream's replica count, keeping the rest of its configuration.
async fn set_stream_replicas(
    js: &jetstream::Context,
    stream: &mut stream::Stream,
    replicas: usize,
) -> Result<(), async_nats::Error> {
    let info = stream.info().await?;
    if info.config.num_replicas.max(1) != replicas {
        let config = stream::Config {
            num_replicas: replicas,
            ..info.config.clone()
        };
        js.update_stream(config).await?;
    }
    Ok(())
}

/// The durable consumer of `config`, created if missing; an existing one only gets the replica
/// count (0 in its info means "as many as the stream") and the filter of `config`. A filter
/// nats-server will not change in place (2.9) is changed by deleting and creating the consumer:
/// on a work-queue stream the messages stay, and the new consumer delivers them from the start.
async fn ensure_consumer(
    stream: &stream::Stream,
    config: consumer::pull::Config,
) -> Result<(), async_nats::Error> {
    let name = config.durable_name.clone().unwrap_or_default();
    let replicas = config.num_replicas;
    let filter = config.filter_subject.clone();
    let mut consumer: consumer::PullConsumer = stream.get_or_create_consumer(&name, config.clone()).await?;
    if consumer.cached_info().config.filter_subject != filter {
        let refiltered = consumer::Config {
            filter_subject: filter,
            ..consumer.cached_info().config.clone()
        };
        consumer = match stream.update_consumer(refiltered).await {
            Ok(_) => stream.get_consumer(&name).await?,
            Err(_) => {
                stream.delete_consumer(&name).await?;
                stream.get_or_create_consumer(&name, config).await?
            }
        };
    }
    let info = consumer.cached_info().clone();
    let current = info.config.num_replicas;
    if current != replicas && !(current == 0 && replicas == 1) {
        let updated = consumer::Config {
            num_replicas: replicas,
            ..info.config
        };
        let _: consumer::Consumer<consumer::Config> = stream.update_consumer(updated).await?;
    }
    Ok(())
}

/// A durable pull consumer with explicit acks on `filter`.
fn durable(name: &str, filter: &str, ack_wait: Duration, replicas: usize) -> consumer::pull::Config {
    consumer::pull::Config {
        num_replicas: replicas,
        durable_name: Some(name.to_owned()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait,
        // Singular: nats-server 2.9 ignores the plural `filter_subjects`.
        filter_subject: filter.to_owned(),
        ..Default::default()
    }
}

/// The stream behind a key-value bucket holding one value per key, as `create_key_value` builds it.
fn kv_stream(bucket: &str, replicas: usize) -> stream::Config {
    stream::Config {
        num_replicas: replicas,
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

//! The submission worker: a NATS service (`submission`, queue group `submission`) that owns
//! problems, submissions and comments in MongoDB, publishes grading jobs to JetStream and applies
//! the judges' results.
//!
//! May use: its own collections (`problems`, `submissions`, `comments`), the package format (to
//! check uploads), NATS and JetStream. Must not: read the auth worker's collections, run
//! submitted code or depend on the judge (`make test` checks the crate graph).

pub mod comments;
pub mod consume;
pub mod dead_jobs;
pub mod error;
pub mod intake;
pub mod judge0;
pub mod languages;
pub mod limits;
pub mod paging;
pub mod problems;
pub mod rejudges;
pub mod results;
pub mod runs;
pub mod store;
pub mod submissions;
pub mod verification;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use common::config::{self, ConfigError};
use common::nats::NatsSettings;
use common::service::{Answer, Caller};
use common::subjects::judge0 as j0;
use common::subjects::submission as subjects;
use serde::de::DeserializeOwned;

pub use error::SubmissionError;

#[derive(Debug, Clone)]
pub struct Settings {
    pub nats: NatsSettings,
    /// `MONGODB_URI`, default `mongodb://127.0.0.1:27017`.
    pub mongodb_uri: String,
    /// `MONGODB_DB`, default `judge`.
    pub database: String,
    /// `SUBMISSION_MAX_IN_FLIGHT`, default 256.
    pub max_in_flight: usize,
    /// Per-user limits (`SUBMISSION_MAX_QUEUED`, `SUBMISSION_PER_MINUTE`).
    pub limits: limits::Limits,
    /// `METRICS_ADDR`: where to serve Prometheus metrics; unset: nowhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl Settings {
    pub fn from_env() -> Result<Settings, ConfigError> {
        Ok(Settings {
            nats: NatsSettings::from_env("submission")?,
            mongodb_uri: config::var("MONGODB_URI").unwrap_or_else(|| "mongodb://127.0.0.1:27017".to_owned()),
            database: config::var("MONGODB_DB").unwrap_or_else(|| "judge".to_owned()),
            max_in_flight: config::parse_or("SUBMISSION_MAX_IN_FLIGHT", 256)?,
            limits: limits::Limits {
                max_queued: config::parse_or("SUBMISSION_MAX_QUEUED", 5)?,
                per_minute: config::parse_or("SUBMISSION_PER_MINUTE", 15)?,
                runs_per_minute: config::parse_or("RUN_PER_MINUTE", 30)?,
            },
            metrics_addr: common::metrics::addr_from_env()?,
        })
    }
}

/// What every handler shares.
pub struct Service {
    pub store: store::Store,
    pub counters: limits::Counters,
    pub committer: intake::Committer,
    pub problem_refs: problems::ProblemRefs,
    pub statement_files: problems::StatementFiles,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub runs: runs::Runs,
    languages: languages::Catalog,
}

/// How often the outbox is swept for jobs that could not be published when saved.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

impl Service {
    /// The languages the judges offer now.
    pub async fn languages(&self) -> std::sync::Arc<[common::api::Language]> {
        self.languages.get().await
    }
}

fn resource_id(caller: &Caller) -> Result<String, SubmissionError> {
    caller.resource_id.clone().ok_or(SubmissionError::MissingId)
}

/// A list's query string, which the edge passes on as a JSON object of strings. Parameters the
/// list does not know are ignored, as query strings usually are.
pub(crate) fn query<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, SubmissionError> {
    if bytes.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| common::api::BodyError::MalformedJson(e.to_string()).into())
}

/// Now, to the millisecond: what a BSON date keeps, so a document's answer at creation equals what
/// a later read returns.
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    let ms = chrono::Utc::now().timestamp_millis();
    chrono::DateTime::from_timestamp_millis(ms).expect("now is representable")
}

/// Routes a request to its operation.
pub async fn handle(
    svc: Arc<Service>,
    subject: String,
    caller: Caller,
    body: bytes::Bytes,
) -> Result<Answer, SubmissionError> {
    match subject.as_str() {
        subjects::LANGUAGES => Ok(Answer::json(
            200,
            &serde_json::json!({"items": &*svc.languages().await}),
        )),
        subjects::PROBLEMS_CREATE => problems::create(&svc, &caller, body).await,
        subjects::PROBLEMS_LIST => problems::list(&svc).await,
        subjects::PROBLEMS_GET => problems::get(&svc, &resource_id(&caller)?).await,
        subjects::PROBLEMS_STATEMENT => problems::statement(&svc, &resource_id(&caller)?, &body).await,
        subjects::SUBMISSIONS_CREATE => submissions::create(&svc, &caller, &body).await,
        subjects::SUBMISSIONS_GET => submissions::get(&svc, &caller, &resource_id(&caller)?).await,
        subjects::SUBMISSIONS_LIST => submissions::list(&svc, &caller, &body).await,
        subjects::COMMENTS_LIST => comments::list(&svc, &resource_id(&caller)?, &body).await,
        subjects::COMMENTS_CREATE => comments::create(&svc, &caller, &resource_id(&caller)?, &body).await,
        subjects::COMMENTS_DELETE => comments::delete(&svc, &caller, &resource_id(&caller)?).await,
        subjects::RUNS_CREATE => runs::create(&svc, &caller, &body).await,
        j0::SUBMISSIONS_CREATE => judge0::create(&svc, &caller, &body).await,
        j0::SUBMISSIONS_GET => judge0::get(&svc, &caller, &resource_id(&caller)?).await,
        j0::BATCH_CREATE => judge0::batch_create(&svc, &caller, &body).await,
        j0::BATCH_GET => judge0::batch_get(&svc, &caller).await,
        j0::LANGUAGES => judge0::languages(&svc).await,
        j0::LANGUAGE => judge0::language(&svc, &resource_id(&caller)?).await,
        j0::STATUSES => Ok(judge0::statuses()),
        j0::ABOUT => Ok(judge0::about()),
        j0::CONFIG_INFO => Ok(judge0::config_info(&svc)),
        subjects::RUNS_GET => runs::get(&svc, &caller, &resource_id(&caller)?).await,
        subjects::REJUDGES_CREATE => {
            let problem = resource_id(&caller)?;
            rejudges::create(svc.clone(), &caller, &problem, &body).await
        }
        subjects::REJUDGES_GET => rejudges::get(&svc, &caller, &resource_id(&caller)?).await,
        subjects::VERSIONS_LIST => verification::list(&svc, &caller, &resource_id(&caller)?).await,
        subjects::VERSIONS_GET => verification::get(&svc, &caller, &resource_id(&caller)?).await,
        subjects::VERSIONS_ACTIVATE => {
            verification::activate_by_admin(&svc, &caller, &resource_id(&caller)?).await
        }
        other => Err(SubmissionError::NoSuchOperation(other.to_owned())),
    }
}

impl Service {
    /// Connects to the store (applying migrations) and to NATS.
    pub async fn connect(settings: &Settings) -> Result<Service, SubmissionError> {
        let store = store::connect(&settings.mongodb_uri, &settings.database).await?;
        store::migrate(&store).await?;
        let client = common::nats::connect(&settings.nats, "submission-worker").await?;
        let js = jetstream::new(client.clone());
        Ok(Service {
            counters: limits::Counters::new(js.clone(), settings.limits),
            committer: intake::Committer::start(store.submissions.clone()),
            problem_refs: problems::ProblemRefs::default(),
            statement_files: problems::StatementFiles::default(),
            languages: languages::Catalog::start(client.clone()),
            runs: runs::Runs::new(js.clone()),
            store,
            js,
            client,
        })
    }
}

/// How often the judges' queue is looked at for the `judge_jobs_*` gauges.
const QUEUE_GAUGES_EVERY: Duration = Duration::from_secs(5);

/// Keeps the gauges of the judges' queue current from JetStream's consumer info: jobs waiting
/// (`judge_jobs_waiting`) and held by a judge right now (`judge_jobs_in_flight`).
async fn queue_gauges(js: jetstream::Context, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let mut every = tokio::time::interval(QUEUE_GAUGES_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = &mut stop => return,
        }
        let info = async {
            let stream = js.get_stream_no_info(common::jobs::JOBS_STREAM).await?;
            let mut consumer: jetstream::consumer::PullConsumer =
                stream.get_consumer(common::jobs::JUDGE_CONSUMER).await?;
            Ok::<_, async_nats::Error>(consumer.info().await?.clone())
        };
        match info.await {
            Ok(info) => {
                metrics::gauge!("judge_jobs_waiting").set(info.num_pending as f64);
                metrics::gauge!("judge_jobs_in_flight").set(info.num_ack_pending as f64);
            }
            Err(e) => tracing::debug!(error = %e, "reading the judges' consumer for the queue gauges"),
        }
    }
}

/// Serves until `shutdown` resolves, applying results alongside.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), SubmissionError> {
    if let Some(addr) = settings.metrics_addr {
        common::metrics::serve(addr);
    }
    let svc = Arc::new(Service::connect(&settings).await?);
    let (client, js, store, counters) = (
        svc.client.clone(),
        svc.js.clone(),
        svc.store.clone(),
        svc.counters.clone(),
    );
    let service = common::service::start_service(
        &client,
        subjects::SERVICE,
        subjects::QUEUE_GROUP,
        "Problems, submissions and comments",
    )
    .await?;
    // The background tasks (results, dead jobs, the outbox sweep) stop together after serving.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let sweep = {
        let (svc, stopped) = (svc.clone(), until_stopped());
        async move {
            tokio::pin!(stopped);
            let mut every = tokio::time::interval(SWEEP_EVERY);
            loop {
                tokio::select! {
                    _ = every.tick() => {
                        if let Err(e) = submissions::sweep(&svc).await {
                            tracing::warn!(error = %e, "outbox sweep");
                        }
                        if let Err(e) = rejudges::resume(&svc).await {
                            tracing::warn!(error = %e, "resuming stopped rejudges");
                        }
                    }
                    _ = &mut stopped => return,
                }
            }
        }
    };
    let background = [
        tokio::spawn(queue_gauges(js.clone(), until_stopped())),
        tokio::spawn(results::run(js.clone(), store, counters, until_stopped())),
        tokio::spawn(dead_jobs::run(js, until_stopped())),
        tokio::spawn(sweep),
    ];
    tracing::info!("submission service ready");
    let endpoints = [
        subjects::LANGUAGES,
        subjects::PROBLEMS_CREATE,
        subjects::PROBLEMS_LIST,
        subjects::PROBLEMS_GET,
        subjects::PROBLEMS_STATEMENT,
        subjects::SUBMISSIONS_CREATE,
        subjects::SUBMISSIONS_GET,
        subjects::SUBMISSIONS_LIST,
        subjects::COMMENTS_LIST,
        subjects::COMMENTS_CREATE,
        subjects::COMMENTS_DELETE,
        subjects::RUNS_CREATE,
        subjects::RUNS_GET,
        subjects::REJUDGES_CREATE,
        subjects::REJUDGES_GET,
        subjects::VERSIONS_LIST,
        subjects::VERSIONS_GET,
        subjects::VERSIONS_ACTIVATE,
        j0::SUBMISSIONS_CREATE,
        j0::SUBMISSIONS_GET,
        j0::BATCH_CREATE,
        j0::BATCH_GET,
        j0::LANGUAGES,
        j0::LANGUAGE,
        j0::STATUSES,
        j0::ABOUT,
        j0::CONFIG_INFO,
    ];
    common::service::serve(
        service,
        &endpoints,
        settings.max_in_flight,
        move |subject, caller, body| handle(svc.clone(), subject, caller, body),
        shutdown,
    )
    .await?;
    let _ = stop.send(true);
    for task in background {
        let _ = task.await;
    }
    common::service::drain(&client).await;
    tracing::info!("submission worker stopped");
    Ok(())
}

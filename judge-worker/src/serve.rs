//! `judge-worker serve`: the judge as a NATS service.
//!
//! It joins NATS as the `judge` service, advertising the languages this machine can run (with
//! versions) in its metadata (`nats micro info judge`), and pulls grading jobs from the shared
//! durable consumer — one job at a time per sandbox slot (a batch would leave jobs queued behind
//! a long one until they time out). While a job runs it reports `compiling` and `running k of n`
//! on `results.<submission>` and acks progress so the job is not redelivered; the verdict is
//! published (and stored by JetStream) before the job is acked, so a judge that dies in between
//! only causes a redelivery, never a lost result. A job that fails on its last delivery ends as
//! `internal_error` with the reason. On SIGTERM it stops pulling and finishes the jobs it holds.
//!
//! Runs without grading come on their own stream and go first: a learner waits for them at the
//! keyboard. A separate loop pulls them and takes the next free sandbox slot ahead of any grading
//! job waiting for one, and while runs come one slot is kept free for them ([`SlotGate`]); their progress and report are written into the run's entry
//! of the `runs` key-value bucket, which the edge follows.
//!
//! Test data comes from the `problems` object store by digest and is cached on disk and in
//! memory; the judge has no database credentials.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer, AckKind};
use async_nats::service::ServiceExt;
use common::api::{Run, RunStatus, Verdict};
use common::jobs::{self, GradingJob, GradingStatus, GradingUpdate, RunJob};
use common::nats::NatsSettings;
use common::subjects;
use common::JudgeReport;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use problem_package::archive::{self, ArchiveLimits};
use problem_package::ProblemPackage;

use crate::{Judge, JudgeConfig, JudgeOptions, Progress};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] common::config::ConfigError),
    #[error("judge: {0}")]
    Judge(#[from] crate::JudgeError),
    #[error("nats connect: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("nats: {0}")]
    Nats(async_nats::Error),
}

/// Why one job could not be graded (the judge's side, never the submission's).
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error("fetching package {0}: {1}")]
    Fetch(String, String),
    #[error("package {0} does not match its digest")]
    Digest(String),
    #[error("unpacking package {0}: {1}")]
    Unpack(String, archive::ArchiveError),
    #[error("package {0} is invalid: {1}")]
    Package(String, String),
    #[error("publishing the result: {0}")]
    Publish(String),
    #[error("the judging task failed: {0}")]
    Task(String),
}

/// The languages as service metadata: `languages` is a JSON array of `{id, name, version}`.
pub fn language_metadata(judge: &Judge) -> HashMap<String, String> {
    let languages = serde_json::to_string(&judge.languages()).unwrap_or_else(|_| "[]".to_owned());
    HashMap::from([(subjects::judge::LANGUAGES_METADATA.to_owned(), languages)])
}

/// Problem packages by digest: unpacked once into `dir`, parsed once per process.
struct PackageCache {
    dir: PathBuf,
    loaded: Mutex<HashMap<String, Arc<ProblemPackage>>>,
    /// One fetch at a time: slots asking for the same new package wait for the first to finish
    /// instead of unpacking over each other.
    fetching: tokio::sync::Mutex<()>,
}

impl PackageCache {
    async fn get(
        &self,
        digest: &str,
        store: &jetstream::object_store::ObjectStore,
    ) -> Result<Arc<ProblemPackage>, JobError> {
        if let Some(p) = self.loaded.lock().expect("cache lock").get(digest) {
            return Ok(p.clone());
        }
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(JobError::Digest(digest.to_owned()));
        }
        let _fetching = self.fetching.lock().await;
        if let Some(p) = self.loaded.lock().expect("cache lock").get(digest) {
            return Ok(p.clone());
        }
        let root = self.dir.join(digest);
        let cached_on_disk = root.exists();
        if !cached_on_disk {
            let mut object = store
                .get(digest)
                .await
                .map_err(|e| JobError::Fetch(digest.to_owned(), e.to_string()))?;
            let mut bytes = Vec::new();
            object
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| JobError::Fetch(digest.to_owned(), e.to_string()))?;
            if hex::encode(Sha256::digest(&bytes)) != digest {
                return Err(JobError::Digest(digest.to_owned()));
            }
            let io_error = |e: std::io::Error| {
                JobError::Unpack(
                    digest.to_owned(),
                    archive::ArchiveError::Io {
                        path: self.dir.clone(),
                        source: e,
                    },
                )
            };
            // A directory of its own (removed when dropped), then moved into place whole.
            let tmp_dir = tempfile::Builder::new()
                .prefix(".unpack-")
                .tempdir_in(&self.dir)
                .map_err(io_error)?;
            let tmp = tmp_dir.path().to_owned();
            let unpacked = archive::unpack_zip(&bytes, &tmp, ArchiveLimits::default())
                .map_err(|e| JobError::Unpack(digest.to_owned(), e))?;
            // Publish the unpacked tree atomically; a concurrent twin may have won the race.
            if std::fs::rename(&unpacked, &root).is_err() && !root.exists() {
                return Err(JobError::Fetch(
                    digest.to_owned(),
                    "cannot move into the cache".into(),
                ));
            }
            drop(tmp_dir);
        }
        let package = ProblemPackage::load(&root).map_err(|e| {
            // A damaged copy on disk (a crash while it was written): drop it so the next
            // delivery fetches the package again.
            if cached_on_disk {
                let _ = std::fs::remove_dir_all(&root);
            }
            JobError::Package(digest.to_owned(), e.reasons.join("; "))
        })?;
        let package = Arc::new(package);
        self.loaded
            .lock()
            .expect("cache lock")
            .insert(digest.to_owned(), package.clone());
        Ok(package)
    }
}

/// The submissions this judge is grading now. After a broker crash JetStream may deliver a job
/// again (its delivery state was not yet on disk) while a slot of this judge still grades it; the
/// second delivery then waits for the first instead of grading the submission twice.
#[derive(Default)]
struct InFlight(Mutex<HashMap<String, watch::Receiver<()>>>);

/// A submission claimed by one delivery; released (and its waiters woken) when dropped.
struct Claim<'a> {
    set: &'a InFlight,
    id: String,
    _done: watch::Sender<()>,
}

impl InFlight {
    /// Claims `id`, or returns what closes when the delivery holding it ends.
    fn claim(&self, id: &str) -> Result<Claim<'_>, watch::Receiver<()>> {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(done) = held.get(id) {
            return Err(done.clone());
        }
        let (done, waiter) = watch::channel(());
        held.insert(id.to_owned(), waiter);
        Ok(Claim {
            set: self,
            id: id.to_owned(),
            _done: done,
        })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.set
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// The judge's sandbox slots as async permits, handed to runs without grading before grading
/// jobs: a grading job that gets a permit while a run waits for one gives it up and queues again
/// (the semaphore is fair, so the run, queued earlier, takes it).
///
/// Going first is not enough for a learner at the keyboard: with every slot busy grading, a run
/// would still wait for a whole job to end (about a second for a C++ compile). So while runs
/// come (one within the last [`SlotGate::reserve`]), a judge with two slots or more grades on all
/// but one of them and keeps that one free for runs; when no run has come for that long, grading
/// takes every slot again.
struct SlotGate {
    slots: Arc<Semaphore>,
    size: usize,
    runs_waiting: std::sync::atomic::AtomicUsize,
    /// How long one slot stays kept for runs after the last one came; zero: never kept.
    reserve: Duration,
    last_run: Mutex<Option<std::time::Instant>>,
}

impl SlotGate {
    fn new(slots: usize, reserve: Duration) -> SlotGate {
        SlotGate {
            slots: Arc::new(Semaphore::new(slots)),
            size: slots,
            runs_waiting: Default::default(),
            reserve,
            last_run: Mutex::new(None),
        }
    }

    /// A slot for a run.
    async fn for_run(&self) -> OwnedSemaphorePermit {
        use std::sync::atomic::Ordering;
        *self.last_run.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
        self.runs_waiting.fetch_add(1, Ordering::SeqCst);
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the gate is never closed");
        self.runs_waiting.fetch_sub(1, Ordering::SeqCst);
        permit
    }

    /// A slot for a grading job, once no run waits for one.
    async fn for_grading(&self) -> OwnedSemaphorePermit {
        use std::sync::atomic::Ordering;
        loop {
            let permit = self
                .slots
                .clone()
                .acquire_owned()
                .await
                .expect("the gate is never closed");
            if self.runs_waiting.load(Ordering::SeqCst) == 0 {
                return permit;
            }
            drop(permit);
            tokio::task::yield_now().await;
        }
    }

    /// When grading loop `index` (of one per slot) may pull its next job: the last loop waits
    /// while a slot is kept for runs, so that at most all but one slot grade then.
    async fn grading_turn(&self, index: usize) {
        if self.size < 2 || index + 1 < self.size || self.reserve.is_zero() {
            return;
        }
        loop {
            let last = *self.last_run.lock().unwrap_or_else(|p| p.into_inner());
            match last.map(|at| at + self.reserve) {
                Some(until) if until > std::time::Instant::now() => {
                    tokio::time::sleep_until(until.into()).await
                }
                _ => return,
            }
        }
    }
}

/// What every job handler shares.
struct Worker {
    gate: SlotGate,
    judge: Arc<Judge>,
    /// The consumer's ack wait: progress is acked at a third of it.
    ack_wait: Duration,
    js: jetstream::Context,
    store: jetstream::object_store::ObjectStore,
    packages: PackageCache,
    /// Packages that set no time limit, with the one derived from their accepted submissions
    /// (once per package and process; derivations wait for each other).
    derived: tokio::sync::Mutex<HashMap<String, Arc<ProblemPackage>>>,
    in_flight: InFlight,
}

impl Worker {
    /// Runs `work` while acking progress on `msg` at a third of the ack wait, so the delivery is
    /// not handed to another judge however long `work` takes.
    async fn keep_alive<T>(&self, msg: &jetstream::Message, work: impl std::future::Future<Output = T>) -> T {
        tokio::pin!(work);
        let mut keepalive = tokio::time::interval(self.ack_wait / 3);
        keepalive.tick().await;
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = keepalive.tick() => {
                    let _ = msg.ack_with(AckKind::Progress).await;
                }
            }
        }
    }

    /// Publishes one update once (progress: best effort, a lost one is superseded). A verdict
    /// carries the message id `<submission>:judged` (`:judged:<judging>` for a rejudge's), the
    /// same for every delivery of the job: a
    /// publish retried after its ack was lost in an election, and a second judge's verdict for a
    /// job redelivered while the first still graded it (its progress acks lost in a JOBS
    /// election), are both stored once within the stream's duplicate window.
    async fn publish(&self, update: &GradingUpdate) -> Result<(), JobError> {
        let body = serde_json::to_vec(update).expect("updates serialise");
        let mut headers = async_nats::HeaderMap::new();
        if matches!(update.status, GradingStatus::Judged { .. }) {
            let id = jobs::verdict_message_id(&update.submission_id, update.judging);
            headers.insert(subjects::headers::MESSAGE_ID, id.as_str());
        }
        self.js
            .publish_with_headers(
                subjects::jobs::results(&update.submission_id),
                headers,
                body.into(),
            )
            .await
            .map_err(|e| JobError::Publish(e.to_string()))?
            .await
            .map_err(|e| JobError::Publish(e.to_string()))?;
        Ok(())
    }

    /// Publishes a verdict, retrying through a RESULTS leader election (up to
    /// [`common::retry::OUTAGE_AFTER`]); a copy stored twice is applied once.
    async fn publish_verdict(&self, update: &GradingUpdate) -> Result<(), JobError> {
        common::retry::retry("publishing a verdict", || self.publish(update)).await
    }

    /// Whether the last update stored for the submission is the verdict of `judging` (or of a
    /// later one). Retried through an election: answering "no" while RESULTS has no leader would
    /// grade a judged job again.
    async fn already_judged(&self, submission_id: &str, judging: u32) -> bool {
        use async_nats::jetstream::stream::LastRawMessageErrorKind;
        let subject = subjects::jobs::results(submission_id);
        let last = common::retry::retry("reading the last result", || async {
            let results = self
                .js
                .get_stream_no_info(jobs::RESULTS_STREAM)
                .await
                .map_err(|e| e.to_string())?;
            match results.get_last_raw_message_by_subject(&subject).await {
                Ok(m) => Ok(Some(m)),
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
        match last {
            Ok(Some(m)) => serde_json::from_slice::<GradingUpdate>(&m.payload)
                .is_ok_and(|u| matches!(u.status, GradingStatus::Judged { .. }) && u.judging >= judging),
            Ok(None) | Err(_) => false,
        }
    }

    /// `package` (which sets no time limit) with the limit derived from its accepted submissions,
    /// as problemtools derives it; the judge's default when it carries none that pass.
    async fn derived(
        &self,
        digest: &str,
        package: Arc<ProblemPackage>,
    ) -> Result<Arc<ProblemPackage>, JobError> {
        let mut derived = self.derived.lock().await;
        if let Some(p) = derived.get(digest) {
            return Ok(p.clone());
        }
        let judge = self.judge.clone();
        let mut package = (*package).clone();
        let package = tokio::task::spawn_blocking(move || {
            crate::verify::derive_time_limit(&judge, &mut package);
            package
        })
        .await
        .map_err(|e| JobError::Task(e.to_string()))?;
        tracing::info!(
            digest,
            time_limit_ms = package.limits.time_limit_ms,
            source = ?package.limits.time_limit_source,
            slowest_ms = package.limits.derived.as_ref().map(|d| d.slowest_ms),
            "time limit derived from the package's accepted submissions"
        );
        let package = Arc::new(package);
        derived.insert(digest.to_owned(), package.clone());
        Ok(package)
    }

    /// Grades one job, reporting progress on its results subject and to JetStream.
    async fn grade(
        &self,
        job: &GradingJob,
        attempt: u64,
        msg: &jetstream::Message,
    ) -> Result<JudgeReport, JobError> {
        let mut package = self.packages.get(&job.package_digest, &self.store).await?;
        if package.needs_derived_time_limit() {
            package = self
                .keep_alive(msg, self.derived(&job.package_digest, package))
                .await?;
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let judge = self.judge.clone();
        let (language, source) = (job.language.clone(), job.source.clone());
        let options = JudgeOptions {
            run_all_tests: job.run_all_tests,
        };
        let task = tokio::task::spawn_blocking(move || {
            judge.judge(&package, &language, source.as_bytes(), &options, |p| {
                let _ = tx.send(p);
            })
        });
        tokio::pin!(task);
        let mut pacer = Pacer::new(tokio::time::Instant::now());
        // Kept alive even when a single test runs longer than the ack wait.
        self.keep_alive(msg, async {
            loop {
                let status = tokio::select! {
                    report = &mut task => return report.map_err(|e| JobError::Task(e.to_string())),
                    Some(progress) = rx.recv() => {
                        let status = match progress {
                            Progress::Compiling => GradingStatus::Compiling,
                            Progress::Running { test, of } => GradingStatus::Running { test, of },
                        };
                        match pacer.offer(status, tokio::time::Instant::now()) {
                            Some(status) => status,
                            None => continue,
                        }
                    }
                    _ = tokio::time::sleep_until(pacer.due_at()), if pacer.holds() => {
                        match pacer.due(tokio::time::Instant::now()) {
                            Some(status) => status,
                            None => continue,
                        }
                    }
                };
                let update = GradingUpdate {
                    submission_id: job.submission_id.clone(),
                    attempt,
                    judging: job.judging,
                    status,
                };
                if let Err(e) = self.publish(&update).await {
                    tracing::warn!(error = %e, "publishing progress");
                }
                let _ = msg.ack_with(AckKind::Progress).await;
            }
        })
        .await
    }

    /// Writes the run as it stands into its entry of the runs bucket (and so to whoever follows it).
    async fn put_run(&self, run: &Run) -> Result<(), JobError> {
        let body = serde_json::to_vec(run).expect("runs serialise");
        self.js
            .publish(
                subjects::jobs::key_value_entry(jobs::RUNS_BUCKET, &run.id),
                body.into(),
            )
            .await
            .map_err(|e| JobError::Publish(e.to_string()))?
            .await
            .map_err(|e| JobError::Publish(e.to_string()))?;
        Ok(())
    }

    /// Runs one run without grading and writes its report into its entry.
    async fn handle_run(&self, msg: jetstream::Message) {
        let job: RunJob = match serde_json::from_slice(&msg.payload) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(error = %e, "malformed run terminated");
                let _ = msg.ack_with(AckKind::Term).await;
                return;
            }
        };
        let span = tracing::info_span!("run", run = %job.run.id);
        self.run_job(job, &msg).instrument(span).await;
    }

    /// Runs `job` on a sandbox slot this worker holds already.
    async fn run_job(&self, job: RunJob, msg: &jetstream::Message) {
        let started = std::time::Instant::now();
        let queued_ms = (chrono::Utc::now() - job.run.created_at)
            .num_milliseconds()
            .max(0) as u64;
        let mut run = job.run.clone();
        let report = self
            .keep_alive(msg, async {
                let package = match &job.package_digest {
                    Some(digest) => Some(self.packages.get(digest, &self.store).await?),
                    None => None,
                };
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
                let judge = self.judge.clone();
                let asked = job.run.clone();
                let task = tokio::task::spawn_blocking(move || {
                    judge.trial(
                        package.as_deref(),
                        &asked.language,
                        asked.source.as_bytes(),
                        asked.stdin.as_deref().map(str::as_bytes),
                        asked.expected_output.as_deref().map(str::as_bytes),
                        |p| {
                            let _ = tx.send(p);
                        },
                    )
                });
                tokio::pin!(task);
                loop {
                    tokio::select! {
                        report = &mut task => return report.map_err(|e| JobError::Task(e.to_string())),
                        Some(progress) = rx.recv() => {
                            run.status = match progress {
                                Progress::Compiling => RunStatus::Compiling,
                                Progress::Running { .. } => RunStatus::Running,
                            };
                            if let Err(e) = self.put_run(&run).await {
                                tracing::warn!(error = %e, "writing a run's progress");
                            }
                        }
                    }
                }
            })
            .await;
        let mut report = report.unwrap_or_else(|e| common::api::RunReport {
            verdict: Some(Verdict::InternalError),
            error: Some(e.to_string()),
            ..Default::default()
        });
        report.judge_ms = Some(started.elapsed().as_millis() as u64);
        report.queued_ms = Some(queued_ms);
        tracing::info!(verdict = ?report.verdict, "run done");
        run.status = RunStatus::Done;
        run.report = report;
        match self.put_run(&run).await {
            Ok(()) => {
                let _ = msg.double_ack().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not write a run's report; handing it back");
                let _ = msg.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
            }
        }
    }

    async fn handle(&self, msg: jetstream::Message) {
        let attempt = msg.info().map_or(1, |i| i.delivered.max(1) as u64);
        let job: GradingJob = match serde_json::from_slice(&msg.payload) {
            Ok(job) => job,
            Err(e) => {
                // Not a job anyone can grade, and no submission id to report on: drop it for good.
                tracing::error!(error = %e, "malformed job terminated");
                let _ = msg.ack_with(AckKind::Term).await;
                return;
            }
        };
        let span =
            tracing::info_span!("job", submission = %job.submission_id, judging = job.judging, attempt);
        self.judge_job(job, attempt, msg).instrument(span).await;
    }

    /// Grades one well-formed job (unless it is graded already) and reports the verdict.
    async fn judge_job(&self, job: GradingJob, attempt: u64, msg: jetstream::Message) {
        let _claim = loop {
            match self
                .in_flight
                .claim(&format!("{}:{}", job.submission_id, job.judging))
            {
                Ok(claim) => break claim,
                Err(mut other) => {
                    tracing::info!("this judge is grading the submission already; waiting for that delivery");
                    // Only ever ends with an error: when the other delivery's claim is dropped.
                    let _ = self.keep_alive(&msg, other.changed()).await;
                }
            }
        };
        // A delivered job may already be judged: the verdict was stored but the ack was lost (a
        // broker restart, a judge killed right after publishing). A crashed broker can also forget
        // that it delivered a job and hand it out again as a first delivery, so every delivery is
        // checked, at the cost of one stream read. Then only the ack is owed.
        if self.already_judged(&job.submission_id, job.judging).await {
            tracing::info!("job was already judged; acking it");
            let _ = msg.double_ack().await;
            return;
        }
        let checked = std::time::Instant::now();
        let last_attempt = attempt >= jobs::MAX_DELIVER as u64;
        let report = match self.grade(&job, attempt, &msg).await {
            Ok(report) => report,
            Err(e) if last_attempt => {
                tracing::error!(error = %e, "job failed on its last delivery: internal_error");
                JudgeReport::internal_error(e.to_string())
            }
            Err(e) => {
                tracing::warn!(error = %e, "job failed; handing it back for another try");
                let _ = msg.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
                return;
            }
        };
        tracing::info!(verdict = %report.verdict, "judged");
        // Another judge may have finished a redelivery of this job while this one graded it: the
        // first verdict stands. Its verdict is younger than this grading, so for a job graded
        // within half the results' duplicate window the stream drops ours (same message id) and
        // no read is needed; a longer job looks first.
        let long = checked.elapsed() >= jobs::RESULTS_DUPLICATE_WINDOW / 2;
        if long && self.already_judged(&job.submission_id, job.judging).await {
            tracing::info!("another delivery was judged first; acking the job");
            let _ = msg.double_ack().await;
            return;
        }
        let update = GradingUpdate {
            submission_id: job.submission_id.clone(),
            attempt,
            judging: job.judging,
            // Only what a learner may see leaves the judge: nothing of a secret test's data.
            status: GradingStatus::Judged {
                report: report.shown_to_learner(),
            },
        };
        match self.publish_verdict(&update).await {
            Ok(()) => {
                // Retried through a JOBS election; a lost ack only means a redelivery, which
                // `already_judged` answers without grading again.
                if let Err(e) = common::retry::retry("acking a judged job", || msg.double_ack()).await {
                    tracing::warn!(error = %e, "acking a judged job (it may be judged again; results are idempotent)");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not publish the verdict; handing the job back");
                let _ = msg.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
            }
        }
    }
}

/// What the provisioning step made for the judges: the grading jobs' consumer, the runs'
/// consumer and the package store.
struct Provisioned {
    jobs: PullConsumer,
    rejudge: PullConsumer,
    runs: PullConsumer,
    store: jetstream::object_store::ObjectStore,
}

/// How long a job runs before its first progress is published: a job judged sooner reports only
/// its verdict (see [`Pacer`]). Well under the edge's 500 ms look at a followed submission.
const PROGRESS_AFTER: Duration = Duration::from_millis(150);
/// How often at most a job's progress is published after that.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Paces a job's progress: nothing for the first [`PROGRESS_AFTER`] of a job, then the latest
/// status at once and at most every [`PROGRESS_EVERY`] after that. Each update is a stream write, a
/// progress ack and a store write; most submissions are judged before anyone could see them
/// compiling (the edge looks every 500 ms), so they cost one write, their verdict.
struct Pacer {
    held: Option<GradingStatus>,
    next_at: tokio::time::Instant,
}

impl Pacer {
    /// A pacer for a job that starts at `now`.
    fn new(now: tokio::time::Instant) -> Pacer {
        Pacer {
            held: None,
            next_at: now + PROGRESS_AFTER,
        }
    }

    /// What to send now for `status` arriving at `now`, or `None` when it is held back (the
    /// latest held one replaces any earlier).
    fn offer(&mut self, status: GradingStatus, now: tokio::time::Instant) -> Option<GradingStatus> {
        if now < self.next_at {
            self.held = Some(status);
            return None;
        }
        Some(self.sent(status, now))
    }

    /// Whether an update is held back, to go out at [`Pacer::due_at`].
    fn holds(&self) -> bool {
        self.held.is_some()
    }

    fn due_at(&self) -> tokio::time::Instant {
        self.next_at
    }

    /// The held update, if its time has come at `now`.
    fn due(&mut self, now: tokio::time::Instant) -> Option<GradingStatus> {
        if now < self.next_at {
            return None;
        }
        let status = self.held.take()?;
        Some(self.sent(status, now))
    }

    fn sent(&mut self, status: GradingStatus, now: tokio::time::Instant) -> GradingStatus {
        self.held = None;
        self.next_at = now + PROGRESS_EVERY;
        status
    }
}

/// Waits until the provisioning step has created what the judge uses.
async fn provisioned(js: &jetstream::Context) -> Provisioned {
    let mut warned = false;
    loop {
        let consumer = js
            .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
                jobs::JUDGE_CONSUMER,
                jobs::JOBS_STREAM,
            )
            .await;
        let runs = js
            .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
                jobs::RUNNER_CONSUMER,
                jobs::RUNS_STREAM,
            )
            .await;
        let rejudge = js
            .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
                jobs::JUDGE_CONSUMER,
                jobs::REJUDGE_STREAM,
            )
            .await;
        let store = js.get_object_store(jobs::PROBLEMS_BUCKET).await;
        match (consumer, rejudge, runs, store) {
            (Ok(jobs), Ok(rejudge), Ok(runs), Ok(store)) => {
                return Provisioned {
                    jobs,
                    rejudge,
                    runs,
                    store,
                }
            }
            (c, j, r, s) => {
                if !warned {
                    tracing::warn!(consumer = ?c.err(), rejudge = ?j.err(), runs = ?r.err(), store = ?s.err(), "waiting for the streams to be provisioned");
                    warned = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The two queues a grading slot takes jobs from: new submissions first, rejudges only when
/// none waits.
#[derive(Clone)]
struct GradingQueues {
    jobs: PullConsumer,
    rejudge: PullConsumer,
}

/// What one pull brought.
enum Pulled {
    Job(Box<jetstream::Message>),
    /// Nothing there (now, or within the wait).
    Nothing,
    Failed(String),
}

/// Asks `consumer` for one message: at once (`wait` `None`: an empty queue answers "nothing"
/// straight away) or waiting up to `wait` for one to come.
async fn pull_one(consumer: &PullConsumer, wait: Option<Duration>) -> Pulled {
    let mut fetch = consumer.fetch().max_messages(1);
    if let Some(wait) = wait {
        fetch = fetch.expires(wait);
    }
    let mut batch = match fetch.messages().await {
        Ok(batch) => batch,
        Err(e) => return Pulled::Failed(e.to_string()),
    };
    // A pull that asks for no wait has no expiry, so nothing on our side would end it if no
    // answer came (a consumer with no leader, during an election, answers nothing): bounded here.
    let bound = wait.unwrap_or(Duration::ZERO) + Duration::from_secs(1);
    match tokio::time::timeout(bound, batch.next()).await {
        Ok(Some(Ok(msg))) => Pulled::Job(Box::new(msg)),
        Ok(Some(Err(e))) => {
            tracing::debug!(error = %e, "pull ended");
            Pulled::Nothing
        }
        Ok(None) => Pulled::Nothing,
        Err(_) => Pulled::Failed("no answer to a pull (no consumer leader?)".to_owned()),
    }
}

impl GradingQueues {
    /// The next job, a new submission's before any rejudge's: a look at each queue, then a wait
    /// of up to 2 s on the new submissions'. A rejudge therefore delays a new submission by at
    /// most the job this slot holds.
    async fn next(&self) -> Pulled {
        if let Pulled::Job(m) = pull_one(&self.jobs, None).await {
            return Pulled::Job(m);
        }
        if let Pulled::Job(m) = pull_one(&self.rejudge, None).await {
            return Pulled::Job(m);
        }
        pull_one(&self.jobs, Some(Duration::from_secs(2))).await
    }
}

/// Pulls and grades jobs on one slot until `stop` turns true, finishing the job it holds. A pull
/// that fails, or ends at once without a job (no JOBS leader during an election), is followed by
/// a pause that grows while that goes on, so it never spins.
async fn pull_loop(
    worker: Arc<Worker>,
    queues: GradingQueues,
    index: usize,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = common::retry::Backoff::default();
    while !*stop.borrow() {
        tokio::select! {
            _ = worker.gate.grading_turn(index) => {}
            _ = stop.changed() => continue,
        }
        let started = std::time::Instant::now();
        let next = tokio::select! {
            m = queues.next() => m,
            _ = stop.changed() => break,
        };
        match next {
            Pulled::Job(msg) => {
                let msg = *msg;
                backoff.reset();
                // A run waiting for a slot goes first; the job is kept alive meanwhile.
                let _slot = worker.keep_alive(&msg, worker.gate.for_grading()).await;
                worker.handle(msg).await;
                continue;
            }
            Pulled::Failed(e) => tracing::warn!(error = %e, "pulling a job"),
            Pulled::Nothing => {}
        }
        // No job: normal after the pull's 2 s expiry; a pull that ended sooner failed.
        if started.elapsed() < Duration::from_secs(1) {
            tokio::select! {
                _ = backoff.wait() => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Pulls runs without grading one at a time while `stop` is false, each handled on its own task
/// as soon as a slot is free (ahead of grading jobs); on stop, waits for the runs in hand.
async fn run_loop(worker: Arc<Worker>, consumer: PullConsumer, mut stop: watch::Receiver<bool>) {
    let mut running = tokio::task::JoinSet::new();
    while !*stop.borrow() {
        while running.try_join_next().is_some() {}
        let batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(2))
            .messages()
            .await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "pulling a run");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        let next = tokio::select! {
            m = batch.next() => m,
            _ = stop.changed() => break,
        };
        match next {
            Some(Ok(msg)) => {
                let slot = worker.keep_alive(&msg, worker.gate.for_run()).await;
                let worker = worker.clone();
                running.spawn(async move {
                    worker.handle_run(msg).await;
                    drop(slot);
                });
            }
            Some(Err(e)) => tracing::debug!(error = %e, "run pull ended"),
            None => {}
        }
    }
    while running.join_next().await.is_some() {}
}

/// How `serve` runs, beyond the judge's own configuration.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where unpacked problem packages are cached.
    pub cache_dir: PathBuf,
    /// How long one slot stays kept free for runs without grading after the last run came
    /// (see [`SlotGate`]); zero: grading always takes every slot.
    pub run_reserve: Duration,
}

/// Runs until SIGTERM or SIGINT.
pub async fn serve(config: JudgeConfig, options: ServeOptions) -> Result<(), ServeError> {
    let cache_dir = options.cache_dir.clone();
    let settings = NatsSettings::from_env("judge")?;
    let slots = config.slots.max(1);
    if let Some(addr) = common::metrics::addr_from_env()? {
        common::metrics::serve(addr);
    }
    metrics::gauge!("judge_slots").set(slots as f64);
    // Polled once now, the signal handlers are in place before anyone can see the service: a
    // SIGTERM from then on stops it cleanly, however soon it comes.
    let shutdown = common::service::shutdown_signal();
    tokio::pin!(shutdown);
    let _ = futures::poll!(&mut shutdown);
    // Off the async threads: preparing the slots, and asking every toolchain its version (a JVM or
    // BEAM takes a second or more to say it).
    let (judge, offered) = tokio::task::spawn_blocking(move || {
        Judge::new(config).map(|judge| {
            let offered: Vec<String> = judge.languages().into_iter().map(|l| l.id).collect();
            (judge, offered)
        })
    })
    .await
    .expect("preparing the judge does not panic")?;
    let judge = Arc::new(judge);
    std::fs::create_dir_all(&cache_dir).map_err(|e| ServeError::Nats(e.into()))?;
    let client = common::nats::connect(&settings, "judge-worker").await?;
    let service = client
        .service_builder()
        .description("Compiles and runs submissions in a sandbox")
        .metadata(language_metadata(&judge))
        .start(subjects::judge::SERVICE, env!("CARGO_PKG_VERSION"))
        .await
        .map_err(ServeError::Nats)?;
    tracing::info!(languages = ?offered, slots, "judge service ready");

    let js = jetstream::new(client.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let Provisioned {
        jobs: consumer,
        rejudge,
        runs,
        store,
    } = tokio::select! {
        ready = provisioned(&js) => ready,
        _ = &mut shutdown => {
            service.stop().await.map_err(ServeError::Nats)?;
            common::service::drain(&client).await;
            return Ok(());
        }
    };
    let ack_wait = consumer.cached_info().config.ack_wait;
    let ack_wait = if ack_wait.is_zero() {
        jobs::ACK_WAIT
    } else {
        ack_wait
    };
    let worker = Arc::new(Worker {
        gate: SlotGate::new(slots, options.run_reserve),
        in_flight: InFlight::default(),
        judge,
        ack_wait,
        js,
        store,
        packages: PackageCache {
            dir: cache_dir,
            loaded: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
        },
        derived: tokio::sync::Mutex::new(HashMap::new()),
    });
    let queues = GradingQueues {
        jobs: consumer,
        rejudge,
    };
    let mut loops: Vec<_> = (0..slots)
        .map(|index| tokio::spawn(pull_loop(worker.clone(), queues.clone(), index, stop_rx.clone())))
        .collect();
    loops.push(tokio::spawn(run_loop(worker.clone(), runs, stop_rx.clone())));
    shutdown.await;
    tracing::info!("stopping: finishing the jobs in hand");
    let _ = stop_tx.send(true);
    for l in loops {
        let _ = l.await;
    }
    service.stop().await.map_err(ServeError::Nats)?;
    common::service::drain(&client).await;
    tracing::info!("judge worker stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn progress_waits_out_a_quiet_start_then_goes_out_at_most_every_interval_latest_first() {
        let running = |test| GradingStatus::Running { test, of: 10 };
        let is = |s: Option<GradingStatus>, t: u32| matches!(s, Some(GradingStatus::Running { test, .. }) if test == t);
        let t0 = tokio::time::Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let (after, every) = (
            PROGRESS_AFTER.as_millis() as u64,
            PROGRESS_EVERY.as_millis() as u64,
        );
        let mut p = Pacer::new(t0);
        // A quick job: everything held, and nothing is due before the quiet start ends.
        assert!(p.offer(GradingStatus::Compiling, ms(0)).is_none());
        assert!(p.offer(running(1), ms(5)).is_none());
        assert!(p.holds());
        assert!(p.due(ms(after - 1)).is_none(), "not before its time");
        // A longer one: the latest status goes out when the quiet start ends.
        assert!(is(p.due(ms(after)), 1));
        assert!(!p.holds());
        // Then at most every interval, the latest kept.
        assert!(p.offer(running(2), ms(after + 10)).is_none());
        assert!(p.offer(running(3), ms(after + 20)).is_none());
        assert!(is(p.due(ms(after + every)), 3));
        // After a quiet interval a status goes out at once.
        assert!(is(p.offer(running(4), ms(after + 3 * every)), 4));
        assert!(p.offer(running(5), ms(after + 3 * every + 1)).is_none());
        // A job compiling past the quiet start shows it.
        let mut p = Pacer::new(t0);
        assert!(p.offer(GradingStatus::Compiling, ms(1)).is_none());
        assert!(matches!(p.due(ms(after)), Some(GradingStatus::Compiling)));
        assert!(p.due(ms(after + every)).is_none(), "nothing held, nothing sent");
    }

    #[tokio::test]
    async fn every_slot_grades_until_a_run_comes() {
        let gate = SlotGate::new(2, Duration::from_secs(60));
        assert!(gate.grading_turn(0).now_or_never().is_some());
        assert!(gate.grading_turn(1).now_or_never().is_some());
    }

    #[tokio::test]
    async fn after_a_run_the_last_slot_waits_and_a_run_finds_a_slot_free() {
        let gate = SlotGate::new(2, Duration::from_secs(60));
        drop(gate.for_run().await);
        assert!(gate.grading_turn(0).now_or_never().is_some());
        assert!(
            gate.grading_turn(1).now_or_never().is_none(),
            "the last grading loop must wait while runs come"
        );
        // The one loop still grading holds a slot; the next run takes the other at once.
        let _grading = gate.for_grading().await;
        assert!(gate.for_run().now_or_never().is_some());
    }

    #[tokio::test]
    async fn the_kept_slot_grades_again_once_runs_stop() {
        let gate = SlotGate::new(2, Duration::from_millis(100));
        drop(gate.for_run().await);
        tokio::time::timeout(Duration::from_secs(10), gate.grading_turn(1))
            .await
            .expect("grading takes the last slot again after the reserve");
    }

    #[tokio::test]
    async fn a_single_slot_or_no_reserve_is_never_kept() {
        let one = SlotGate::new(1, Duration::from_secs(60));
        drop(one.for_run().await);
        assert!(one.grading_turn(0).now_or_never().is_some());
        let unreserved = SlotGate::new(2, Duration::ZERO);
        drop(unreserved.for_run().await);
        assert!(unreserved.grading_turn(1).now_or_never().is_some());
    }
}

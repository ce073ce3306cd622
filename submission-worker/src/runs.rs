//! Runs without grading: checked and rate-limited here, queued for the judges on their own
//! stream (pulled ahead of grading jobs), and kept only in the `runs` key-value bucket, whose
//! entries expire after [`common::jobs::RUN_TTL`]. Nothing of a run reaches the database: it is
//! not a submission, has no score, and a learner makes many of them.
//!
//! This worker owns the bucket's entries: it creates each (`queued`, with the owner) and answers
//! reads, checking the owner; the judge only writes progress and the report back into the entry
//! it was given, so the edge can follow the entry's subject for live updates without a hop
//! through this worker.

use std::sync::Arc;

use async_nats::jetstream::{self, kv};
use common::api::{body, NewRun, Run, RunAccepted, RunStatus};
use common::jobs::{RunJob, RUNS_BUCKET};
use common::service::{Answer, Caller};
use common::subjects;
use tokio::sync::OnceCell;

use crate::error::SubmissionError;
use crate::submissions::SOURCE_MAX_BYTES;
use crate::Service;

/// Largest standard input accepted for a run.
pub const STDIN_MAX_BYTES: usize = 64 * 1024;

/// The runs bucket, opened on first use (the provisioning step may run after the worker starts).
#[derive(Clone)]
pub struct Runs {
    js: jetstream::Context,
    bucket: Arc<OnceCell<kv::Store>>,
}

impl Runs {
    pub fn new(js: jetstream::Context) -> Runs {
        Runs {
            js,
            bucket: Arc::new(OnceCell::new()),
        }
    }

    async fn bucket(&self) -> Result<&kv::Store, SubmissionError> {
        self.bucket
            .get_or_try_init(|| async {
                self.js
                    .get_key_value(RUNS_BUCKET)
                    .await
                    .map_err(|e| SubmissionError::Broker(e.to_string()))
            })
            .await
    }
}

/// A valid `POST /api/runs` body.
struct Request {
    problem_id: Option<String>,
    language: String,
    source: String,
    stdin: Option<String>,
}

fn new_run(bytes: &[u8]) -> Result<Request, SubmissionError> {
    let (b, mut f) = body::parse::<NewRun>(bytes)?;
    let problem_id = f.optional("problem_id", b.problem_id, body::non_empty);
    let language = f.required("language", b.language, body::non_empty);
    let source = f.required("source", b.source, |s| match s.len() {
        0 => Err("is required".to_owned()),
        n if n > SOURCE_MAX_BYTES => Err(format!("must be at most {SOURCE_MAX_BYTES} bytes")),
        _ => Ok(s),
    });
    let stdin = f.optional("stdin", b.stdin, |s| {
        if s.len() > STDIN_MAX_BYTES {
            Err(format!("must be at most {STDIN_MAX_BYTES} bytes"))
        } else {
            Ok(s)
        }
    });
    f.finish()?;
    let (Some(language), Some(source)) = (language, source) else {
        unreachable!("finish() fails when a field is missing");
    };
    Ok(Request {
        problem_id,
        language,
        source,
        stdin,
    })
}

/// `POST /api/runs`: 202 with the run's id (`Location` says where to follow it).
pub async fn create(svc: &Service, caller: &Caller, body: &[u8]) -> Result<Answer, SubmissionError> {
    let user_id = caller.user().ok_or(SubmissionError::Unauthenticated)?.to_owned();
    let request = new_run(body)?;
    let package_digest = match &request.problem_id {
        None => None,
        Some(id) => match svc.problem_refs.get(&svc.store, id).await? {
            Some(problem) => Some(problem.package_digest),
            None => return Err(body::BodyError::field("problem_id", "no such problem").into()),
        },
    };
    if !svc.languages().await.iter().any(|l| l.id == request.language) {
        return Err(body::BodyError::field("language", "no judge offers this language now").into());
    }
    svc.counters.acquire_run(&user_id).await?;
    let run = Run {
        id: uuid::Uuid::now_v7().to_string(),
        user_id,
        problem_id: request.problem_id,
        language: request.language,
        status: RunStatus::Queued,
        created_at: crate::now(),
        report: None,
    };
    let bucket = svc.runs.bucket().await?;
    let broker = |e: &dyn std::fmt::Display| SubmissionError::Broker(e.to_string());
    bucket
        .put(&run.id, serde_json::to_vec(&run).expect("runs serialise").into())
        .await
        .map_err(|e| broker(&e))?;
    let job = RunJob {
        run: run.clone(),
        package_digest,
        source: request.source,
        stdin: request.stdin,
    };
    let mut h = async_nats::HeaderMap::new();
    h.insert(subjects::headers::MESSAGE_ID, run.id.as_str());
    svc.js
        .publish_with_headers(
            subjects::jobs::RUN,
            h,
            serde_json::to_vec(&job).expect("jobs serialise").into(),
        )
        .await
        .map_err(|e| broker(&e))?
        .await
        .map_err(|e| broker(&e))?;
    metrics::counter!("runs_created_total", "language" => run.language.clone()).increment(1);
    let mut answer = Answer::json(
        202,
        &RunAccepted {
            id: run.id.clone(),
            status: run.status,
        },
    );
    answer.location = Some(format!("/api/runs/{}", run.id));
    Ok(answer)
}

/// `GET /api/runs/{id}`: the owner or an admin; 404 for anyone else, and once it has expired.
pub async fn get(svc: &Service, caller: &Caller, id: &str) -> Result<Answer, SubmissionError> {
    let user_id = caller.user().ok_or(SubmissionError::Unauthenticated)?;
    // Only ids we give out name an entry (anything else could be a key pattern).
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(SubmissionError::NotFound("run"));
    }
    let entry = svc
        .runs
        .bucket()
        .await?
        .get(id)
        .await
        .map_err(|e| SubmissionError::Broker(e.to_string()))?;
    let run = entry
        .and_then(|v| serde_json::from_slice::<Run>(&v).ok())
        .filter(|r| r.user_id == user_id || caller.is_admin())
        .ok_or(SubmissionError::NotFound("run"))?;
    Ok(Answer::json(200, &run))
}

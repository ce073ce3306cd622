//! Submissions: saved first, then published to the jobs stream with the submission id as the
//! message id (a retried publish is not judged twice); results come back through
//! [`crate::results`].

use common::jobs::{self, GradingJob};
use common::problem::Fields;
use common::service::{Answer, Caller, Failure};
use common::Problem;
use mongodb::bson::{doc, Document};
use serde_json::{json, Map, Value};

use crate::intake::Refused;
use crate::Service;
use crate::{paging, store};

/// Largest source accepted.
pub const SOURCE_MAX_BYTES: usize = 64 * 1024;

/// A required, non-empty string field.
fn text<'a>(f: &mut Fields, map: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    match f.string(map, name)? {
        "" => {
            f.error(name, "is required");
            None
        }
        s => Some(s),
    }
}

/// `POST /api/submissions`.
pub async fn create(svc: &Service, caller: &Caller, body: &[u8]) -> Result<Answer, Failure> {
    let user_id = caller.require_user()?.to_owned();
    let map = common::problem::json_object(body)?;
    let mut f = Fields::default();
    let problem_id = text(&mut f, &map, "problem_id");
    let language = text(&mut f, &map, "language");
    let source = text(&mut f, &map, "source");
    if source.is_some_and(|s| s.len() > SOURCE_MAX_BYTES) {
        f.error("source", format!("must be at most {SOURCE_MAX_BYTES} bytes"));
    }
    f.finish()?;
    let (problem_id, language, source) = (
        problem_id.unwrap_or_default(),
        language.unwrap_or_default(),
        source.unwrap_or_default(),
    );
    let problem = svc
        .problem_refs
        .get(&svc.store.problems, problem_id)
        .await
        .map_err(store::unavailable)?;
    let Some(problem) = problem else {
        return Err(Problem::field("problem_id", "no such problem").into());
    };
    if !svc.languages().await.iter().any(|l| l.id == language) {
        return Err(Problem::field("language", "no judge offers this language now").into());
    }
    let (version, digest) = (problem.version, problem.package_digest);
    // Ids are UUIDv7: ordered by time, so listing pages by id.
    let id = uuid::Uuid::now_v7().to_string();
    let now_ms = chrono::Utc::now().timestamp_millis();
    // `idem` is unique: the user's idempotency key, or the id itself when there is none. A
    // repeated key is caught by the index, not by a read before the write.
    let idem = match &caller.idempotency_key {
        Some(key) => format!("{user_id}:{key}"),
        None => id.clone(),
    };
    let record = doc! {
        "_id": &id, "user_id": &user_id, "problem_id": problem_id, "problem_version": version,
        "package_digest": &digest, "language": language, "source": source, "status": "queued",
        "created_at": mongodb::bson::DateTime::from_millis(now_ms), "created_ms": now_ms, "idem": &idem, "order": &id,
        "outbox": "pending",
    };
    // A repeat of an accepted request gets its submission back, whatever the limits say now.
    if caller.idempotency_key.is_some() {
        if let Some(existing) = find_by_key(svc, &idem).await? {
            return Ok(repeated(&existing));
        }
    }
    let job = job_of(&record);
    acquire(svc, &user_id).await?;
    match svc.committer.insert(record).await {
        Ok(()) => {}
        Err(Refused::Duplicate) => {
            // A repeat of an earlier request, racing this one: it takes no slot of its own.
            svc.counters.release(&user_id).await;
            let existing = find_by_key(svc, &idem).await?.ok_or_else(|| {
                Problem::new(409, "conflict", "The idempotency key is being used right now")
            })?;
            return Ok(repeated(&existing));
        }
        Err(Refused::Store(e)) => {
            svc.counters.release(&user_id).await;
            return Err(store::unavailable(e).into());
        }
    }

    // Saved with `outbox: pending`; a job that cannot be published now (the broker is away)
    // is published later by the sweep, so the client's 202 stands either way.
    publish(svc, &job).await;
    tracing::info!(submission = %id, "submission queued");
    Ok(accepted(&id, "queued"))
}

/// Takes the user's slots. A refusal for too many waiting is checked against the records first
/// (a bounded, indexed read, made only on this rare path), so a counter that drifted high cannot
/// lock a user out.
async fn acquire(svc: &Service, user_id: &str) -> Result<(), Failure> {
    use futures::TryStreamExt;
    let refused = match svc.counters.acquire(user_id).await {
        Err(f) if f.problem.code == "too_many_queued" => f,
        other => return other,
    };
    let max = svc.counters.limits.max_queued;
    let waiting: Vec<Document> = svc
        .store
        .submissions
        .find(doc! {"user_id": user_id, "status": {"$in": ["queued", "compiling", "running"]}})
        .projection(doc! {"_id": 1})
        .limit(max)
        .await
        .map_err(store::unavailable)?
        .try_collect()
        .await
        .map_err(store::unavailable)?;
    if svc.counters.correct_queued(user_id, waiting.len() as i64).await? {
        return svc.counters.acquire(user_id).await;
    }
    Err(refused)
}

async fn find_by_key(svc: &Service, idem: &str) -> Result<Option<Document>, Failure> {
    Ok(svc
        .store
        .submissions
        .find_one(doc! {"idem": idem})
        .await
        .map_err(store::unavailable)?)
}

/// The 202 answer for submission `id`, with where to follow it.
fn accepted(id: &str, status: &str) -> Answer {
    let mut answer = Answer::json(202, &json!({"id": id, "status": status}));
    answer.location = Some(format!("/api/submissions/{id}"));
    answer
}

/// The answer to an idempotent repeat: the existing submission, as it stands now.
fn repeated(existing: &Document) -> Answer {
    accepted(
        existing.get_str("_id").unwrap_or_default(),
        existing.get_str("status").unwrap_or("queued"),
    )
}

/// The grading job of a submission record (at creation, and again from the outbox).
fn job_of(d: &Document) -> GradingJob {
    let text = |k: &str| d.get_str(k).unwrap_or_default().to_owned();
    GradingJob {
        submission_id: text("_id"),
        problem_id: text("problem_id"),
        problem_version: store::int(d, "problem_version").unwrap_or(1) as u32,
        package_digest: text("package_digest"),
        language: text("language"),
        source: text("source"),
        run_all_tests: false,
    }
}

/// The API view of a submission.
pub fn view(d: &Document) -> Value {
    let mut v = d.clone();
    if let Some(id) = v.remove("_id") {
        v.insert("id", id);
    }
    for internal in [
        "package_digest",
        "created_ms",
        "updated_ms",
        "idem",
        "order",
        "outbox",
    ] {
        v.remove(internal);
    }
    mongodb::bson::Bson::Document(v).into_relaxed_extjson()
}

/// `GET /api/submissions/{id}`: the owner or an admin; 404 for anyone else.
pub async fn get(svc: &Service, caller: &Caller, id: &str) -> Result<Answer, Failure> {
    let user_id = caller.require_user()?;
    let not_found = || Problem::new(404, "not_found", "No such submission");
    let d = svc
        .store
        .submissions
        .find_one(doc! {"_id": id})
        .await
        .map_err(store::unavailable)?
        .ok_or_else(not_found)?;
    if d.get_str("user_id").ok() != Some(user_id) && !caller.is_admin() {
        return Err(not_found().into());
    }
    Ok(Answer::json(200, &view(&d)))
}

/// Statuses a list may be filtered by.
const STATUSES: [&str; 4] = ["queued", "compiling", "running", "judged"];

/// `GET /api/submissions`: the caller's own submissions, newest first, paged by cursor (the last
/// id of the previous page) over the `(user_id, order)` index; sources are left out.
pub async fn list(svc: &Service, caller: &Caller, body: &[u8]) -> Result<Answer, Failure> {
    let user_id = caller.require_user()?;
    let query: std::collections::HashMap<String, String> = serde_json::from_slice(body).unwrap_or_default();
    let mut f = Fields::default();
    let (limit, cursor) = paging::parse(&query, 20, &mut f);
    let mut filter = doc! {"user_id": user_id};
    if let Some(problem) = query.get("problem_id") {
        filter.insert("problem_id", problem);
    }
    if let Some(status) = query.get("status") {
        if STATUSES.contains(&status.as_str()) {
            filter.insert("status", status);
        } else {
            f.error("status", "must be queued, compiling, running or judged");
        }
    }
    f.finish()?;
    let projection = doc! {"source": 0, "tests": 0, "compile_output": 0};
    paging::page(
        &svc.store.submissions,
        filter,
        cursor,
        true,
        limit,
        Some(projection),
        view,
    )
    .await
}

/// Publishes a job (message id = submission id, so a repeat within the dedup window is
/// dropped) and, once JetStream has it, marks the submission's outbox entry done. Returns
/// whether the job is in the stream.
pub async fn publish(svc: &Service, job: &GradingJob) -> bool {
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Msg-Id", job.submission_id.as_str());
    let body = serde_json::to_vec(job).expect("jobs serialise");
    let stored = match svc
        .js
        .publish_with_headers(jobs::JOBS_SUBJECT, h, body.into())
        .await
    {
        Ok(ack) => ack.await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = stored {
        tracing::warn!(submission = %job.submission_id, error = %e, "job not published yet; the sweep will retry");
        return false;
    }
    svc.committer.published(job.submission_id.clone());
    true
}

/// How old a pending outbox entry must be before the sweep takes it (the request that saved
/// it is normally publishing it itself).
const SWEEP_AGE_MS: i64 = 3_000;

/// Publishes the jobs of submissions saved but not yet in the stream. Every replica sweeps;
/// duplicates are dropped by JetStream's message-id dedup.
pub async fn sweep(svc: &Service) -> Result<usize, mongodb::error::Error> {
    use futures::TryStreamExt;
    let before = chrono::Utc::now().timestamp_millis() - SWEEP_AGE_MS;
    let pending: Vec<Document> = svc
        .store
        .submissions
        .find(doc! {"outbox": "pending", "created_ms": {"$lt": before}})
        .limit(200)
        .await?
        .try_collect()
        .await?;
    let mut published = 0;
    for d in pending {
        let job = job_of(&d);
        if publish(svc, &job).await {
            published += 1;
        } else {
            break;
        }
    }
    if published > 0 {
        tracing::info!(published, "outbox sweep published jobs");
    }
    Ok(published)
}

//! Submissions: published to the jobs stream with the submission id as the message id (a retried
//! publish is not judged twice), then saved, already marked published (or `pending` for the
//! outbox sweep when the stream did not take the job); results come back through
//! [`crate::results`].

use common::api::{self, body, NewSubmission, Status, SubmissionAccepted, SubmissionQuery};
use common::jobs::GradingJob;
use common::service::{Answer, Caller};
use common::subjects;
use mongodb::bson::{doc, Bson};

use crate::error::SubmissionError;
use crate::intake::Refused;
use crate::paging::{self, PageRead};
use crate::store::{Outbox, SubmissionRecord};
use crate::Service;

/// Largest source accepted.
pub const SOURCE_MAX_BYTES: usize = 64 * 1024;

/// A valid `POST /api/submissions` body: problem, language and source, each non-empty.
fn new_submission(bytes: &[u8]) -> Result<(String, String, String), SubmissionError> {
    let (b, mut f) = body::parse::<NewSubmission>(bytes)?;
    let problem_id = f.required("problem_id", b.problem_id, body::non_empty);
    let language = f.required("language", b.language, body::non_empty);
    let source = f.required("source", b.source, |s| match s.len() {
        0 => Err("is required".to_owned()),
        n if n > SOURCE_MAX_BYTES => Err(format!("must be at most {SOURCE_MAX_BYTES} bytes")),
        _ => Ok(s),
    });
    f.finish()?;
    let (Some(problem_id), Some(language), Some(source)) = (problem_id, language, source) else {
        unreachable!("finish() fails when a field is missing");
    };
    Ok((problem_id, language, source))
}

/// `POST /api/submissions`.
pub async fn create(svc: &Service, caller: &Caller, body: &[u8]) -> Result<Answer, SubmissionError> {
    let user_id = caller.user().ok_or(SubmissionError::Unauthenticated)?.to_owned();
    let (problem_id, language, source) = new_submission(body)?;
    let problem = svc.problem_refs.get(&svc.store, &problem_id).await?;
    let Some(problem) = problem else {
        return Err(body::BodyError::field("problem_id", "no such problem").into());
    };
    if problem.is_held() {
        return Err(SubmissionError::ProblemHeld);
    }
    if !svc.languages().await.iter().any(|l| l.id == language) {
        return Err(body::BodyError::field("language", "no judge offers this language now").into());
    }
    // Ids are UUIDv7: ordered by time, so listing pages by id.
    let id = uuid::Uuid::now_v7().to_string();
    let created_at = crate::now();
    // `idem` is unique: the user's idempotency key, or the id itself when there is none. A
    // repeated key is caught by the index, not by a read before the write.
    let idem = match &caller.idempotency_key {
        Some(key) => format!("{user_id}:{key}"),
        None => id.clone(),
    };
    let mut record = SubmissionRecord {
        id: id.clone(),
        user_id: user_id.clone(),
        problem_id,
        problem_version: problem.version,
        package_digest: problem.package_digest.clone(),
        language,
        source,
        status: Status::Queued,
        created_ms: created_at.timestamp_millis(),
        created_at,
        idem: idem.clone(),
        order: id.clone(),
        outbox: Outbox::Done,
        progress: None,
        outcome: Default::default(),
        updated_ms: None,
        judging: common::jobs::first_judging(),
        rejudge_id: None,
        history: Vec::new(),
    };
    // A repeat of an accepted request gets its submission back, whatever the limits say now. A
    // key the edge made and sends for the first time cannot be a repeat: no read for it.
    if caller.idempotency_key.is_some() && !caller.fresh_key {
        if let Some(existing) = find_by_key(svc, &idem).await? {
            return Ok(repeated(&existing));
        }
    }
    let job = job_of(&record);
    acquire(svc, &user_id).await?;
    // The job goes into the stream before the record is written, so the record is written once,
    // already marked published: marking it afterwards cost the store as much as the insert. A
    // job whose record is refused as a repeat is taken back out; one whose record is lost (the
    // worker dies, the store fails) is graded for nobody (its client got no 202); a verdict
    // that overtakes its record waits for it ([`crate::results`]). A job the stream does not
    // take now is saved `pending` and published by the sweep, so the client's 202 stands.
    let published = match publish_job(&svc.js, &job).await {
        Ok(seq) => Some(seq),
        Err(e) => {
            tracing::warn!(submission = %id, error = %e, "job not published yet; the sweep will retry");
            record.outbox = Outbox::Pending;
            None
        }
    };
    if let Err(refused) = svc.committer.insert(record).await {
        svc.counters.release(&user_id).await;
        match refused {
            // A repeat of an earlier request, racing this one: it takes no slot of its own, and
            // its job (certainly without a record) is taken back.
            Refused::Duplicate => {
                if let Some(seq) = published {
                    withdraw(svc, &id, seq).await;
                }
                let existing = find_by_key(svc, &idem)
                    .await?
                    .ok_or(SubmissionError::IdempotencyConflict)?;
                return Ok(repeated(&existing));
            }
            // The record may have been written all the same: its job stays.
            Refused::Store(e) => return Err(e.into()),
        }
    }
    metrics::counter!("submissions_created_total", "language" => job.language.clone()).increment(1);
    tracing::info!(submission = %id, "submission queued");
    Ok(accepted(&id, Status::Queued))
}

/// Takes the user's slots. A refusal for too many waiting is checked against the records first
/// (a bounded, indexed read, made only on this rare path), so a counter that drifted high cannot
/// lock a user out.
async fn acquire(svc: &Service, user_id: &str) -> Result<(), SubmissionError> {
    use futures::TryStreamExt;
    let refused = match svc.counters.acquire(user_id).await {
        Err(e @ SubmissionError::TooManyQueued { .. }) => e,
        other => return other,
    };
    let max = svc.counters.limits.max_queued;
    let waiting: Vec<_> = svc
        .store
        .submissions
        .clone_with_type::<mongodb::bson::Document>()
        // A submission being rejudged (judging 2 on) waits too, but takes none of its author's slots.
        .find(doc! {"user_id": user_id, "status": {"$in": statuses(&Status::WAITING)}, "judging": 1})
        .projection(doc! {"_id": 1})
        .limit(max)
        .await?
        .try_collect()
        .await?;
    if svc.counters.correct_queued(user_id, waiting.len() as i64).await? {
        return svc.counters.acquire(user_id).await;
    }
    Err(refused)
}

/// Statuses as a filter's list.
fn statuses(list: &[Status]) -> Vec<Bson> {
    list.iter().map(|s| Bson::from(s.as_str())).collect()
}

async fn find_by_key(svc: &Service, idem: &str) -> Result<Option<SubmissionRecord>, SubmissionError> {
    Ok(svc
        .store
        .submissions
        .find_one(doc! {"idem": idem})
        .projection(doc! {"source": 0, "tests": 0, "compile_output": 0})
        .await?)
}

/// The 202 answer for submission `id`, with where to follow it.
fn accepted(id: &str, status: Status) -> Answer {
    let mut answer = Answer::json(
        202,
        &SubmissionAccepted {
            id: id.to_owned(),
            status,
        },
    );
    answer.location = Some(format!("/api/submissions/{id}"));
    answer
}

/// The answer to an idempotent repeat: the existing submission, as it stands now.
fn repeated(existing: &SubmissionRecord) -> Answer {
    accepted(&existing.id, existing.status)
}

/// The grading job of a submission record (at creation, at a rejudge, and again from the outbox).
pub fn job_of(r: &SubmissionRecord) -> GradingJob {
    GradingJob {
        submission_id: r.id.clone(),
        problem_id: r.problem_id.clone(),
        problem_version: r.problem_version,
        package_digest: r.package_digest.clone(),
        language: r.language.clone(),
        source: r.source.clone(),
        run_all_tests: false,
        judging: r.judging,
    }
}

/// `GET /api/submissions/{id}`: the owner or an admin; 404 for anyone else.
pub async fn get(svc: &Service, caller: &Caller, id: &str) -> Result<Answer, SubmissionError> {
    let user_id = caller.user().ok_or(SubmissionError::Unauthenticated)?;
    let record = svc
        .store
        .submissions
        .find_one(doc! {"_id": id})
        .await?
        .filter(|r| r.user_id == user_id || caller.is_admin())
        .ok_or(SubmissionError::NotFound("submission"))?;
    Ok(Answer::json(200, &record.view()))
}

/// `GET /api/submissions`: the caller's own submissions, newest first, paged by cursor (the last
/// id of the previous page) over the `(user_id, order)` index; sources are left out.
pub async fn list(svc: &Service, caller: &Caller, query: &[u8]) -> Result<Answer, SubmissionError> {
    let user_id = caller.user().ok_or(SubmissionError::Unauthenticated)?;
    let query: SubmissionQuery = crate::query(query)?;
    let mut f = body::Fields::default();
    let (limit, cursor) = query.page().read(20, &mut f);
    let mut filter = doc! {"user_id": user_id};
    if let Some(problem) = &query.problem_id {
        filter.insert("problem_id", problem);
    }
    if let Some(status) = &query.status {
        match Status::parse(status) {
            Some(s) => {
                filter.insert("status", s.as_str());
            }
            None => f.error("status", "must be queued, compiling, running or judged"),
        }
    }
    f.finish()?;
    let read = PageRead {
        filter,
        cursor,
        newest_first: true,
        limit,
        projection: Some(doc! {"source": 0, "tests": 0, "compile_output": 0}),
    };
    let page: api::Page<api::Submission> =
        paging::page(&svc.store.submissions, read, SubmissionRecord::view, |r| {
            r.id.clone()
        })
        .await?;
    Ok(Answer::json(200, &page))
}

/// Publishes a job (message id = submission id, so a repeat within the dedup window is
/// dropped; a rejudge's job goes behind new submissions with the id `<submission>:<judging>`)
/// and, once JetStream has it, marks the submission's outbox entry done. Returns whether the
/// job is in the stream.
pub async fn publish(svc: &Service, job: &GradingJob) -> bool {
    if let Err(e) = publish_job(&svc.js, job).await {
        tracing::warn!(submission = %job.submission_id, error = %e, "job not published yet; the sweep will retry");
        return false;
    }
    svc.committer.published(job.submission_id.clone());
    true
}

/// Takes a new submission's job (stream sequence `seq` of `JOBS`) back out of the stream when its
/// record was refused as a repeat. Best effort: a job left there is graded for a submission
/// nobody has, and its verdict is dropped.
async fn withdraw(svc: &Service, id: &str, seq: u64) {
    let deleted = match svc.js.get_stream_no_info(common::jobs::JOBS_STREAM).await {
        Ok(jobs) => jobs
            .delete_message(seq)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = deleted {
        tracing::warn!(submission = %id, seq, error = %e, "could not take back the job of a refused submission");
    }
}

/// Publishes a job and waits for JetStream to store it: a new submission's on the `JOBS` stream;
/// a rejudge's, or one verifying a package, on `REJUDGE`, behind new submissions. Returns the
/// job's stream sequence.
pub async fn publish_job(js: &async_nats::jetstream::Context, job: &GradingJob) -> Result<u64, String> {
    let (subject, message_id) = if job.judging > 1 || common::jobs::is_packaged_job(&job.submission_id) {
        (
            subjects::jobs::REJUDGE,
            format!("{}:{}", job.submission_id, job.judging),
        )
    } else {
        (subjects::jobs::GRADE, job.submission_id.clone())
    };
    let mut h = async_nats::HeaderMap::new();
    h.insert(subjects::headers::MESSAGE_ID, message_id.as_str());
    let body = serde_json::to_vec(job).expect("jobs serialise");
    match js.publish_with_headers(subject, h, body.into()).await {
        Ok(ack) => ack.await.map(|a| a.sequence).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// How old a pending outbox entry must be before the sweep takes it (the request that saved
/// it is normally publishing it itself).
const SWEEP_AGE_MS: i64 = 3_000;

/// Publishes the jobs of submissions saved but not yet in the stream. Every replica sweeps;
/// duplicates are dropped by JetStream's message-id dedup.
pub async fn sweep(svc: &Service) -> Result<usize, mongodb::error::Error> {
    use futures::TryStreamExt;
    let before = chrono::Utc::now().timestamp_millis() - SWEEP_AGE_MS;
    let pending: Vec<SubmissionRecord> = svc
        .store
        .submissions
        .find(doc! {"outbox": Outbox::Pending, "created_ms": {"$lt": before}})
        .limit(200)
        .await?
        .try_collect()
        .await?;
    let mut published = 0;
    for r in pending {
        if publish(svc, &job_of(&r)).await {
            published += 1;
        } else {
            break;
        }
    }
    published += crate::verification::sweep(svc, before).await?;
    if published > 0 {
        tracing::info!(published, "outbox sweep published jobs");
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_bodies() {
        let ok = new_submission(br#"{"problem_id": "p", "language": "c", "source": "x"}"#).unwrap();
        assert_eq!(ok, ("p".into(), "c".into(), "x".into()));
        let big = format!(
            r#"{{"problem_id": "", "language": 7, "source": "{}", "priority": 1}}"#,
            "x".repeat(SOURCE_MAX_BYTES + 1)
        );
        let e = new_submission(big.as_bytes()).unwrap_err();
        let SubmissionError::Body(body::BodyError::Invalid(errors)) = e else {
            panic!("{e:?}")
        };
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["priority", "language", "problem_id", "source"]);
    }
}

//! Rejudging: an admin has a problem's judged submissions judged again (all, those with given
//! verdicts, or those judged on versions before a given one) on its current version.
//!
//! The request selects the submissions and stores the rejudge (202 at once); a background task
//! then moves each selected submission to its next judging — its verdict into `history`, status
//! `queued`, `judging` one more, the current version, `rejudge_id` set, in one conditional update
//! per submission, so doing it twice changes nothing — and publishes its job on the `REJUDGE`
//! stream, which judges pull only when no new submission waits. A worker that dies half-way is
//! taken over by the sweep ([`resume`]); a job that could not be published stays in the outbox.
//! Progress is read from the submissions themselves.

use std::sync::Arc;

use common::api::{self, body, NewRejudge, RejudgeAccepted, Status, Verdict};
use common::service::{Answer, Caller};
use futures::TryStreamExt;
use mongodb::bson::{doc, to_bson, Bson};

use crate::error::SubmissionError;
use crate::store::{JudgingRecord, Outbox, RejudgeRecord, RejudgeStage, SubmissionRecord};
use crate::Service;

/// Most submissions one rejudge may select; a wider one is refused (narrow it by verdict or
/// version, or ask again once it is done).
pub const MAX_SUBMISSIONS: usize = 10_000;

/// A rejudge whose worker made no progress for this long is taken over by another.
const TAKE_OVER_AFTER_MS: i64 = 30_000;

/// A valid body: the verdicts and version to select by, each optional. An empty body is `{}`.
fn new_rejudge(bytes: &[u8]) -> Result<(Option<Vec<Verdict>>, Option<u32>), SubmissionError> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        bytes
    };
    let (b, mut f) = body::parse::<NewRejudge>(bytes)?;
    let verdicts = f.optional("verdicts", b.verdicts, |list| {
        if list.is_empty() {
            return Err("must name at least one verdict (leave it out to rejudge every verdict)".to_owned());
        }
        list.iter()
            .map(|v| {
                serde_json::from_value::<Verdict>(serde_json::Value::String(v.clone()))
                    .map_err(|_| format!("{v:?} is not a verdict"))
            })
            .collect::<Result<Vec<_>, _>>()
    });
    let before = f.optional("before_version", b.before_version, |v| {
        if v >= 2 {
            Ok(v)
        } else {
            Err("must be 2 or more (no version comes before 1)".to_owned())
        }
    });
    f.finish()?;
    Ok((verdicts, before))
}

/// `POST /api/problems/{id}/rejudge` (admins).
pub async fn create(
    svc: Arc<Service>,
    caller: &Caller,
    problem_id: &str,
    body: &[u8],
) -> Result<Answer, SubmissionError> {
    let user_id = caller.user().ok_or(SubmissionError::Unauthenticated)?.to_owned();
    if !caller.is_admin() {
        return Err(SubmissionError::Forbidden("Only admins may rejudge"));
    }
    let (verdicts, before_version) = new_rejudge(body)?;
    // The version stored now, not a cached one: a rejudge usually follows an upload.
    svc.problem_refs.forget(problem_id).await;
    let problem = svc
        .problem_refs
        .get(&svc.store, problem_id)
        .await?
        .ok_or(SubmissionError::NotFound("problem"))?;
    let mut filter = doc! {"problem_id": problem_id, "status": Status::Judged.as_str()};
    if let Some(list) = &verdicts {
        let names: Vec<Bson> = list.iter().map(|v| Bson::from(v.as_str())).collect();
        filter.insert("verdict", doc! {"$in": names});
    }
    if let Some(v) = before_version {
        filter.insert("problem_version", doc! {"$lt": i64::from(v)});
    }
    let selected: Vec<String> = svc
        .store
        .submissions
        .clone_with_type::<mongodb::bson::Document>()
        .find(filter)
        .projection(doc! {"_id": 1})
        .limit(MAX_SUBMISSIONS as i64 + 1)
        .await?
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .filter_map(|d| d.get_str("_id").ok().map(str::to_owned))
        .collect();
    if selected.len() > MAX_SUBMISSIONS {
        return Err(body::BodyError::field(
            if verdicts.is_some() || before_version.is_some() {
                "verdicts"
            } else {
                "problem_id"
            },
            format!("selects more than {MAX_SUBMISSIONS} submissions; narrow it by verdict or version"),
        )
        .into());
    }
    let now = crate::now();
    let record = RejudgeRecord {
        id: uuid::Uuid::now_v7().to_string(),
        problem_id: problem_id.to_owned(),
        problem_version: problem.version,
        package_digest: problem.package_digest.clone(),
        verdicts,
        before_version,
        submissions: selected,
        requested_by: user_id,
        created_at: now,
        stage: RejudgeStage::Queueing,
        heartbeat_ms: now.timestamp_millis(),
    };
    svc.store.rejudges.insert_one(&record).await?;
    tracing::info!(rejudge = %record.id, problem = problem_id, total = record.submissions.len(), "rejudge started");
    metrics::counter!("rejudges_total").increment(1);
    let mut answer = Answer::json(
        202,
        &RejudgeAccepted {
            id: record.id.clone(),
            total: record.submissions.len() as u64,
        },
    );
    answer.location = Some(format!("/api/rejudges/{}", record.id));
    tokio::spawn(prepare(svc, record));
    Ok(answer)
}

/// Queues every submission of `rejudge` for its next judging and publishes its job; then marks
/// the rejudge queued. Safe to run twice, or beside another worker doing the same.
pub async fn prepare(svc: Arc<Service>, rejudge: RejudgeRecord) {
    for (n, id) in rejudge.submissions.iter().enumerate() {
        if let Err(e) = requeue(&svc, &rejudge, id).await {
            // Left for the sweep to take over: nothing is half-written.
            tracing::warn!(rejudge = %rejudge.id, submission = %id, error = %e, "queueing a rejudged submission failed; the sweep resumes the rejudge");
            return;
        }
        if n % 100 == 99 {
            let _ = svc
                .store
                .rejudges
                .update_one(
                    doc! {"_id": &rejudge.id},
                    doc! {"$set": {"heartbeat_ms": chrono::Utc::now().timestamp_millis()}},
                )
                .await;
        }
    }
    match svc
        .store
        .rejudges
        .update_one(
            doc! {"_id": &rejudge.id},
            doc! {"$set": {"stage": RejudgeStage::Queued}},
        )
        .await
    {
        Ok(_) => tracing::info!(rejudge = %rejudge.id, "rejudge queued"),
        Err(e) => {
            tracing::warn!(rejudge = %rejudge.id, error = %e, "marking a rejudge queued; the sweep resumes it")
        }
    }
}

/// Moves one submission to its next judging (if it is still judged and not in this rejudge
/// already) and publishes its job.
async fn requeue(svc: &Service, rejudge: &RejudgeRecord, id: &str) -> Result<(), mongodb::error::Error> {
    let Some(current) = svc.store.submissions.find_one(doc! {"_id": id}).await? else {
        return Ok(());
    };
    if current.rejudge_id.as_deref() == Some(rejudge.id.as_str()) {
        // Queued by an earlier pass; its job is in the stream or in the outbox.
        return Ok(());
    }
    let (Status::Judged, Some(earlier)) = (current.status, JudgingRecord::of(&current)) else {
        // Being judged again already (another rejudge), or never judged: left alone.
        return Ok(());
    };
    let next = current.judging + 1;
    // The whole list is set, not `$push`ed: the filter below makes the read and this write one
    // step (nobody else moved the submission between them), and some MongoDB-wire servers store
    // a pushed document as a string.
    let mut history = current.history.clone();
    history.push(earlier);
    // The earlier judging's outcome and progress go: the record waits for its new verdict.
    let mut unset = mongodb::bson::Document::new();
    for field in api::Outcome::FIELDS.into_iter().chain(["progress"]) {
        unset.insert(field, "");
    }
    let moved = svc
        .store
        .submissions
        .update_one(
            doc! {"_id": id, "judging": current.judging, "status": Status::Judged.as_str()},
            doc! {
                "$set": {
                    "status": Status::Queued.as_str(),
                    "judging": next,
                    "problem_version": rejudge.problem_version,
                    "package_digest": &rejudge.package_digest,
                    "rejudge_id": &rejudge.id,
                    "outbox": Outbox::Pending,
                    "updated_ms": chrono::Utc::now().timestamp_millis(),
                    "history": to_bson(&history)?,
                },
                "$unset": unset,
            },
        )
        .await?;
    if moved.modified_count == 0 {
        // Changed meanwhile (another worker queued it first).
        return Ok(());
    }
    let job = crate::submissions::job_of(&SubmissionRecord {
        judging: next,
        problem_version: rejudge.problem_version,
        package_digest: rejudge.package_digest.clone(),
        ..current
    });
    // If it cannot be published now, the outbox sweep publishes it.
    crate::submissions::publish(svc, &job).await;
    Ok(())
}

/// Takes over the rejudges whose worker stopped queueing them (it died, or the store failed).
pub async fn resume(svc: &Arc<Service>) -> Result<usize, mongodb::error::Error> {
    let stale = chrono::Utc::now().timestamp_millis() - TAKE_OVER_AFTER_MS;
    let stalled: Vec<RejudgeRecord> = svc
        .store
        .rejudges
        .find(doc! {"stage": RejudgeStage::Queueing, "heartbeat_ms": {"$lt": stale}})
        .limit(10)
        .await?
        .try_collect()
        .await?;
    let n = stalled.len();
    for rejudge in stalled {
        // Claimed by moving its heartbeat: another replica's sweep leaves it alone meanwhile.
        let claimed = svc
            .store
            .rejudges
            .update_one(
                doc! {"_id": &rejudge.id, "heartbeat_ms": rejudge.heartbeat_ms},
                doc! {"$set": {"heartbeat_ms": chrono::Utc::now().timestamp_millis()}},
            )
            .await?;
        if claimed.modified_count == 1 {
            tracing::info!(rejudge = %rejudge.id, "resuming a rejudge whose worker stopped");
            tokio::spawn(prepare(svc.clone(), rejudge));
        }
    }
    Ok(n)
}

/// `GET /api/rejudges/{id}` (admins): the rejudge and how far it got.
pub async fn get(svc: &Service, caller: &Caller, id: &str) -> Result<Answer, SubmissionError> {
    caller.user().ok_or(SubmissionError::Unauthenticated)?;
    if !caller.is_admin() {
        return Err(SubmissionError::Forbidden("Only admins may read rejudges"));
    }
    let rejudge = svc
        .store
        .rejudges
        .find_one(doc! {"_id": id})
        .await?
        .ok_or(SubmissionError::NotFound("rejudge"))?;
    let mine: Vec<SubmissionRecord> = svc
        .store
        .submissions
        .find(doc! {"rejudge_id": id})
        .projection(doc! {"source": 0, "tests": 0, "compile_output": 0})
        .await?
        .try_collect()
        .await?;
    let judged: Vec<&SubmissionRecord> = mine.iter().filter(|r| r.status == Status::Judged).collect();
    let changed = judged
        .iter()
        .filter(|r| r.outcome.verdict != r.history.last().map(|h| h.verdict))
        .count() as u64;
    let waiting = mine.len() - judged.len();
    let total = rejudge.submissions.len() as u64;
    Ok(Answer::json(
        200,
        &api::Rejudge {
            id: rejudge.id,
            problem_id: rejudge.problem_id,
            problem_version: rejudge.problem_version,
            verdicts: rejudge.verdicts,
            before_version: rejudge.before_version,
            total,
            queued: mine.len() as u64,
            judged: judged.len() as u64,
            changed,
            // Not yet queued again counts as waiting too, until all are queued.
            waiting: if rejudge.stage == RejudgeStage::Queued {
                waiting as u64
            } else {
                total.saturating_sub(judged.len() as u64)
            },
            done: (rejudge.stage == RejudgeStage::Queued) && waiting == 0,
            requested_by: rejudge.requested_by,
            created_at: rejudge.created_at,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejudge_bodies() {
        assert_eq!(new_rejudge(b"").unwrap(), (None, None));
        assert_eq!(new_rejudge(b"{}").unwrap(), (None, None));
        assert_eq!(
            new_rejudge(br#"{"verdicts": ["wrong_answer"], "before_version": 3}"#).unwrap(),
            (Some(vec![Verdict::WrongAnswer]), Some(3))
        );
        let e = new_rejudge(br#"{"verdicts": ["nope"], "before_version": 1, "all": true}"#).unwrap_err();
        let SubmissionError::Body(body::BodyError::Invalid(errors)) = e else {
            panic!("{e:?}")
        };
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["all", "verdicts", "before_version"]);
        assert!(new_rejudge(br#"{"verdicts": []}"#).is_err());
        assert!(new_rejudge(br#"{"verdicts": "wrong_answer"}"#).is_err());
    }
}

//! Applies the judges' updates to submissions, idempotently: within one judging a submission's
//! status only moves forward to `judged`, and once judged nothing changes it but a rejudge (which
//! starts the next judging; updates of another judging are ignored), so a redelivered or duplicated result
//! is harmless. An update that cannot be stored (the database is down) is handed back to
//! JetStream and retried, so no verdict is lost.

use std::collections::{HashMap, HashSet};

use async_nats::jetstream;
use common::api::{Progress, Status};
use common::jobs::{self, GradingStatus, GradingUpdate};
use common::JudgeReport;
use futures::TryStreamExt;
use mongodb::bson::{doc, to_bson, Bson, Document};

use crate::consume::{consume, Outcome};
use crate::limits::Counters;
use crate::store::{Store, SubmissionRecord};

/// How long a verdict waits for a record that is not there: a new submission's record is written
/// just after its job is published, so a verdict can overtake it by the time of that write. A job
/// whose record never came (its worker died between the two) was graded for nobody; its verdict
/// is dropped once its id is this old.
const RECORD_WAIT_MS: i64 = 120_000;

/// What became of an update.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// Stored, or rightly ignored (a repeat, or of a judging that is over).
    Done,
    /// A verdict for a submission whose record is not written yet: to be tried again.
    Early,
    /// Not stored (the store refused this write or one before it in the batch): to be tried again.
    Failed,
}

/// Whether a submission with this (UUIDv7) id may still be about to be written at `now_ms`.
fn may_be_written_yet(id: &str, now_ms: i64) -> bool {
    let created_ms = uuid::Uuid::parse_str(id)
        .ok()
        .and_then(|u| u.get_timestamp())
        .map(|t| {
            let (secs, nanos) = t.to_unix();
            secs as i64 * 1000 + i64::from(nanos / 1_000_000)
        });
    created_ms.is_some_and(|ms| now_ms - ms < RECORD_WAIT_MS)
}

/// The fields one update sets, and the filter that lets it through: only the judging in
/// progress, and never past `judged` (an update of an earlier judging, redelivered after a
/// rejudge began, changes nothing).
fn statement(
    update: &GradingUpdate,
    now_ms: i64,
    batch: &str,
) -> mongodb::bson::ser::Result<(Document, Document)> {
    let filter = doc! {
        "_id": &update.submission_id,
        "status": {"$ne": Status::Judged.as_str()},
        "judging": update.judging,
    };
    let mut set = match &update.status {
        GradingStatus::Compiling => doc! {"status": Status::Compiling.as_str()},
        GradingStatus::Running { test, of } => {
            let progress = Progress { test: *test, of: *of };
            doc! {"status": Status::Running.as_str(), "progress": to_bson(&progress)?}
        }
        GradingStatus::Judged { report } => {
            let mut set = SubmissionRecord::judged_fields(report, update.attempt)?;
            set.insert(APPLIED_BY, batch);
            set
        }
    };
    set.insert("updated_ms", now_ms);
    Ok((filter, doc! {"$set": set}))
}

/// The field a verdict's write stamps with its batch's id, so that the batch can tell afterwards
/// which records it moved to judged: the filter lets exactly one write do that.
const APPLIED_BY: &str = "applied_by";

/// Applies `updates`, in their stream order, as if one by one, and returns what became of each.
///
/// Exactly one application moves a submission to judged; that one counts the verdict and frees
/// its author's queue slot. One update is one store write (`findAndModify` for a verdict, which
/// returns the record it moved); more are one `update` command of ordered statements and, when
/// they hold verdicts, one read, whatever their number: the verdicts' writes stamp the records
/// with the batch's id, and the read tells by it which records this batch moved. On the default
/// store, batches of up to 64 cost a half to a third of the CPU per verdict that single writes do
/// (`cargo bench -p system-tests --bench results`).
pub async fn apply(
    store: &Store,
    counters: &Counters,
    updates: &[GradingUpdate],
) -> mongodb::error::Result<Vec<Applied>> {
    match updates {
        [] => Ok(Vec::new()),
        [one] => Ok(vec![apply_one(store, counters, one).await?]),
        _ => apply_together(store, counters, updates).await,
    }
}

async fn apply_one(
    store: &Store,
    counters: &Counters,
    update: &GradingUpdate,
) -> mongodb::error::Result<Applied> {
    let now = chrono::Utc::now().timestamp_millis();
    let (filter, change) = statement(update, now, &uuid::Uuid::new_v4().to_string())?;
    let GradingStatus::Judged { report } = &update.status else {
        // Progress before its record is dropped: the verdict that follows is what counts.
        store.submissions.update_one(filter, change).await?;
        return Ok(Applied::Done);
    };
    let before = store
        .submissions
        .clone_with_type::<Document>()
        .find_one_and_update(filter, change)
        .projection(doc! {"user_id": 1, "language": 1})
        .await?;
    match before {
        Some(record) => {
            let mut slots = HashMap::new();
            count_judged(&record, update, report, &mut slots);
            release(counters, slots).await;
        }
        // Nothing moved: a repeat, or the first verdict before its record (only a first judging
        // has a job older than its record). Told apart by one read, on this rare path.
        None if update.judging <= 1 && may_be_written_yet(&update.submission_id, now) => {
            let exists = store
                .submissions
                .clone_with_type::<Document>()
                .find_one(doc! {"_id": &update.submission_id})
                .projection(doc! {"_id": 1})
                .await?;
            if exists.is_none() {
                return Ok(Applied::Early);
            }
        }
        None => {}
    }
    Ok(Applied::Done)
}

/// Counts a verdict that moved `record` to judged, and the queue slot it frees (a rejudged
/// submission took none of its author's slots).
fn count_judged<'a>(
    record: &'a Document,
    update: &GradingUpdate,
    report: &JudgeReport,
    slots: &mut HashMap<&'a str, i64>,
) {
    metrics::counter!(
        "submissions_judged_total",
        "language" => record.get_str("language").unwrap_or_default().to_owned(),
        "verdict" => report.verdict.as_str()
    )
    .increment(1);
    if update.judging <= 1 {
        if let Ok(user) = record.get_str("user_id") {
            *slots.entry(user).or_default() += 1;
        }
    }
}

/// Frees the counted queue slots, one counter write per user.
async fn release(counters: &Counters, slots: HashMap<&str, i64>) {
    for (user, n) in slots {
        counters.release_many(user, n).await;
    }
}

async fn apply_together(
    store: &Store,
    counters: &Counters,
    updates: &[GradingUpdate],
) -> mongodb::error::Result<Vec<Applied>> {
    let now = chrono::Utc::now().timestamp_millis();
    let batch = uuid::Uuid::new_v4().to_string();
    let statements = updates
        .iter()
        .map(|u| statement(u, now, &batch).map(|(q, u)| doc! {"q": q, "u": u}))
        .collect::<Result<Vec<_>, _>>()?;
    let answer = store
        .db
        .run_command(doc! {
            "update": store.submissions.name(),
            "updates": statements,
            "ordered": true,
        })
        .await?;
    // Ordered: the store stops at the first statement it refuses; that one and the rest are
    // not applied.
    let written = first_refused(&answer).unwrap_or(updates.len());
    if written < updates.len() {
        tracing::warn!(refused = ?answer.get("writeErrors"), "the store refused a result");
    }

    let mut applied: Vec<Applied> = (0..updates.len())
        .map(|i| {
            if i < written {
                Applied::Done
            } else {
                Applied::Failed
            }
        })
        .collect();
    let verdicts: Vec<(usize, &GradingUpdate, &JudgeReport)> = updates[..written]
        .iter()
        .enumerate()
        .filter_map(|(i, u)| match &u.status {
            GradingStatus::Judged { report } => Some((i, u, report)),
            _ => None,
        })
        .collect();
    if verdicts.is_empty() {
        // Progress before its record is dropped: the verdict that follows is what counts.
        return Ok(applied);
    }
    let ids: Vec<&str> = verdicts
        .iter()
        .map(|(_, u, _)| u.submission_id.as_str())
        .collect();
    let mut found = store
        .submissions
        .clone_with_type::<Document>()
        .find(doc! {"_id": {"$in": &ids}})
        .projection(doc! {"user_id": 1, "language": 1, APPLIED_BY: 1})
        .await?;
    let mut records: HashMap<String, Document> = HashMap::with_capacity(ids.len());
    while let Some(record) = found.try_next().await? {
        if let Ok(id) = record.get_str("_id") {
            records.insert(id.to_owned(), record);
        }
    }

    let mut counted: HashSet<&str> = HashSet::new();
    let mut slots: HashMap<&str, i64> = HashMap::new();
    for (i, update, report) in verdicts {
        let id = update.submission_id.as_str();
        let Some(record) = records.get(id) else {
            // Nothing moved, and no record: the first verdict before its record (only a first
            // judging has a job older than its record), or one graded for nobody.
            if update.judging <= 1 && may_be_written_yet(id, now) {
                applied[i] = Applied::Early;
            }
            continue;
        };
        let moved_here = record.get_str(APPLIED_BY).is_ok_and(|b| b == batch);
        // A repeat of the same verdict in this batch finds the stamp of the first.
        if !moved_here || !counted.insert(id) {
            continue;
        }
        count_judged(record, update, report, &mut slots);
    }
    release(counters, slots).await;
    Ok(applied)
}

/// The index of the first statement an ordered write refused, if any.
fn first_refused(answer: &Document) -> Option<usize> {
    let errors = answer.get_array("writeErrors").ok()?;
    errors
        .iter()
        .filter_map(|e| e.as_document()?.get("index"))
        .filter_map(|i| match i {
            Bson::Int32(i) => usize::try_from(*i).ok(),
            Bson::Int64(i) => usize::try_from(*i).ok(),
            _ => None,
        })
        .min()
}

/// Pulls results from the shared durable consumer until `stop` resolves. The results at hand are
/// applied together (see [`apply`]); a packaged problem's check results each on their own.
pub async fn run(
    js: jetstream::Context,
    store: Store,
    counters: Counters,
    stop: impl std::future::Future<Output = ()>,
) {
    let (store, counters) = (&store, &counters);
    consume(js, jobs::RESULTS_STREAM, jobs::RESULTS_CONSUMER, 64, stop, |payloads| async move {
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(payloads.len());
        // Submissions' updates, and where their outcomes go.
        let mut updates = Vec::with_capacity(payloads.len());
        let mut positions = Vec::with_capacity(payloads.len());
        for payload in payloads {
            let update: GradingUpdate = match serde_json::from_slice(&payload) {
                Ok(u) => u,
                Err(e) => {
                    tracing::error!(error = %e, "malformed result dropped");
                    outcomes.push(Outcome::Malformed);
                    continue;
                }
            };
            if jobs::is_packaged_job(&update.submission_id) {
                outcomes.push(match crate::verification::apply(store, &update).await {
                    Ok(()) => Outcome::Done,
                    Err(e) => {
                        tracing::warn!(error = %e, check = %update.submission_id, "storing a check's result failed; will retry");
                        Outcome::Retry
                    }
                });
            } else {
                positions.push(outcomes.len());
                outcomes.push(Outcome::Retry);
                updates.push(update);
            }
        }
        match apply(store, counters, &updates).await {
            Ok(applied) => {
                for ((at, update), applied) in positions.into_iter().zip(&updates).zip(applied) {
                    outcomes[at] = match applied {
                        Applied::Done => Outcome::Done,
                        Applied::Early => {
                            tracing::debug!(submission = %update.submission_id, "a verdict before its record; will retry");
                            Outcome::Retry
                        }
                        Applied::Failed => Outcome::Retry,
                    };
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, results = updates.len(), "storing results failed; will retry");
            }
        }
        outcomes
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_waited_for_while_its_id_is_young() {
        let at = |ms: u64| {
            uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
                uuid::NoContext,
                ms / 1000,
                (ms % 1000) as u32 * 1_000_000,
            ))
            .to_string()
        };
        let now = 1_800_000_000_000_i64;
        assert!(may_be_written_yet(&at(now as u64), now));
        assert!(may_be_written_yet(&at(now as u64 - 119_000), now));
        assert!(!may_be_written_yet(&at(now as u64 - 121_000), now));
        // Not a UUIDv7 (a packaged check's id, a v4): nothing to wait for.
        assert!(!may_be_written_yet("check-1", now));
        assert!(!may_be_written_yet(&uuid::Uuid::new_v4().to_string(), now));
    }
}

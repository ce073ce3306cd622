//! Applies the judges' updates to submissions, idempotently: within one judging a submission's
//! status only moves forward to `judged`, and once judged nothing changes it but a rejudge (which
//! starts the next judging; updates of another judging are ignored), so a redelivered or duplicated result
//! is harmless. An update that cannot be stored (the database is down) is handed back to
//! JetStream and retried, so no verdict is lost.

use async_nats::jetstream;
use common::api::{Progress, Status};
use common::jobs::{self, GradingStatus, GradingUpdate};
use mongodb::bson::{doc, to_bson};

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

/// Applies one update.
pub async fn apply(
    store: &Store,
    counters: &Counters,
    update: &GradingUpdate,
) -> mongodb::error::Result<Applied> {
    let now = chrono::Utc::now().timestamp_millis();
    // Only the judging in progress: an update of an earlier one (redelivered after a rejudge
    // began) changes nothing.
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
        GradingStatus::Judged { report } => SubmissionRecord::judged_fields(report, update.attempt)?,
    };
    set.insert("updated_ms", now);
    if matches!(update.status, GradingStatus::Judged { .. }) {
        // Exactly one application moves a submission to judged; that one frees its queue slot.
        let before = store
            .submissions
            .find_one_and_update(filter, doc! {"$set": set})
            .projection(doc! {"source": 0, "tests": 0, "compile_output": 0})
            .await?;
        match (before, &update.status) {
            (Some(before), GradingStatus::Judged { report }) => {
                metrics::counter!(
                    "submissions_judged_total",
                    "language" => before.language.clone(),
                    "verdict" => report.verdict.as_str()
                )
                .increment(1);
                // A rejudged submission took none of its author's slots.
                if update.judging <= 1 {
                    counters.release(&before.user_id).await;
                }
            }
            // Nothing moved: a repeat, or the first verdict before its record (only a first
            // judging has a job older than its record). Told apart by one read, on this rare path.
            (None, _) if update.judging <= 1 && may_be_written_yet(&update.submission_id, now) => {
                let exists = store
                    .submissions
                    .clone_with_type::<mongodb::bson::Document>()
                    .find_one(doc! {"_id": &update.submission_id})
                    .projection(doc! {"_id": 1})
                    .await?;
                if exists.is_none() {
                    return Ok(Applied::Early);
                }
            }
            _ => {}
        }
    } else {
        // Progress before the record is dropped: the verdict that follows is what counts.
        store.submissions.update_one(filter, doc! {"$set": set}).await?;
    }
    Ok(Applied::Done)
}

/// Pulls results from the shared durable consumer until `stop` resolves.
pub async fn run(
    js: jetstream::Context,
    store: Store,
    counters: Counters,
    stop: impl std::future::Future<Output = ()>,
) {
    let (store, counters) = (&store, &counters);
    consume(js, jobs::RESULTS_STREAM, jobs::RESULTS_CONSUMER, 64, stop, |payload| async move {
        let update: GradingUpdate = match serde_json::from_slice(&payload) {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(error = %e, "malformed result dropped");
                return Outcome::Malformed;
            }
        };
        let applied = if jobs::is_packaged_job(&update.submission_id) {
            crate::verification::apply(store, &update).await.map(|()| Applied::Done).map_err(|e| e.to_string())
        } else {
            apply(store, counters, &update).await.map_err(|e| e.to_string())
        };
        match applied {
            Ok(Applied::Done) => Outcome::Done,
            Ok(Applied::Early) => {
                tracing::debug!(submission = %update.submission_id, "a verdict before its record; will retry");
                Outcome::Retry
            }
            Err(e) => {
                tracing::warn!(error = %e, submission = %update.submission_id, "storing a result failed; will retry");
                Outcome::Retry
            }
        }
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

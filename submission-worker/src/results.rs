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

/// Applies one update.
pub async fn apply(store: &Store, counters: &Counters, update: &GradingUpdate) -> mongodb::error::Result<()> {
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
        if let (Some(before), GradingStatus::Judged { report }) = (before, &update.status) {
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
    } else {
        store.submissions.update_one(filter, doc! {"$set": set}).await?;
    }
    Ok(())
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
            crate::verification::apply(store, &update).await.map_err(|e| e.to_string())
        } else {
            apply(store, counters, &update).await.map_err(|e| e.to_string())
        };
        match applied {
            Ok(()) => Outcome::Done,
            Err(e) => {
                tracing::warn!(error = %e, submission = %update.submission_id, "storing a result failed; will retry");
                Outcome::Retry
            }
        }
    })
    .await
}

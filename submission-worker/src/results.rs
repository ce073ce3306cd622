//! Applies the judges' updates to submissions, idempotently: a submission's status only moves
//! forward to `judged`, and once judged nothing changes it, so a redelivered or duplicated result
//! is harmless. An update that cannot be stored (the database is down) is handed back to
//! JetStream and retried, so no verdict is lost.

use async_nats::jetstream;
use common::jobs::{self, GradingStatus, GradingUpdate};
use mongodb::bson::{self, doc};

use crate::consume::{consume, Outcome};
use crate::limits::Counters;
use crate::store::Store;

/// Applies one update.
pub async fn apply(store: &Store, counters: &Counters, update: &GradingUpdate) -> mongodb::error::Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    let filter = doc! {"_id": &update.submission_id, "status": {"$ne": "judged"}};
    let set = match &update.status {
        GradingStatus::Compiling => doc! {"status": "compiling", "updated_ms": now},
        GradingStatus::Running { test, of } => {
            doc! {"status": "running", "progress": {"test": *test as i64, "of": *of as i64}, "updated_ms": now}
        }
        GradingStatus::Judged { report } => {
            let tests = bson::to_bson(&report.tests).unwrap_or(bson::Bson::Array(Vec::new()));
            let mut set = doc! {
                "status": "judged", "verdict": report.verdict.as_str(),
                "run_time_ms": report.run_time_ms as i64, "memory_kb": report.memory_kb as i64,
                "tests": tests, "attempt": update.attempt as i64, "updated_ms": now,
            };
            if let Some(c) = &report.compile_output {
                set.insert("compile_output", c);
            }
            if let Some(e) = &report.error {
                set.insert("error", e);
            }
            set
        }
    };
    let judged = matches!(update.status, GradingStatus::Judged { .. });
    if judged {
        // Exactly one application moves a submission to judged; that one frees its queue slot.
        let before = store
            .submissions
            .find_one_and_update(filter, doc! {"$set": set})
            .await?;
        if let Some(user) = before.as_ref().and_then(|b| b.get_str("user_id").ok()) {
            counters.release(user).await;
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
        match apply(store, counters, &update).await {
            Ok(()) => Outcome::Done,
            Err(e) => {
                tracing::warn!(error = %e, submission = %update.submission_id, "storing a result failed; will retry");
                Outcome::Retry
            }
        }
    })
    .await
}

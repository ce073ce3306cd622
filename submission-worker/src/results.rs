//! Applies the judges' updates to submissions, idempotently: a submission's status only moves
//! forward to `judged`, and once judged nothing changes it, so a redelivered or duplicated result
//! is harmless. An update that cannot be stored (the database is down) is handed back to
//! JetStream and retried, so no verdict is lost.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use common::jobs::{self, GradingStatus, GradingUpdate};
use futures::StreamExt;
use mongodb::bson::{self, doc};

use crate::store::Store;

/// Applies one update.
pub async fn apply(store: &Store, update: &GradingUpdate) -> mongodb::error::Result<()> {
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
            crate::limits::release(&store.limits, user).await;
        }
    } else {
        store.submissions.update_one(filter, doc! {"$set": set}).await?;
    }
    Ok(())
}

/// Pulls results from the shared durable consumer until `stop` resolves.
pub async fn run(js: jetstream::Context, store: Store, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let consumer = loop {
        match js
            .get_consumer_from_stream::<jetstream::consumer::pull::Config, _, _>(
                jobs::RESULTS_CONSUMER,
                jobs::RESULTS_STREAM,
            )
            .await
        {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(error = %e, "waiting for the results consumer to be provisioned");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = &mut stop => return,
                }
            }
        }
    };
    loop {
        let mut messages = match consumer.stream().max_messages_per_batch(64).messages().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "reading results");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = &mut stop => return,
                }
            }
        };
        loop {
            let next = tokio::select! {
                m = messages.next() => m,
                _ = &mut stop => return,
            };
            let msg = match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "results stream interrupted");
                    break;
                }
                None => break,
            };
            let update: GradingUpdate = match serde_json::from_slice(&msg.payload) {
                Ok(u) => u,
                Err(e) => {
                    tracing::error!(error = %e, "malformed result dropped");
                    let _ = msg.ack_with(AckKind::Term).await;
                    continue;
                }
            };
            match apply(&store, &update).await {
                Ok(()) => {
                    let _ = msg.ack().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, submission = %update.submission_id, "storing a result failed; will retry");
                    let _ = msg.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
                }
            }
        }
    }
}

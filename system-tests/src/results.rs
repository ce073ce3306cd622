//! Reading what the judges published on the results stream, as the truth a test checks the
//! records against (how many verdicts each submission got, from which delivery).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull};
use common::jobs::{GradingStatus, GradingUpdate};
use futures::StreamExt;

/// A judge's verdict for `id`'s `judging` (first attempt, no tests, 7 ms, 1 KiB), as the results
/// stream carries it.
pub fn verdict_update(id: &str, judging: u32, verdict: common::Verdict) -> GradingUpdate {
    GradingUpdate {
        submission_id: id.to_owned(),
        attempt: 1,
        judging,
        status: GradingStatus::Judged {
            report: common::JudgeReport {
                run_time_ms: 7,
                memory_kb: 1,
                ..common::JudgeReport::of(verdict)
            },
        },
    }
}

/// Every update on the results stream, by submission.
pub type Updates = HashMap<String, Vec<GradingUpdate>>;

/// The verdicts among one submission's updates.
pub fn verdicts(updates: &[GradingUpdate]) -> Vec<&common::JudgeReport> {
    updates
        .iter()
        .filter_map(|u| match &u.status {
            GradingStatus::Judged { report } => Some(report),
            _ => None,
        })
        .collect()
}

/// Reads the results stream from its start until every submission in `until_judged` has a
/// verdict (panicking after `limit`), then `linger` longer so that a duplicate verdict would
/// show up too.
pub async fn read(
    js: &jetstream::Context,
    until_judged: &[&str],
    limit: Duration,
    linger: Duration,
) -> Updates {
    // Retried until `limit`: right after a cluster lost a node, JetStream's API may not answer
    // until a new leader is elected (seen as a timeout on nats-server 2.15).
    let open_by = Instant::now() + limit;
    let mut messages = loop {
        let attempt = async {
            let stream = js.get_stream(common::jobs::RESULTS_STREAM).await?;
            let consumer = stream.create_consumer(pull::OrderedConfig::default()).await?;
            Ok::<_, async_nats::Error>(consumer.messages().await?)
        };
        match attempt.await {
            Ok(messages) => break messages,
            Err(e) if Instant::now() < open_by => {
                eprintln!("reading the results stream: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("reading the results stream: {e}"),
        }
    };
    let mut seen = Updates::new();
    let record = |seen: &mut Updates, m: jetstream::Message| {
        let update: GradingUpdate = serde_json::from_slice(&m.payload).expect("a well-formed update");
        seen.entry(update.submission_id.clone()).or_default().push(update);
    };
    let deadline = Instant::now() + limit;
    let done = |seen: &Updates| {
        until_judged
            .iter()
            .all(|id| seen.get(*id).is_some_and(|u| !verdicts(u).is_empty()))
    };
    while !done(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        let judged = until_judged
            .iter()
            .filter(|id| seen.get(**id).is_some_and(|u| !verdicts(u).is_empty()));
        assert!(
            !left.is_zero(),
            "only {} of {} submissions judged in {limit:?}",
            judged.count(),
            until_judged.len()
        );
        if let Ok(Some(Ok(m))) = tokio::time::timeout(left, messages.next()).await {
            record(&mut seen, m);
        }
    }
    while let Ok(Some(Ok(m))) = tokio::time::timeout(linger, messages.next()).await {
        record(&mut seen, m);
    }
    seen
}

//! Jobs no judge could finish. A judge that fails a job on its last delivery reports
//! `internal_error` itself; but a judge that dies on every delivery (killed, out of memory, a crash)
//! reports nothing, and JetStream then leaves the job in the work queue and only sends a
//! max-deliveries advisory (of the `JOBS` or the `REJUDGE` stream). Those advisories are kept in the `DEAD_JOBS` stream; this module reads
//! each one, finds the job by its stream sequence, publishes an `internal_error` verdict for it on
//! the results stream (so it is stored by the one idempotent applier and reaches live watchers like
//! any verdict) and deletes the job. Nothing stays `queued` forever.

use async_nats::jetstream::{self, stream::LastRawMessageErrorKind};
use common::jobs::{self, GradingJob, GradingStatus, GradingUpdate, MaxDeliveriesAdvisory};
use common::subjects;
use common::JudgeReport;

use crate::consume::{consume_each, Outcome};

/// Reads advisories until `stop` resolves.
pub async fn run(js: jetstream::Context, stop: impl std::future::Future<Output = ()>) {
    let context = &js;
    consume_each(
        js.clone(),
        jobs::DEAD_JOBS_STREAM,
        jobs::DEAD_JOBS_CONSUMER,
        16,
        stop,
        |payload| async move {
            let advisory: MaxDeliveriesAdvisory = match serde_json::from_slice(&payload) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(error = %e, "malformed max-deliveries advisory dropped");
                    return Outcome::Malformed;
                }
            };
            match settle(context, &advisory).await {
                Ok(()) => Outcome::Done,
                Err(e) => {
                    tracing::warn!(error = %e, seq = advisory.stream_seq, "settling a dead job; will retry");
                    Outcome::Retry
                }
            }
        },
    )
    .await
}

/// Ends the job the advisory names with `internal_error`, then removes it from the queue.
/// Safe to repeat: a job already gone (acked after all, or settled before) is left alone, and a
/// second verdict for a judged submission changes nothing.
pub async fn settle(
    js: &jetstream::Context,
    advisory: &MaxDeliveriesAdvisory,
) -> Result<(), async_nats::Error> {
    // Grading and rejudging jobs alike; an advisory about any other stream is not ours.
    if ![jobs::JOBS_STREAM, jobs::REJUDGE_STREAM].contains(&advisory.stream.as_str()) {
        tracing::warn!(stream = %advisory.stream, "a max-deliveries advisory of an unknown stream; dropped");
        return Ok(());
    }
    let queue = js.get_stream_no_info(&advisory.stream).await?;
    let message = match queue.get_raw_message(advisory.stream_seq).await {
        Ok(m) => m,
        Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    match serde_json::from_slice::<GradingJob>(&message.payload) {
        Ok(job) => {
            tracing::error!(
                submission = %job.submission_id,
                deliveries = advisory.deliveries,
                "no judge finished this job: internal_error"
            );
            let update = GradingUpdate {
                submission_id: job.submission_id.clone(),
                attempt: advisory.deliveries,
                judging: job.judging,
                status: GradingStatus::Judged {
                    report: JudgeReport::internal_error(format!(
                        "the job was delivered {} times and no judge finished it \
                         (each judge that took it stopped or crashed)",
                        advisory.deliveries
                    )),
                },
            };
            let body = serde_json::to_vec(&update)?;
            js.publish(subjects::jobs::results(&job.submission_id), body.into())
                .await?
                .await?;
        }
        Err(e) => tracing::error!(error = %e, "a dead job that is not a job; deleting it"),
    }
    // Deleting a job that is gone meanwhile is not an error worth a retry.
    if let Err(e) = queue.delete_message(advisory.stream_seq).await {
        tracing::debug!(error = %e, "deleting a dead job");
    }
    Ok(())
}

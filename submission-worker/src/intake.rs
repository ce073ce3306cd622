//! Group commit for new submissions: concurrent creates are written with one `insert_many`
//! instead of one `insert_one` each. (A new submission's job is published before its record is
//! written, so the record is born marked published; jobs published later — by the outbox sweep,
//! by a rejudge — are marked with one `update_many` for many.)
//!
//! The batching is opportunistic: a writer takes whatever is waiting (up to [`MAX_BATCH`]) the
//! moment the previous write returns, so a lone request is written at once and adds no latency,
//! while under load each write carries everything that arrived during the one before. Batches
//! are written `ordered: false`, so a duplicate idempotency key fails only its own caller.

use mongodb::bson::doc;
use mongodb::error::{Error, ErrorKind};
use mongodb::Collection;
use tokio::sync::{mpsc, oneshot};

use crate::store::{Outbox, SubmissionRecord};

/// Most documents written at once.
pub const MAX_BATCH: usize = 128;

/// How long marking jobs published waits for more to mark in the same write: far below the
/// outbox sweep's age (`SWEEP_AGE_MS`, 3 s), so the sweep never takes a job for unpublished
/// because its mark was lingering.
const MARK_LINGER: std::time::Duration = std::time::Duration::from_millis(100);

/// Why one submission was not written.
#[derive(Debug, Clone)]
pub enum Refused {
    /// Its idempotency key (or id) is taken: a repeat of an earlier request.
    Duplicate,
    /// The store failed; the submission may or may not have been written.
    Store(Error),
}

struct Pending {
    record: SubmissionRecord,
    done: oneshot::Sender<Result<(), Refused>>,
}

/// Writes submissions in batches; cheap to clone, one writer task behind all clones.
#[derive(Clone)]
pub struct Committer {
    inserts: mpsc::Sender<Pending>,
    published: mpsc::Sender<String>,
}

impl Committer {
    /// Starts the writer tasks; they end when the last clone is dropped.
    pub fn start(submissions: Collection<SubmissionRecord>) -> Committer {
        let (inserts, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_records(submissions.clone(), rx));
        let (published, rx) = mpsc::channel(16 * MAX_BATCH);
        tokio::spawn(mark_published(submissions, rx));
        Committer { inserts, published }
    }

    /// Writes one record, answering once the batch holding it is written.
    pub async fn insert(&self, record: SubmissionRecord) -> Result<(), Refused> {
        let (done, answer) = oneshot::channel();
        let lost = || Refused::Store(Error::custom("the submission writer stopped"));
        self.inserts
            .send(Pending { record, done })
            .await
            .map_err(|_| lost())?;
        answer.await.map_err(|_| lost())?
    }

    /// Notes that a submission's job is in the stream. Best effort and never waits: an entry left
    /// `pending` is published again by the sweep, and JetStream drops the duplicate.
    pub fn published(&self, id: String) {
        let _ = self.published.try_send(id);
    }
}

async fn write_records(submissions: Collection<SubmissionRecord>, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // `recv_many` waits for one and takes whatever else is already queued.
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = submissions
            .insert_many(batch.iter().map(|p| &p.record))
            .ordered(false)
            .await;
        let outcomes = outcomes(batch.len(), result.err());
        for (pending, outcome) in batch.drain(..).zip(outcomes) {
            let _ = pending.done.send(outcome);
        }
    }
}

/// What an unordered `insert_many` that failed says about its documents.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BatchFailure {
    /// These documents (index in the batch, server error code) were refused; the rest written.
    Documents(Vec<(usize, i32)>),
    /// The write as a whole failed (connection, write concern): any document may be lost.
    Whole,
}

fn classify(error: &Error) -> BatchFailure {
    match error.kind.as_ref() {
        ErrorKind::InsertMany(failure) if failure.write_concern_error.is_none() => BatchFailure::Documents(
            failure
                .write_errors
                .iter()
                .flatten()
                .map(|w| (w.index, w.code))
                .collect(),
        ),
        _ => BatchFailure::Whole,
    }
}

/// Each document's fate in an unordered `insert_many` of `n` that ended with `error`: a
/// duplicate key fails only its own caller; any other refusal, or a failure of the whole write,
/// is a store failure for those it touched.
fn outcomes(n: usize, error: Option<Error>) -> Vec<Result<(), Refused>> {
    let Some(error) = error else {
        return vec![Ok(()); n];
    };
    fates(n, &classify(&error))
        .into_iter()
        .map(|fate| {
            fate.map_err(|duplicate| {
                if duplicate {
                    Refused::Duplicate
                } else {
                    Refused::Store(error.clone())
                }
            })
        })
        .collect()
}

/// The pure part of [`outcomes`]: `Err(true)` for a duplicate key, `Err(false)` for another
/// failure.
fn fates(n: usize, failure: &BatchFailure) -> Vec<Result<(), bool>> {
    match failure {
        BatchFailure::Documents(refused) => {
            let mut fates = vec![Ok(()); n];
            for &(index, code) in refused {
                if let Some(slot) = fates.get_mut(index) {
                    *slot = Err(code == mongo_store::DUPLICATE_KEY);
                }
            }
            fates
        }
        BatchFailure::Whole => vec![Err(false); n],
    }
}

async fn mark_published(submissions: Collection<SubmissionRecord>, mut rx: mpsc::Receiver<String>) {
    let mut ids = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut ids, MAX_BATCH).await > 0 {
        // Nobody waits for this write, and a store's cost is mostly per call, not per document
        // (nx-27017: ~0.75 ms a call, ~0.13 ms a document): gather what comes for a moment.
        let linger = tokio::time::sleep(MARK_LINGER);
        tokio::pin!(linger);
        while ids.len() < MAX_BATCH {
            let room = MAX_BATCH - ids.len();
            tokio::select! {
                _ = &mut linger => break,
                n = rx.recv_many(&mut ids, room) => if n == 0 { break },
            }
        }
        let marked = submissions
            .update_many(
                doc! {"_id": {"$in": &ids}},
                doc! {"$set": {"outbox": Outbox::Done}},
            )
            .await;
        if let Err(e) = marked {
            tracing::warn!(error = %e, jobs = ids.len(), "marking jobs published (the sweep will see them)");
        }
        ids.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_fails_only_its_own_caller() {
        let failure = BatchFailure::Documents(vec![(1, mongo_store::DUPLICATE_KEY), (3, 2)]);
        assert_eq!(fates(4, &failure), [Ok(()), Err(true), Ok(()), Err(false)]);
    }

    #[test]
    fn a_failed_write_fails_everyone_and_indexes_out_of_range_are_ignored() {
        assert_eq!(fates(2, &BatchFailure::Whole), [Err(false), Err(false)]);
        let stray = BatchFailure::Documents(vec![(7, mongo_store::DUPLICATE_KEY)]);
        assert_eq!(fates(2, &stray), [Ok(()), Ok(())]);
        assert!(outcomes(3, None).iter().all(Result::is_ok));
    }
}

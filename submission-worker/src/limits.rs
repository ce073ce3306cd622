//! Per-user limits on submissions, so one user cannot starve the judges: at most `max_queued`
//! submissions not yet judged, and new ones at `per_minute` a minute (a burst of that many, then
//! one every 60/`per_minute` seconds).
//!
//! Each user's counters are one entry of a JetStream key-value bucket (provisioned with the
//! streams), changed only by compare-and-set on the entry's revision, so replicas never lose an
//! update and nothing ever counts over submissions. They are off the database's path on purpose: the embedded store
//! manages about a thousand single writes a second, and two counter writes per submission would
//! halve intake; a NATS compare-and-set costs a fraction of a millisecond.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_nats::jetstream::{self, kv};
use common::jobs::LIMITS_BUCKET;
use tokio::sync::OnceCell;

use crate::error::SubmissionError;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `SUBMISSION_MAX_QUEUED`, default 5.
    pub max_queued: i64,
    /// `SUBMISSION_PER_MINUTE`, default 15.
    pub per_minute: i64,
    /// `RUN_PER_MINUTE`, default 30: runs without grading a user may ask for (a burst of that
    /// many, then one every 60/n seconds). Runs take no queue slot: they are short and go first.
    pub runs_per_minute: i64,
}

fn counter_error(e: impl std::fmt::Display) -> SubmissionError {
    SubmissionError::Counters(e.to_string())
}

/// The bucket, opened on first use (the provisioning step may run after the worker starts).
#[derive(Clone)]
pub struct Counters {
    js: jetstream::Context,
    pub limits: Limits,
    bucket: Arc<OnceCell<kv::Store>>,
    /// The last value and revision this worker wrote of each key: a change is first tried as a
    /// compare-and-set on it, without reading the entry (one NATS round trip of two saved for a
    /// user who submits again). A stale one only costs a refused write and a read.
    known: Arc<Mutex<HashMap<String, (Usage, u64)>>>,
}

/// Keys whose last value is kept ([`Counters::known`]); past this the memory is forgotten at once.
const KNOWN_KEYS: usize = 100_000;

/// One user's counters, the value of the key `<user id>`, written as `queued tat_ms`: how many
/// submissions wait to be judged, and the rate limiter's theoretical arrival time.
///
/// The rate is a GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp):
/// with `per_minute` = n, a user may send a burst of n and then one every 60/n seconds — n a
/// minute in the long run, spread out instead of refilled all at once at each minute boundary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Usage {
    queued: i64,
    tat_ms: i64,
}

impl Usage {
    fn parse(value: &[u8]) -> Usage {
        let text = std::str::from_utf8(value).unwrap_or_default();
        let mut n = text.split(' ').map(|v| v.parse::<i64>().unwrap_or(0));
        Usage {
            queued: n.next().unwrap_or(0),
            tat_ms: n.next().unwrap_or(0),
        }
    }

    fn encode(&self) -> bytes::Bytes {
        format!("{} {}", self.queued, self.tat_ms).into()
    }

    /// Takes a queue slot and a rate slot at `now_ms`, or says why not. The GCRA: each
    /// submission pushes the theoretical arrival time on by one interval (60 s / n); one is
    /// allowed while that time is at most a minute minus an interval ahead of now — a burst of n,
    /// then one per interval.
    fn take(self, now_ms: i64, limits: Limits) -> Result<Usage, Refusal> {
        let rated = self.take_rate(now_ms, limits.per_minute)?;
        if self.queued >= limits.max_queued {
            return Err(Refusal::Queued);
        }
        Ok(Usage {
            queued: self.queued + 1,
            ..rated
        })
    }

    /// Takes a rate slot only (the GCRA of [`Usage::take`] at `per_minute`).
    fn take_rate(self, now_ms: i64, per_minute: i64) -> Result<Usage, Refusal> {
        let interval = (60_000 / per_minute.max(1)).max(1);
        let tolerance = 60_000 - interval;
        let tat = self.tat_ms.max(now_ms);
        if tat - now_ms > tolerance {
            return Err(Refusal::Rate(tat - now_ms - tolerance));
        }
        Ok(Usage {
            queued: self.queued,
            tat_ms: tat + interval,
        })
    }
}

/// Why a slot was refused.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// Over the rate; allowed again in this many milliseconds.
    Rate(i64),
    Queued,
}

impl Counters {
    pub fn new(js: jetstream::Context, limits: Limits) -> Counters {
        Counters {
            js,
            limits,
            bucket: Arc::new(OnceCell::new()),
            known: Arc::default(),
        }
    }

    async fn bucket(&self) -> Result<&kv::Store, SubmissionError> {
        self.bucket
            .get_or_try_init(|| async { self.js.get_key_value(LIMITS_BUCKET).await.map_err(counter_error) })
            .await
    }

    /// Takes a queue slot and a rate slot for `user`, or refuses with 429 and `Retry-After`.
    /// The bucket is retried through a leader election (up to [`common::retry::OUTAGE_AFTER`]);
    /// a write whose answer was lost may then count one slot twice, which
    /// [`Counters::correct_queued`] repairs when it matters.
    pub async fn acquire(&self, user: &str) -> Result<(), SubmissionError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let limits = self.limits;
        let taken = common::retry::retry("taking a submission slot", || async {
            self.change(user, |u| u.take(now_ms, limits)).await
        })
        .await?;
        match taken {
            Ok(()) => Ok(()),
            Err(Refusal::Rate(wait_ms)) => Err(SubmissionError::RateLimited {
                per_minute: limits.per_minute,
                retry_after: (wait_ms as u64).div_ceil(1000).max(1),
            }),
            Err(Refusal::Queued) => Err(SubmissionError::TooManyQueued {
                max: limits.max_queued,
            }),
        }
    }

    /// Takes a slot of `user`'s rate of runs without grading (its own key, `runs.<user>`, in
    /// the same bucket), or refuses with 429 and `Retry-After`.
    pub async fn acquire_run(&self, user: &str) -> Result<(), SubmissionError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let per_minute = self.limits.runs_per_minute;
        match self
            .change(&format!("runs.{user}"), |u| u.take_rate(now_ms, per_minute))
            .await?
        {
            Ok(()) => Ok(()),
            Err(Refusal::Rate(wait_ms)) => Err(SubmissionError::RunRateLimited {
                per_minute,
                retry_after: (wait_ms as u64).div_ceil(1000).max(1),
            }),
            Err(Refusal::Queued) => unreachable!("a rate slot has no queue"),
        }
    }

    /// Sets the user's count of waiting submissions to `waiting` (counted from the records) when
    /// the counter says more: a slot taken by a worker that died before saving its submission
    /// would otherwise be lost for good. Returns whether it corrected anything.
    pub async fn correct_queued(&self, user: &str, waiting: i64) -> Result<bool, SubmissionError> {
        let corrected = common::retry::retry("correcting a queue counter", || async {
            self.change(user, |mut u| {
                if u.queued <= waiting {
                    return Err(());
                }
                tracing::warn!(
                    user,
                    counted = u.queued,
                    waiting,
                    "queue counter drifted; corrected"
                );
                u.queued = waiting;
                Ok(u)
            })
            .await
        })
        .await?;
        Ok(corrected.is_ok())
    }

    /// Gives back the queue slot of one submission (judged, or never created).
    pub async fn release(&self, user: &str) {
        self.release_many(user, 1).await
    }

    /// Gives back the queue slots of `n` of `user`'s submissions, in one write.
    pub async fn release_many(&self, user: &str, n: i64) {
        let released = common::retry::retry("releasing a queue slot", || async {
            self.change(user, |mut u| {
                u.queued = (u.queued - n).max(0);
                Ok::<_, Refusal>(u)
            })
            .await
        })
        .await;
        if let Err(e) = released {
            tracing::warn!(user, error = %e, "releasing a queue slot");
        }
    }

    /// Applies `f` to the counters under `key` by compare-and-set on the key's revision: first on
    /// the value this worker last saw (no read), then, when that write is refused or `f` refuses
    /// or changes nothing on it, on the entry as read — retrying when another replica wrote in
    /// between. `f` may refuse; then nothing is written. A refusal is only ever given on a value
    /// just read.
    async fn change<R>(
        &self,
        key: &str,
        f: impl Fn(Usage) -> Result<Usage, R>,
    ) -> Result<Result<(), R>, SubmissionError> {
        let bucket = self.bucket().await?;
        let mut known = self.known.lock().expect("counters cache").get(key).copied();
        loop {
            let fresh = known.is_none();
            let (current, revision) = match known.take() {
                Some((usage, revision)) => (usage, Some(revision)),
                None => match bucket.entry(key).await.map_err(counter_error)? {
                    Some(e) if e.operation == kv::Operation::Put => {
                        (Usage::parse(&e.value), Some(e.revision))
                    }
                    _ => (Usage::default(), None),
                },
            };
            let next = match f(current) {
                Ok(next) if next != current => next,
                Ok(_) if fresh => return Ok(Ok(())),
                Err(refused) if fresh => return Ok(Err(refused)),
                // What this worker last saw may be old: decide on the entry itself.
                _ => continue,
            };
            let written = match revision {
                Some(r) => bucket.update(key, next.encode(), r).await.map_err(|e| {
                    (
                        e.kind() == kv::UpdateErrorKind::WrongLastRevision
                            || common::nats::is_write_conflict(&e),
                        counter_error(e),
                    )
                }),
                None => bucket.create(key, next.encode()).await.map_err(|e| {
                    (
                        e.kind() == kv::CreateErrorKind::AlreadyExists || common::nats::is_write_conflict(&e),
                        counter_error(e),
                    )
                }),
            };
            match written {
                Ok(revision) => {
                    let mut cache = self.known.lock().expect("counters cache");
                    if cache.len() >= KNOWN_KEYS {
                        cache.clear();
                    }
                    cache.insert(key.to_owned(), (next, revision));
                    return Ok(Ok(()));
                }
                // Another writer was first: read the entry and decide again.
                Err((true, _)) => continue,
                Err((false, e)) => {
                    self.known.lock().expect("counters cache").remove(key);
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_queued: 100,
        per_minute: 6,
        runs_per_minute: 6,
    };

    #[test]
    fn a_burst_of_n_then_one_per_interval() {
        let mut u = Usage::default();
        let t0 = 1_000_000;
        for i in 0..6 {
            u = u
                .take(t0, LIMITS)
                .unwrap_or_else(|e| panic!("submission {i}: {e:?}"));
        }
        // The seventh in the same instant waits one interval (10 s).
        assert_eq!(u.take(t0, LIMITS), Err(Refusal::Rate(10_000)));
        assert_eq!(u.take(t0 + 9_999, LIMITS), Err(Refusal::Rate(1)));
        let u = u.take(t0 + 10_000, LIMITS).expect("one interval later");
        assert!(u.take(t0 + 10_000, LIMITS).is_err());
        // A quiet minute refills the whole burst.
        let mut u = u;
        for _ in 0..6 {
            u = u.take(t0 + 80_000, LIMITS).expect("burst after a quiet minute");
        }
    }

    #[test]
    fn waiting_submissions_are_bounded() {
        let limits = Limits {
            max_queued: 2,
            per_minute: 1000,
            runs_per_minute: 1000,
        };
        let u = Usage::default().take(0, limits).unwrap().take(0, limits).unwrap();
        assert_eq!(u.queued, 2);
        assert_eq!(u.take(0, limits), Err(Refusal::Queued));
    }

    #[test]
    fn counters_round_trip_and_tolerate_garbage() {
        let u = Usage {
            queued: 3,
            tat_ms: 1_700_000_000_000,
        };
        assert_eq!(Usage::parse(&u.encode()), u);
        assert_eq!(Usage::parse(b"not numbers"), Usage::default());
        assert_eq!(Usage::parse(b""), Usage::default());
    }
}

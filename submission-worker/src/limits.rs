//! Per-user limits on submissions, so one user cannot starve the judges: at most `max_queued`
//! submissions not yet judged, and at most `per_minute` new ones in a calendar minute.
//!
//! Both are counter documents changed with `$inc` by `_id` — never counts over submissions,
//! which the embedded store answers by scanning the whole collection. A slot is taken with a
//! conditional upsert: when the filter (`queued < max`) does not match an existing document the
//! upsert collides with it on `_id`, and that duplicate-key error *is* the refusal, atomically.

use common::migrate::is_duplicate_key;
use common::service::Failure;
use common::Problem;
use mongodb::bson::{doc, Document};
use mongodb::Collection;

pub const COLLECTION: &str = "user_limits";

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `SUBMISSION_MAX_QUEUED`, default 5.
    pub max_queued: i64,
    /// `SUBMISSION_PER_MINUTE`, default 15.
    pub per_minute: i64,
}

fn store_down(e: mongodb::error::Error) -> Failure {
    crate::store::unavailable(e).into()
}

/// Takes a queue slot and a rate slot for `user`, or refuses with 429 and `Retry-After`.
pub async fn acquire(limits: &Collection<Document>, l: Limits, user: &str) -> Result<(), Failure> {
    let now = chrono::Utc::now();
    let minute = now.timestamp() / 60;
    let rate_id = format!("rate:{user}:{minute}");
    let taken = limits
        .update_one(
            doc! {"_id": &rate_id, "n": {"$lt": l.per_minute}},
            doc! {"$inc": {"n": 1_i64}, "$setOnInsert": {"expires_ms": (minute + 2) * 60_000}},
        )
        .upsert(true)
        .await;
    match taken {
        Ok(_) => {}
        Err(e) if is_duplicate_key(&e) => {
            let wait = 60 - (now.timestamp() % 60) as u64;
            return Err(Failure::retry_after(
                Problem::new(429, "rate_limited", "Too many submissions this minute").with_detail(format!(
                    "at most {} a minute; try again in {wait} s",
                    l.per_minute
                )),
                wait.max(1),
            ));
        }
        Err(e) => return Err(store_down(e)),
    }
    let queued = limits
        .update_one(
            doc! {"_id": format!("queued:{user}"), "n": {"$lt": l.max_queued}},
            doc! {"$inc": {"n": 1_i64}},
        )
        .upsert(true)
        .await;
    match queued {
        Ok(_) => Ok(()),
        Err(e) if is_duplicate_key(&e) => Err(Failure::retry_after(
            Problem::new(
                429,
                "too_many_queued",
                "Too many submissions waiting to be judged",
            )
            .with_detail(format!("at most {} waiting at once", l.max_queued)),
            5,
        )),
        Err(e) => Err(store_down(e)),
    }
}

/// Gives back the queue slot of one submission (judged, or never created).
pub async fn release(limits: &Collection<Document>, user: &str) {
    let released = limits
        .update_one(
            doc! {"_id": format!("queued:{user}"), "n": {"$gt": 0_i64}},
            doc! {"$inc": {"n": -1_i64}},
        )
        .await;
    if let Err(e) = released {
        tracing::warn!(user, error = %e, "releasing a queue slot");
    }
}

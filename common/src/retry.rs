//! Riding out a JetStream election. On a cluster whose stream leader died, a new leader takes
//! 4–12 s to be elected; meanwhile publishes, key-value operations and fetches fail (fast, with
//! "no responders", or slowly, with a timeout). Those calls go through [`retry`], which tries
//! again with a growing pause for [`OUTAGE_AFTER`] before it calls the failure an outage, and pull
//! loops pause with a [`Backoff`] so a fetch that fails at once does not spin.
//!
//! Hand-written rather than taken from a crate (`backon`, `backoff`): it is an exponential pause
//! with a cap and a deadline, twenty lines, and a dependency would add more surface than it saves.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How long NATS calls are retried before the failure is reported: longer than the slowest
/// election measured (12 s), with room for the client to reconnect to another node.
pub const OUTAGE_AFTER: Duration = Duration::from_secs(30);

/// A pause that doubles from `first` up to `max` on every failure; [`Backoff::reset`] on success.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Default for Backoff {
    /// 50 ms, doubling up to 2 s: a short election costs little, a long one few calls.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(50), Duration::from_secs(2))
    }
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// The pause to take now; the next one is twice as long (up to the cap).
    pub fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }

    /// Sleeps for [`Backoff::next_pause`].
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_pause()).await;
    }

    /// Back to the first pause (after a success).
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// Runs `op` until it succeeds, pausing with a [`Backoff`] between tries, for at most `budget`;
/// then returns the last error. `what` names the operation in the log.
pub async fn retry_for<T, E, F, Fut>(what: &str, budget: Duration, mut op: F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + budget;
    let mut backoff = Backoff::default();
    let mut failures = 0u32;
    loop {
        match op().await {
            Ok(value) => {
                if failures > 0 {
                    tracing::info!(what, failures, "succeeded after retrying");
                }
                return Ok(value);
            }
            Err(e) => {
                let pause = backoff.next_pause();
                if Instant::now() + pause > deadline {
                    tracing::error!(what, error = %e, failures, "still failing after {budget:?}: an outage");
                    return Err(e);
                }
                if failures == 0 {
                    tracing::warn!(what, error = %e, "failed; retrying (a NATS election?)");
                }
                failures += 1;
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// [`retry_for`] with the budget of [`OUTAGE_AFTER`].
pub async fn retry<T, E, F, Fut>(what: &str, op: F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry_for(what, OUTAGE_AFTER, op).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let pauses: Vec<u128> = (0..4).map(|_| b.next_pause().as_millis()).collect();
        assert_eq!(pauses, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_pause(), Duration::from_millis(100));
    }

    #[tokio::test]
    async fn retries_until_success_within_the_budget() {
        let mut calls = 0;
        let out: Result<u32, String> = retry_for("test", Duration::from_secs(5), || {
            calls += 1;
            let n = calls;
            async move {
                if n < 4 {
                    Err(format!("failure {n}"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(out, Ok(4));
    }

    #[tokio::test]
    async fn gives_up_within_the_budget_with_the_last_error() {
        let started = Instant::now();
        let mut calls = 0;
        let out: Result<(), String> = retry_for("test", Duration::from_millis(400), || {
            calls += 1;
            let n = calls;
            async move { Err(format!("failure {n}")) }
        })
        .await;
        let waited = started.elapsed();
        // Pauses of 50, 100 and 200 ms fit in 400 ms; the next (400 ms) would not, and is not taken.
        assert!(
            waited >= Duration::from_millis(350) && waited < Duration::from_millis(750),
            "{waited:?}"
        );
        assert_eq!(calls, 4);
        assert_eq!(out, Err("failure 4".to_owned()));
    }
}

//! The pull loop shared by the submission workers' durable consumers (results, dead jobs): wait
//! for the consumer to be provisioned, pull in batches, and ack, retry or drop each message as
//! its handler says, until told to stop. The handler is given every message that is already
//! there when it is free (up to the batch size): one at a time on a quiet system, many under
//! load, so that it can store them in one write without ever waiting for a batch to fill.
//!
//! A broken pull stream (the broker restarted, a stream leader being elected) is reopened after a
//! pause that grows while it keeps failing, so a pull that fails at once does not spin.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use futures::{FutureExt, StreamExt};

/// What became of one message.
pub enum Outcome {
    /// Handled: ack it.
    Done,
    /// Could not be handled now (the store is down): hand it back for a later try.
    Retry,
    /// Can never be handled: terminate it so it is not redelivered.
    Malformed,
}

/// Pulls from `stream`/`consumer` and hands each payload to `handle` until `stop` resolves.
pub async fn consume_each<F, Fut>(
    js: jetstream::Context,
    stream: &str,
    consumer: &str,
    batch: usize,
    stop: impl Future<Output = ()>,
    handle: F,
) where
    F: Fn(bytes::Bytes) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let handle = &handle;
    consume(js, stream, consumer, batch, stop, |payloads| async move {
        let mut outcomes = Vec::with_capacity(payloads.len());
        for payload in payloads {
            outcomes.push(handle(payload).await);
        }
        outcomes
    })
    .await
}

/// Pulls from `stream`/`consumer` and hands the payloads at hand, at most `batch` at once and in
/// stream order, to `handle` until `stop` resolves; `handle` returns one outcome per payload.
pub async fn consume<F, Fut>(
    js: jetstream::Context,
    stream: &str,
    consumer: &str,
    batch: usize,
    stop: impl Future<Output = ()>,
    handle: F,
) where
    F: Fn(Vec<bytes::Bytes>) -> Fut,
    Fut: Future<Output = Vec<Outcome>>,
{
    tokio::pin!(stop);
    let consumer = loop {
        match js
            .get_consumer_from_stream::<jetstream::consumer::pull::Config, _, _>(consumer, stream)
            .await
        {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(error = %e, stream, consumer, "waiting for the consumer to be provisioned");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = &mut stop => return,
                }
            }
        }
    };
    let mut backoff = common::retry::Backoff::default();
    loop {
        let mut messages = match consumer.stream().max_messages_per_batch(batch).messages().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, stream, "pulling");
                tokio::select! {
                    _ = backoff.wait() => continue,
                    _ = &mut stop => return,
                }
            }
        };
        let mut got_any = false;
        let mut open = true;
        while open {
            let next = tokio::select! {
                m = messages.next() => m,
                _ = &mut stop => return,
            };
            let mut batch_at_hand = match next {
                Some(Ok(m)) => vec![m],
                Some(Err(e)) => {
                    tracing::debug!(error = %e, stream, "pull stream interrupted");
                    break;
                }
                None => break,
            };
            got_any = true;
            backoff.reset();
            // Whatever else has already arrived goes along; nothing is waited for.
            while batch_at_hand.len() < batch {
                match messages.next().now_or_never() {
                    Some(Some(Ok(m))) => batch_at_hand.push(m),
                    Some(Some(Err(e))) => {
                        tracing::debug!(error = %e, stream, "pull stream interrupted");
                        open = false;
                        break;
                    }
                    Some(None) => {
                        open = false;
                        break;
                    }
                    None => break,
                }
            }
            let payloads = batch_at_hand.iter().map(|m| m.payload.clone()).collect();
            let outcomes = handle(payloads).await;
            debug_assert_eq!(outcomes.len(), batch_at_hand.len(), "one outcome per message");
            for (msg, outcome) in batch_at_hand.iter().zip(outcomes) {
                let ack = match outcome {
                    Outcome::Done => AckKind::Ack,
                    Outcome::Retry => AckKind::Nak(Some(Duration::from_secs(1))),
                    Outcome::Malformed => AckKind::Term,
                };
                if let Err(e) = msg.ack_with(ack).await {
                    tracing::debug!(error = %e, stream, "ack lost; the message will come again");
                }
            }
        }
        // A pull stream that broke before delivering anything (no leader yet): pause before the
        // next one, longer each time it happens again.
        if !got_any {
            tokio::select! {
                _ = backoff.wait() => {}
                _ = &mut stop => return,
            }
        }
    }
}

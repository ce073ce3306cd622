//! The pull loop shared by the submission workers' durable consumers (results, dead jobs): wait
//! for the consumer to be provisioned, pull in batches, and ack, retry or drop each message as
//! its handler says, until told to stop. A broken pull stream (the broker restarted, a stream
//! leader being elected) is reopened after a pause that grows while it keeps failing, so a pull
//! that fails at once does not spin.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;

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
pub async fn consume<F, Fut>(
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
        loop {
            let next = tokio::select! {
                m = messages.next() => m,
                _ = &mut stop => return,
            };
            let msg = match next {
                Some(Ok(m)) => {
                    got_any = true;
                    backoff.reset();
                    m
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, stream, "pull stream interrupted");
                    break;
                }
                None => break,
            };
            let ack = match handle(msg.payload.clone()).await {
                Outcome::Done => AckKind::Ack,
                Outcome::Retry => AckKind::Nak(Some(Duration::from_secs(1))),
                Outcome::Malformed => AckKind::Term,
            };
            if let Err(e) = msg.ack_with(ack).await {
                tracing::debug!(error = %e, stream, "ack lost; the message will come again");
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

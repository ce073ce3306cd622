//! What the running judges can run: every judge instance lists its languages in its service
//! metadata; a language is offered while at least one judge answers for it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Language {
    pub id: String,
    pub name: String,
    pub version: String,
}

/// How long the judges' answer is used as it is; after that it is still answered at once while
/// one background refresh asks again.
const FRESH: Duration = Duration::from_secs(2);
/// How long "no judge offers anything" is believed before asking again (inline).
const FRESH_EMPTY: Duration = Duration::from_millis(500);
/// How long judges get to answer.
const WINDOW: Duration = Duration::from_millis(250);

type Cached = (Option<Instant>, Vec<Language>);

/// The languages on offer, asked of the judges at most every [`FRESH`]. Only the first call (or
/// one after the judges all went away) waits for their answers; otherwise a request never waits
/// for the gathering window.
#[derive(Clone)]
pub struct Catalog {
    client: async_nats::Client,
    cached: Arc<tokio::sync::Mutex<Cached>>,
    refreshing: Arc<AtomicBool>,
}

impl Catalog {
    pub fn new(client: async_nats::Client) -> Catalog {
        Catalog {
            client,
            cached: Arc::new(tokio::sync::Mutex::new((None, Vec::new()))),
            refreshing: Arc::new(AtomicBool::new(false)),
        }
    }

    pub async fn get(&self) -> Vec<Language> {
        let mut cached = self.cached.lock().await;
        let age = cached.0.map(|at| at.elapsed());
        let known = !cached.1.is_empty();
        match age {
            Some(age) if age <= FRESH && (known || age <= FRESH_EMPTY) => {}
            Some(_) if known => {
                if !self.refreshing.swap(true, Ordering::SeqCst) {
                    let this = self.clone();
                    tokio::spawn(async move {
                        let fresh = offered(&this.client, WINDOW).await;
                        *this.cached.lock().await = (Some(Instant::now()), fresh);
                        this.refreshing.store(false, Ordering::SeqCst);
                    });
                }
            }
            _ => *cached = (Some(Instant::now()), offered(&self.client, WINDOW).await),
        }
        cached.1.clone()
    }
}

/// Asks every judge (`$SRV.INFO.judge`) and merges their answers, waiting `window` for them.
pub async fn offered(client: &async_nats::Client, window: Duration) -> Vec<Language> {
    let inbox = client.new_inbox();
    let Ok(mut sub) = client.subscribe(inbox.clone()).await else {
        return Vec::new();
    };
    let subject = format!("$SRV.INFO.{}", common::subjects::judge::SERVICE);
    if client
        .publish_with_reply(subject, inbox, "".into())
        .await
        .is_err()
    {
        return Vec::new();
    }
    let mut by_id = BTreeMap::new();
    let deadline = tokio::time::sleep(window);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            m = sub.next() => {
                let Some(m) = m else { break };
                let info: serde_json::Value = serde_json::from_slice(&m.payload).unwrap_or_default();
                let langs: Vec<Language> = info["metadata"]["languages"]
                    .as_str()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or_default();
                for l in langs {
                    by_id.entry(l.id.clone()).or_insert(l);
                }
            }
        }
    }
    by_id.into_values().collect()
}

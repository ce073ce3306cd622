//! What the running judges can run: every judge instance lists its languages in its service
//! metadata; a language is offered while at least one judge answers for it (or did, within
//! [`GRACE`]).
//!
//! A background task asks the judges every [`REFRESH`] and publishes the answer through a
//! `watch` channel, so a request reads the latest list without waiting for the judges' gathering
//! window. Only while no judge has answered does a request ask them itself (one may have just
//! started), since the answer it would otherwise get is "nothing is offered".

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::api::Language;
use common::subjects;
use futures::StreamExt;
use tokio::sync::watch;

/// How often the judges are asked.
const REFRESH: Duration = Duration::from_secs(2);
/// How soon to ask again while no judge answers (one may be starting).
const REFRESH_EMPTY: Duration = Duration::from_millis(500);
/// How long judges get to answer.
const WINDOW: Duration = Duration::from_millis(250);
/// How long a language stays offered after the last judge that listed it stopped answering: a
/// judge busy on every CPU can miss a gathering window (a submission was refused with "no judge
/// offers this language now" mid-test), while a judge that is gone drops out soon enough.
const GRACE: Duration = Duration::from_secs(10);

/// The languages on offer, kept current by a background task that ends with the last clone.
/// The list is shared (`Arc<[Language]>`): every submission reads it, and copying it per read
/// was a sixth of the worker's CPU for creating a submission (perf, under `load.py`).
#[derive(Clone)]
pub struct Catalog {
    client: async_nats::Client,
    latest: Arc<watch::Sender<Arc<[Language]>>>,
}

impl Catalog {
    /// Starts asking the judges.
    pub fn start(client: async_nats::Client) -> Catalog {
        let latest = Arc::new(watch::Sender::new(Arc::from(Vec::new())));
        let weak = Arc::downgrade(&latest);
        let asker = client.clone();
        tokio::spawn(async move {
            let mut seen: BTreeMap<String, (Language, tokio::time::Instant)> = BTreeMap::new();
            loop {
                let now = tokio::time::Instant::now();
                for language in offered(&asker, WINDOW).await {
                    seen.insert(language.id.clone(), (language, now));
                }
                seen.retain(|_, (_, at)| now.duration_since(*at) < GRACE);
                let offered: Arc<[Language]> = seen.values().map(|(l, _)| l.clone()).collect();
                let wait = if offered.is_empty() {
                    REFRESH_EMPTY
                } else {
                    REFRESH
                };
                match weak.upgrade() {
                    Some(latest) => latest.send_replace(offered),
                    None => return, // every catalog is gone
                };
                tokio::time::sleep(wait).await;
            }
        });
        Catalog { client, latest }
    }

    /// The languages on offer now.
    pub async fn get(&self) -> Arc<[Language]> {
        let known = self.latest.borrow().clone();
        if !known.is_empty() {
            return known;
        }
        let fresh: Arc<[Language]> = offered(&self.client, WINDOW).await.into();
        if !fresh.is_empty() {
            self.latest.send_replace(fresh.clone());
        }
        fresh
    }
}

/// Asks every judge (`$SRV.INFO.judge`) and merges their answers, waiting `window` for them.
pub async fn offered(client: &async_nats::Client, window: Duration) -> Vec<Language> {
    let inbox = client.new_inbox();
    let Ok(mut sub) = client.subscribe(inbox.clone()).await else {
        return Vec::new();
    };
    let subject = subjects::service_info(subjects::judge::SERVICE);
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
                let info: async_nats::service::Info = match serde_json::from_slice(&m.payload) {
                    Ok(info) => info,
                    Err(_) => continue,
                };
                let langs: Vec<Language> = info
                    .metadata
                    .get(subjects::judge::LANGUAGES_METADATA)
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

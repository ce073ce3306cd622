//! What the running judges can run: every judge instance lists its languages in its service
//! metadata; a language is offered while at least one judge answers for it.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Language {
    pub id: String,
    pub name: String,
    pub version: String,
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

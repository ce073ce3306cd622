//! Connecting to NATS the same way in every service: its own user, its own reply prefix (so
//! `nats.conf` can confine each user to its own inbox), and every connection event logged — a
//! denied publish shows up in async-nats only as a request timeout, the reason only here.

use std::time::Duration;

use async_nats::{Client, ConnectErrorKind, ConnectOptions, Event, ServerAddr};

use crate::config::{self, ConfigError};

/// Where and as whom a service connects.
#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// `NATS_URL`, default `nats://127.0.0.1:4222`: one server, or a cluster's servers as a
    /// comma-separated list (`nats://a:4222,nats://b:4222`); the client picks one and fails over to
    /// the others (and to those the cluster announces).
    pub url: String,
    /// `NATS_USER`, default the service's own user name.
    pub user: String,
    /// `NATS_PASSWORD` or `NATS_PASSWORD_FILE`; no password means an unauthenticated connection.
    pub password: Option<String>,
    /// `NATS_REQUEST_TIMEOUT_MS`, default 5000: how long a request waits for its reply.
    pub request_timeout: Duration,
}

impl NatsSettings {
    /// Reads the settings from the environment; `default_user` is the service's user in `nats.conf`.
    pub fn from_env(default_user: &str) -> Result<Self, ConfigError> {
        let settings = NatsSettings {
            url: config::var("NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned()),
            user: config::var("NATS_USER").unwrap_or_else(|| default_user.to_owned()),
            password: config::secret("NATS_PASSWORD")?,
            request_timeout: config::millis_or("NATS_REQUEST_TIMEOUT_MS", 5000)?,
        };
        settings.server_addrs().map_err(|message| ConfigError {
            name: "NATS_URL".to_owned(),
            message,
        })?;
        Ok(settings)
    }

    /// The servers of [`Self::url`], each parsed; an error names the one that is not a URL.
    pub fn server_addrs(&self) -> Result<Vec<ServerAddr>, String> {
        let addrs = self
            .url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| u.parse::<ServerAddr>().map_err(|e| format!("{u:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if addrs.is_empty() {
            return Err("no server URL".to_owned());
        }
        Ok(addrs)
    }

    /// The reply-subject prefix this user may subscribe to (`_INBOX_<user>`), as in `nats.conf`.
    pub fn inbox_prefix(&self) -> String {
        crate::subjects::inbox_prefix(&self.user)
    }
}

/// Connects, retrying until the server answers; reconnects forever afterwards.
pub async fn connect(settings: &NatsSettings, name: &str) -> Result<Client, async_nats::ConnectError> {
    let mut options = ConnectOptions::new()
        .name(name)
        .custom_inbox_prefix(settings.inbox_prefix())
        .request_timeout(Some(settings.request_timeout))
        .connection_timeout(Duration::from_secs(2))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempt| Duration::from_millis((100 * attempt as u64).clamp(100, 2000)))
        .event_callback(|event| async move {
            match event {
                Event::Connected => tracing::info!("nats connected"),
                Event::Disconnected => tracing::warn!("nats disconnected"),
                Event::ServerError(e) => tracing::error!(error = %e, "nats server error"),
                Event::ClientError(e) => tracing::error!(error = %e, "nats client error"),
                other => tracing::info!(event = %other, "nats event"),
            }
        });
    if let Some(password) = &settings.password {
        options = options.user_and_password(settings.user.clone(), password.clone());
    }
    let addrs = settings
        .server_addrs()
        .map_err(|e| async_nats::ConnectError::with_source(ConnectErrorKind::ServerParse, e))?;
    options.connect(addrs).await
}

/// `NATS_REPLICAS`, default 1: how many servers hold a copy of each stream, consumer and bucket
/// (3 on a three-node cluster). Read by the provisioning step only.
pub fn replicas_from_env() -> Result<usize, ConfigError> {
    let replicas: usize = config::parse_or("NATS_REPLICAS", 1)?;
    if !(1..=5).contains(&replicas) {
        return Err(ConfigError {
            name: "NATS_REPLICAS".to_owned(),
            message: format!("{replicas} is not between 1 and 5 (JetStream's limit)"),
        });
    }
    Ok(replicas)
}

/// Whether a JetStream write (a KV `update` or `create`, a publish with an expected last
/// sequence) failed because another writer got there first, looking through the error's sources.
///
/// async-nats 0.51 recognises the server's code for that from before 2.11 only (10071); current
/// servers answer 10164, which it reports as an unknown error — a compare-and-set loop that relies
/// on the client's error kind alone would take a lost race for an outage.
pub fn is_write_conflict(error: &(dyn std::error::Error + 'static)) -> bool {
    use async_nats::jetstream::ErrorCode;
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(js) = e.downcast_ref::<async_nats::jetstream::Error>() {
            return matches!(
                js.error_code(),
                ErrorCode::STREAM_WRONG_LAST_SEQUENCE | ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
            );
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's error answer, as async-nats reads it.
    fn answer(err_code: u64) -> async_nats::jetstream::Error {
        serde_json::from_value(serde_json::json!(
            {"code": 400, "err_code": err_code, "description": "wrong last sequence"}
        ))
        .unwrap()
    }

    /// An error that wraps another, as async-nats' update and create errors do.
    #[derive(Debug, thiserror::Error)]
    #[error("failed getting entry")]
    struct Wrapped(#[source] async_nats::jetstream::Error);

    #[test]
    fn a_lost_compare_and_set_race_is_recognised_from_old_and_new_servers() {
        assert!(is_write_conflict(&answer(10071)));
        assert!(is_write_conflict(&Wrapped(answer(10164))));
        assert!(!is_write_conflict(&Wrapped(answer(10077))));
        assert!(!is_write_conflict(&std::io::Error::other("timed out")));
    }

    fn settings(url: &str) -> NatsSettings {
        NatsSettings {
            url: url.to_owned(),
            user: "edge".to_owned(),
            password: None,
            request_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_cluster_is_a_comma_separated_list() {
        let addrs = settings("nats://a:4222, nats://b:4223,nats://c:4224")
            .server_addrs()
            .unwrap();
        let ports: Vec<u16> = addrs.iter().map(|a| a.port()).collect();
        assert_eq!(ports, [4222, 4223, 4224]);
        assert_eq!(addrs[1].host(), "b");
    }

    #[test]
    fn a_bad_url_is_named() {
        let e = settings("nats://a:4222,nats://b:notaport")
            .server_addrs()
            .unwrap_err();
        assert!(e.contains("nats://b:notaport"), "{e}");
        assert!(settings(" , ").server_addrs().is_err());
    }
}

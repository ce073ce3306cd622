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

#[cfg(test)]
mod tests {
    use super::*;

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

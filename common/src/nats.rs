//! Connecting to NATS the same way in every service: its own user, its own reply prefix (so
//! `nats.conf` can confine each user to its own inbox), and every connection event logged — a
//! denied publish shows up in async-nats only as a request timeout, the reason only here.

use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};

use crate::config::{self, ConfigError};

/// Where and as whom a service connects.
#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// `NATS_URL`, default `nats://127.0.0.1:4222`.
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
        Ok(NatsSettings {
            url: config::var("NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned()),
            user: config::var("NATS_USER").unwrap_or_else(|| default_user.to_owned()),
            password: config::secret("NATS_PASSWORD")?,
            request_timeout: config::millis_or("NATS_REQUEST_TIMEOUT_MS", 5000)?,
        })
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
    options.connect(&settings.url).await
}

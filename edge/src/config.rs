//! The edge's settings, read from the environment (see the README's table).

use std::net::SocketAddr;
use std::time::Duration;

use common::config::{self, ConfigError};
use common::nats::NatsSettings;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `EDGE_ADDR`, default `127.0.0.1:8080` (port 0 picks a free one).
    pub addr: SocketAddr,
    pub nats: NatsSettings,
    /// `JWT_PUBLIC_KEY` or `JWT_PUBLIC_KEY_FILE`: the Ed25519 public key, SPKI PEM.
    pub public_key_pem: String,
    /// `CORS_ORIGINS`, comma-separated, default `http://localhost:3000`.
    pub cors_origins: Vec<String>,
    /// `EDGE_BODY_LIMIT_BYTES`, default 1 MiB: larger JSON bodies get 413.
    pub body_limit: usize,
    /// `EDGE_REQUEST_TIMEOUT_MS`, default 45000: a request still running then gets 504 (longer
    /// than a NATS election and the workers' retries through it).
    pub request_timeout: Duration,
    /// `EDGE_READY_SERVICES`, comma-separated, default `auth,submission`: the NATS services
    /// `/readyz` pings.
    pub ready_services: Vec<String>,
}

/// The edge's default NATS request timeout (`NATS_REQUEST_TIMEOUT_MS` unset): longer than the
/// workers retry through an election ([`common::retry::OUTAGE_AFTER`]).
pub const EDGE_NATS_TIMEOUT: Duration = Duration::from_secs(40);

fn list(name: &str, default: &str) -> Vec<String> {
    config::var(name)
        .unwrap_or_else(|| default.to_owned())
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Settings {
    pub fn from_env() -> Result<Settings, ConfigError> {
        Ok(Settings {
            addr: config::parse_or("EDGE_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            nats: {
                let mut nats = NatsSettings::from_env("edge")?;
                // The edge waits out a NATS election (the workers retry for 30 s); a request
                // lost with a dying node is sent again after 5 s (submissions, by idempotency key).
                if config::var("NATS_REQUEST_TIMEOUT_MS").is_none() {
                    nats.request_timeout = EDGE_NATS_TIMEOUT;
                }
                nats
            },
            public_key_pem: config::required_secret("JWT_PUBLIC_KEY")?,
            cors_origins: list("CORS_ORIGINS", "http://localhost:3000"),
            body_limit: config::parse_or("EDGE_BODY_LIMIT_BYTES", 1 << 20)?,
            request_timeout: config::millis_or("EDGE_REQUEST_TIMEOUT_MS", 45_000)?,
            ready_services: list("EDGE_READY_SERVICES", "auth,submission"),
        })
    }
}

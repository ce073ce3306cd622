//! The auth worker's settings, read from the environment (see the README's table).

use std::time::Duration;

use common::config::{self, ConfigError};
use common::nats::NatsSettings;

#[derive(Debug, Clone)]
pub struct Settings {
    pub nats: NatsSettings,
    /// `MONGODB_URI`, default `mongodb://127.0.0.1:27017`.
    pub mongodb_uri: String,
    /// `MONGODB_DB`, default `judge`.
    pub database: String,
    /// `JWT_PRIVATE_KEY` or `JWT_PRIVATE_KEY_FILE`: Ed25519 private key, PKCS#8 PEM.
    pub private_key_pem: String,
    /// `ACCESS_TOKEN_TTL_SECS`, default 900.
    pub access_ttl: Duration,
    /// `REFRESH_TOKEN_TTL_SECS`, default 30 days.
    pub refresh_ttl: Duration,
    /// `BCRYPT_COST`, default 12.
    pub bcrypt_cost: u32,
    /// `LOGIN_MAX_FAILURES`, default 5: failed logins for one account before it is throttled.
    pub login_max_failures: u32,
    /// `LOGIN_LOCKOUT_SECS`, default 60: the first lockout; each further failure doubles it (≤ 1 h).
    pub login_lockout: Duration,
    /// `LOGIN_FAILURE_WINDOW_SECS`, default 900: failures older than this are forgotten.
    pub login_failure_window: Duration,
    /// `AUTH_MAX_IN_FLIGHT`, default 256: requests handled at once by one replica.
    pub max_in_flight: usize,
    /// `JUDGE_ADMIN_USER`, `JUDGE_ADMIN_PASSWORD`, `JUDGE_ADMIN_EMAIL`: an admin created or
    /// promoted at start-up.
    pub admin: Option<AdminAccount>,
    /// `METRICS_ADDR`: where to serve Prometheus metrics; unset: nowhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct AdminAccount {
    pub username: String,
    pub password: String,
    pub email: String,
}

impl Settings {
    pub fn from_env() -> Result<Settings, ConfigError> {
        let admin = match (
            config::var("JUDGE_ADMIN_USER"),
            config::secret("JUDGE_ADMIN_PASSWORD")?,
        ) {
            (Some(username), Some(password)) => Some(AdminAccount {
                email: config::var("JUDGE_ADMIN_EMAIL")
                    .unwrap_or_else(|| format!("{}@localhost", username.to_lowercase())),
                username,
                password,
            }),
            _ => None,
        };
        Ok(Settings {
            nats: NatsSettings::from_env("auth")?,
            mongodb_uri: config::var("MONGODB_URI").unwrap_or_else(|| "mongodb://127.0.0.1:27017".to_owned()),
            database: config::var("MONGODB_DB").unwrap_or_else(|| "judge".to_owned()),
            private_key_pem: config::required_secret("JWT_PRIVATE_KEY")?,
            access_ttl: Duration::from_secs(config::parse_or("ACCESS_TOKEN_TTL_SECS", 900)?),
            refresh_ttl: Duration::from_secs(config::parse_or("REFRESH_TOKEN_TTL_SECS", 30 * 86400)?),
            bcrypt_cost: config::parse_or("BCRYPT_COST", 12)?,
            login_max_failures: config::parse_or("LOGIN_MAX_FAILURES", 5)?,
            login_lockout: Duration::from_secs(config::parse_or("LOGIN_LOCKOUT_SECS", 60)?),
            login_failure_window: Duration::from_secs(config::parse_or("LOGIN_FAILURE_WINDOW_SECS", 900)?),
            max_in_flight: config::parse_or("AUTH_MAX_IN_FLIGHT", 256)?,
            admin,
            metrics_addr: common::metrics::addr_from_env()?,
        })
    }
}

//! The auth worker's one error type, and the one place its errors become problem documents.

use common::api::BodyError;
use common::service::ServiceError;
use common::{FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The body is not JSON, or fields are invalid (every one named).
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("the username is taken")]
    UsernameTaken {
        /// The e-mail address is registered too.
        email_too: bool,
    },
    #[error("the e-mail address is already registered")]
    EmailTaken,
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("too many failed logins; try again in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    #[error("the refresh token is invalid or expired")]
    InvalidRefreshToken,
    #[error("the refresh token was already used; its session is revoked")]
    RefreshTokenReused,
    #[error("the account no longer exists")]
    UnknownUser,
    #[error("authentication required")]
    Unauthenticated,
    #[error("no such operation: {0}")]
    NoSuchOperation(String),
    /// The store failed; the client may retry.
    #[error("store: {0}")]
    Store(#[from] mongodb::error::Error),
    #[error("hashing: {0}")]
    Hashing(String),

    // Start-up failures (never sent to a client).
    #[error("the private key is not an Ed25519 PKCS#8 PEM key: {0}")]
    Key(String),
    #[error(transparent)]
    Migrate(#[from] mongo_store::migrate::MigrateError),
    #[error("nats: {0}")]
    Nats(#[from] async_nats::Error),
    #[error("nats connect: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("admin account {0}: {1}")]
    Admin(String, Box<AuthError>),
}

impl ServiceError for AuthError {
    fn problem(&self) -> Problem {
        match self {
            AuthError::Body(e) => e.problem(),
            AuthError::UsernameTaken { email_too } => {
                let mut p = Problem::new(409, "username_taken", "The username is taken");
                p.errors.push(FieldError::new("username", "is taken"));
                if *email_too {
                    p.errors.push(FieldError::new("email", "is already registered"));
                }
                p
            }
            AuthError::EmailTaken => {
                let mut p = Problem::new(409, "email_taken", "The e-mail address is already registered");
                p.errors.push(FieldError::new("email", "is already registered"));
                p
            }
            AuthError::InvalidCredentials => {
                Problem::new(401, "invalid_credentials", "Wrong username or password")
            }
            AuthError::TooManyAttempts { retry_after } => {
                Problem::new(429, "too_many_attempts", "Too many failed logins")
                    .with_detail(format!("try again in {retry_after} s"))
            }
            AuthError::InvalidRefreshToken => Problem::new(
                401,
                "invalid_refresh_token",
                "The refresh token is invalid or expired",
            ),
            AuthError::RefreshTokenReused => Problem::new(
                401,
                "refresh_token_reused",
                "The refresh token was already used; its session is revoked",
            ),
            AuthError::UnknownUser => Problem::new(401, "unknown_user", "The account no longer exists"),
            AuthError::Unauthenticated => Problem::new(401, "unauthenticated", "Authentication required"),
            AuthError::NoSuchOperation(subject) => {
                Problem::new(404, "not_found", "No such operation").with_detail(subject.clone())
            }
            AuthError::Store(e) => {
                tracing::error!(error = %e, "store unavailable");
                Problem::new(503, "store_unavailable", "The account store is unavailable")
                    .with_detail("try again shortly")
            }
            other => {
                Problem::new(500, "internal", "The account service failed").with_detail(other.to_string())
            }
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            AuthError::TooManyAttempts { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

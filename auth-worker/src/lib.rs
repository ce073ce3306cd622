//! The auth worker: a NATS service (`auth`, queue group `auth`) that owns user accounts and
//! refresh tokens in MongoDB and signs tokens with the private Ed25519 key.
//!
//! May use: its own collections (`users`, `refresh_tokens`, `login_throttle`), NATS, the signing
//! key. Must not: read another service's collections or talk HTTP — the edge is the only
//! listener, and only the edge may publish on `auth.>` (enforced by `nats.conf`), which is why
//! the identity headers it sets are trusted here.

pub mod accounts;
pub mod config;
pub mod error;
pub mod input;
pub mod keys;
pub mod store;
pub mod tokens;

use std::future::Future;
use std::sync::Arc;

use accounts::{Accounts, Throttle};
use common::subjects::auth;

pub use config::Settings;

pub use error::AuthError;

/// Connects to the store, applies migrations and builds the operations.
pub async fn accounts(settings: &Settings) -> Result<Arc<Accounts>, AuthError> {
    let keys = keys::SigningKeys::from_private_pem(&settings.private_key_pem)?;
    let store = store::connect(&settings.mongodb_uri, &settings.database).await?;
    store::migrate(&store).await?;
    let minter = tokens::Minter::new(keys, settings.access_ttl, settings.refresh_ttl);
    let throttle = Throttle {
        max_failures: settings.login_max_failures,
        lockout: settings.login_lockout,
        window: settings.login_failure_window,
    };
    let cost = settings.bcrypt_cost;
    // Hashing the dummy password once takes a bcrypt round: keep it off the async threads.
    let accounts = tokio::task::spawn_blocking(move || Accounts::new(store, minter, cost, throttle))
        .await
        .expect("building the accounts does not panic");
    Ok(Arc::new(accounts))
}

/// Serves the auth endpoints until `shutdown` resolves, then finishes requests in flight and
/// drains the connection.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), AuthError> {
    if let Some(addr) = settings.metrics_addr {
        common::metrics::serve(addr);
    }
    let accounts = accounts(&settings).await?;
    if let Some(admin) = &settings.admin {
        accounts
            .ensure_admin(&admin.username, &admin.email, &admin.password)
            .await
            .map_err(|e| AuthError::Admin(admin.username.clone(), Box::new(e)))?;
        tracing::info!(username = %admin.username, "admin account ready");
    }
    let client = common::nats::connect(&settings.nats, "auth-worker").await?;
    let service =
        common::service::start_service(&client, auth::SERVICE, auth::QUEUE_GROUP, "Accounts and tokens")
            .await?;
    tracing::info!("auth service ready");
    let subjects = [auth::REGISTER, auth::LOGIN, auth::REFRESH, auth::LOGOUT, auth::ME];
    common::service::serve(
        service,
        &subjects,
        settings.max_in_flight,
        move |subject, caller, body| accounts::handle(accounts.clone(), subject, caller, body),
        shutdown,
    )
    .await?;
    common::service::drain(&client).await;
    tracing::info!("auth worker stopped");
    Ok(())
}

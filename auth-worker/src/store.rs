//! The auth worker's collections — one Rust type per stored document — and their migrations.
//!
//! What queries compare is kept as strings and integers (`state`, `*_ms`), not as booleans or
//! dates updated in place: the same queries then mean the same on MongoDB and on the embedded
//! test server. Dates are BSON dates, written once (`created_at`, and `expires_at` for the TTL
//! index); the API shows them as RFC 3339.

use std::time::Duration;

use common::auth::{Role, User};
use futures::FutureExt;
use mongo_store::migrate::{self, Migration};
use mongo_store::{index, unique_index};
use mongodb::bson::{doc, DateTime};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};

pub const USERS: &str = "users";
pub const REFRESH_TOKENS: &str = "refresh_tokens";
pub const LOGIN_THROTTLE: &str = "login_throttle";

/// A user as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    #[serde(rename = "_id")]
    pub id: String,
    pub username: String,
    /// Lower-cased username; unique index.
    pub username_key: String,
    pub email: String,
    /// Lower-cased e-mail; unique index.
    pub email_key: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: DateTime,
}

impl UserRecord {
    pub fn view(&self) -> User {
        User {
            id: self.id.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
            role: self.role,
            created_at: self.created_at.to_chrono(),
        }
    }
}

/// Where a refresh token is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// May be exchanged once.
    Active,
    /// Exchanged (rotated): presenting it again revokes its family.
    Used,
    /// Logged out, or its family was revoked.
    Revoked,
}

impl TokenState {
    /// As stored and compared in filters.
    pub fn as_bson(self) -> mongodb::bson::Bson {
        mongodb::bson::to_bson(&self).expect("a unit enum serialises")
    }
}

/// A refresh token as stored: only its SHA-256, never the token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshTokenRecord {
    /// Hex SHA-256 of the token.
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub family: String,
    pub state: TokenState,
    pub expires_at_ms: i64,
    /// For the TTL index that removes expired tokens.
    pub expires_at: DateTime,
}

/// Failed logins of one account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThrottleRecord {
    #[serde(rename = "_id")]
    pub id: String,
    pub failures: i64,
    pub last_failure_ms: i64,
    #[serde(default)]
    pub locked_until_ms: i64,
}

#[derive(Clone)]
pub struct Store {
    pub db: Database,
    pub users: Collection<UserRecord>,
    pub refresh_tokens: Collection<RefreshTokenRecord>,
    pub throttle: Collection<ThrottleRecord>,
}

/// Connects lazily: the driver finds the server on first use, and a request made while it is
/// away fails after the short selection timeout (→ 503) instead of hanging.
pub async fn connect(uri: &str, database: &str) -> mongodb::error::Result<Store> {
    let db = mongo_store::connect(uri, database, "auth-worker").await?;
    Ok(Store {
        users: db.collection(USERS),
        refresh_tokens: db.collection(REFRESH_TOKENS),
        throttle: db.collection(LOGIN_THROTTLE),
        db,
    })
}

/// The auth worker's schema history. Append, never edit: applied versions are not re-run.
pub fn migrations() -> Vec<Migration> {
    vec![
        Migration {
            version: 1,
            name: "unique user names and e-mails",
            apply: |db| {
                async move {
                    let users = db.collection::<mongodb::bson::Document>(USERS);
                    users
                        .create_index(unique_index(doc! {"username_key": 1}, "username_key_unique"))
                        .await?;
                    users
                        .create_index(unique_index(doc! {"email_key": 1}, "email_key_unique"))
                        .await?;
                    Ok(())
                }
                .boxed()
            },
        },
        Migration {
            version: 2,
            name: "refresh token families and expiry",
            apply: |db| {
                async move {
                    let tokens = db.collection::<mongodb::bson::Document>(REFRESH_TOKENS);
                    tokens.create_index(index(doc! {"family": 1}, "family")).await?;
                    let ttl = IndexModel::builder()
                        .keys(doc! {"expires_at": 1})
                        .options(
                            IndexOptions::builder()
                                .name("expires_at_ttl".to_owned())
                                .expire_after(Duration::from_secs(0))
                                .build(),
                        )
                        .build();
                    tokens.create_index(ttl).await?;
                    Ok(())
                }
                .boxed()
            },
        },
    ]
}

pub async fn migrate(store: &Store) -> Result<(), migrate::MigrateError> {
    migrate::run(&store.db, "auth", &migrations()).await
}

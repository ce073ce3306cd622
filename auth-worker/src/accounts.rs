//! The five operations of the auth service. Each takes the caller and the raw body, and returns
//! an answer or a problem; nothing here knows about NATS.

use std::sync::Arc;
use std::time::Duration;

use common::auth::Role;
use common::service::{Answer, Caller};
use mongodb::bson::{doc, DateTime};
use mongodb::options::ReturnDocument;
use tokio::sync::Semaphore;

use crate::error::AuthError;
use crate::input::{self, Email, Password, Username};
use crate::store::{RefreshTokenRecord, Store, ThrottleRecord, TokenState, UserRecord};
use crate::tokens::{self, Minter};

/// Login throttling policy.
#[derive(Debug, Clone)]
pub struct Throttle {
    pub max_failures: u32,
    pub lockout: Duration,
    pub window: Duration,
}

/// Everything the operations share.
pub struct Accounts {
    pub store: Store,
    pub minter: Minter,
    pub bcrypt_cost: u32,
    pub throttle: Throttle,
    /// Bounds concurrent bcrypt work to the cores: more would only make every login slower.
    hashing: Semaphore,
    /// A hash verified when the account does not exist, so that a miss costs as much as a hit.
    dummy_hash: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Accounts {
    pub fn new(store: Store, minter: Minter, bcrypt_cost: u32, throttle: Throttle) -> Accounts {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let dummy_hash = bcrypt::hash("not a password of anyone", bcrypt_cost).expect("bcrypt cost is valid");
        Accounts {
            store,
            minter,
            bcrypt_cost,
            throttle,
            hashing: Semaphore::new(cores),
            dummy_hash,
        }
    }

    async fn hash_password(&self, password: String) -> Result<String, AuthError> {
        let _permit = self.hashing.acquire().await.expect("semaphore never closed");
        let cost = self.bcrypt_cost;
        tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await
            .map_err(|e| AuthError::Hashing(e.to_string()))?
            .map_err(|e| AuthError::Hashing(e.to_string()))
    }

    async fn verify_password(&self, password: String, hash: String) -> bool {
        let _permit = self.hashing.acquire().await.expect("semaphore never closed");
        tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    }

    /// `POST /api/auth/register`.
    pub async fn register(&self, body: &[u8]) -> Result<Answer, AuthError> {
        let new = input::registration(body)?;
        let user = self
            .create_user(&new.username, &new.email, &new.password, Role::User)
            .await?;
        metrics::counter!("auth_registrations_total").increment(1);
        Ok(Answer::json(201, &user.view()))
    }

    /// Inserts a user; the unique indexes, not a prior read, decide who gets a name.
    pub async fn create_user(
        &self,
        username: &Username,
        email: &Email,
        password: &Password,
        role: Role,
    ) -> Result<UserRecord, AuthError> {
        let password_hash = self.hash_password(password.as_str().to_owned()).await?;
        let user = UserRecord {
            id: uuid::Uuid::now_v7().to_string(),
            username: username.as_str().to_owned(),
            username_key: username.key(),
            email: email.as_str().to_owned(),
            email_key: email.key(),
            password_hash,
            role,
            created_at: DateTime::now(),
        };
        match self.store.users.insert_one(&user).await {
            Ok(_) => {
                tracing::info!(user_id = %user.id, username = %user.username, "registered");
                Ok(user)
            }
            Err(e) if mongo_store::is_duplicate_key(&e) => Err(self.which_taken(username, email).await),
            Err(e) => Err(e.into()),
        }
    }

    /// After a duplicate-key error, finds which of the unique fields is taken (portable: the
    /// error text differs between servers).
    async fn which_taken(&self, username: &Username, email: &Email) -> AuthError {
        let users = &self.store.users;
        let name = users.find_one(doc! {"username_key": username.key()}).await;
        let mail = users.find_one(doc! {"email_key": email.key()}).await;
        match (name, mail) {
            (Ok(Some(_)), mail) => AuthError::UsernameTaken {
                email_too: matches!(mail, Ok(Some(_))),
            },
            (Ok(None), Ok(_)) => AuthError::EmailTaken,
            (Err(e), _) | (_, Err(e)) => e.into(),
        }
    }

    /// `POST /api/auth/login` with a username or e-mail.
    pub async fn login(&self, body: &[u8]) -> Result<Answer, AuthError> {
        let (login, password) = input::login(body)?;
        let key = login.to_lowercase();
        let field = if key.contains('@') {
            "email_key"
        } else {
            "username_key"
        };
        let user = self.store.users.find_one(doc! {field: &key}).await?;
        // Throttle per account; unknown names are throttled under their own key so the answer
        // does not tell which accounts exist.
        let throttle_key = match &user {
            Some(u) => format!("user:{}", u.id),
            None => format!("name:{key}"),
        };
        let record = self.check_throttle(&throttle_key).await.inspect_err(|e| {
            if matches!(e, AuthError::TooManyAttempts { .. }) {
                metrics::counter!("auth_logins_total", "outcome" => "throttled").increment(1);
            }
        })?;
        let hash = user
            .as_ref()
            .map_or_else(|| self.dummy_hash.clone(), |u| u.password_hash.clone());
        let ok = self.verify_password(password, hash).await;
        let Some(user) = user.filter(|_| ok) else {
            metrics::counter!("auth_logins_total", "outcome" => "failed").increment(1);
            self.record_failure(&throttle_key, record.as_ref()).await?;
            return Err(AuthError::InvalidCredentials);
        };
        if record.is_some() {
            self.store
                .throttle
                .delete_one(doc! {"_id": &throttle_key})
                .await?;
        }
        let family = uuid::Uuid::new_v4().to_string();
        let minted = self.issue(&user.id, user.role, &family).await?;
        metrics::counter!("auth_logins_total", "outcome" => "succeeded").increment(1);
        tracing::info!(user_id = %user.id, "logged in");
        Ok(Answer::json(200, &minted))
    }

    /// Fails with 429 while the account is locked; returns its failure record, if any.
    async fn check_throttle(&self, key: &str) -> Result<Option<ThrottleRecord>, AuthError> {
        let record = self.store.throttle.find_one(doc! {"_id": key}).await?;
        if let Some(r) = &record {
            let now = now_ms();
            if r.locked_until_ms > now {
                let retry_after = ((r.locked_until_ms - now) as u64).div_ceil(1000);
                return Err(AuthError::TooManyAttempts { retry_after });
            }
        }
        Ok(record)
    }

    async fn record_failure(&self, key: &str, previous: Option<&ThrottleRecord>) -> Result<(), AuthError> {
        let now = now_ms();
        let window = self.throttle.window.as_millis() as i64;
        let stale = previous.is_some_and(|p| now - p.last_failure_ms > window);
        let update = if stale {
            doc! {"$set": {"failures": 1_i64, "last_failure_ms": now, "locked_until_ms": 0_i64}}
        } else {
            doc! {"$inc": {"failures": 1_i64}, "$set": {"last_failure_ms": now}}
        };
        let after = self
            .store
            .throttle
            .find_one_and_update(doc! {"_id": key}, update)
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await?;
        let failures = after.map_or(1, |a| a.failures);
        let max = i64::from(self.throttle.max_failures);
        if failures >= max {
            let doublings = (failures - max).min(16) as u32;
            let lock = (self.throttle.lockout.as_millis() as i64)
                .saturating_mul(1 << doublings)
                .min(3_600_000);
            self.store
                .throttle
                .update_one(doc! {"_id": key}, doc! {"$set": {"locked_until_ms": now + lock}})
                .await?;
            tracing::warn!(key, failures, lock_ms = lock, "login throttled");
        }
        Ok(())
    }

    /// Mints a pair in `family` and stores the refresh token's hash.
    async fn issue(
        &self,
        user_id: &str,
        role: Role,
        family: &str,
    ) -> Result<common::auth::TokenPair, AuthError> {
        let minted = self.minter.mint(user_id, role, family);
        let record = RefreshTokenRecord {
            id: minted.refresh_hash,
            user_id: user_id.to_owned(),
            family: family.to_owned(),
            state: TokenState::Active,
            expires_at_ms: minted.refresh_expires_ms,
            expires_at: DateTime::from_millis(minted.refresh_expires_ms),
        };
        self.store.refresh_tokens.insert_one(&record).await?;
        Ok(minted.pair)
    }

    /// `POST /api/auth/refresh`: rotates the token. A token is spent by an atomic
    /// `active → used` transition; presenting a spent one revokes its whole family, since either
    /// its owner or a thief now holds a newer one.
    pub async fn refresh(&self, body: &[u8]) -> Result<Answer, AuthError> {
        let token = input::refresh_token(body)?;
        let claims = self
            .minter
            .verify_refresh(&token)
            .ok_or(AuthError::InvalidRefreshToken)?;
        let hash = tokens::hash(&token);
        let spent = self
            .store
            .refresh_tokens
            .find_one_and_update(
                doc! {"_id": &hash, "state": TokenState::Active.as_bson()},
                doc! {"$set": {"state": TokenState::Used.as_bson(), "used_at_ms": now_ms()}},
            )
            .await?;
        let Some(spent) = spent else {
            let known = self.store.refresh_tokens.find_one(doc! {"_id": &hash}).await?;
            if let Some(known) = known.filter(|k| k.state == TokenState::Used) {
                self.revoke_family(&known.family).await?;
                tracing::warn!(user_id = %known.user_id, family = %known.family, "refresh token reused: family revoked");
                return Err(AuthError::RefreshTokenReused);
            }
            return Err(AuthError::InvalidRefreshToken);
        };
        let user = self
            .store
            .users
            .find_one(doc! {"_id": &spent.user_id})
            .await?
            .ok_or(AuthError::InvalidRefreshToken)?;
        let family = claims.fam.unwrap_or(spent.family);
        let pair = self.issue(&user.id, user.role, &family).await?;
        Ok(Answer::json(200, &pair))
    }

    async fn revoke_family(&self, family: &str) -> Result<(), AuthError> {
        self.store
            .refresh_tokens
            .update_many(
                doc! {"family": family},
                doc! {"$set": {"state": TokenState::Revoked.as_bson()}},
            )
            .await?;
        Ok(())
    }

    /// `POST /api/auth/logout`: revokes the token's family. Always 204 for a well-formed body, so
    /// it tells nothing about the token.
    pub async fn logout(&self, body: &[u8]) -> Result<Answer, AuthError> {
        let token = input::refresh_token(body)?;
        if let Some(claims) = self.minter.verify_refresh(&token) {
            if let Some(family) = claims.fam {
                self.revoke_family(&family).await?;
            }
        }
        Ok(Answer::no_content())
    }

    /// `GET /api/auth/me`.
    pub async fn me(&self, caller: &Caller) -> Result<Answer, AuthError> {
        let user_id = caller.user().ok_or(AuthError::Unauthenticated)?;
        let user = self
            .store
            .users
            .find_one(doc! {"_id": user_id})
            .await?
            .ok_or(AuthError::UnknownUser)?;
        Ok(Answer::json(200, &user.view()))
    }

    /// Creates `username` as an admin, or promotes the existing account.
    pub async fn ensure_admin(&self, username: &str, email: &str, password: &str) -> Result<(), AuthError> {
        if self.promote(username).await? {
            return Ok(());
        }
        let invalid = |var: &str, m: String| AuthError::Body(common::api::BodyError::field(var, m));
        let username = Username::parse(username).map_err(|m| invalid("JUDGE_ADMIN_USER", m))?;
        let email = Email::parse(email).map_err(|m| invalid("JUDGE_ADMIN_EMAIL", m))?;
        let password = Password::parse(password).map_err(|m| invalid("JUDGE_ADMIN_PASSWORD", m))?;
        match self.create_user(&username, &email, &password, Role::Admin).await {
            Ok(_) => Ok(()),
            // Another replica created it at the same moment.
            Err(AuthError::UsernameTaken { .. } | AuthError::EmailTaken) => {
                self.promote(username.as_str()).await.map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Gives an existing account the admin role; false when there is no such account.
    pub async fn promote(&self, username: &str) -> Result<bool, AuthError> {
        let admin = mongodb::bson::to_bson(&Role::Admin).expect("a unit enum serialises");
        let result = self
            .store
            .users
            .update_one(
                doc! {"username_key": username.to_ascii_lowercase()},
                doc! {"$set": {"role": admin}},
            )
            .await?;
        Ok(result.matched_count > 0)
    }
}

/// Routes a request to its operation.
pub async fn handle(
    accounts: Arc<Accounts>,
    subject: String,
    caller: Caller,
    body: bytes::Bytes,
) -> Result<Answer, AuthError> {
    use common::subjects::auth;
    match subject.as_str() {
        auth::REGISTER => accounts.register(&body).await,
        auth::LOGIN => accounts.login(&body).await,
        auth::REFRESH => accounts.refresh(&body).await,
        auth::LOGOUT => accounts.logout(&body).await,
        auth::ME => accounts.me(&caller).await,
        other => Err(AuthError::NoSuchOperation(other.to_owned())),
    }
}

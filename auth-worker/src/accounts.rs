//! The five operations of the auth service. Each takes the caller and the raw body, and returns
//! an answer or a problem; nothing here knows about NATS.

use std::sync::Arc;
use std::time::Duration;

use common::auth::Role;
use common::service::{Answer, Caller, Failure};
use common::Problem;
use mongodb::bson::{doc, DateTime};
use mongodb::options::ReturnDocument;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use crate::input::{self, Email, Fields, Password, Username};
use crate::store::{self, RefreshDoc, Store, ThrottleDoc, UserDoc};
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

fn unauthorized(code: &str, title: &str) -> Failure {
    Problem::new(401, code, title).into()
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

    async fn hash_password(&self, password: String) -> Result<String, Failure> {
        let _permit = self.hashing.acquire().await.expect("semaphore never closed");
        let cost = self.bcrypt_cost;
        tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await
            .map_err(|e| Problem::new(500, "internal", "Hashing failed").with_detail(e.to_string()))?
            .map_err(|e| {
                Problem::new(500, "internal", "Hashing failed")
                    .with_detail(e.to_string())
                    .into()
            })
    }

    async fn verify_password(&self, password: String, hash: String) -> bool {
        let _permit = self.hashing.acquire().await.expect("semaphore never closed");
        tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    }

    /// `POST /api/auth/register`.
    pub async fn register(&self, body: &[u8]) -> Result<Answer, Failure> {
        let map = input::object(body)?;
        let mut f = Fields::default();
        let username = f.string(&map, "username");
        let username = f.parse("username", username, Username::parse);
        let email = f.string(&map, "email");
        let email = f.parse("email", email, Email::parse);
        let password = f.string(&map, "password");
        let password = f.parse("password", password, Password::parse);
        f.finish()?;
        let (Some(username), Some(email), Some(password)) = (username, email, password) else {
            unreachable!("finish() fails when a field is missing");
        };
        let user = self.create_user(&username, &email, &password, Role::User).await?;
        Ok(Answer::json(201, &user.view()))
    }

    /// Inserts a user; the unique indexes, not a prior read, decide who gets a name.
    pub async fn create_user(
        &self,
        username: &Username,
        email: &Email,
        password: &Password,
        role: Role,
    ) -> Result<UserDoc, Failure> {
        let password_hash = self.hash_password(password.as_str().to_owned()).await?;
        let user = UserDoc {
            id: uuid::Uuid::now_v7().to_string(),
            username: username.as_str().to_owned(),
            username_key: username.key(),
            email: email.as_str().to_owned(),
            email_key: email.key(),
            password_hash,
            role: role.as_str().to_owned(),
            created_at: DateTime::now(),
        };
        match self.store.users.insert_one(&user).await {
            Ok(_) => {
                tracing::info!(user_id = %user.id, username = %user.username, "registered");
                Ok(user)
            }
            Err(e) if mongo_store::is_duplicate_key(&e) => Err(self.which_taken(username, email).await),
            Err(e) => Err(store::unavailable(e).into()),
        }
    }

    /// After a duplicate-key error, finds which of the unique fields is taken (portable: the
    /// error text differs between servers).
    async fn which_taken(&self, username: &Username, email: &Email) -> Failure {
        let users = &self.store.users;
        let name = users.find_one(doc! {"username_key": username.key()}).await;
        let mail = users.find_one(doc! {"email_key": email.key()}).await;
        let (name, mail) = match (name, mail) {
            (Ok(n), Ok(m)) => (n.is_some(), m.is_some()),
            (Err(e), _) | (_, Err(e)) => return store::unavailable(e).into(),
        };
        let mut problem = match (name, mail) {
            (true, false) | (true, true) => Problem::new(409, "username_taken", "The username is taken"),
            _ => Problem::new(409, "email_taken", "The e-mail address is already registered"),
        };
        if name {
            problem
                .errors
                .push(common::FieldError::new("username", "is taken"));
        }
        if mail {
            problem
                .errors
                .push(common::FieldError::new("email", "is already registered"));
        }
        problem.into()
    }

    /// `POST /api/auth/login` with a username or e-mail.
    pub async fn login(&self, body: &[u8]) -> Result<Answer, Failure> {
        let map = input::object(body)?;
        let mut f = Fields::default();
        let login = f.string(&map, "username");
        let login = f.parse("username", login, input::bounded);
        let password = f.string(&map, "password");
        let password = f.parse("password", password, |p| {
            if p.len() > input::PASSWORD_MAX_BYTES {
                Err(format!("must be at most {} bytes", input::PASSWORD_MAX_BYTES))
            } else {
                Ok(p.to_owned())
            }
        });
        f.finish()?;
        let (Some(login), Some(password)) = (login, password) else {
            unreachable!("finish() fails when a field is missing");
        };
        let key = login.to_lowercase();
        let field = if key.contains('@') {
            "email_key"
        } else {
            "username_key"
        };
        let user = self
            .store
            .users
            .find_one(doc! {field: &key})
            .await
            .map_err(store::unavailable)?;
        // Throttle per account; unknown names are throttled under their own key so the answer
        // does not tell which accounts exist.
        let throttle_key = match &user {
            Some(u) => format!("user:{}", u.id),
            None => format!("name:{key}"),
        };
        let record = self.check_throttle(&throttle_key).await?;
        let hash = user
            .as_ref()
            .map_or_else(|| self.dummy_hash.clone(), |u| u.password_hash.clone());
        let ok = self.verify_password(password, hash).await;
        let Some(user) = user.filter(|_| ok) else {
            self.record_failure(&throttle_key, record.as_ref()).await?;
            return Err(unauthorized("invalid_credentials", "Wrong username or password"));
        };
        if record.is_some() {
            self.store
                .throttle
                .delete_one(doc! {"_id": &throttle_key})
                .await
                .map_err(store::unavailable)?;
        }
        let family = uuid::Uuid::new_v4().to_string();
        let minted = self.issue(&user.id, user.role(), &family).await?;
        tracing::info!(user_id = %user.id, "logged in");
        Ok(Answer::json(200, &minted))
    }

    /// Fails with 429 while the account is locked; returns its failure record, if any.
    async fn check_throttle(&self, key: &str) -> Result<Option<ThrottleDoc>, Failure> {
        let record = self
            .store
            .throttle
            .find_one(doc! {"_id": key})
            .await
            .map_err(store::unavailable)?;
        if let Some(r) = &record {
            let now = now_ms();
            if r.locked_until_ms > now {
                let secs = ((r.locked_until_ms - now) as u64).div_ceil(1000);
                return Err(Failure::retry_after(
                    Problem::new(429, "too_many_attempts", "Too many failed logins")
                        .with_detail(format!("try again in {secs} s")),
                    secs,
                ));
            }
        }
        Ok(record)
    }

    async fn record_failure(&self, key: &str, previous: Option<&ThrottleDoc>) -> Result<(), Failure> {
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
            .await
            .map_err(store::unavailable)?;
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
                .await
                .map_err(store::unavailable)?;
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
    ) -> Result<common::auth::TokenPair, Failure> {
        let minted = self.minter.mint(user_id, role, family);
        let record = RefreshDoc {
            id: minted.refresh_hash,
            user_id: user_id.to_owned(),
            family: family.to_owned(),
            state: "active".to_owned(),
            expires_at_ms: minted.refresh_expires_ms,
            expires_at: DateTime::from_millis(minted.refresh_expires_ms),
        };
        self.store
            .refresh_tokens
            .insert_one(&record)
            .await
            .map_err(store::unavailable)?;
        Ok(minted.pair)
    }

    fn refresh_field(map: &Map<String, Value>) -> Result<String, Failure> {
        let mut f = Fields::default();
        let token = f.string(map, "refresh_token");
        let token = f.parse("refresh_token", token, input::bounded);
        f.finish()?;
        Ok(token.expect("finish() fails when the field is missing"))
    }

    /// `POST /api/auth/refresh`: rotates the token. A token is spent by an atomic
    /// `active → used` transition; presenting a spent one revokes its whole family, since either
    /// its owner or a thief now holds a newer one.
    pub async fn refresh(&self, body: &[u8]) -> Result<Answer, Failure> {
        let token = Self::refresh_field(&input::object(body)?)?;
        let invalid = || unauthorized("invalid_refresh_token", "The refresh token is invalid or expired");
        let claims = self.minter.verify_refresh(&token).ok_or_else(invalid)?;
        let hash = tokens::hash(&token);
        let spent = self
            .store
            .refresh_tokens
            .find_one_and_update(
                doc! {"_id": &hash, "state": "active"},
                doc! {"$set": {"state": "used", "used_at_ms": now_ms()}},
            )
            .await
            .map_err(store::unavailable)?;
        let Some(spent) = spent else {
            let known = self
                .store
                .refresh_tokens
                .find_one(doc! {"_id": &hash})
                .await
                .map_err(store::unavailable)?;
            if let Some(known) = known.filter(|k| k.state == "used") {
                self.revoke_family(&known.family).await?;
                tracing::warn!(user_id = %known.user_id, family = %known.family, "refresh token reused: family revoked");
                return Err(unauthorized(
                    "refresh_token_reused",
                    "The refresh token was already used; its session is revoked",
                ));
            }
            return Err(invalid());
        };
        let user = self
            .store
            .users
            .find_one(doc! {"_id": &spent.user_id})
            .await
            .map_err(store::unavailable)?
            .ok_or_else(invalid)?;
        let family = claims.fam.unwrap_or(spent.family);
        let pair = self.issue(&user.id, user.role(), &family).await?;
        Ok(Answer::json(200, &pair))
    }

    async fn revoke_family(&self, family: &str) -> Result<(), Failure> {
        self.store
            .refresh_tokens
            .update_many(doc! {"family": family}, doc! {"$set": {"state": "revoked"}})
            .await
            .map_err(store::unavailable)?;
        Ok(())
    }

    /// `POST /api/auth/logout`: revokes the token's family. Always 204 for a well-formed body, so
    /// it tells nothing about the token.
    pub async fn logout(&self, body: &[u8]) -> Result<Answer, Failure> {
        let token = Self::refresh_field(&input::object(body)?)?;
        if let Some(claims) = self.minter.verify_refresh(&token) {
            if let Some(family) = claims.fam {
                self.revoke_family(&family).await?;
            }
        }
        Ok(Answer::no_content())
    }

    /// `GET /api/auth/me`.
    pub async fn me(&self, caller: &Caller) -> Result<Answer, Failure> {
        let user_id = caller.require_user()?;
        let user = self
            .store
            .users
            .find_one(doc! {"_id": user_id})
            .await
            .map_err(store::unavailable)?
            .ok_or_else(|| unauthorized("unknown_user", "The account no longer exists"))?;
        Ok(Answer::json(200, &user.view()))
    }

    /// Creates `username` as an admin, or promotes the existing account.
    pub async fn ensure_admin(&self, username: &str, email: &str, password: &str) -> Result<(), Failure> {
        if self.promote(username).await? {
            return Ok(());
        }
        let username = Username::parse(username).map_err(|m| Problem::field("JUDGE_ADMIN_USER", m))?;
        let email = Email::parse(email).map_err(|m| Problem::field("JUDGE_ADMIN_EMAIL", m))?;
        let password = Password::parse(password).map_err(|m| Problem::field("JUDGE_ADMIN_PASSWORD", m))?;
        match self.create_user(&username, &email, &password, Role::Admin).await {
            Ok(_) => Ok(()),
            // Another replica created it at the same moment.
            Err(f) if f.problem.status == 409 => self.promote(username.as_str()).await.map(|_| ()),
            Err(f) => Err(f),
        }
    }

    /// Gives an existing account the admin role; false when there is no such account.
    pub async fn promote(&self, username: &str) -> Result<bool, Failure> {
        let result = self
            .store
            .users
            .update_one(
                doc! {"username_key": username.to_ascii_lowercase()},
                doc! {"$set": {"role": Role::Admin.as_str()}},
            )
            .await
            .map_err(store::unavailable)?;
        Ok(result.matched_count > 0)
    }
}

/// Routes a request to its operation.
pub async fn handle(
    accounts: Arc<Accounts>,
    subject: String,
    caller: Caller,
    body: bytes::Bytes,
) -> Result<Answer, Failure> {
    use common::subjects::auth;
    match subject.as_str() {
        auth::REGISTER => accounts.register(&body).await,
        auth::LOGIN => accounts.login(&body).await,
        auth::REFRESH => accounts.refresh(&body).await,
        auth::LOGOUT => accounts.logout(&body).await,
        auth::ME => accounts.me(&caller).await,
        other => Err(Problem::new(404, "not_found", "No such operation")
            .with_detail(other.to_owned())
            .into()),
    }
}

//! Versioned schema migrations for the services that own MongoDB collections.
//!
//! Each applied migration is recorded in the `schema_migrations` history collection under
//! `<service>:<version>`. Replicas that start together take turns through a lease document in
//! `schema_locks` (a unique `_id` makes the insert the lock), so each migration runs once; a lease
//! left behind by a crashed replica expires and is taken over. Migrations are written to be
//! idempotent as well (creating an index that exists is a no-op), so a crash between applying a
//! migration and recording it is harmless.

use std::time::Duration;

use futures::future::BoxFuture;
use mongodb::bson::{doc, Document};
use mongodb::Database;

pub const HISTORY: &str = "schema_migrations";
pub const LOCKS: &str = "schema_locks";
const LEASE: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(120);

/// One schema change.
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub apply: fn(Database) -> BoxFuture<'static, mongodb::error::Result<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("store: {0}")]
    Store(#[from] mongodb::error::Error),
    #[error("timed out waiting for another replica's migration lease on {0}")]
    LockTimeout(String),
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        version: u32,
        name: &'static str,
        source: mongodb::error::Error,
    },
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Applies every migration of `service` not yet in the history, in version order.
pub async fn run(db: &Database, service: &str, migrations: &[Migration]) -> Result<(), MigrateError> {
    let owner = uuid::Uuid::new_v4().to_string();
    acquire(db, service, &owner).await?;
    let result = apply_pending(db, service, migrations).await;
    let locks = db.collection::<Document>(LOCKS);
    if let Err(e) = locks.delete_one(doc! {"_id": service, "owner": &owner}).await {
        tracing::warn!(error = %e, "releasing the migration lease");
    }
    result
}

async fn acquire(db: &Database, service: &str, owner: &str) -> Result<(), MigrateError> {
    let locks = db.collection::<Document>(LOCKS);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let expires = now_ms() + LEASE.as_millis() as i64;
        match locks
            .insert_one(doc! {"_id": service, "owner": owner, "expires_at_ms": expires})
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if crate::is_duplicate_key(&e) => {}
            Err(e) => return Err(e.into()),
        }
        // Held by someone: take it over only if its lease ran out.
        let taken = locks
            .find_one_and_update(
                doc! {"_id": service, "expires_at_ms": {"$lt": now_ms()}},
                doc! {"$set": {"owner": owner, "expires_at_ms": expires}},
            )
            .await?;
        if taken.is_some() {
            tracing::warn!(service, "took over an expired migration lease");
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(MigrateError::LockTimeout(service.to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn apply_pending(db: &Database, service: &str, migrations: &[Migration]) -> Result<(), MigrateError> {
    let history = db.collection::<Document>(HISTORY);
    let mut ordered: Vec<&Migration> = migrations.iter().collect();
    ordered.sort_by_key(|m| m.version);
    for m in ordered {
        let id = format!("{service}:{:04}", m.version);
        if history.find_one(doc! {"_id": &id}).await?.is_some() {
            continue;
        }
        tracing::info!(service, version = m.version, name = m.name, "applying migration");
        (m.apply)(db.clone())
            .await
            .map_err(|source| MigrateError::Failed {
                version: m.version,
                name: m.name,
                source,
            })?;
        let record = doc! {
            "_id": &id, "service": service, "version": m.version as i64, "name": m.name,
            "applied_at": mongodb::bson::DateTime::now(),
        };
        match history.insert_one(record).await {
            Ok(_) => {}
            Err(e) if crate::is_duplicate_key(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

//! The submission worker's collections and migrations. As in the auth worker, what queries compare
//! is kept as strings and integers (`status`, `*_ms`) so they mean the same on MongoDB and on the
//! embedded test server.

use common::Problem;
use futures::FutureExt;
use mongo_store::migrate::{self, Migration};
use mongo_store::{index, unique_index};
use mongodb::bson::{doc, Bson, Document};
use mongodb::{Collection, Database};

pub const PROBLEMS: &str = "problems";
pub const SUBMISSIONS: &str = "submissions";
pub const COMMENTS: &str = "comments";

#[derive(Clone)]
pub struct Store {
    pub db: Database,
    pub problems: Collection<Document>,
    pub submissions: Collection<Document>,
    pub comments: Collection<Document>,
}

pub async fn connect(uri: &str, database: &str) -> mongodb::error::Result<Store> {
    let db = mongo_store::connect(uri, database, "submission-worker").await?;
    Ok(Store {
        problems: db.collection(PROBLEMS),
        submissions: db.collection(SUBMISSIONS),
        comments: db.collection(COMMENTS),
        db,
    })
}

pub fn migrations() -> Vec<Migration> {
    vec![
        Migration {
            version: 1,
            name: "submissions by user and time",
            apply: |db| {
                async move {
                    db.collection::<Document>(SUBMISSIONS)
                        .create_index(index(doc! {"user_id": 1, "created_ms": -1}, "user_time"))
                        .await?;
                    Ok(())
                }
                .boxed()
            },
        },
        Migration {
            version: 2,
            name: "idempotency keys and id-ordered listing",
            apply: |db| {
                async move {
                    let submissions = db.collection::<Document>(SUBMISSIONS);
                    submissions
                        .create_index(unique_index(doc! {"idem": 1}, "idem_unique"))
                        .await?;
                    // `order` repeats the (time-ordered) id: an index that pairs `_id` with another
                    // key is not portable to every MongoDB-wire server.
                    submissions
                        .create_index(index(doc! {"user_id": 1, "order": -1}, "user_order"))
                        .await?;
                    submissions
                        .create_index(index(doc! {"outbox": 1, "created_ms": 1}, "outbox"))
                        .await?;
                    Ok(())
                }
                .boxed()
            },
        },
        Migration {
            version: 3,
            name: "comments by problem and time",
            apply: |db| {
                async move {
                    db.collection::<Document>(COMMENTS)
                        .create_index(index(doc! {"problem_id": 1, "order": 1}, "problem_order"))
                        .await?;
                    Ok(())
                }
                .boxed()
            },
        },
    ]
}

pub async fn migrate(store: &Store) -> Result<(), migrate::MigrateError> {
    migrate::run(&store.db, "submission", &migrations()).await
}

pub fn unavailable(e: mongodb::error::Error) -> Problem {
    tracing::error!(error = %e, "store unavailable");
    Problem::new(503, "store_unavailable", "The submission store is unavailable")
        .with_detail("try again shortly")
}

/// An integer field as written (`i64`), or as some MongoDB-wire servers return small ones (`i32`).
pub fn int(d: &Document, key: &str) -> Option<i64> {
    match d.get(key)? {
        Bson::Int64(n) => Some(*n),
        Bson::Int32(n) => Some(i64::from(*n)),
        _ => None,
    }
}

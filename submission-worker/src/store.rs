//! The submission worker's collections and migrations. As in the auth worker, what queries compare
//! is kept as strings and integers (`status`, `*_ms`) so they mean the same on MongoDB and on the
//! embedded test server.

use std::time::Duration;

use common::migrate::{self, Migration};
use common::Problem;
use futures::FutureExt;
use mongodb::bson::{doc, Document};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Collection, Database, IndexModel};

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
    let mut options = ClientOptions::parse(uri).await?;
    options.app_name = Some("submission-worker".to_owned());
    options
        .server_selection_timeout
        .get_or_insert(Duration::from_secs(2));
    options.connect_timeout.get_or_insert(Duration::from_secs(2));
    let db = mongodb::Client::with_options(options)?.database(database);
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
                    let index = IndexModel::builder()
                        .keys(doc! {"user_id": 1, "created_ms": -1})
                        .options(IndexOptions::builder().name("user_time".to_owned()).build())
                        .build();
                    db.collection::<Document>(SUBMISSIONS).create_index(index).await?;
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
                    let idem = IndexModel::builder()
                        .keys(doc! {"idem": 1})
                        .options(
                            IndexOptions::builder()
                                .unique(true)
                                .name("idem_unique".to_owned())
                                .build(),
                        )
                        .build();
                    submissions.create_index(idem).await?;
                    // `order` repeats the (time-ordered) id: an index that pairs `_id` with another
                    // key is not portable to every MongoDB-wire server.
                    let by_order = IndexModel::builder()
                        .keys(doc! {"user_id": 1, "order": -1})
                        .options(IndexOptions::builder().name("user_order".to_owned()).build())
                        .build();
                    submissions.create_index(by_order).await?;
                    let outbox = IndexModel::builder()
                        .keys(doc! {"outbox": 1, "created_ms": 1})
                        .options(IndexOptions::builder().name("outbox".to_owned()).build())
                        .build();
                    submissions.create_index(outbox).await?;
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
                    let index = IndexModel::builder()
                        .keys(doc! {"problem_id": 1, "order": 1})
                        .options(IndexOptions::builder().name("problem_order".to_owned()).build())
                        .build();
                    db.collection::<Document>(COMMENTS).create_index(index).await?;
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

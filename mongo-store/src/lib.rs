//! MongoDB plumbing shared by the services that own collections (the auth and submission
//! workers): connect with short timeouts (so a missing store is a quick 503, not a hang), declare
//! indexes, apply versioned migrations ([`migrate`]) and recognise a duplicate key.
//!
//! Only the database-owning workers depend on this crate. The judge and the edge must not: no
//! database driver is linked into a binary that runs untrusted code or faces the internet
//! (`make test` checks the dependency tree). Collections themselves — their documents, indexes
//! and queries — belong to the service that owns them, never here.

pub mod migrate;

use std::time::Duration;

use mongodb::bson::Document;
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Database, IndexModel};

/// The database `database` at `uri`, named `app_name` in the server's logs. Server selection
/// and connecting give up after 2 s unless the URI says otherwise.
pub async fn connect(uri: &str, database: &str, app_name: &str) -> mongodb::error::Result<Database> {
    let mut options = ClientOptions::parse(uri).await?;
    options.app_name = Some(app_name.to_owned());
    options
        .server_selection_timeout
        .get_or_insert(Duration::from_secs(2));
    options.connect_timeout.get_or_insert(Duration::from_secs(2));
    Ok(mongodb::Client::with_options(options)?.database(database))
}

/// An index named `name` on `keys`.
pub fn index(keys: Document, name: &str) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(IndexOptions::builder().name(name.to_owned()).build())
        .build()
}

/// A unique index named `name` on `keys`.
pub fn unique_index(keys: Document, name: &str) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(IndexOptions::builder().unique(true).name(name.to_owned()).build())
        .build()
}

/// MongoDB's error code for a write refused by a unique index.
pub const DUPLICATE_KEY: i32 = 11000;

/// True when a write failed only because a unique key exists (for `insert_many`: every failed
/// document failed for that reason).
pub fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(f) => f
            .write_errors
            .as_ref()
            .is_some_and(|errs| errs.iter().all(|w| w.code == DUPLICATE_KEY)),
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        _ => false,
    }
}

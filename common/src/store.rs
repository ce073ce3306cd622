//! What both database-owning services do the same way with MongoDB: connect with short
//! timeouts (so a missing store is a quick 503, not a hang) and declare indexes.

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

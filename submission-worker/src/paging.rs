//! Cursor paging shared by the lists: a page is `limit` documents in `order` (the time-ordered
//! id, indexed with the list's key), and the cursor of the next page is the last item's id.
//! No `skip`, no count: every page is one indexed find with a limit (see `common::api::page`).

use common::api::Page;
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::Collection;
use serde::de::DeserializeOwned;

use crate::error::SubmissionError;

/// How to read one page.
pub struct PageRead {
    pub filter: Document,
    /// The last id of the previous page, if any.
    pub cursor: Option<String>,
    /// Newest first pages backwards through `order`.
    pub newest_first: bool,
    pub limit: i64,
    /// Fields to leave out.
    pub projection: Option<Document>,
}

/// One page of `collection`, each record shown with `view`; `id` names a record for the cursor.
pub async fn page<R, V>(
    collection: &Collection<R>,
    read: PageRead,
    view: impl Fn(&R) -> V,
    id: impl Fn(&R) -> String,
) -> Result<Page<V>, SubmissionError>
where
    R: DeserializeOwned + Send + Sync,
{
    let PageRead {
        mut filter,
        cursor,
        newest_first,
        limit,
        projection,
    } = read;
    if let Some(c) = cursor {
        filter.insert("order", doc! {if newest_first { "$lt" } else { "$gt" }: c});
    }
    let mut find = collection
        .find(filter)
        .sort(doc! {"order": if newest_first { -1 } else { 1 }})
        .limit(limit + 1);
    if let Some(p) = projection {
        find = find.projection(p);
    }
    let records: Vec<R> = find.await?.try_collect().await?;
    let page = Page::from_fetched(records, limit as usize, id);
    Ok(Page {
        items: page.items.iter().map(view).collect(),
        next_cursor: page.next_cursor,
    })
}

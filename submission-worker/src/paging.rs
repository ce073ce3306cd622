//! Cursor paging shared by the lists: a page is `limit` documents in `order` (the time-ordered
//! id, indexed with the list's key), and the cursor of the next page is the last item's id.
//! No `skip`, no count: every page is one indexed find with a limit.

use common::problem::Fields;
use common::service::{Answer, Failure};
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::Collection;
use serde_json::{json, Value};

/// Reads `limit` (1–100, else `default`) and `cursor` from a list's query, recording errors.
pub fn parse(
    query: &std::collections::HashMap<String, String>,
    default: i64,
    f: &mut Fields,
) -> (i64, Option<String>) {
    let limit = match query.get("limit").map(|l| l.parse::<i64>()) {
        None => default,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            f.error("limit", "must be a whole number from 1 to 100");
            default
        }
    };
    let cursor = match query.get("cursor").map(|c| uuid::Uuid::parse_str(c)) {
        None => None,
        Some(Ok(c)) => Some(c.to_string()),
        Some(Err(_)) => {
            f.error("cursor", "is not a cursor this API gave out");
            None
        }
    };
    (limit, cursor)
}

/// One page: `{items, next_cursor}`. `newest_first` pages backwards through `order`.
pub async fn page(
    collection: &Collection<Document>,
    mut filter: Document,
    cursor: Option<String>,
    newest_first: bool,
    limit: i64,
    projection: Option<Document>,
    view: fn(&Document) -> Value,
) -> Result<Answer, Failure> {
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
    let docs: Vec<Document> = find
        .await
        .map_err(crate::store::unavailable)?
        .try_collect()
        .await
        .map_err(crate::store::unavailable)?;
    let more = docs.len() as i64 > limit;
    let items: Vec<Value> = docs.iter().take(limit as usize).map(view).collect();
    let next_cursor = if more {
        items.last().map(|i| i["id"].clone())
    } else {
        None
    };
    Ok(Answer::json(
        200,
        &json!({"items": items, "next_cursor": next_cursor}),
    ))
}

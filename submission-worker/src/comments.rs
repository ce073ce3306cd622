//! Comments on problems: anyone reads (oldest first, cursor paging over the `(problem_id,
//! order)` index), signed-in users write 1–4000 characters, the author or an admin deletes.

use common::service::{Answer, Caller, Failure};
use common::Problem;
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};

use crate::Service;
use crate::{paging, store};

pub const MAX_CHARS: usize = 4000;

fn view(d: &Document) -> Value {
    json!({
        "id": d.get_str("_id").unwrap_or_default(),
        "problem_id": d.get_str("problem_id").unwrap_or_default(),
        "user_id": d.get_str("user_id").unwrap_or_default(),
        "body": d.get_str("body").unwrap_or_default(),
        "created_at": d.get_datetime("created_at").ok().and_then(|t| t.try_to_rfc3339_string().ok()),
    })
}

async fn problem_exists(svc: &Service, id: &str) -> Result<(), Failure> {
    let found = svc
        .store
        .problems
        .find_one(doc! {"_id": id})
        .projection(doc! {"_id": 1})
        .await
        .map_err(store::unavailable)?;
    found
        .map(|_| ())
        .ok_or_else(|| Problem::new(404, "not_found", "No such problem").into())
}

/// `GET /api/problems/{id}/comments?limit=&cursor=`.
pub async fn list(svc: &Service, problem_id: &str, body: &[u8]) -> Result<Answer, Failure> {
    let query: std::collections::HashMap<String, String> = serde_json::from_slice(body).unwrap_or_default();
    let mut f = common::problem::Fields::default();
    let (limit, cursor) = paging::parse(&query, 50, &mut f);
    f.finish()?;
    problem_exists(svc, problem_id).await?;
    let filter = doc! {"problem_id": problem_id};
    paging::page(&svc.store.comments, filter, cursor, false, limit, None, view).await
}

/// `POST /api/problems/{id}/comments` `{body}`.
pub async fn create(
    svc: &Service,
    caller: &Caller,
    problem_id: &str,
    body: &[u8],
) -> Result<Answer, Failure> {
    let user_id = caller.require_user()?;
    let map = common::problem::json_object(body)?;
    let text = match map.get("body") {
        Some(Value::String(s)) => s.trim(),
        Some(Value::Null) | None => return Err(Problem::field("body", "is required").into()),
        Some(_) => return Err(Problem::field("body", "must be a string").into()),
    };
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_CHARS {
        return Err(Problem::field("body", format!("must be 1 to {MAX_CHARS} characters")).into());
    }
    problem_exists(svc, problem_id).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let record = doc! {
        "_id": &id, "order": &id, "problem_id": problem_id, "user_id": user_id, "body": text,
        "created_at": mongodb::bson::DateTime::now(),
    };
    svc.store
        .comments
        .insert_one(&record)
        .await
        .map_err(store::unavailable)?;
    let mut answer = Answer::json(201, &view(&record));
    answer.location = Some(format!("/api/problems/{problem_id}/comments"));
    Ok(answer)
}

/// `DELETE /api/comments/{id}`: the author or an admin; 403 for other users.
pub async fn delete(svc: &Service, caller: &Caller, id: &str) -> Result<Answer, Failure> {
    let user_id = caller.require_user()?;
    let found = svc
        .store
        .comments
        .find_one(doc! {"_id": id})
        .await
        .map_err(store::unavailable)?
        .ok_or_else(|| Problem::new(404, "not_found", "No such comment"))?;
    if found.get_str("user_id").ok() != Some(user_id) && !caller.is_admin() {
        return Err(Problem::new(
            403,
            "forbidden",
            "Only the author or an admin may delete a comment",
        )
        .into());
    }
    svc.store
        .comments
        .delete_one(doc! {"_id": id})
        .await
        .map_err(store::unavailable)?;
    Ok(Answer::no_content())
}

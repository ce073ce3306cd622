//! Comments on problems: anyone reads (oldest first, cursor paging over the `(problem_id,
//! order)` index), signed-in users write 1–4000 characters, the author or an admin deletes.

use common::api::{body, NewComment, PageQuery};
use common::service::{Answer, Caller};
use mongodb::bson::doc;

use crate::error::SubmissionError;
use crate::paging::{self, PageRead};
use crate::store::CommentRecord;
use crate::Service;

pub const MAX_CHARS: usize = 4000;

async fn problem_exists(svc: &Service, id: &str) -> Result<(), SubmissionError> {
    let found = svc
        .store
        .problems
        .clone_with_type::<mongodb::bson::Document>()
        .find_one(doc! {"_id": id})
        .projection(doc! {"_id": 1})
        .await?;
    found.map(|_| ()).ok_or(SubmissionError::NotFound("problem"))
}

/// `GET /api/problems/{id}/comments?limit=&cursor=`.
pub async fn list(svc: &Service, problem_id: &str, query: &[u8]) -> Result<Answer, SubmissionError> {
    let query: PageQuery = crate::query(query)?;
    let mut f = body::Fields::default();
    let (limit, cursor) = query.read(50, &mut f);
    f.finish()?;
    problem_exists(svc, problem_id).await?;
    let read = PageRead {
        filter: doc! {"problem_id": problem_id},
        cursor,
        newest_first: false,
        limit,
        projection: None,
    };
    let page = paging::page(&svc.store.comments, read, CommentRecord::view, |c| c.id.clone()).await?;
    Ok(Answer::json(200, &page))
}

/// The text of a new comment: trimmed, 1 to [`MAX_CHARS`] characters.
fn comment_text(bytes: &[u8]) -> Result<String, SubmissionError> {
    let (b, mut f) = body::parse::<NewComment>(bytes)?;
    let text = f.required("body", b.body, |s| {
        let text = s.trim();
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_CHARS {
            Err(format!("must be 1 to {MAX_CHARS} characters"))
        } else {
            Ok(text.to_owned())
        }
    });
    f.finish()?;
    Ok(text.expect("finish() fails when the field is missing"))
}

/// `POST /api/problems/{id}/comments` `{body}`.
pub async fn create(
    svc: &Service,
    caller: &Caller,
    problem_id: &str,
    body: &[u8],
) -> Result<Answer, SubmissionError> {
    let user_id = caller.user().ok_or(SubmissionError::Unauthenticated)?;
    let text = comment_text(body)?;
    problem_exists(svc, problem_id).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let record = CommentRecord {
        id: id.clone(),
        order: id,
        problem_id: problem_id.to_owned(),
        user_id: user_id.to_owned(),
        body: text,
        // Whole milliseconds, as the store keeps them: the answer equals what a read returns.
        created_at: crate::now(),
    };
    svc.store.comments.insert_one(&record).await?;
    let mut answer = Answer::json(201, &record.view());
    answer.location = Some(format!("/api/problems/{problem_id}/comments"));
    Ok(answer)
}

/// `DELETE /api/comments/{id}`: the author or an admin; 403 for other users.
pub async fn delete(svc: &Service, caller: &Caller, id: &str) -> Result<Answer, SubmissionError> {
    let user_id = caller.user().ok_or(SubmissionError::Unauthenticated)?;
    let found = svc
        .store
        .comments
        .find_one(doc! {"_id": id})
        .await?
        .ok_or(SubmissionError::NotFound("comment"))?;
    if found.user_id != user_id && !caller.is_admin() {
        return Err(SubmissionError::Forbidden(
            "Only the author or an admin may delete a comment",
        ));
    }
    svc.store.comments.delete_one(doc! {"_id": id}).await?;
    Ok(Answer::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_bodies() {
        assert_eq!(comment_text(br#"{"body": "  hi  "}"#).unwrap(), "hi");
        for bad in [
            &br#"{"body": "   "}"#[..],
            br#"{}"#,
            br#"{"body": 3}"#,
            br#"{"body": "x", "by": 1}"#,
        ] {
            assert!(comment_text(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let long = format!(r#"{{"body": "{}"}}"#, "é".repeat(MAX_CHARS + 1));
        assert!(comment_text(long.as_bytes()).is_err());
    }
}

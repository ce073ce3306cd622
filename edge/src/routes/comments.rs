//! Comments on problems: forwarded to the submission service.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use common::api::{Comment, NewComment, Page, PageQuery};
use common::subjects::submission;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::bridge::RequestId;
use crate::error::ApiError;
use crate::openapi::Errors;
use crate::token::AuthUser;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(remove))
}

/// A problem's comments, oldest first, paged by cursor; anyone may read.
#[utoipa::path(get, path = "/api/problems/{id}/comments", tag = "comments",
    params(("id" = String, Path, description = "The problem", example = "aplusb"), PageQuery),
    responses((status = 200, description = "One page of comments", body = Page<Comment>), Errors))]
async fn list(
    State(s): State<AppState>,
    id: RequestId,
    Path(problem): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(&query).expect("a map of strings serialises");
    s.bridge
        .call_about(submission::COMMENTS_LIST, None, &id, Some(&problem), body.into())
        .await
}

/// Comments on a problem (1 to 4000 characters).
#[utoipa::path(post, path = "/api/problems/{id}/comments", tag = "comments", security(("bearer" = [])),
    params(("id" = String, Path, description = "The problem", example = "aplusb")),
    request_body = NewComment,
    responses((status = 201, description = "The comment", body = Comment), Errors))]
async fn create(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path(problem): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    s.bridge
        .call_about(
            submission::COMMENTS_CREATE,
            Some(&user),
            &id,
            Some(&problem),
            body,
        )
        .await
}

/// Deletes a comment: its author or an admin.
#[utoipa::path(delete, path = "/api/comments/{id}", tag = "comments", security(("bearer" = [])),
    params(("id" = String, Path, description = "The comment")),
    responses((status = 204, description = "Deleted"), Errors))]
async fn remove(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path(comment): Path<String>,
) -> Result<Response, ApiError> {
    s.bridge
        .call_about(
            submission::COMMENTS_DELETE,
            Some(&user),
            &id,
            Some(&comment),
            Bytes::new(),
        )
        .await
}

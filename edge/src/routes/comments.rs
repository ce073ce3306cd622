//! Comments on problems: forwarded to the submission service.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{delete, get};
use axum::Router;
use bytes::Bytes;
use common::subjects::submission;

use crate::bridge::RequestId;
use crate::error::ApiError;
use crate::token::AuthUser;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/problems/{id}/comments", get(list).post(create))
        .route("/api/comments/{id}", delete(remove))
}

/// Anyone may read; the query (`limit`, `cursor`) goes on as a JSON object.
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

//! `/api/submissions`: forwarded to the submission service.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use common::subjects::submission;

use crate::bridge::RequestId;
use crate::error::ApiError;
use crate::token::AuthUser;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/submissions", post(create))
        .route("/api/submissions/{id}", get(one))
}

async fn create(
    State(s): State<AppState>,
    Extension(id): Extension<RequestId>,
    user: AuthUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    s.bridge
        .call(submission::SUBMISSIONS_CREATE, Some(&user), &id, body)
        .await
}

async fn one(
    State(s): State<AppState>,
    Extension(id): Extension<RequestId>,
    user: AuthUser,
    Path(submission_id): Path<String>,
) -> Result<Response, ApiError> {
    s.bridge
        .call_about(
            submission::SUBMISSIONS_GET,
            Some(&user),
            &id,
            Some(&submission_id),
            Bytes::new(),
        )
        .await
}

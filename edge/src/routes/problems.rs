//! `/api/problems` and `/api/languages`: forwarded to the submission service.

use std::collections::HashMap;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::subjects::submission;

use crate::bridge::RequestId;
use crate::error::ApiError;
use crate::token::AuthUser;
use crate::AppState;

/// A package travels in one NATS message: it must stay under the server's `max_payload` (8 MB).
pub const PACKAGE_LIMIT: usize = 7 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/languages", get(languages))
        .route(
            "/api/problems",
            get(list).post(create).layer(DefaultBodyLimit::max(PACKAGE_LIMIT)),
        )
        .route("/api/problems/{id}", get(one))
}

async fn languages(State(s): State<AppState>, id: RequestId) -> Result<Response, ApiError> {
    s.bridge
        .call(submission::LANGUAGES, None, &id, Bytes::new())
        .await
}

async fn list(State(s): State<AppState>, id: RequestId) -> Result<Response, ApiError> {
    s.bridge
        .call(submission::PROBLEMS_LIST, None, &id, Bytes::new())
        .await
}

async fn one(
    State(s): State<AppState>,
    id: RequestId,
    Path(problem): Path<String>,
) -> Result<Response, ApiError> {
    s.bridge
        .call_about(submission::PROBLEMS_GET, None, &id, Some(&problem), Bytes::new())
        .await
}

/// `POST /api/problems[?id=…]` with the package zip as the body (admins only; the worker checks).
async fn create(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let problem = query.get("id").map(String::as_str);
    s.bridge
        .call_about(submission::PROBLEMS_CREATE, Some(&user), &id, problem, body)
        .await
}

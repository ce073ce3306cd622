//! `/judge0/…`: the Judge0 CE-compatible API, forwarded to the submission service (which does
//! the translating). Here only what is HTTP: the routes, Judge0's `X-Auth-Token` accepted as our
//! bearer token, the query passed on beside the body, and every error in Judge0's shape
//! (`{"error": "…"}`) instead of a problem document. These routes follow Judge0's contract, not
//! ours, so they are left out of `/api/openapi.json`.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{header, request::Parts, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use common::subjects::judge0 as j0;

use crate::bridge::RequestId;
use crate::error::ApiError;
use crate::token::AuthUser;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/judge0/about", get(about))
        .route("/judge0/config_info", get(config_info))
        .route("/judge0/statuses", get(statuses))
        .route("/judge0/languages", get(languages))
        .route("/judge0/languages/{id}", get(language))
        .route("/judge0/submissions", post(create))
        .route("/judge0/submissions/batch", post(batch_create).get(batch_get))
        .route("/judge0/submissions/{token}", get(one))
        .layer(axum::middleware::map_response(judge0_errors))
}

/// The caller, by `Authorization: Bearer` or Judge0's `X-Auth-Token` (the same access token).
pub struct Judge0User(AuthUser);

impl FromRequestParts<AppState> for Judge0User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if parts.headers.get(header::AUTHORIZATION).is_none() {
            if let Some(token) = parts.headers.get("x-auth-token").cloned() {
                let bearer = format!("Bearer {}", token.to_str().unwrap_or_default());
                let value = HeaderValue::from_str(&bearer)
                    .map_err(|_| ApiError::Unauthenticated("the X-Auth-Token header is not a token"))?;
                parts.headers.insert(header::AUTHORIZATION, value);
            }
        }
        Ok(Judge0User(AuthUser::from_request_parts(parts, state).await?))
    }
}

/// Judge0's clients read `{"error": …}`: a problem document (from the edge or a worker) becomes
/// one, keeping its status and `Retry-After`; everything else passes as JSON.
async fn judge0_errors(response: Response) -> Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(common::problem::CONTENT_TYPE.as_bytes()));
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let body = match serde_json::from_slice::<common::Problem>(&bytes) {
        Ok(p) => serde_json::json!({"error": p.detail.unwrap_or(p.title)}).to_string(),
        // Judge0-shaped already (the worker's field errors).
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

fn query_json(query: &HashMap<String, String>) -> String {
    serde_json::to_string(query).expect("a map of strings serialises")
}

async fn about(State(s): State<AppState>, id: RequestId) -> Result<Response, ApiError> {
    s.bridge.call(j0::ABOUT, None, &id, Bytes::new()).await
}

async fn config_info(State(s): State<AppState>, id: RequestId) -> Result<Response, ApiError> {
    s.bridge.call(j0::CONFIG_INFO, None, &id, Bytes::new()).await
}

async fn statuses(State(s): State<AppState>, id: RequestId) -> Result<Response, ApiError> {
    s.bridge.call(j0::STATUSES, None, &id, Bytes::new()).await
}

async fn languages(State(s): State<AppState>, id: RequestId) -> Result<Response, ApiError> {
    s.bridge.call(j0::LANGUAGES, None, &id, Bytes::new()).await
}

async fn language(
    State(s): State<AppState>,
    id: RequestId,
    Path(language): Path<String>,
) -> Result<Response, ApiError> {
    s.bridge
        .call_about(j0::LANGUAGE, None, &id, Some(&language), Bytes::new())
        .await
}

async fn create(
    State(s): State<AppState>,
    id: RequestId,
    Judge0User(user): Judge0User,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    s.bridge
        .call_with_query(
            j0::SUBMISSIONS_CREATE,
            Some(&user),
            &id,
            None,
            &query_json(&query),
            body,
        )
        .await
}

async fn one(
    State(s): State<AppState>,
    id: RequestId,
    Judge0User(user): Judge0User,
    Path(token): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    s.bridge
        .call_with_query(
            j0::SUBMISSIONS_GET,
            Some(&user),
            &id,
            Some(&token),
            &query_json(&query),
            Bytes::new(),
        )
        .await
}

async fn batch_create(
    State(s): State<AppState>,
    id: RequestId,
    Judge0User(user): Judge0User,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    s.bridge
        .call_with_query(
            j0::BATCH_CREATE,
            Some(&user),
            &id,
            None,
            &query_json(&query),
            body,
        )
        .await
}

async fn batch_get(
    State(s): State<AppState>,
    id: RequestId,
    Judge0User(user): Judge0User,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    s.bridge
        .call_with_query(
            j0::BATCH_GET,
            Some(&user),
            &id,
            None,
            &query_json(&query),
            Bytes::new(),
        )
        .await
}

//! `/api/auth/*`: forwarded to the auth service.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use common::subjects::auth;

use crate::bridge::RequestId;
use crate::error::ApiError;
use crate::token::AuthUser;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/me", get(me))
}

async fn register(State(s): State<AppState>, id: RequestId, body: Bytes) -> Result<Response, ApiError> {
    s.bridge.call(auth::REGISTER, None, &id, body).await
}

async fn login(State(s): State<AppState>, id: RequestId, body: Bytes) -> Result<Response, ApiError> {
    s.bridge.call(auth::LOGIN, None, &id, body).await
}

async fn refresh(State(s): State<AppState>, id: RequestId, body: Bytes) -> Result<Response, ApiError> {
    s.bridge.call(auth::REFRESH, None, &id, body).await
}

async fn logout(State(s): State<AppState>, id: RequestId, body: Bytes) -> Result<Response, ApiError> {
    s.bridge.call(auth::LOGOUT, None, &id, body).await
}

async fn me(State(s): State<AppState>, id: RequestId, user: AuthUser) -> Result<Response, ApiError> {
    s.bridge.call(auth::ME, Some(&user), &id, Bytes::new()).await
}

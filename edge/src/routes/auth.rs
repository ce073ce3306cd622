//! `/api/auth/*`: forwarded to the auth service.

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use common::auth::{Login, RefreshRequest, Registration, TokenPair, User};
use common::subjects::auth;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::bridge::RequestId;
use crate::error::ApiError;
use crate::openapi::Errors;
use crate::token::AuthUser;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// Creates an account (usernames and e-mail addresses are unique regardless of case).
#[utoipa::path(post, path = "/api/auth/register", tag = "auth",
    request_body = Registration,
    responses((status = 201, description = "The new account", body = User), Errors))]
async fn register(State(s): State<AppState>, id: RequestId, body: Bytes) -> Result<Response, ApiError> {
    s.bridge.call(auth::REGISTER, None, &id, body).await
}

/// Signs in with a username or an e-mail address; repeated failures lock the account for a
/// while (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth",
    request_body = Login,
    responses((status = 200, description = "An access and a refresh token", body = TokenPair), Errors))]
async fn login(State(s): State<AppState>, id: RequestId, body: Bytes) -> Result<Response, ApiError> {
    s.bridge.call(auth::LOGIN, None, &id, body).await
}

/// Exchanges a refresh token for a new pair; the old one stops working, and presenting a spent
/// one revokes its whole session.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 200, description = "A new access and refresh token", body = TokenPair), Errors))]
async fn refresh(State(s): State<AppState>, id: RequestId, body: Bytes) -> Result<Response, ApiError> {
    s.bridge.call(auth::REFRESH, None, &id, body).await
}

/// Ends the session of a refresh token (always 204 for a well-formed body).
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out"), Errors))]
async fn logout(State(s): State<AppState>, id: RequestId, body: Bytes) -> Result<Response, ApiError> {
    s.bridge.call(auth::LOGOUT, None, &id, body).await
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The caller's account", body = User), Errors))]
async fn me(State(s): State<AppState>, id: RequestId, user: AuthUser) -> Result<Response, ApiError> {
    s.bridge.call(auth::ME, Some(&user), &id, Bytes::new()).await
}

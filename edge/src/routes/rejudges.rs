//! Rejudges (admins): `POST /api/problems/{id}/rejudge` and `GET /api/rejudges/{id}`, forwarded to
//! the submission service. Each rejudged submission's own live stream
//! (`GET /api/submissions/{id}/events`) shows its new judging.

use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use common::api::{NewRejudge, Rejudge, RejudgeAccepted};
use common::subjects::submission;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::bridge::RequestId;
use crate::error::ApiError;
use crate::openapi::Errors;
use crate::token::AuthUser;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create)).routes(routes!(one))
}

/// Judges a problem's judged submissions again on its current version (admins): all of them,
/// those with one of `verdicts`, or those judged on a version before `before_version`. Each keeps
/// its earlier judgings in `history`; their jobs go behind new submissions, so a rejudge of any
/// size delays a new submission by at most one job per judge slot. At most 10,000 at once.
#[utoipa::path(post, path = "/api/problems/{id}/rejudge", tag = "problems", security(("bearer" = [])),
    params(("id" = String, Path, description = "The problem", example = "aplusb")),
    request_body = NewRejudge,
    responses(
        (status = 202, description = "Started", body = RejudgeAccepted,
            headers(("Location" = String, description = "The rejudge"))),
        Errors))]
async fn create(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path(problem): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    s.bridge
        .call_about(
            submission::REJUDGES_CREATE,
            Some(&user),
            &id,
            Some(&problem),
            body,
        )
        .await
}

/// A rejudge's progress (admins): how many of its submissions are judged again, how many got
/// another verdict, how many still wait.
#[utoipa::path(get, path = "/api/rejudges/{id}", tag = "problems", security(("bearer" = [])),
    params(("id" = String, Path, description = "The rejudge")),
    responses((status = 200, description = "The rejudge", body = Rejudge), Errors))]
async fn one(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path(rejudge): Path<String>,
) -> Result<Response, ApiError> {
    s.bridge
        .call_about(
            submission::REJUDGES_GET,
            Some(&user),
            &id,
            Some(&rejudge),
            Bytes::new(),
        )
        .await
}

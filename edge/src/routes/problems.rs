//! `/api/problems` and `/api/languages`: forwarded to the submission service.

use std::collections::HashMap;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use common::api::{Language, ProblemDetail, ProblemSummary, StatementQuery};
use common::subjects::submission;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::bridge::RequestId;
use crate::error::ApiError;
use crate::openapi::{Errors, PackageZip};
use crate::token::AuthUser;
use crate::AppState;

/// A package travels in one NATS message: it must stay under the server's `max_payload` (8 MB).
pub const PACKAGE_LIMIT: usize = 7 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(languages))
        .routes(routes!(list, create).layer(DefaultBodyLimit::max(PACKAGE_LIMIT)))
        .routes(routes!(one))
        .routes(routes!(statement))
}

/// The list of `GET /api/languages` and `GET /api/problems`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // only its description is used: the worker builds the body
struct Items<T> {
    items: Vec<T>,
}

/// The languages a judge can run now, with the versions their toolchains report.
#[utoipa::path(get, path = "/api/languages", tag = "problems",
    responses((status = 200, description = "The languages on offer", body = Items<Language>), Errors))]
async fn languages(State(s): State<AppState>, id: RequestId) -> Result<Response, ApiError> {
    s.bridge
        .call(submission::LANGUAGES, None, &id, Bytes::new())
        .await
}

/// Every problem, by id.
#[utoipa::path(get, path = "/api/problems", tag = "problems",
    responses((status = 200, description = "The problems", body = Items<ProblemSummary>), Errors))]
async fn list(State(s): State<AppState>, id: RequestId) -> Result<Response, ApiError> {
    s.bridge
        .call(submission::PROBLEMS_LIST, None, &id, Bytes::new())
        .await
}

/// One problem: statements, samples and limits.
#[utoipa::path(get, path = "/api/problems/{id}", tag = "problems",
    params(("id" = String, Path, description = "The problem", example = "aplusb")),
    responses((status = 200, description = "The problem", body = ProblemDetail), Errors))]
async fn one(
    State(s): State<AppState>,
    id: RequestId,
    Path(problem): Path<String>,
) -> Result<Response, ApiError> {
    s.bridge
        .call_about(submission::PROBLEMS_GET, None, &id, Some(&problem), Bytes::new())
        .await
}

/// The problem's statement in its own format: Markdown, LaTeX source, HTML, plain text, or a PDF
/// as `application/pdf`.
#[utoipa::path(get, path = "/api/problems/{id}/statement", tag = "problems",
    params(("id" = String, Path, description = "The problem", example = "aplusb"), StatementQuery),
    responses(
        (status = 200, description = "The statement", content(
            (String = "text/markdown"),
            (String = "text/html"),
            (String = "application/x-tex"),
            (String = "text/plain"),
            (Vec<u8> = "application/pdf"),
        )),
        Errors
    ))]
async fn statement(
    State(s): State<AppState>,
    id: RequestId,
    Path(problem): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(&query).expect("a map of strings serialises");
    s.bridge
        .call_about(
            submission::PROBLEMS_STATEMENT,
            None,
            &id,
            Some(&problem),
            body.into(),
        )
        .await
}

/// Uploads a problem package (admins only): a new problem, or a new version when the package
/// changed (the same bytes again answer 200 with the version they already are).
#[utoipa::path(post, path = "/api/problems", tag = "problems", security(("bearer" = [])),
    params(("id" = Option<String>, Query, description = "The problem's id (default: the package's folder name)")),
    request_body(content(
        (PackageZip = "application/zip"),
        (PackageZip = "application/octet-stream"),
    ), description = "The package directory, zipped (a single top folder is allowed)"),
    responses(
        (status = 201, description = "A new problem or version", body = ProblemDetail),
        (status = 200, description = "The package was already this version", body = ProblemDetail),
        Errors
    ))]
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

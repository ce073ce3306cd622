//! `/api/problems` and `/api/languages`: forwarded to the submission service.

use std::collections::HashMap;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use common::api::{
    Language, ProblemDetail, ProblemSummary, ProblemVersion, StatementQuery, VerificationReport,
};
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
        .routes(routes!(versions))
        .routes(routes!(version))
        .routes(routes!(activate))
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
/// changed (the same bytes again answer 200 with the version they already are). The package's
/// own submissions are judged behind new submissions (`Location` follows the report); a new
/// version is used once they all get a verdict their place allows (a problem's first version at
/// once, held back if they then disagree). The answer is the problem as it stands: `version` is
/// the one in use, `latest` the upload and its verification.
#[utoipa::path(post, path = "/api/problems", tag = "problems", security(("bearer" = [])),
    params(
        ("id" = Option<String>, Query, description = "The problem's id (default: the package's folder name)"),
        ("verify" = Option<bool>, Query, description = "`false`: do not judge the package's own submissions; the version is used at once"),
    ),
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
    let query = serde_json::to_string(&query).expect("a map of strings serialises");
    s.bridge
        .call_with_query(
            submission::PROBLEMS_CREATE,
            Some(&user),
            &id,
            problem,
            &query,
            body,
        )
        .await
}

/// A problem's uploaded versions, newest first, with their verification (admins).
#[utoipa::path(get, path = "/api/problems/{id}/versions", tag = "problems", security(("bearer" = [])),
    params(("id" = String, Path, description = "The problem", example = "aplusb")),
    responses((status = 200, description = "The versions", body = Items<ProblemVersion>), Errors))]
async fn versions(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path(problem): Path<String>,
) -> Result<Response, ApiError> {
    s.bridge
        .call_about(
            submission::VERSIONS_LIST,
            Some(&user),
            &id,
            Some(&problem),
            Bytes::new(),
        )
        .await
}

/// One version's verification report (admins): each of the package's own submissions with the
/// verdicts its place allows and, as the judges get to it, its status, verdict, time and memory.
#[utoipa::path(get, path = "/api/problems/{id}/versions/{version}", tag = "problems", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The problem", example = "aplusb"),
        ("version" = u32, Path, description = "The version", example = 2),
    ),
    responses((status = 200, description = "The report", body = VerificationReport), Errors))]
async fn version(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path((problem, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let key = format!("{problem}:{version}");
    s.bridge
        .call_about(
            submission::VERSIONS_GET,
            Some(&user),
            &id,
            Some(&key),
            Bytes::new(),
        )
        .await
}

/// Puts a version in use for new submissions (admins), whatever its verification says: a version
/// held back, or an older one (a rollback). Lifts a hold on the problem.
#[utoipa::path(post, path = "/api/problems/{id}/versions/{version}/activate", tag = "problems", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The problem", example = "aplusb"),
        ("version" = u32, Path, description = "The version", example = 2),
    ),
    responses((status = 200, description = "The problem, now on that version", body = ProblemDetail), Errors))]
async fn activate(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path((problem, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let key = format!("{problem}:{version}");
    s.bridge
        .call_about(
            submission::VERSIONS_ACTIVATE,
            Some(&user),
            &id,
            Some(&key),
            Bytes::new(),
        )
        .await
}

//! `/api/problems` and `/api/languages`: forwarded to the submission service.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
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
        .routes(routes!(version_events))
}

/// How long a live stream of a version's verification may stay open.
const VERIFICATION_EVENTS_LIMIT: Duration = Duration::from_secs(1800);
/// How often a followed verification is read again.
const VERIFICATION_EVERY: Duration = Duration::from_millis(500);

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

/// A version's verification as server-sent events (admins): `event: version`, each the whole
/// report as it stands — at once, then whenever it changes (a packaged submission compiling,
/// running, judged), ending with the settled report. The report is read every 500 ms: the
/// packaged submissions' updates reach the report through the results applier, not one subject
/// the edge could follow.
#[utoipa::path(get, path = "/api/problems/{id}/versions/{version}/events", tag = "problems", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The problem", example = "aplusb"),
        ("version" = u32, Path, description = "The version", example = 2),
    ),
    responses((status = 200, description = "A stream of reports, the last one settled",
        content_type = "text/event-stream", body = VerificationReport), Errors))]
async fn version_events(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path((problem, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let key = format!("{problem}:{version}");
    let read = {
        let (s, id, user, key) = (s.clone(), id.clone(), user.clone(), key.clone());
        move || {
            let (s, id, user, key) = (s.clone(), id.clone(), user.clone(), key.clone());
            async move {
                let r = s
                    .bridge
                    .call_about(
                        submission::VERSIONS_GET,
                        Some(&user),
                        &id,
                        Some(&key),
                        Bytes::new(),
                    )
                    .await?;
                if r.status() != StatusCode::OK {
                    return Ok::<_, ApiError>(Err(r));
                }
                let body = axum::body::to_bytes(r.into_body(), 16 << 20)
                    .await
                    .map_err(|e| ApiError::Unavailable(e.to_string()))?;
                Ok(Ok(body))
            }
        }
    };
    // The first read answers errors (403, 404) as themselves.
    let first = match read().await? {
        Ok(body) => body,
        Err(response) => return Ok(response),
    };
    let settled = |body: &Bytes| {
        serde_json::from_slice::<VerificationReport>(body)
            .is_ok_and(|r| r.version.verification != common::api::VerificationStatus::Running)
    };
    let deadline = tokio::time::Instant::now() + VERIFICATION_EVENTS_LIMIT;
    let state = (Some(first), Bytes::new(), 0u64);
    let stream = futures::stream::unfold(state, move |(next, last, n)| {
        let read = read.clone();
        async move {
            let body = match next {
                Some(body) => body,
                None if settled(&last) => return None,
                None => loop {
                    if tokio::time::Instant::now() >= deadline {
                        return None;
                    }
                    tokio::time::sleep(VERIFICATION_EVERY).await;
                    // Unchanged, or a read that failed (a worker restarting): read again.
                    if let Ok(Ok(body)) = read().await {
                        if body != last {
                            break body;
                        }
                    }
                },
            };
            let event = Event::default()
                .event("version")
                .id((n + 1).to_string())
                .data(String::from_utf8_lossy(&body));
            Some((Ok::<_, Infallible>(event), (None, body, n + 1)))
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

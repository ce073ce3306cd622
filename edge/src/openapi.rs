//! The API's OpenAPI 3.1 description, generated from the code: every route is registered through
//! `utoipa_axum`'s `OpenApiRouter` from a handler carrying `#[utoipa::path]`, so a route cannot
//! exist without its description, and the schemas are derived from the same types the workers
//! serialise (`common::api`). Served at `GET /api/openapi.json`.

use common::problem::Problem;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The description's fixed parts; paths and schemas are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Online judge API",
        description = "Register, read problems, submit code and watch it being judged. Every error \
                       is an RFC 9457 problem document (application/problem+json) with a stable \
                       `code`; validation failures are 422 and name every invalid field in `errors`.",
    ),
    modifiers(&BearerAuth),
    components(schemas(Problem, common::problem::FieldError)),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "problems", description = "Problems and languages"),
        (name = "submissions", description = "Submissions and their live status"),
        (name = "runs", description = "Runs without grading: on the samples or on one's own input"),
        (name = "comments", description = "Comments on problems"),
        (name = "operations", description = "Health, readiness, metrics and this description"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme: an access token from `POST /api/auth/login`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The errors any route may answer, each a problem document. Listed once and shared, since the
/// edge, the broker and the workers can each produce most of them on any route.
#[allow(dead_code)] // only its derived description is used
#[derive(utoipa::IntoResponses)]
pub enum Errors {
    /// The body is not JSON or not an object.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No valid access token (`WWW-Authenticate: Bearer`).
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthenticated(Problem),
    /// Signed in, but not allowed.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such resource (or not the caller's to see).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The method is not allowed on this path.
    #[response(status = 405, content_type = "application/problem+json")]
    MethodNotAllowed(Problem),
    /// Taken (a username, an e-mail address, an idempotency key in use).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// The body is over the size limit.
    #[response(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Problem),
    /// Invalid fields, each named in `errors`.
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
    /// Throttled; `Retry-After` says when to try again.
    #[response(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Problem),
    /// A worker or the store is unavailable; retry (`Retry-After`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
    /// A worker did not answer in time.
    #[response(status = 504, content_type = "application/problem+json")]
    Timeout(Problem),
}

/// A problem package as uploaded: a zip archive of the package directory.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PackageZip(#[allow(dead_code)] Vec<u8>);

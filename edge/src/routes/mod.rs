//! One module per resource; each handler forwards to the worker that owns the resource.

pub mod auth;
pub mod comments;
pub mod health;
pub mod judge0;
pub mod problems;
pub mod rejudges;
pub mod runs;
pub mod submissions;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// Every route, each with its description: the router and the OpenAPI document come from the
/// same registrations.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .merge(auth::router())
        .merge(problems::router())
        .merge(rejudges::router())
        .merge(comments::router())
        .merge(submissions::router())
        .merge(runs::router())
        .merge(health::router())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_is_openapi_3_1_and_names_every_route() {
        let (_, api) = router().split_for_parts();
        let doc: serde_json::Value = serde_json::from_str(&api.to_json().unwrap()).unwrap();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        let paths = doc["paths"].as_object().unwrap();
        for (path, methods) in [
            ("/api/auth/register", &["post"][..]),
            ("/api/auth/login", &["post"]),
            ("/api/auth/refresh", &["post"]),
            ("/api/auth/logout", &["post"]),
            ("/api/auth/me", &["get"]),
            ("/api/languages", &["get"]),
            ("/api/problems", &["get", "post"]),
            ("/api/problems/{id}", &["get"]),
            ("/api/problems/{id}/comments", &["get", "post"]),
            ("/api/problems/{id}/rejudge", &["post"]),
            ("/api/problems/{id}/versions", &["get"]),
            ("/api/problems/{id}/versions/{version}", &["get"]),
            ("/api/problems/{id}/versions/{version}/activate", &["post"]),
            ("/api/problems/{id}/versions/{version}/events", &["get"]),
            ("/api/rejudges/{id}", &["get"]),
            ("/api/comments/{id}", &["delete"]),
            ("/api/submissions", &["get", "post"]),
            ("/api/submissions/{id}", &["get"]),
            ("/api/submissions/{id}/events", &["get"]),
            ("/api/runs", &["post"]),
            ("/api/runs/{id}", &["get"]),
            ("/api/runs/{id}/events", &["get"]),
            ("/healthz", &["get"]),
            ("/readyz", &["get"]),
            ("/metrics", &["get"]),
        ] {
            for method in methods {
                let op = &paths[path][method];
                assert!(op.is_object(), "{method} {path} is not described");
                assert!(
                    op["responses"]["422"].is_object()
                        || path.starts_with("/healthz")
                        || path.starts_with("/readyz")
                        || path.starts_with("/metrics"),
                    "{method} {path}: no problem documents"
                );
            }
        }
        // Every schema a path refers to is defined.
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                schemas.contains_key(name),
                "{name} is referred to but not defined"
            );
        }
    }
}

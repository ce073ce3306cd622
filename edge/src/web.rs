//! The learner's web page (`GET /`) and its assets (`GET /assets/…`): static files from
//! `edge/web/`, compiled into the binary so the edge needs nothing on disk. The page only calls
//! the public API; it is not part of it (so not in the OpenAPI description).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Assets;

/// Scripts, styles, fonts and the PDF statement frame come from this origin only.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
     object-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { asset("index.html", false) }))
        .route(
            "/assets/{*path}",
            get(|Path(path): Path<String>| async move { asset(&path, true) }),
        )
}

fn asset(path: &str, cacheable: bool) -> Response {
    let Some(file) = Assets::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = file.metadata.mimetype().to_owned();
    let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if cacheable {
            "public, max-age=3600"
        } else {
            "no-cache"
        }),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_assets_are_embedded() {
        for path in [
            "index.html",
            "app.js",
            "style.css",
            "vendor/marked.min.js",
            "vendor/katex.min.css",
            "vendor/fonts/KaTeX_Main-Regular.woff2",
        ] {
            assert!(Assets::get(path).is_some(), "{path} missing");
        }
        let index = Assets::get("index.html").unwrap();
        let text = String::from_utf8_lossy(&index.data);
        // Every asset the page names is embedded.
        for reference in text.split("\"/assets/").skip(1) {
            let path = reference.split('"').next().unwrap();
            assert!(Assets::get(path).is_some(), "index.html refers to missing {path}");
        }
        assert_eq!(asset("nope.js", true).status(), StatusCode::NOT_FOUND);
        assert_eq!(
            asset("app.js", true).headers()[header::CONTENT_TYPE],
            "text/javascript"
        );
    }
}

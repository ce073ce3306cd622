//! Cross-cutting request handling that tower-http does not do for us: keeping a client's request
//! id only when it is fit for logs and NATS headers, CORS headers for allowed origins only,
//! metrics, and problem documents for errors the framework itself produces (unknown route, body
//! too large, the request deadline's 504 …). Request ids, spans and the deadline themselves are
//! tower-http's layers (see `Edge::bind`).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use common::problem::{self, Problem};

use crate::error::problem_response;
use crate::AppState;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Drops a client's `X-Request-Id` unless it is 1–128 visible ASCII characters (it ends up in
/// logs and NATS headers); tower-http's `SetRequestId` then gives the request a fresh UUID.
pub fn sanitize_request_id(mut req: Request) -> Request {
    let fit = req.headers().get(&X_REQUEST_ID).is_none_or(|v| {
        let b = v.as_bytes();
        !b.is_empty() && b.len() <= 128 && b.iter().all(u8::is_ascii_graphic)
    });
    if !fit {
        req.headers_mut().remove(&X_REQUEST_ID);
    }
    req
}

/// Removes every CORS header from answers to origins that are not allowed, so a foreign page
/// learns nothing (tower-http's layer still sends `Allow-Methods` and friends to them).
pub async fn strip_foreign_cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let allowed = req
        .headers()
        .get(header::ORIGIN)
        .is_none_or(|o| state.cors_origins.iter().any(|a| a.as_bytes() == o.as_bytes()));
    let mut response = next.run(req).await;
    if !allowed {
        let names: Vec<HeaderName> = response
            .headers()
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in names {
            response.headers_mut().remove(name);
        }
    }
    response
}

/// Turns the framework's own plain-text error answers (unknown route, wrong method, body too
/// large …) into problem documents, so every error a client sees has one shape.
pub async fn problem_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes() == problem::CONTENT_TYPE.as_bytes() || v.as_bytes().starts_with(b"application/json")
    });
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, detail) = match status.as_u16() {
        404 => ("not_found", "no such resource"),
        405 => ("method_not_allowed", "the method is not allowed here"),
        413 => ("payload_too_large", "the body is larger than the limit"),
        415 => ("unsupported_media_type", "unsupported content type"),
        504 => ("request_timeout", "the request took too long"),
        _ => ("error", ""),
    };
    let title = status.canonical_reason().unwrap_or("Error");
    let mut p = Problem::new(status.as_u16(), code, title);
    if !detail.is_empty() {
        p = p.with_detail(detail);
    }
    let mut fixed = problem_response(&p);
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = response.headers().get(&name) {
            fixed.headers_mut().insert(name, v.clone());
        }
    }
    fixed
}

/// Counts requests and their latency by route and status.
pub async fn metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16().to_string();
    metrics::with_local_recorder(&state.metrics, || {
        let labels = [("method", method), ("route", route), ("status", status)];
        metrics::counter!("http_requests_total", &labels).increment(1);
        metrics::histogram!("http_request_duration_seconds", &labels[..2]).record(elapsed.as_secs_f64());
    });
    response
}

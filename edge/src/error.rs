//! The edge's one error type and its mapping to HTTP: every failure leaves as a problem document.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use common::problem::{self, Problem};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed, expired or otherwise unacceptable access token.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// The worker did not answer in time.
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// No worker is serving the subject, or NATS is unreachable.
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    /// Any other problem to pass on as it is.
    #[error("{0}")]
    Problem(Problem),
}

impl ApiError {
    pub fn problem(&self) -> Problem {
        match self {
            ApiError::Unauthenticated(why) => {
                Problem::new(401, "unauthenticated", "A valid access token is required").with_detail(*why)
            }
            ApiError::UpstreamTimeout => {
                Problem::new(504, "upstream_timeout", "The service did not answer in time")
            }
            ApiError::Unavailable(what) => {
                Problem::new(503, "service_unavailable", "The service is unavailable")
                    .with_detail(what.clone())
            }
            ApiError::Problem(p) => p.clone(),
        }
    }
}

/// A problem document as a response.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).expect("problems serialise to JSON");
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(problem::CONTENT_TYPE),
        )],
        body,
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = problem_response(&self.problem());
        match self {
            ApiError::Unauthenticated(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            ApiError::Unavailable(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

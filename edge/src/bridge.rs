//! Turns an HTTP call into a NATS request to a worker and the worker's reply back into HTTP.
//! The edge adds the caller's identity and the request id; it does not look inside bodies.

use async_nats::client::RequestErrorKind;
use async_nats::HeaderMap;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use common::problem::{self, Problem};
use common::subjects::headers;

use crate::error::ApiError;
use crate::token::AuthUser;

/// The request id of the HTTP request: the client's `X-Request-Id` when fit, else a UUID (set by
/// tower-http's `SetRequestId`, read here as an extractor).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let id = parts
            .extensions
            .get::<tower_http::request_id::RequestId>()
            .and_then(|id| id.header_value().to_str().ok())
            .unwrap_or("-");
        Ok(RequestId(id.to_owned()))
    }
}

#[derive(Clone)]
pub struct Bridge {
    pub client: async_nats::Client,
}

impl Bridge {
    /// Sends `body` to `subject` as `caller` and maps the reply to a response.
    pub async fn call(
        &self,
        subject: &'static str,
        caller: Option<&AuthUser>,
        request_id: &RequestId,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        self.call_about(subject, caller, request_id, None, body).await
    }

    /// Like [`Bridge::call`], passing the client's `Idempotency-Key` on.
    pub async fn call_idempotent(
        &self,
        subject: &'static str,
        caller: Option<&AuthUser>,
        request_id: &RequestId,
        idempotency_key: Option<&str>,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        self.call_with(subject, caller, request_id, None, idempotency_key, body)
            .await
    }

    /// Like [`Bridge::call`], naming the resource the URL is about.
    pub async fn call_about(
        &self,
        subject: &'static str,
        caller: Option<&AuthUser>,
        request_id: &RequestId,
        resource_id: Option<&str>,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        self.call_with(subject, caller, request_id, resource_id, None, body)
            .await
    }

    async fn call_with(
        &self,
        subject: &'static str,
        caller: Option<&AuthUser>,
        request_id: &RequestId,
        resource_id: Option<&str>,
        idempotency_key: Option<&str>,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        let mut h = HeaderMap::new();
        h.insert(headers::REQUEST_ID, request_id.0.as_str());
        if let Some(id) = resource_id {
            // An id NATS cannot carry (a line break, a control character) names nothing we have.
            let value = id
                .parse::<async_nats::HeaderValue>()
                .ok()
                .filter(|_| !id.chars().any(char::is_control))
                .ok_or_else(|| {
                    ApiError::Problem(
                        Problem::new(404, "not_found", "No such resource")
                            .with_detail("the id in the path is not one this API gives out"),
                    )
                })?;
            h.insert(headers::RESOURCE_ID, value);
        }
        if let Some(key) = idempotency_key {
            h.insert(headers::IDEMPOTENCY_KEY, key);
        }
        if let Some(user) = caller {
            h.insert(headers::USER_ID, user.user_id.as_str());
            h.insert(headers::USER_ROLE, user.role.as_str());
        }
        let reply = self
            .client
            .request_with_headers(subject, h, body)
            .await
            .map_err(|e| match e.kind() {
                RequestErrorKind::TimedOut => ApiError::UpstreamTimeout,
                RequestErrorKind::NoResponders => {
                    ApiError::Unavailable(format!("no worker serves {subject}"))
                }
                _ => ApiError::Unavailable(e.to_string()),
            })?;
        Ok(to_response(reply, request_id))
    }
}

fn header_str<'a>(h: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    h.and_then(|h| h.get(name)).map(|v| v.as_str())
}

/// Maps a worker's reply: `X-Status` and a JSON body, or a NATS service error (the worker's own
/// failure) turned into a problem document.
fn to_response(reply: async_nats::Message, request_id: &RequestId) -> Response {
    let h = reply.headers.as_ref();
    let retry_after = header_str(h, headers::RETRY_AFTER).and_then(|v| HeaderValue::from_str(v).ok());
    if let Some(code) = header_str(h, headers::SERVICE_ERROR_CODE) {
        let status = code
            .parse::<u16>()
            .ok()
            .filter(|s| (400..600).contains(s))
            .unwrap_or(500);
        let text = header_str(h, headers::SERVICE_ERROR).unwrap_or("service error");
        let (code, detail) = text.split_once(": ").unwrap_or(("service_error", text));
        let mut p =
            Problem::new(status, code, "The service could not complete the request").with_detail(detail);
        p.request_id = Some(request_id.0.clone());
        let mut response = crate::error::problem_response(&p);
        if let Some(v) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let status = header_str(h, headers::STATUS)
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = if status == StatusCode::NO_CONTENT {
        status.into_response()
    } else {
        let content_type = if status.is_client_error() || status.is_server_error() {
            problem::CONTENT_TYPE
        } else {
            header_str(h, headers::CONTENT_TYPE).unwrap_or("application/json")
        };
        (status, [(header::CONTENT_TYPE, content_type)], reply.payload).into_response()
    };
    if let Some(v) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    if let Some(v) = header_str(h, headers::LOCATION).and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

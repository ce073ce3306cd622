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

/// How long an idempotent request waits for its answer before it is sent again (within the NATS
/// request timeout): far longer than any request takes, unless it was lost.
const LOST_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a request that found no worker is retried before it is answered 503.
const NO_RESPONDERS_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// An idempotency key and where it came from.
#[derive(Clone, Copy)]
enum Key<'a> {
    /// The client's `Idempotency-Key`: an earlier request may have used it.
    Client(&'a str),
    /// One the edge made for this request: nothing used it before the request's first send.
    Own(&'a str),
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

    /// Like [`Bridge::call`], passing the client's `Idempotency-Key` on — or one of the edge's own
    /// (`edge-<uuid>`) when the client sent none, so that the request can be sent again when it
    /// went unanswered for [`LOST_AFTER`] (on a cluster, the node between the edge and the worker
    /// may have died with the request or its answer): a repeat with the same key gets the same
    /// submission back, never a second one.
    pub async fn call_idempotent(
        &self,
        subject: &'static str,
        caller: Option<&AuthUser>,
        request_id: &RequestId,
        idempotency_key: Option<&str>,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        let generated;
        let key = match idempotency_key {
            Some(key) => Key::Client(key),
            None => {
                generated = format!("edge-{}", uuid::Uuid::new_v4());
                Key::Own(&generated)
            }
        };
        self.send(subject, caller, request_id, None, Some(key), body, true)
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
        self.send(subject, caller, request_id, resource_id, None, body, false)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        subject: &'static str,
        caller: Option<&AuthUser>,
        request_id: &RequestId,
        resource_id: Option<&str>,
        idempotency_key: Option<Key<'_>>,
        body: Bytes,
        resend_when_lost: bool,
    ) -> Result<Response, ApiError> {
        self.call_full(
            subject,
            caller,
            request_id,
            resource_id,
            idempotency_key,
            None,
            body,
            resend_when_lost,
        )
        .await
    }

    /// Like [`Bridge::call_about`], also passing the query string (a JSON object of strings).
    pub async fn call_with_query(
        &self,
        subject: &'static str,
        caller: Option<&AuthUser>,
        request_id: &RequestId,
        resource_id: Option<&str>,
        query: &str,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        self.call_full(
            subject,
            caller,
            request_id,
            resource_id,
            None,
            Some(query),
            body,
            false,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)] // private: the one place every optional header is set
    async fn call_full(
        &self,
        subject: &'static str,
        caller: Option<&AuthUser>,
        request_id: &RequestId,
        resource_id: Option<&str>,
        idempotency_key: Option<Key<'_>>,
        query: Option<&str>,
        body: Bytes,
        resend_when_lost: bool,
    ) -> Result<Response, ApiError> {
        let mut h = HeaderMap::new();
        if let Some(query) = query {
            let value = query
                .parse::<async_nats::HeaderValue>()
                .map_err(|_| ApiError::Problem(common::Problem::field("query", "cannot be passed on")))?;
            h.insert(headers::QUERY, value);
        }
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
        // Only a first send of the edge's own key is known to be new: the worker then need not
        // look for an earlier submission under it (a store read per submission saved).
        let mut fresh_key = false;
        match idempotency_key {
            Some(Key::Client(key)) => h.insert(headers::IDEMPOTENCY_KEY, key),
            Some(Key::Own(key)) => {
                h.insert(headers::IDEMPOTENCY_KEY, key);
                fresh_key = true;
            }
            None => {}
        }
        if let Some(user) = caller {
            h.insert(headers::USER_ID, user.user_id.as_str());
            h.insert(headers::USER_ROLE, user.role.as_str());
        }
        // No responders means no worker received the request, so asking again is safe whatever
        // it is: on a cluster, the workers of a node that died are back on another within
        // milliseconds. A service that is really down still gets 503 within a second.
        // A read is as safe to send again as a create that carries an idempotency key.
        let resend_when_lost = resend_when_lost || common::subjects::READS.contains(&subject);
        let started = tokio::time::Instant::now();
        let deadline = started + NO_RESPONDERS_RETRY;
        let budget = self.client.timeout().unwrap_or(LOST_AFTER);
        let mut backoff = common::retry::Backoff::default();
        let reply = loop {
            let mut sent = h.clone();
            if fresh_key {
                sent.insert(headers::FRESH_KEY, "1");
            }
            let mut request = async_nats::Request::new().headers(sent).payload(body.clone());
            if resend_when_lost && budget > LOST_AFTER {
                request = request.timeout(Some(LOST_AFTER));
            }
            match self.client.send_request(subject, request).await {
                Ok(reply) => break reply,
                Err(e)
                    if e.kind() == RequestErrorKind::TimedOut
                        && resend_when_lost
                        && started.elapsed() + LOST_AFTER <= budget =>
                {
                    tracing::warn!(subject, "no answer in {LOST_AFTER:?}; sending the request again");
                    // The lost send may have been saved under the key.
                    fresh_key = false;
                }
                Err(e) if e.kind() == RequestErrorKind::NoResponders => {
                    let pause = backoff.next_pause();
                    if tokio::time::Instant::now() + pause > deadline {
                        return Err(ApiError::Unavailable(format!("no worker serves {subject}")));
                    }
                    tokio::time::sleep(pause).await;
                }
                Err(e) if e.kind() == RequestErrorKind::TimedOut => return Err(ApiError::UpstreamTimeout),
                Err(e) => return Err(ApiError::Unavailable(e.to_string())),
            }
        };
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

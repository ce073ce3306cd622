//! The worker side of the request/reply contract with the edge.
//!
//! A worker answers every request with a JSON body and the HTTP status it maps to in the
//! `X-Status` header; client errors carry a [`Problem`] body. Failures of the worker itself
//! (its store is down) are answered as NATS service errors, so `nats micro stats` counts them,
//! and the edge turns them into a problem document with the same status.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::service::{self, Request, Service, ServiceExt};
use async_nats::HeaderMap;
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::auth::Role;
use crate::problem::Problem;
use crate::subjects::headers;

/// Who is calling, as the edge established it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Option<String>,
    pub role: Option<Role>,
    pub request_id: String,
    /// The id the URL names, for endpoints about one resource.
    pub resource_id: Option<String>,
    /// The client's `Idempotency-Key` (or the edge's own), for creating endpoints.
    pub idempotency_key: Option<String>,
    /// The key is one the edge made and sends for the first time: nothing can be saved under it.
    pub fresh_key: bool,
    /// The query string as a JSON object of strings, where the edge passes one beside a body.
    pub query: Option<String>,
}

impl Caller {
    pub fn from_headers(h: Option<&HeaderMap>) -> Caller {
        let get = |name: &str| h.and_then(|h| h.get(name)).map(|v| v.as_str().to_owned());
        Caller {
            user_id: get(headers::USER_ID),
            role: get(headers::USER_ROLE).and_then(|r| Role::parse(&r)),
            request_id: get(headers::REQUEST_ID).unwrap_or_else(|| "-".to_owned()),
            resource_id: get(headers::RESOURCE_ID),
            idempotency_key: get(headers::IDEMPOTENCY_KEY),
            fresh_key: get(headers::FRESH_KEY).as_deref() == Some("1"),
            query: get(headers::QUERY),
        }
    }

    /// The caller's user id; `None` when the edge sent an anonymous request.
    pub fn user(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    pub fn is_admin(&self) -> bool {
        self.role == Some(Role::Admin)
    }
}

/// A successful answer: a status and a JSON body (`None` for 204), or a body of another media
/// type named by `content_type`.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Option<Vec<u8>>,
    /// Where a created resource lives (`Location`).
    pub location: Option<String>,
    /// The body's media type when it is not JSON.
    pub content_type: Option<&'static str>,
}

impl Answer {
    pub fn json(status: u16, value: &impl Serialize) -> Answer {
        Answer {
            status,
            body: Some(serde_json::to_vec(value).expect("API types serialise to JSON")),
            location: None,
            content_type: None,
        }
    }

    /// A 200 answer whose body is `content_type`, not JSON (a PDF statement, say).
    pub fn bytes(content_type: &'static str, body: Vec<u8>) -> Answer {
        Answer {
            status: 200,
            body: Some(body),
            location: None,
            content_type: Some(content_type),
        }
    }

    pub fn no_content() -> Answer {
        Answer {
            status: 204,
            body: None,
            location: None,
            content_type: None,
        }
    }
}

/// What a worker's error must say about itself to become a reply. Each service crate has one
/// error enum and implements this once: that is the only place its errors become problem
/// documents.
pub trait ServiceError: std::fmt::Display + Send + 'static {
    /// The problem document the client gets (its status decides the HTTP status).
    fn problem(&self) -> Problem;
    /// Seconds the client should wait before retrying (sent as `Retry-After`).
    fn retry_after(&self) -> Option<u64> {
        None
    }
}

/// Extra reply headers a problem may carry (`Retry-After`).
fn problem_headers(problem: &Problem, retry_after: Option<u64>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(headers::STATUS, problem.status.to_string().as_str());
    if let Some(secs) = retry_after {
        h.insert(headers::RETRY_AFTER, secs.to_string().as_str());
    }
    h
}

/// Sends a handler's outcome back to the requester.
pub async fn respond<E: ServiceError>(request: &Request, outcome: Result<Answer, E>) {
    let sent = match outcome {
        Ok(answer) => {
            let mut h = HeaderMap::new();
            h.insert(headers::STATUS, answer.status.to_string().as_str());
            if let Some(location) = &answer.location {
                h.insert(headers::LOCATION, location.as_str());
            }
            if let Some(content_type) = answer.content_type {
                h.insert(headers::CONTENT_TYPE, content_type);
            }
            let body = answer.body.unwrap_or_default();
            request.respond_with_headers(Ok(body.into()), h).await
        }
        Err(error) => {
            let problem = error.problem();
            let h = problem_headers(&problem, error.retry_after());
            if problem.status >= 500 {
                // The worker's own failure: a NATS service error, so `nats micro stats` counts it.
                tracing::warn!(%error, "request failed on the worker's side");
                let err = service::error::Error {
                    status: format!(
                        "{}: {}",
                        problem.code,
                        problem.detail.as_deref().unwrap_or(&problem.title)
                    ),
                    code: problem.status as usize,
                };
                request.respond_with_headers(Err(err), h).await
            } else {
                let body = serde_json::to_vec(&problem).expect("problems serialise to JSON");
                request.respond_with_headers(Ok(body.into()), h).await
            }
        }
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, "could not send reply");
    }
}

/// Runs the endpoints of a started service until `shutdown` resolves, each request in its own
/// task (bounded by `max_in_flight`), then stops the service and waits for requests in flight.
///
/// `handle(subject, caller, payload)` is called for every request; it is never called again after
/// shutdown begins, and every request it was called for is answered before this returns.
pub async fn serve<H, F, E>(
    service: Service,
    subjects: &[&str],
    max_in_flight: usize,
    handle: H,
    shutdown: impl Future<Output = ()>,
) -> Result<(), async_nats::Error>
where
    H: Fn(String, Caller, bytes::Bytes) -> F + Send + Sync + 'static,
    F: Future<Output = Result<Answer, E>> + Send + 'static,
    E: ServiceError,
{
    let handle = Arc::new(handle);
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let mut endpoints = futures::stream::SelectAll::new();
    for subject in subjects {
        let endpoint = service.endpoint(*subject).await?;
        endpoints.push(endpoint);
    }
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let request = tokio::select! {
            _ = &mut shutdown => break,
            r = endpoints.next() => match r { Some(r) => r, None => break },
        };
        let permit = permits.clone().acquire_owned().await?;
        let caller = Caller::from_headers(request.message.headers.as_ref());
        let span = tracing::info_span!("request", subject = %request.message.subject, request_id = %caller.request_id);
        let handle = handle.clone();
        tasks.spawn(
            async move {
                let started = std::time::Instant::now();
                let subject = request.message.subject.to_string();
                let payload = request.message.payload.clone();
                let outcome = handle(subject.clone(), caller, payload).await;
                let status = match &outcome {
                    Ok(a) => a.status,
                    Err(e) => e.problem().status,
                };
                respond(&request, outcome).await;
                let labels = [("subject", subject), ("status", status.to_string())];
                metrics::counter!("nats_requests_total", &labels).increment(1);
                metrics::histogram!("nats_request_duration_seconds", &labels[..1])
                    .record(started.elapsed().as_secs_f64());
                tracing::debug!(
                    status,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "handled"
                );
                drop(permit);
            }
            .instrument(span),
        );
        while tasks.try_join_next().is_some() {}
    }
    tracing::info!(
        in_flight = tasks.len(),
        "stopping service, finishing requests in flight"
    );
    drop(endpoints);
    if let Err(e) = service.stop().await {
        tracing::warn!(error = %e, "stopping the service");
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}

/// Starts a NATS service with the given name and queue group.
pub async fn start_service(
    client: &async_nats::Client,
    name: &str,
    queue_group: &str,
    description: &str,
) -> Result<Service, async_nats::Error> {
    client
        .service_builder()
        .description(description)
        .queue_group(queue_group)
        .start(name, env!("CARGO_PKG_VERSION"))
        .await
}

/// Drains a client, bounded in time so a dead server cannot hold up shutdown.
pub async fn drain(client: &async_nats::Client) {
    match tokio::time::timeout(Duration::from_secs(5), client.drain()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "draining nats"),
        Err(_) => tracing::warn!("draining nats timed out"),
    }
}

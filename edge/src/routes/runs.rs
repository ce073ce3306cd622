//! `/api/runs`: runs without grading, forwarded to the submission service, and their live
//! status followed on the run's key-value entry (which the judge writes).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use common::api::{NewRun, Run, RunAccepted, RunQuery};
use common::jobs::RUNS_BUCKET;
use common::subjects::{self, submission};
use futures::StreamExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::bridge::RequestId;
use crate::error::ApiError;
use crate::openapi::Errors;
use crate::token::AuthUser;
use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(one))
        .routes(routes!(events))
}

/// How long a live stream of a run may stay open.
const EVENTS_LIMIT: Duration = Duration::from_secs(120);

/// Runs code without grading: on the problem's samples, or on `stdin`, in the judges' sandbox
/// with the judges' limits; never stored as a submission, forgotten after an hour. 202 at once
/// (`Location` says where to follow it), or with `?wait=true` 200 with the finished run (202 with
/// the run as it stands if it takes longer than the edge waits). Per-user rate: 429 with
/// `Retry-After`.
#[utoipa::path(post, path = "/api/runs", tag = "runs", security(("bearer" = [])),
    params(RunQuery),
    request_body = NewRun,
    responses(
        (status = 200, description = "The finished run (`?wait=true`)", body = Run),
        (status = 202, description = "Queued", body = RunAccepted,
            headers(("Location" = String, description = "The run"))),
        Errors))]
async fn create(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let wait = match query.get("wait").map(String::as_str) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") | Some("") => true,
        Some(_) => {
            return Err(ApiError::Problem(common::Problem::field(
                "wait",
                "must be true or false",
            )))
        }
    };
    let accepted = s
        .bridge
        .call(submission::RUNS_CREATE, Some(&user), &id, body)
        .await?;
    if !wait || accepted.status() != StatusCode::ACCEPTED {
        return Ok(accepted);
    }
    let (parts, body) = accepted.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let Ok(queued) = serde_json::from_slice::<RunAccepted>(&body) else {
        return Ok(Response::from_parts(parts, body.into()));
    };
    // Bounded below the edge's own deadline, so a slow run answers 202, never 504.
    let limit = s.request_timeout.saturating_sub(Duration::from_secs(1));
    let mut live = match follow(&s, &id, &user, &queued.id, limit).await {
        Ok(live) => live,
        Err(response) => return Ok(response),
    };
    let mut last = live.current.clone();
    while !last.status.is_final() {
        match live.next().await {
            Some(run) => last = run,
            None => break,
        }
    }
    let status = if last.status.is_final() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let mut response = (status, axum::Json(&last)).into_response();
    if let Some(location) = parts.headers.get(axum::http::header::LOCATION) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, location.clone());
    }
    Ok(response)
}

/// One run: its status and, once done, each case's output, exit status, time and memory (the
/// owner or an admin; 404 for anyone else and once it has expired).
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs", security(("bearer" = [])),
    params(("id" = String, Path, description = "The run")),
    responses((status = 200, description = "The run", body = Run), Errors))]
async fn one(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    s.bridge
        .call_about(
            submission::RUNS_GET,
            Some(&user),
            &id,
            Some(&run_id),
            Bytes::new(),
        )
        .await
}

/// The run's live status as server-sent events (`event: run`, each the whole run as it stands):
/// the current state at once, then each change, ending after it is done.
#[utoipa::path(get, path = "/api/runs/{id}/events", tag = "runs", security(("bearer" = [])),
    params(("id" = String, Path, description = "The run")),
    responses((status = 200, description = "A stream of the run's states, the last one `done`",
        content_type = "text/event-stream", body = Run), Errors))]
async fn events(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    let live = match follow(&s, &id, &user, &run_id, EVENTS_LIMIT).await {
        Ok(live) => live,
        Err(response) => return Ok(response),
    };
    let stream = futures::stream::unfold((live, false, 0u64), |(mut live, mut started, mut n)| async move {
        let run = if !started {
            started = true;
            Some(live.current.clone())
        } else if live.current.status.is_final() {
            None
        } else {
            live.next().await
        }?;
        n += 1;
        let event = Event::default()
            .event("run")
            .id(n.to_string())
            .data(serde_json::to_string(&run).expect("API documents serialise"));
        Some((Ok::<_, Infallible>(event), (live, started, n)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// A run being followed: its latest state, and the subscription to its entry's changes.
struct Following {
    current: Run,
    updates: async_nats::Subscriber,
    deadline: tokio::time::Instant,
}

impl Following {
    /// The next state of the run (ignoring any older than the one in hand), or `None` at the
    /// deadline.
    async fn next(&mut self) -> Option<Run> {
        loop {
            let msg = tokio::time::timeout_at(self.deadline, self.updates.next())
                .await
                .ok()??;
            let Ok(run) = serde_json::from_slice::<Run>(&msg.payload) else {
                continue;
            };
            if run.status < self.current.status {
                continue;
            }
            self.current = run.clone();
            return Some(run);
        }
    }
}

/// Subscribes to the run's entry, then reads it through the submission service (which checks the
/// owner), so no change falls between the two. Fails with the response to send instead.
async fn follow(
    s: &AppState,
    id: &RequestId,
    user: &AuthUser,
    run_id: &str,
    limit: Duration,
) -> Result<Following, Response> {
    follow_inner(s, id, user, run_id, limit)
        .await
        .map_err(IntoResponse::into_response)?
}

async fn follow_inner(
    s: &AppState,
    id: &RequestId,
    user: &AuthUser,
    run_id: &str,
    limit: Duration,
) -> Result<Result<Following, Response>, ApiError> {
    let not_found = || {
        ApiError::Problem(
            common::Problem::new(404, "not_found", "No such run")
                .with_detail("the id in the path is not one this API gives out"),
        )
    };
    // Only a run id (a UUID) may become part of a subject: anything else could be a wildcard.
    if uuid::Uuid::parse_str(run_id).is_err() {
        return Err(not_found());
    }
    let updates = s
        .bridge
        .client
        .subscribe(subjects::jobs::key_value_entry(RUNS_BUCKET, run_id))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let current = s
        .bridge
        .call_about(submission::RUNS_GET, Some(user), id, Some(run_id), Bytes::new())
        .await?;
    if current.status() != StatusCode::OK {
        return Ok(Err(current));
    }
    let body = axum::body::to_bytes(current.into_body(), 16 << 20)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let current: Run = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Unavailable(format!("the submission service answered {e}")))?;
    Ok(Ok(Following {
        current,
        updates,
        deadline: tokio::time::Instant::now() + limit,
    }))
}

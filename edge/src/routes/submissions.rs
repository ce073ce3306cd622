//! `/api/submissions`: forwarded to the submission service, and the live status stream.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use common::api::{NewSubmission, Page, StatusEvent, Submission, SubmissionAccepted, SubmissionQuery};
use common::jobs::GradingUpdate;
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
        .routes(routes!(create, list))
        .routes(routes!(one))
        .routes(routes!(events))
}

/// Submits code for grading: 202 at once (`Location` says where to follow it). The same
/// `Idempotency-Key` from the same user gives the same submission, so a 503 or 504 can be retried
/// safely. Per-user limits answer 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/submissions", tag = "submissions", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 128 visible ASCII characters")),
    request_body = NewSubmission,
    responses((status = 202, description = "Queued for grading", body = SubmissionAccepted,
        headers(("Location" = String, description = "The submission"))), Errors))]
async fn create(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // A key NATS cannot carry (not visible ASCII, too long) is refused by name.
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v
            .to_str()
            .ok()
            .filter(|k| !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic()))
        {
            Some(k) => Some(k.to_owned()),
            None => {
                return Err(ApiError::Problem(common::Problem::field(
                    "Idempotency-Key",
                    "must be 1 to 128 visible ASCII characters",
                )))
            }
        },
    };
    s.bridge
        .call_idempotent(
            submission::SUBMISSIONS_CREATE,
            Some(&user),
            &id,
            key.as_deref(),
            body,
        )
        .await
}

/// The caller's own submissions, newest first, paged by cursor (sources left out).
#[utoipa::path(get, path = "/api/submissions", tag = "submissions", security(("bearer" = [])),
    params(SubmissionQuery),
    responses((status = 200, description = "One page of submissions", body = Page<Submission>), Errors))]
async fn list(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(&query).expect("a map of strings serialises");
    s.bridge
        .call(submission::SUBMISSIONS_LIST, Some(&user), &id, body.into())
        .await
}

/// One submission: status, verdict, per-test results (the owner or an admin; 404 for anyone
/// else).
#[utoipa::path(get, path = "/api/submissions/{id}", tag = "submissions", security(("bearer" = [])),
    params(("id" = String, Path, description = "The submission")),
    responses((status = 200, description = "The submission", body = Submission), Errors))]
async fn one(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path(submission_id): Path<String>,
) -> Result<Response, ApiError> {
    s.bridge
        .call_about(
            submission::SUBMISSIONS_GET,
            Some(&user),
            &id,
            Some(&submission_id),
            Bytes::new(),
        )
        .await
}

/// How long a live stream may stay open without reaching a verdict.
const EVENTS_LIMIT: Duration = Duration::from_secs(600);

/// An SSE event; its id grows with progress, so a client's `Last-Event-ID` only says how far it
/// got (every stream starts with the current state, so nothing is missed).
fn event(id: u64, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event("status")
        .id(id.to_string())
        .data(serde_json::to_string(data).expect("API documents serialise"))
}

/// The submission's live status as server-sent events (`event: status`): the current state at
/// once, then each change, ending after the verdict. A client that connects after the verdict
/// gets it and the stream ends; a reconnect (with or without `Last-Event-ID`) starts again from
/// the current state.
#[utoipa::path(get, path = "/api/submissions/{id}/events", tag = "submissions", security(("bearer" = [])),
    params(("id" = String, Path, description = "The submission")),
    responses((status = 200, description = "A stream of status events: the first is the whole submission, \
        later ones what changed", content_type = "text/event-stream", body = StatusEvent), Errors))]
async fn events(
    State(s): State<AppState>,
    id: RequestId,
    user: AuthUser,
    Path(submission_id): Path<String>,
) -> Result<Response, ApiError> {
    // Subscribe before reading the current state, so no change falls between the two.
    let updates = s
        .bridge
        .client
        .subscribe(subjects::jobs::results(&submission_id))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let connects = s.bridge.client.statistics().connects.load(Ordering::Relaxed);
    let state = match current_state(&s.bridge, &user, &id, &submission_id).await? {
        Ok(state) => state,
        // Not the caller's, or no such submission: the service's own answer.
        Err(answer) => return Ok(answer),
    };
    let live = Live {
        first: Some(event(state.rank(), &state)),
        rank: state.rank(),
        last_read: tokio::time::Instant::now(),
        done: state.status.is_final(),
        updates,
        deadline: tokio::time::Instant::now() + EVENTS_LIMIT,
        connects,
        bridge: s.bridge.clone(),
        user,
        request_id: id,
        submission_id,
    };
    let stream = futures::stream::unfold(live, |mut live| async move {
        if let Some(first) = live.first.take() {
            return Some((Ok::<_, Infallible>(first), live));
        }
        if live.done {
            return None;
        }
        loop {
            if tokio::time::Instant::now() >= live.deadline {
                return None;
            }
            let msg = match tokio::time::timeout(RESYNC_EVERY, live.updates.next()).await {
                Ok(msg) => msg?,
                Err(_) => {
                    // Reconnected to NATS (our node died, say) since the state was last read: an
                    // update published meanwhile was missed, so the stored state is read again.
                    // Also after a long quiet spell, in case a reconnect went unnoticed.
                    let connects = live.bridge.client.statistics().connects.load(Ordering::Relaxed);
                    let quiet = live.last_read.elapsed() >= REREAD_AFTER;
                    if connects == live.connects && !quiet {
                        continue;
                    }
                    match current_state(&live.bridge, &live.user, &live.request_id, &live.submission_id).await
                    {
                        Ok(Ok(state)) => {
                            live.connects = connects;
                            live.last_read = tokio::time::Instant::now();
                            // The store may lag behind what was streamed: nothing new then.
                            if state.rank() <= live.rank && !state.status.is_final() {
                                continue;
                            }
                            live.rank = state.rank();
                            live.done = state.status.is_final();
                            return Some((Ok(event(state.rank(), &state)), live));
                        }
                        // Not answered (the workers may be reconnecting too): asked again on the
                        // next quiet second, until it is.
                        _ => continue,
                    }
                }
            };
            let Ok(update) = serde_json::from_slice::<GradingUpdate>(&msg.payload) else {
                continue;
            };
            let change = StatusEvent::from_update(&update);
            let rank = StatusEvent::rank(change.judging, change.status, change.progress);
            // Behind what was streamed (an update of an earlier judging, or one overtaken):
            // nothing new.
            if rank < live.rank {
                continue;
            }
            live.done = change.status.is_final();
            live.rank = rank;
            return Some((Ok(event(rank, &change)), live));
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// How often a quiet live stream checks whether the edge reconnected to NATS meanwhile.
const RESYNC_EVERY: Duration = Duration::from_secs(1);

/// How long a live stream may stay quiet before the stored state is read again anyway.
const REREAD_AFTER: Duration = Duration::from_secs(15);

/// The submission as the submission service has it, or the service's answer when that is not
/// 200.
async fn current_state(
    bridge: &crate::bridge::Bridge,
    user: &AuthUser,
    id: &RequestId,
    submission_id: &str,
) -> Result<Result<Submission, Response>, ApiError> {
    let current = bridge
        .call_about(
            submission::SUBMISSIONS_GET,
            Some(user),
            id,
            Some(submission_id),
            Bytes::new(),
        )
        .await?;
    if current.status() != StatusCode::OK {
        return Ok(Err(current));
    }
    let body = axum::body::to_bytes(current.into_body(), 16 << 20)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    serde_json::from_slice(&body)
        .map(Ok)
        .map_err(|e| ApiError::Unavailable(format!("the submission service answered {e}")))
}

/// One client's live stream.
struct Live {
    first: Option<Event>,
    done: bool,
    updates: async_nats::Subscriber,
    deadline: tokio::time::Instant,
    /// The NATS client's connection count when the state was last read.
    connects: u64,
    /// When the stored state was last read.
    last_read: tokio::time::Instant,
    /// The furthest state streamed so far (`StatusEvent::rank`).
    rank: u64,
    bridge: crate::bridge::Bridge,
    user: AuthUser,
    request_id: RequestId,
    submission_id: String,
}

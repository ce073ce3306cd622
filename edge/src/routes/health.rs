//! Liveness, readiness and metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use common::jobs;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Object)))]
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// NATS is connected, every required service answers a service-API ping, and the grading
/// pipeline's streams and consumers answer their info with a leader and a quorum of current
/// replicas (a node's own `/healthz` says ok before it has caught up, so it is not asked).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = Object),
        (status = 503, description = "Not ready: what is down", body = Object)))]
async fn readyz(State(s): State<AppState>) -> Response {
    let nats = s.bridge.client.connection_state() == async_nats::connection::State::Connected;
    let mut services = serde_json::Map::new();
    let mut ready = nats;
    for name in s.ready_services.iter() {
        let subject = common::subjects::service_ping(name);
        let ping = tokio::time::timeout(
            Duration::from_secs(1),
            s.bridge.client.request(subject, "".into()),
        )
        .await;
        let ok = matches!(ping, Ok(Ok(_)));
        ready &= ok;
        services.insert(name.clone(), json!(if ok { "up" } else { "down" }));
    }
    let js = async_nats::jetstream::new(s.bridge.client.clone());
    let mut streams = serde_json::Map::new();
    for (stream, consumer) in [
        (jobs::JOBS_STREAM, jobs::JUDGE_CONSUMER),
        (jobs::RESULTS_STREAM, jobs::RESULTS_CONSUMER),
    ] {
        let state = tokio::time::timeout(Duration::from_secs(1), stream_state(&js, stream, consumer))
            .await
            .unwrap_or_else(|_| Err("no answer in 1 s".to_owned()));
        ready &= state.is_ok();
        streams.insert(
            stream.to_owned(),
            match state {
                Ok(v) => v,
                Err(e) => json!({"status": "down", "error": e}),
            },
        );
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({"status": if ready {"ready"} else {"not_ready"}, "nats": if nats {"up"} else {"down"}, "services": services, "streams": streams});
    (status, Json(body)).into_response()
}

/// A stream and its consumer as their info says: up when both answer, the stream has a leader
/// and, on a cluster, a majority of its replicas (the leader included) is current.
async fn stream_state(
    js: &async_nats::jetstream::Context,
    stream: &str,
    consumer: &str,
) -> Result<serde_json::Value, String> {
    let mut s = js.get_stream(stream).await.map_err(|e| e.to_string())?;
    let info = s.info().await.map_err(|e| e.to_string())?.clone();
    s.consumer_info(consumer).await.map_err(|e| e.to_string())?;
    let Some(cluster) = info
        .cluster
        .filter(|c| !c.replicas.is_empty() || c.leader.is_some())
    else {
        return Ok(json!({"status": "up", "replicas": 1}));
    };
    let leader = cluster
        .leader
        .ok_or_else(|| "no leader (an election?)".to_owned())?;
    let replicas = cluster.replicas.len() + 1;
    let current = 1 + cluster
        .replicas
        .iter()
        .filter(|r| r.current && !r.offline)
        .count();
    if current * 2 <= replicas {
        return Err(format!("{current} of {replicas} replicas current"));
    }
    Ok(json!({"status": "up", "leader": leader, "replicas": replicas, "current": current}))
}

/// Prometheus metrics of the edge, text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics_handle.render(),
    )
        .into_response()
}

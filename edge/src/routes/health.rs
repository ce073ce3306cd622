//! Liveness, readiness and metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

/// NATS is connected and every required service answers a service-API ping.
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
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({"status": if ready {"ready"} else {"not_ready"}, "nats": if nats {"up"} else {"down"}, "services": services});
    (status, Json(body)).into_response()
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

//! The HTTP edge: the only listener. It verifies access tokens with the public key, applies CORS,
//! limits and request ids, and turns each call into a NATS request to the worker that owns the
//! resource.
//!
//! May use: NATS (requests to the workers, the results subjects for live status), the public
//! key. Must not: hold business logic, a database connection or the private key — a compromised
//! edge can check tokens but never mint them, and never reads a collection.

pub mod bridge;
pub mod config;
pub mod error;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod token;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tower::util::MapRequestLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;

pub use config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("public key: {0}")]
    Key(#[from] jsonwebtoken::errors::Error),
    #[error("nats connect: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
    #[error("CORS origin {0:?} is not a valid header value")]
    Origin(String),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("openapi: {0}")]
    OpenApi(String),
}

/// What every handler can reach: one `Arc`, so the per-request clones axum makes (each
/// `State` extractor and `from_fn_with_state` layer takes its own) cost one reference count,
/// not a copy of the NATS client and every field. Measured in-process (the router called with
/// `GET /healthz`, no socket): 17 µs of CPU per request with the copies, 11–12 µs without.
pub type AppState = Arc<Shared>;

/// The edge's shared state, behind [`AppState`].
pub struct Shared {
    pub bridge: bridge::Bridge,
    pub verifier: token::Verifier,
    pub cors_origins: Vec<String>,
    pub ready_services: Vec<String>,
    pub metrics: PrometheusRecorder,
    pub metrics_handle: PrometheusHandle,
    /// The deadline of a request (`?wait=true` waits a little less).
    pub request_timeout: Duration,
}

/// A bound, ready-to-serve edge (the `Application` of zero-to-production: tests bind port 0 and
/// read the port back).
pub struct Edge {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    client: async_nats::Client,
}

fn cors(origins: &[String]) -> Result<CorsLayer, EdgeError> {
    let values = origins
        .iter()
        .map(|o| HeaderValue::from_str(o).map_err(|_| EdgeError::Origin(o.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(values))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("last-event-id"),
            HeaderName::from_static("x-auth-token"),
            middleware::X_REQUEST_ID,
        ])
        .expose_headers([header::LOCATION, header::RETRY_AFTER, middleware::X_REQUEST_ID])
        .max_age(Duration::from_secs(600)))
}

impl Edge {
    pub async fn bind(settings: Settings) -> Result<Edge, EdgeError> {
        let verifier = token::Verifier::from_public_pem(&settings.public_key_pem)?;
        let client = common::nats::connect(&settings.nats, "edge").await?;
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
            .map_err(|e| EdgeError::Metrics(e.to_string()))?
            .build_recorder();
        let state: AppState = Arc::new(Shared {
            bridge: bridge::Bridge {
                client: client.clone(),
            },
            verifier,
            cors_origins: settings.cors_origins.clone(),
            ready_services: settings.ready_services.clone(),
            metrics_handle: recorder.handle(),
            request_timeout: settings.request_timeout,
            metrics: recorder,
        });
        let (router, api) = routes::router().split_for_parts();
        let api = Arc::new(api.to_json().map_err(|e| EdgeError::OpenApi(e.to_string()))?);
        let router = router
            .merge(web::router())
            .merge(routes::judge0::router())
            .route(
                "/api/openapi.json",
                axum::routing::get(move || {
                    let api = api.clone();
                    async move { ([(header::CONTENT_TYPE, "application/json")], api.as_str().to_owned()) }
                }),
            )
            // Innermost first: the deadline and metrics see routed requests. The deadline bounds
            // the time to a response (an SSE stream's body is bounded by its own limit).
            .layer(TimeoutLayer::with_status_code(
                StatusCode::GATEWAY_TIMEOUT,
                settings.request_timeout,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::metrics,
            ))
            .layer(DefaultBodyLimit::max(settings.body_limit))
            .layer(axum::middleware::from_fn(middleware::problem_errors))
            .layer(cors(&settings.cors_origins)?)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::strip_foreign_cors,
            ))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &axum::http::Request<_>| {
                        let id = req
                            .headers()
                            .get(&middleware::X_REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
                    })
                    .on_request(())
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO).latency_unit(LatencyUnit::Millis))
                    // A 5xx here is a worker or broker being away, already logged where it
                    // happened: a warning, not an error of the edge.
                    .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(MapRequestLayer::new(middleware::sanitize_request_id))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind(settings.addr).await?;
        Ok(Edge {
            listener,
            router,
            client,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves: then stops accepting, finishes requests in flight and
    /// drains the NATS connection.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), EdgeError> {
        tracing::info!(addr = %self.local_addr(), "edge listening");
        // TCP_NODELAY, which axum leaves off: a response hyper writes in more than one piece (a
        // live status stream's events, a body past its buffer) must not wait for the client's
        // delayed ACK of the piece before.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY on an accepted connection");
            }
        });
        axum::serve(listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await?;
        common::service::drain(&self.client).await;
        tracing::info!("edge stopped");
        Ok(())
    }
}

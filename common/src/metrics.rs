//! Prometheus metrics of the NATS services. Each worker process serves its own `/metrics` on
//! `METRICS_ADDR` when that is set (the edge serves its own on its HTTP port); the README lists
//! what each one exports and where to scrape it. Recording through the `metrics` macros costs
//! next to nothing when no recorder is installed, so libraries record unconditionally.

use std::net::SocketAddr;

use crate::config::{self, ConfigError};

/// `METRICS_ADDR`: where this process serves `/metrics` (e.g. `0.0.0.0:9101`); unset: nowhere.
pub fn addr_from_env() -> Result<Option<SocketAddr>, ConfigError> {
    match config::var("METRICS_ADDR") {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|e| ConfigError {
            name: "METRICS_ADDR".to_owned(),
            message: format!("cannot parse {v:?}: {e}"),
        }),
    }
}

/// Installs this process's Prometheus recorder and serves it at `http://addr/metrics`. Must run
/// inside a tokio runtime. A process that has a recorder already (several services in one test
/// process) keeps the first one, and says so.
pub fn serve(addr: SocketAddr) {
    let installed = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets(&[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ])
        .and_then(|b| b.install());
    match installed {
        Ok(()) => tracing::info!(%addr, "serving metrics at /metrics"),
        Err(e) => tracing::warn!(%addr, error = %e, "metrics not served (a recorder is installed already?)"),
    }
}

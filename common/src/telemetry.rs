//! Installs the `tracing` subscriber once per binary: human-readable by default, JSON lines when
//! `LOG_FORMAT=json`, filtered by `RUST_LOG`, written to standard error (standard output stays
//! free for what a command prints, such as `judge-worker judge --json`). Colours only on a
//! terminal: `make run` writes each service's log to a file, which escape codes made hard to
//! read and grep.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

/// The filter of the long-running services when `RUST_LOG` is unset.
pub const SERVICE_DEFAULT: &str = "info,async_nats=warn,mongodb=warn";

/// Installs the subscriber for a long-running service (default filter [`SERVICE_DEFAULT`]).
pub fn init(service: &'static str) {
    init_with_default(service, SERVICE_DEFAULT);
}

/// Installs the subscriber with `default_filter` when `RUST_LOG` is unset (a command-line tool
/// passes `warn` so its output is not drowned in progress logs).
pub fn init_with_default(service: &'static str, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    if result.is_ok() {
        tracing::info!(service, version = env!("CARGO_PKG_VERSION"), "starting");
    }
}

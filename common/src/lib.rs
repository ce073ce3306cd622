//! The wire contract every service shares, and nothing else: the HTTP API's documents
//! ([`api`]), the auth messages and token claims ([`auth`]), the grading pipeline's streams and
//! messages ([`jobs`]), every NATS subject and header name ([`subjects`]), RFC 9457 problem
//! documents ([`problem`]), and how a service reads its configuration, connects to NATS, answers
//! requests and logs ([`config`], [`nats`], [`service`], [`telemetry`]).
//!
//! May use: serde, NATS, the package format's own types. Must not: talk to a database or run
//! code — every service links this crate, the judge's machine included.

pub mod api;
pub mod auth;
pub mod config;
pub mod jobs;
pub mod metrics;
pub mod nats;
pub mod problem;
pub mod retry;
pub mod service;
pub mod subjects;
pub mod telemetry;

pub use api::{GroupResult, JudgeReport, TestResult, Verdict};
pub use problem::{FieldError, Problem};

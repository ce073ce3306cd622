//! What the online judge's services share: message types, subject names, configuration and
//! telemetry setup. Kept small: anything only one service needs lives in that service.

pub mod auth;
pub mod config;
pub mod jobs;
pub mod nats;
pub mod problem;
pub mod service;
pub mod subjects;
pub mod telemetry;
pub mod verdict;

pub use problem::{FieldError, Problem};
pub use verdict::{JudgeReport, TestResult, Verdict};

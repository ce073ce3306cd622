//! What the online judge's services share: message types, subject names, configuration and
//! telemetry setup. Kept small: anything only one service needs lives in that service.

pub mod verdict;

pub use verdict::{JudgeReport, TestResult, Verdict};

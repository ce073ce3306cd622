//! The judge engine: compiles and runs untrusted submissions in a sandbox and grades them against
//! ICPC / Kattis problem packages.
//!
//! Three rooms, as in go-judge: [`sandbox`] runs a program with limits and knows nothing about
//! problems; [`judge`] turns a package, a language and a source into a [`common::JudgeReport`]
//! and knows nothing about NATS; the command line (`main.rs`) and the NATS service sit outside.

pub mod judge;
pub mod language;
pub mod package;
pub mod sandbox;
pub mod validator;

pub use judge::{Judge, JudgeConfig, JudgeError, JudgeOptions, Progress};
pub use language::LanguageInfo;
pub use package::{PackageError, ProblemPackage};

//! The judge: compiles and runs untrusted submissions in the sandbox and grades them against
//! ICPC / Kattis problem packages.
//!
//! Three rooms, as in go-judge: the `sandbox` crate runs a program with limits and knows nothing
//! about problems; [`judge`] (with [`language`]) turns a package (read by the `problem-package`
//! crate), a language and a source into a [`common::JudgeReport`] and knows nothing about NATS;
//! [`serve`] and the command line (`main.rs`) sit outside and only move jobs and reports.
//!
//! May use: the sandbox, the package format, the wire contract in `common`, NATS (in `serve`).
//! Must not: hold database credentials or link a database driver — this is the machine that runs
//! untrusted code (`make test` checks the dependency tree).
//!
//! ```no_run
//! use judge_worker::{Judge, JudgeConfig, JudgeOptions, Progress};
//! use problem_package::ProblemPackage;
//!
//! // Once per process: finds the toolchains, prepares one sandbox slot per core.
//! let judge = Judge::new(JudgeConfig::default())?;
//! for lang in judge.languages() {
//!     println!("{} {} {}", lang.id, lang.name, lang.version);
//! }
//! // Once per problem (refused with every reason when malformed); serde-serialisable metadata.
//! let package = ProblemPackage::load("examples/problems/aplusb")?;
//! // Per submission, from any thread; blocks while it compiles and runs.
//! let report = judge.judge(&package, "cpp", b"int main() {}", &JudgeOptions::default(), |p| match p {
//!     Progress::Compiling => {}
//!     Progress::Running { test, of } => println!("test {test}/{of}"),
//! });
//! println!("{}", report.verdict);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The binary must be able to start itself as the sandbox's zygote: a program embedding this
//! library calls `sandbox::zygote::zygote_main` first thing in `main` when its first argument
//! is `sandbox::ZYGOTE_ARG` (as `judge-worker`'s own `main` does), or points
//! [`JudgeConfig::helper`] at the `judge-worker` binary.

pub mod judge;
pub mod jvm;
pub mod language;
pub mod serve;
pub mod verify;

pub use judge::{Judge, JudgeConfig, JudgeError, JudgeOptions, Overshoot, Progress};
pub use language::LanguageInfo;

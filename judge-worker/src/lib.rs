//! The judge engine: compiles and runs untrusted submissions in a sandbox and grades them against
//! ICPC / Kattis problem packages.
//!
//! Three rooms, as in go-judge: [`sandbox`] runs a program with limits and knows nothing about
//! problems; [`judge`] turns a package, a language and a source into a [`common::JudgeReport`]
//! and knows nothing about NATS; the command line (`main.rs`) and the NATS service sit outside.
//!
//! ```no_run
//! use judge_worker::{Judge, JudgeConfig, JudgeOptions, ProblemPackage, Progress};
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
//! library calls [`sandbox::zygote::zygote_main`] first thing in `main` when its first argument
//! is [`sandbox::ZYGOTE_ARG`] (as `judge-worker`'s own `main` does), or points
//! [`JudgeConfig::helper`] at the `judge-worker` binary.

pub mod archive;
pub mod judge;
pub mod language;
pub mod package;
pub mod sandbox;
pub mod serve;
pub mod validator;

pub use judge::{Judge, JudgeConfig, JudgeError, JudgeOptions, Progress};
pub use language::LanguageInfo;
pub use package::{PackageError, ProblemPackage};

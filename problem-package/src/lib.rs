//! Problem packages in the ICPC / Kattis problem package format (problemarchive.org): the legacy
//! format and the 2023-07 draft.
//!
//! What is read:
//! - `problem.yaml`: `name` (a string, or a map of language to string), `problem_format_version`
//!   (`legacy` when absent, or `2023-07-draft`), `limits` (`time_limit` in seconds, `memory` and
//!   `output` in MiB), `validation` and `validator_flags` (legacy), `type` (2023-07).
//! - The time limit: `limits.time_limit`, else `timelimit` in DOMjudge's `domjudge-problem.ini`,
//!   else a `.timelimit` file beside `problem.yaml` (DOMjudge's convention, seconds), else the
//!   judge's configured default. `problem.yaml` itself may be missing (DOMjudge judges such
//!   packages): a warning, and the legacy defaults.
//! - `data/sample` and `data/secret`: `NAME.in` with `NAME.ans`; subdirectories are test groups;
//!   files and groups are taken in lexicographic order, samples first.
//! - Output validator flags: `validator_flags` (legacy); `output_validator_flags` in
//!   `testdata.yaml` (2023-07), the nearest one above a test case applying.
//! - A custom output validator: `output_validators/<name>/` (legacy, with `validation: custom`) or
//!   `output_validator/` (2023-07).
//! - Statements: `problem_statement/problem[.LANG].{md,tex,html,pdf}` (legacy),
//!   `statement/problem.LANG.{md,tex,html,pdf}` (2023-07), `problem.{pdf,html,txt}` at the root
//!   (DOMjudge), kept with their format for the API.
//!
//! A package the judge cannot judge correctly is refused by [`ProblemPackage::load`], with every
//! reason at once. What is odd but judgeable — no statement, sample data only, an answer file
//! without its input — is accepted and listed in [`ProblemPackage::warnings`].
//!
//! This crate is the format and nothing else: it reads, checks, zips and unzips packages and
//! knows the default output validator's comparison. It never runs code, talks to NATS or touches
//! a database; the judge (which runs the package's programs in the sandbox) and the submission
//! worker (which stores uploads) both build on it.

pub mod archive;
pub mod domjudge;
mod package;
pub mod scoring;
mod statement;
pub mod submissions;
pub mod validator;
pub mod verify;

pub use archive::{pack_zip, unpack_zip, ArchiveError, ArchiveLimits};
pub use package::*;
pub use statement::{Statement, StatementFormat};

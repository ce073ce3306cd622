//! Running one test case and validating its output.

use std::fs::File;
use std::os::fd::AsFd;

use common::{TestResult, Verdict};

use super::compile::{truncate, Program};
use super::{Failure, Judge};
use crate::language::with_memory;
use problem_package::validator::{self, DefaultValidator, Judgement};
use problem_package::{ProblemPackage, TestCase};
use sandbox::files;
use sandbox::{Captured, Command, ExitStatus, LimitExceeded, Limits, RunResult, Sandbox, Sink, Stdio};

/// Standard error kept of a run (head and tail): enough for a runtime's out-of-memory message at
/// the end and a learner's first error at the start.
const STDERR_KEEP: usize = 64 * 1024;
/// Standard error shown with a sample test's result.
const STDERR_SHOWN: usize = 4 * 1024;

impl Judge {
    pub(super) fn run_test(
        &self,
        slot: &mut Sandbox,
        package: &ProblemPackage,
        program: &Program,
        validator: Option<&Program>,
        test: &TestCase,
        index: u32,
    ) -> TestResult {
        let mut result = TestResult {
            index,
            name: test.name.clone(),
            verdict: Verdict::InternalError,
            time_ms: 0,
            wall_time_ms: 0,
            memory_kb: 0,
            detail: None,
            stderr: None,
        };
        match self.try_run_test(slot, package, program, validator, test, &mut result) {
            Ok(()) => {}
            Err(Failure::Verdict(v, detail)) => {
                result.verdict = v;
                result.detail = (!detail.is_empty()).then_some(detail);
            }
            Err(Failure::Internal(e)) => {
                result.verdict = Verdict::InternalError;
                result.detail = Some(e);
            }
        }
        result
    }

    fn try_run_test(
        &self,
        slot: &mut Sandbox,
        package: &ProblemPackage,
        program: &Program,
        validator: Option<&Program>,
        test: &TestCase,
        result: &mut TestResult,
    ) -> Result<(), Failure> {
        slot.clean()?;
        let out_path = self.run_batch(
            slot,
            package,
            program,
            &test.input,
            test.name.starts_with("sample/"),
            result,
        )?;
        let judgement = match validator {
            None => {
                let flags = DefaultValidator::from_flags(&test.validator_flags).map_err(Failure::Internal)?;
                let out = std::fs::read(&out_path)?;
                let ans = std::fs::read(&test.answer)?;
                flags.judge(&out, &ans)
            }
            Some(v) => self.run_validator(slot, v, test, &out_path)?,
        };
        match judgement {
            Judgement::Accepted => {
                result.verdict = Verdict::Accepted;
                Ok(())
            }
            Judgement::WrongAnswer(why) => Err(Failure::Verdict(Verdict::WrongAnswer, why)),
        }
    }

    /// Runs the submission on `input` (a host path) with its output to a file of the slot's,
    /// whose path it returns; a run that failed or went over a limit is the matching verdict.
    /// Its figures go to `result` (the largest of several runs, for multi-pass problems), and its
    /// standard error too when `show_stderr`.
    pub(super) fn run_batch(
        &self,
        slot: &mut Sandbox,
        package: &ProblemPackage,
        program: &Program,
        input: &std::path::Path,
        show_stderr: bool,
        result: &mut TestResult,
    ) -> Result<std::path::PathBuf, Failure> {
        let time_limit = package.time_limit();
        let limits = self.submission_limits(package, program);
        let input = File::open(input)?;
        let out_path = slot.io_dir().join("output");
        let output = File::create(&out_path)?;
        let cmd = Command {
            argv: with_memory(&program.run, package.limits.memory_bytes),
            env: with_memory(&program.env, package.limits.memory_bytes),
            cwd: "/box".into(),
        };
        // Standard output is the answer, bounded by the output limit; standard error is never
        // output: captured, bounded, never counted against any limit.
        let run = slot.run(
            &cmd,
            &limits,
            Stdio {
                stdin: Some(input.as_fd()),
                stdout: Sink::Fd(output.as_fd()),
                stderr: Sink::Capture(STDERR_KEEP),
            },
        )?;
        // Only a sample's: a secret test's standard error could carry its data out.
        if show_stderr && run.captured.total > 0 {
            result.stderr = Some(shown(&run.captured));
        }
        record_figures(result, &run);
        let output_len = output.metadata()?.len();
        if let Some(e) = &run.exec_error {
            return Err(Failure::Internal(format!("cannot start the program: {e}")));
        }
        match run.limit {
            Some(LimitExceeded::CpuTime) => {
                return Err(Failure::Verdict(
                    Verdict::TimeLimitExceeded,
                    format!("CPU time over {} ms", time_limit.as_millis()),
                ))
            }
            Some(LimitExceeded::WallTime) => {
                return Err(Failure::Verdict(
                    Verdict::TimeLimitExceeded,
                    format!("wall time over {} ms", limits.wall_time.as_millis()),
                ))
            }
            Some(LimitExceeded::Memory) => {
                return Err(Failure::Verdict(
                    Verdict::MemoryLimitExceeded,
                    format!("memory over {} MiB", package.limits.memory_bytes >> 20),
                ))
            }
            Some(LimitExceeded::FileSize) => {
                return Err(Failure::Verdict(
                    Verdict::OutputLimitExceeded,
                    format!("output over {} bytes", package.limits.output_bytes),
                ))
            }
            None => {}
        }
        if output_len > package.limits.output_bytes
            || (output_len >= package.limits.output_bytes && !run.status.success())
        {
            return Err(Failure::Verdict(
                Verdict::OutputLimitExceeded,
                format!("output over {} bytes", package.limits.output_bytes),
            ));
        }
        if !run.status.success() {
            if runtime_ran_out_of_memory(&run.captured, &program.out_of_memory) {
                return Err(Failure::Verdict(
                    Verdict::MemoryLimitExceeded,
                    format!(
                        "the runtime's heap is full ({} MiB)",
                        package.limits.memory_bytes >> 20
                    ),
                ));
            }
            return Err(Failure::Verdict(Verdict::RuntimeError, run.status.to_string()));
        }
        Ok(out_path)
    }

    /// The limits of one run of the submission.
    pub(super) fn submission_limits(&self, package: &ProblemPackage, program: &Program) -> Limits {
        let time_limit = package.time_limit();
        Limits {
            cpu_time: time_limit,
            wall_time: self.config.wall_time_overshoot.wall_limit(time_limit),
            memory: package.limits.memory_bytes + program.memory_allowance,
            processes: self.config.max_processes,
            // The output limit, unless the runtime sizes files of its own beyond it (BEAM's JIT
            // maps its code through an 8 MiB memfd): then the output's size is checked below.
            file_size: package.limits.output_bytes.max(program.min_file_size),
            open_files: 256,
            stack: Some(package.limits.memory_bytes),
            address_space: None,
        }
    }

    fn run_validator(
        &self,
        slot: &mut Sandbox,
        validator: &Program,
        test: &TestCase,
        out_path: &std::path::Path,
    ) -> Result<Judgement, Failure> {
        slot.clean()?;
        let box_dir = slot.box_dir();
        files::write_new(&box_dir, "input", &std::fs::read(&test.input)?, 0o644)?;
        files::write_new(&box_dir, "answer", &std::fs::read(&test.answer)?, 0o644)?;
        let feedback = box_dir.join("feedback");
        std::fs::create_dir(&feedback)?;
        let uid = std::fs::metadata(&box_dir).map(|m| std::os::unix::fs::MetadataExt::uid(&m))?;
        std::os::unix::fs::chown(&feedback, Some(uid), Some(uid))?;
        let mut argv = validator.run.clone();
        argv.extend([
            "/box/input".to_owned(),
            "/box/answer".to_owned(),
            "/box/feedback/".to_owned(),
        ]);
        argv.extend(test.validator_flags.iter().cloned());
        let team = File::open(out_path)?;
        let run = slot.run(
            &Command {
                argv,
                env: validator.env.clone(),
                cwd: "/box".into(),
            },
            &self.config.validator_limits,
            Stdio {
                stdin: Some(team.as_fd()),
                stdout: Sink::Capture(4096),
                stderr: Sink::Capture(4096),
            },
        )?;
        let message = files::read_regular(&feedback, "judgemessage.txt", 4096)?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let code = match run.status {
            ExitStatus::Exited(c) if run.limit.is_none() && run.exec_error.is_none() => Some(c),
            _ => None,
        };
        validator::custom_outcome(code, &message).ok_or_else(|| {
            Failure::Internal(format!(
                "output validator failed ({}{}): {}",
                describe(&run),
                run.exec_error
                    .as_deref()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default(),
                truncate(&run.captured.text(), 500)
            ))
        })
    }
}

/// Puts a run's figures into a test's result, keeping the larger ones of an earlier pass.
pub(super) fn record_figures(result: &mut TestResult, run: &RunResult) {
    result.time_ms = result.time_ms.max(run.cpu_time.as_millis() as u64);
    result.wall_time_ms = result.wall_time_ms.max(run.wall_time.as_millis() as u64);
    result.memory_kb = result.memory_kb.max(run.memory / 1024);
}

/// Whether the run's standard error holds one of the runtime's out-of-memory messages.
pub(super) fn runtime_ran_out_of_memory(stderr: &Captured, messages: &[String]) -> bool {
    if messages.is_empty() {
        return false;
    }
    let text = stderr.text();
    messages.iter().any(|m| text.contains(m.as_str()))
}

/// A run's standard error as shown to a learner: its start and its end.
fn shown(stderr: &Captured) -> String {
    truncate(&stderr.text(), STDERR_SHOWN)
}

fn describe(run: &RunResult) -> String {
    match run.limit {
        Some(l) => format!("{l:?} limit"),
        None => run.status.to_string(),
    }
}

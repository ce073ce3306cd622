//! Running one test case and validating its output.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use common::api::{Feedback, FirstDifference, Output};
use common::{TestResult, Verdict};

use super::compile::{truncate, Program};
use super::{Failure, Judge};
use crate::language::with_memory;
use problem_package::validator::{self, DefaultValidator, Judgement};
use problem_package::{ProblemLimits, ProblemPackage, TestCase};
use sandbox::files;
use sandbox::{Captured, Command, ExitStatus, LimitExceeded, Limits, RunResult, Sandbox, Sink, Stdio};

/// Standard error kept of a run (head and tail): enough for a runtime's out-of-memory message at
/// the end and a learner's first error at the start.
const STDERR_KEEP: usize = 64 * 1024;
/// Standard error shown with a sample test's result.
pub(super) const STDERR_SHOWN: usize = 4 * 1024;

impl Judge {
    /// Runs one test and judges its output; also gives the execution (when the program ran),
    /// whose output is in the slot until the next run.
    pub(super) fn run_test(
        &self,
        slot: &mut Sandbox,
        package: &ProblemPackage,
        program: &Program,
        validator: Option<&Program>,
        test: &TestCase,
        index: u32,
    ) -> (TestResult, Option<Execution>) {
        let mut result = TestResult {
            index,
            name: test.name.clone(),
            verdict: Verdict::InternalError,
            time_ms: 0,
            wall_time_ms: 0,
            memory_kb: 0,
            detail: None,
            stderr: None,
            exit_code: None,
            signal: None,
            feedback: None,
        };
        let apply = |result: &mut TestResult, failure: Failure| match failure {
            Failure::Verdict(v, detail) => {
                result.verdict = v;
                result.detail = (!detail.is_empty()).then_some(detail);
            }
            Failure::Internal(e) => {
                result.verdict = Verdict::InternalError;
                result.detail = Some(e);
            }
        };
        let exec = match self.execute(slot, &package.limits, program, &test.input) {
            Ok(exec) => exec,
            Err(failure) => {
                apply(&mut result, failure);
                return (result, None);
            }
        };
        let run = &exec.run;
        // Only a sample's: a secret test's standard error could carry its data out.
        if test.name.starts_with("sample/") && run.captured.total > 0 {
            result.stderr = Some(shown(&run.captured));
        }
        result.time_ms = run.cpu_time.as_millis() as u64;
        result.wall_time_ms = run.wall_time.as_millis() as u64;
        result.memory_kb = run.memory / 1024;
        (result.exit_code, result.signal) = exit_of(run.status);
        let judged = run_failure(&exec, &package.limits, program)
            .and_then(|()| self.judge_output(slot, validator, test, &exec.out_path));
        match judged {
            Ok(()) => result.verdict = Verdict::Accepted,
            Err(failure) => apply(&mut result, failure),
        }
        (result, Some(exec))
    }

    /// Runs the program on `input` with `limits`, its standard output going to
    /// [`Execution::out_path`] (bounded by the output limit) and its standard error captured.
    pub(super) fn execute(
        &self,
        slot: &mut Sandbox,
        limits: &ProblemLimits,
        program: &Program,
        input: &Path,
    ) -> Result<Execution, Failure> {
        let sandbox_limits = self.sandbox_limits(limits, program);
        let out_path = slot.io_dir().join("output");
        let cmd = Command {
            argv: with_memory(&program.run, limits.memory_bytes),
            env: with_memory(&program.env, limits.memory_bytes),
            cwd: "/box".into(),
        };
        let attempt = || {
            slot.clean()?;
            let input = File::open(input)?;
            let output = File::create(&out_path)?;
            // Standard output is the answer, bounded by the output limit; standard error is
            // never output: captured, bounded, never counted against any limit.
            let run = slot.run(
                &cmd,
                &sandbox_limits,
                Stdio {
                    stdin: Some(input.as_fd()),
                    stdout: Sink::Fd(output.as_fd()),
                    stderr: Sink::Capture(STDERR_KEEP),
                },
            )?;
            metrics::histogram!("judge_run_seconds", "language" => program.language.clone())
                .record(run.cpu_time.as_secs_f64());
            let output_len = output.metadata()?.len();
            Ok(Execution {
                run,
                out_path: out_path.clone(),
                output_len,
                wall_limit: sandbox_limits.wall_time,
            })
        };
        super::again_while_busy("a test", attempt, |e: &Execution| &e.run)
    }

    /// The sandbox limits of one run of a submission under the problem's `limits`.
    pub(super) fn sandbox_limits(&self, limits: &ProblemLimits, program: &Program) -> Limits {
        let time_limit = limits.time_limit();
        Limits {
            cpu_time: time_limit,
            wall_time: self.config.wall_time_overshoot.wall_limit(time_limit),
            memory: limits.memory_bytes + program.memory_allowance,
            processes: self.config.max_processes,
            // The output limit, unless the runtime sizes files of its own beyond it (BEAM's JIT
            // maps its code through an 8 MiB memfd): then the output's size is checked after.
            file_size: limits.output_bytes.max(program.min_file_size),
            open_files: 256,
            stack: Some(limits.memory_bytes),
            address_space: None,
        }
    }

    /// The limits of one run of the submission on `package`.
    pub(super) fn submission_limits(&self, package: &ProblemPackage, program: &Program) -> Limits {
        self.sandbox_limits(&package.limits, program)
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
        input: &Path,
        show_stderr: bool,
        result: &mut TestResult,
    ) -> Result<PathBuf, Failure> {
        let exec = self.execute(slot, &package.limits, program, input)?;
        if show_stderr && exec.run.captured.total > 0 {
            result.stderr = Some(shown(&exec.run.captured));
        }
        record_figures(result, &exec.run);
        (result.exit_code, result.signal) = exit_of(exec.run.status);
        run_failure(&exec, &package.limits, program)?;
        Ok(exec.out_path)
    }

    /// Judges a finished run's output against the test's answer.
    fn judge_output(
        &self,
        slot: &mut Sandbox,
        validator: Option<&Program>,
        test: &TestCase,
        out_path: &Path,
    ) -> Result<(), Failure> {
        let judgement = match validator {
            None => {
                let flags = DefaultValidator::from_flags(&test.validator_flags).map_err(Failure::Internal)?;
                let out = std::fs::read(out_path)?;
                let ans = std::fs::read(&test.answer)?;
                flags.judge(&out, &ans)
            }
            Some(v) => self.run_validator(slot, v, test, out_path)?,
        };
        match judgement {
            Judgement::Accepted => Ok(()),
            Judgement::WrongAnswer(why) => Err(Failure::Verdict(Verdict::WrongAnswer, why)),
        }
    }

    fn run_validator(
        &self,
        slot: &mut Sandbox,
        validator: &Program,
        test: &TestCase,
        out_path: &std::path::Path,
    ) -> Result<Judgement, Failure> {
        let (command, feedback) = prepare_validator(slot, validator, test)?;
        let attempt = || {
            let team = File::open(out_path)?;
            Ok(slot.run(
                &command,
                &self.config.validator_limits,
                Stdio {
                    stdin: Some(team.as_fd()),
                    stdout: Sink::Capture(4096),
                    stderr: Sink::Capture(4096),
                },
            )?)
        };
        let run = super::again_while_busy("an output validator", attempt, |r| r)?;
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

/// Cleans a validator's slot and prepares its `/box` for `test`: the input, the answer and an
/// empty feedback directory the validator may write. Gives the command that runs it as the format
/// says (`validator input answer feedback_dir [flags]`) and the feedback directory's host path.
pub(super) fn prepare_validator(
    slot: &mut Sandbox,
    validator: &Program,
    test: &TestCase,
) -> Result<(Command, PathBuf), Failure> {
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
    let command = Command {
        argv,
        env: validator.env.clone(),
        cwd: "/box".into(),
    };
    Ok((command, feedback))
}

/// The first `limit` bytes of a file as text, and whether there was more.
pub(super) fn head_of(path: &Path, limit: usize) -> Output {
    use std::io::Read;
    let mut bytes = Vec::new();
    let read = File::open(path).and_then(|f| f.take(limit as u64 + 1).read_to_end(&mut bytes));
    if read.is_err() {
        return Output::default();
    }
    let truncated = bytes.len() > limit;
    bytes.truncate(limit);
    Output {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        truncated,
    }
}

/// Each part of a sample's feedback is cut at this many bytes.
const FEEDBACK_SHOWN: usize = 8 * 1024;

/// A failed sample's feedback: its input, its answer, what the program printed (if it ran) and
/// the first line where they differ.
pub(super) fn feedback_of(test: &TestCase, exec: Option<&Execution>) -> Feedback {
    let expected = head_of(&test.answer, FEEDBACK_SHOWN);
    let got = exec
        .map(|e| head_of(&e.out_path, FEEDBACK_SHOWN))
        .unwrap_or_default();
    Feedback {
        input: head_of(&test.input, FEEDBACK_SHOWN),
        first_difference: FirstDifference::of(&expected.text, &got.text),
        expected,
        got,
    }
}

/// One run of the program on an input, before its output is judged.
pub(super) struct Execution {
    pub(super) run: RunResult,
    /// Host path of what the program wrote on standard output.
    pub(super) out_path: PathBuf,
    output_len: u64,
    wall_limit: std::time::Duration,
}

/// The exit code or the signal of a finished program.
pub(super) fn exit_of(status: ExitStatus) -> (Option<i32>, Option<i32>) {
    match status {
        ExitStatus::Exited(c) => (Some(c), None),
        ExitStatus::Signaled(s) => (None, Some(s)),
    }
}

/// The verdict a run earned by itself (a limit, a failed exit), before its output is judged; an
/// internal failure when it never started.
pub(super) fn run_failure(
    exec: &Execution,
    limits: &ProblemLimits,
    program: &Program,
) -> Result<(), Failure> {
    let run = &exec.run;
    if let Some(e) = &run.exec_error {
        return Err(Failure::Internal(format!("cannot start the program: {e}")));
    }
    match run.limit {
        Some(LimitExceeded::CpuTime) => {
            return Err(Failure::Verdict(
                Verdict::TimeLimitExceeded,
                format!("CPU time over {} ms", limits.time_limit().as_millis()),
            ))
        }
        Some(LimitExceeded::WallTime) => {
            return Err(Failure::Verdict(
                Verdict::TimeLimitExceeded,
                format!("wall time over {} ms", exec.wall_limit.as_millis()),
            ))
        }
        Some(LimitExceeded::MachineBusy) => return Err(super::machine_busy(run)),
        Some(LimitExceeded::Memory) => {
            return Err(Failure::Verdict(
                Verdict::MemoryLimitExceeded,
                format!("memory over {} MiB", limits.memory_bytes >> 20),
            ))
        }
        Some(LimitExceeded::FileSize) => {
            return Err(Failure::Verdict(
                Verdict::OutputLimitExceeded,
                format!("output over {} bytes", limits.output_bytes),
            ))
        }
        None => {}
    }
    if exec.output_len > limits.output_bytes
        || (exec.output_len >= limits.output_bytes && !run.status.success())
    {
        return Err(Failure::Verdict(
            Verdict::OutputLimitExceeded,
            format!("output over {} bytes", limits.output_bytes),
        ));
    }
    if !run.status.success() {
        if runtime_ran_out_of_memory(&run.captured, &program.out_of_memory) {
            return Err(Failure::Verdict(
                Verdict::MemoryLimitExceeded,
                format!("the runtime's heap is full ({} MiB)", limits.memory_bytes >> 20),
            ));
        }
        return Err(Failure::Verdict(Verdict::RuntimeError, run.status.to_string()));
    }
    Ok(())
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
pub(super) fn shown(stderr: &Captured) -> String {
    truncate(&stderr.text(), STDERR_SHOWN)
}

fn describe(run: &RunResult) -> String {
    match run.limit {
        Some(l) => format!("{l:?} limit"),
        None => run.status.to_string(),
    }
}

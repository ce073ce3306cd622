//! Interactive and multi-pass test cases.
//!
//! Interactive: the submission and the output validator run at once, each in a sandbox slot of
//! its own with its own limits, joined by two pipes (the validator's standard output is the
//! submission's standard input and the other way round). The validator is run as for any test
//! (`validator input answer feedback_dir [flags]`) and decides with exit code 42 or 43. Only the
//! submission's time counts against the time limit. The verdict, in this order:
//! 1. the submission went over one of its limits: `time_limit_exceeded` (CPU or wall time; a
//!    submission that stops reading or floods the pipe blocks until its wall time ends it) or
//!    `memory_limit_exceeded`;
//! 2. the validator exited 43: `wrong_answer` (the submission is stopped at once). A submission
//!    that crashes mid-interaction often gets this too: the validator sees its output end (or,
//!    if the validator was writing, rule 3 makes it `runtime_error`).
//!    Which of the two ended first cannot be told reliably (an interpreter closes its standard
//!    streams well before its process ends), so the validator's word is taken;
//! 3. the validator died writing to a submission that had gone (`SIGPIPE`, or `EPIPE` in a
//!    runtime that ignores the signal, as Python does): `runtime_error` if the submission failed,
//!    else `wrong_answer`;
//! 4. the validator failed otherwise (another exit code, a crash, its own limits):
//!    `internal_error`;
//! 5. the submission failed (not by writing to a validator that had gone): `runtime_error`;
//! 6. else `accepted`.
//!
//! Multi-pass: after a pass the validator accepted, a `nextpass.in` in its feedback directory asks
//! for another pass, whose input (the submission's standard input, and the validator's input
//! file) it is. More passes than `limits.validation_passes` allow is an `internal_error`, as is
//! a `nextpass.in` beside any other exit code. Every other feedback file persists between passes.
//! The time and memory limits hold for each pass; the test's figures are the largest of a pass.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{TestResult, Verdict};
use problem_package::validator::{EXIT_ACCEPTED, EXIT_WRONG_ANSWER};
use problem_package::{Interaction, ProblemPackage, TestCase};
use sandbox::files;
use sandbox::{Command, ExitStatus, LimitExceeded, RunResult, Sandbox, Sink, Stdio};

use super::compile::{truncate, Program};
use super::run::{prepare_validator, record_figures, runtime_ran_out_of_memory};
use super::{Failure, Judge};
use crate::language::with_memory;

/// Largest `nextpass.in` a validator may write.
const NEXT_PASS_LIMIT: u64 = 64 << 20;
/// Standard error of the submission kept (it is never shown for an interactive test: what the
/// validator sent may be secret).
const STDERR_KEEP: usize = 4096;

/// What a validator's run said.
enum Said {
    Accepted,
    WrongAnswer(String),
}

impl Judge {
    /// Judges one test of an interactive or multi-pass problem: the submission in `slot`, the
    /// validator (installed in `vslot`'s `/checker`) in `vslot`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_passes(
        &self,
        slot: &mut Sandbox,
        vslot: &mut Sandbox,
        package: &ProblemPackage,
        program: &Program,
        validator: &Program,
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
            exit_code: None,
            signal: None,
            feedback: None,
        };
        match self.try_passes(slot, vslot, package, program, validator, test, &mut result) {
            Ok(()) => result.verdict = Verdict::Accepted,
            Err(Failure::Verdict(v, detail)) => {
                result.verdict = v;
                result.detail = (!detail.is_empty()).then_some(detail);
            }
            Err(Failure::Internal(e)) => result.detail = Some(e),
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn try_passes(
        &self,
        slot: &mut Sandbox,
        vslot: &mut Sandbox,
        package: &ProblemPackage,
        program: &Program,
        validator: &Program,
        test: &TestCase,
        result: &mut TestResult,
    ) -> Result<(), Failure> {
        let (passes, interactive) = match package.interaction {
            Interaction::Batch => return Err(Failure::Internal("not an interactive problem".into())),
            Interaction::Interactive => (1, true),
            Interaction::MultiPass { passes, interactive } => (passes, interactive),
        };
        // The validator's /box: the input (replaced by each nextpass.in), the answer and the
        // feedback directory, which persists over the passes.
        let (vcmd, feedback) = prepare_validator(vslot, validator, test)?;
        let vbox = vslot.box_dir();
        for pass in 1..=passes {
            slot.clean()?;
            let said = if interactive {
                self.interactive_pass(slot, vslot, package, program, &vcmd, result)?
            } else {
                let input = vbox.join("input");
                let output = self.run_batch(slot, package, program, &input, false, result)?;
                let team = File::open(output)?;
                let run = vslot.run(
                    &vcmd,
                    &self.config.validator_limits,
                    Stdio {
                        stdin: Some(team.as_fd()),
                        stdout: Sink::Capture(4096),
                        stderr: Sink::Capture(4096),
                    },
                )?;
                match validator_code(&run) {
                    Some(EXIT_ACCEPTED) => Said::Accepted,
                    Some(EXIT_WRONG_ANSWER) => Said::WrongAnswer(judge_message(&feedback)?),
                    _ => return Err(validator_failed(&run)),
                }
            };
            let next = files::read_regular(&feedback, "nextpass.in", NEXT_PASS_LIMIT)?;
            match said {
                Said::WrongAnswer(why) => {
                    if next.is_some() {
                        return Err(Failure::Internal(
                            "the output validator wrote nextpass.in but did not accept".into(),
                        ));
                    }
                    return Err(Failure::Verdict(Verdict::WrongAnswer, why));
                }
                Said::Accepted => {
                    let Some(next) = next else {
                        return Ok(());
                    };
                    if pass == passes {
                        return Err(Failure::Internal(format!(
                            "the output validator asked for pass {} of at most {passes}",
                            pass + 1
                        )));
                    }
                    std::fs::remove_file(feedback.join("nextpass.in"))?;
                    std::fs::remove_file(vbox.join("input"))?;
                    files::write_new(&vbox, "input", &next, 0o644)?;
                }
            }
        }
        Ok(())
    }

    /// One run of the submission and the validator joined by pipes.
    fn interactive_pass(
        &self,
        slot: &mut Sandbox,
        vslot: &mut Sandbox,
        package: &ProblemPackage,
        program: &Program,
        vcmd: &Command,
        result: &mut TestResult,
    ) -> Result<Said, Failure> {
        let limits = self.submission_limits(package, program);
        let cmd = Command {
            argv: with_memory(&program.run, package.limits.memory_bytes),
            env: with_memory(&program.env, package.limits.memory_bytes),
            cwd: "/box".into(),
        };
        let (to_submission_r, to_submission_w) = std::io::pipe()?;
        let (to_validator_r, to_validator_w) = std::io::pipe()?;
        let stop_submission = AtomicBool::new(false);
        let never = AtomicBool::new(false);
        let validator_limits = &self.config.validator_limits;
        let vslot_ref = &mut *vslot;
        let (vrun, srun) = std::thread::scope(|s| {
            let stop = &stop_submission;
            let never = &never;
            let v = s.spawn(move || {
                let run = vslot_ref.run_piped(
                    vcmd,
                    validator_limits,
                    OwnedFd::from(to_validator_r),
                    OwnedFd::from(to_submission_w),
                    4096,
                    never,
                );
                // Anything but an acceptance ends the submission's run at once: its verdict is
                // decided. After an acceptance it must still end well by itself.
                if !matches!(&run, Ok(r) if validator_code(r) == Some(EXIT_ACCEPTED)) {
                    stop.store(true, Ordering::Release);
                }
                run
            });
            let srun = slot.run_piped(
                &cmd,
                &limits,
                OwnedFd::from(to_submission_r),
                OwnedFd::from(to_validator_w),
                STDERR_KEEP,
                stop,
            );
            let vrun = v
                .join()
                .unwrap_or_else(|_| Err(sandbox::SandboxError::Setup("validator thread panicked".into())));
            (vrun, srun)
        });
        let srun = srun?;
        let vrun = vrun?;
        record_figures(result, &srun);
        if let Some(e) = &srun.exec_error {
            return Err(Failure::Internal(format!("cannot start the program: {e}")));
        }
        // Whether our stop ended it (rather than its own exit or a limit).
        let stopped = stop_submission.load(Ordering::Acquire)
            && srun.limit.is_none()
            && srun.status == ExitStatus::Signaled(libc::SIGKILL);
        let time_limit = package.time_limit();
        match srun.limit {
            Some(LimitExceeded::CpuTime) => {
                return Err(Failure::Verdict(
                    Verdict::TimeLimitExceeded,
                    format!("CPU time over {} ms", time_limit.as_millis()),
                ))
            }
            Some(LimitExceeded::WallTime) if !stopped => {
                return Err(Failure::Verdict(
                    Verdict::TimeLimitExceeded,
                    format!("wall time over {} ms", limits.wall_time.as_millis()),
                ))
            }
            // Its validator's conversation cannot be replayed halfway: the judge's failure.
            Some(LimitExceeded::MachineBusy) if !stopped => return Err(super::machine_busy(&srun)),
            Some(LimitExceeded::Memory) => {
                return Err(Failure::Verdict(
                    Verdict::MemoryLimitExceeded,
                    format!("memory over {} MiB", package.limits.memory_bytes >> 20),
                ))
            }
            _ => {}
        }
        let feedback = vslot.box_dir().join("feedback");
        // A submission that died writing to a validator that had gone did not fail by itself:
        // the validator's verdict stands.
        let submission_failed = !stopped && !srun.status.success() && !broke_pipe(&srun);
        let runtime_error = || {
            if runtime_ran_out_of_memory(&srun.captured, &program.out_of_memory) {
                Failure::Verdict(
                    Verdict::MemoryLimitExceeded,
                    format!(
                        "the runtime's heap is full ({} MiB)",
                        package.limits.memory_bytes >> 20
                    ),
                )
            } else {
                Failure::Verdict(Verdict::RuntimeError, srun.status.to_string())
            }
        };
        match validator_code(&vrun) {
            Some(EXIT_WRONG_ANSWER) => Ok(Said::WrongAnswer(judge_message(&feedback)?)),
            Some(EXIT_ACCEPTED) if submission_failed => Err(runtime_error()),
            Some(EXIT_ACCEPTED) => Ok(Said::Accepted),
            // The validator wrote to a submission that had gone (we stop it only after the
            // validator ended).
            _ if !stopped && vrun.limit.is_none() && broke_pipe(&vrun) => {
                if submission_failed {
                    Err(runtime_error())
                } else {
                    Ok(Said::WrongAnswer(
                        "the submission ended before the interaction did".into(),
                    ))
                }
            }
            _ => Err(validator_failed(&vrun)),
        }
    }
}

/// Whether a failed program failed by writing to a pipe whose reader had gone: killed by
/// `SIGPIPE`, or (a runtime that ignores the signal, as Python does) dying of `EPIPE`.
fn broke_pipe(run: &RunResult) -> bool {
    run.status == ExitStatus::Signaled(libc::SIGPIPE) || {
        let text = run.captured.text();
        text.contains("Broken pipe") || text.contains("EPIPE")
    }
}

/// The validator's exit code, if it exited by itself within its limits.
fn validator_code(run: &RunResult) -> Option<i32> {
    match run.status {
        ExitStatus::Exited(c) if run.limit.is_none() && run.exec_error.is_none() => Some(c),
        _ => None,
    }
}

fn validator_failed(run: &RunResult) -> Failure {
    Failure::Internal(format!(
        "output validator failed ({}{}): {}",
        match run.limit {
            Some(l) => format!("{l:?} limit"),
            None => run.status.to_string(),
        },
        run.exec_error
            .as_deref()
            .map(|e| format!(", {e}"))
            .unwrap_or_default(),
        truncate(&run.captured.text(), 500)
    ))
}

/// The reason a validator gave for its rejection.
fn judge_message(feedback: &Path) -> Result<String, Failure> {
    let message = files::read_regular(feedback, "judgemessage.txt", 4096)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(
        match problem_package::validator::custom_outcome(Some(EXIT_WRONG_ANSWER), &message) {
            Some(problem_package::validator::Judgement::WrongAnswer(why)) => why,
            _ => "rejected by the output validator".into(),
        },
    )
}

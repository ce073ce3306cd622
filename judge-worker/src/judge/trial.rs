//! Runs without grading: the learner's code compiled and run in a slot, with the problem's limits
//! (or the judge's defaults), on the problem's samples or on input of their own, reporting what
//! the program printed. Only samples are ever run: their data is in the statement already, so
//! showing their input, expected output and the program's output gives nothing away.

use common::api::{Output, RunCase, RunReport};
use common::Verdict;
use problem_package::validator::{DefaultValidator, Judgement};
use problem_package::{ProblemLimits, ProblemPackage, TimeLimitSource};
use sandbox::Captured;

use super::compile::{compile, install, truncate};
use super::run::{exit_of, head_of, run_failure, shown, STDERR_SHOWN};
use super::{Failure, Judge, Progress};

/// Standard output shown of one case (its start).
pub const STDOUT_SHOWN: usize = 64 * 1024;
/// Memory of a run on the caller's own input without a problem.
pub const DEFAULT_MEMORY: u64 = 256 << 20;
/// Output limit of a run on the caller's own input without a problem.
pub const DEFAULT_OUTPUT: u64 = 8 << 20;

fn stderr_of(captured: &Captured) -> Output {
    let text = shown(captured);
    Output {
        truncated: captured.is_cut() || captured.text().len() > STDERR_SHOWN,
        text,
    }
}

impl Judge {
    /// Runs `source` in `language_id` on `stdin` (its output compared with `expected` when
    /// given), or (without it) on `package`'s samples, with the package's limits or the judge's
    /// defaults. Never fails: whatever goes wrong on the
    /// judge's side is an `internal_error` report.
    pub fn trial(
        &self,
        package: Option<&ProblemPackage>,
        language_id: &str,
        source: &[u8],
        stdin: Option<&[u8]>,
        expected: Option<&[u8]>,
        mut progress: impl FnMut(Progress),
    ) -> RunReport {
        let mut report = RunReport::default();
        let internal = |mut report: RunReport, e: String| {
            report.verdict = Some(Verdict::InternalError);
            report.error = Some(e);
            report
        };
        let Some(language) = self.language(language_id) else {
            return internal(report, format!("language {language_id:?} is not offered"));
        };
        let samples: Vec<_> = match (stdin, package) {
            (None, Some(p)) => p.tests.iter().filter(|t| t.name.starts_with("sample/")).collect(),
            _ => Vec::new(),
        };
        if stdin.is_none() && package.is_some() && samples.is_empty() {
            return internal(
                report,
                "the problem has no sample tests: give an input".to_owned(),
            );
        }
        let limits = package.map(|p| p.limits.clone()).unwrap_or(ProblemLimits {
            time_limit_ms: self.config.default_time_limit.as_millis() as u64,
            time_limit_source: TimeLimitSource::Default,
            memory_bytes: DEFAULT_MEMORY,
            output_bytes: DEFAULT_OUTPUT,
            derived: None,
        });
        let mut slot = self.pool.lend();
        let _busy = super::BusySlot::new();
        progress(Progress::Compiling);
        let validator = match package.filter(|_| !samples.is_empty()) {
            Some(p) => match self.validator(&mut slot, p) {
                Ok(v) => v,
                Err(e) => return internal(report, format!("output validator: {e}")),
            },
            None => None,
        };
        if let Err(e) = slot.clean() {
            return internal(report, format!("clean sandbox: {e}"));
        }
        let program = match compile(&self.config, &mut slot, language, source, "/prog") {
            Ok((program, output)) => {
                report.compile_output = (!output.trim().is_empty()).then_some(output);
                program
            }
            Err((Failure::Verdict(v, output), _)) => {
                report.verdict = Some(v);
                report.compile_output = Some(output);
                return report;
            }
            Err((Failure::Internal(e), output)) => {
                report.compile_output = (!output.is_empty()).then_some(output);
                return internal(report, format!("compile: {e}"));
            }
        };
        if let Err(e) = install(&slot.prog_dir(), &program.files) {
            return internal(report, format!("install program: {e}"));
        }
        if let Some(v) = &validator {
            if let Err(e) = install(&slot.checker_dir(), &v.files) {
                return internal(report, format!("install validator: {e}"));
            }
        }

        if let Some(input) = stdin {
            progress(Progress::Running { test: 1, of: 1 });
            let path = slot.io_dir().join("stdin");
            if let Err(e) = std::fs::write(&path, input) {
                return internal(report, format!("write the input: {e}"));
            }
            let mut case = RunCase {
                name: "stdin".to_owned(),
                verdict: None,
                input: None,
                expected: None,
                stdout: Output::default(),
                stderr: Output::default(),
                exit_code: None,
                signal: None,
                time_ms: 0,
                wall_time_ms: 0,
                memory_kb: 0,
                detail: None,
            };
            match self.execute(&mut slot, &limits, &program, &path) {
                Ok(exec) => {
                    let run = &exec.run;
                    case.stdout = head_of(&exec.out_path, STDOUT_SHOWN);
                    case.stderr = stderr_of(&run.captured);
                    (case.exit_code, case.signal) = exit_of(run.status);
                    case.time_ms = run.cpu_time.as_millis() as u64;
                    case.wall_time_ms = run.wall_time.as_millis() as u64;
                    case.memory_kb = run.memory / 1024;
                    let judged = run_failure(&exec, &limits, &program).and_then(|()| match expected {
                        None => Ok(()),
                        Some(answer) => {
                            let out = std::fs::read(&exec.out_path)?;
                            match DefaultValidator::default().judge(&out, answer) {
                                Judgement::Accepted => {
                                    case.verdict = Some(Verdict::Accepted);
                                    Ok(())
                                }
                                Judgement::WrongAnswer(why) => {
                                    Err(Failure::Verdict(Verdict::WrongAnswer, why))
                                }
                            }
                        }
                    });
                    match judged {
                        Ok(()) => {}
                        Err(Failure::Verdict(v, detail)) => {
                            case.verdict = Some(v);
                            case.detail = Some(detail);
                        }
                        Err(Failure::Internal(e)) => {
                            case.verdict = Some(Verdict::InternalError);
                            report.verdict = Some(Verdict::InternalError);
                            report.error = Some(e);
                        }
                    }
                }
                Err(Failure::Internal(e)) | Err(Failure::Verdict(_, e)) => {
                    report.cases.push(case);
                    return internal(report, e);
                }
            }
            report.cases.push(case);
            return report;
        }

        let Some(package) = package else {
            unreachable!("without an input there is a package with samples");
        };
        let of = samples.len() as u32;
        report.verdict = Some(Verdict::Accepted);
        for (i, test) in samples.into_iter().enumerate() {
            let index = i as u32 + 1;
            progress(Progress::Running { test: index, of });
            let (result, exec) =
                self.run_test(&mut slot, package, &program, validator.as_deref(), test, index);
            let case = RunCase {
                name: test.name.clone(),
                verdict: Some(result.verdict),
                input: Some(head_of(&test.input, STDOUT_SHOWN)),
                expected: Some(head_of(&test.answer, STDOUT_SHOWN)),
                stdout: exec
                    .as_ref()
                    .map(|e| head_of(&e.out_path, STDOUT_SHOWN))
                    .unwrap_or_default(),
                stderr: exec
                    .as_ref()
                    .map(|e| stderr_of(&e.run.captured))
                    .unwrap_or_default(),
                exit_code: result.exit_code,
                signal: result.signal,
                time_ms: result.time_ms,
                wall_time_ms: result.wall_time_ms,
                memory_kb: result.memory_kb,
                detail: result.detail.as_deref().map(|d| truncate(d, 1024)),
            };
            if result.verdict == Verdict::InternalError && report.error.is_none() {
                report.error = result.detail.clone();
            }
            if result.verdict != Verdict::Accepted && report.verdict == Some(Verdict::Accepted) {
                report.verdict = Some(result.verdict);
            }
            report.cases.push(case);
        }
        report
    }
}

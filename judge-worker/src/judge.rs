//! Judging: a problem package, a language and a source in, a [`JudgeReport`] out. Knows nothing
//! about NATS; borrows a sandbox slot per submission from a pool, so one [`Judge`] serves as many
//! submissions at once as it has slots.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{JudgeReport, TestResult, Verdict};
use sha2::{Digest, Sha256};

use crate::language::{self, Language, LanguageInfo, Unavailable};
use crate::package::{OutputValidator, ProblemPackage, TestCase};
use crate::sandbox::files::{self, FileTree};
use crate::sandbox::{
    default_binds, Bind, Command, ExitStatus, LimitExceeded, Limits, RunResult, Sandbox, SandboxConfig,
    SandboxError, SandboxPool, Stdio,
};
use crate::validator::{self, DefaultValidator, Judgement};

/// Compiler output kept in a report.
const COMPILE_OUTPUT_LIMIT: usize = 16 * 1024;
/// Largest compiled program (all files together).
const PROGRAM_SIZE_LIMIT: u64 = 256 << 20;

#[derive(Debug, Clone)]
pub struct JudgeConfig {
    /// Language table; `None`: the one shipped with the judge.
    pub languages_file: Option<PathBuf>,
    /// Concurrent submissions (sandbox slots).
    pub slots: usize,
    /// Our own binary, which doubles as the sandbox zygote; `None`: the running executable.
    pub helper: Option<PathBuf>,
    /// Where slot directories live; `None`: a temporary directory.
    pub state_dir: Option<PathBuf>,
    /// Time limit of packages that set none.
    pub default_time_limit: Duration,
    /// Wall-time limit of a test = `time limit × wall_time_factor + wall_time_extra`.
    pub wall_time_factor: f64,
    pub wall_time_extra: Duration,
    /// Limits of every compile (the language may raise `memory`).
    pub compile_limits: Limits,
    /// Limits of custom output validators (their time is not the submission's).
    pub validator_limits: Limits,
    /// Processes and threads a submission may have at once.
    pub max_processes: u32,
    /// First uid of the sandbox slots.
    pub uid_base: u32,
    /// More host paths to show read-only in the sandbox.
    pub extra_binds: Vec<PathBuf>,
    /// Use rlimits only, even where cgroups work (see the sandbox's "where limits fail").
    pub disable_cgroups: bool,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            languages_file: None,
            slots: std::thread::available_parallelism().map_or(1, |n| n.get()),
            helper: None,
            state_dir: None,
            default_time_limit: Duration::from_secs(1),
            wall_time_factor: 2.0,
            wall_time_extra: Duration::from_secs(1),
            compile_limits: Limits {
                cpu_time: Duration::from_secs(15),
                wall_time: Duration::from_secs(30),
                memory: 1 << 30,
                processes: 128,
                file_size: 256 << 20,
                open_files: 512,
                stack: Some(64 << 20),
                address_space: None,
            },
            validator_limits: Limits {
                cpu_time: Duration::from_secs(30),
                wall_time: Duration::from_secs(60),
                memory: 1 << 30,
                processes: 64,
                file_size: 64 << 20,
                open_files: 256,
                stack: None,
                address_space: None,
            },
            max_processes: 64,
            uid_base: 61000,
            extra_binds: Vec::new(),
            disable_cgroups: false,
        }
    }
}

/// Options of one judging.
#[derive(Debug, Clone, Default)]
pub struct JudgeOptions {
    /// Run every test even after one fails (default: stop at the first failure, ICPC style).
    pub run_all_tests: bool,
}

/// Where a judging is, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Compiling,
    /// Test `test` (1-based) of `of` starts.
    Running {
        test: u32,
        of: u32,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error(transparent)]
    Languages(#[from] language::LanguageError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("cannot find our own executable: {0}")]
    Helper(std::io::Error),
}

/// A compiled program: its files and how to run it from the directory they are put in.
#[derive(Debug)]
struct Program {
    files: FileTree,
    run: Vec<String>,
    env: Vec<String>,
    memory_allowance: u64,
    out_of_memory: Vec<String>,
}

/// The judge: languages, a pool of sandboxes and compiled validators. `Send + Sync`: share one
/// behind an `Arc` and call [`Judge::judge`] from as many threads as it has slots (it blocks; from
/// async code, call it in `spawn_blocking`).
pub struct Judge {
    config: JudgeConfig,
    languages: Vec<Language>,
    unavailable: Vec<Unavailable>,
    pool: SandboxPool,
    /// Compiled custom validators by the SHA-256 of their sources, so that a package replaced on
    /// disk is never judged with its predecessor's validator.
    validators: Mutex<HashMap<String, Arc<Program>>>,
}

impl std::fmt::Debug for Judge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judge")
            .field("languages", &self.languages())
            .field("slots", &self.pool.size())
            .finish()
    }
}

enum Failure {
    /// The submission's fault: a verdict with detail.
    Verdict(Verdict, String),
    /// The judge's fault.
    Internal(String),
}

impl From<SandboxError> for Failure {
    fn from(e: SandboxError) -> Self {
        Failure::Internal(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Internal(e.to_string())
    }
}

impl Judge {
    /// Finds the languages whose toolchain is present and prepares the sandbox slots.
    pub fn new(config: JudgeConfig) -> Result<Judge, JudgeError> {
        let (languages, unavailable) = language::load(config.languages_file.as_deref())?;
        for u in &unavailable {
            tracing::warn!(language = %u.id, reason = %u.reason, "language not offered");
        }
        let mut binds = default_binds();
        for path in languages
            .iter()
            .flat_map(|l| l.binds.iter())
            .chain(config.extra_binds.iter())
        {
            let b = Bind::read_only(path.clone());
            if !binds.contains(&b) {
                binds.push(b);
            }
        }
        let helper = match &config.helper {
            Some(h) => h.clone(),
            None => std::env::current_exe().map_err(JudgeError::Helper)?,
        };
        let sandbox_config = SandboxConfig {
            helper,
            state_dir: config.state_dir.clone().unwrap_or_default(),
            binds,
            uid_base: config.uid_base,
            disable_cgroups: config.disable_cgroups,
        };
        let pool = match &config.state_dir {
            Some(_) => SandboxPool::new(&sandbox_config, config.slots)?,
            None => SandboxPool::with_temp_state(sandbox_config, config.slots)?,
        };
        Ok(Judge {
            config,
            languages,
            unavailable,
            pool,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// The languages offered, with the versions their toolchains report.
    pub fn languages(&self) -> Vec<LanguageInfo> {
        self.languages.iter().map(|l| l.info.clone()).collect()
    }

    /// Languages of the table that are not offered, and why.
    pub fn unavailable_languages(&self) -> &[Unavailable] {
        &self.unavailable
    }

    pub fn language(&self, id: &str) -> Option<&Language> {
        self.languages.iter().find(|l| l.id() == id)
    }

    /// Judges `source` in `language_id` against `package`. Never fails: whatever goes wrong on
    /// the judge's side is an `internal_error` report.
    pub fn judge(
        &self,
        package: &ProblemPackage,
        language_id: &str,
        source: &[u8],
        options: &JudgeOptions,
        mut progress: impl FnMut(Progress),
    ) -> JudgeReport {
        let mut report = JudgeReport {
            verdict: Verdict::InternalError,
            run_time_ms: 0,
            memory_kb: 0,
            tests: Vec::new(),
            compile_output: None,
            error: None,
        };
        let Some(language) = self.language(language_id) else {
            report.error = Some(format!("language {language_id:?} is not offered"));
            return report;
        };
        let mut slot = self.pool.lend();
        progress(Progress::Compiling);
        let validator = match self.validator(&mut slot, package) {
            Ok(v) => v,
            Err(e) => {
                report.error = Some(format!("output validator: {e}"));
                return report;
            }
        };
        if let Err(e) = slot.clean() {
            report.error = Some(format!("clean sandbox: {e}"));
            return report;
        }
        let program = match compile(&self.config, &mut slot, language, source, "/prog") {
            Ok((program, output)) => {
                report.compile_output = (!output.trim().is_empty()).then_some(output);
                program
            }
            Err((Failure::Verdict(v, output), _)) => {
                report.verdict = v;
                report.compile_output = Some(output);
                return report;
            }
            Err((Failure::Internal(e), output)) => {
                report.error = Some(format!("compile: {e}"));
                report.compile_output = (!output.is_empty()).then_some(output);
                return report;
            }
        };
        if let Err(e) = install(&slot.prog_dir(), &program.files) {
            report.error = Some(format!("install program: {e}"));
            return report;
        }
        if let Some(v) = &validator {
            if let Err(e) = install(&slot.checker_dir(), &v.files) {
                report.error = Some(format!("install validator: {e}"));
                return report;
            }
        }
        let of = package.tests.len() as u32;
        report.verdict = Verdict::Accepted;
        for (i, test) in package.tests.iter().enumerate() {
            let index = i as u32 + 1;
            progress(Progress::Running { test: index, of });
            let result = self.run_test(&mut slot, package, &program, validator.as_deref(), test, index);
            report.run_time_ms = report.run_time_ms.max(result.time_ms);
            report.memory_kb = report.memory_kb.max(result.memory_kb);
            let verdict = result.verdict;
            if verdict == Verdict::InternalError && report.error.is_none() {
                report.error = result.detail.clone();
            }
            report.tests.push(result);
            if verdict != Verdict::Accepted {
                if report.verdict == Verdict::Accepted {
                    report.verdict = verdict;
                }
                if !options.run_all_tests {
                    break;
                }
            }
        }
        report
    }

    /// The package's compiled custom validator, compiled on first use.
    fn validator(
        &self,
        slot: &mut Sandbox,
        package: &ProblemPackage,
    ) -> Result<Option<Arc<Program>>, String> {
        let OutputValidator::Custom {
            dir,
            language,
            files: names,
        } = &package.validator
        else {
            return Ok(None);
        };
        let mut sources = Vec::new();
        let mut hasher = Sha256::new();
        hasher.update(language.as_bytes());
        for name in names {
            let data = std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"))?;
            hasher.update((name.len() as u64).to_le_bytes());
            hasher.update(name.as_bytes());
            hasher.update((data.len() as u64).to_le_bytes());
            hasher.update(&data);
            sources.push((name, data));
        }
        let key = hex::encode(hasher.finalize());
        if let Some(p) = self
            .validators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Some(p.clone()));
        }
        let lang = self
            .language(language)
            .ok_or_else(|| format!("validator language {language} is not available"))?;
        // Several source files (C/C++ with headers): all go into /box, the one with `main` (or the
        // single Python file) is compiled.
        slot.clean().map_err(|e| e.to_string())?;
        let mut main_source = None;
        for (name, data) in sources {
            let is_source = crate::package::validator_language(name) == Some(lang.id());
            let has_main = lang.id() == "python3" || String::from_utf8_lossy(&data).contains("main");
            if is_source && has_main && main_source.is_none() {
                main_source = Some(data);
            } else {
                files::write_new(&slot.box_dir(), name, &data, 0o644).map_err(|e| e.to_string())?;
            }
        }
        let source = main_source.ok_or("no validator source with a main function")?;
        let program = compile(&self.config, slot, lang, &source, "/checker")
            .map_err(|(f, out)| match f {
                Failure::Verdict(_, _) => format!("does not compile: {out}"),
                Failure::Internal(e) => e,
            })?
            .0;
        let program = Arc::new(program);
        self.validators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, program.clone());
        Ok(Some(program))
    }

    fn run_test(
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
        let time_limit = package.time_limit();
        let limits = Limits {
            cpu_time: time_limit,
            wall_time: time_limit.mul_f64(self.config.wall_time_factor) + self.config.wall_time_extra,
            memory: package.limits.memory_bytes + program.memory_allowance,
            processes: self.config.max_processes,
            file_size: package.limits.output_bytes,
            open_files: 256,
            stack: Some(package.limits.memory_bytes),
            address_space: None,
        };
        let input = File::open(&test.input)?;
        let out_path = slot.io_dir().join("output");
        let err_path = slot.io_dir().join("stderr");
        let output = File::create(&out_path)?;
        let stderr = File::create(&err_path)?;
        let memory_mb = (package.limits.memory_bytes >> 20).max(1).to_string();
        let cmd = Command {
            argv: program
                .run
                .iter()
                .map(|a| a.replace("{memory_mb}", &memory_mb))
                .collect(),
            env: program.env.clone(),
            cwd: "/box".into(),
        };
        let run = slot.run(
            &cmd,
            &limits,
            Stdio {
                stdin: Some(input.as_fd()),
                stdout: output.as_fd(),
                stderr: stderr.as_fd(),
            },
        )?;
        result.time_ms = run.cpu_time.as_millis() as u64;
        result.wall_time_ms = run.wall_time.as_millis() as u64;
        result.memory_kb = run.memory / 1024;
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
        if output_len >= package.limits.output_bytes && !run.status.success() {
            return Err(Failure::Verdict(
                Verdict::OutputLimitExceeded,
                format!("output over {} bytes", package.limits.output_bytes),
            ));
        }
        if !run.status.success() {
            if runtime_ran_out_of_memory(&err_path, &program.out_of_memory) {
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
        let log = File::create(slot.io_dir().join("validator"))?;
        let run = slot.run(
            &Command {
                argv,
                env: validator.env.clone(),
                cwd: "/box".into(),
            },
            &self.config.validator_limits,
            Stdio {
                stdin: Some(team.as_fd()),
                stdout: log.as_fd(),
                stderr: log.as_fd(),
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
            let log = std::fs::read(slot.io_dir().join("validator")).unwrap_or_default();
            Failure::Internal(format!(
                "output validator failed ({}{}): {}",
                describe(&run),
                run.exec_error
                    .as_deref()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default(),
                truncate(&String::from_utf8_lossy(&log), 500)
            ))
        })
    }
}

/// Whether the end of the run's stderr holds one of the runtime's out-of-memory messages.
fn runtime_ran_out_of_memory(stderr: &std::path::Path, messages: &[String]) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    if messages.is_empty() {
        return false;
    }
    let Ok(mut f) = File::open(stderr) else {
        return false;
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut tail = Vec::new();
    let _ = f.take(64 * 1024).read_to_end(&mut tail);
    let tail = String::from_utf8_lossy(&tail);
    messages.iter().any(|m| tail.contains(m.as_str()))
}

fn describe(run: &RunResult) -> String {
    match run.limit {
        Some(l) => format!("{l:?} limit"),
        None => run.status.to_string(),
    }
}

/// Replaces the contents of a program directory.
fn install(dir: &std::path::Path, tree: &FileTree) -> std::io::Result<()> {
    files::empty_dir(dir)?;
    files::write_tree(dir, tree)
}

/// Compiles `source` in the slot's `/box` and takes the result out. `dir` is where the program
/// will be run from. On failure returns the failure and the compiler's output.
fn compile(
    config: &JudgeConfig,
    slot: &mut Sandbox,
    language: &Language,
    source: &[u8],
    dir: &str,
) -> Result<(Program, String), (Failure, String)> {
    let internal = |e: &dyn std::fmt::Display| (Failure::Internal(e.to_string()), String::new());
    // Validators may have left helper files in /box: keep them, remove only the old /tmp.
    files::empty_dir(&slot.tmp_dir()).map_err(|e| internal(&e))?;
    let source_name = language.source_name(source);
    files::write_new(&slot.box_dir(), &source_name, source, 0o644).map_err(|e| internal(&e))?;
    let mut output = String::new();
    if let Some(argv) = language.compile_command(&source_name) {
        let mut limits = config.compile_limits.clone();
        limits.memory = limits.memory.max(language.compile_memory.unwrap_or(0));
        let log_path = slot.io_dir().join("compile");
        let log = File::create(&log_path).map_err(|e| internal(&e))?;
        let run = slot
            .run(
                &Command {
                    argv,
                    env: language.env(),
                    cwd: "/box".into(),
                },
                &limits,
                Stdio {
                    stdin: None,
                    stdout: log.as_fd(),
                    stderr: log.as_fd(),
                },
            )
            .map_err(|e| internal(&e))?;
        let text = std::fs::read(&log_path).unwrap_or_default();
        output = truncate(&String::from_utf8_lossy(&text), COMPILE_OUTPUT_LIMIT);
        if let Some(e) = run.exec_error {
            return Err((
                Failure::Internal(format!("cannot start the compiler: {e}")),
                output,
            ));
        }
        if let Some(limit) = run.limit {
            let what = match limit {
                LimitExceeded::CpuTime => format!("{} s of CPU time", limits.cpu_time.as_secs()),
                LimitExceeded::WallTime => format!("{} s of wall time", limits.wall_time.as_secs()),
                LimitExceeded::Memory => format!("{} MiB of memory", limits.memory >> 20),
                LimitExceeded::FileSize => format!("{} MiB per file", limits.file_size >> 20),
            };
            output = format!("the compiler used more than {what}\n{output}");
            return Err((
                Failure::Verdict(Verdict::CompilationError, output.clone()),
                output,
            ));
        }
        if !run.status.success() {
            if output.trim().is_empty() {
                output = format!("the compiler failed with {}", run.status);
            }
            return Err((
                Failure::Verdict(Verdict::CompilationError, output.clone()),
                output,
            ));
        }
    }
    let files = files::read_tree(&slot.box_dir(), PROGRAM_SIZE_LIMIT).map_err(|e| {
        let msg = e.to_string();
        (Failure::Verdict(Verdict::CompilationError, msg.clone()), msg)
    })?;
    let run = language.run_command(dir, 0, &files);
    Ok((
        Program {
            run,
            env: language.env(),
            memory_allowance: language.memory_allowance,
            out_of_memory: language.out_of_memory.clone(),
            files,
        },
        output,
    ))
}

/// Keeps the start and the end of a long text (the first error and the summary matter most).
fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut head = limit * 3 / 4;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - limit / 4;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n… ({} bytes cut) …\n{}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Judge>();
    }

    #[test]
    fn long_compiler_output_keeps_its_start_and_end() {
        let text = format!("first error\n{}\nsummary", "x".repeat(100_000));
        let t = truncate(&text, 1000);
        assert!(t.len() < 1100 && t.starts_with("first error") && t.ends_with("summary"));
        assert_eq!(truncate("short", 1000), "short");
    }
}

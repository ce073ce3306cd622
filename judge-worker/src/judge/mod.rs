//! Judging: a problem package, a language and a source in, a [`JudgeReport`] out. Knows nothing
//! about NATS; borrows a sandbox slot per submission from a pool, so one [`Judge`] serves as many
//! submissions at once as it has slots.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{JudgeReport, Verdict};
use sha2::{Digest, Sha256};

use crate::language::{self, Language, LanguageInfo, Unavailable};
use problem_package::{Interaction, OutputValidator, ProblemPackage};
use sandbox::files;
use sandbox::{default_binds, Bind, Limits, Sandbox, SandboxConfig, SandboxError, SandboxPool};

mod compile;
mod interactive;
mod overshoot;
mod run;
mod trial;

use compile::{compile, install, Program};
pub use overshoot::Overshoot;

#[derive(Debug, Clone)]
pub struct JudgeConfig {
    /// Language table; `None`: the one shipped with the judge.
    pub languages_file: Option<PathBuf>,
    /// Concurrent submissions (sandbox slots); never more than the CPUs the slots may use.
    pub slots: usize,
    /// Pin each slot to a CPU of its own (see [`JudgeConfig::cpus`]).
    pub pin_cpus: bool,
    /// The CPUs the slots may use; empty: those this process may run on (`sched_getaffinity`).
    /// A judge with fewer slots than CPUs starts at CPU `pid mod n`, so that small judges sharing a
    /// machine spread over it, and keeps its own threads on the CPUs no slot uses.
    pub cpus: Vec<usize>,
    /// Our own binary, which doubles as the sandbox zygote; `None`: the running executable.
    pub helper: Option<PathBuf>,
    /// Where slot directories live; `None`: a temporary directory.
    pub state_dir: Option<PathBuf>,
    /// Time limit of packages that set none.
    pub default_time_limit: Duration,
    /// Wall-time limit of a test: its time limit plus this.
    pub wall_time_overshoot: Overshoot,
    /// Limits of every compile (the language may raise `memory`).
    pub compile_limits: Limits,
    /// Limits of custom output validators (their time is not the submission's).
    pub validator_limits: Limits,
    /// Processes and threads a submission may have at once.
    pub max_processes: u32,
    /// First uid of the sandbox slots. A judge that meets an interactive or multi-pass problem
    /// adds as many slots again for output validators, with the uids after the submissions'
    /// (`uid_base + slots` on).
    pub uid_base: u32,
    /// More host paths to show read-only in the sandbox.
    pub extra_binds: Vec<PathBuf>,
    /// Use rlimits only, even where cgroups work (see the sandbox's "where limits fail").
    pub disable_cgroups: bool,
    /// Size of the sandbox's `/box` and of its `/tmp`, bytes.
    pub scratch_size: u64,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            languages_file: None,
            slots: sandbox::allowed_cpus().len().max(1),
            pin_cpus: true,
            cpus: Vec::new(),
            helper: None,
            state_dir: None,
            default_time_limit: Duration::from_secs(1),
            wall_time_overshoot: Overshoot::default(),
            // CPU is what limits a compiler; the wall clock only catches one that blocks. It is
            // four times the CPU limit because a JVM compiler (scalac, kotlinc) on a loaded
            // 2-core machine took over 30 s of wall time for 10 s of CPU, and a learner's
            // program must not fail to compile because the judge was busy.
            compile_limits: Limits {
                cpu_time: Duration::from_secs(15),
                wall_time: Duration::from_secs(60),
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
            scratch_size: 512 << 20,
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

/// The judge: languages, a pool of sandboxes and compiled validators. `Send + Sync`: share one
/// behind an `Arc` and call [`Judge::judge`] from as many threads as it has slots (it blocks; from
/// async code, call it in `spawn_blocking`).
pub struct Judge {
    config: JudgeConfig,
    languages: Vec<Language>,
    unavailable: Vec<Unavailable>,
    pool: SandboxPool,
    /// How [`Judge::validator_pool`] is made, on first use.
    sandbox_config: SandboxConfig,
    /// The slots output validators of interactive and multi-pass problems run in, beside the
    /// submission's: as many as `pool` has, so that a submission holding one of each never waits
    /// for the other.
    validator_pool: OnceLock<Result<SandboxPool, String>>,
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

/// Pauses before running again a run the machine was too busy to time
/// ([`sandbox::LimitExceeded::MachineBusy`]), longer each time: half a minute in all, what a
/// flood of work beside the judge may last, before the run is given up as the judge's failure.
const BUSY_PAUSES: [Duration; 6] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(16),
];

/// Makes a run with `attempt` and makes it again, after a pause, while the sandbox says the
/// machine kept it from finishing (a verdict on such a run would be the machine's, the "false
/// time limit on a loaded machine"). Gives the last attempt, busy or not.
fn again_while_busy<T>(
    what: &str,
    mut attempt: impl FnMut() -> Result<T, Failure>,
    run_of: impl Fn(&T) -> &sandbox::RunResult,
) -> Result<T, Failure> {
    let mut pauses = BUSY_PAUSES.iter();
    loop {
        let done = attempt()?;
        let run = run_of(&done);
        if run.limit != Some(sandbox::LimitExceeded::MachineBusy) {
            return Ok(done);
        }
        let Some(pause) = pauses.next() else {
            return Ok(done);
        };
        tracing::warn!(
            what,
            cpu_ms = run.cpu_time.as_millis() as u64,
            wall_ms = run.wall_time.as_millis() as u64,
            "the machine was too busy to time the run; running it again in {pause:?}"
        );
        metrics::counter!("judge_runs_again_busy_total").increment(1);
        std::thread::sleep(*pause);
    }
}

/// What a run the machine was too busy to time, even after [`BUSY_PAUSES`], is: the judge's
/// failure, never a verdict on the program.
fn machine_busy(run: &sandbox::RunResult) -> Failure {
    Failure::Internal(format!(
        "the machine was too busy to time the run: {} ms of CPU in {} ms, the rest waiting for a CPU",
        run.cpu_time.as_millis(),
        run.wall_time.as_millis()
    ))
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
    pub fn new(mut config: JudgeConfig) -> Result<Judge, JudgeError> {
        let cpus = if config.cpus.is_empty() {
            sandbox::allowed_cpus()
        } else {
            config.cpus.clone()
        };
        if config.slots > cpus.len() {
            tracing::warn!(
                slots = config.slots,
                cpus = cpus.len(),
                "more slots than CPUs asked for: one slot per CPU instead"
            );
            config.slots = cpus.len().max(1);
        }
        let slot_cpus = if config.pin_cpus && !cpus.is_empty() {
            let start = std::process::id() as usize % cpus.len();
            let ours: Vec<usize> = (0..config.slots)
                .map(|i| cpus[(start + i) % cpus.len()])
                .collect();
            let spare: Vec<usize> = cpus.iter().copied().filter(|c| !ours.contains(c)).collect();
            if !spare.is_empty() {
                if let Err(e) = sandbox::confine_own_threads(&spare) {
                    tracing::warn!(error = %e, "cannot keep the judge's threads off the slots' CPUs");
                }
            }
            ours
        } else {
            Vec::new()
        };
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
            scratch_size: config.scratch_size,
            disable_cgroups: config.disable_cgroups,
            cpus: slot_cpus,
        };
        let pool = match &config.state_dir {
            Some(_) => SandboxPool::new(&sandbox_config, config.slots)?,
            None => SandboxPool::with_temp_state(sandbox_config.clone(), config.slots)?,
        };
        Ok(Judge {
            config,
            languages,
            unavailable,
            pool,
            sandbox_config,
            validator_pool: OnceLock::new(),
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// The languages offered, with the versions their toolchains report (asked once, all at once;
    /// a language whose version command fails is left out, with a warning).
    pub fn languages(&self) -> Vec<LanguageInfo> {
        let infos: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = self.languages.iter().map(|l| s.spawn(move || l.info())).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("version probe panicked".into())))
                .collect()
        });
        infos
            .into_iter()
            .zip(&self.languages)
            .filter_map(|(info, l)| match info {
                Ok(i) => Some(i),
                Err(e) => {
                    tracing::warn!(language = l.id(), error = %e, "language not offered: no version");
                    None
                }
            })
            .collect()
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
        let mut report = JudgeReport::of(Verdict::InternalError);
        let Some(language) = self.language(language_id) else {
            report.error = Some(format!("language {language_id:?} is not offered"));
            return report;
        };
        let mut slot = self.pool.lend();
        let _busy = BusySlot::new();
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
                // A scoring problem's submission that does not compile earns nothing, and says so.
                if let Some(scoring) = &package.scoring {
                    report.score = Some(0.0);
                    report.max_score = Some(scoring.secret.max_score);
                }
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
        // Interactive and multi-pass problems: a second slot for the validator.
        let mut vslot = None;
        if package.interaction != Interaction::Batch {
            let Some(v) = &validator else {
                report.error =
                    Some("an interactive or multi-pass problem without an output validator".into());
                return report;
            };
            let pool = match self.validator_pool() {
                Ok(p) => p,
                Err(e) => {
                    report.error = Some(format!("validator sandbox: {e}"));
                    return report;
                }
            };
            let s = pool.lend();
            if let Err(e) = install(&s.checker_dir(), &v.files) {
                report.error = Some(format!("install validator: {e}"));
                return report;
            }
            vslot = Some(s);
        }
        let of = package.tests.len() as u32;
        report.verdict = Verdict::Accepted;
        // A scoring problem's later groups earn points after an earlier one failed.
        let run_all = options.run_all_tests || package.scoring.is_some();
        for (i, test) in package.tests.iter().enumerate() {
            let index = i as u32 + 1;
            progress(Progress::Running { test: index, of });
            let (mut result, exec) = match (&mut vslot, &validator) {
                (Some(vslot), Some(v)) => (
                    self.run_passes(&mut slot, vslot, package, &program, v, test, index),
                    None,
                ),
                _ => self.run_test(&mut slot, package, &program, validator.as_deref(), test, index),
            };
            // The first failing sample shows why; a secret test never does. (An interactive
            // sample's answer file is the validator's, not an expected output: no feedback.)
            if common::api::is_sample(&test.name)
                && exec.is_some()
                && result.verdict != Verdict::Accepted
                && !report.tests.iter().any(|t| t.feedback.is_some())
            {
                result.feedback = Some(run::feedback_of(test, exec.as_ref()));
            }
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
                if !run_all {
                    break;
                }
            }
        }
        if let Some(scoring) = &package.scoring {
            score(&mut report, scoring);
        }
        report
    }

    /// The validators' slots, prepared on first use.
    fn validator_pool(&self) -> Result<&SandboxPool, String> {
        self.validator_pool
            .get_or_init(|| {
                let mut config = self.sandbox_config.clone();
                config.uid_base += self.pool.size() as u32;
                let pool = match &self.config.state_dir {
                    Some(dir) => {
                        config.state_dir = dir.join("validators");
                        std::fs::create_dir_all(&config.state_dir).map_err(|e| e.to_string())?;
                        SandboxPool::new(&config, self.pool.size())
                    }
                    None => SandboxPool::with_temp_state(config, self.pool.size()),
                };
                pool.map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
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
            let is_source = problem_package::validator_language(name) == Some(lang.id());
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
}

/// Scores a scoring problem's report (every test ran): its score, its groups, and its verdict:
/// `accepted` with every point, `partially_accepted` with some, else the first failing secret
/// test's verdict. A judge failure on any test keeps `internal_error` and awards nothing.
fn score(report: &mut JudgeReport, scoring: &problem_package::scoring::Scoring) {
    let verdict_of = |i: usize| report.tests.get(i).map_or(Verdict::InternalError, |t| t.verdict);
    let (total, groups) = scoring.score(&|i| verdict_of(i) == Verdict::Accepted);
    report.groups = groups
        .iter()
        .map(|g| common::GroupResult {
            name: g.name.clone(),
            verdict: g
                .tests
                .iter()
                .map(|&i| verdict_of(i))
                .find(|v| *v != Verdict::Accepted)
                .unwrap_or(Verdict::Accepted),
            score: g.score,
            max_score: g.max_score,
            accepted_tests: g
                .tests
                .iter()
                .filter(|&&i| verdict_of(i) == Verdict::Accepted)
                .count() as u32,
            tests: g.tests.len() as u32,
        })
        .collect();
    report.max_score = Some(scoring.secret.max_score);
    if report.tests.iter().any(|t| t.verdict == Verdict::InternalError) {
        report.verdict = Verdict::InternalError;
        return;
    }
    report.score = Some(total);
    let secret = &report.groups[0];
    report.verdict = if total >= scoring.secret.max_score - 1e-6 {
        Verdict::Accepted
    } else if total > 1e-9 {
        Verdict::PartiallyAccepted
    } else if secret.verdict != Verdict::Accepted {
        secret.verdict
    } else {
        Verdict::WrongAnswer
    };
}

/// Counts a lent slot in the `judge_slots_busy` gauge for as long as it lives.
pub(crate) struct BusySlot(());

impl BusySlot {
    pub(crate) fn new() -> Self {
        metrics::gauge!("judge_slots_busy").increment(1.0);
        BusySlot(())
    }
}

impl Drop for BusySlot {
    fn drop(&mut self) {
        metrics::gauge!("judge_slots_busy").decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Judge>();
    }
}

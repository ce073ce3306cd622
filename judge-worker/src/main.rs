//! `judge-worker`: the judge engine's command line. `judge` grades one submission locally, with no
//! NATS and no database; `languages` lists what this machine offers; `check-package` validates a
//! problem package.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use judge_worker::{Judge, JudgeConfig, JudgeOptions, Overshoot, Progress};
use problem_package::ProblemPackage;
use sandbox::zygote;

#[derive(Parser)]
#[command(version, about = "Compiles and runs submissions in a sandbox and grades them")]
struct Cli {
    /// Language table (YAML); default: the one built in.
    #[arg(long, global = true, env = "JUDGE_LANGUAGES")]
    languages: Option<PathBuf>,
    /// Time limit, in seconds, of packages that set none.
    #[arg(long, global = true, default_value_t = 1.0)]
    default_time_limit: f64,
    /// Sandbox slot `n` runs as uid and gid `uid_base + n`; give concurrent judges distinct ranges,
    /// twice their slots wide (interactive and multi-pass problems add as many validator slots).
    #[arg(long, global = true, default_value_t = JudgeConfig::default().uid_base)]
    uid_base: u32,
    /// How far past its time limit a run's wall clock may go: the greater of the terms, each a time
    /// (`1s`, `500ms`) or a share of the limit (`10%`).
    #[arg(
        long,
        global = true,
        env = "JUDGE_WALL_TIME_OVERSHOOT",
        default_value = "1s|10%"
    )]
    wall_time_overshoot: Overshoot,
    /// CPUs the sandbox slots are pinned to, one each (`0-3,6`); default: those this process may
    /// run on. `none`: no pinning.
    #[arg(long, global = true, env = "JUDGE_CPUS", value_parser = parse_cpus)]
    cpus: Option<CpuChoice>,
    /// Submissions `serve` judges at once (sandbox slots); default and maximum: one per CPU.
    #[arg(long, global = true, env = "JUDGE_SLOTS")]
    slots: Option<usize>,
    /// `serve`: seconds one slot stays kept free for runs without grading after the last run came,
    /// so a learner's run never waits behind a grading job; 0: grading always takes every slot.
    #[arg(long, global = true, env = "JUDGE_RUN_RESERVE_SECS", default_value_t = 60)]
    run_reserve_secs: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Judge FILE against a problem package and print the verdict of every test.
    Judge {
        /// The problem package directory.
        #[arg(long)]
        problem: PathBuf,
        /// Language id (see `judge-worker languages`).
        #[arg(long)]
        language: String,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Run every test instead of stopping at the first failure.
        #[arg(long)]
        all_tests: bool,
        file: PathBuf,
    },
    /// List the languages this machine offers, with their versions.
    Languages {
        #[arg(long)]
        json: bool,
    },
    /// Check a problem package and print what the judge reads from it. With `--verify`, judge
    /// every submission it carries (deriving the time limit from the accepted ones when it sets
    /// none) and print a table; exit 0 when all get a verdict their place allows, 1 when not.
    CheckPackage {
        problem: PathBuf,
        #[arg(long)]
        verify: bool,
        /// With `--verify`: one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Join NATS as the `judge` service (settings from NATS_* variables) until SIGTERM/SIGINT.
    Serve,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(sandbox::ZYGOTE_ARG) {
        zygote::zygote_main(args.get(2).map_or("", String::as_str));
    }
    let cli = Cli::parse();
    // The service logs at `info`; the local commands only warn, so their output stays readable.
    match cli.command {
        Command::Serve => common::telemetry::init("judge-worker"),
        _ => common::telemetry::init_with_default("judge-worker", "warn"),
    }
    let default_tl = Duration::from_secs_f64(cli.default_time_limit.max(0.001));
    let (pin_cpus, cpus) = match cli.cpus.clone() {
        None => (true, Vec::new()),
        Some(CpuChoice::Unpinned) => (false, Vec::new()),
        Some(CpuChoice::Cpus(list)) => (true, list),
    };
    let config = JudgeConfig {
        languages_file: cli.languages.clone(),
        slots: 1,
        default_time_limit: default_tl,
        uid_base: cli.uid_base,
        wall_time_overshoot: cli.wall_time_overshoot,
        pin_cpus,
        cpus,
        ..JudgeConfig::default()
    };
    match cli.command {
        Command::Serve => {
            let slots = cli.slots.unwrap_or(JudgeConfig::default().slots);
            let runtime = tokio::runtime::Runtime::new().expect("starting the async runtime");
            let cache = std::env::var_os("JUDGE_CACHE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("judge-packages"));
            let options = judge_worker::serve::ServeOptions {
                cache_dir: cache,
                run_reserve: Duration::from_secs(cli.run_reserve_secs),
            };
            match runtime.block_on(judge_worker::serve::serve(
                JudgeConfig { slots, ..config },
                options,
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fatal(&e),
            }
        }
        Command::CheckPackage {
            problem,
            verify: true,
            json,
        } => {
            let mut package = match ProblemPackage::load_with_default_time_limit(&problem, default_tl) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{} is not a valid problem package:", problem.display());
                    for r in &e.reasons {
                        eprintln!("  - {r}");
                    }
                    return ExitCode::from(2);
                }
            };
            let judge = match Judge::new(config) {
                Ok(j) => j,
                Err(e) => return fatal(&e),
            };
            let v = judge_worker::verify::verify(&judge, &mut package, |path| {
                if !json {
                    eprintln!("judging {path}…");
                }
            });
            if json {
                println!("{}", serde_json::to_string(&v).unwrap_or_default());
            } else {
                print_verification(&package, &v);
            }
            if v.agrees() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::CheckPackage { problem, .. } => {
            match ProblemPackage::load_with_default_time_limit(&problem, default_tl) {
                Ok(p) => {
                    let json = serde_json::to_string_pretty(&p).unwrap_or_default();
                    println!("{json}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{} is not a valid problem package:", problem.display());
                    for r in &e.reasons {
                        eprintln!("  - {r}");
                    }
                    ExitCode::from(2)
                }
            }
        }
        Command::Languages { json } => {
            let judge = match Judge::new(config) {
                Ok(j) => j,
                Err(e) => return fatal(&e),
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&judge.languages()).unwrap_or_default()
                );
            } else {
                for l in judge.languages() {
                    println!("{:<12} {:<24} {}", l.id, l.name, l.version);
                }
                for u in judge.unavailable_languages() {
                    println!("{:<12} (not offered: {})", u.id, u.reason);
                }
            }
            ExitCode::SUCCESS
        }
        Command::Judge {
            problem,
            language,
            json,
            all_tests,
            file,
        } => {
            let package = match ProblemPackage::load_with_default_time_limit(&problem, default_tl) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{} is not a valid problem package:", problem.display());
                    for r in &e.reasons {
                        eprintln!("  - {r}");
                    }
                    return ExitCode::from(2);
                }
            };
            let source = match std::fs::read(&file) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    return ExitCode::from(2);
                }
            };
            let judge = match Judge::new(config) {
                Ok(j) => j,
                Err(e) => return fatal(&e),
            };
            if judge.language(&language).is_none() {
                let offered: Vec<String> = judge.languages().into_iter().map(|l| l.id).collect();
                eprintln!(
                    "language {language:?} is not offered here; offered: {}",
                    offered.join(", ")
                );
                return ExitCode::from(2);
            }
            let options = JudgeOptions {
                run_all_tests: all_tests,
            };
            let report = judge.judge(&package, &language, &source, &options, |p| {
                if !json {
                    match p {
                        Progress::Compiling => eprintln!("compiling…"),
                        Progress::Running { test, of } => eprint!("\rrunning test {test}/{of}"),
                    }
                }
            });
            if json {
                // `compile_output` is always present (null without a compile step or output), so
                // scripts need not test for the key.
                let mut value = serde_json::to_value(&report).unwrap_or_default();
                if let Some(map) = value.as_object_mut() {
                    map.entry("compile_output").or_insert(serde_json::Value::Null);
                }
                println!("{value}");
            } else {
                eprintln!();
                print_table(&report);
            }
            if report.verdict == common::Verdict::Accepted {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn print_table(report: &common::JudgeReport) {
    let mut out = std::io::stdout().lock();
    if let Some(c) = &report.compile_output {
        let _ = writeln!(out, "compiler output:\n{}", c.trim_end());
    }
    if !report.tests.is_empty() {
        let _ = writeln!(
            out,
            "{:>4}  {:<28} {:<22} {:>9} {:>9} {:>10}  detail",
            "#", "test", "verdict", "cpu", "wall", "memory"
        );
    }
    for t in &report.tests {
        let _ = writeln!(
            out,
            "{:>4}  {:<28} {:<22} {:>6} ms {:>6} ms {:>7} KB  {}",
            t.index,
            t.name,
            t.verdict.as_str(),
            t.time_ms,
            t.wall_time_ms,
            t.memory_kb,
            t.detail.as_deref().unwrap_or("")
        );
    }
    for g in &report.groups {
        let _ = writeln!(
            out,
            "group {:<26} {:<22} {:>8} / {:<8} ({}/{} tests)",
            g.name,
            g.verdict.as_str(),
            g.score,
            g.max_score,
            g.accepted_tests,
            g.tests
        );
    }
    let _ = writeln!(
        out,
        "verdict: {} (time {} ms, memory {} KB)",
        report.verdict, report.run_time_ms, report.memory_kb
    );
    if let (Some(score), Some(max)) = (report.score, report.max_score) {
        let _ = writeln!(out, "score: {score} / {max}");
    }
    if let Some(e) = &report.error {
        let _ = writeln!(out, "judge error: {e}");
    }
}

fn print_verification(package: &ProblemPackage, v: &judge_worker::verify::Verification) {
    let mut out = std::io::stdout().lock();
    for w in &package.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(
        out,
        "{:<44} {:<12} {:<34} {:<22} {:>8} {:>10}  result",
        "submission", "language", "expected", "got", "time", "memory"
    );
    for s in &v.submissions {
        let result = match (&s.verdict, s.agrees) {
            (None, _) => "not judged",
            (Some(_), true) => "ok",
            (Some(_), false) => "DISAGREES",
        };
        let _ = writeln!(
            out,
            "{:<44} {:<12} {:<34} {:<22} {:>5} ms {:>7} KB  {result}",
            s.path,
            s.language.as_deref().unwrap_or("?"),
            s.expected.join("|"),
            s.verdict.as_deref().unwrap_or("-"),
            s.time_ms,
            s.memory_kb,
        );
    }
    for w in &v.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    match &v.derived {
        Some(d) => {
            let _ = writeln!(
                out,
                "time limit: {} ms, derived from the accepted submissions (slowest {} ms × {}, rounded up to {} s)",
                v.time_limit_ms, d.slowest_ms, d.multipliers.ac_to_time_limit, d.multipliers.time_resolution
            );
        }
        None => {
            let _ = writeln!(
                out,
                "time limit: {} ms ({:?})",
                v.time_limit_ms, v.time_limit_source
            );
        }
    }
    let judged = v.submissions.iter().filter(|s| s.verdict.is_some()).count();
    let bad = v
        .submissions
        .iter()
        .filter(|s| s.verdict.is_some() && !s.agrees)
        .count();
    let _ = writeln!(
        out,
        "{}: {judged} judged, {bad} disagree, {} not judged",
        if v.agrees() { "verified" } else { "NOT VERIFIED" },
        v.submissions.len() - judged
    );
}

#[derive(Debug, Clone)]
enum CpuChoice {
    Unpinned,
    Cpus(Vec<usize>),
}

/// `none`, or CPU numbers and ranges separated by commas (`0-3,6`), as in `/sys`'s cpu lists.
fn parse_cpus(s: &str) -> Result<CpuChoice, String> {
    if s.trim() == "none" {
        return Ok(CpuChoice::Unpinned);
    }
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("{part:?} is not a CPU or a range"))
        };
        match part.split_once('-') {
            Some((a, b)) => out.extend(num(a)?..=num(b)?),
            None => out.push(num(part)?),
        }
    }
    if out.is_empty() {
        return Err("no CPU given".into());
    }
    Ok(CpuChoice::Cpus(out))
}

fn fatal(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("judge-worker: {e}");
    ExitCode::from(2)
}

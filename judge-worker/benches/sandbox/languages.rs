//! Per-language cost of judging an A+B against doing the same work bare: the compile (or syntax
//! check), and one test's run, in the sandbox (timed through the judge's progress reports) and on
//! the host with the same commands, environment and an equally empty cache (so that, say, Go
//! builds into a fresh GOCACHE on both sides).

use std::path::{Path, PathBuf};
use std::process::{Command as HostCommand, Stdio};
use std::time::{Duration, Instant};

use judge_worker::language::{with_memory, Language};
use judge_worker::{Judge, JudgeOptions, Progress};
use problem_package::ProblemPackage;

const TESTS: usize = 10;
const MEMORY: u64 = 256 << 20;

pub fn languages(judge: &Judge, examples: &Path, package_root: &Path) {
    let package = ProblemPackage::load(package_root).expect("package");
    println!("### Per language: an A+B compiled once and run on {TESTS} tests, in the sandbox and bare\n");
    println!(
        "Medians of 3 (1 where a compile takes over 2 s); compile and one test's run, in milliseconds.\n"
    );
    println!("| language | version | compile bare | compile judged | × | run bare | run judged | × |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let accepted = examples.join("aplusb/submissions/accepted");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&accepted)
        .expect("examples")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let infos = judge.languages();
    for info in &infos {
        let Some(file) = files
            .iter()
            .find(|f| judge_worker::language::language_of_file(f).as_deref() == Some(info.id.as_str()))
        else {
            continue;
        };
        let language = judge.language(&info.id).expect("offered");
        let source = std::fs::read(file).expect("read example");
        let mut judged = Vec::new();
        let mut bare = Vec::new();
        for rep in 0..3 {
            judged.push(judged_costs(judge, &package, &info.id, &source));
            bare.push(bare_costs(language, &source, package_root));
            if rep == 0 && judged[0].0 > Duration::from_secs(2) {
                break;
            }
        }
        let (jc, jr) = medians(judged);
        let (bc, br) = medians(bare);
        let ratio = |a: Duration, b: Duration| {
            if b.is_zero() {
                "–".to_owned()
            } else {
                format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
            }
        };
        println!(
            "| {} | {} | {:.0} | {:.0} | {} | {:.1} | {:.1} | {} |",
            info.id,
            info.version,
            ms(bc),
            ms(jc),
            ratio(jc, bc),
            ms(br),
            ms(jr),
            ratio(jr, br)
        );
    }
    println!(
        "\n\"Judged\" includes everything the judge does around the program: writing the source, \
         the sandbox's fork and limits, taking the compiled files out and putting them in `/prog`, \
         and (per test) cleaning `/box`, feeding the input and checking the answer. \"Bare\" runs \
         the same commands on the host with `std::process::Command` in a fresh directory.\n"
    );
}

fn medians(v: Vec<(Duration, Duration)>) -> (Duration, Duration) {
    let mut a: Vec<_> = v.iter().map(|x| x.0).collect();
    let mut b: Vec<_> = v.iter().map(|x| x.1).collect();
    a.sort();
    b.sort();
    (a[a.len() / 2], b[b.len() / 2])
}

/// (compile, one test's run) through the judge: from `Compiling` to the first `Running`, then the
/// rest divided by the tests.
fn judged_costs(judge: &Judge, package: &ProblemPackage, id: &str, source: &[u8]) -> (Duration, Duration) {
    let start = Instant::now();
    let mut first_test = None;
    let report = judge.judge(package, id, source, &JudgeOptions::default(), |p| {
        if let Progress::Running { test: 1, .. } = p {
            first_test = Some(Instant::now());
        }
    });
    let end = Instant::now();
    assert_eq!(report.verdict, common::Verdict::Accepted, "{id}: {report:?}");
    let first = first_test.expect("tests ran");
    (first - start, (end - first) / package.tests.len() as u32)
}

/// The same compile and runs on the host, bare.
fn bare_costs(language: &Language, source: &[u8], package_root: &Path) -> (Duration, Duration) {
    // Not below /tmp: the sandbox's own /tmp in the commands is relocated into it.
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let dir = work.path();
    std::fs::create_dir(dir.join("tmp")).expect("mkdir");
    let tmp = dir.join("tmp").to_string_lossy().into_owned();
    let work_dir = dir.to_string_lossy().into_owned();
    let here = |s: &str| relocate(&relocate(s, "/tmp", &tmp), "/box", &work_dir);
    let env: Vec<(String, String)> = with_memory(&language.env(), 1 << 30)
        .iter()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), here(v))))
        .collect();
    let name = language.source_name(source);
    std::fs::write(dir.join(&name), source).expect("write source");
    for (n, contents) in &language.extra_files {
        std::fs::write(dir.join(n), contents).expect("write extra file");
    }
    let start = Instant::now();
    if let Some(cmd) = language.compile_command(&name) {
        let cmd: Vec<String> = cmd.iter().map(|a| here(a)).collect();
        let ok = HostCommand::new(&cmd[0])
            .args(&cmd[1..])
            .current_dir(dir)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "bare compile failed: {cmd:?}");
    }
    let compile = start.elapsed();
    let files = sandbox::files::read_tree(dir, 1 << 30).expect("program files");
    let run = language
        .run_command(&dir.to_string_lossy(), &files)
        .expect("run command");
    let run: Vec<String> = with_memory(&run, MEMORY).iter().map(|a| here(a)).collect();
    let run_env: Vec<(String, String)> = with_memory(&language.env(), MEMORY)
        .iter()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), here(v))))
        .collect();
    let mut inputs: Vec<PathBuf> = walk(&package_root.join("data"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "in"))
        .collect();
    inputs.sort();
    let start = Instant::now();
    for input in &inputs {
        let out = HostCommand::new(&run[0])
            .args(&run[1..])
            .current_dir(dir)
            .env_clear()
            .envs(run_env.iter().map(|(k, v)| (k, v)))
            .stdin(std::fs::File::open(input).expect("input"))
            .stderr(Stdio::null())
            .output()
            .expect("bare run");
        let answer = std::fs::read_to_string(input.with_extension("ans")).expect("answer");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .collect::<Vec<_>>(),
            answer.split_whitespace().collect::<Vec<_>>(),
            "bare {run:?}"
        );
    }
    (compile, start.elapsed() / inputs.len().max(1) as u32)
}

/// `s` with the sandbox's path `from` replaced by `to` where it starts an argument, a value
/// (`GOCACHE=/tmp/…`) or a search-path entry (`:/tmp`), not inside another path.
fn relocate(s: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(from) {
        let boundary = i == 0 || matches!(rest.as_bytes()[i - 1], b'=' | b':');
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if boundary && matches!(after, None | Some('/')) {
            out.push_str(to);
        } else {
            out.push_str(from);
        }
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

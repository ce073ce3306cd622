//! Compiling a source in a sandbox slot and taking the program out of it.

use common::Verdict;

use super::{Failure, JudgeConfig};
use crate::language::Language;
use sandbox::files::{self, FileTree};
use sandbox::{Command, LimitExceeded, Sandbox, Sink, Stdio};

/// Compiler output kept in a report.
pub(super) const COMPILE_OUTPUT_LIMIT: usize = 16 * 1024;
/// Largest compiled program (all files together).
const PROGRAM_SIZE_LIMIT: u64 = 256 << 20;

/// A compiled program: its files and how to run it from the directory they are put in.
#[derive(Debug)]
pub(super) struct Program {
    /// The language's id (a metrics label).
    pub(super) language: String,
    pub(super) files: FileTree,
    pub(super) run: Vec<String>,
    pub(super) env: Vec<String>,
    pub(super) memory_allowance: u64,
    /// Smallest file-size limit the runtime itself needs.
    pub(super) min_file_size: u64,
    pub(super) out_of_memory: Vec<String>,
}

/// Replaces the contents of a program directory.
pub(super) fn install(dir: &std::path::Path, tree: &FileTree) -> std::io::Result<()> {
    files::empty_dir(dir)?;
    files::write_tree(dir, tree)
}

/// Compiles `source` in the slot's `/box` and takes the result out. `dir` is where the program
/// will be run from. On failure returns the failure and the compiler's output.
pub(super) fn compile(
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
    for (name, contents) in &language.extra_files {
        files::write_new(&slot.box_dir(), name, contents.as_bytes(), 0o644).map_err(|e| internal(&e))?;
    }
    let mut output = String::new();
    if let Some(argv) = language.compile_command(&source_name) {
        let mut limits = config.compile_limits.clone();
        limits.memory = limits.memory.max(language.compile_memory.unwrap_or(0));
        // Both streams into one bounded capture: a compiler that floods its output (templates!)
        // fills neither a disk nor the report.
        let command = Command {
            argv,
            env: crate::language::with_memory(&language.env(), limits.memory),
            cwd: "/box".into(),
        };
        let attempt = || {
            Ok(slot.run(
                &command,
                &limits,
                Stdio {
                    stdin: None,
                    stdout: Sink::Capture(COMPILE_OUTPUT_LIMIT),
                    stderr: Sink::Capture(COMPILE_OUTPUT_LIMIT),
                },
            )?)
        };
        let run = super::again_while_busy("a compile", attempt, |r| r).map_err(|f| (f, String::new()))?;
        metrics::histogram!("judge_compile_seconds", "language" => language.id().to_owned())
            .record(run.cpu_time.as_secs_f64());
        output = run.captured.text();
        if let Some(e) = run.exec_error {
            return Err((
                Failure::Internal(format!("cannot start the compiler: {e}")),
                output,
            ));
        }
        if let Some(limit) = run.limit {
            let what = match limit {
                LimitExceeded::MachineBusy => return Err((super::machine_busy(&run), output)),
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
    let run = language.run_command(dir, &files).map_err(|why| {
        let msg = if output.trim().is_empty() {
            why
        } else {
            format!("{output}\n{why}")
        };
        (Failure::Verdict(Verdict::CompilationError, msg.clone()), msg)
    })?;
    Ok((
        Program {
            language: language.id().to_owned(),
            run,
            env: language.env(),
            memory_allowance: language.memory_allowance,
            min_file_size: language.min_file_size,
            out_of_memory: language.out_of_memory.clone(),
            files,
        },
        output,
    ))
}

/// Keeps the start and the end of a long text (the first error and the summary matter most).
pub(super) fn truncate(text: &str, limit: usize) -> String {
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
    fn long_compiler_output_keeps_its_start_and_end() {
        let text = format!("first error\n{}\nsummary", "x".repeat(100_000));
        let t = truncate(&text, 1000);
        assert!(t.len() < 1100 && t.starts_with("first error") && t.ends_with("summary"));
        assert_eq!(truncate("short", 1000), "short");
    }
}

//! Compiling a source in a sandbox slot and taking the program out of it.

use std::fs::File;
use std::os::fd::AsFd;

use common::Verdict;

use super::{Failure, JudgeConfig};
use crate::language::Language;
use sandbox::files::{self, FileTree};
use sandbox::{Command, LimitExceeded, Sandbox, Stdio};

/// Compiler output kept in a report.
pub(super) const COMPILE_OUTPUT_LIMIT: usize = 16 * 1024;
/// Largest compiled program (all files together).
const PROGRAM_SIZE_LIMIT: u64 = 256 << 20;

/// A compiled program: its files and how to run it from the directory they are put in.
#[derive(Debug)]
pub(super) struct Program {
    pub(super) files: FileTree,
    pub(super) run: Vec<String>,
    pub(super) env: Vec<String>,
    pub(super) memory_allowance: u64,
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

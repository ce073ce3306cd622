//! The languages the judge offers, read from a YAML table (`languages.yaml`).
//!
//! A language is offered only if every program it needs exists on this machine; its version is
//! what its own version command prints, asked once at start-up.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;

use sandbox::files::FileTree;

use crate::jvm;

/// The table shipped with the judge, used when no other file is configured.
pub const BUILTIN_LANGUAGES: &str = include_str!("../languages.yaml");

/// Where programs named without a slash are looked up, in order. Fixed rather than the judge's own
/// `PATH`, so that what runs in the sandbox does not depend on who started the judge.
pub const SEARCH_PATH: &[&str] = &["/usr/local/bin", "/usr/bin", "/bin"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageTable {
    languages: Vec<LanguageSpec>,
}

/// One entry of the table, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageSpec {
    id: String,
    name: String,
    source: String,
    #[serde(default)]
    compile: Option<Vec<String>>,
    run: Vec<String>,
    version: Vec<String>,
    #[serde(default)]
    version_prefix: String,
    #[serde(default)]
    toolchain: Option<Vec<String>>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    binds: Vec<PathBuf>,
    #[serde(default)]
    memory_allowance_mb: u64,
    #[serde(default)]
    compile_memory_mb: Option<u64>,
    #[serde(default)]
    min_file_size_mb: u64,
    #[serde(default)]
    out_of_memory: Vec<String>,
    /// The version is the first line of the version command's output that holds this text (by
    /// default its first line).
    #[serde(default)]
    version_line: Option<String>,
    /// How example files of this language end (`.pypy.py`); by default the source's extension.
    #[serde(default)]
    file_suffix: Option<String>,
    /// Files written beside the source before compiling: name, contents.
    #[serde(default)]
    extra_files: std::collections::BTreeMap<String, String>,
}

/// What clients are told about a language: the API's own document.
pub use common::api::Language as LanguageInfo;

/// A language ready to use: programs resolved to absolute paths. Its version is asked of its
/// toolchain the first time it is wanted ([`Language::info`]), not at start-up: a JVM or BEAM
/// toolchain takes a second or more to say it, and the local `judge` command needs none.
#[derive(Debug)]
pub struct Language {
    id: String,
    name: String,
    version_cmd: Vec<String>,
    version_prefix: String,
    version_line: Option<String>,
    version: std::sync::OnceLock<Result<String, String>>,
    file_suffix: String,
    source: String,
    compile: Option<Vec<String>>,
    run: Vec<String>,
    env: Vec<String>,
    /// Host paths the toolchain needs inside the sandbox.
    pub binds: Vec<PathBuf>,
    /// Bytes added to the memory limit for the runtime itself.
    pub memory_allowance: u64,
    /// Memory limit of the compile step, bytes, when the language needs more than the default.
    pub compile_memory: Option<u64>,
    /// Smallest per-file size limit (`RLIMIT_FSIZE`) the runtime itself needs, bytes.
    pub min_file_size: u64,
    /// What the runtime prints on stderr when its own heap limit is reached.
    pub out_of_memory: Vec<String>,
    /// Files written beside the source before compiling: name, contents.
    pub extra_files: Vec<(String, String)>,
}

/// The language of an example file (`examples/…/aplusb.go`), by the longest suffix of the built-in
/// table's that its name ends with: its own `file_suffix`, or its source's extension.
pub fn language_of_file(path: &Path) -> Option<String> {
    let table: LanguageTable = serde_yaml::from_str(BUILTIN_LANGUAGES).ok()?;
    let name = path.file_name()?.to_str()?;
    table
        .languages
        .iter()
        .map(|l| (l.suffix(), &l.id))
        .filter(|(suffix, _)| name.ends_with(suffix.as_str()))
        .max_by_key(|(suffix, _)| suffix.len())
        .map(|(_, id)| id.clone())
}

impl LanguageSpec {
    fn suffix(&self) -> String {
        self.file_suffix.clone().unwrap_or_else(|| {
            Path::new(&self.source)
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default()
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LanguageError {
    #[error("cannot read the language table {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("invalid language table: {0}")]
    Parse(#[from] serde_yaml::Error),
    #[error("language id {0:?} appears twice")]
    Duplicate(String),
}

/// Why a language of the table is not offered.
#[derive(Debug, Clone)]
pub struct Unavailable {
    pub id: String,
    pub reason: String,
}

/// Reads a table and keeps the languages whose toolchain is present.
pub fn load(path: Option<&Path>) -> Result<(Vec<Language>, Vec<Unavailable>), LanguageError> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| LanguageError::Read(p.to_owned(), e))?,
        None => BUILTIN_LANGUAGES.to_owned(),
    };
    let table: LanguageTable = serde_yaml::from_str(&text)?;
    let mut seen = HashMap::new();
    for spec in &table.languages {
        if seen.insert(spec.id.clone(), ()).is_some() {
            return Err(LanguageError::Duplicate(spec.id.clone()));
        }
    }
    let results: Vec<Result<Language, Unavailable>> = std::thread::scope(|s| {
        let handles: Vec<_> = table
            .languages
            .iter()
            .map(|spec| s.spawn(move || resolve(spec)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Unavailable {
                        id: "?".into(),
                        reason: "probe panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut offered = Vec::new();
    let mut missing = Vec::new();
    for r in results {
        match r {
            Ok(l) => offered.push(l),
            Err(u) => missing.push(u),
        }
    }
    Ok((offered, missing))
}

fn resolve(spec: &LanguageSpec) -> Result<Language, Unavailable> {
    let unavailable = |reason: String| Unavailable {
        id: spec.id.clone(),
        reason,
    };
    let mut binds = spec.binds.clone();
    let mut vars: Vec<(&str, String)> = Vec::new();
    if let Some(cmd) = &spec.toolchain {
        // Asked with the judge's own environment: rustup's proxies need HOME/RUSTUP_HOME.
        let out = std::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| unavailable(format!("{}: {e}", cmd[0])))?;
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || dir.is_empty() || !Path::new(&dir).is_dir() {
            return Err(unavailable(format!("{} found no toolchain", cmd.join(" "))));
        }
        let dir = std::fs::canonicalize(&dir)
            .map_err(|e| unavailable(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        binds.push(PathBuf::from(&dir));
        vars.push(("toolchain", dir));
    }
    let resolve_cmd = |cmd: &[String]| -> Result<Vec<String>, Unavailable> {
        let mut cmd: Vec<String> = cmd.iter().map(|a| substitute(a, &vars)).collect();
        let Some(program) = cmd.first_mut() else {
            return Err(unavailable("empty command".into()));
        };
        if program.contains("{dir}") {
            return Ok(cmd);
        }
        let found = find_program(program).ok_or_else(|| unavailable(format!("{program} not found")))?;
        *program = found.to_string_lossy().into_owned();
        Ok(cmd)
    };
    let compile = spec.compile.as_deref().map(resolve_cmd).transpose()?;
    let run = resolve_cmd(&spec.run)?;
    let version_cmd = resolve_cmd(&spec.version)?;
    Ok(Language {
        id: spec.id.clone(),
        name: spec.name.clone(),
        version_cmd,
        version_prefix: spec.version_prefix.clone(),
        version_line: spec.version_line.clone(),
        version: std::sync::OnceLock::new(),
        file_suffix: spec.suffix(),
        source: spec.source.clone(),
        compile,
        run,
        env: spec.env.clone(),
        binds,
        memory_allowance: spec.memory_allowance_mb << 20,
        compile_memory: spec.compile_memory_mb.map(|m| m << 20),
        min_file_size: spec.min_file_size_mb << 20,
        out_of_memory: spec.out_of_memory.clone(),
        extra_files: spec.extra_files.clone().into_iter().collect(),
    })
}

/// Looks `program` up on [`SEARCH_PATH`] (or takes it as is when it has a slash), following links
/// to the real file, which is what the sandbox binds.
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        return p.is_file().then(|| p.to_owned());
    }
    SEARCH_PATH
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

fn substitute(arg: &str, vars: &[(&str, String)]) -> String {
    let mut out = arg.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

impl Language {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What clients are told: id, name and the version the toolchain reports (asked once).
    /// `Err`: the version command failed, and why.
    pub fn info(&self) -> Result<LanguageInfo, String> {
        let version = self.version.get_or_init(|| self.ask_version()).clone()?;
        Ok(LanguageInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            version,
            file_suffix: Some(self.file_suffix.clone()).filter(|s| !s.is_empty()),
        })
    }

    fn ask_version(&self) -> Result<String, String> {
        let cmd = &self.version_cmd;
        let out = std::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .env_clear()
            .env("PATH", SEARCH_PATH.join(":"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", cmd[0]))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && self.version_line.as_deref().is_none_or(|m| l.contains(m)))
            .unwrap_or("");
        if !out.status.success() || line.is_empty() {
            return Err(format!("{} failed", cmd.join(" ")));
        }
        Ok(format!("{}{line}", self.version_prefix))
    }

    /// The file name the source is saved under.
    pub fn source_name(&self, source: &[u8]) -> String {
        if !self.source.contains("{class}") {
            return self.source.clone();
        }
        let class =
            jvm::java_public_class(&String::from_utf8_lossy(source)).unwrap_or_else(|| "Main".to_owned());
        substitute(&self.source, &[("class", class)])
    }

    /// The compile command for a source saved as `source_name`, or `None` for languages that
    /// need none.
    pub fn compile_command(&self, source_name: &str) -> Option<Vec<String>> {
        let class = source_name.trim_end_matches(".java").to_owned();
        self.compile.as_ref().map(|c| {
            c.iter()
                .map(|a| substitute(a, &[("source", source_name.to_owned()), ("class", class.clone())]))
                .collect()
        })
    }

    /// The run command for a program in `dir` (inside the sandbox) built from `program`, with
    /// `{memory_mb}` left for [`with_memory`] to fill in per run. `Err`: the program cannot run
    /// (a JVM program without an entry point), in words for the learner.
    pub fn run_command(&self, dir: &str, program: &FileTree) -> Result<Vec<String>, String> {
        let mut vars = vec![("dir", dir.to_owned())];
        if self.run.iter().any(|a| a.contains("{main_class}")) {
            vars.push(("main_class", jvm::main_class(program)?));
        }
        Ok(self.run.iter().map(|a| substitute(a, &vars)).collect())
    }

    /// The environment of compiles and runs (`{memory_mb}` left for [`with_memory`]).
    pub fn env(&self) -> Vec<String> {
        let mut env = vec![
            format!("PATH={}", SEARCH_PATH.join(":")),
            "HOME=/box".to_owned(),
            "TMPDIR=/tmp".to_owned(),
            "LANG=C.UTF-8".to_owned(),
        ];
        env.extend(self.env.iter().cloned());
        env
    }
}

/// Fills in `{memory_mb}`, the run's memory limit in MiB, in a command or an environment: how a
/// runtime with a heap limit of its own (the JVM, Node, .NET, Go, GHC, BEAM, …) is told the limit.
pub fn with_memory(args: &[String], memory_limit: u64) -> Vec<String> {
    let memory_limit = memory_limit.max(1 << 20);
    let vars = [
        ("memory_mb", (memory_limit >> 20).to_string()),
        ("memory_bytes", memory_limit.to_string()),
        ("memory_words", (memory_limit / 8).to_string()),
    ];
    args.iter().map(|a| substitute(a, &vars)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_language_without_its_toolchain_is_not_offered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = dir.path().join("languages.yaml");
        std::fs::write(
            &table,
            "languages:\n  - {id: sh, name: Shell, source: main.sh, run: [sh, main.sh], version: [sh, -c, 'echo sh 1']}\n  - {id: cobol, name: COBOL, source: main.cob, compile: [no-such-cobc, main.cob], run: ['{dir}/main'], version: [no-such-cobc, --version]}\n",
        )
        .expect("write table");
        let (offered, missing) = load(Some(&table)).expect("valid table");
        assert_eq!(offered.len(), 1);
        assert_eq!(offered[0].id(), "sh");
        assert_eq!(offered[0].info().expect("a version").version, "sh 1");
        assert!(
            offered[0].run_command("/prog", &Vec::new()).expect("a command")[0].starts_with('/'),
            "resolved to a path"
        );
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].id, "cobol");
        assert!(missing[0].reason.contains("no-such-cobc"));
    }

    #[test]
    fn builtin_table_parses() {
        let t: LanguageTable = serde_yaml::from_str(BUILTIN_LANGUAGES).expect("valid table");
        let ids: Vec<&str> = t.languages.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids[..6], ["c", "cpp", "python3", "rust", "java", "javascript"]);
        assert!(ids.len() >= 25, "{ids:?}");
        for spec in &t.languages {
            assert_eq!(
                language_of_file(Path::new(&format!("x{}", spec.suffix()))).as_deref(),
                Some(spec.id.as_str()),
                "each language's example files are told apart"
            );
        }
    }
}

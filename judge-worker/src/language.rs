//! The languages the judge offers, read from a YAML table (`languages.yaml`).
//!
//! A language is offered only if every program it needs exists on this machine; its version is
//! what its own version command prints, asked once at start-up.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;

use sandbox::files::FileTree;

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
    out_of_memory: Vec<String>,
}

/// What clients are told about a language: the API's own document.
pub use common::api::Language as LanguageInfo;

/// A language ready to use: programs resolved to absolute paths, version known.
#[derive(Debug, Clone)]
pub struct Language {
    pub info: LanguageInfo,
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
    /// What the runtime prints on stderr when its own heap limit is reached.
    pub out_of_memory: Vec<String>,
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
    let out = std::process::Command::new(&version_cmd[0])
        .args(&version_cmd[1..])
        .env_clear()
        .env("PATH", SEARCH_PATH.join(":"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| unavailable(format!("{}: {e}", version_cmd[0])))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if !out.status.success() || first.is_empty() {
        return Err(unavailable(format!("{} failed", version_cmd.join(" "))));
    }
    Ok(Language {
        info: LanguageInfo {
            id: spec.id.clone(),
            name: spec.name.clone(),
            version: format!("{}{first}", spec.version_prefix),
        },
        source: spec.source.clone(),
        compile,
        run,
        env: spec.env.clone(),
        binds,
        memory_allowance: spec.memory_allowance_mb << 20,
        compile_memory: spec.compile_memory_mb.map(|m| m << 20),
        out_of_memory: spec.out_of_memory.clone(),
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
        &self.info.id
    }

    /// The file name the source is saved under.
    pub fn source_name(&self, source: &[u8]) -> String {
        let class = java_public_class(&String::from_utf8_lossy(source)).unwrap_or_else(|| "Main".to_owned());
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

    /// The run command for a program in `dir` (inside the sandbox) built from `program`.
    pub fn run_command(&self, dir: &str, memory_limit: u64, program: &FileTree) -> Vec<String> {
        let main_class = java_main_class(program).unwrap_or_else(|| "Main".to_owned());
        let mut vars = vec![("dir", dir.to_owned()), ("main_class", main_class)];
        // Zero: leave `{memory_mb}` for the caller to fill in per run.
        if memory_limit > 0 {
            vars.push(("memory_mb", (memory_limit >> 20).max(1).to_string()));
        }
        self.run.iter().map(|a| substitute(a, &vars)).collect()
    }

    /// The environment of compiles and runs.
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

/// The name of the public top-level class of a Java source, which must also be its file name.
pub fn java_public_class(source: &str) -> Option<String> {
    let tokens = java_tokens(source);
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "public" {
            let mut j = i + 1;
            while j < tokens.len()
                && matches!(
                    tokens[j].as_str(),
                    "final" | "abstract" | "static" | "strictfp" | "sealed"
                )
            {
                j += 1;
            }
            if j + 1 < tokens.len() && matches!(tokens[j].as_str(), "class" | "record" | "enum" | "interface")
            {
                let name = &tokens[j + 1];
                if name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                    return Some(name.clone());
                }
            }
        }
        i += 1;
    }
    None
}

/// Identifier-ish tokens of a Java source with comments, strings and characters removed.
fn java_tokens(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let b: Vec<char> = source.chars().collect();
    let mut i = 0;
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    while i < b.len() {
        let c = b[i];
        if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            flush(&mut cur, &mut out);
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            flush(&mut cur, &mut out);
        } else if c == '"' || c == '\'' {
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            flush(&mut cur, &mut out);
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            cur.push(c);
            i += 1;
        } else {
            flush(&mut cur, &mut out);
            if c == '{' {
                // Only top-level declarations matter; the first brace ends the search space of
                // each declaration well enough for `public class X {`.
                out.push("{".into());
            }
            i += 1;
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// The class, among compiled `.class` files, that declares `main(String[])`: its constant pool
/// holds both the name `main` and the descriptor `([Ljava/lang/String;)V`. A class that merely
/// *calls* another's main has them too, so a top-level class wins over a nested one, then the
/// shorter name.
pub fn java_main_class(program: &FileTree) -> Option<String> {
    fn has(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }
    let mut candidates: Vec<String> = program
        .iter()
        .filter(|(name, data, _)| {
            name.ends_with(".class") && has(data, b"([Ljava/lang/String;)V") && has(data, b"\x00\x04main")
        })
        .map(|(name, _, _)| name.trim_end_matches(".class").replace('/', "."))
        .collect();
    candidates.sort_by_key(|c| (c.contains('$'), c.len()));
    candidates.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_class_is_found_past_comments_and_strings() {
        let src = "// public class Fake {}\n/* public class Nope */ import java.util.*;\nclass A {}\npublic final class Solution { String s = \"public class X\"; }";
        assert_eq!(java_public_class(src).as_deref(), Some("Solution"));
        assert_eq!(java_public_class("class Main {}"), None);
    }

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
        assert_eq!(offered[0].info.id, "sh");
        assert_eq!(offered[0].info.version, "sh 1");
        assert!(
            offered[0].run_command("/prog", 0, &Vec::new())[0].starts_with('/'),
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
        assert_eq!(ids, ["c", "cpp", "python3", "rust", "java", "javascript"]);
    }
}

//! Reading and checking one package directory: [`ProblemPackage::load`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use crate::domjudge::{self, DomjudgeIni};
use crate::statement::{self, Statement};
use crate::validator::DefaultValidator;

/// Defaults of the format specification.
pub const DEFAULT_MEMORY_MIB: u64 = 2048;
pub const DEFAULT_OUTPUT_MIB: u64 = 8;
/// Sample data larger than this is not copied into the package metadata.
const SAMPLE_METADATA_LIMIT: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageFormat {
    Legacy,
    #[serde(rename = "2023-07-draft")]
    Draft2023,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TimeLimitSource {
    ProblemYaml,
    TimelimitFile,
    /// `timelimit` in DOMjudge's `domjudge-problem.ini`.
    DomjudgeIni,
    /// None set: the judge's default.
    Default,
    /// None set: derived from the package's accepted submissions, as problemtools does
    /// ([`ProblemLimits::derived`] says from what).
    DerivedFromSubmissions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProblemLimits {
    pub time_limit_ms: u64,
    pub time_limit_source: TimeLimitSource,
    pub memory_bytes: u64,
    pub output_bytes: u64,
    /// With `derived_from_submissions`: the times and multipliers the limit came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<crate::verify::DerivedTimeLimit>,
}

impl ProblemLimits {
    pub fn time_limit(&self) -> Duration {
        Duration::from_millis(self.time_limit_ms)
    }
}

/// A sample shown to contestants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sample {
    pub name: String,
    pub input: String,
    pub answer: String,
}

/// One test case to judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCase {
    /// Name inside `data/` without extension, e.g. `secret/group1/03`.
    pub name: String,
    pub input: PathBuf,
    pub answer: PathBuf,
    /// Flags for the output validator of this test.
    pub validator_flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutputValidator {
    /// The format's default validator (token-wise comparison), configured by the flags.
    Default,
    /// A program in the package.
    Custom {
        /// Directory of its sources.
        dir: PathBuf,
        /// Language id the judge compiles it with.
        language: String,
        files: Vec<String>,
    },
}

/// How a submission meets the test data (the problem type's interaction part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Interaction {
    /// Input from the `.in` file, output to the output validator afterwards.
    #[default]
    Batch,
    /// The submission and the output validator run at once, joined by pipes.
    Interactive,
    /// The submission runs again on the validator's `nextpass.in`, up to `passes` runs in all;
    /// interactively when `interactive`.
    MultiPass { passes: u32, interactive: bool },
}

/// A loaded, checked problem package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemPackage {
    pub root: PathBuf,
    /// The package's directory name.
    pub short_name: String,
    pub name: String,
    pub format: PackageFormat,
    pub limits: ProblemLimits,
    pub statements: Vec<Statement>,
    pub samples: Vec<Sample>,
    pub tests: Vec<TestCase>,
    pub validator: OutputValidator,
    /// How submissions meet the data (batch, interactive, multi-pass).
    #[serde(default)]
    pub interaction: Interaction,
    /// For a scoring problem, how its secret groups make a score; `None`: pass-fail.
    #[serde(default)]
    pub scoring: Option<crate::scoring::Scoring>,
    /// What is odd about the package but does not stop it being judged (no statement, samples
    /// only, an answer file without input, …), for the admin who uploaded it.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Every reason a package was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid problem package {}: {}", .root.display(), .reasons.join("; "))]
pub struct PackageError {
    pub root: PathBuf,
    pub reasons: Vec<String>,
}

impl ProblemPackage {
    /// Loads with the specification's fallback time limit of 1 s.
    pub fn load(dir: impl AsRef<Path>) -> Result<ProblemPackage, PackageError> {
        Self::load_with_default_time_limit(dir, Duration::from_secs(1))
    }

    pub fn load_with_default_time_limit(
        dir: impl AsRef<Path>,
        default_time_limit: Duration,
    ) -> Result<ProblemPackage, PackageError> {
        let root = dir.as_ref().to_owned();
        let mut reasons = Vec::new();
        let mut warnings = Vec::new();
        let pkg = load(&root, default_time_limit, &mut reasons, &mut warnings);
        match pkg {
            Some(p) if reasons.is_empty() => Ok(ProblemPackage { warnings, ..p }),
            _ => Err(PackageError { root, reasons }),
        }
    }

    pub fn time_limit(&self) -> Duration {
        self.limits.time_limit()
    }
}

fn load(
    root: &Path,
    default_tl: Duration,
    reasons: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Option<ProblemPackage> {
    if !root.is_dir() {
        reasons.push("not a directory".into());
        return None;
    }
    let short_name = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let yaml = match std::fs::read_to_string(root.join("problem.yaml")) {
        Ok(t) => match serde_yaml::from_str::<Value>(&t) {
            Ok(Value::Mapping(m)) => Value::Mapping(m),
            Ok(Value::Null) => Value::Mapping(Default::default()),
            Ok(_) => {
                reasons.push("problem.yaml is not a mapping".into());
                return None;
            }
            Err(e) => {
                reasons.push(format!("problem.yaml: {e}"));
                return None;
            }
        },
        // DOMjudge judges packages without one (the ini, or nothing, names the problem); so does
        // this judge, with the legacy format's defaults.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            warnings.push("no problem.yaml: read as a legacy package with default limits".into());
            Value::Mapping(Default::default())
        }
        Err(e) => {
            reasons.push(format!("problem.yaml: {e}"));
            return None;
        }
    };
    let ini = domjudge::read_ini(root, reasons);
    let format = match yaml.get("problem_format_version") {
        None => PackageFormat::Legacy,
        Some(Value::String(s)) if s == "legacy" || s.starts_with("legacy") => PackageFormat::Legacy,
        Some(Value::String(s)) if s == "2023-07-draft" || s == "draft" || s.starts_with("2023-07") => {
            PackageFormat::Draft2023
        }
        Some(other) => {
            reasons.push(format!(
                "unsupported problem_format_version {}",
                yaml_display(other)
            ));
            PackageFormat::Legacy
        }
    };
    let name = match yaml.get("name") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Mapping(m)) => m
            .get("en")
            .or_else(|| m.values().next())
            .and_then(Value::as_str)
            .unwrap_or(&short_name)
            .to_owned(),
        None => match ini.as_ref().and_then(|i| i.name.clone()) {
            Some(n) => n,
            None => {
                if format == PackageFormat::Draft2023 {
                    warnings.push("problem.yaml: no name (the 2023-07 format requires one)".into());
                }
                short_name.clone()
            }
        },
        Some(other) => {
            reasons.push(format!("problem.yaml: name {} is not text", yaml_display(other)));
            short_name.clone()
        }
    };
    // Problem type: pass-fail or scoring; batch, interactive or multi-pass.
    let mut custom = false;
    let mut scoring = false;
    let mut interactive = false;
    let mut multi_pass = false;
    match format {
        PackageFormat::Legacy => {
            match yaml.get("type").map(|t| t.as_str()) {
                None | Some(Some("pass-fail")) => {}
                Some(Some("scoring")) => scoring = true,
                Some(other) => reasons.push(format!(
                    "problem type {:?} is not supported (pass-fail or scoring)",
                    other.unwrap_or("?")
                )),
            }
            let validation = yaml
                .get("validation")
                .and_then(Value::as_str)
                .unwrap_or("default");
            let words: Vec<&str> = validation.split_whitespace().collect();
            match words.as_slice() {
                ["default"] => {}
                ["custom", rest @ ..] => {
                    custom = true;
                    for w in rest {
                        match *w {
                            "interactive" => interactive = true,
                            "multi-pass" => multi_pass = true,
                            // Scoring comes from the problem type; a validator's score.txt is
                            // not read.
                            "score" => {}
                            _ => reasons.push(format!(
                                "validation {validation:?}: {w:?} is not supported (interactive, multi-pass)"
                            )),
                        }
                    }
                }
                _ => reasons.push(format!(
                    "validation {validation:?} is not supported (default, or custom [interactive] [multi-pass])"
                )),
            }
        }
        PackageFormat::Draft2023 => {
            let kinds: Vec<String> = match yaml.get("type") {
                None => vec!["pass-fail".to_owned()],
                Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
                Some(Value::Sequence(s)) => s
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| yaml_display(v), str::to_owned))
                    .collect(),
                Some(other) => vec![yaml_display(other)],
            };
            for kind in &kinds {
                match kind.as_str() {
                    "pass-fail" => {}
                    "scoring" => scoring = true,
                    "interactive" => interactive = true,
                    "multi-pass" => multi_pass = true,
                    _ => reasons.push(format!(
                        "problem type {kind:?} is not supported (pass-fail, scoring, interactive, multi-pass)"
                    )),
                }
            }
            if kinds.iter().any(|k| k == "pass-fail") && scoring {
                reasons.push("problem type: pass-fail and scoring exclude each other".into());
            }
            custom = root.join("output_validator").is_dir();
        }
    }
    let interaction = if multi_pass {
        let passes = yaml
            .get("limits")
            .and_then(|l| l.get("validation_passes"))
            .map_or(Some(2), |v| match v.as_u64() {
                Some(n) if (2..=1000).contains(&n) => Some(n as u32),
                _ => {
                    reasons.push(format!(
                        "limits.validation_passes must be a whole number from 2 to 1000, not {}",
                        yaml_display(v)
                    ));
                    None
                }
            })
            .unwrap_or(2);
        Interaction::MultiPass { passes, interactive }
    } else if interactive {
        Interaction::Interactive
    } else {
        Interaction::Batch
    };
    if interaction != Interaction::Batch && !custom {
        reasons.push("an interactive or multi-pass problem needs a custom output validator".into());
    }
    let limits = limits(root, &yaml, ini.as_ref(), default_tl, reasons);
    let validator = if custom {
        custom_validator(root, format, reasons)
    } else {
        OutputValidator::Default
    };
    let root_flags: Vec<String> = match format {
        PackageFormat::Legacy => match yaml.get("validator_flags") {
            None => Vec::new(),
            Some(v) => flags_value(v, "problem.yaml: validator_flags", reasons),
        },
        PackageFormat::Draft2023 => Vec::new(),
    };
    let mut tests = Vec::new();
    let data = root.join("data");
    if !data.is_dir() {
        reasons.push("no data/ directory".into());
    } else {
        let base_flags = testdata_flags(&data, format, reasons).unwrap_or(root_flags);
        for group in ["sample", "secret"] {
            let dir = data.join(group);
            if dir.is_dir() {
                walk(&dir, group, &base_flags, format, &mut tests, reasons, warnings);
            }
        }
        if tests.is_empty() {
            reasons.push("no test cases in data/sample or data/secret".into());
        } else if !tests.iter().any(|t: &TestCase| t.name.starts_with("secret/")) {
            warnings.push("data/secret has no test cases: judged on the samples only".into());
        }
    }
    let scoring = (scoring && data.is_dir()).then(|| crate::scoring::load(&data, format, &tests, reasons));
    if validator == OutputValidator::Default {
        for t in &tests {
            if let Err(e) = DefaultValidator::from_flags(&t.validator_flags) {
                reasons.push(format!("{}: {e}", t.name));
                break;
            }
        }
    }
    let statements = statement::find(root, format, warnings);
    let samples = tests
        .iter()
        .filter(|t| t.name.starts_with("sample/"))
        .filter_map(|t| {
            let small = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.len() <= SAMPLE_METADATA_LIMIT);
            if !small(&t.input) || !small(&t.answer) {
                return None;
            }
            Some(Sample {
                name: t.name.clone(),
                input: String::from_utf8_lossy(&std::fs::read(&t.input).ok()?).into_owned(),
                answer: String::from_utf8_lossy(&std::fs::read(&t.answer).ok()?).into_owned(),
            })
        })
        .collect();
    Some(ProblemPackage {
        root: root.to_owned(),
        short_name,
        name,
        format,
        limits,
        statements,
        samples,
        tests,
        validator,
        interaction,
        scoring,
        warnings: Vec::new(),
    })
}

fn yaml_display(v: &Value) -> String {
    serde_yaml::to_string(v)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

fn positive_number(v: &Value, what: &str, reasons: &mut Vec<String>) -> Option<f64> {
    match v.as_f64() {
        Some(x) if x > 0.0 && x.is_finite() => Some(x),
        _ => {
            reasons.push(format!(
                "{what} must be a positive number, not {}",
                yaml_display(v)
            ));
            None
        }
    }
}

fn limits(
    root: &Path,
    yaml: &Value,
    ini: Option<&DomjudgeIni>,
    default_tl: Duration,
    reasons: &mut Vec<String>,
) -> ProblemLimits {
    let limits = yaml.get("limits");
    if let Some(l) = limits {
        if !l.is_mapping() {
            reasons.push("problem.yaml: limits is not a mapping".into());
        }
    }
    let get = |key: &str| limits.and_then(|l| l.get(key));
    let mut time = None;
    let mut source = TimeLimitSource::Default;
    if let Some(v) = get("time_limit") {
        if let Some(s) = positive_number(v, "limits.time_limit", reasons) {
            time = Some(s);
            source = TimeLimitSource::ProblemYaml;
        }
    } else if let Some(s) = ini.and_then(|i| i.timelimit) {
        time = Some(s);
        source = TimeLimitSource::DomjudgeIni;
    } else if let Ok(text) = std::fs::read_to_string(root.join(".timelimit")) {
        match text.trim().parse::<f64>() {
            Ok(s) if s > 0.0 && s.is_finite() => {
                time = Some(s);
                source = TimeLimitSource::TimelimitFile;
            }
            _ => reasons.push(format!(".timelimit: {:?} is not a positive number", text.trim())),
        }
    }
    let time_ms = time.map_or(default_tl.as_millis() as u64, |s| (s * 1000.0).round() as u64);
    let mib = |key: &str, default: u64, reasons: &mut Vec<String>| {
        get(key)
            .and_then(|v| positive_number(v, &format!("limits.{key}"), reasons))
            .map_or(default << 20, |m| (m * (1u64 << 20) as f64) as u64)
    };
    ProblemLimits {
        time_limit_ms: time_ms.max(1),
        time_limit_source: source,
        memory_bytes: mib("memory", DEFAULT_MEMORY_MIB, reasons),
        output_bytes: mib("output", DEFAULT_OUTPUT_MIB, reasons),
        derived: None,
    }
}

fn flags_value(v: &Value, what: &str, reasons: &mut Vec<String>) -> Vec<String> {
    match v {
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Value::Sequence(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => yaml_display(other),
            })
            .collect(),
        Value::Null => Vec::new(),
        other => {
            reasons.push(format!("{what}: {} is not a list of flags", yaml_display(other)));
            Vec::new()
        }
    }
}

/// The `output_validator_flags` of `dir/testdata.yaml`, if that file says anything about them.
fn testdata_flags(dir: &Path, format: PackageFormat, reasons: &mut Vec<String>) -> Option<Vec<String>> {
    if format != PackageFormat::Draft2023 {
        return None;
    }
    let path = dir.join("testdata.yaml");
    let text = std::fs::read_to_string(&path).ok()?;
    match serde_yaml::from_str::<Value>(&text) {
        Ok(v) => v
            .get("output_validator_flags")
            .map(|f| flags_value(f, &path.display().to_string(), reasons)),
        Err(e) => {
            reasons.push(format!("{}: {e}", path.display()));
            None
        }
    }
}

fn walk(
    dir: &Path,
    prefix: &str,
    flags: &[String],
    format: PackageFormat,
    tests: &mut Vec<TestCase>,
    reasons: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let flags = testdata_flags(dir, format, reasons).unwrap_or_else(|| flags.to_vec());
    let mut entries: Vec<(String, PathBuf, bool)> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| {
                let p = e.path();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    p.clone(),
                    p.is_dir(),
                )
            })
            .collect(),
        Err(e) => {
            reasons.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, path, is_dir) in &entries {
        if *is_dir {
            walk(
                path,
                &format!("{prefix}/{name}"),
                &flags,
                format,
                tests,
                reasons,
                warnings,
            );
        } else if let Some(stem) = name.strip_suffix(".in") {
            let answer = dir.join(format!("{stem}.ans"));
            if !answer.is_file() {
                reasons.push(format!("data/{prefix}/{stem}.in has no .ans"));
                continue;
            }
            tests.push(TestCase {
                name: format!("{prefix}/{stem}"),
                input: path.clone(),
                answer,
                validator_flags: flags.clone(),
            });
        } else if let Some(stem) = name.strip_suffix(".ans") {
            if !dir.join(format!("{stem}.in")).is_file() {
                warnings.push(format!("data/{prefix}/{name} has no .in: left out"));
            }
        }
    }
}

/// Source file extensions of validators the judge can build, and the language used.
pub fn validator_language(file: &str) -> Option<&'static str> {
    let ext = file.rsplit_once('.')?.1;
    Some(match ext {
        "c" => "c",
        "cc" | "cpp" | "cxx" | "c++" => "cpp",
        "py" => "python3",
        "rs" => "rust",
        _ => return None,
    })
}

fn custom_validator(root: &Path, format: PackageFormat, reasons: &mut Vec<String>) -> OutputValidator {
    let dir = match format {
        PackageFormat::Draft2023 => root.join("output_validator"),
        PackageFormat::Legacy => {
            let base = root.join("output_validators");
            let mut subdirs: Vec<PathBuf> = std::fs::read_dir(&base)
                .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
                .unwrap_or_default();
            subdirs.sort();
            match subdirs.len() {
                0 if base.is_dir() => base,
                0 => {
                    reasons.push("validation is custom but there is no output_validators/".into());
                    return OutputValidator::Default;
                }
                1 => subdirs.remove(0),
                _ => {
                    reasons.push("output_validators/ holds more than one validator".into());
                    return OutputValidator::Default;
                }
            }
        }
    };
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let languages: Vec<&str> = files.iter().filter_map(|f| validator_language(f)).collect();
    let language = match languages.first() {
        None => {
            reasons.push(format!(
                "output validator {} has no source the judge can build (.c, .cpp, .py, .rs)",
                dir.display()
            ));
            return OutputValidator::Default;
        }
        Some(l) if languages.iter().any(|o| o != l) => {
            reasons.push("output validator mixes source languages".into());
            return OutputValidator::Default;
        }
        Some(l) => l.to_string(),
    };
    if language == "python3" && languages.len() > 1 {
        reasons.push("a Python output validator must be a single file".into());
    }
    OutputValidator::Custom { dir, language, files }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StatementFormat;

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
    }

    #[test]
    fn legacy_package_with_groups_flags_and_timelimit_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            &[
                (
                    "problem.yaml",
                    "name: Legacy\nvalidator_flags: float_tolerance 1e-4\nlimits:\n  memory: 64\n",
                ),
                (".timelimit", "2.5\n"),
                ("problem_statement/problem.en.tex", "\\problemname{Legacy}"),
                ("data/sample/1.in", "1"),
                ("data/sample/1.ans", "1"),
                ("data/secret/b/1.in", "1"),
                ("data/secret/b/1.ans", "1"),
                ("data/secret/a/2.in", "1"),
                ("data/secret/a/2.ans", "1"),
                ("data/secret/c.in", "1"),
                ("data/secret/c.ans", "1"),
            ],
        );
        let p = ProblemPackage::load(root).expect("valid");
        assert_eq!(p.format, PackageFormat::Legacy);
        assert_eq!(p.limits.time_limit_ms, 2500);
        assert_eq!(p.limits.time_limit_source, TimeLimitSource::TimelimitFile);
        assert_eq!(p.limits.memory_bytes, 64 << 20);
        assert_eq!(p.limits.output_bytes, DEFAULT_OUTPUT_MIB << 20);
        let names: Vec<&str> = p.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["sample/1", "secret/a/2", "secret/b/1", "secret/c"]);
        assert_eq!(p.tests[1].validator_flags, ["float_tolerance", "1e-4"]);
        assert_eq!(p.statements[0].format, StatementFormat::Latex);
        assert_eq!(p.samples.len(), 1);
    }

    #[test]
    fn draft_package_reads_testdata_flags_per_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            &[
                (
                    "problem.yaml",
                    "problem_format_version: 2023-07-draft\nname: {en: Draft}\nlimits:\n  time_limit: 0.5\n",
                ),
                ("statement/problem.en.md", "# Draft"),
                ("data/testdata.yaml", "output_validator_flags: case_sensitive\n"),
                (
                    "data/secret/g/testdata.yaml",
                    "output_validator_flags: [space_change_sensitive]\n",
                ),
                ("data/secret/g/1.in", "1"),
                ("data/secret/g/1.ans", "1"),
                ("data/secret/2.in", "1"),
                ("data/secret/2.ans", "1"),
            ],
        );
        let p = ProblemPackage::load(root).expect("valid");
        assert_eq!(p.name, "Draft");
        assert_eq!(p.limits.time_limit_ms, 500);
        assert_eq!(p.tests[0].name, "secret/2");
        assert_eq!(p.tests[0].validator_flags, ["case_sensitive"]);
        assert_eq!(p.tests[1].validator_flags, ["space_change_sensitive"]);
    }

    #[test]
    fn a_malformed_package_is_refused_with_every_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            &[
                ("problem.yaml", "validation: custom interactive\nvalidator_flags: float_tolerance\nlimits:\n  memory: -1\n"),
                ("data/sample/1.in", "1"),
                ("data/secret/1.ans", "1"),
            ],
        );
        let e = ProblemPackage::load(root).expect_err("invalid");
        let all = e.reasons.join("\n");
        for needle in ["validation", "limits.memory", "has no .ans", "no test cases"] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn a_directory_without_test_data_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = ProblemPackage::load(dir.path()).expect_err("invalid");
        assert!(e.reasons.iter().any(|r| r.contains("data/")), "{:?}", e.reasons);
    }

    /// DOMjudge's own examples: the statement as `problem.pdf` at the root, a
    /// `domjudge-problem.ini`, samples only, and no `problem.yaml` at all: judged, with warnings.
    #[test]
    fn a_domjudge_package_with_samples_only_is_judged_with_warnings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            &[
                (
                    "domjudge-problem.ini",
                    "probid='hello'
name='Hello World'
timelimit='3'
",
                ),
                ("problem.pdf", "%PDF-1.4 not really"),
                ("data/sample/1.in", ""),
                ("data/sample/1.ans", "Hello world!\n"),
                ("data/secret/orphan.ans", "x"),
            ],
        );
        let p = ProblemPackage::load(root).expect("judgeable");
        assert_eq!(p.name, "Hello World");
        assert_eq!(p.limits.time_limit_ms, 3000);
        assert_eq!(p.limits.time_limit_source, TimeLimitSource::DomjudgeIni);
        assert_eq!(p.tests.len(), 1);
        assert_eq!(p.statements.len(), 1);
        let s = &p.statements[0];
        assert_eq!(
            (s.format, s.path.as_str(), s.content.as_str()),
            (StatementFormat::Pdf, "problem.pdf", "")
        );
        let all = p.warnings.join("\n");
        for needle in ["problem.yaml", "samples only", "orphan.ans"] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn a_missing_statement_is_a_warning_and_every_statement_place_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            &[
                ("problem.yaml", "name: x\n"),
                ("data/secret/1.in", "1"),
                ("data/secret/1.ans", "1"),
            ],
        );
        let p = ProblemPackage::load(root).expect("judgeable");
        assert!(p.statements.is_empty());
        assert!(
            p.warnings.iter().any(|w| w.contains("no statement")),
            "{:?}",
            p.warnings
        );
        write(
            root,
            &[
                ("problem_statement/problem.tex", "\\problemname{x}"),
                ("problem_statement/problem.sv.md", "# x"),
                ("problem.html", "<p>x</p>"),
                ("problem.txt", "x"),
                ("problem.doc", "ignored"),
            ],
        );
        let p = ProblemPackage::load(root).expect("judgeable");
        let found: Vec<(&str, StatementFormat, &str)> = p
            .statements
            .iter()
            .map(|s| (s.language.as_str(), s.format, s.path.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("sv", StatementFormat::Markdown, "problem_statement/problem.sv.md"),
                ("en", StatementFormat::Latex, "problem_statement/problem.tex"),
                ("en", StatementFormat::Html, "problem.html"),
                ("en", StatementFormat::Text, "problem.txt"),
            ]
        );
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    fn minimal(root: &Path, yaml: &str) {
        write(
            root,
            &[
                ("problem.yaml", yaml),
                ("problem_statement/problem.en.md", "# x"),
                ("data/secret/1.in", "1"),
                ("data/secret/1.ans", "1"),
            ],
        );
    }

    fn reasons(yaml: &str, extra: &[(&str, &str)]) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        minimal(dir.path(), yaml);
        write(dir.path(), extra);
        match ProblemPackage::load(dir.path()) {
            Ok(_) => Vec::new(),
            Err(e) => e.reasons,
        }
    }

    #[test]
    fn names_fall_back_sensibly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("shortname");
        minimal(&root, "name: {de: Summe, en: Sum}\n");
        assert_eq!(ProblemPackage::load(&root).unwrap().name, "Sum");
        minimal(&root, "name: {de: Summe}\n");
        assert_eq!(ProblemPackage::load(&root).unwrap().name, "Summe");
        // An empty problem.yaml is a legacy package named after its folder.
        minimal(&root, "");
        let p = ProblemPackage::load(&root).unwrap();
        assert_eq!((p.name.as_str(), p.format), ("shortname", PackageFormat::Legacy));
        assert_eq!(p.limits.time_limit_source, TimeLimitSource::Default);
        assert_eq!(p.limits.memory_bytes, DEFAULT_MEMORY_MIB << 20);
    }

    #[test]
    fn bad_values_are_named() {
        let all = reasons(
            "problem_format_version: 1999\nname: [1]\nlimits:\n  time_limit: zero\n  output: 0\n",
            &[],
        )
        .join("\n");
        for needle in [
            "problem_format_version",
            "name",
            "limits.time_limit",
            "limits.output",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
        assert!(reasons("", &[(".timelimit", "soon")])[0].contains(".timelimit"));
        assert!(reasons("limits: 5\n", &[])[0].contains("limits is not a mapping"));
    }

    #[test]
    fn validator_flags_are_checked_before_judging() {
        assert!(reasons("validator_flags: float_tolerance 1e-6 case_sensitive\n", &[]).is_empty());
        let unknown = reasons("validator_flags: ignore_everything\n", &[]);
        assert!(unknown[0].contains("unknown validator flag"), "{unknown:?}");
        let missing_number = reasons("validator_flags: float_tolerance\n", &[]);
        assert!(missing_number[0].contains("needs a number"), "{missing_number:?}");
    }

    #[test]
    fn the_problem_yaml_time_limit_wins_over_timelimit_and_samples_come_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        minimal(dir.path(), "limits:\n  time_limit: 3\n");
        write(
            dir.path(),
            &[
                (".timelimit", "7"),
                ("data/sample/z.in", "1"),
                ("data/sample/z.ans", "1"),
                ("data/secret/a.in", "1"),
                ("data/secret/a.ans", "1"),
            ],
        );
        let p = ProblemPackage::load(dir.path()).unwrap();
        assert_eq!(p.limits.time_limit_ms, 3000);
        assert_eq!(p.limits.time_limit_source, TimeLimitSource::ProblemYaml);
        let names: Vec<&str> = p.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["sample/z", "secret/1", "secret/a"]);
        assert_eq!(p.samples.len(), 1);
    }

    #[test]
    fn interactive_and_multi_pass_problems_in_both_formats() {
        let validator = [("output_validators/v/v.py", "import sys\n")];
        let dir = tempfile::tempdir().expect("tempdir");
        minimal(dir.path(), "validation: custom interactive\n");
        write(dir.path(), &validator);
        let p = ProblemPackage::load(dir.path()).expect("valid");
        assert_eq!(p.interaction, Interaction::Interactive);
        let dir = tempfile::tempdir().expect("tempdir");
        minimal(
            dir.path(),
            "validation: custom multi-pass\nlimits:\n  validation_passes: 3\n",
        );
        write(dir.path(), &validator);
        let p = ProblemPackage::load(dir.path()).expect("valid");
        assert_eq!(
            p.interaction,
            Interaction::MultiPass {
                passes: 3,
                interactive: false
            }
        );
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            &[
                (
                    "problem.yaml",
                    "problem_format_version: 2023-07-draft\nname: x\ntype: [interactive, multi-pass]\n",
                ),
                ("statement/problem.en.md", "# x"),
                ("output_validator/v.py", "import sys\n"),
                ("data/secret/1.in", "1"),
                ("data/secret/1.ans", "1"),
            ],
        );
        let p = ProblemPackage::load(dir.path()).expect("valid");
        assert_eq!(
            p.interaction,
            Interaction::MultiPass {
                passes: 2,
                interactive: true
            }
        );
        assert!(p.scoring.is_none());
    }

    #[test]
    fn unsupported_problem_types_are_refused_by_name() {
        let r = reasons(
            "problem_format_version: 2023-07-draft\nname: x\ntype: [pass-fail, submit-answer]\n",
            &[("statement/problem.en.md", "# x")],
        );
        assert!(r.iter().any(|r| r.contains("submit-answer")), "{r:?}");
        // Interactive and multi-pass problems need their validator.
        let r = reasons(
            "problem_format_version: 2023-07-draft\nname: x\ntype: [pass-fail, interactive]\n",
            &[("statement/problem.en.md", "# x")],
        );
        assert!(
            r.iter().any(|r| r.contains("needs a custom output validator")),
            "{r:?}"
        );
        let r = reasons(
            "validation: custom multi-pass\nlimits:\n  validation_passes: 1\n",
            &[],
        );
        assert!(r.iter().any(|r| r.contains("validation_passes")), "{r:?}");
    }
}

//! DOMjudge's additions to the format: `domjudge-problem.ini` beside `problem.yaml`.
//!
//! DOMjudge reads it with PHP's `parse_ini_string`: `key = value` lines without sections,
//! values optionally in single or double quotes, `;` starting a comment. Of its keys the judge
//! uses `name` (when `problem.yaml` has none) and `timelimit` (seconds, when `problem.yaml` sets
//! none); the others (`probid`, `color`, `externalid`, `special_compare`, …) name things inside a
//! DOMjudge installation and are ignored. Hand-written: ten lines of `split_once`, where an INI
//! crate would bring sections, escapes and interpolation the file never has.

use std::path::Path;

/// What `domjudge-problem.ini` says that the judge uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomjudgeIni {
    pub name: Option<String>,
    /// Seconds.
    pub timelimit: Option<f64>,
}

pub const INI_FILE: &str = "domjudge-problem.ini";

/// Reads `root/domjudge-problem.ini` if there is one. A bad `timelimit` is a reason to refuse (the
/// package would be judged with a limit its author did not set); unknown keys are ignored.
pub fn read_ini(root: &Path, reasons: &mut Vec<String>) -> Option<DomjudgeIni> {
    let text = std::fs::read(root.join(INI_FILE)).ok()?;
    let text = String::from_utf8_lossy(&text);
    let mut ini = DomjudgeIni::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match key.trim() {
            "name" if !value.is_empty() => ini.name = Some(value.to_owned()),
            "timelimit" => match value.parse::<f64>() {
                Ok(s) if s > 0.0 && s.is_finite() => ini.timelimit = Some(s),
                _ => reasons.push(format!(
                    "{INI_FILE}: timelimit {value:?} is not a positive number"
                )),
            },
            _ => {}
        }
    }
    Some(ini)
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    // An unquoted value ends at a comment.
    v.split(';').next().unwrap_or(v).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_and_timelimit_in_any_quoting() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(INI_FILE),
            "probid = 'hello'\nname = \"Hello World\"\ntimelimit = 2.5 ; seconds\ncolor=#ff0000\n",
        )
        .expect("write");
        let mut reasons = Vec::new();
        let ini = read_ini(dir.path(), &mut reasons).expect("ini");
        assert_eq!(ini.name.as_deref(), Some("Hello World"));
        assert_eq!(ini.timelimit, Some(2.5));
        assert!(reasons.is_empty(), "{reasons:?}");
        std::fs::write(dir.path().join(INI_FILE), "timelimit='soon'\n").expect("write");
        read_ini(dir.path(), &mut reasons);
        assert!(reasons[0].contains("timelimit"), "{reasons:?}");
        assert_eq!(read_ini(&dir.path().join("none"), &mut reasons), None);
    }
}

//! Where packages keep their statements, and in which formats.
//!
//! Looked for, in this order (the first folder that the package's format names comes first):
//! - `problem_statement/problem[.LANG].EXT` (legacy) and `statement/problem.LANG.EXT` (2023-07);
//! - `problem.EXT` at the package root, as DOMjudge packages carry it (`problem.pdf`,
//!   `problem.html`, `problem.txt`), taken to be English.
//!
//! `EXT` is one of `md`, `tex`, `html`, `pdf`, `txt`. A package without any statement can still be
//! judged: that is a warning, not a refusal.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::package::PackageFormat;

/// A statement bigger than this is not read (a package travels in one 7 MiB NATS message anyway).
const STATEMENT_LIMIT: u64 = 8 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StatementFormat {
    Markdown,
    Latex,
    Html,
    /// A PDF: its bytes are served by `GET /api/problems/{id}/statement`, never inlined.
    Pdf,
    /// Plain text (DOMjudge's `problem.txt`).
    Text,
}

impl StatementFormat {
    /// The format a statement file's extension names.
    pub fn from_extension(ext: &str) -> Option<StatementFormat> {
        Some(match ext {
            "md" => StatementFormat::Markdown,
            "tex" => StatementFormat::Latex,
            "html" | "htm" => StatementFormat::Html,
            "pdf" => StatementFormat::Pdf,
            "txt" => StatementFormat::Text,
            _ => return None,
        })
    }

    /// The media type the statement is served as.
    pub fn media_type(self) -> &'static str {
        match self {
            StatementFormat::Markdown => "text/markdown; charset=utf-8",
            StatementFormat::Latex => "application/x-tex; charset=utf-8",
            StatementFormat::Html => "text/html; charset=utf-8",
            StatementFormat::Pdf => "application/pdf",
            StatementFormat::Text => "text/plain; charset=utf-8",
        }
    }

    /// Whether the statement is binary (its `content` is then left empty).
    pub fn is_binary(self) -> bool {
        self == StatementFormat::Pdf
    }
}

/// One statement of a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statement {
    /// Language code, e.g. `en`.
    pub language: String,
    pub format: StatementFormat,
    /// Path inside the package.
    pub path: String,
    /// The text (bytes that are not UTF-8 replaced); empty for a PDF, whose bytes
    /// `GET /api/problems/{id}/statement?format=pdf` serves.
    pub content: String,
}

/// Every statement of the package at `root`. Unreadable files become `warnings`; none found is a
/// warning too (the problem can be judged without one).
pub(crate) fn find(root: &Path, format: PackageFormat, warnings: &mut Vec<String>) -> Vec<Statement> {
    let folders = match format {
        PackageFormat::Legacy => ["problem_statement", "statement"],
        PackageFormat::Draft2023 => ["statement", "problem_statement"],
    };
    let mut out = Vec::new();
    for folder in folders {
        for name in sorted_names(&root.join(folder)) {
            let Some(rest) = name.strip_prefix("problem.") else {
                continue;
            };
            let (language, ext) = match rest.rsplit_once('.') {
                Some((lang, ext)) => (lang.to_owned(), ext),
                None => ("en".to_owned(), rest),
            };
            if let Some(f) = StatementFormat::from_extension(ext) {
                read(root, &format!("{folder}/{name}"), language, f, &mut out, warnings);
            }
        }
    }
    // DOMjudge: the statement beside problem.yaml.
    for name in sorted_names(root) {
        let Some(ext) = name.strip_prefix("problem.") else {
            continue;
        };
        if let Some(f) = StatementFormat::from_extension(ext) {
            read(root, &name, "en".to_owned(), f, &mut out, warnings);
        }
    }
    if out.is_empty() {
        warnings.push(
            "no statement (problem_statement/problem.LANG.{md,tex,html,pdf}, statement/…, or problem.{pdf,html,txt} at the root)"
                .into(),
        );
    }
    out
}

fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn read(
    root: &Path,
    path: &str,
    language: String,
    format: StatementFormat,
    out: &mut Vec<Statement>,
    warnings: &mut Vec<String>,
) {
    let file = root.join(path);
    match std::fs::metadata(&file) {
        Ok(m) if m.len() > STATEMENT_LIMIT => {
            warnings.push(format!("{path}: larger than {STATEMENT_LIMIT} bytes, left out"));
            return;
        }
        Err(e) => {
            warnings.push(format!("{path}: {e}"));
            return;
        }
        Ok(_) => {}
    }
    let content = if format.is_binary() {
        String::new()
    } else {
        match std::fs::read(&file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                warnings.push(format!("{path}: {e}"));
                return;
            }
        }
    };
    out.push(Statement {
        language,
        format,
        path: path.to_owned(),
        content,
    });
}

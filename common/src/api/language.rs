//! Languages on offer.

use serde::{Deserialize, Serialize};

/// A language a judge can run now, with the version its toolchain reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Language {
    /// What a submission names (`cpp`, `python3`, …).
    pub id: String,
    pub name: String,
    /// What the toolchain says about itself, e.g. `gcc 12.2.0`.
    pub version: String,
    /// How a source file in this language ends (`.cpp`, `.pypy.py`): what a front end names a
    /// download, and how a package's own submissions are matched to a language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_suffix: Option<String>,
}

/// The language of a file named `name` among `languages`: the one with the longest suffix it
/// ends with (`x.pypy.py` is PyPy's, not CPython's).
pub fn language_of_file<'a>(languages: &'a [Language], name: &str) -> Option<&'a Language> {
    languages
        .iter()
        .filter(|l| {
            l.file_suffix
                .as_deref()
                .is_some_and(|s| !s.is_empty() && name.ends_with(s))
        })
        .max_by_key(|l| l.file_suffix.as_deref().map_or(0, str::len))
}

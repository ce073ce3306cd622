//! Reading configuration from environment variables with defaults. Every variable a service reads
//! is listed in the README's configuration table.

use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {message}")]
pub struct ConfigError {
    pub name: String,
    pub message: String,
}

/// The variable's value, or `None` when unset or empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The variable parsed, or `default` when unset.
pub fn parse_or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|e: T::Err| ConfigError {
            name: name.to_owned(),
            message: format!("cannot parse {v:?}: {e}"),
        }),
    }
}

/// A duration given in milliseconds.
pub fn millis_or(name: &str, default_ms: u64) -> Result<Duration, ConfigError> {
    parse_or(name, default_ms).map(Duration::from_millis)
}

/// A secret given either directly in `NAME` or as a path in `NAME_FILE` (Docker secrets style).
pub fn secret(name: &str) -> Result<Option<String>, ConfigError> {
    if let Some(v) = var(name) {
        return Ok(Some(v));
    }
    let file_var = format!("{name}_FILE");
    match var(&file_var) {
        None => Ok(None),
        Some(path) => std::fs::read_to_string(&path)
            .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_owned()))
            .map_err(|e| ConfigError {
                name: file_var,
                message: format!("cannot read {path}: {e}"),
            }),
    }
}

/// Like [`secret`] but required.
pub fn required_secret(name: &str) -> Result<String, ConfigError> {
    secret(name)?.ok_or_else(|| ConfigError {
        name: name.to_owned(),
        message: format!("required (set {name} or {name}_FILE)"),
    })
}

//! RFC 9457 problem details: the one error shape the HTTP API returns. Workers build them (they
//! know what went wrong); the edge only serialises them with the matching status.

use serde::{Deserialize, Serialize};

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's name as the client sent it (`username`, `email`, …).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// A problem details document (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` plus `code` is enough for clients.
    #[serde(rename = "type", default = "about_blank")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code, e.g. `validation_failed`, `username_taken`.
    pub code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id, so a user can quote it to an operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

/// The `Content-Type` of a problem document.
pub const CONTENT_TYPE: &str = "application/problem+json";

impl Problem {
    pub fn new(status: u16, code: &str, title: &str) -> Self {
        Problem {
            kind: about_blank(),
            title: title.to_owned(),
            status,
            detail: None,
            code: code.to_owned(),
            errors: Vec::new(),
            request_id: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// A 422 naming every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let detail = format!("invalid fields: {}", names.join(", "));
        Problem {
            errors,
            ..Problem::new(422, "validation_failed", "The request has invalid fields")
        }
        .with_detail(detail)
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Problem::validation(vec![FieldError::new(field, message)])
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.status, self.title, self.code)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

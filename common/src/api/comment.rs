//! Comments on problems.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::body::Field;

/// A comment as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    pub problem_id: String,
    pub user_id: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/problems/{id}/comments`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewComment {
    #[serde(default)]
    pub body: Field<String>,
}
crate::inspect_fields!(NewComment { body });

//! Comments on problems.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::body::Field;

/// A comment as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Comment {
    pub id: String,
    pub problem_id: String,
    pub user_id: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/problems/{id}/comments`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewComment {
    /// 1 to 4000 characters (surrounding white space is trimmed).
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 4000)]
    pub body: Field<String>,
}
crate::inspect_fields!(NewComment { body });

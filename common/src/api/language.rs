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
}

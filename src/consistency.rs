//! The consistency check (what etcd operators call hash inspection): after the workload
//! and every fault has ended, wait (bounded) for the members to catch up, then compare
//! their revision, `HashKV` at a common revision and key count.

use serde::{Deserialize, Serialize};

/// One member's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberFigures {
    /// Member name.
    pub member: String,
    /// Its current revision (from its own status / response header).
    pub revision: Option<i64>,
    /// `HashKV` at the common revision.
    pub hash: Option<u32>,
    /// Number of keys it holds (serializable count on that member).
    pub keys: Option<i64>,
    /// Why a figure is missing.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// The verdict of the consistency check (`consistency` in `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consistency {
    /// Every member answered and agrees on revision, hash and key count.
    pub consistent: bool,
    /// The common revision the hashes were taken at.
    pub revision: Option<i64>,
    /// Each member's figures.
    pub members: Vec<MemberFigures>,
    /// What differs, in words (empty when consistent).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub differences: Vec<String>,
    /// Seconds spent waiting for members to catch up.
    pub waited_s: f64,
}

//! etcd operations as scheduled steps of a scenario (`ops:` beside `faults:`): the things
//! operators do to a cluster, rehearsed under faults. Each is carried out through the etcd
//! API and verifies its own result; the outcome and duration go into `events.jsonl`.
//!
//! One file per family: `maintenance.rs` (compact, defrag, alarm-disarm), `leader.rs`
//! (move-leader), `membership.rs` (member-add, learner-promote, member-remove,
//! member-replace), `restart.rs` (rolling-restart, one member at a time), `quota.rs` (fill:
//! the backend to its space quota), `snapshot.rs` (snapshot-save, snapshot-restore).

mod leader;
mod maintenance;
pub mod membership;
mod quota;
pub mod restart;
pub mod snapshot;

pub use leader::move_leader;
pub use maintenance::{alarm_disarm, compact, defrag};
pub use quota::{fill, fill_prefix};
pub use snapshot::Snapshots;

use crate::client::{self, Endpoint};
use std::time::Duration;

pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// What an operation did, for the event and the progress line.
#[derive(Debug, Clone)]
pub struct Done {
    /// Members it acted on.
    pub targets: Vec<String>,
    /// Its verified result, in words.
    pub detail: String,
    /// How long it took.
    pub took: Duration,
}

/// Why an operation did not do what it was asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Failed {
    /// etcd refused it, in its own words (a member that will not start on a version: the
    /// fatal line of its log): the outcome `expect: refused` asks for.
    Refused(String),
    /// It could not be carried out (a timeout, an unreachable member, a harness error).
    Broke(String),
}

impl Failed {
    /// What happened, in words.
    pub fn detail(&self) -> &str {
        match self {
            Failed::Refused(m) | Failed::Broke(m) => m,
        }
    }
}

impl From<String> for Failed {
    fn from(m: String) -> Self {
        Failed::Broke(m)
    }
}

pub(crate) async fn conn(ep: &Endpoint) -> Result<etcd_client::Client, String> {
    client::connect(ep, TIMEOUT).await.map_err(|e| format!("cannot reach {}: {e}", ep.member))
}

/// The current revision, from the first member that answers.
pub(crate) async fn revision(eps: &[Endpoint]) -> Result<i64, String> {
    let mut last = String::from("no member");
    for ep in eps {
        match conn(ep).await {
            Ok(mut c) => match tokio::time::timeout(TIMEOUT, c.status()).await {
                Ok(Ok(s)) => return s.header().map(|h| h.revision()).ok_or_else(|| "a status without a header".to_string()),
                Ok(Err(e)) => last = format!("{}: {e}", ep.member),
                Err(_) => last = format!("{}: timed out", ep.member),
            },
            Err(e) => last = e,
        }
    }
    Err(last)
}

//! etcd operations as scheduled steps of a scenario (`ops:` beside `faults:`): the things
//! operators do to a cluster, rehearsed under faults. Each is carried out through the etcd
//! API and verifies its own result; the outcome and duration go into `events.jsonl`.
//!
//! One file per family: `maintenance.rs` (compact, defrag, alarm-disarm), `leader.rs`
//! (move-leader), `snapshot.rs` (snapshot-save, snapshot-restore).

mod leader;
mod maintenance;
pub mod snapshot;

pub use leader::move_leader;
pub use maintenance::{alarm_disarm, compact, defrag};
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

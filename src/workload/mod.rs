//! Client load: the workloads that drive the cluster and record every operation in the
//! history (docs/formats.md §2). Each kind lives in its own file; this module holds what the
//! runner sees of all of them: [`run`], the live counters and the end-of-run report.

pub mod etcd;
pub mod kubernetes;
pub mod pause;
pub mod register;
mod slots;
pub mod watch;

use crate::client::Roster;
use crate::history::{Clock, Entry};
use crate::scenario::{Load, WorkloadSpec};
pub use pause::PauseGate;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// Completions so far, by outcome; read by the progress display while the workload runs.
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Operations that took effect.
    pub ok: AtomicU64,
    /// Operations that certainly did not.
    pub fail: AtomicU64,
    /// Operations whose outcome is unknown.
    pub info: AtomicU64,
}

/// What a finished workload did.
#[derive(Debug, Clone)]
pub struct WorkloadReport {
    /// Logical clients started (0 when there was no endpoint to send to).
    pub clients_started: u32,
    /// Operations invoked (each has exactly one completion in the history).
    pub ops_invoked: u64,
    /// From the call until the last operation in flight completed.
    pub elapsed: Duration,
}

/// Run the workload until `spec.duration` has passed since the call, or `stop` is
/// cancelled; then let the operations in flight finish (each is bounded by `op_timeout`)
/// and return. History entries go to `sink` in the order they happened; `stats` counts the
/// completions as they come; every operation passes `gate` before it is invoked (the
/// runner closes it to hold the workload still). Keys are `k0`, `k1`, ... in the history and
/// `prefix` + key in etcd (an attached cluster that holds other data gets a prefix of the
/// run's own). Clients send to the members of `roster`, following it as membership changes.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    spec: &WorkloadSpec,
    seed: u64,
    prefix: &str,
    roster: &Roster,
    clock: Clock,
    sink: UnboundedSender<Entry>,
    stats: Arc<LiveStats>,
    gate: Arc<PauseGate>,
    stop: CancellationToken,
) -> WorkloadReport {
    let setup = slots::Setup { spec, prefix, roster, clock, sink, stats, gate, stop };
    match spec.load {
        Load::Register(mix) => register::run(setup, mix, seed).await,
        Load::Etcd(mix) => etcd::run(setup, mix, seed).await,
        Load::Kubernetes(mix) => kubernetes::run(setup, mix, seed).await,
    }
}

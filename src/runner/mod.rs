//! The runner: one scenario from start to report. It is a library function the CLI and the
//! tests call.
//!
//! Lifecycle ([`run`]; see ARCHITECTURE.md):
//! 1. seed and schedule (pure), run directory, `scenario.yaml` ([`setup`]);
//! 2. backend: network and members, then wait for one agreed leader;
//! 3. clock zero: workload and observer start on the client runtime (inside the client
//!    namespace); faults start and heal on the schedule, each proven ([`walk`], [`faults`],
//!    [`ops`]); every event goes through one sink ([`sink`]), records are written as they
//!    come ([`record`]);
//! 4. workload end: heal everything still in force, then the consistency check, the watch
//!    streams stopped and an attached cluster's keys deleted ([`drive`]);
//! 5. teardown: members stopped, namespaces or containers removed;
//! 6. checks (linearizability with epochs, watch), summary, report ([`finish`]); Ctrl-C
//!    stops the checks, which then report unknown, interrupted.
//!
//! Ctrl-C cancels at any step: faults are healed, members stopped, namespaces removed, and a
//! summary marked interrupted is written.

mod conditions;
mod drive;
mod faults;
mod finish;
mod ops;
mod record;
mod setup;
mod sink;
mod walk;

pub use setup::{choose_backend, run_dir_for};

use crate::cluster::{netns, Backend};
use crate::error::{Error, Exit};
use crate::fault::disk::Layers;
use crate::report::summary::Summary;
use crate::scenario::{BackendChoice, Scenario};
use sink::EventSink;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long start-up may take to elect a leader agreed by every member.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the consistency check waits for members to catch up.
const CATCH_UP: Duration = Duration::from_secs(30);
/// Time limit of the linearizability check after a run.
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);
/// Observer poll interval (the issue asks for at least every 100 ms).
const OBSERVE_EVERY: Duration = Duration::from_millis(100);
/// How long the watch streams get, after the members agree, to deliver the newest revision.
const WATCH_CATCH_UP: Duration = Duration::from_secs(10);

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--backend` (overrides the scenario).
    pub backend: Option<BackendChoice>,
    /// `--seed` (overrides the scenario).
    pub seed: Option<u64>,
    /// `--out`: the run directory (or, with several scenarios, the parent of run directories).
    pub out: Option<PathBuf>,
    /// Where run directories go when `--out` is absent.
    pub reports_dir: PathBuf,
    /// No progress bar, no table.
    pub quiet: bool,
    /// Replay: the members each fault id hit in the original run, by name.
    pub pinned: std::collections::BTreeMap<usize, Vec<String>>,
    /// Replay: stop at this offset from workload start (faults from then on are dropped).
    pub until: Option<Duration>,
}

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The run directory.
    pub run_dir: PathBuf,
    /// The summary as written.
    pub summary: Summary,
    /// The exit code this run calls for.
    pub exit: Exit,
}

/// What the parts of a running scenario share (cheap to clone: handles only).
#[derive(Clone)]
struct Ctx {
    /// The cluster.
    backend: Arc<dyn Backend>,
    /// The disk-fault layers over the members' data directories (the faults borrow them).
    layers: Arc<Layers>,
    /// The runtime inside the client namespace: every etcd request runs on it.
    client_rt: Arc<tokio::runtime::Runtime>,
    /// The run's one event stream.
    sink: Arc<EventSink>,
    /// Ctrl-C.
    cancel: CancellationToken,
}

/// Run one scenario end to end, in this order: the cluster built and driven through the
/// scenario (workload, faults, heal, consistency, watch streams stopped, an attached
/// cluster's keys deleted), the cluster torn down, then the checks (cancellable by Ctrl-C),
/// `summary.json` and `report.html`. A panic while driving still tears the cluster down (the
/// backends do it when dropped); by the time the checks run there is no cluster left.
pub fn run(scenario: Scenario, opts: &RunOptions, cancel: CancellationToken) -> Result<RunOutcome, Error> {
    let started_at = crate::report::summary::utc_now();
    let mut prep = setup::prepare(scenario, opts)?;
    let progress = setup::progress(&prep.scenario, opts.quiet);
    setup::announce(&prep, &progress);
    let host_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::harness(format!("failed to start the runtime: {e}")))?;
    let started = Instant::now();
    // Before the backend, so that on unwinding the members are stopped first, then the layers go.
    let layers = Arc::new(Layers::default());
    let backend = setup::build(&mut prep, &layers)?;
    let sink = Arc::new(EventSink::create(&prep.run_dir.join("events.jsonl"), progress.clone())?);
    let client_rt = Arc::new(netns::runtime_in(&backend.client_netns(), 2)?);
    let ctx = Ctx { backend: backend.clone(), layers: layers.clone(), client_rt: client_rt.clone(), sink: sink.clone(), cancel: cancel.clone() };
    let p = &prep;
    let drove = host_rt.block_on(async move { drive::drive(&ctx, &p.scenario, p.seed, &p.plan, &p.run_dir, started).await });
    // The client runtime goes here, outside any async context (also when `drive` failed).
    if let Some(rt) = Arc::into_inner(client_rt) {
        rt.shutdown_background();
    }
    progress.finish();
    teardown(backend.as_ref(), &layers, &sink, opts.quiet);
    let drove = drove?;
    // Ctrl-C during the checks stops them: the flag the checker looks at follows the token.
    let stop_checks = Arc::new(AtomicBool::new(cancel.is_cancelled()));
    let flag = stop_checks.clone();
    host_rt.spawn(async move {
        cancel.cancelled().await;
        flag.store(true, Ordering::Relaxed);
    });
    let about = finish::About {
        scenario: &prep.scenario,
        seed: prep.seed,
        backend: backend.kind(),
        etcd_version: &prep.etcd_version,
        run_dir: &prep.run_dir,
        run_id: &prep.run_id,
        started_at: &started_at,
    };
    let summary = finish::finish(&about, drove, &sink.events(), sink.write_error(), &stop_checks);
    host_rt.shutdown_timeout(Duration::from_secs(2));
    let exit = summary.exit();
    Ok(RunOutcome { run_dir: prep.run_dir, summary, exit })
}

/// Members stopped, namespaces (or containers) removed; what was removed is printed with
/// `FAULTLINE_DEBUG`.
fn teardown(backend: &dyn Backend, layers: &Layers, sink: &EventSink, quiet: bool) {
    let mut removed = backend.teardown();
    // The members are gone: their data directories' layers can go.
    removed.extend(layers.unmount_all());
    if !quiet && std::env::var_os("FAULTLINE_DEBUG").is_some() {
        for r in &removed {
            eprintln!("{}", crate::markup::terminal(&format!("removed {r}")));
        }
    }
    sink.say(&if backend.attached() {
        "released the attached cluster (its members keep running); checking the history...".to_string()
    } else {
        format!("cluster torn down ({} member(s) stopped and removed); checking the history...", backend.members().len())
    });
}

//! The runner: one scenario from start to report. It is a library function the CLI and the
//! tests call.
//!
//! Lifecycle (see ARCHITECTURE.md):
//! 1. seed and schedule (pure), run directory, `scenario.yaml`;
//! 2. backend: network and members, then wait for one agreed leader;
//! 3. clock zero: workload and observer start on the client runtime (inside the client
//!    namespace); faults start and heal on the schedule, each proven;
//! 4. workload end: heal everything still in force, then the consistency check;
//! 5. teardown, checker, summary, report.
//!
//! Ctrl-C cancels at any step: faults are healed, members stopped, namespaces removed, and a
//! summary marked interrupted is written.

use crate::client::{Endpoint, Roster, RosterUpdater};
use crate::cluster::docker::DockerBackend;
use crate::cluster::process::ProcessBackend;
use crate::cluster::{self, netns, state, Backend};
use crate::error::{Error, Exit};
use crate::events::{Event, EventKind, EventWriter};
use crate::fault::disk::Layers;
use crate::fault::{self, Injected};
use crate::gates::{self, CheckerStatus};
use crate::history::{Clock, Entry, HistoryWriter};
use crate::observer::{self, ClusterView};
use crate::report::progress::Progress;
use crate::report::summary::{self, Summary, SummaryInput};
use crate::scenario::{BackendChoice, Scenario};
use crate::schedule::{self, Planned};
use crate::watchlog::{WatchRecord, WatchWriter};
use crate::workload::watch::Watchers;
use crate::workload::{self, LiveStats};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
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

/// Pick the backend for this run: `auto` is Docker where an engine answers, else the
/// process backend (saying why); `docker` without an engine is an environment error (exit 3).
pub fn choose_backend(s: &Scenario, opt: Option<BackendChoice>) -> Result<&'static str, Error> {
    if let Some(a) = &s.cluster.attach {
        // Attaching needs the engine that runs the cluster: no fallback.
        if opt == Some(BackendChoice::Process) {
            return Err(Error::Invalid(format!(
                "--backend process cannot attach to the {} (cluster.attach): drop --backend, or drop cluster.attach to let faultline start its own members",
                a.selector
            )));
        }
        return cluster::docker::available()
            .map(|()| "docker")
            .map_err(|e| e.context(format!("cluster.attach needs the Docker engine that runs the {}", a.selector)));
    }
    match opt.unwrap_or(s.cluster.backend) {
        BackendChoice::Process => Ok("process"),
        BackendChoice::Docker => cluster::docker::available().map(|()| "docker"),
        BackendChoice::Auto => match cluster::docker::available() {
            Ok(()) => Ok("docker"),
            Err(e) => {
                eprintln!("faultline: backend auto: no Docker engine answers ({e}); using the process backend (local etcd processes in network namespaces)");
                Ok("process")
            }
        },
    }
}

/// The run directory for a scenario: `reports/<name>-<UTC timestamp>`.
pub fn run_dir_for(s: &Scenario, opts: &RunOptions) -> PathBuf {
    if let Some(out) = &opts.out {
        return out.clone();
    }
    let now = time::OffsetDateTime::now_utc();
    let stamp = now.format(&time::macros::format_description!("[year][month][day]T[hour][minute][second]Z")).unwrap_or_else(|_| "now".into());
    let mut dir = opts.reports_dir.join(format!("{}-{stamp}", s.name));
    let mut i = 2;
    while dir.exists() {
        dir = opts.reports_dir.join(format!("{}-{stamp}-{i}", s.name));
        i += 1;
    }
    dir
}

/// Run one scenario end to end.
pub fn run(mut scenario: Scenario, opts: &RunOptions, cancel: CancellationToken) -> Result<RunOutcome, Error> {
    let backend_kind = choose_backend(&scenario, opts.backend)?;
    let disk_layer = disk_layer_mode(&scenario);
    if let (Some(a), Some(_)) = (&scenario.cluster.attach, disk_layer) {
        return Err(Error::BadInput(format!(
            "disk faults (io-latency, io-error, fsync-lie, kill with lose_unsynced) need faultline's layer over each member's data directory from the member's start, which an attached cluster ({}) cannot have: drop those faults, or let faultline start the cluster",
            a.selector
        )));
    }
    // The snapshot ops read and restore snapshot files with the host's etcdctl.
    if scenario.ops.iter().any(|o| matches!(o.op, crate::scenario::EtcdOp::SnapshotSave { .. })) && crate::sys::which("etcdctl").is_none() {
        return Err(Error::Environment(format!(
            "the scenario's snapshot ops need `etcdctl` on this machine (snapshot status, snapshot restore): {}",
            crate::sys::install_hint("etcdctl")
        )));
    }
    // A fault this machine cannot do is refused before anything is built.
    fault::preflight(&scenario.fault_kinds())?;
    let seed = opts.seed.or(scenario.seed).unwrap_or_else(rand::random);
    scenario.seed = Some(seed);
    let mut etcd_version = match backend_kind {
        // An attached cluster says its version once found (below).
        "docker" if scenario.cluster.attach.is_some() => String::new(),
        "docker" => cluster::docker::prepare_image(&scenario.cluster, opts.quiet)?,
        _ => {
            cluster::process::preflight(&scenario.cluster)?;
            let binary = crate::sys::which(&scenario.cluster.etcd.binary).unwrap_or_else(|| PathBuf::from(&scenario.cluster.etcd.binary));
            cluster::etcd_version(&binary)?
        }
    };

    let run_dir = run_dir_for(&scenario, opts);
    std::fs::create_dir_all(&run_dir).map_err(|e| Error::Environment(format!("cannot create run directory {}: {e}", run_dir.display())))?;
    let run_id = state::new_run_id();
    // Attach first: the cluster found decides the members the schedule targets.
    let attached = match &scenario.cluster.attach {
        Some(a) => {
            let b = DockerBackend::attach(&run_id, &run_dir, a, fault::net::remove_leftovers)?;
            let found = b.members().len();
            if found != scenario.cluster.size {
                return Err(Error::Environment(format!(
                    "cluster.attach found {found} etcd container(s) in the {} ({}), but cluster.size is {}: set `cluster.size: {found}` so the faults are planned for the cluster that is there",
                    a.selector,
                    b.members().iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
                    scenario.cluster.size
                )));
            }
            etcd_version = b.attached_version().unwrap_or_else(|| "unknown version".into());
            Some(b)
        }
        None => None,
    };
    // The schedule of the whole scenario first, so that `--until` keeps the same prefix.
    let mut plan = schedule::plan(&scenario, seed);
    if let Some(until) = opts.until.filter(|u| *u < scenario.workload.duration.0) {
        plan.retain(|p| p.at < until);
        for p in &mut plan {
            p.heal_at = p.heal_at.map(|h| h.min(until));
        }
        scenario.workload.duration = crate::scenario::units::Span(until);
    }
    for p in &mut plan {
        p.pinned = opts.pinned.get(&p.id).cloned();
    }
    std::fs::write(run_dir.join("scenario.yaml"), scenario.to_yaml())?;
    // The resolved schedule, for replays and for people.
    std::fs::write(run_dir.join("schedule.json"), serde_json::to_vec_pretty(&plan).unwrap_or_default())?;
    let progress = if opts.quiet {
        Progress::silent(scenario.workload.duration.0)
    } else {
        Progress::new(scenario.workload.duration.0, crate::report::progress::stdout_is_terminal())
    };
    {
        let how = match &scenario.cluster.attach {
            Some(a) => format!("attached to the {}: ", a.selector),
            None => String::new(),
        };
        progress.println(&format!(
            "faultline: {} — seed {seed}, {} members ({how}{backend_kind}, etcd {etcd_version}), {} fault(s) scheduled, run dir {}",
            scenario.name,
            scenario.cluster.size,
            plan.len(),
            run_dir.display()
        ));
    }

    let host_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::harness(format!("failed to start the runtime: {e}")))?;
    let started = Instant::now();
    // Before the backend, so that on unwinding the members are stopped first, then the layers go.
    let layers = Arc::new(Layers::default());
    let backend: Arc<dyn Backend> = match (backend_kind, attached) {
        ("docker", Some(b)) => Arc::new(b),
        ("docker", None) => Arc::new(DockerBackend::create(&run_id, &run_dir, &scenario.cluster, &scenario.cluster.etcd.image)?),
        _ => Arc::new(ProcessBackend::create(&run_id, &run_dir, &scenario.cluster)?),
    };
    if let Some(mode) = disk_layer {
        layers.mount_all(&run_id, &backend.members(), mode)?;
    }
    let client_rt = Arc::new(netns::runtime_in(&backend.client_netns(), 2)?);
    let result = host_rt.block_on(drive(
        &scenario,
        seed,
        &plan,
        backend.clone(),
        layers.clone(),
        client_rt.clone(),
        &run_dir,
        &etcd_version,
        &progress,
        cancel,
        started,
    ));
    // The client runtime goes here, outside any async context (also when `drive` failed).
    if let Some(rt) = Arc::into_inner(client_rt) {
        rt.shutdown_background();
    }
    progress.finish();
    let mut removed = backend.teardown();
    // The members are gone: their data directories' layers can go.
    removed.extend(layers.unmount_all());
    if !opts.quiet && std::env::var_os("FAULTLINE_DEBUG").is_some() {
        for r in &removed {
            eprintln!("removed {r}");
        }
    }
    host_rt.shutdown_timeout(Duration::from_secs(2));
    let summary = result?;
    let exit = summary.exit();
    Ok(RunOutcome { run_dir, summary, exit })
}

/// Sinks of the event stream: `events.jsonl`, the progress display, and the list kept for
/// the summary.
struct EventSink {
    writer: Mutex<EventWriter>,
    all: Mutex<Vec<Event>>,
    clock: Mutex<Option<Clock>>,
}

impl EventSink {
    fn emit(&self, what: EventKind) {
        let t = self.clock.lock().map(|c| c.map_or(0, |c| c.now_ns())).unwrap_or(0);
        self.record(Event { t, what });
    }

    fn record(&self, e: Event) {
        if let Ok(mut w) = self.writer.lock() {
            let _ = w.append(&e);
        }
        if let Ok(mut a) = self.all.lock() {
            a.push(e);
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    s: &Scenario,
    seed: u64,
    plan: &[Planned],
    backend: Arc<dyn Backend>,
    layers: Arc<Layers>,
    client_rt: Arc<tokio::runtime::Runtime>,
    run_dir: &Path,
    etcd_version: &str,
    progress: &Progress,
    cancel: CancellationToken,
    started: Instant,
) -> Result<Summary, Error> {
    let sink =
        Arc::new(EventSink { writer: Mutex::new(EventWriter::create(&run_dir.join("events.jsonl"))?), all: Mutex::new(Vec::new()), clock: Mutex::new(None) });
    let mut invalid: Vec<String> = Vec::new();

    // Members up (an attached cluster is up already: it is only looked at).
    if backend.attached() {
        let names: Vec<String> = backend.members().iter().map(|m| format!("{} {}", m.name, m.client_url)).collect();
        sink.emit(EventKind::Note {
            message: format!("attached to running members {} (their etcd settings are their owner's; the scenario's are not applied)", names.join(", ")),
        });
    } else {
        for (member, pid) in backend.start_all()? {
            sink.emit(EventKind::MemberStart { member, pid: Some(pid) });
        }
    }
    let endpoints: Vec<Endpoint> = backend.endpoints();
    let ready = {
        let eps = endpoints.clone();
        let rt = client_rt.clone();
        let c = cancel.clone();
        tokio::select! {
            r = rt.spawn(async move { observer::wait_for_leader(&eps, READY_TIMEOUT).await }) => r.map_err(Error::harness)?,
            _ = c.cancelled() => Err("interrupted while waiting for a leader".into()),
        }
    };
    let mut cluster_ready = true;
    match ready {
        Ok(view) => {
            let msg = format!(
                "cluster healthy {:.2} s after start: leader {} at term {}",
                started.elapsed().as_secs_f64(),
                view.leader.as_deref().unwrap_or("?"),
                view.term
            );
            progress.println(&msg);
            sink.emit(EventKind::Note { message: msg });
        }
        Err(msg) => {
            cluster_ready = false;
            let mut tails = String::new();
            for m in backend.members() {
                tails.push_str(&format!("\n--- {} ({:?}), last log lines:\n{}", m.name, backend.state(&m.name), backend.log_tail(&m.name, 8)));
            }
            invalid.push(format!("the cluster never became healthy: {msg}{tails}"));
        }
    }

    let (hist_tx, mut hist_rx) = mpsc::unbounded_channel::<Entry>();
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let (view_tx, view_rx) = watch::channel(ClusterView::default());
    let stats = Arc::new(LiveStats::default());
    let history_path = run_dir.join("history.jsonl");
    let mut writer = HistoryWriter::create(&history_path)?;
    let clock = Clock::start();
    let mut workload_end_ns = 0;

    // History recorder: write as the run goes, keep in memory for the summary.
    let recorder = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(e) = hist_rx.recv().await {
            let _ = writer.append(&e);
            all.push(e);
            if hist_rx.is_empty() {
                let _ = writer.flush();
            }
        }
        let _ = writer.flush();
        all
    });
    // Observer events into the sink.
    let sink2 = sink.clone();
    let ev_pump = tokio::spawn(async move {
        while let Some(e) = ev_rx.recv().await {
            sink2.record(e);
        }
    });

    // The watch log: written as the run goes, kept for the watch check.
    let (mut watch_tx, watch_log) = if s.workload.watch {
        let (tx, rx) = mpsc::unbounded_channel::<WatchRecord>();
        (Some(tx), Some(tokio::spawn(record_watch(WatchWriter::create(&run_dir.join("watch.jsonl"))?, rx))))
    } else {
        (None, None)
    };
    let mut watchers: Option<Watchers> = None;

    let observer_stop = CancellationToken::new();
    let workload_stop = cancel.child_token();
    let rosters = Arc::new(Rosters::new(endpoints.clone()));
    let op_turn = Arc::new(tokio::sync::Mutex::new(()));
    let mut ops_in_flight: Vec<tokio::task::JoinHandle<Option<String>>> = Vec::new();
    let mut active: Vec<Injected> = Vec::new();
    let mut interrupted = cancel.is_cancelled();
    let mut consistency = None;
    let mut hist_tx = Some(hist_tx);
    if cluster_ready && !interrupted {
        *sink.clock.lock().map_err(|_| Error::harness("event sink poisoned"))? = Some(clock);
        let obs = client_rt.spawn(observer::observe(rosters.all.clone(), clock, OBSERVE_EVERY, ev_tx.clone(), view_tx, observer_stop.clone()));
        // Watchers first, from the revision before the workload's first write.
        if let Some(tx) = &watch_tx {
            let eps = endpoints.clone();
            let prefix = key_prefix(backend.as_ref());
            let p2 = prefix.clone();
            match client_rt.spawn(async move { workload::watch::start_revision(&eps, &p2).await }).await.map_err(Error::harness)? {
                Ok(from) => {
                    watchers = Some(Watchers::start(client_rt.handle(), &endpoints, &prefix, from, clock, tx.clone()));
                    sink.emit(EventKind::Note { message: format!("watchers started on every member, from revision {from}") });
                }
                Err(e) => invalid.push(format!("the watch workload could not read the revision to watch from: {e}")),
            }
        }
        sink.emit(EventKind::WorkloadStart { clients: s.workload.clients });
        // The workload passes this gate before each operation; a snapshot-restore closes it.
        let gate = Arc::new(workload::PauseGate::default());
        let keys = (0..s.workload.keys).map(|i| format!("k{i}")).collect();
        let snapshots = Arc::new(crate::ops::Snapshots::new(backend.clone(), run_dir, gate.clone(), clock, keys, &key_prefix(backend.as_ref())));
        let wl = {
            let spec = s.workload.clone();
            let prefix = key_prefix(backend.as_ref());
            let voters = rosters.voters.clone();
            let st = stats.clone();
            let stop = workload_stop.clone();
            let tx = hist_tx.take();
            let gate = gate.clone();
            client_rt.spawn(async move {
                match tx {
                    Some(tx) => Some(workload::run(&spec, seed, &prefix, &voters, clock, tx, st, gate, stop).await),
                    None => None,
                }
            })
        };

        // The fault schedule: starts and heals in time order.
        let mut fault_now = String::from("none");
        let mut meter = Meter { stats: stats.clone(), last_ok: 0, last_t: Instant::now(), total: s.workload.duration.0 };
        enum Step<'a> {
            Start(&'a Planned),
            Heal(usize),
            Op(&'a crate::scenario::OpSpec),
        }
        let end = s.workload.duration.0;
        let mut steps: Vec<(Duration, u8, Step)> = Vec::new();
        for p in plan {
            steps.push((p.at, 1, Step::Start(p)));
            if let Some(h) = p.heal_at.filter(|h| *h < end) {
                steps.push((h, 0, Step::Heal(p.id)));
            }
        }
        for o in &s.ops {
            steps.push((o.at.0, 2, Step::Op(o)));
        }
        steps.sort_by_key(|(t, prio, _)| (*t, *prio));
        for (at, _, step) in steps {
            if meter.wait_until(at, &clock, &cancel, progress, &fault_now).await {
                interrupted = true;
                break;
            }
            match step {
                Step::Start(p) => {
                    let leader = current_leader(&view_rx, p, &cancel).await;
                    let busy: Vec<String> = active.iter().flat_map(|a| a.busy_members().to_vec()).collect();
                    let (b, l) = (backend.clone(), layers.clone());
                    let pc = p.clone();
                    let r = tokio::task::spawn_blocking(move || fault::inject(b.as_ref(), &l, &pc, leader.as_deref(), &busy))
                        .await
                        .map_err(|e| Error::harness(format!("fault task failed: {e}")))?;
                    match r {
                        Ok((inj, evs)) => {
                            for e in evs {
                                sink.emit(e);
                            }
                            progress.println(&format!(
                                "{:>7.2}s  fault #{} {} on {} ({}): {}",
                                clock.now_ns() as f64 / 1e9,
                                p.id,
                                p.kind,
                                inj.record.targets.join(","),
                                inj.record.mechanism,
                                inj.record.proof
                            ));
                            sink.emit(EventKind::FaultStart(inj.record.clone()));
                            active.push(inj);
                        }
                        Err(Error::Invalid(m)) => {
                            progress.println(&format!("{:>7.2}s  {m}", clock.now_ns() as f64 / 1e9));
                            sink.emit(EventKind::Note { message: m.clone() });
                            invalid.push(m);
                        }
                        Err(e) => {
                            heal_all(&backend, &layers, &mut active, &sink, &mut invalid, progress, &clock).await;
                            workload_stop.cancel();
                            return Err(e);
                        }
                    }
                }
                Step::Op(o) => {
                    let job = OpJob {
                        op: o.op.clone(),
                        at: o.at,
                        backend: backend.clone(),
                        client_rt: client_rt.clone(),
                        sink: sink.clone(),
                        progress: progress.clone(),
                        clock,
                        rosters: rosters.clone(),
                        view: view_rx.clone(),
                        cancel: cancel.clone(),
                        snapshots: snapshots.clone(),
                    };
                    if let crate::scenario::EtcdOp::RollingRestart { etcd } = &o.op {
                        // Inline: it takes faults off and puts them back on as it goes, so the
                        // schedule waits for it (after any op in flight).
                        let _turn = op_turn.clone().lock_owned().await;
                        let leader = job.leader().await;
                        let ctx = Ctx { backend: &backend, layers: &layers, client_rt: &client_rt, sink: &sink, progress, clock: &clock };
                        let r = rolling_restart(&ctx, etcd, &rosters.all.current(), leader.as_deref(), &mut active, &mut invalid).await;
                        if let Some(m) = job.record(r).await {
                            invalid.push(m);
                        }
                    } else if matches!(o.op, crate::scenario::EtcdOp::SnapshotRestore { .. }) {
                        // Inline too: it ends the process faults in force (every member is
                        // stopped and started again on the restored data).
                        let _turn = op_turn.clone().lock_owned().await;
                        if let Some(m) = job.run().await {
                            invalid.push(m);
                        }
                        retire_process_faults(&mut active, &sink);
                    } else {
                        // In the background, one op at a time, while faults start and heal: an op
                        // may wait for the cluster (a refused reconfiguration is retried).
                        let turn = op_turn.clone();
                        ops_in_flight.push(tokio::spawn(async move {
                            let _turn = turn.lock_owned().await;
                            job.run().await
                        }));
                    }
                }
                Step::Heal(id) => {
                    if let Some(pos) = active.iter().position(|a| a.planned.id == id) {
                        let inj = active.remove(pos);
                        heal_one(&backend, &layers, inj, &sink, &mut invalid, progress, &clock).await?;
                    }
                }
            }
            fault_now = if active.is_empty() {
                "none".into()
            } else {
                active.iter().map(|a| format!("{} {}", a.planned.kind.name(), a.record.targets.join(","))).collect::<Vec<_>>().join("; ")
            };
        }
        if !interrupted {
            interrupted = meter.wait_until(end, &clock, &cancel, progress, &fault_now).await;
        }
        // Ops still running finish (each is bounded) before the faults are healed.
        for t in ops_in_flight.drain(..) {
            match t.await {
                Ok(Some(m)) => invalid.push(m),
                Ok(None) => {}
                Err(e) => invalid.push(format!("an op task failed: {e}")),
            }
        }
        workload_stop.cancel();
        // Let the workload drain its operations in flight (each bounded by op_timeout).
        let report = wl.await.map_err(|e| Error::harness(format!("workload task failed: {e}")))?;
        workload_end_ns = report.map_or(clock.now_ns(), |r| clock.now_ns().min(r.elapsed.as_nanos() as u64)).max(1);
        sink.emit(EventKind::WorkloadEnd {});
        heal_all(&backend, &layers, &mut active, &sink, &mut invalid, progress, &clock).await;

        // Consistency: only meaningful once every fault is healed.
        if !interrupted {
            progress.println("workload done, faults healed: checking that the members agree (revision, HashKV, keys)...");
            let eps = rosters.all.current();
            consistency = Some(client_rt.spawn(async move { crate::consistency::check(&eps, CATCH_UP).await }).await.map_err(Error::harness)?);
        }
        // The watch streams deliver the newest revision (bounded), then stop: before the
        // keys of an attached cluster are deleted, which they would see.
        if let Some(w) = watchers.take() {
            let limit = if interrupted { Duration::ZERO } else { WATCH_CATCH_UP };
            let target = client_rt.spawn(async move { w.finish(limit).await }).await.map_err(Error::harness)?;
            sink.emit(EventKind::Note {
                message: match target {
                    Some(t) => format!("watchers stopped; the newest revision of the workload's keys was {t}"),
                    None => "watchers stopped (the newest revision of the workload's keys could not be read)".to_string(),
                },
            });
        }
        // On someone else's cluster, the run's keys go when the run is done.
        if backend.attached() {
            let eps = endpoints.clone();
            let prefix = key_prefix(backend.as_ref());
            let gone = client_rt.spawn(async move { crate::client::delete_prefix(&eps, &prefix).await }).await.map_err(Error::harness)?;
            match gone {
                Ok(n) => sink.emit(EventKind::Note {
                    message: format!("deleted the run's {n} key(s) under {} from the attached cluster", key_prefix(backend.as_ref())),
                }),
                Err(e) => progress.println(&format!("could not delete the run's keys under {}: {e}", key_prefix(backend.as_ref()))),
            }
        }
        observer_stop.cancel();
        let _ = obs.await;
    }
    // Close the streams and collect what they recorded.
    drop(hist_tx);
    drop(ev_tx);
    drop(watch_tx.take());
    // Every watcher that started writes at least its `started`/`broken` and `stopped` lines:
    // no record means no watcher ran, and nothing to check.
    let watch_records = match watch_log {
        Some(h) => Some(h.await.map_err(Error::harness)?).filter(|r: &Vec<WatchRecord>| !r.is_empty()),
        None => None,
    };
    let _ = ev_pump.await;
    let history = recorder.await.map_err(Error::harness)?;
    let events = sink.all.lock().map(|e| e.clone()).unwrap_or_default();
    drop(client_rt);
    interrupted |= cancel.is_cancelled();
    Ok(finish(
        s,
        seed,
        &backend,
        etcd_version,
        run_dir,
        &history,
        &events,
        workload_end_ns,
        consistency.as_ref(),
        watch_records.as_deref(),
        invalid,
        interrupted,
    ))
}

/// Whether the members need the disk-fault layer over their data directories, and in which
/// mode: keeping unsynced writes in the layer's cache when a fault will drop them (a `kill`
/// with `lose_unsynced`, `fsync-lie`), writing through otherwise.
fn disk_layer_mode(s: &Scenario) -> Option<crate::fault::disk::DurabilityMode> {
    fault::disk_layer_mode(&s.fault_kinds())
}

/// Where the workload's keys live in etcd: at the top on a cluster of the run's own, under
/// `/faultline/<run id>/` on an attached cluster (which may hold data of its owner's).
fn key_prefix(backend: &dyn Backend) -> String {
    if backend.attached() {
        format!("/faultline/{}/", backend.run_id())
    } else {
        String::new()
    }
}

/// Drives the progress display while the runner waits for its next step.
struct Meter {
    stats: Arc<LiveStats>,
    last_ok: u64,
    last_t: Instant,
    total: Duration,
}

impl Meter {
    /// Sleep until `at` on the run clock, updating the progress display; true if cancelled.
    async fn wait_until(&mut self, at: Duration, clock: &Clock, cancel: &CancellationToken, progress: &Progress, fault: &str) -> bool {
        loop {
            let now = clock.zero().elapsed();
            if now >= at {
                return false;
            }
            let nap = (at - now).min(Duration::from_millis(250));
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                _ = cancel.cancelled() => return true,
            }
            let ok = self.stats.ok.load(Ordering::Relaxed);
            let dt = self.last_t.elapsed().as_secs_f64();
            if dt >= 0.25 {
                let rate = ok.saturating_sub(self.last_ok) as f64 / dt;
                self.last_ok = ok;
                self.last_t = Instant::now();
                progress.update(clock.zero().elapsed().min(self.total), rate, fault);
            }
        }
    }
}

/// The members the run's clients see: all of them (observer, operations, consistency) and
/// the voters (the workload: a learner serves no client requests).
struct Rosters {
    all: Roster,
    all_tx: RosterUpdater,
    voters: Roster,
    voters_tx: RosterUpdater,
}

impl Rosters {
    fn new(endpoints: Vec<Endpoint>) -> Self {
        let (all_tx, all) = Roster::new(endpoints.clone());
        let (voters_tx, voters) = Roster::new(endpoints);
        Rosters { all, all_tx, voters, voters_tx }
    }

    /// After a membership change: the backend's members, and which of them are learners
    /// (`None` when no member answered: the voters stay as they were, less removed ones).
    fn update(&self, members: Vec<Endpoint>, learners: Option<Vec<String>>) {
        let voters: Vec<Endpoint> = match learners {
            Some(l) => members.iter().filter(|e| !l.contains(&e.member)).cloned().collect(),
            None => self.voters.current().into_iter().filter(|e| members.contains(e)).collect(),
        };
        self.all_tx.set(members);
        if !voters.is_empty() {
            self.voters_tx.set(voters);
        }
    }
}

/// One scheduled op with what it needs to run on its own, beside the fault schedule.
struct OpJob {
    op: crate::scenario::EtcdOp,
    at: crate::scenario::units::Span,
    backend: Arc<dyn Backend>,
    client_rt: Arc<tokio::runtime::Runtime>,
    sink: Arc<EventSink>,
    progress: Progress,
    clock: Clock,
    rosters: Arc<Rosters>,
    view: watch::Receiver<ClusterView>,
    cancel: CancellationToken,
    snapshots: Arc<crate::ops::Snapshots>,
}

impl OpJob {
    /// The leader now, waiting (up to 10 s) through an election.
    async fn leader(&self) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let l = self.view.borrow().leader.clone();
            if l.is_some() || !self.op.needs_leader() || Instant::now() >= deadline || self.cancel.is_cancelled() {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Carry it out; the reason the run is invalid when it failed.
    async fn run(self) -> Option<String> {
        let leader = self.leader().await;
        let eps = self.rosters.all.current();
        let (b, op) = (self.backend.clone(), self.op.clone());
        let prefix = key_prefix(self.backend.as_ref());
        let snaps = self.snapshots.clone();
        let r = match self.client_rt.spawn(async move { run_op(op, &b, &eps, leader.as_deref(), &prefix, &snaps).await }).await {
            Ok(r) => r,
            Err(e) => Err(format!("the op task failed: {e}")),
        };
        self.record(r).await
    }

    /// After a membership change, whom clients see; then the event and the progress line.
    async fn record(&self, r: Result<crate::ops::Done, String>) -> Option<String> {
        if self.op.changes_membership() {
            let all = self.backend.endpoints();
            // On the client runtime: its namespace reaches the members.
            let a = all.clone();
            let list = self.client_rt.spawn(async move { crate::ops::membership::member_list(&a).await }).await.unwrap_or_else(|e| Err(e.to_string()));
            self.rosters.update(all, list.ok().map(|l| l.into_iter().filter(|m| m.learner).map(|m| m.name).collect()));
        }
        let (ok, detail, targets, took) = match r {
            Ok(d) => (true, d.detail, d.targets, d.took.as_secs_f64()),
            Err(m) => (false, m, Vec::new(), 0.0),
        };
        let name = self.op.name();
        // A restore's member and snapshot-restored events, then the op's own.
        for e in self.snapshots.take_events() {
            self.sink.emit(e);
        }
        self.progress.println(&format!("{:>7.2}s  op {name} {}: {detail}", self.clock.now_ns() as f64 / 1e9, if ok { "done" } else { "FAILED" }));
        self.sink.emit(EventKind::Op { op: name.into(), targets, ok, detail: detail.clone(), duration_s: took });
        (!ok).then(|| format!("op {name} at {} failed: {detail}", self.at))
    }
}

/// What the runner lends a long operation that heals and injects faults as it goes.
struct Ctx<'a> {
    backend: &'a Arc<dyn Backend>,
    layers: &'a Arc<Layers>,
    client_rt: &'a Arc<tokio::runtime::Runtime>,
    sink: &'a Arc<EventSink>,
    progress: &'a Progress,
    clock: &'a Clock,
}

/// `rolling-restart`: every member in turn (followers first, the leader last), each stopped
/// gracefully, given the new settings, started and waited for until it has caught up. A
/// member a process fault holds down or paused is skipped (said in the detail). On a backend
/// whose restarted members get a new network namespace (Docker), the faults living in the
/// member's namespace or cgroups are healed before its restart and put back on after it, on
/// the same members, so they stay in force (each heal and injection is recorded).
async fn rolling_restart(
    ctx: &Ctx<'_>,
    settings: &crate::scenario::RestartSettings,
    eps: &[Endpoint],
    leader: Option<&str>,
    active: &mut Vec<Injected>,
    invalid: &mut Vec<String>,
) -> Result<crate::ops::Done, String> {
    let start = Instant::now();
    let config = (!settings.is_empty()).then(|| cluster::MemberConfig {
        args: settings.args(),
        binary: settings.binary.as_ref().map(PathBuf::from),
        image: settings.image.clone(),
    });
    let names: Vec<String> = eps.iter().map(|e| e.member.clone()).collect();
    let mut said = Vec::new();
    let mut done = Vec::new();
    for m in crate::ops::restart::order(&names, leader) {
        let state = ctx.backend.state(&m);
        if state != cluster::MemberState::Running {
            said.push(format!("{m} skipped ({state:?}: a fault holds it)"));
            continue;
        }
        let mut moved = Vec::new();
        if !ctx.backend.restart_keeps_netns() {
            while let Some(pos) = active.iter().position(|a| a.home().lives_in_container() && a.record.targets.contains(&m)) {
                let inj = active.remove(pos);
                let mut p = inj.planned.clone();
                p.pinned = Some(inj.record.targets.clone());
                heal_one(ctx.backend, ctx.layers, inj, ctx.sink, invalid, ctx.progress, ctx.clock).await.map_err(|e| e.to_string())?;
                moved.push(p);
            }
        }
        let b = ctx.backend.clone();
        let eps2 = eps.to_vec();
        let (m2, c2) = (m.clone(), config.clone());
        let r = ctx.client_rt.spawn(async move { crate::ops::restart::restart_member(&b, &eps2, &m2, c2).await }).await.map_err(|e| e.to_string())?;
        for p in moved {
            let b = ctx.backend.clone();
            let busy: Vec<String> = active.iter().flat_map(|a| a.busy_members().to_vec()).collect();
            let (pc, l) = (p.clone(), ctx.layers.clone());
            let again = tokio::task::spawn_blocking(move || fault::inject(b.as_ref(), &l, &pc, None, &busy)).await.map_err(|e| e.to_string())?;
            match again {
                Ok((inj, evs)) => {
                    for e in evs {
                        ctx.sink.emit(e);
                    }
                    ctx.progress.println(&format!(
                        "{:>7.2}s  fault #{} {} back on {} after its restart (new network namespace): {}",
                        ctx.clock.now_ns() as f64 / 1e9,
                        p.id,
                        p.kind,
                        inj.record.targets.join(","),
                        inj.record.proof
                    ));
                    ctx.sink.emit(EventKind::FaultStart(inj.record.clone()));
                    active.push(inj);
                }
                Err(e) => invalid.push(format!("fault #{} could not be put back on {m} after its restart: {e}", p.id)),
            }
        }
        said.push(r?);
        done.push(m);
    }
    let how = match &config {
        None => String::new(),
        Some(c) => format!(
            " with {}",
            [
                c.args.join(" "),
                c.binary.as_ref().map(|b| format!("binary {}", b.display())).unwrap_or_default(),
                c.image.as_ref().map(|i| format!("image {i}")).unwrap_or_default()
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
        ),
    };
    Ok(crate::ops::Done { detail: format!("{} member(s) restarted one at a time{how}: {}", done.len(), said.join("; ")), targets: done, took: start.elapsed() })
}

/// Carry out one scheduled etcd operation, its targets resolved against the current leader.
async fn run_op(
    op: crate::scenario::EtcdOp,
    backend: &Arc<dyn Backend>,
    eps: &[Endpoint],
    leader: Option<&str>,
    prefix: &str,
    snapshots: &crate::ops::Snapshots,
) -> Result<crate::ops::Done, String> {
    use crate::scenario::{EtcdOp, Target};
    let pick = |t: Target| -> Vec<Endpoint> {
        match t {
            Target::All => eps.to_vec(),
            Target::Leader => eps.iter().filter(|e| Some(e.member.as_str()) == leader).cloned().collect(),
            // `nI` by name on a cluster of the run's own (members come and go), the I-th
            // member on an attached one.
            Target::Member(i) => {
                eps.iter().find(|e| e.member == format!("n{i}")).or_else(|| eps.get(usize::from(i).saturating_sub(1))).cloned().into_iter().collect()
            }
            // follower, random, minority, majority: the members that do not lead, in order.
            _ => eps.iter().filter(|e| Some(e.member.as_str()) != leader).take(1).cloned().collect(),
        }
    };
    let one =
        |t: Target| -> Result<String, String> { pick(t).into_iter().next().map(|e| e.member).ok_or_else(|| format!("no member matches target `{t}` now")) };
    match op {
        EtcdOp::Compact { keep } => crate::ops::compact(eps, keep).await,
        EtcdOp::Defrag { target } => crate::ops::defrag(&pick(target)).await,
        EtcdOp::MoveLeader { target } => {
            let leader = leader.ok_or("there is no leader to hand leadership over")?;
            let to = pick(target).into_iter().next().ok_or("no member to hand leadership to")?;
            if to.member == leader {
                return Err(format!("{leader} already leads"));
            }
            crate::ops::move_leader(eps, leader, &to.member).await
        }
        EtcdOp::AlarmDisarm => crate::ops::alarm_disarm(eps, prefix).await,
        EtcdOp::Fill { value_size } => crate::ops::fill(eps, prefix, value_size.0).await,
        EtcdOp::MemberAdd { learner } => crate::ops::membership::member_add(backend, eps, learner, None).await,
        EtcdOp::LearnerPromote { target } => crate::ops::membership::learner_promote(eps, target.as_deref()).await,
        EtcdOp::MemberRemove { target } => crate::ops::membership::member_remove(backend, eps, &one(target)?).await,
        EtcdOp::MemberReplace { target } => crate::ops::membership::member_replace(backend, eps, &one(target)?).await,
        EtcdOp::RollingRestart { .. } => Err("rolling-restart is carried out by the runner".into()),
        EtcdOp::SnapshotSave { target, name } => {
            let from = pick(target).into_iter().next().ok_or_else(|| format!("no member to take the snapshot from (target {target}, no leader known)"))?;
            snapshots.save(&from, &name).await
        }
        EtcdOp::SnapshotRestore { from } => snapshots.restore(eps, &from).await,
    }
}

/// After a snapshot-restore, the process faults in force (kill, stop, pause) are over: the
/// restore stopped every member and started it again on the restored data. They leave the
/// active list with a heal event saying so, and their scheduled heal finds nothing to do (a
/// kill's heal would otherwise restart a member that runs already).
fn retire_process_faults(active: &mut Vec<Injected>, sink: &EventSink) {
    let (ended, kept): (Vec<Injected>, Vec<Injected>) = std::mem::take(active).into_iter().partition(|a| a.home().holds_member());
    *active = kept;
    for inj in ended {
        let mut rec = inj.record.clone();
        rec.proof = format!("ended by snapshot-restore: {} started again on the restored data", rec.targets.join(", "));
        sink.emit(EventKind::FaultHeal(rec));
    }
}

async fn current_leader(view: &watch::Receiver<ClusterView>, p: &Planned, cancel: &CancellationToken) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let l = view.borrow().leader.clone();
        if l.is_some() || !fault::needs_leader(p.target) || Instant::now() >= deadline || cancel.is_cancelled() {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn heal_one(
    backend: &Arc<dyn Backend>,
    layers: &Arc<Layers>,
    inj: Injected,
    sink: &Arc<EventSink>,
    invalid: &mut Vec<String>,
    progress: &Progress,
    clock: &Clock,
) -> Result<(), Error> {
    let (b, l) = (backend.clone(), layers.clone());
    let i2 = inj.clone();
    let r = tokio::task::spawn_blocking(move || i2.heal(b.as_ref(), &l)).await.map_err(|e| Error::harness(format!("heal task failed: {e}")))?;
    match r {
        Ok((rec, evs)) => {
            progress.println(&format!("{:>7.2}s  healed #{} {}: {}", clock.now_ns() as f64 / 1e9, inj.planned.id, inj.planned.kind, rec.proof));
            for e in evs {
                sink.emit(e);
            }
            sink.emit(EventKind::FaultHeal(rec));
            Ok(())
        }
        Err(Error::Invalid(m)) => {
            progress.println(&m);
            sink.emit(EventKind::Note { message: m.clone() });
            invalid.push(m);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

async fn heal_all(
    backend: &Arc<dyn Backend>,
    layers: &Arc<Layers>,
    active: &mut Vec<Injected>,
    sink: &Arc<EventSink>,
    invalid: &mut Vec<String>,
    progress: &Progress,
    clock: &Clock,
) {
    while let Some(inj) = active.pop() {
        if let Err(e) = heal_one(backend, layers, inj, sink, invalid, progress, clock).await {
            let m = format!("failed to heal a fault: {e}");
            sink.emit(EventKind::Note { message: m.clone() });
            invalid.push(m);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    s: &Scenario,
    seed: u64,
    backend: &Arc<dyn Backend>,
    etcd_version: &str,
    run_dir: &Path,
    history: &[Entry],
    events: &[Event],
    workload_end_ns: u64,
    consistency: Option<&crate::consistency::Consistency>,
    watch_records: Option<&[WatchRecord]>,
    invalid: Vec<String>,
    interrupted: bool,
) -> Summary {
    // The watch check (pure, over watch.jsonl as recorded and the history).
    let watch = watch_records.map(|r| crate::checker::watch::check(r, history));
    if let Some(p) = watch.as_ref().and_then(|w| w.first_problem.as_ref()) {
        eprintln!("faultline: the watch streams have a problem: {p}");
    }
    // The linearizability check, on the history as written (the same code as `faultline check`);
    // split into epochs at snapshot-restores, each checked on its own.
    let restores = crate::epochs::restores(events);
    let mut epochs = Vec::new();
    let (linearizable, checker) = if history.is_empty() {
        (None, CheckerStatus::TimedOut)
    } else if restores.is_empty() {
        check_history(&run_dir.join("history.jsonl"), run_dir, &s.name)
    } else {
        let (l, c, e) = check_epochs(history, &restores, run_dir, &s.name);
        epochs = e;
        (l, c)
    };
    let input = SummaryInput {
        scenario: s,
        seed,
        backend: backend.kind(),
        etcd_version,
        run_dir,
        history,
        events,
        workload_ns: (0, workload_end_ns),
        consistency,
        linearizable,
        checker,
        invalid,
        interrupted,
        harness: summary::harness_usage(),
        watch: watch.as_ref(),
    };
    let mut sum = summary::build(&input);
    let lost = crate::epochs::lost_by_design(history, &restores);
    sum.restores = restores
        .iter()
        .zip(lost)
        .map(|(r, n)| summary::RestoreSpan {
            snapshot: r.snapshot.clone(),
            revision: r.revision,
            from_s: gates::round3(r.began_t as f64 / 1e9),
            to_s: gates::round3(r.ended_t as f64 / 1e9),
            lost_writes: n,
            message: summary::RestoreSpan::describe(n, r.revision),
        })
        .collect();
    sum.epochs = epochs;
    // Measured after building the summary, so its memory peak is counted too.
    sum.harness = summary::harness_usage();
    if let Err(e) = summary::write(&sum, &run_dir.join("summary.json")) {
        eprintln!("faultline: could not write {}: {e}", run_dir.join("summary.json").display());
    }
    // The page is a convenience: failing to draw it is a note, never a failed run.
    if let Err(e) = crate::report::html::write(run_dir) {
        eprintln!("faultline: note: could not write report.html: {e}");
    }
    sum
}

/// Write watch records to `watch.jsonl` as they come; return them all when the watchers
/// are gone.
async fn record_watch(mut writer: WatchWriter, mut rx: mpsc::UnboundedReceiver<WatchRecord>) -> Vec<WatchRecord> {
    let mut all = Vec::new();
    while let Some(r) = rx.recv().await {
        let _ = writer.append(&r);
        all.push(r);
        if rx.is_empty() {
            let _ = writer.flush();
        }
    }
    let _ = writer.flush();
    all
}

/// Check one history file; a violation is explained on the terminal and drawn in
/// `linearizability.html`.
fn check_history(file: &Path, run_dir: &Path, title: &str) -> (Option<bool>, CheckerStatus) {
    match crate::check::check_file(file, Some(crate::check::ModelName::Register), None, CHECK_TIMEOUT) {
        Ok(c) => {
            let status = match c.result.verdict {
                crate::checker::Verdict::Unknown => CheckerStatus::TimedOut,
                _ => CheckerStatus::Ran { seconds: c.result.seconds },
            };
            if let Some(f) = &c.result.failure {
                eprintln!("faultline: {} is NOT linearizable:\n{}", file.display(), crate::checker::explain::text(f));
                write_violation_page(f, run_dir, title);
            }
            (c.result.verdict.as_bool(), status)
        }
        Err(e) => {
            eprintln!("faultline: could not check {}: {e}", file.display());
            (None, CheckerStatus::TimedOut)
        }
    }
}

/// A history with snapshot-restores: each epoch written as `history.epochN.jsonl` (the
/// restored values first, as synthetic writes) and checked on its own; linearizable when
/// every epoch is, not when any is not, unknown otherwise.
fn check_epochs(history: &[Entry], restores: &[crate::epochs::Restore], run_dir: &Path, name: &str) -> (Option<bool>, CheckerStatus, Vec<summary::EpochCheck>) {
    let mut checks = Vec::new();
    let mut seconds = 0.0;
    let mut timed_out = false;
    for epoch in crate::epochs::split(history, restores) {
        let file = run_dir.join(format!("history.epoch{}.jsonl", epoch.index));
        let written = HistoryWriter::create(&file).and_then(|mut w| {
            for e in &epoch.entries {
                w.append(e)?;
            }
            w.flush()
        });
        let (linearizable, status) = match written {
            Ok(()) => check_history(&file, run_dir, &format!("{name}: epoch {}", epoch.index)),
            Err(e) => {
                eprintln!("faultline: could not write {}: {e}", file.display());
                (None, CheckerStatus::TimedOut)
            }
        };
        match status {
            CheckerStatus::Ran { seconds: s } => seconds += s,
            _ => timed_out = true,
        }
        let file = file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        checks.push(summary::EpochCheck { epoch: epoch.index, file, ops: epoch.ops, restored_keys: epoch.synthetic, linearizable });
        if linearizable == Some(false) {
            // The verdict is decided; the violation page is this epoch's.
            break;
        }
    }
    let verdict = if checks.iter().any(|c| c.linearizable == Some(false)) {
        Some(false)
    } else if checks.iter().all(|c| c.linearizable == Some(true)) {
        Some(true)
    } else {
        None
    };
    let status = if timed_out && verdict != Some(false) { CheckerStatus::TimedOut } else { CheckerStatus::Ran { seconds } };
    (verdict, status, checks)
}

/// `linearizability.html` in the run directory, for a person debugging the violation.
fn write_violation_page(f: &crate::checker::Failure, run_dir: &Path, name: &str) {
    let page = crate::checker::html::render(f, &format!("{name}: not linearizable"));
    let path = run_dir.join("linearizability.html");
    match std::fs::write(&path, page) {
        Ok(()) => eprintln!("faultline: wrote {}", path.display()),
        Err(e) => eprintln!("faultline: could not write {}: {e}", path.display()),
    }
}

//! The run between a built cluster and its closed records: members up, clock zero (the
//! recorders, the observer, the watchers and the workload start), the schedule walked, then
//! the wind-down in this order: the workload ends, every fault still in force is healed, the
//! members are checked for agreement, the watch streams deliver the newest revision and
//! stop, and the keys the run wrote to an attached cluster are deleted.

use super::faults::InForce;
use super::ops::{key_prefix, Rosters};
use super::record::{Recorded, Recorders};
use super::walk::{Walk, Walked};
use super::{setup, Ctx, CATCH_UP, OBSERVE_EVERY, WATCH_CATCH_UP};
use crate::consistency::Consistency;
use crate::error::Error;
use crate::events::EventKind;
use crate::history::Clock;
use crate::observer::{self, ClusterView};
use crate::scenario::Scenario;
use crate::schedule::Planned;
use crate::workload::watch::Watchers;
use crate::workload::{self, LiveStats};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a run drove: its records and what it found on the way.
pub(super) struct Drove {
    /// The history and watch records.
    pub recorded: Recorded,
    /// The consistency check, when it ran.
    pub consistency: Option<Consistency>,
    /// Why the run is invalid, so far.
    pub invalid: Vec<String>,
    /// The run was cancelled before it finished.
    pub interrupted: bool,
    /// When the workload ended on the history's clock, ns (0 when it never started).
    pub workload_end_ns: u64,
}

/// Drive a built cluster through the scenario: everything between members up and records
/// closed.
pub(super) async fn drive(ctx: &Ctx, s: &Scenario, seed: u64, plan: &[Planned], run_dir: &Path, started: Instant) -> Result<Drove, Error> {
    let mut invalid = Vec::new();
    let ready = setup::cluster_up(ctx, started, &mut invalid).await?;
    let mut recorders = Recorders::start(run_dir, !s.workload.watch.is_empty(), ctx.sink.clone())?;
    let clock = Clock::start();
    let mut interrupted = ctx.cancel.is_cancelled();
    let mut consistency = None;
    let mut workload_end_ns = 0;
    if ready && !interrupted {
        let mut w = Workload::start(ctx, s, seed, plan, run_dir, clock, &mut recorders, &mut invalid).await?;
        let walked = w.walk.run(plan, &s.ops, &mut w.in_force, &mut invalid).await;
        let walked = match walked {
            Ok(walked) => walked,
            Err(e) => {
                w.workload_stop.cancel();
                return Err(e);
            }
        };
        interrupted = walked == Walked::Interrupted;
        workload_end_ns = w.end(&mut invalid).await?;
        consistency = w.wind_down(interrupted).await?;
    }
    let recorded = recorders.close().await?;
    interrupted |= ctx.cancel.is_cancelled();
    Ok(Drove { recorded, consistency, invalid, interrupted, workload_end_ns })
}

/// The workload and everything that runs beside it, from clock zero to the wind-down.
struct Workload<'a> {
    walk: Walk<'a>,
    /// The members at clock zero.
    endpoints: Vec<crate::client::Endpoint>,
    in_force: InForce,
    workload: JoinHandle<Option<workload::WorkloadReport>>,
    workload_stop: CancellationToken,
    observer: JoinHandle<()>,
    observer_stop: CancellationToken,
    watchers: Option<Watchers>,
    /// Reads the members' logs for etcd's own words about corruption, when the scenario has
    /// a `corrupt` fault or turns etcd's corruption checks on.
    log_watch: Option<LogWatch>,
}

impl<'a> Workload<'a> {
    /// Clock zero: the observer, then the watchers (from the revision before the workload's
    /// first write), then the workload.
    #[allow(clippy::too_many_arguments)]
    async fn start(
        ctx: &'a Ctx,
        s: &Scenario,
        seed: u64,
        plan: &[Planned],
        run_dir: &Path,
        clock: Clock,
        recorders: &mut Recorders,
        invalid: &mut Vec<String>,
    ) -> Result<Workload<'a>, Error> {
        let (view_tx, view) = watch::channel(ClusterView::default());
        let endpoints = ctx.backend.endpoints();
        let rosters = Arc::new(Rosters::new(endpoints.clone()));
        let prefix = key_prefix(ctx.backend.as_ref());
        ctx.sink.start_clock(clock);
        let observer_stop = CancellationToken::new();
        let observer =
            ctx.client_rt.spawn(observer::observe(rosters.all.clone(), clock, OBSERVE_EVERY, recorders.events_tx.clone(), view_tx, observer_stop.clone()));
        let watchers = match &recorders.watch_tx {
            Some(tx) => start_watchers(ctx, s, seed, &endpoints, &prefix, clock, tx.clone(), invalid).await?,
            None => None,
        };
        let corrupting = s.cluster.etcd.corrupt_checks.any() || plan.iter().any(|p| p.kind.name() == "corrupt");
        let log_watch = corrupting.then(|| LogWatch::start(ctx.backend.clone(), ctx.sink.clone()));
        ctx.sink.emit(EventKind::WorkloadStart { clients: s.workload.clients });
        // The workload passes this gate before each operation; a snapshot-restore closes it.
        let gate = Arc::new(workload::PauseGate::default());
        let keys = (0..s.workload.keys).map(|i| format!("k{i}")).collect();
        let snapshots = Arc::new(crate::ops::Snapshots::new(ctx.backend.clone(), run_dir, gate.clone(), clock, keys, &prefix));
        let stats = Arc::new(LiveStats::default());
        let workload_stop = ctx.cancel.child_token();
        let workload = {
            let (spec, voters, st, stop, tx) = (s.workload.clone(), rosters.voters.clone(), stats.clone(), workload_stop.clone(), recorders.history_tx.take());
            ctx.client_rt.spawn(async move {
                match tx {
                    Some(tx) => Some(workload::run(&spec, seed, &prefix, &voters, clock, tx, st, gate, stop).await),
                    None => None,
                }
            })
        };
        let walk = Walk { ctx, clock, view, rosters, snapshots, stats, end: s.workload.duration.0 };
        Ok(Workload { walk, endpoints, in_force: InForce::default(), workload, workload_stop, observer, observer_stop, watchers, log_watch })
    }

    /// The workload ends (its operations in flight drain, each bounded by `op_timeout`),
    /// then every fault still in force is healed. When it ended, ns on the history's clock.
    async fn end(&mut self, invalid: &mut Vec<String>) -> Result<u64, Error> {
        let (ctx, clock) = (self.walk.ctx, self.walk.clock);
        self.workload_stop.cancel();
        let report = (&mut self.workload).await.map_err(|e| Error::harness(format!("workload task failed: {e}")))?;
        let end_ns = report.map_or(clock.now_ns(), |r| clock.now_ns().min(r.elapsed.as_nanos() as u64)).max(1);
        ctx.sink.emit(EventKind::WorkloadEnd {});
        self.in_force.heal_all(ctx, invalid).await;
        Ok(end_ns)
    }

    /// With every fault healed: the consistency check (not after an interruption), the
    /// watch streams stopped, the run's keys deleted from an attached cluster, the observer
    /// stopped.
    async fn wind_down(self, interrupted: bool) -> Result<Option<Consistency>, Error> {
        let ctx = self.walk.ctx;
        let mut consistency = None;
        if !interrupted {
            ctx.sink.say("workload done, faults healed: checking that the members agree (revision, HashKV, keys)...");
            // A member that refused to start on files a `corrupt` fault damaged stays down by
            // design: the others are compared, and the check says it left it out.
            let refused = refused_members(ctx);
            let eps: Vec<_> = self.walk.rosters.all.current().into_iter().filter(|e| !refused.iter().any(|(m, _)| *m == e.member)).collect();
            let mut c = ctx.client_rt.spawn(async move { crate::consistency::check(&eps, CATCH_UP).await }).await.map_err(Error::harness)?;
            c.skipped = refused.into_iter().map(|(m, why)| format!("{m} not compared: {why}; it stays down")).collect();
            for member in crate::consistency::hash_outliers(&c.members) {
                ctx.sink.emit(EventKind::CorruptionDetected {
                    member,
                    by: crate::events::CorruptionBy::FaultlineHashkv,
                    detail: c.differences.join("; "),
                    fault: None,
                });
            }
            consistency = Some(c);
        }
        if let Some(w) = self.log_watch {
            w.stop();
        }
        // The watch streams deliver the newest revision (bounded), then stop: before the
        // keys of an attached cluster are deleted, which they would see.
        if let Some(w) = self.watchers {
            let limit = if interrupted { Duration::ZERO } else { WATCH_CATCH_UP };
            let target = ctx.client_rt.spawn(async move { w.finish(limit).await }).await.map_err(Error::harness)?;
            ctx.sink.emit(EventKind::Note {
                message: match target {
                    Some(t) => format!("watchers stopped; the newest revision of the workload's keys was {t}"),
                    None => "watchers stopped (the newest revision of the workload's keys could not be read)".to_string(),
                },
            });
        }
        if ctx.backend.attached() {
            delete_run_keys(ctx, self.endpoints).await?;
        }
        self.observer_stop.cancel();
        let _ = self.observer.await;
        Ok(consistency)
    }
}

/// The scenario's watchers (those from the current revision start from the revision before
/// the workload's first write); `None` (with the reason in `invalid`) when that revision
/// could not be read.
#[allow(clippy::too_many_arguments)]
async fn start_watchers(
    ctx: &Ctx,
    s: &Scenario,
    seed: u64,
    endpoints: &[crate::client::Endpoint],
    prefix: &str,
    clock: Clock,
    tx: tokio::sync::mpsc::UnboundedSender<crate::watchlog::WatchRecord>,
    invalid: &mut Vec<String>,
) -> Result<Option<Watchers>, Error> {
    let (eps, p2) = (endpoints.to_vec(), prefix.to_string());
    match ctx.client_rt.spawn(async move { workload::watch::start_revision(&eps, &p2).await }).await.map_err(Error::harness)? {
        Ok(from) => {
            let sink = ctx.sink.clone();
            let setup = workload::watch::Setup {
                groups: &s.workload.watch,
                load: &s.workload.load,
                endpoints,
                prefix,
                from,
                seed,
                duration: s.workload.duration.0,
                clock,
                sink: tx,
                notes: Arc::new(move |message| sink.emit(EventKind::Note { message })),
            };
            let w = Watchers::start(ctx.client_rt.handle(), setup);
            ctx.sink.emit(EventKind::Note { message: format!("{} watchers started; those from the current revision from revision {from}", w.len()) });
            Ok(Some(w))
        }
        Err(e) => {
            invalid.push(format!("the watch workload could not read the revision to watch from: {e}"));
            Ok(None)
        }
    }
}

/// The members down because they refused to start on files a `corrupt` fault damaged, with
/// etcd's words: the `corruption-detected` events of the heals, for members still down.
fn refused_members(ctx: &Ctx) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for e in ctx.sink.events() {
        if let EventKind::CorruptionDetected { member, by: crate::events::CorruptionBy::EtcdRefusedStart, detail, .. } = e.what {
            if ctx.backend.state(&member) == crate::cluster::MemberState::Down && !out.iter().any(|(m, _)| *m == member) {
                out.push((member, detail));
            }
        }
    }
    out
}

/// How often the members' logs are read for corruption lines.
const LOG_WATCH_EVERY: Duration = Duration::from_millis(500);

/// A thread that reads every member's log (the backend's `log_tail`: a file for a process,
/// the engine's log for a container) every [`LOG_WATCH_EVERY`] and records the first line of
/// each member that says etcd found corruption ([`crate::ops::restart::corruption_line`]) as
/// a `corruption-detected` event by `etcd-log`.
struct LogWatch {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl LogWatch {
    fn start(backend: Arc<dyn crate::cluster::Backend>, sink: Arc<super::sink::EventSink>) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut told: Vec<String> = Vec::new();
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                for m in backend.members() {
                    if told.contains(&m.name) {
                        continue;
                    }
                    if let Some(line) = crate::ops::restart::corruption_line(&backend.log_tail(&m.name, 400)) {
                        sink.emit(EventKind::CorruptionDetected {
                            member: m.name.clone(),
                            by: crate::events::CorruptionBy::EtcdLog,
                            detail: format!("{}'s log: {line}", m.name),
                            fault: None,
                        });
                        told.push(m.name);
                    }
                }
                std::thread::sleep(LOG_WATCH_EVERY);
            }
        });
        LogWatch { stop, thread }
    }

    /// One last look happens at most [`LOG_WATCH_EVERY`] later; then the thread is joined.
    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// On someone else's cluster, the run's keys go when the run is done.
async fn delete_run_keys(ctx: &Ctx, eps: Vec<crate::client::Endpoint>) -> Result<(), Error> {
    let prefix = key_prefix(ctx.backend.as_ref());
    let p2 = prefix.clone();
    let gone = ctx.client_rt.spawn(async move { crate::client::delete_prefix(&eps, &p2).await }).await.map_err(Error::harness)?;
    match gone {
        Ok(n) => ctx.sink.emit(EventKind::Note { message: format!("deleted the run's {n} key(s) under {prefix} from the attached cluster") }),
        Err(e) => ctx.sink.say(&format!("could not delete the run's keys under {prefix}: {e}")),
    }
    Ok(())
}

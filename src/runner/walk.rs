//! The schedule walker: the fault starts and heals and the scheduled ops, as [`Step`]s in
//! time order, each carried out when the history's clock reaches it, while the progress
//! display shows the workload going. A walk ends when the workload's time is up or when the
//! run is cancelled ([`Walked`]).

use super::faults::InForce;
use super::ops::{rolling_restart, OpJob, Rosters};
use super::Ctx;
use crate::error::Error;
use crate::history::Clock;
use crate::observer::ClusterView;
use crate::scenario::{EtcdOp, OpSpec};
use crate::schedule::Planned;
use crate::workload::LiveStats;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a step that needs the leader waits for one through an election.
const LEADER_WAIT: Duration = Duration::from_secs(10);

/// One step of the schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Step<'a> {
    /// Heal the fault with this id (if it is still in force).
    Heal(usize),
    /// Inject a planned fault.
    Start(&'a Planned),
    /// Carry out a scheduled op.
    Op(&'a OpSpec),
}

impl Step<'_> {
    /// At the same instant: heals first (a fault ending as another starts leaves its
    /// members free), then starts, then ops.
    fn rank(&self) -> u8 {
        match self {
            Step::Heal(_) => 0,
            Step::Start(_) => 1,
            Step::Op(_) => 2,
        }
    }
}

/// The steps of a run, in the order they are carried out; heals at or after the workload's
/// `end` are left to the heal of everything at the end.
pub(super) fn steps<'a>(plan: &'a [Planned], ops: &'a [OpSpec], end: Duration) -> Vec<(Duration, Step<'a>)> {
    let mut steps: Vec<(Duration, Step)> = Vec::new();
    for p in plan {
        steps.push((p.at, Step::Start(p)));
        if let Some(h) = p.heal_at.filter(|h| *h < end) {
            steps.push((h, Step::Heal(p.id)));
        }
    }
    for o in ops {
        steps.push((o.at.0, Step::Op(o)));
    }
    // Stable: steps of one kind at one instant keep the schedule's order.
    steps.sort_by_key(|(t, step)| (*t, step.rank()));
    steps
}

/// How a walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Walked {
    /// The workload's time is up.
    Finished,
    /// The run was cancelled (Ctrl-C) first.
    Interrupted,
}

/// What the walker works with, beside the run's shared parts.
pub(super) struct Walk<'a> {
    /// The run's shared parts.
    pub ctx: &'a Ctx,
    /// The history's clock.
    pub clock: Clock,
    /// The observer's view of the cluster.
    pub view: watch::Receiver<ClusterView>,
    /// Whom the clients see.
    pub rosters: Arc<Rosters>,
    /// The snapshots saved so far.
    pub snapshots: Arc<crate::ops::Snapshots>,
    /// The workload's live counters (for the progress display).
    pub stats: Arc<LiveStats>,
    /// The workload's duration.
    pub end: Duration,
}

impl Walk<'_> {
    /// Walk `steps`, then wait for the workload's end. Ops running in the background are
    /// awaited before it returns. A fault that fails for a reason other than not being
    /// provable ends the walk with that error, once everything in force is healed.
    pub(super) async fn run(&self, steps: Vec<(Duration, Step<'_>)>, in_force: &mut InForce, invalid: &mut Vec<String>) -> Result<Walked, Error> {
        let mut meter = Meter { stats: self.stats.clone(), last_ok: 0, last_t: Instant::now(), total: self.end };
        let op_turn = Arc::new(tokio::sync::Mutex::new(()));
        let mut in_flight: Vec<JoinHandle<Option<String>>> = Vec::new();
        let mut walked = Walked::Finished;
        for (at, step) in steps {
            if meter.wait_until(at, &self.clock, &self.ctx.cancel, self.ctx.sink.progress(), &in_force.describe()).await {
                walked = Walked::Interrupted;
                break;
            }
            match step {
                Step::Start(p) => {
                    let leader = leader_now(&self.view, crate::fault::needs_leader(p.target), &self.ctx.cancel).await;
                    if let Err(e) = in_force.start(self.ctx, p, leader, invalid).await {
                        in_force.heal_all(self.ctx, invalid).await;
                        return Err(e);
                    }
                }
                Step::Op(o) => self.op(o, &op_turn, &mut in_flight, in_force, invalid).await,
                Step::Heal(id) => in_force.heal(self.ctx, id, invalid).await?,
            }
        }
        if walked == Walked::Finished && meter.wait_until(self.end, &self.clock, &self.ctx.cancel, self.ctx.sink.progress(), &in_force.describe()).await {
            walked = Walked::Interrupted;
        }
        // Ops still running finish (each is bounded) before the faults are healed.
        for t in in_flight {
            match t.await {
                Ok(Some(m)) => invalid.push(m),
                Ok(None) => {}
                Err(e) => invalid.push(format!("an op task failed: {e}")),
            }
        }
        Ok(walked)
    }

    /// A scheduled op: `rolling-restart` and `snapshot-restore` inline (they change the
    /// faults in force, so the schedule waits for them, after any op in flight), any other
    /// in the background, one op at a time, while faults start and heal: an op may wait for
    /// the cluster (a refused reconfiguration is retried).
    async fn op(
        &self,
        o: &OpSpec,
        turn: &Arc<tokio::sync::Mutex<()>>,
        in_flight: &mut Vec<JoinHandle<Option<String>>>,
        in_force: &mut InForce,
        invalid: &mut Vec<String>,
    ) {
        let job = OpJob {
            op: o.op.clone(),
            at: o.at,
            ctx: self.ctx.clone(),
            clock: self.clock,
            rosters: self.rosters.clone(),
            view: self.view.clone(),
            snapshots: self.snapshots.clone(),
            expect: o.expect,
        };
        match &o.op {
            EtcdOp::RollingRestart { etcd } => {
                let _turn = turn.clone().lock_owned().await;
                let leader = job.leader().await;
                let r = rolling_restart(self.ctx, etcd, &self.rosters.all.current(), leader.as_deref(), in_force, invalid).await;
                invalid.extend(job.record(r).await);
            }
            EtcdOp::SnapshotRestore { .. } => {
                // It ends the process faults in force (every member is stopped and started
                // again on the restored data).
                let _turn = turn.clone().lock_owned().await;
                invalid.extend(job.run().await);
                in_force.retire_process_faults(self.ctx);
            }
            _ => {
                let turn = turn.clone();
                in_flight.push(tokio::spawn(async move {
                    let _turn = turn.lock_owned().await;
                    job.run().await
                }));
            }
        }
    }
}

/// The leader now; when `needed`, waiting (up to 10 s) through an election. `None` when
/// there is none (or the run was cancelled meanwhile).
pub(super) async fn leader_now(view: &watch::Receiver<ClusterView>, needed: bool, cancel: &CancellationToken) -> Option<String> {
    let deadline = Instant::now() + LEADER_WAIT;
    loop {
        let l = view.borrow().leader.clone();
        if l.is_some() || !needed || Instant::now() >= deadline || cancel.is_cancelled() {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Drives the progress display while the walker waits for its next step.
struct Meter {
    stats: Arc<LiveStats>,
    last_ok: u64,
    last_t: Instant,
    total: Duration,
}

impl Meter {
    /// Sleep until `at` on the run clock, updating the progress display; true if cancelled.
    async fn wait_until(&mut self, at: Duration, clock: &Clock, cancel: &CancellationToken, progress: &crate::report::progress::Progress, fault: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(id: usize, at: u64, heal: Option<u64>) -> Planned {
        Planned {
            id,
            at: Duration::from_secs(at),
            heal_at: heal.map(Duration::from_secs),
            kind: crate::fault::FaultKind::new(crate::fault::kinds::stop::Stop),
            target: crate::scenario::Target::Leader,
            origin: "test".into(),
            draw: 0,
            pinned: None,
        }
    }

    #[test]
    fn steps_are_in_time_order_heals_before_starts_and_late_heals_dropped() {
        let plan = vec![planned(0, 5, Some(10)), planned(1, 10, Some(30)), planned(2, 2, None)];
        let s = steps(&plan, &[], Duration::from_secs(20));
        let got: Vec<(u64, String)> = s
            .iter()
            .map(|(t, st)| {
                (
                    t.as_secs(),
                    match st {
                        Step::Heal(id) => format!("heal {id}"),
                        Step::Start(p) => format!("start {}", p.id),
                        Step::Op(_) => "op".into(),
                    },
                )
            })
            .collect();
        // #1's heal at 30 s is past the 20 s workload: the heal at the end does it.
        assert_eq!(got, vec![(2, "start 2".into()), (5, "start 0".into()), (10, "heal 0".into()), (10, "start 1".into())]);
    }
}

//! The schedule walker: the fault starts and heals and the scheduled ops, as [`Step`]s in
//! time order, each carried out when the history's clock reaches it, while the progress
//! display shows the workload going. A walk ends when the workload's time is up or when the
//! run is cancelled ([`Walked`]).

use super::conditions;
use super::faults::InForce;
use super::ops::{rolling_restart, OpJob, Rosters};
use super::Ctx;
use crate::error::Error;
use crate::events::EventKind;
use crate::history::Clock;
use crate::observer::ClusterView;
use crate::scenario::trigger::{Happening, Until};
use crate::scenario::{EtcdOp, OpSpec};
use crate::schedule::Planned;
use crate::schedule::{End, Start};
use crate::workload::LiveStats;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
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
    /// The bound of a triggered fault's wait (`within`) is reached: if it still waits, the
    /// condition never came.
    Expire(usize),
}

impl Step<'_> {
    /// At the same instant: heals first (a fault ending as another starts leaves its
    /// members free), then starts, then ops, then the bounds of waits.
    fn rank(&self) -> u8 {
        match self {
            Step::Heal(_) => 0,
            Step::Start(_) => 1,
            Step::Op(_) => 2,
            Step::Expire(_) => 3,
        }
    }
}

/// The steps of a run known before it starts, in the order they are carried out: the
/// faults that start at a time, their fixed heals, the ops, and the bounds of triggered
/// waits; heals at or after the workload's `end` are left to the heal of everything at the
/// end. Triggered starts and heals join the walk when their trigger fires.
pub(super) fn steps<'a>(plan: &'a [Planned], ops: &'a [OpSpec], end: Duration) -> Vec<(Duration, Step<'a>)> {
    let mut steps: Vec<(Duration, Step)> = Vec::new();
    for p in plan {
        match &p.start {
            Start::At(t) => steps.push((*t, Step::Start(p))),
            Start::When { armed, within: Some(w), .. } if *armed + *w < end => steps.push((*armed + *w, Step::Expire(p.id))),
            Start::When { .. } => {}
        }
        if let Some(h) = p.heal_at().filter(|h| *h < end) {
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

/// The steps still to come, in time order; a step joins when a trigger fires.
struct Queue<'a>(Vec<(Duration, Step<'a>)>);

impl<'a> Queue<'a> {
    fn next_at(&self) -> Option<Duration> {
        self.0.first().map(|(t, _)| *t)
    }

    fn pop(&mut self) -> Option<(Duration, Step<'a>)> {
        (!self.0.is_empty()).then(|| self.0.remove(0))
    }

    /// Add `step` at `at`, after the steps of its rank at that instant.
    fn push(&mut self, at: Duration, step: Step<'a>) {
        let pos = self.0.partition_point(|(t, s)| (*t, s.rank()) <= (at, step.rank()));
        self.0.insert(pos, (at, step));
    }
}

/// Something that happened, sent to the walker by whoever saw it: when (on the history's
/// clock) and how it is known.
type Heard = (Happening, Duration, String);

/// A triggered fault's wait, start or heal.
#[derive(Debug)]
struct Waiting<'a> {
    fault: &'a Planned,
    /// Waiting to start (else: to heal).
    start: bool,
    /// What it waits for: every one of these (`until: snapshot` on two members: both).
    on: Vec<Happening>,
    /// The delay after the last of them.
    delay: Duration,
    /// When it began to wait (happenings before do not count).
    since: Duration,
    /// When the bound is reached (`None`: the workload's end).
    deadline: Option<Duration>,
    /// What it waits for, as the scenario wrote it.
    written: String,
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

/// What a walk keeps while it goes: the waits of triggered faults, what was heard, the
/// conditions being watched.
struct Triggers<'a> {
    tx: mpsc::UnboundedSender<Heard>,
    rx: mpsc::UnboundedReceiver<Heard>,
    waiting: Vec<Waiting<'a>>,
    /// Every happening heard, with when and how.
    heard: Vec<Heard>,
    /// Members whose need of a snapshot is watched.
    watched: Vec<String>,
    /// Stops the watchers at the walk's end.
    stop: CancellationToken,
    /// The members of faults in force `until: snapshot` (fault, member, how many snapshots
    /// its log showed when the fault started).
    to_prove: Vec<(usize, String, usize)>,
    /// The proofs, from their logs, that healed members took a snapshot.
    proofs: Vec<JoinHandle<()>>,
}

impl Walk<'_> {
    /// Walk the schedule, then wait for the workload's end. Ops running in the background
    /// are awaited before it returns. A fault that fails for a reason other than not being
    /// provable ends the walk with that error, once everything in force is healed.
    pub(super) async fn run(&self, plan: &[Planned], ops: &[OpSpec], in_force: &mut InForce, invalid: &mut Vec<String>) -> Result<Walked, Error> {
        let mut meter = Meter { stats: self.stats.clone(), last_ok: 0, last_t: Instant::now(), total: self.end };
        let op_turn = Arc::new(tokio::sync::Mutex::new(()));
        let mut in_flight: Vec<JoinHandle<Option<String>>> = Vec::new();
        let mut walked = Walked::Finished;
        let mut queue = Queue(steps(plan, ops, self.end));
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tr = Triggers {
            tx,
            rx,
            waiting: Vec::new(),
            heard: Vec::new(),
            watched: Vec::new(),
            stop: self.ctx.cancel.child_token(),
            to_prove: Vec::new(),
            proofs: Vec::new(),
        };
        for p in plan {
            if let Start::When { on, armed, within } = &p.start {
                self.wait(&mut tr, p, true, vec![on.on.clone()], on.delay, *armed, *within, on.to_string());
            }
        }
        loop {
            let next = queue.next_at().unwrap_or(self.end).min(self.end);
            let faults_now = in_force.describe();
            let heard = tokio::select! {
                cancelled = meter.wait_until(next, &self.clock, &self.ctx.cancel, self.ctx.sink.progress(), &faults_now) => {
                    if cancelled {
                        walked = Walked::Interrupted;
                        break;
                    }
                    None
                }
                h = tr.rx.recv() => h,
            };
            if let Some(h) = heard {
                self.heard(&mut tr, &mut queue, h);
                continue;
            }
            if next >= self.end && queue.next_at().is_none_or(|t| t >= self.end) {
                break;
            }
            let Some((_, step)) = queue.pop() else { continue };
            match step {
                Step::Start(p) => {
                    let leader = leader_now(&self.view, crate::fault::needs_leader(p.target), &self.ctx.cancel).await;
                    let began = match in_force.start(self.ctx, p, leader, invalid).await {
                        Ok(b) => b,
                        Err(e) => {
                            in_force.heal_all(self.ctx, invalid).await;
                            return Err(e);
                        }
                    };
                    if let Some(began) = began {
                        self.started(&mut tr, &mut queue, p, began, in_force);
                    }
                }
                Step::Op(o) => self.op(o, &op_turn, &mut in_flight, in_force, invalid, &tr.tx).await,
                Step::Heal(id) => self.heal(&mut tr, plan, id, in_force, invalid).await?,
                Step::Expire(id) => self.expire(&mut tr, id, in_force, invalid).await?,
            }
        }
        // What still waits never came: a fault that never started, or one healed now only
        // because the workload ended (the heal of everything at the end does it).
        if walked == Walked::Finished {
            for (at, step) in &queue.0 {
                if let Step::Start(p) = step {
                    let m = format!(
                        "fault #{} ({} on {}) never started: its trigger fired, but its start at {:.2}s is past the workload's end",
                        p.id,
                        p.kind,
                        p.target,
                        at.as_secs_f64()
                    );
                    self.ctx.sink.note(m.clone());
                    invalid.push(m);
                }
            }
        }
        for w in std::mem::take(&mut tr.waiting).into_iter().filter(|_| walked == Walked::Finished) {
            let m = self.never_came(&tr, &w, "by the workload's end");
            invalid.push(m);
        }
        tr.stop.cancel();
        // Ops still running finish (each is bounded) before the faults are healed.
        for t in in_flight {
            match t.await {
                Ok(Some(m)) => invalid.push(m),
                Ok(None) => {}
                Err(e) => invalid.push(format!("an op task failed: {e}")),
            }
        }
        for p in tr.proofs {
            let _ = p.await;
        }
        Ok(walked)
    }

    /// Start waiting for `on` (all of them), to start or heal `fault`.
    #[allow(clippy::too_many_arguments)]
    fn wait<'p>(
        &self,
        tr: &mut Triggers<'p>,
        fault: &'p Planned,
        start: bool,
        on: Vec<Happening>,
        delay: Duration,
        since: Duration,
        within: Option<Duration>,
        written: String,
    ) {
        for h in &on {
            if let Happening::NeedsSnapshot(m) = h {
                if !tr.watched.contains(m) {
                    tr.watched.push(m.clone());
                    let (tx, b, v, stop, m, clock) = (tr.tx.clone(), self.ctx.backend.clone(), self.view.clone(), tr.stop.clone(), m.clone(), self.clock);
                    tokio::spawn(async move {
                        if let Some(evidence) = conditions::needs_snapshot(m.clone(), b, v, stop).await {
                            let _ = tx.send((Happening::NeedsSnapshot(m), clock.zero().elapsed(), evidence));
                        }
                    });
                }
            }
        }
        let deadline = within.map(|w| since + w);
        tr.waiting.push(Waiting { fault, start, on, delay, since, deadline, written });
    }

    /// A happening was heard: the waits it completes fire (a step at its time plus their
    /// delay).
    fn heard<'p>(&self, tr: &mut Triggers<'p>, queue: &mut Queue<'p>, h: Heard) {
        tr.heard.push(h);
        let mut i = 0;
        while i < tr.waiting.len() {
            let w = &tr.waiting[i];
            let came: Option<Vec<&Heard>> = w.on.iter().map(|on| tr.heard.iter().find(|(x, t, _)| x == on && *t >= w.since)).collect();
            let Some(came) = came else {
                i += 1;
                continue;
            };
            let w = tr.waiting.remove(i);
            let last = came.iter().max_by_key(|(_, t, _)| *t).map(|(_, t, _)| *t).unwrap_or_default();
            let evidence = came.iter().map(|(_, _, e)| e.as_str()).filter(|e| !e.is_empty()).collect::<Vec<_>>().join("; ");
            let then = if w.start { "start" } else { "heal" };
            self.ctx.sink.say(&format!(
                "{:>7.2}s  trigger of fault #{} fired ({}){}: it will {then} at {:.2}s",
                self.ctx.sink.now_s(),
                w.fault.id,
                w.written,
                if evidence.is_empty() { String::new() } else { format!(": {evidence}") },
                (last + w.delay).as_secs_f64()
            ));
            self.ctx.sink.emit(EventKind::TriggerFired {
                fault: w.fault.id,
                then: then.into(),
                waited_for: w.written.clone(),
                happened_t: last.as_nanos() as i64,
                delay_ms: w.delay.as_millis() as u64,
                evidence,
            });
            let step = if w.start { Step::Start(w.fault) } else { Step::Heal(w.fault.id) };
            queue.push(last + w.delay, step);
        }
    }

    /// A fault is in force (its injection began at `began` ns): its `id:` started, and its
    /// heal is planned — after `for`, or when its `until` comes.
    fn started<'p>(&self, tr: &mut Triggers<'p>, queue: &mut Queue<'p>, p: &'p Planned, began: i64, in_force: &InForce) {
        let t = Duration::from_nanos(began.max(0) as u64);
        if let Some(name) = &p.name {
            let _ = tr.tx.send((Happening::Started(name.clone()), t, String::new()));
        }
        let now = self.clock.zero().elapsed();
        match &p.end {
            End::After(d) => queue.push(t + *d, Step::Heal(p.id)),
            End::Until { on, within } => {
                let (happenings, delay) = match on {
                    Until::Snapshot => {
                        let targets = in_force.targets_of(p.id);
                        for m in &targets {
                            tr.to_prove.push((p.id, m.clone(), conditions::snapshots_taken(self.ctx.backend.as_ref(), m)));
                        }
                        (targets.into_iter().map(Happening::NeedsSnapshot).collect(), Duration::ZERO)
                    }
                    Until::When(w) => (vec![w.on.clone()], w.delay),
                };
                if let Some(w) = within.filter(|w| now + *w < self.end) {
                    queue.push(now + w, Step::Expire(p.id));
                }
                self.wait(tr, p, false, happenings, delay, now, *within, on.to_string());
            }
            End::At(_) | End::WorkloadEnd => {}
        }
    }

    /// A heal step: the fault heals (if still in force) and its `id:` finished.
    async fn heal(&self, tr: &mut Triggers<'_>, plan: &[Planned], id: usize, in_force: &mut InForce, invalid: &mut Vec<String>) -> Result<(), Error> {
        if in_force.heal(self.ctx, id, invalid).await? {
            self.prove_snapshots(tr, id);
            if let Some(name) = plan.iter().find(|p| p.id == id).and_then(|p| p.name.clone()) {
                let _ = tr.tx.send((Happening::Finished(name), self.clock.zero().elapsed(), String::new()));
            }
        }
        Ok(())
    }

    /// The bound of a wait is reached: if the fault still waits, its condition never came
    /// (the run is invalid); a fault waiting to heal heals now.
    async fn expire(&self, tr: &mut Triggers<'_>, id: usize, in_force: &mut InForce, invalid: &mut Vec<String>) -> Result<(), Error> {
        let Some(pos) =
            tr.waiting.iter().position(|w| w.fault.id == id && w.deadline.is_some_and(|d| d <= self.clock.zero().elapsed() + Duration::from_millis(1)))
        else {
            return Ok(());
        };
        let w = tr.waiting.remove(pos);
        let m = self.never_came(tr, &w, &format!("within {}", crate::units::Span(w.deadline.unwrap_or_default() - w.since)));
        invalid.push(m);
        if !w.start {
            self.heal(tr, std::slice::from_ref(w.fault), id, in_force, invalid).await?;
        }
        Ok(())
    }

    /// Say that a wait's condition never came, with what was seen; the invalid reason.
    fn never_came(&self, tr: &Triggers<'_>, w: &Waiting<'_>, bound: &str) -> String {
        let missing: Vec<String> = w.on.iter().filter(|on| !tr.heard.iter().any(|(x, t, _)| x == *on && *t >= w.since)).map(|h| h.to_string()).collect();
        let then = if w.start { "start" } else { "heal" };
        let what = if w.start {
            format!("fault #{} ({} on {}, {}) never started", w.fault.id, w.fault.kind, w.fault.target, w.fault.origin)
        } else {
            format!("fault #{} ({} on {}, {}) was healed without its condition", w.fault.id, w.fault.kind, w.fault.target, w.fault.origin)
        };
        let reason = format!("{what}: `{}` did not come {bound} ({} never happened)", w.written, missing.join(", "));
        self.ctx.sink.say(&format!("{:>7.2}s  {reason}", self.ctx.sink.now_s()));
        self.ctx.sink.emit(EventKind::TriggerExpired { fault: w.fault.id, then: then.into(), waited_for: w.written.clone(), reason: reason.clone() });
        reason
    }

    /// After a heal from `until: snapshot`: for each of its members, in the background, its
    /// log's word that it took a snapshot (waited for a few seconds), or a note that it caught
    /// up without one.
    fn prove_snapshots(&self, tr: &mut Triggers<'_>, id: usize) {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut tr.to_prove).into_iter().partition(|(f, _, _)| *f == id);
        tr.to_prove = rest;
        for (_, m, before) in mine {
            let (ctx, cancel) = (self.ctx.clone(), self.ctx.cancel.clone());
            tr.proofs.push(tokio::spawn(async move {
                match conditions::snapshot_taken(m.clone(), before, ctx.backend.clone(), SNAPSHOT_PROOF_WAIT, cancel).await {
                    Some(line) => {
                        ctx.sink.say(&format!("{:>7.2}s  {m} took a snapshot from the leader: {}", ctx.sink.now_s(), line.trim()));
                        ctx.sink.emit(EventKind::SnapshotReceived { member: m.clone(), evidence: line.trim().to_string() });
                    }
                    None => ctx.sink.note(format!(
                        "{m}'s log does not say it took a snapshot within {}: it caught up from the leader's log (a new leader that had not compacted it), or is still behind",
                        crate::units::Span(SNAPSHOT_PROOF_WAIT)
                    )),
                }
            }));
        }
    }

    /// A scheduled op: `rolling-restart` and `snapshot-restore` inline (they change the
    /// faults in force, so the schedule waits for them, after any op in flight), any other
    /// in the background, one op at a time, while faults start and heal: an op may wait for
    /// the cluster (a refused reconfiguration is retried). An op with an `id:` says when it
    /// starts and finishes (to the triggers).
    async fn op(
        &self,
        o: &OpSpec,
        turn: &Arc<tokio::sync::Mutex<()>>,
        in_flight: &mut Vec<JoinHandle<Option<String>>>,
        in_force: &mut InForce,
        invalid: &mut Vec<String>,
        tx: &mpsc::UnboundedSender<Heard>,
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
        let announce = o.id.clone().map(|id| Announce { id, tx: tx.clone(), clock: self.clock, ctx: self.ctx.clone(), op: o.op.name().to_string() });
        match &o.op {
            EtcdOp::RollingRestart { etcd } => {
                let _turn = turn.clone().lock_owned().await;
                announce.as_ref().map(Announce::started);
                let leader = job.leader().await;
                let r = rolling_restart(self.ctx, etcd, &self.rosters.all.current(), leader.as_deref(), in_force, invalid).await;
                invalid.extend(job.record(r).await);
                announce.as_ref().map(Announce::finished);
            }
            EtcdOp::SnapshotRestore { .. } => {
                // It ends the process faults in force (every member is stopped and started
                // again on the restored data).
                let _turn = turn.clone().lock_owned().await;
                announce.as_ref().map(Announce::started);
                invalid.extend(job.run().await);
                in_force.retire_process_faults(self.ctx);
                announce.as_ref().map(Announce::finished);
            }
            _ => {
                let turn = turn.clone();
                in_flight.push(tokio::spawn(async move {
                    let _turn = turn.lock_owned().await;
                    announce.as_ref().map(Announce::started);
                    let r = job.run().await;
                    announce.as_ref().map(Announce::finished);
                    r
                }));
            }
        }
    }
}

/// How long, after a heal from `until: snapshot`, the member's log is given to say it took
/// the snapshot.
const SNAPSHOT_PROOF_WAIT: Duration = Duration::from_secs(10);

/// An op with an `id:` telling the walker (and `events.jsonl`) when it starts and finishes.
struct Announce {
    id: String,
    op: String,
    tx: mpsc::UnboundedSender<Heard>,
    clock: Clock,
    ctx: Ctx,
}

impl Announce {
    fn started(&self) {
        self.ctx.sink.emit(EventKind::OpStart { op: self.op.clone(), id: self.id.clone() });
        let _ = self.tx.send((Happening::Started(self.id.clone()), self.clock.zero().elapsed(), String::new()));
    }

    fn finished(&self) {
        let _ = self.tx.send((Happening::Finished(self.id.clone()), self.clock.zero().elapsed(), String::new()));
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
            name: None,
            start: Start::At(Duration::from_secs(at)),
            end: heal.map_or(End::WorkloadEnd, |h| End::At(Duration::from_secs(h))),
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
                        Step::Expire(id) => format!("expire {id}"),
                    },
                )
            })
            .collect();
        // #1's heal at 30 s is past the 20 s workload: the heal at the end does it.
        assert_eq!(got, vec![(2, "start 2".into()), (5, "start 0".into()), (10, "heal 0".into()), (10, "start 1".into())]);
    }
}

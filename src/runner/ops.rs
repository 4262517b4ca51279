//! The scheduled etcd operations (`ops:`) as the runner carries them out: each resolved
//! against the current leader and members, run on the client runtime (inside the client
//! namespace), recorded as an `op` event; `rolling-restart`, which takes faults off and puts
//! them back on as it goes; and the members the run's clients see as membership changes.

use super::faults::{heal_one, InForce};
use super::walk::leader_now;
use super::Ctx;
use crate::client::{Endpoint, Roster, RosterUpdater};
use crate::cluster::{self, Backend};
use crate::events::EventKind;
use crate::history::Clock;
use crate::observer::ClusterView;
use crate::ops::Failed;
use crate::scenario::{EtcdOp, OpExpect, RestartSettings, Target};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

/// Where the workload's keys live in etcd: at the top on a cluster of the run's own, under
/// `/faultline/<run id>/` on an attached cluster (which may hold data of its owner's).
pub(super) fn key_prefix(backend: &dyn Backend) -> String {
    if backend.attached() {
        format!("/faultline/{}/", backend.run_id())
    } else {
        String::new()
    }
}

/// The members the run's clients see: all of them (observer, operations, consistency) and
/// the voters (the workload: a learner serves no client requests).
pub(super) struct Rosters {
    /// Every member.
    pub all: Roster,
    all_tx: RosterUpdater,
    /// The voting members.
    pub voters: Roster,
    voters_tx: RosterUpdater,
}

impl Rosters {
    /// Both rosters start as `endpoints`.
    pub(super) fn new(endpoints: Vec<Endpoint>) -> Self {
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
pub(super) struct OpJob {
    /// The op.
    pub op: EtcdOp,
    /// When it was scheduled.
    pub at: crate::scenario::units::Span,
    /// The run's shared parts.
    pub ctx: Ctx,
    /// The history's clock.
    pub clock: Clock,
    /// Whom the clients see.
    pub rosters: Arc<Rosters>,
    /// The observer's view of the cluster.
    pub view: watch::Receiver<ClusterView>,
    /// The snapshots saved so far (and the restore's events).
    pub snapshots: Arc<crate::ops::Snapshots>,
    /// Its right outcome.
    pub expect: OpExpect,
}

impl OpJob {
    /// The leader now, waiting through an election when the op needs one.
    pub(super) async fn leader(&self) -> Option<String> {
        leader_now(&self.view, self.op.needs_leader(), &self.ctx.cancel).await
    }

    /// Carry it out; the reason the run is invalid when it failed.
    pub(super) async fn run(self) -> Option<String> {
        let leader = self.leader().await;
        let eps = self.rosters.all.current();
        let (b, op) = (self.ctx.backend.clone(), self.op.clone());
        let prefix = key_prefix(self.ctx.backend.as_ref());
        let snaps = self.snapshots.clone();
        let r = match self.ctx.client_rt.spawn(async move { run_op(op, &b, &eps, leader.as_deref(), &prefix, &snaps).await }).await {
            Ok(r) => r,
            Err(e) => Err(format!("the op task failed: {e}")),
        };
        self.record(r.map_err(Failed::Broke)).await
    }

    /// After a membership change, whom clients see; then the event and the progress line.
    /// The reason the run is invalid: the op failed (or, expected to be refused, failed
    /// otherwise than by etcd's refusal).
    pub(super) async fn record(&self, r: Result<crate::ops::Done, Failed>) -> Option<String> {
        if self.op.changes_membership() {
            let all = self.ctx.backend.endpoints();
            // On the client runtime: its namespace reaches the members.
            let a = all.clone();
            let list = self.ctx.client_rt.spawn(async move { crate::ops::membership::member_list(&a).await }).await.unwrap_or_else(|e| Err(e.to_string()));
            self.rosters.update(all, list.ok().map(|l| l.into_iter().filter(|m| m.learner).map(|m| m.name).collect()));
        }
        let refused = matches!(r, Err(Failed::Refused(_)));
        let (ok, detail, targets, took) = match r {
            Ok(d) => (true, d.detail, d.targets, d.took.as_secs_f64()),
            Err(f) => (false, f.detail().to_string(), Vec::new(), 0.0),
        };
        let name = self.op.name();
        // A restore's member and snapshot-restored events, then the op's own.
        for e in self.snapshots.take_events() {
            self.ctx.sink.emit(e);
        }
        let outcome = match (ok, refused, self.expect) {
            (true, _, OpExpect::Refused) => "done, NOT REFUSED as expected",
            (true, _, OpExpect::Done) => "done",
            (true, _, OpExpect::Interrupted) => "done, NOT CUT SHORT as meant",
            (false, _, OpExpect::Interrupted) => "cut short, as meant",
            (false, true, OpExpect::Refused) => "refused, as expected",
            (false, true, OpExpect::Done) => "REFUSED",
            (false, false, _) => "FAILED",
        };
        self.ctx.sink.say(&format!("{:>7.2}s  op {name} {outcome}: {detail}", self.clock.now_ns() as f64 / 1e9));
        let expect = (!self.expect.is_done()).then(|| self.expect.name().to_string());
        self.ctx.sink.emit(EventKind::Op { op: name.into(), targets, ok, detail: detail.clone(), duration_s: took, expect, refused });
        match (ok, refused, self.expect) {
            (true, _, OpExpect::Interrupted) => Some(format!(
                "op {name} at {} finished ({detail}) before the fault triggered by it could cut it short: start the fault sooner after it (a shorter `+ DELAY`) or give the op more to do",
                self.at
            )),
            (false, _, OpExpect::Interrupted) | (true, _, _) | (false, true, OpExpect::Refused) => None,
            _ => Some(format!("op {name} at {} failed: {detail}", self.at)),
        }
    }
}

/// Carry out one scheduled etcd operation, its targets resolved against the current leader.
async fn run_op(
    op: EtcdOp,
    backend: &Arc<dyn Backend>,
    eps: &[Endpoint],
    leader: Option<&str>,
    prefix: &str,
    snapshots: &crate::ops::Snapshots,
) -> Result<crate::ops::Done, String> {
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

/// `rolling-restart`: every member in turn (followers first, the leader last), each stopped
/// gracefully, given the new settings, started and waited for until it has caught up. A
/// member a process fault holds down takes the new settings without a start (it comes back
/// on them when the fault heals); a paused one is skipped (said in the detail). On a backend
/// whose restarted members get a new network namespace (Docker), the faults living in the
/// member's namespace or cgroups are healed before its restart and put back on after it, on
/// the same members, so they stay in force (each heal and injection is recorded).
pub(super) async fn rolling_restart(
    ctx: &Ctx,
    settings: &RestartSettings,
    eps: &[Endpoint],
    leader: Option<&str>,
    in_force: &mut InForce,
    invalid: &mut Vec<String>,
) -> Result<crate::ops::Done, Failed> {
    let start = Instant::now();
    let config = (!settings.is_empty()).then(|| cluster::MemberConfig { args: settings.args(), program: settings.program() });
    let names: Vec<String> = eps.iter().map(|e| e.member.clone()).collect();
    let mut said = Vec::new();
    let mut done = Vec::new();
    let how = match &config {
        None => String::new(),
        Some(c) => {
            let parts: Vec<String> =
                [c.args.join(" "), c.program.as_ref().map(|p| p.to_string()).unwrap_or_default()].into_iter().filter(|s| !s.is_empty()).collect();
            format!(" with {}", parts.join(", "))
        }
    };
    for m in crate::ops::restart::order(&names, leader) {
        let state = ctx.backend.state(&m);
        match (state, &config) {
            (cluster::MemberState::Running, _) => {}
            // Down (a kill holds it): it takes the new settings now and comes back on them when
            // the fault heals, as a machine upgraded while its etcd was down does.
            (cluster::MemberState::Down, Some(c)) => {
                let b = ctx.backend.clone();
                let (m2, c2) = (m.clone(), c.clone());
                tokio::task::spawn_blocking(move || b.membership_or_err().and_then(|x| x.configure(&m2, c2)))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| Failed::Broke(format!("{m} is down (a fault holds it) and could not take the new settings: {e}")))?;
                said.push(format!("{m} is down (a fault holds it): it starts{how} when it comes back"));
                done.push(m);
                continue;
            }
            _ => {
                said.push(format!("{m} skipped ({state:?}: a fault holds it)"));
                continue;
            }
        }
        let moved = if ctx.backend.restart_keeps_netns() { Vec::new() } else { take_off(ctx, &m, in_force, invalid).await? };
        let b = ctx.backend.clone();
        let eps2 = eps.to_vec();
        let (m2, c2) = (m.clone(), config.clone());
        let r = ctx.client_rt.spawn(async move { crate::ops::restart::restart_member(&b, &eps2, &m2, c2).await }).await.map_err(|e| e.to_string())?;
        put_back(ctx, &m, moved, in_force, invalid).await?;
        match r {
            Ok(line) => said.push(line),
            // The rest are not tried: an operator stops at the first member that will not run.
            Err(Failed::Refused(why)) => {
                let so_far = if done.is_empty() { String::new() } else { format!(" (after {}: {})", done.join(", "), said.join("; ")) };
                return Err(Failed::Refused(format!("rolling restart{how} stopped at {m}{so_far}: {why}")));
            }
            Err(e) => return Err(e),
        }
        done.push(m);
    }
    Ok(crate::ops::Done { detail: format!("{} member(s) moved one at a time{how}: {}", done.len(), said.join("; ")), targets: done, took: start.elapsed() })
}

/// Heal the faults living in `member`'s container before its restart; the faults to put
/// back on, pinned to the members they hit.
async fn take_off(ctx: &Ctx, member: &str, in_force: &mut InForce, invalid: &mut Vec<String>) -> Result<Vec<crate::schedule::Planned>, String> {
    let mut moved = Vec::new();
    while let Some(inj) = in_force.take_in_container_of(member) {
        let mut p = inj.planned.clone();
        p.pinned = Some(inj.record.targets.clone());
        heal_one(ctx, inj, invalid).await.map_err(|e| e.to_string())?;
        moved.push(p);
    }
    Ok(moved)
}

/// Put the faults taken off `member` back on after its restart (its new network namespace).
async fn put_back(ctx: &Ctx, member: &str, moved: Vec<crate::schedule::Planned>, in_force: &mut InForce, invalid: &mut Vec<String>) -> Result<(), String> {
    for p in moved {
        match in_force.inject(ctx, &p, None).await.map_err(|e| e.to_string())? {
            Ok((inj, began)) => {
                let placed = format!("back on {} after its restart (new network namespace)", inj.record.targets.join(","));
                in_force.put(ctx, inj, began, &placed);
            }
            Err(e) => invalid.push(format!("fault #{} could not be put back on {member} after its restart: {e}", p.id)),
        }
    }
    Ok(())
}

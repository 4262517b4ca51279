//! The faults in force during a run: injected on the schedule (each proven), healed on the
//! schedule or at the workload's end, retired by a snapshot-restore, and the members they
//! keep busy. The fault module does the work ([`fault::inject`], [`Injected::heal`]); this
//! file keeps the list and says what happened on the event stream.
//!
//! What depends on a fault's kind is asked of the kind ([`Home`](crate::fault::Home): where
//! it lives decides what a restart or a restore does to it); nothing here names a kind.

use super::Ctx;
use crate::error::Error;
use crate::events::{Event, EventKind};
use crate::fault::{self, Injected};
use crate::schedule::Planned;

/// The faults in force, in the order they took effect.
#[derive(Default)]
pub(super) struct InForce {
    active: Vec<Injected>,
}

impl InForce {
    /// The members the faults in force hold (a new fault picks others).
    pub(super) fn busy_members(&self) -> Vec<String> {
        self.active.iter().flat_map(|a| a.busy_members().to_vec()).collect()
    }

    /// The faults in force in words, for the progress display: `none`, or `kind targets; ...`.
    pub(super) fn describe(&self) -> String {
        if self.active.is_empty() {
            return "none".into();
        }
        self.active.iter().map(|a| format!("{} {}", a.planned.kind.name(), a.record.targets.join(","))).collect::<Vec<_>>().join("; ")
    }

    /// Inject `p` (off the runtime: faults block) against the members the faults in force
    /// leave free: the fault, with when its injection began (ns on the history's clock) and
    /// its record's `proven_t` set to when the proof was in. The outer error is the
    /// harness's (the task failed), the inner one the fault's.
    pub(super) async fn inject(&self, ctx: &Ctx, p: &Planned, leader: Option<String>) -> Result<Result<(Injected, i64), Error>, Error> {
        let busy = self.busy_members();
        let b = ctx.backend.clone();
        let pc = p.clone();
        let l = ctx.layers.clone();
        let began = ctx.sink.now_t().unwrap_or(0);
        let r = tokio::task::spawn_blocking(move || fault::inject(b.as_ref(), &l, &pc, leader.as_deref(), &busy))
            .await
            .map_err(|e| Error::harness(format!("fault task failed: {e}")))?;
        let proven = ctx.sink.now_t().unwrap_or(0);
        Ok(r.map(|(mut inj, evs)| {
            for e in evs {
                ctx.sink.emit(e);
            }
            inj.record.proven_t = Some(proven);
            (inj, began)
        }))
    }

    /// A scheduled start: inject, say so, record it. A fault that could not be shown to take
    /// effect makes the run invalid (the reason goes to `invalid`); any other error is the
    /// caller's to act on.
    /// When it is put in force, when its injection began (ns on the history's clock).
    pub(super) async fn start(&mut self, ctx: &Ctx, p: &Planned, leader: Option<String>, invalid: &mut Vec<String>) -> Result<Option<i64>, Error> {
        match self.inject(ctx, p, leader).await? {
            Ok((inj, began)) => {
                let placed = format!("on {} ({})", inj.record.targets.join(","), inj.record.mechanism);
                self.put(ctx, inj, began, &placed);
                Ok(Some(began))
            }
            Err(Error::Invalid(m)) => {
                ctx.sink.say(&format!("{:>7.2}s  {m}", ctx.sink.now_s()));
                ctx.sink.emit(EventKind::Note { message: m.clone() });
                invalid.push(m);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// A fault now in force: said on the progress display (`placed`: where and how), its
    /// `fault-start` event at `began` (when its injection began, ns), and on the list.
    pub(super) fn put(&mut self, ctx: &Ctx, inj: Injected, began: i64, placed: &str) {
        ctx.sink.say(&format!("{:>7.2}s  fault #{} {} {placed}: {}", ctx.sink.now_s(), inj.planned.id, inj.planned.kind, inj.record.proof));
        ctx.sink.record(Event { t: began, what: EventKind::FaultStart(inj.record.clone()) });
        self.active.push(inj);
    }

    /// A scheduled heal (nothing to do when the fault is no longer in force): whether it was.
    pub(super) async fn heal(&mut self, ctx: &Ctx, id: usize, invalid: &mut Vec<String>) -> Result<bool, Error> {
        match self.active.iter().position(|a| a.planned.id == id) {
            Some(pos) => heal_one(ctx, self.active.remove(pos), invalid).await.map(|()| true),
            None => Ok(false),
        }
    }

    /// The members a fault in force hits (none when it is not in force).
    pub(super) fn targets_of(&self, id: usize) -> Vec<String> {
        self.active.iter().find(|a| a.planned.id == id).map(|a| a.record.targets.clone()).unwrap_or_default()
    }

    /// Heal everything still in force, last first; a failure is an invalid reason.
    pub(super) async fn heal_all(&mut self, ctx: &Ctx, invalid: &mut Vec<String>) {
        while let Some(inj) = self.active.pop() {
            if let Err(e) = heal_one(ctx, inj, invalid).await {
                let m = format!("failed to heal a fault: {e}");
                ctx.sink.emit(EventKind::Note { message: m.clone() });
                invalid.push(m);
            }
        }
    }

    /// Take off the list the next fault in force on `member` that lives in its container
    /// (network namespace, cgroups): a restarted Docker member loses it.
    pub(super) fn take_in_container_of(&mut self, member: &str) -> Option<Injected> {
        let pos = self.active.iter().position(|a| a.home().lives_in_container() && a.record.targets.iter().any(|t| t == member))?;
        Some(self.active.remove(pos))
    }

    /// After a snapshot-restore, the process faults in force (kill, stop, pause) are over: the
    /// restore stopped every member and started it again on the restored data. They leave the
    /// list with a heal event saying so, and their scheduled heal finds nothing to do (a
    /// kill's heal would otherwise restart a member that runs already).
    pub(super) fn retire_process_faults(&mut self, ctx: &Ctx) {
        let (ended, kept): (Vec<Injected>, Vec<Injected>) = std::mem::take(&mut self.active).into_iter().partition(|a| a.home().holds_member());
        self.active = kept;
        for inj in ended {
            let mut rec = inj.record.clone();
            rec.proof = format!("ended by snapshot-restore: {} started again on the restored data", rec.targets.join(", "));
            ctx.sink.emit(EventKind::FaultHeal(rec));
        }
    }
}

/// Heal one fault (off the runtime), say so and record it. A heal that could not be proven
/// makes the run invalid (the reason goes to `invalid`).
pub(super) async fn heal_one(ctx: &Ctx, inj: Injected, invalid: &mut Vec<String>) -> Result<(), Error> {
    let (b, l) = (ctx.backend.clone(), ctx.layers.clone());
    let i2 = inj.clone();
    let r = tokio::task::spawn_blocking(move || i2.heal_timed(b.as_ref(), &l)).await.map_err(|e| Error::harness(format!("heal task failed: {e}")))?;
    match r {
        Ok((rec, evs, timed)) => {
            ctx.sink.say(&format!("{:>7.2}s  healed #{} {}: {}", ctx.sink.now_s(), inj.planned.id, inj.planned.kind, rec.proof));
            // Events the heal timed itself (a member watched after its start) go at their time.
            let (now, now_t) = (std::time::Instant::now(), ctx.sink.now_t());
            for (at, what) in timed {
                match now_t {
                    Some(t) => ctx.sink.record(Event { t: t - now.saturating_duration_since(at).as_nanos() as i64, what }),
                    None => ctx.sink.emit(what),
                }
            }
            for e in evs {
                ctx.sink.emit(e);
            }
            ctx.sink.emit(EventKind::FaultHeal(rec));
            Ok(())
        }
        Err(Error::Invalid(m)) => {
            ctx.sink.note(m.clone());
            invalid.push(m);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

//! The faults in force during a run: injected on the schedule (each proven), healed on the
//! schedule or at the workload's end, retired by a snapshot-restore, and the members they
//! keep busy. The fault module does the work ([`fault::inject`], [`Injected::heal`]); this
//! file keeps the list and says what happened on the event stream.
//!
//! The few decisions that depend on a fault's kind live here, each its own small function:
//! [`disk_layer_mode`], [`lives_in_container`], [`ended_by_restore`] and
//! [`preflight_mechanisms`].

use super::Ctx;
use crate::error::Error;
use crate::events::EventKind;
use crate::fault::{self, Injected};
use crate::scenario::{FaultKind, Scenario};
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
    /// leave free. The outer error is the harness's (the task failed), the inner one the
    /// fault's.
    pub(super) async fn inject(&self, ctx: &Ctx, p: &Planned, leader: Option<String>) -> Result<Result<Injected, Error>, Error> {
        let busy = self.busy_members();
        let b = ctx.backend.clone();
        let pc = p.clone();
        let r = tokio::task::spawn_blocking(move || fault::inject(b.as_ref(), &pc, leader.as_deref(), &busy))
            .await
            .map_err(|e| Error::harness(format!("fault task failed: {e}")))?;
        Ok(r.map(|(inj, evs)| {
            for e in evs {
                ctx.sink.emit(e);
            }
            inj
        }))
    }

    /// A scheduled start: inject, say so, record it. A fault that could not be shown to take
    /// effect makes the run invalid (the reason goes to `invalid`); any other error is the
    /// caller's to act on.
    pub(super) async fn start(&mut self, ctx: &Ctx, p: &Planned, leader: Option<String>, invalid: &mut Vec<String>) -> Result<(), Error> {
        match self.inject(ctx, p, leader).await? {
            Ok(inj) => {
                let placed = format!("on {} ({})", inj.record.targets.join(","), inj.record.mechanism);
                self.put(ctx, inj, &placed);
                Ok(())
            }
            Err(Error::Invalid(m)) => {
                ctx.sink.say(&format!("{:>7.2}s  {m}", ctx.sink.now_s()));
                ctx.sink.emit(EventKind::Note { message: m.clone() });
                invalid.push(m);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// A fault now in force: said on the progress display (`placed`: where and how), its
    /// `fault-start` event, and on the list.
    pub(super) fn put(&mut self, ctx: &Ctx, inj: Injected, placed: &str) {
        ctx.sink.say(&format!("{:>7.2}s  fault #{} {} {placed}: {}", ctx.sink.now_s(), inj.planned.id, inj.planned.kind, inj.record.proof));
        ctx.sink.emit(EventKind::FaultStart(inj.record.clone()));
        self.active.push(inj);
    }

    /// A scheduled heal (nothing to do when the fault is no longer in force).
    pub(super) async fn heal(&mut self, ctx: &Ctx, id: usize, invalid: &mut Vec<String>) -> Result<(), Error> {
        match self.active.iter().position(|a| a.planned.id == id) {
            Some(pos) => heal_one(ctx, self.active.remove(pos), invalid).await,
            None => Ok(()),
        }
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
        let pos = self.active.iter().position(|a| lives_in_container(&a.planned.kind) && a.record.targets.iter().any(|t| t == member))?;
        Some(self.active.remove(pos))
    }

    /// After a snapshot-restore, the process faults in force (kill, stop, pause) are over: the
    /// restore stopped every member and started it again on the restored data. They leave the
    /// list with a heal event saying so, and their scheduled heal finds nothing to do (a
    /// kill's heal would otherwise restart a member that runs already).
    pub(super) fn retire_process_faults(&mut self, ctx: &Ctx) {
        let (ended, kept): (Vec<Injected>, Vec<Injected>) = std::mem::take(&mut self.active).into_iter().partition(|a| ended_by_restore(&a.planned.kind));
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
    let b = ctx.backend.clone();
    let i2 = inj.clone();
    let r = tokio::task::spawn_blocking(move || i2.heal(b.as_ref())).await.map_err(|e| Error::harness(format!("heal task failed: {e}")))?;
    match r {
        Ok((rec, evs)) => {
            ctx.sink.say(&format!("{:>7.2}s  healed #{} {}: {}", ctx.sink.now_s(), inj.planned.id, inj.planned.kind, rec.proof));
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

/// Whether the members need the disk-fault layer over their data directories, and in which
/// mode: keeping unsynced writes in the layer's cache when a fault will drop them (a `kill`
/// with `lose_unsynced`, `fsync-lie`), writing through otherwise.
pub(super) fn disk_layer_mode(s: &Scenario) -> Option<crate::fault::disk::DurabilityMode> {
    use crate::fault::disk::DurabilityMode;
    if !s.faults.iter().any(|f| f.kind.needs_disk_layer()) {
        return None;
    }
    let losing = s.faults.iter().any(|f| matches!(f.kind, FaultKind::Kill { lose_unsynced: true } | FaultKind::FsyncLie));
    Some(if losing { DurabilityMode::LoseUnsynced } else { DurabilityMode::Durable })
}

/// Whether a fault lives in a member's network namespace or cgroups, which a Docker member
/// loses when its container restarts.
pub(super) fn lives_in_container(kind: &FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::Partition { .. }
            | FaultKind::Latency(_)
            | FaultKind::Bandwidth { .. }
            | FaultKind::CpuStress { .. }
            | FaultKind::CpuLimit { .. }
            | FaultKind::MemStress { .. }
    )
}

/// Whether a snapshot-restore ends a fault: the process faults (kill, stop, pause), since
/// the restore stops every member and starts it again.
pub(super) fn ended_by_restore(kind: &FaultKind) -> bool {
    matches!(kind, FaultKind::Kill { .. } | FaultKind::Stop | FaultKind::Pause)
}

/// A network fault its mechanism cannot do is refused before anything is built.
pub(super) fn preflight_mechanisms(s: &Scenario) -> Result<(), Error> {
    for f in &s.faults {
        if let FaultKind::Latency(shape) = &f.kind {
            crate::fault::net::choose(crate::fault::shaping::requested(shape.mechanism), &crate::fault::shaping::to_shape(shape, &[]))?;
        }
    }
    Ok(())
}

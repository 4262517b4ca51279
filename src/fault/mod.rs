//! Faults: a planned fault resolved to the members it hits when it starts, injected, proven
//! to have taken effect, and healed. What a fault kind is and does is [`api`]; each kind is
//! one file in [`kinds`], listed once in [`registry`]. The mechanisms the kinds use are
//! [`net`] (iptables grudges, shaping), [`disk`] (the FUSE layer), [`cpu`] (cgroups) and
//! [`process`] (signals); [`target`] resolves targets, [`probe`] gives network evidence.
//! Faults reach members only through the [`Backend`] and its
//! [`Member`](crate::cluster::Member) handles.

pub mod api;
pub mod cpu;
pub mod disk;
pub mod kinds;
pub mod net;
pub mod probe;
pub mod process;
pub mod registry;
pub mod target;

pub use api::{FaultKind, Home};

use crate::cluster::{Backend, MemberState};
use crate::error::Error;
use crate::events::{EventKind, FaultRecord};
use crate::schedule::Planned;
use api::{Active, Cx};
use disk::{DurabilityMode, Layers};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};
use target::Target;

/// A fault in force, with what is needed to heal it.
#[derive(Debug, Clone)]
pub struct Injected {
    /// The planned fault.
    pub planned: Planned,
    /// What was recorded at injection.
    pub record: FaultRecord,
    active: Arc<Mutex<Box<dyn Active>>>,
}

/// Resolve the planned fault's target now, inject it, and prove it took effect.
/// `busy` are members already under a process fault (not valid targets for another).
/// An error of kind [`Error::Invalid`] means the fault could not be shown to take effect.
pub fn inject(backend: &dyn Backend, layers: &Layers, planned: &Planned, leader: Option<&str>, busy: &[String]) -> Result<(Injected, Vec<EventKind>), Error> {
    let members = backend.members();
    let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    let kind = &planned.kind;
    let candidates: Vec<String> = if kind.hits_any_member() {
        names.clone()
    } else {
        names.iter().filter(|n| !busy.contains(n) && backend.state(n) == MemberState::Running).cloned().collect()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(planned.draw);
    let targets = match &planned.pinned {
        // A replay: the members the original run hit, by name.
        Some(pinned) => {
            if let Some(bad) = pinned.iter().find(|n| !candidates.contains(n)) {
                return Err(Error::Invalid(format!(
                    "fault #{} ({} pinned to {}) could not start: {bad} is not available now (not a member, down, or under another fault)",
                    planned.id,
                    planned.kind,
                    pinned.join(",")
                )));
            }
            pinned.clone()
        }
        None => target::resolve(planned.target, &names, &candidates, leader, &mut rng)
            .map_err(|m| Error::Invalid(format!("fault #{} ({} on {}) could not start: {m}", planned.id, planned.kind, planned.target)))?,
    };
    let what = format!("fault #{} ({} on {})", planned.id, planned.kind, targets.join(","));
    let label = format!("faultline-{}-f{}", backend.run_id(), planned.id);
    let mut cx = Cx { backend, layers, members, targets: targets.clone(), label, id: planned.id, draw: planned.draw, rng };
    let applied = kind.inject(&mut cx).map_err(|e| e.context(&what))?;
    let record = FaultRecord {
        id: planned.id,
        kind: kind.name().to_string(),
        target: planned.target.to_string(),
        targets,
        mechanism: applied.mechanism,
        params: applied.params.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        proof: applied.proof,
        proven_t: None,
    };
    Ok((Injected { planned: planned.clone(), record, active: Arc::new(Mutex::new(applied.active)) }, applied.events))
}

impl Injected {
    /// Members this fault holds (a process fault: not available to another one).
    pub fn busy_members(&self) -> &[String] {
        if self.planned.kind.home().holds_member() {
            &self.record.targets
        } else {
            &[]
        }
    }

    /// Where the fault lives while in force.
    pub fn home(&self) -> Home {
        self.planned.kind.home()
    }

    /// Undo the fault and prove it is undone: the record and the member events (those the
    /// heal timed itself last).
    pub fn heal(&self, backend: &dyn Backend, layers: &Layers) -> Result<(FaultRecord, Vec<EventKind>), Error> {
        let (rec, mut events, timed) = self.heal_timed(backend, layers)?;
        events.extend(timed.into_iter().map(|(_, e)| e));
        Ok((rec, events))
    }

    /// [`Injected::heal`], with the events the heal timed itself apart (see
    /// [`api::Healed::timed`]).
    #[allow(clippy::type_complexity)]
    pub fn heal_timed(&self, backend: &dyn Backend, layers: &Layers) -> Result<(FaultRecord, Vec<EventKind>, Vec<(std::time::Instant, EventKind)>), Error> {
        let mut rec = self.record.clone();
        rec.proven_t = None;
        let what = format!("healing fault #{} ({})", self.planned.id, self.planned.kind);
        let cx = Cx {
            backend,
            layers,
            members: backend.members(),
            targets: rec.targets.clone(),
            label: format!("faultline-{}-f{}", backend.run_id(), self.planned.id),
            id: self.planned.id,
            draw: self.planned.draw,
            rng: ChaCha8Rng::seed_from_u64(self.planned.draw),
        };
        let mut active = self.active.lock().map_err(|_| Error::Harness(format!("{what}: the fault's state was poisoned")))?;
        let healed = active.heal(&cx).map_err(|e| e.context(&what))?;
        rec.proof = healed.proof;
        Ok((rec, healed.events, healed.timed))
    }
}

/// Whether a target needs the current leader to resolve.
pub fn needs_leader(t: Target) -> bool {
    matches!(t, Target::Leader | Target::Follower)
}

/// Whether the members need the disk-fault layer over their data directories for these
/// faults, and in which mode: keeping unsynced writes in the layer's cache when a fault will
/// drop them (a `kill` with `lose_unsynced`, `fsync-lie`), writing through otherwise.
pub fn disk_layer_mode<'a>(faults: impl IntoIterator<Item = &'a FaultKind>) -> Option<DurabilityMode> {
    let modes: Vec<DurabilityMode> = faults.into_iter().filter_map(|f| f.disk_layer()).collect();
    if modes.is_empty() {
        None
    } else if modes.contains(&DurabilityMode::LoseUnsynced) {
        Some(DurabilityMode::LoseUnsynced)
    } else {
        Some(DurabilityMode::Durable)
    }
}

/// Check that this machine can do every one of these faults, before anything is built.
pub fn preflight<'a>(faults: impl IntoIterator<Item = &'a FaultKind>) -> Result<(), Error> {
    faults.into_iter().try_for_each(|f| f.preflight())
}

//! Faults: injecting a planned fault on the members its target resolves to, proving it took
//! effect, and healing it. Each kind lives in its own file ([`partition`], [`process`]);
//! [`target`] resolves targets, [`probe`] provides network evidence. Faults reach members
//! only through the [`Backend`] and its [`Member`](crate::cluster::Member) handles.

pub mod cpu;
pub mod disk;
pub mod net;
pub mod partition;
pub mod probe;
pub mod process;
pub mod shaping;
pub mod target;

use crate::cluster::{Backend, MemberState};
use crate::error::Error;
use crate::events::{EventKind, FaultRecord};
use crate::scenario::{FaultKind, Target};
use crate::schedule::Planned;
use process::ProcessFault;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// A fault in force, with what is needed to heal it.
#[derive(Debug, Clone)]
pub struct Injected {
    /// The planned fault.
    pub planned: Planned,
    /// What was recorded at injection.
    pub record: FaultRecord,
    active: Active,
}

#[derive(Debug, Clone)]
enum Active {
    Partition(partition::Applied),
    Process(ProcessFault),
    Cpu(std::sync::Arc<std::sync::Mutex<cpu::CpuFault>>),
    Shaped(shaping::Shaped),
}

/// Every fault kind built, with the mechanism it uses (for `faultline doctor`).
pub const ALL: [(&str, &str); 12] = [
    ("partition", "iptables DROP rules inside member namespaces (modes isolate, halves, ring, bridge, one-way)"),
    ("kill", "SIGKILL (Docker: the engine's kill), restart on the same data dir"),
    ("stop", "SIGTERM, restart on the same data dir"),
    ("pause", "SIGSTOP / SIGCONT (Docker: the engine's pause, cgroup freezer)"),
    ("latency", "tc netem in the member's namespace where the kernel has it, else faultline's NFQUEUE shaper (delay, jitter, loss)"),
    ("bandwidth", "tc tbf on the member's interface"),
    ("io-latency", "faultline's FUSE layer over the member's data directory: delay chosen calls"),
    ("io-error", "faultline's FUSE layer: fail chosen calls with an errno"),
    ("fsync-lie", "faultline's FUSE layer: fsync answers success and keeps the data in its cache (kill with lose_unsynced drops it)"),
    ("cpu-stress", "burner processes inside the member's cgroup"),
    ("cpu-limit", "the CPU quota of the member's cgroup"),
    ("mem-stress", "a process holding touched memory inside the member's memory cgroup"),
];

fn process_fault(kind: &FaultKind) -> Option<ProcessFault> {
    match kind {
        FaultKind::Kill { .. } => Some(ProcessFault::Kill),
        FaultKind::Stop => Some(ProcessFault::Stop),
        FaultKind::Pause => Some(ProcessFault::Pause),
        _ => None,
    }
}

/// Resolve the planned fault's target now, inject it, and prove it took effect.
/// `busy` are members already under a process fault (not valid targets for another).
/// An error of kind [`Error::Invalid`] means the fault could not be shown to take effect.
pub fn inject(backend: &dyn Backend, planned: &Planned, leader: Option<&str>, busy: &[String]) -> Result<(Injected, Vec<EventKind>), Error> {
    let members = backend.members();
    let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    let candidates: Vec<String> = match planned.kind {
        FaultKind::Partition { .. } => names.clone(),
        _ => names.iter().filter(|n| !busy.contains(n) && backend.state(n) == MemberState::Running).cloned().collect(),
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
    let mut record = FaultRecord {
        id: planned.id,
        kind: planned.kind.name().to_string(),
        target: planned.target.to_string(),
        targets: targets.clone(),
        mechanism: String::new(),
        params: Default::default(),
        proof: String::new(),
    };
    let label = format!("faultline-{}-f{}", backend.run_id(), planned.id);
    let what = format!("fault #{} ({} on {})", planned.id, planned.kind, targets.join(","));
    let (active, events) = match &planned.kind {
        FaultKind::Partition { mode } => {
            let mode = *mode;
            let g = partition::grudge(mode, &targets, &names, &mut rng);
            record.mechanism = "iptables".into();
            record.params.insert("mode".into(), mode.name().into());
            record.params.insert("grudge".into(), partition::describe(&g).into());
            let applied = partition::apply(&g, &members, &label)?;
            match partition::prove_cut(&g, &members) {
                Ok(p) => record.proof = p,
                Err(m) => {
                    let _ = partition::remove(&applied);
                    return Err(Error::Invalid(format!("{what} could not be shown to take effect: {m}")));
                }
            }
            (Active::Partition(applied), Vec::new())
        }
        FaultKind::CpuStress { .. } | FaultKind::CpuLimit { .. } | FaultKind::MemStress { .. } => {
            let hit: Vec<crate::cluster::Member> = members.iter().filter(|m| targets.contains(&m.name)).cloned().collect();
            let (f, proof) = match &planned.kind {
                FaultKind::CpuStress { workers, load } => {
                    record.mechanism = "cgroup-burners".into();
                    record.params.insert("workers".into(), (*workers).into());
                    record.params.insert("load".into(), load.to_string().into());
                    cpu::stress_cpu(backend.run_id(), &hit, *workers, load.0)
                }
                FaultKind::CpuLimit { cores } => {
                    record.mechanism = "cgroup-quota".into();
                    record.params.insert("cores".into(), (*cores).into());
                    cpu::limit_cpu(&hit, *cores)
                }
                FaultKind::MemStress { size } => {
                    record.mechanism = "cgroup-memory".into();
                    record.params.insert("size".into(), size.to_string().into());
                    cpu::stress_memory(backend.run_id(), &hit, size.0)
                }
                _ => unreachable!("matched above"),
            }
            .map_err(|e| e.context(&what))?;
            record.proof = proof;
            (Active::Cpu(std::sync::Arc::new(std::sync::Mutex::new(f))), Vec::new())
        }
        FaultKind::Latency(shape) => {
            let (sh, proof, mech) = shaping::inject_latency(&members, &targets, shape, &label).map_err(|e| e.context(&what))?;
            record.mechanism = mech.into();
            record.params.insert("delay".into(), shape.delay.to_string().into());
            record.params.insert("jitter".into(), shape.jitter.to_string().into());
            record.params.insert("loss".into(), shape.loss.to_string().into());
            record.proof = proof;
            (Active::Shaped(sh), Vec::new())
        }
        FaultKind::Bandwidth { rate } => {
            let (sh, proof) = shaping::inject_bandwidth(&members, &targets, *rate, &label).map_err(|e| e.context(&what))?;
            record.mechanism = "tbf".into();
            record.params.insert("rate".into(), rate.to_string().into());
            record.proof = proof;
            (Active::Shaped(sh), Vec::new())
        }
        FaultKind::IoLatency(d) | FaultKind::IoError(d) => {
            let (sh, proof) = shaping::inject_disk(backend, &targets, d, planned.id as u32, planned.draw).map_err(|e| e.context(&what))?;
            record.mechanism = "fuse".into();
            record.params.insert("ops".into(), d.ops.join(",").into());
            record.params.insert("percent".into(), d.percent.to_string().into());
            if let Some(p) = &d.path {
                record.params.insert("path".into(), p.clone().into());
            }
            if let Some(x) = d.delay {
                record.params.insert("delay".into(), x.to_string().into());
            }
            if let Some(x) = &d.errno {
                record.params.insert("errno".into(), x.clone().into());
            }
            record.proof = proof;
            (Active::Shaped(sh), Vec::new())
        }
        FaultKind::FsyncLie => {
            let (sh, proof) = shaping::inject_fsync_lie(backend, &targets).map_err(|e| e.context(&what))?;
            record.mechanism = "fuse".into();
            record.proof = proof;
            (Active::Shaped(sh), Vec::new())
        }
        kind => {
            let pf = process_fault(kind).ok_or_else(|| Error::Invalid(format!("{what}: fault kind {kind} is not built yet")))?;
            record.mechanism = backend.process_mechanism().into();
            let (mut proof, events) = process::inject(backend, pf, &targets).map_err(|e| e.context(&what))?;
            if let FaultKind::Kill { lose_unsynced: true } = kind {
                // The member is dead: what it wrote but did not fsync goes, as in a power loss.
                proof = format!("{proof}; {}", shaping::lose_unsynced(backend, &targets).map_err(|e| e.context(&what))?);
                record.params.insert("lose_unsynced".into(), true.into());
            }
            record.proof = proof;
            (Active::Process(pf), events)
        }
    };
    Ok((Injected { planned: planned.clone(), record, active }, events))
}

impl Injected {
    /// Members this fault holds under a process fault (not available to another one).
    pub fn busy_members(&self) -> &[String] {
        match self.active {
            Active::Process(_) => &self.record.targets,
            Active::Partition(_) | Active::Cpu(_) | Active::Shaped(_) => &[],
        }
    }

    /// Undo the fault and prove it is undone.
    pub fn heal(&self, backend: &dyn Backend) -> Result<(FaultRecord, Vec<EventKind>), Error> {
        let mut rec = self.record.clone();
        let what = format!("healing fault #{} ({})", self.planned.id, self.planned.kind);
        let events = match &self.active {
            Active::Partition(applied) => {
                partition::remove(applied).map_err(|e| e.context(&what))?;
                rec.proof =
                    partition::prove_healed(&applied.grudge, &backend.members(), Duration::from_secs(3)).map_err(|m| Error::Invalid(format!("{what}: {m}")))?;
                Vec::new()
            }
            Active::Process(pf) => {
                let (proof, events) = process::heal(backend, *pf, &rec.targets).map_err(|e| e.context(&what))?;
                rec.proof = proof;
                events
            }
            Active::Shaped(sh) => {
                rec.proof = shaping::heal(backend, sh).map_err(|e| e.context(&what))?;
                Vec::new()
            }
            Active::Cpu(f) => {
                let mut f = f.lock().map_err(|_| Error::Harness(format!("{what}: the fault's state was poisoned")))?;
                rec.proof = f.heal().map_err(|e| e.context(&what))?;
                Vec::new()
            }
        };
        Ok((rec, events))
    }
}

/// Whether a target needs the current leader to resolve.
pub fn needs_leader(t: Target) -> bool {
    matches!(t, Target::Leader | Target::Follower)
}

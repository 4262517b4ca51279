//! The fault schedule as pure data, computed from the scenario and the seed before the run
//! starts (Jepsen's pure generators): fixed faults with their repetitions (`every:`) and the
//! nemesis's random draws. The same seed gives the same schedule: kinds, times, modes and the
//! seed each fault uses to choose its targets when it starts.

use crate::scenario::trigger::{Until, When};
use crate::scenario::{FaultKind, NemesisKind, Scenario, Target};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Duration;

/// One fault to inject, with its time and the seed of its target choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// Position in the schedule (also the fault id in `events.jsonl`).
    pub id: usize,
    /// Its `id:` in the scenario, which triggers name.
    pub name: Option<String>,
    /// When it starts.
    pub start: Start,
    /// When it heals.
    pub end: End,
    /// What it does.
    pub kind: FaultKind,
    /// Who it hits (resolved when it starts).
    pub target: Target,
    /// Where it came from: `faults[0]`, `faults[1] #2` (repetition), `nemesis`.
    pub origin: String,
    /// Seed for the choices made when it starts (random members, halves).
    pub draw: u64,
    /// A replay's members for it, by name, as the original run resolved its target; `None`
    /// resolves the target when it starts.
    pub pinned: Option<Vec<String>>,
}

/// When a planned fault starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// At this offset from workload start.
    At(Duration),
    /// When `on` happens, waiting from `armed` for at most `within` (`None`: to the
    /// workload's end).
    When {
        /// The trigger.
        on: When,
        /// When it starts waiting.
        armed: Duration,
        /// How long it waits.
        within: Option<Duration>,
    },
}

/// When a planned fault heals.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// At this offset from workload start (a fault started `at:` with `for:`).
    At(Duration),
    /// This long after it started (a triggered fault with `for:`).
    After(Duration),
    /// When this comes, waiting from its start for at most `within` (`None`: to the
    /// workload's end).
    Until {
        /// The condition.
        on: Until,
        /// How long it waits.
        within: Option<Duration>,
    },
    /// With everything else in force, when the workload ends.
    WorkloadEnd,
}

impl Planned {
    /// When it starts, or when it starts waiting for its trigger.
    pub fn from(&self) -> Duration {
        match &self.start {
            Start::At(t) => *t,
            Start::When { armed, .. } => *armed,
        }
    }

    /// The heal time, when it is fixed before the run.
    pub fn heal_at(&self) -> Option<Duration> {
        match self.end {
            End::At(t) => Some(t),
            _ => None,
        }
    }

    /// Whether it waits for something (a trigger, a condition) rather than a time.
    pub fn is_triggered(&self) -> bool {
        matches!(self.start, Start::When { .. }) || matches!(self.end, End::Until { .. })
    }
}

impl Serialize for Planned {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let secs = |d: &Duration| d.as_secs_f64();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &self.id)?;
        if let Some(n) = &self.name {
            m.serialize_entry("name", n)?;
        }
        match &self.start {
            Start::At(t) => m.serialize_entry("at", &secs(t))?,
            Start::When { on, armed, within } => {
                m.serialize_entry("when", on)?;
                m.serialize_entry("armed", &secs(armed))?;
                m.serialize_entry("when_within", &within.as_ref().map(secs))?;
            }
        }
        match &self.end {
            End::At(t) => m.serialize_entry("heal_at", &secs(t))?,
            End::After(d) => m.serialize_entry("for", &secs(d))?,
            End::Until { on, within } => {
                m.serialize_entry("until", on)?;
                m.serialize_entry("until_within", &within.as_ref().map(secs))?;
            }
            End::WorkloadEnd => m.serialize_entry("heal_at", &None::<f64>)?,
        }
        m.serialize_entry("kind", &self.kind)?;
        m.serialize_entry("target", &self.target)?;
        m.serialize_entry("origin", &self.origin)?;
        m.serialize_entry("draw", &self.draw)?;
        if let Some(p) = &self.pinned {
            m.serialize_entry("pinned", p)?;
        }
        m.end()
    }
}

/// The most fault instances a schedule may hold (fixed faults with their repetitions and the
/// nemesis's draws together): past this a schedule is a mistake, not a test, and expanding it
/// would take the memory of the machine.
pub const MAX_INSTANCES: u64 = 10_000;

/// The shortest `every` (a fixed fault's repetition) and nemesis `interval`: the time one
/// fault takes to be injected, proven, healed and proven healed here, with its worst case.
/// Measured from recorded runs on this machine (debug and release builds): a kill's restart
/// is proven up to 1.0 s after its heal time, a partition's injection probes take 0.35-0.43 s
/// and its heal probes 0.18-0.40 s, cpu-stress's proof 0.43-0.50 s, a disk rule's proof waits
/// up to 1 s (`io_rule.rs`); shorter repetitions would start before the last one is healed.
pub const MIN_REPEAT: Duration = Duration::from_secs(1);

/// How many times a fault starting `at` and repeating every `every` starts before `end` (the
/// same count [`plan`] expands to, computed without expanding it).
pub fn repetitions(at: Duration, every: Option<Duration>, end: Duration) -> u64 {
    if at >= end {
        return 0;
    }
    match every {
        Some(e) if !e.is_zero() => {
            let (span, e) = ((end - at).as_nanos(), e.as_nanos());
            u64::try_from(span.div_ceil(e)).unwrap_or(u64::MAX)
        }
        _ => 1,
    }
}

/// The whole schedule, sorted by start time.
pub fn plan(s: &Scenario, seed: u64) -> Vec<Planned> {
    let end = s.workload.duration.0;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_f417);
    let mut out: Vec<Planned> = Vec::new();
    for (i, f) in s.faults.iter().enumerate() {
        let mut at = f.at.0;
        let mut rep = 0;
        loop {
            let within = f.within.map(|w| w.0);
            let start = match &f.when {
                Some(on) => Start::When { on: on.clone(), armed: at, within },
                None => Start::At(at),
            };
            let end_ = match (&f.until, f.for_, &f.when) {
                (Some(on), _, _) => End::Until { on: on.clone(), within },
                (None, Some(d), Some(_)) => End::After(d.0),
                (None, Some(d), None) => End::At((at + d.0).min(end)),
                (None, None, _) => End::WorkloadEnd,
            };
            out.push(Planned {
                id: 0,
                name: f.id.clone(),
                start,
                end: end_,
                kind: f.kind.clone(),
                target: f.target,
                origin: if rep == 0 { format!("faults[{i}]") } else { format!("faults[{i}] #{}", rep + 1) },
                draw: rng.random(),
                pinned: None,
            });
            match f.every {
                Some(every) if at + every.0 < end => {
                    at += every.0;
                    rep += 1;
                }
                _ => break,
            }
        }
    }
    if let Some(n) = &s.nemesis {
        let mut at = n.start.0;
        while at < end {
            // The draws in this order (kind, the kind's own, target) keep old seeds' schedules.
            let kind = match &n.kinds[rng.random_range(0..n.kinds.len())] {
                NemesisKind::Draw(_, draw) => draw(&mut rng, s.cluster.size),
                NemesisKind::Given(f) => f.clone(),
            };
            let target = kind.nemesis_target(n.targets[rng.random_range(0..n.targets.len())]);
            out.push(Planned {
                id: 0,
                name: None,
                start: Start::At(at),
                end: End::At((at + n.for_.0).min(end)),
                kind,
                target,
                origin: "nemesis".into(),
                draw: rng.random(),
                pinned: None,
            });
            at += n.interval.0;
        }
    }
    out.sort_by_key(|p| p.from());
    for (i, p) in out.iter_mut().enumerate() {
        p.id = i;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::kinds::partition::{Partition, PartitionMode};
    use crate::scenario::parse;

    const NEMESIS: &str = "name: x\nworkload: {duration: 60s}\nnemesis: {kinds: [partition, kill, pause], interval: 7s, for: 3s}\nfaults:\n  - {at: 5s, for: 2s, every: 20s, kind: kill, target: random}\n";

    #[test]
    fn same_seed_same_schedule_other_seed_other_schedule() {
        let s = parse(NEMESIS, "s").unwrap();
        let a = plan(&s, 42);
        let b = plan(&s, 42);
        let c = plan(&s, 43);
        assert_eq!(a, b);
        assert_ne!(a, c);
        // 60s workload: nemesis at 7,14,...,56 (8 faults) + kill at 5, 25, 45.
        assert_eq!(a.len(), 8 + 3);
        assert!(a.windows(2).all(|w| w[0].from() <= w[1].from()));
        assert!(a.iter().enumerate().all(|(i, p)| p.id == i));
    }

    #[test]
    fn repetitions_and_heals_stay_inside_the_workload() {
        let s = parse("name: x\nworkload: {duration: 30s}\nfaults:\n  - {at: 10s, for: 8s, every: 12s, kind: pause, target: follower}\n", "s").unwrap();
        let p = plan(&s, 1);
        assert_eq!(p.iter().map(|p| p.from().as_secs()).collect::<Vec<_>>(), vec![10, 22]);
        assert_eq!(p[1].heal_at(), Some(Duration::from_secs(30)));
        assert_eq!(p[0].origin, "faults[0]");
        assert_eq!(p[1].origin, "faults[0] #2");
    }

    #[test]
    fn repetitions_count_what_plan_expands_to() {
        let secs = Duration::from_secs;
        assert_eq!(repetitions(secs(10), Some(secs(12)), secs(30)), 2);
        assert_eq!(repetitions(secs(5), Some(secs(20)), secs(60)), 3);
        assert_eq!(repetitions(secs(0), Some(secs(10)), secs(30)), 3);
        assert_eq!(repetitions(secs(5), None, secs(60)), 1);
        assert_eq!(repetitions(secs(60), None, secs(60)), 0);
        assert_eq!(repetitions(secs(0), Some(Duration::from_nanos(1)), secs(7 * 86400)), 604_800_000_000_000);
        let s = parse(NEMESIS, "s").unwrap();
        let n = s.nemesis.as_ref().unwrap();
        let fixed: u64 = s.faults.iter().map(|f| repetitions(f.at.0, f.every.map(|e| e.0), s.workload.duration.0)).sum();
        let drawn = repetitions(n.start.0, Some(n.interval.0), s.workload.duration.0);
        assert_eq!((fixed + drawn) as usize, plan(&s, 1).len());
    }

    #[test]
    fn nemesis_partitions_use_modes_the_cluster_size_allows() {
        let s = parse("name: x\ncluster: {size: 3}\nworkload: {duration: 600s}\nnemesis: {kinds: [partition], interval: 2s, for: 1s}\n", "s").unwrap();
        for p in plan(&s, 9) {
            let Some(part) = p.kind.downcast::<Partition>() else { panic!("unexpected {:?}", p.kind) };
            assert_ne!(part.mode, PartitionMode::Ring, "a ring needs 4 members");
            if !part.mode.uses_target() {
                assert_eq!(p.target, Target::All);
            }
        }
    }
}

//! The fault schedule as pure data, computed from the scenario and the seed before the run
//! starts (Jepsen's pure generators): fixed faults with their repetitions (`every:`) and the
//! nemesis's random draws. The same seed gives the same schedule: kinds, times, modes and the
//! seed each fault uses to choose its targets when it starts.

use crate::scenario::{FaultKind, NemesisKind, Scenario, Target};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Duration;

/// One fault to inject, with its time and the seed of its target choice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    /// Position in the schedule (also the fault id in `events.jsonl`).
    pub id: usize,
    /// Offset from workload start.
    #[serde(serialize_with = "ser_secs")]
    pub at: Duration,
    /// When it heals; `None` = at the end of the workload.
    #[serde(serialize_with = "ser_opt_secs")]
    pub heal_at: Option<Duration>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Vec<String>>,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn ser_opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
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
            let heal_at = f.for_.map(|d| (at + d.0).min(end));
            out.push(Planned {
                id: 0,
                at,
                heal_at,
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
            out.push(Planned { id: 0, at, heal_at: Some((at + n.for_.0).min(end)), kind, target, origin: "nemesis".into(), draw: rng.random(), pinned: None });
            at += n.interval.0;
        }
    }
    out.sort_by_key(|p| p.at);
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
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(a.iter().enumerate().all(|(i, p)| p.id == i));
    }

    #[test]
    fn repetitions_and_heals_stay_inside_the_workload() {
        let s = parse("name: x\nworkload: {duration: 30s}\nfaults:\n  - {at: 10s, for: 8s, every: 12s, kind: pause, target: follower}\n", "s").unwrap();
        let p = plan(&s, 1);
        assert_eq!(p.iter().map(|p| p.at.as_secs()).collect::<Vec<_>>(), vec![10, 22]);
        assert_eq!(p[1].heal_at, Some(Duration::from_secs(30)));
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

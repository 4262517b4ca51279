//! `partition`: drop packets between members — the targets on one side and everyone else
//! on the other (`isolate`), a random minority and majority (`halves`), Jepsen's majorities
//! ring (`ring`), two halves sharing one member (`bridge`), or one direction only
//! (`one-way`). The grudge (who drops whom) is computed here from the mode; the mechanism
//! (iptables DROP rules on INPUT inside each member's namespace, proven by probes) is
//! [`grudge`](crate::fault::net::grudge).

use crate::error::{suggest, Error};
use crate::fault::api::{params_of, Active, Applied, Cx, Fault, FaultKind, Healed, Home, Kind, ParamError, Params};
use crate::fault::net::grudge::{self, Grudge};
use crate::fault::target::Target;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Duration;

/// The registry entry.
pub const KIND: Kind = Kind {
    name: "partition",
    mechanism: "iptables DROP rules inside member namespaces (modes isolate, halves, ring, bridge, one-way)",
    params: &["mode"],
    parse,
    draw: Some(draw),
};

/// How a partition splits the members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionMode {
    /// The targets on one side, everyone else on the other.
    Isolate,
    /// A random minority and majority.
    Halves,
    /// Each member hears only its two neighbours (Jepsen's majorities ring).
    Ring,
    /// Two halves that share one member.
    Bridge,
    /// The other members stop hearing the targets; the targets still hear them.
    OneWay,
}

impl PartitionMode {
    /// All modes, for help and suggestions.
    pub const ALL: [&'static str; 5] = ["isolate", "halves", "ring", "bridge", "one-way"];

    /// The mode's name as written in a scenario.
    pub fn name(self) -> &'static str {
        match self {
            PartitionMode::Isolate => "isolate",
            PartitionMode::Halves => "halves",
            PartitionMode::Ring => "ring",
            PartitionMode::Bridge => "bridge",
            PartitionMode::OneWay => "one-way",
        }
    }

    /// Parse a mode's name.
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "isolate" => PartitionMode::Isolate,
            "halves" => PartitionMode::Halves,
            "ring" => PartitionMode::Ring,
            "bridge" => PartitionMode::Bridge,
            "one-way" => PartitionMode::OneWay,
            other => return Err(format!("unknown partition mode `{other}`{}: use {}", suggest(other, &Self::ALL), Self::ALL.join(", "))),
        })
    }

    /// Whether the mode uses the fault's `target` (the others draw their own sides).
    pub fn uses_target(self) -> bool {
        matches!(self, PartitionMode::Isolate | PartitionMode::OneWay)
    }

    /// Whether a cluster of `size` members has enough of them for this mode.
    pub fn fits(self, size: usize) -> bool {
        size >= 2 && !(self == PartitionMode::Ring && size < 4) && !(self == PartitionMode::Bridge && size < 3)
    }

    /// The modes usable on a cluster of `size` members (what the nemesis draws from).
    pub fn usable(size: usize) -> Vec<PartitionMode> {
        let mut m = vec![PartitionMode::Isolate, PartitionMode::Halves, PartitionMode::OneWay];
        if size >= 3 {
            m.push(PartitionMode::Bridge);
        }
        if size >= 4 {
            m.push(PartitionMode::Ring);
        }
        m
    }
}

/// A partition's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Partition {
    /// How the members are split.
    pub mode: PartitionMode,
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let mode = PartitionMode::parse(&p.or("mode", "isolate".to_string())?)?;
    if !mode.fits(p.size()) {
        return p.fail(format!("a `{}` partition needs more members than the {} of this cluster", mode.name(), p.size()));
    }
    Ok(FaultKind::new(Partition { mode }))
}

fn draw(rng: &mut ChaCha8Rng, size: usize) -> FaultKind {
    let modes = PartitionMode::usable(size);
    FaultKind::new(Partition { mode: modes[rng.random_range(0..modes.len())] })
}

impl Fault for Partition {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        format!("partition ({})", self.mode.name())
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        params_of(self)
    }
    fn home(&self) -> Home {
        Home::Netns
    }
    fn default_target(&self) -> Option<Target> {
        (!self.mode.uses_target()).then_some(Target::All)
    }
    fn check_target(&self, target: Target) -> Result<(), String> {
        if self.mode.uses_target() && target == Target::All {
            return Err(format!("a `{}` partition of `all` members cuts nobody off: target leader, follower, minority or a member", self.mode.name()));
        }
        Ok(())
    }
    fn nemesis_target(&self, target: Target) -> Target {
        match target {
            _ if !self.mode.uses_target() => Target::All,
            Target::All => Target::Minority,
            t => t,
        }
    }
    fn hits_any_member(&self) -> bool {
        true
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        let g = cut_for(self.mode, &cx.targets, &cx.names(), &mut cx.rng);
        let applied = grudge::apply(&g, &cx.members, &cx.label)?;
        let proof = match grudge::prove_cut(&g, &cx.members) {
            Ok(p) => p,
            Err(m) => {
                let _ = grudge::remove(&applied);
                return Err(Error::Invalid(format!("it could not be shown to take effect: {m}")));
            }
        };
        Ok(Applied::new(InForce(applied), "iptables", proof).param("mode", self.mode.name()).param("grudge", grudge::describe(&g)))
    }
}

/// A partition in force.
#[derive(Debug)]
struct InForce(grudge::Applied);

impl Active for InForce {
    fn heal(&mut self, cx: &Cx<'_>) -> Result<Healed, Error> {
        grudge::remove(&self.0)?;
        grudge::prove_healed(&self.0.grudge, &cx.backend.members(), Duration::from_secs(3)).map(Healed::proof).map_err(Error::Invalid)
    }
}

/// Cut every link between `a` and `b`, both ways.
fn cut(g: &mut Grudge, a: &[String], b: &[String]) {
    for x in a {
        for y in b {
            g.entry(x.clone()).or_default().insert(y.clone());
            g.entry(y.clone()).or_default().insert(x.clone());
        }
    }
}

/// The grudge for a partition `mode` with resolved `targets` among `members`.
pub fn cut_for(mode: PartitionMode, targets: &[String], members: &[String], rng: &mut ChaCha8Rng) -> Grudge {
    let mut g = Grudge::new();
    let rest: Vec<String> = members.iter().filter(|m| !targets.contains(m)).cloned().collect();
    let mut shuffled = members.to_vec();
    shuffled.shuffle(rng);
    let n = members.len();
    match mode {
        PartitionMode::Isolate => cut(&mut g, targets, &rest),
        PartitionMode::OneWay => {
            // The others stop hearing the targets; the targets still hear them.
            for r in &rest {
                for t in targets {
                    g.entry(r.clone()).or_default().insert(t.clone());
                }
            }
        }
        PartitionMode::Halves => {
            let (a, b) = shuffled.split_at(n / 2);
            cut(&mut g, a, b);
        }
        PartitionMode::Bridge => {
            // Two sides that share one member (the bridge), which hears everyone.
            let bridge = n / 2;
            let (a, b) = (&shuffled[..bridge], &shuffled[bridge + 1..]);
            cut(&mut g, a, b);
        }
        PartitionMode::Ring => {
            // Symmetric ring: each member keeps its nearest neighbours, enough to see a
            // majority (itself included), and no two members see the same majority.
            let majority = n / 2 + 1;
            let d = (majority - 1).div_ceil(2);
            for i in 0..n {
                for j in 0..n {
                    let dist = (i as isize - j as isize).rem_euclid(n as isize) as usize;
                    let dist = dist.min(n - dist);
                    if dist > d {
                        g.entry(shuffled[i].clone()).or_default().insert(shuffled[j].clone());
                    }
                }
            }
        }
    }
    g.retain(|_, v| !v.is_empty());
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::net::grudge::describe;
    use rand::SeedableRng;
    use std::collections::BTreeSet;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn connected(g: &Grudge, a: &str, b: &str) -> bool {
        !g.get(a).is_some_and(|s| s.contains(b)) && !g.get(b).is_some_and(|s| s.contains(a))
    }

    #[test]
    fn isolate_cuts_the_target_from_everyone_both_ways() {
        let m = names(3);
        let g = cut_for(PartitionMode::Isolate, &["n1".into()], &m, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(describe(&g), "n1 drops n2,n3; n2 drops n1; n3 drops n1");
        assert!(connected(&g, "n2", "n3"));
    }

    #[test]
    fn one_way_only_the_others_stop_hearing_the_target() {
        let g = cut_for(PartitionMode::OneWay, &["n2".into()], &names(3), &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(describe(&g), "n1 drops n2; n3 drops n2");
    }

    #[test]
    fn halves_bridge_and_ring_have_their_shapes() {
        let m = names(5);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let h = cut_for(PartitionMode::Halves, &[], &m, &mut rng);
        let cut_from: Vec<usize> = m.iter().map(|x| h.get(x).map_or(0, |s| s.len())).collect();
        let mut sorted = cut_from.clone();
        sorted.sort();
        assert_eq!(sorted, vec![2, 2, 2, 3, 3], "a 2|3 split: {h:?}");

        let b = cut_for(PartitionMode::Bridge, &[], &m, &mut rng);
        assert_eq!(m.iter().filter(|x| !b.contains_key(*x)).count(), 1, "exactly one bridge member hears all: {b:?}");

        let r = cut_for(PartitionMode::Ring, &[], &m, &mut rng);
        for x in &m {
            let heard = m.len() - r.get(x).map_or(0, |s| s.len());
            assert_eq!(heard, 3, "each member of a 5-ring sees a majority (3), {x}: {r:?}");
        }
        let majorities: BTreeSet<Vec<String>> = m.iter().map(|x| m.iter().filter(|y| !r.get(x).is_some_and(|s| s.contains(*y))).cloned().collect()).collect();
        assert_eq!(majorities.len(), 5, "no two members see the same majority");
    }
}

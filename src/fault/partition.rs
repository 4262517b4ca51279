//! Partitions: a grudge (which member drops packets from which) computed from the mode,
//! applied as iptables DROP rules on INPUT inside each member's own namespace, labelled with
//! the run and fault, proven with probes, and removed rule by rule on heal.

use super::probe::{probe_all, Reach};
use crate::cluster::{netns, Member, PEER_PORT};
use crate::error::Error;
use crate::scenario::PartitionMode;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

/// For each member, the members whose packets it drops.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

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
pub fn grudge(mode: PartitionMode, targets: &[String], members: &[String], rng: &mut ChaCha8Rng) -> Grudge {
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

/// Describe a grudge in words: `n1 drops n2,n3; n2 drops n1`.
pub fn describe(g: &Grudge) -> String {
    g.iter().map(|(k, v)| format!("{k} drops {}", v.iter().cloned().collect::<Vec<_>>().join(","))).collect::<Vec<_>>().join("; ")
}

/// A partition in force: the rules it added, so heal removes exactly those.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The grudge.
    pub grudge: Grudge,
    rules: Vec<(std::path::PathBuf, Vec<String>)>,
}

fn rule(src: &Member, label: &str) -> Vec<String> {
    ["INPUT", "-s", &format!("{}/32", src.ip), "-m", "comment", "--comment", label, "-j", "DROP"].iter().map(|s| s.to_string()).collect()
}

fn by_name<'a>(members: &'a [Member], name: &str) -> Result<&'a Member, Error> {
    members.iter().find(|m| m.name == name).ok_or_else(|| Error::Harness(format!("no member {name}")))
}

/// Add the rules of a grudge. On failure, the rules added so far are removed.
pub fn apply(g: &Grudge, members: &[Member], label: &str) -> Result<Applied, Error> {
    let mut applied = Applied { grudge: g.clone(), rules: Vec::new() };
    for (dst, srcs) in g {
        let d = by_name(members, dst)?;
        for s in srcs {
            let r = rule(by_name(members, s)?, label);
            let mut args: Vec<&str> = vec!["-w", "-A"];
            args.extend(r.iter().map(String::as_str));
            if let Err(e) = netns::exec(&d.netns, "iptables", &args) {
                let _ = remove(&applied);
                return Err(e.context(format!("failed to partition {dst} from {s}")));
            }
            applied.rules.push((d.netns.clone(), r));
        }
    }
    Ok(applied)
}

/// Remove the rules a partition added.
pub fn remove(a: &Applied) -> Result<(), Error> {
    let mut first_err = None;
    for (ns, r) in &a.rules {
        let mut args: Vec<&str> = vec!["-w", "-D"];
        args.extend(r.iter().map(String::as_str));
        if let Err(e) = netns::exec(ns, "iptables", &args) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Remove every rule whose comment starts with `prefix` from the filter table of the
/// namespace at `ns` (what a run left in a namespace it does not own, e.g. an attached
/// container's); returns how many were removed.
pub fn remove_labelled(ns: &std::path::Path, prefix: &str) -> Result<usize, Error> {
    let saved = netns::exec(ns, "iptables-save", &["-t", "filter"])?;
    let mut n = 0;
    for line in saved.lines() {
        let Some(rest) = line.strip_prefix("-A ") else { continue };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let labelled = words.windows(2).any(|w| w[0] == "--comment" && w[1].trim_matches('"').starts_with(prefix));
        if !labelled {
            continue;
        }
        let mut args = vec!["-w", "-D"];
        args.extend(words.iter().map(|w| w.trim_matches('"')));
        netns::exec(ns, "iptables", &args)?;
        n += 1;
    }
    Ok(n)
}

/// The links a grudge cuts, as (prober's namespace, address it cannot reach).
fn links(g: &Grudge, members: &[Member]) -> Result<Vec<(String, String, std::path::PathBuf, SocketAddr)>, Error> {
    let mut out = Vec::new();
    for (dst, srcs) in g {
        let d = by_name(members, dst)?;
        for s in srcs {
            let src = by_name(members, s)?;
            out.push((s.clone(), dst.clone(), src.netns.clone(), SocketAddr::new(d.ip.into(), PEER_PORT)));
        }
    }
    Ok(out)
}

/// Show the partition holds: every cut link is blocked. Returns the proof in words.
pub fn prove_cut(g: &Grudge, members: &[Member]) -> Result<String, String> {
    let l = links(g, members).map_err(|e| e.to_string())?;
    let probes: Vec<_> = l.iter().map(|(_, _, ns, to)| (ns.clone(), *to)).collect();
    let got = probe_all(&probes, Duration::from_millis(300)).map_err(|e| e.to_string())?;
    let open: Vec<String> = l.iter().zip(&got).filter(|(_, r)| **r == Reach::Crossed).map(|((s, d, ..), _)| format!("{s}->{d}")).collect();
    if open.is_empty() {
        Ok(format!("{} probe(s) blocked: TCP connects to the peer port got no answer across every cut link", got.len()))
    } else {
        Err(format!("probes still crossed {} after the rules were added", open.join(", ")))
    }
}

/// Show the partition is gone: every formerly cut link answers again (retried for up to
/// `within`, as a link may take a moment).
pub fn prove_healed(g: &Grudge, members: &[Member], within: Duration) -> Result<String, String> {
    let l = links(g, members).map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + within;
    loop {
        let probes: Vec<_> = l.iter().map(|(_, _, ns, to)| (ns.clone(), *to)).collect();
        let got = probe_all(&probes, Duration::from_millis(300)).map_err(|e| e.to_string())?;
        let blocked: Vec<String> = l.iter().zip(&got).filter(|(_, r)| **r == Reach::Blocked).map(|((s, d, ..), _)| format!("{s}->{d}")).collect();
        if blocked.is_empty() {
            return Ok(format!("{} probe(s) crossed every formerly cut link", got.len()));
        }
        if std::time::Instant::now() >= deadline {
            return Err(format!("links still blocked after heal: {}", blocked.join(", ")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn connected(g: &Grudge, a: &str, b: &str) -> bool {
        !g.get(a).is_some_and(|s| s.contains(b)) && !g.get(b).is_some_and(|s| s.contains(a))
    }

    #[test]
    fn isolate_cuts_the_target_from_everyone_both_ways() {
        let m = names(3);
        let g = grudge(PartitionMode::Isolate, &["n1".into()], &m, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(describe(&g), "n1 drops n2,n3; n2 drops n1; n3 drops n1");
        assert!(connected(&g, "n2", "n3"));
    }

    #[test]
    fn one_way_only_the_others_stop_hearing_the_target() {
        let g = grudge(PartitionMode::OneWay, &["n2".into()], &names(3), &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(describe(&g), "n1 drops n2; n3 drops n2");
    }

    #[test]
    fn halves_bridge_and_ring_have_their_shapes() {
        let m = names(5);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let h = grudge(PartitionMode::Halves, &[], &m, &mut rng);
        let cut_from: Vec<usize> = m.iter().map(|x| h.get(x).map_or(0, |s| s.len())).collect();
        let mut sorted = cut_from.clone();
        sorted.sort();
        assert_eq!(sorted, vec![2, 2, 2, 3, 3], "a 2|3 split: {h:?}");

        let b = grudge(PartitionMode::Bridge, &[], &m, &mut rng);
        assert_eq!(m.iter().filter(|x| !b.contains_key(*x)).count(), 1, "exactly one bridge member hears all: {b:?}");

        let r = grudge(PartitionMode::Ring, &[], &m, &mut rng);
        for x in &m {
            let heard = m.len() - r.get(x).map_or(0, |s| s.len());
            assert_eq!(heard, 3, "each member of a 5-ring sees a majority (3), {x}: {r:?}");
        }
        let majorities: BTreeSet<Vec<String>> = m.iter().map(|x| m.iter().filter(|y| !r.get(x).is_some_and(|s| s.contains(*y))).cloned().collect()).collect();
        assert_eq!(majorities.len(), 5, "no two members see the same majority");
    }
}

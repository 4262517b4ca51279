//! A grudge (which member drops packets from which), applied as iptables DROP rules on INPUT inside each member's own namespace, labelled with
//! the run and fault, proven with probes, and removed rule by rule on heal.

use crate::cluster::{netns, Member, PEER_PORT};
use crate::error::Error;
use crate::fault::probe::{probe_all, Reach};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

/// For each member, the members whose packets it drops.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

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

//! Network and disk faults on members: the scenario's parameters turned into the
//! mechanisms' own ([`net::Shape`], [`DiskRule`]), put in force on each target, proven from
//! the mechanism's counters (packets the shaper delayed or dropped, calls the disk layer
//! delayed or failed), and undone with the final counts.

use super::disk::{DiskAction, DiskRule, DurabilityMode, IoOp};
use super::net;
use crate::cluster::{Backend, Member};
use crate::error::Error;
use crate::scenario::{BitRate, DiskFault, NetMechanism, NetShape, PortSel};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The mechanism's shape for a scenario's `latency` parameters; `peers` are the addresses
/// of the members the scenario named (empty = every destination).
pub fn to_shape(s: &NetShape, peers: &[Ipv4Addr]) -> net::Shape {
    net::Shape {
        delay: s.delay.0,
        jitter: s.jitter.0,
        correlation: s.correlation.0,
        loss: s.loss.0,
        duplicate: s.duplicate.0,
        reorder: s.reorder.0,
        peers: peers.to_vec(),
        ports: match s.ports {
            PortSel::All => net::Ports::All,
            PortSel::Peer => net::Ports::Peer,
            PortSel::Client => net::Ports::Client,
        },
    }
}

/// The mechanism a scenario asks for (`None` = auto).
pub fn requested(m: NetMechanism) -> Option<net::Mechanism> {
    match m {
        NetMechanism::Auto => None,
        NetMechanism::Netem => Some(net::Mechanism::Netem),
        NetMechanism::Nfqueue => Some(net::Mechanism::Nfqueue),
    }
}

/// The disk layer's rule for a scenario's `io-latency` / `io-error` parameters.
pub fn disk_rule(d: &DiskFault, id: u32, seed: u64) -> Result<DiskRule, String> {
    let ops = d.ops.iter().map(|o| IoOp::parse(o)).collect::<Result<Vec<_>, _>>()?;
    let action = match (d.delay, &d.errno) {
        (Some(delay), _) => DiskAction::Delay { delay: delay.0, jitter: d.jitter.map_or(Duration::ZERO, |j| j.0) },
        (None, errno) => DiskAction::Fail { errno: super::disk::parse_errno(errno.as_deref().unwrap_or("EIO"))? },
    };
    Ok(DiskRule { id, action, ops, percent: d.percent.0, path: d.path.clone(), seed })
}

/// What is in force on each target, taken out (`None`) when healed.
pub type PerMember<T> = Arc<Mutex<Vec<(String, Option<T>)>>>;

/// A network or disk fault in force.
#[derive(Debug, Clone)]
pub enum Shaped {
    /// Shapings, one per target (taken out when healed).
    Net(PerMember<net::Shaping>),
    /// Bandwidth limits, one per target.
    Bandwidth(PerMember<net::Bandwidth>),
    /// A rule on the targets' disk layers.
    Disk {
        /// The rule's id on each layer.
        rule: u32,
        /// The targets.
        members: Vec<String>,
    },
    /// The targets' layers switched to fsync-lie.
    FsyncLie(Vec<String>),
}

fn member<'a>(members: &'a [Member], name: &str) -> Result<&'a Member, Error> {
    members.iter().find(|m| m.name == name).ok_or_else(|| Error::Harness(format!("no member {name}")))
}

/// Put a `latency` fault in force on each target's egress, and show it acts: the shaper
/// must have seen packets within 3 s (members exchange heartbeats every interval).
pub fn inject_latency(members: &[Member], targets: &[String], s: &NetShape, label: &str) -> Result<(Shaped, String, &'static str), Error> {
    let peers: Vec<Ipv4Addr> = s.peers.iter().filter_map(|i| members.get(usize::from(*i).saturating_sub(1)).map(|m| m.ip)).collect();
    let shape = to_shape(s, &peers);
    let mechanism = net::choose(requested(s.mechanism), &shape)?;
    let mut done: Vec<(String, Option<net::Shaping>)> = Vec::new();
    for t in targets {
        let m = member(members, t)?;
        // Traffic to itself is not shaped (its peers list never holds its own address).
        let mut own = shape.clone();
        own.peers.retain(|ip| *ip != m.ip);
        if !shape.peers.is_empty() && own.peers.is_empty() {
            continue;
        }
        let sh = net::apply(&m.netns, &own, mechanism, label).map_err(|e| e.context(format!("shaping {t}'s traffic")))?;
        done.push((t.clone(), Some(sh)));
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let quiet: Vec<&str> = done.iter().filter(|(_, s)| s.as_ref().is_some_and(|s| s.counters().seen == 0)).map(|(n, _)| n.as_str()).collect();
        if quiet.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(Error::Invalid(format!(
                "the {} shaping saw no packet from {} within 3 s: it cannot be shown to take effect",
                mechanism.name(),
                quiet.join(", ")
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let proof = done
        .iter()
        .filter_map(|(n, s)| s.as_ref().map(|s| (n, s.counters())))
        .map(|(n, c)| format!("{n}: {} packet(s) matched, {} delayed, {} dropped so far", c.seen, c.delayed, c.dropped))
        .collect::<Vec<_>>()
        .join("; ");
    let name = mechanism.name();
    Ok((Shaped::Net(Arc::new(Mutex::new(done))), format!("{} ({name}); {proof}", shape.describe()), name))
}

/// Put a `bandwidth` fault in force on each target (tbf on its interface).
pub fn inject_bandwidth(members: &[Member], targets: &[String], rate: BitRate, label: &str) -> Result<(Shaped, String), Error> {
    let mut done = Vec::new();
    for t in targets {
        let m = member(members, t)?;
        let b = net::apply_bandwidth(&m.netns, rate.0, label).map_err(|e| e.context(format!("limiting {t}'s bandwidth")))?;
        done.push((t.clone(), Some(b)));
    }
    let proof = format!("tbf at {rate} (burst {} bytes) on {} egress", net::burst_bytes(rate.0), targets.join(", "));
    Ok((Shaped::Bandwidth(Arc::new(Mutex::new(done))), proof))
}

fn layer_of(backend: &dyn Backend, t: &str) -> Result<Arc<super::disk::DiskLayer>, Error> {
    backend.disk_layer(t).ok_or_else(|| {
        Error::Invalid(format!(
            "{t} has no disk-fault layer: disk faults need faultline's layer over the member's data directory from its start (not available when attaching to a cluster)"
        ))
    })
}

/// Put an `io-latency` / `io-error` rule on each target's disk layer. The proof is the rule
/// read back from each layer, with the calls it acted on in its first second (etcd writes its
/// WAL on every write, so under load there are some); at heal, a rule that acted on no call
/// at all makes the fault unproven.
pub fn inject_disk(backend: &dyn Backend, targets: &[String], d: &DiskFault, id: u32, seed: u64) -> Result<(Shaped, String), Error> {
    let rule = disk_rule(d, id, seed).map_err(Error::BadInput)?;
    let layers = targets.iter().map(|t| layer_of(backend, t).map(|l| (t.clone(), l))).collect::<Result<Vec<_>, _>>()?;
    for (_, l) in &layers {
        let mut rules: Vec<DiskRule> = l.rules();
        rules.push(rule.clone());
        l.set_rules(rules);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline && layers.iter().any(|(_, l)| hits(l, id).1 + hits(l, id).2 == 0) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let proofs: Vec<String> = layers
        .iter()
        .map(|(t, l)| {
            let installed = l.rules().iter().any(|r| r.id == id);
            let (seen, delayed, failed) = hits(l, id);
            format!(
                "{t}: rule {} in the layer; {seen} matching call(s), {delayed} delayed, {failed} failed in its first second",
                if installed { "is" } else { "is NOT" }
            )
        })
        .collect();
    Ok((Shaped::Disk { rule: id, members: targets.to_vec() }, proofs.join("; ")))
}

/// (seen, delayed, failed) of rule `id` on a layer.
fn hits(l: &super::disk::DiskLayer, id: u32) -> (u64, u64, u64) {
    l.counters().into_iter().find(|c| c.id == id).map_or((0, 0, 0), |c| (c.seen, c.delayed, c.failed))
}

/// Switch each target's disk layer to fsync-lie.
pub fn inject_fsync_lie(backend: &dyn Backend, targets: &[String]) -> Result<(Shaped, String), Error> {
    for t in targets {
        layer_of(backend, t)?.set_mode(DurabilityMode::FsyncLie);
    }
    let proof =
        targets.iter().filter_map(|t| backend.disk_layer(t).map(|l| format!("{t}: layer in {} mode", l.stats().mode.name()))).collect::<Vec<_>>().join("; ");
    Ok((Shaped::FsyncLie(targets.to_vec()), proof))
}

/// After a `kill` with `lose_unsynced`: throw away what each (dead) target wrote but did not
/// make durable. Says how much.
pub fn lose_unsynced(backend: &dyn Backend, targets: &[String]) -> Result<String, Error> {
    let mut said = Vec::new();
    for t in targets {
        let d = layer_of(backend, t)?.drop_unsynced();
        said.push(format!("{t}: dropped {} unsynced byte(s) in {} write(s) to {} file(s)", d.bytes, d.writes, d.files));
    }
    Ok(said.join("; "))
}

/// Undo; returns the final counts in words.
pub fn heal(backend: &dyn Backend, s: &Shaped) -> Result<String, Error> {
    match s {
        Shaped::Net(all) => {
            let mut all = all.lock().map_err(|_| Error::Harness("shaping state poisoned".into()))?;
            let mut said = Vec::new();
            for (n, sh) in all.iter_mut() {
                if let Some(sh) = sh.take() {
                    let c = sh.remove().map_err(|e| e.context(format!("removing {n}'s shaping")))?;
                    said.push(format!(
                        "{n}: {} packet(s) matched, {} delayed, {} dropped, {} overflow; held p50 {} µs, p99 {} µs",
                        c.seen, c.delayed, c.dropped, c.overflow, c.hold_p50_us, c.hold_p99_us
                    ));
                }
            }
            Ok(format!("shaping removed ({})", said.join("; ")))
        }
        Shaped::Bandwidth(all) => {
            let mut all = all.lock().map_err(|_| Error::Harness("bandwidth state poisoned".into()))?;
            for (n, b) in all.iter_mut() {
                if let Some(b) = b.take() {
                    b.remove().map_err(|e| e.context(format!("removing {n}'s bandwidth limit")))?;
                }
            }
            Ok("bandwidth limit removed".into())
        }
        Shaped::Disk { rule, members } => {
            let mut said = Vec::new();
            let mut acted = 0;
            for t in members {
                if let Some(l) = backend.disk_layer(t) {
                    let rules: Vec<DiskRule> = l.rules().into_iter().filter(|r| r.id != *rule).collect();
                    l.set_rules(rules);
                    let (seen, delayed, failed) = hits(&l, *rule);
                    acted += delayed + failed;
                    said.push(format!("{t}: {seen} matching call(s), {delayed} delayed, {failed} failed"));
                }
            }
            if acted == 0 {
                return Err(Error::Invalid(format!(
                    "the disk rule acted on no call while it was in force ({}): it cannot be shown to have taken effect; check `ops` and `path` match what etcd does (WAL: member/wal/*, write and fsync; db: member/snap/db)",
                    said.join("; ")
                )));
            }
            Ok(format!("rule removed ({})", said.join("; ")))
        }
        Shaped::FsyncLie(members) => {
            for t in members {
                if let Some(l) = backend.disk_layer(t) {
                    l.set_mode(DurabilityMode::LoseUnsynced);
                }
            }
            Ok(format!("fsync honest again on {}", members.join(", ")))
        }
    }
}

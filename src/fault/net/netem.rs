//! The netem path, for kernels that have `sch_netem`: a `prio` root qdisc with a fourth band
//! that the default priomap never uses, `netem` on that band, and `u32` filters that steer
//! only the chosen destinations and ports into it. Everything else keeps flowing through the
//! first three bands as before. All commands run inside the member's namespace.
//!
//! ```text
//! tc qdisc add dev eth0 root handle fa00: prio bands 4
//! tc qdisc add dev eth0 parent fa00:4 handle fa04: netem limit 10000 delay 100000us 10000us 25% loss 1%
//! tc filter add dev eth0 parent fa00: protocol ip prio 1 u32 match ip dst 10.0.0.2/32 \
//!     match ip protocol 6 0xff match ip dport 2380 0xffff flowid fa00:4
//! ```

use super::{Shape, ShapeCounters, DEV, MAX_HELD};
use crate::cluster::netns;
use crate::error::Error;
use std::path::Path;
use std::time::Duration;

/// The handle of the `prio` root qdisc (faultline's mark: `clean` recognises it).
pub(super) const ROOT_HANDLE: &str = "fa00:";
/// The handle of the `netem` qdisc.
const NETEM_HANDLE: &str = "fa04:";
/// The band netem sits on: the fourth, which the default priomap (bands 0–2) never uses.
const NETEM_CLASS: &str = "fa00:4";

/// A netem shaping in force (the qdisc lives in the namespace; nothing to hold here).
#[derive(Debug)]
pub(super) struct Applied {
    dev: String,
}

fn us(d: Duration) -> String {
    format!("{}us", d.as_micros())
}

fn pct(v: f64) -> String {
    format!("{v}%")
}

/// The netem qdisc's parameters, as tc words.
fn netem_params(shape: &Shape) -> Vec<String> {
    let mut p = vec!["limit".to_string(), MAX_HELD.to_string()];
    let corr = (shape.correlation > 0.0).then(|| pct(shape.correlation));
    if !shape.delay.is_zero() || !shape.jitter.is_zero() {
        p.extend(["delay".into(), us(shape.delay)]);
        if !shape.jitter.is_zero() {
            p.push(us(shape.jitter));
            p.extend(corr.clone());
        }
    }
    for (name, v) in [("loss", shape.loss), ("duplicate", shape.duplicate), ("reorder", shape.reorder)] {
        if v > 0.0 {
            p.extend([name.to_string(), pct(v)]);
            p.extend(corr.clone());
        }
    }
    p
}

/// The `u32` matches of each filter: one filter per destination and port direction.
fn filter_matches(shape: &Shape) -> Vec<Vec<String>> {
    let dsts: Vec<Option<String>> = if shape.peers.is_empty() { vec![None] } else { shape.peers.iter().map(|p| Some(format!("{p}/32"))).collect() };
    let ports: Vec<Option<(&str, u16)>> = match shape.ports.port() {
        None => vec![None],
        Some(p) => vec![Some(("dport", p)), Some(("sport", p))],
    };
    let mut out = Vec::new();
    for d in &dsts {
        for p in &ports {
            let mut m: Vec<String> = Vec::new();
            if let Some(d) = d {
                m.extend(["match", "ip", "dst", d].map(String::from));
            }
            if let Some((dir, port)) = p {
                m.extend(["match", "ip", "protocol", "6", "0xff", "match", "ip", dir].map(String::from));
                m.extend([port.to_string(), "0xffff".into()]);
            }
            if m.is_empty() {
                m.extend(["match", "u32", "0", "0"].map(String::from));
            }
            out.push(m);
        }
    }
    out
}

/// Every `tc` command (arguments after `tc`) that puts `shape` in force on `dev`, in order.
pub(super) fn commands(shape: &Shape, dev: &str) -> Vec<Vec<String>> {
    let mut cmds = vec![["qdisc", "add", "dev", dev, "root", "handle", ROOT_HANDLE, "prio", "bands", "4"].map(String::from).to_vec()];
    let mut q = ["qdisc", "add", "dev", dev, "parent", NETEM_CLASS, "handle", NETEM_HANDLE, "netem"].map(String::from).to_vec();
    q.extend(netem_params(shape));
    cmds.push(q);
    for m in filter_matches(shape) {
        let mut f = ["filter", "add", "dev", dev, "parent", ROOT_HANDLE, "protocol", "ip", "prio", "1", "u32"].map(String::from).to_vec();
        f.extend(m);
        f.extend(["flowid".to_string(), NETEM_CLASS.to_string()]);
        cmds.push(f);
    }
    cmds
}

/// The command that removes it all (the root qdisc takes its children and filters along;
/// naming the handle makes the kernel refuse if the root is not ours).
pub(super) fn remove_command(dev: &str) -> Vec<String> {
    ["qdisc", "del", "dev", dev, "root", "handle", ROOT_HANDLE].map(String::from).to_vec()
}

fn tc(ns: &Path, args: &[String]) -> Result<String, Error> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    netns::exec(ns, "tc", &a)
}

/// Put `shape` in force with netem in the namespace at `ns`; on failure nothing is left.
pub(super) fn apply(ns: &Path, shape: &Shape) -> Result<Applied, Error> {
    for (i, cmd) in commands(shape, DEV).iter().enumerate() {
        if let Err(e) = tc(ns, cmd) {
            if i > 0 {
                let _ = tc(ns, &remove_command(DEV));
            }
            let hint = if i == 0 {
                format!("; is a bandwidth limit or another netem shaping already on {DEV}? One root qdisc fits on an interface: remove that one first")
            } else {
                String::new()
            };
            return Err(e.context(format!("failed to apply netem ({}) in {}{hint}", shape.describe(), ns.display())));
        }
    }
    Ok(Applied { dev: DEV.to_string() })
}

impl Applied {
    /// Remove the root qdisc.
    pub(super) fn remove(self, ns: &Path) -> Result<(), Error> {
        tc(ns, &remove_command(&self.dev)).map(|_| ())
    }

    /// The netem qdisc's statistics.
    pub(super) fn counters(&self, ns: &Path) -> Result<ShapeCounters, Error> {
        let out = netns::exec(ns, "tc", &["-s", "qdisc", "show", "dev", &self.dev])?;
        parse_stats(&out, NETEM_HANDLE).ok_or_else(|| Error::Harness(format!("no netem qdisc {NETEM_HANDLE} in `tc -s qdisc show dev {}`", self.dev)))
    }
}

/// Read the counters of the qdisc with `handle` from `tc -s qdisc show` output:
/// `Sent B bytes P pkt (dropped D, ...)` and `backlog Xb Hp`.
pub(super) fn parse_stats(out: &str, handle: &str) -> Option<ShapeCounters> {
    let mut lines = out.lines().skip_while(|l| l.split_whitespace().nth(2) != Some(handle) || !l.starts_with("qdisc"));
    lines.next()?;
    let mut c = ShapeCounters::default();
    let mut sent = None;
    for l in lines.take_while(|l| !l.starts_with("qdisc")) {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.first() == Some(&"Sent") && w.len() >= 7 {
            sent = w[3].parse::<u64>().ok();
            c.dropped = w[6].trim_end_matches(',').parse().unwrap_or(0);
        } else if w.first() == Some(&"backlog") && w.len() >= 3 {
            c.held = w[2].trim_end_matches('p').parse().unwrap_or(0);
        }
    }
    c.seen = sent? + c.dropped + c.held;
    c.max_held = c.held;
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::super::Ports;
    use super::*;
    use std::net::Ipv4Addr;

    fn line(v: &[String]) -> String {
        v.join(" ")
    }

    #[test]
    fn delay_jitter_loss_towards_one_peer_on_the_peer_port() {
        let s = Shape {
            delay: Duration::from_millis(100),
            jitter: Duration::from_millis(10),
            correlation: 25.0,
            loss: 1.5,
            peers: vec![Ipv4Addr::new(10, 0, 0, 2)],
            ports: Ports::Peer,
            ..Default::default()
        };
        let c: Vec<String> = commands(&s, "eth0").iter().map(|c| line(c)).collect();
        assert_eq!(
            c,
            vec![
                "qdisc add dev eth0 root handle fa00: prio bands 4",
                "qdisc add dev eth0 parent fa00:4 handle fa04: netem limit 10000 delay 100000us 10000us 25% loss 1.5% 25%",
                "filter add dev eth0 parent fa00: protocol ip prio 1 u32 match ip dst 10.0.0.2/32 match ip protocol 6 0xff match ip dport 2380 0xffff flowid fa00:4",
                "filter add dev eth0 parent fa00: protocol ip prio 1 u32 match ip dst 10.0.0.2/32 match ip protocol 6 0xff match ip sport 2380 0xffff flowid fa00:4",
            ]
        );
        assert_eq!(line(&remove_command("eth0")), "qdisc del dev eth0 root handle fa00:");
    }

    #[test]
    fn everything_everywhere_is_one_catch_all_filter() {
        let s = Shape { delay: Duration::from_millis(5), duplicate: 2.0, reorder: 25.0, ..Default::default() };
        let c: Vec<String> = commands(&s, "eth0").iter().map(|c| line(c)).collect();
        assert_eq!(c[1], "qdisc add dev eth0 parent fa00:4 handle fa04: netem limit 10000 delay 5000us duplicate 2% reorder 25%");
        assert_eq!(c[2], "filter add dev eth0 parent fa00: protocol ip prio 1 u32 match u32 0 0 flowid fa00:4");
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn two_peers_on_the_client_port_make_four_filters() {
        let s = Shape { loss: 100.0, peers: vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)], ports: Ports::Client, ..Default::default() };
        let c = commands(&s, "eth0");
        assert_eq!(line(&c[1]), "qdisc add dev eth0 parent fa00:4 handle fa04: netem limit 10000 loss 100%");
        let f: Vec<String> = c[2..].iter().map(|c| line(c)).collect();
        assert_eq!(f.len(), 4);
        assert!(f[3].contains("match ip dst 10.0.0.3/32 match ip protocol 6 0xff match ip sport 2379 0xffff"), "{f:?}");
    }

    #[test]
    fn stats_are_read_from_tc_s() {
        let out = "qdisc prio fa00: root refcnt 2 bands 4 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1\n \
                   Sent 9000 bytes 90 pkt (dropped 0, overlimits 0 requeues 0)\n backlog 0b 0p requeues 0\n\
                   qdisc netem fa04: parent fa00:4 limit 10000 delay 100ms\n \
                   Sent 1234 bytes 10 pkt (dropped 2, overlimits 0 requeues 0)\n backlog 120b 3p requeues 0\n";
        let c = parse_stats(out, "fa04:").unwrap();
        assert_eq!((c.seen, c.dropped, c.held), (15, 2, 3));
        assert!(parse_stats(out, "fa09:").is_none());
    }
}

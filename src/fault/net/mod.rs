//! Network shaping inside a member's namespace (issue 6): latency, jitter, loss, duplicate,
//! reorder on the member's egress, through `tc netem` where the kernel has it (`netem.rs`) and
//! through an NFQUEUE userspace shaper where it has not (`nfqueue.rs`); bandwidth through
//! `tbf` ([`apply_bandwidth`]).
//!
//! A [`Shape`] says what the user asked for; [`choose`] picks the [`Mechanism`] (refusing a
//! netem the kernel lacks, with the way out); [`apply`] puts it in force on one member's
//! namespace and returns a [`Shaping`], which removes what it added on [`Shaping::remove`] or
//! when dropped. Every iptables rule carries the fault's label as its
//! comment and every qdisc one of the handles in [`HANDLES`], so [`remove_leftovers`] (for
//! `faultline clean`) finds what a crashed run left in a namespace it does not own; a
//! namespace the run owns takes everything with it when deleted.
//!
//! [`apply`], [`Shaping::remove`] and [`apply_bandwidth`] run `tc`/`iptables` through
//! `nsenter` and wait for them: call them from a blocking thread, like the partition code. An
//! NFQUEUE shaping owns a thread that has entered the member's namespace, which keeps that
//! namespace alive: remove (or drop) shapings before deleting the namespace.
//!
//! See `docs/faults.md` ("Network shaping") for what each parameter does per mechanism.

pub mod grudge;
mod netem;
mod nfqueue;
mod tbf;

pub use tbf::{apply_bandwidth, burst_bytes, Bandwidth};

use crate::cluster::{netns, CLIENT_PORT, PEER_PORT};
use crate::error::Error;
use serde::Serialize;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The interface a member talks on, inside its namespace (the process backend's veth end and
/// a Docker container's interface are both `eth0`).
pub const DEV: &str = "eth0";

/// The longest delay or jitter accepted (a packet held longer is a partition, not latency).
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// The most packets one shaping holds at once (netem's `limit`, the NFQUEUE shaper's heap);
/// past it the NFQUEUE shaper lets packets through at once and counts them as `overflow`.
pub const MAX_HELD: usize = 10_000;

/// Root qdisc handles faultline adds on [`DEV`]: `fa00:` the netem path's `prio`, `fa01:` the
/// bandwidth `tbf`. `clean` removes a root qdisc only when its handle is one of these.
pub const HANDLES: [&str; 2] = [netem::ROOT_HANDLE, tbf::HANDLE];

/// Which of a member's ports the shaping applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ports {
    /// Every IPv4 packet the member sends on [`DEV`] (TCP, UDP, ICMP).
    #[default]
    All,
    /// TCP to or from the peer port (2380): raft traffic, both the member's own connections
    /// to its peers and its answers on its peer port.
    Peer,
    /// TCP to or from the client port (2379): the member's answers to clients.
    Client,
}

impl Ports {
    /// The TCP port matched (source or destination), `None` for every packet.
    pub fn port(self) -> Option<u16> {
        match self {
            Ports::All => None,
            Ports::Peer => Some(PEER_PORT),
            Ports::Client => Some(CLIENT_PORT),
        }
    }

    /// The name used in scenarios and records.
    pub fn name(self) -> &'static str {
        match self {
            Ports::All => "all",
            Ports::Peer => "peer",
            Ports::Client => "client",
        }
    }
}

/// What the user asked for, applied to one member's EGRESS traffic (the packets it sends):
/// "latency on n1 towards n2" delays n1→n2 packets, not n2→n1.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Shape {
    /// Added one-way delay.
    pub delay: Duration,
    /// Each packet's delay is drawn uniformly from `delay ± jitter` (never below zero).
    pub jitter: Duration,
    /// How much each random draw (jitter, loss, reorder, duplicate) follows the previous one,
    /// in percent (0..=100). See `docs/faults.md` for what it means per mechanism.
    pub correlation: f64,
    /// Percent of packets dropped.
    pub loss: f64,
    /// Percent of packets sent twice.
    pub duplicate: f64,
    /// Percent of packets sent at once, overtaking the delayed ones (needs a delay).
    pub reorder: f64,
    /// Destinations shaped; empty means every destination.
    pub peers: Vec<Ipv4Addr>,
    /// Which ports are shaped.
    pub ports: Ports,
}

fn check_percent(name: &str, v: f64) -> Result<(), Error> {
    if v.is_finite() && (0.0..=100.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::BadInput(format!("{name} must be a percentage between 0 and 100, got {v}")))
    }
}

impl Shape {
    /// Check the values make sense on any mechanism: percentages in 0..=100, delays within
    /// [`MAX_DELAY`], a reorder only with a delay to overtake, a correlation only with a
    /// random draw to correlate.
    pub fn validate(&self) -> Result<(), Error> {
        for (name, v) in [("correlation", self.correlation), ("loss", self.loss), ("duplicate", self.duplicate), ("reorder", self.reorder)] {
            check_percent(name, v)?;
        }
        for (name, d) in [("delay", self.delay), ("jitter", self.jitter)] {
            if d > MAX_DELAY {
                return Err(Error::BadInput(format!(
                    "{name} {} is longer than the {} allowed; to cut a link, use a partition",
                    humantime::format_duration(d),
                    humantime::format_duration(MAX_DELAY)
                )));
            }
        }
        if self.reorder > 0.0 && self.delay.is_zero() {
            return Err(Error::BadInput(format!(
                "reorder {}% needs a delay: packets are reordered by sending some at once while the others wait; add a delay (e.g. delay: 10ms)",
                self.reorder
            )));
        }
        if self.correlation > 0.0 && self.jitter.is_zero() && self.loss == 0.0 && self.reorder == 0.0 && self.duplicate == 0.0 {
            return Err(Error::BadInput(format!(
                "correlation {}% has nothing to correlate: it applies to jitter, loss, reorder and duplicate, and none is set",
                self.correlation
            )));
        }
        Ok(())
    }

    /// The shape in words, for records and messages: `delay 100ms ± 10ms, loss 1% towards
    /// 10.0.0.2 (peer port)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.delay.is_zero() || !self.jitter.is_zero() {
            let mut s = format!("delay {}", humantime::format_duration(self.delay));
            if !self.jitter.is_zero() {
                s.push_str(&format!(" ± {}", humantime::format_duration(self.jitter)));
            }
            parts.push(s);
        }
        for (name, v) in [("loss", self.loss), ("duplicate", self.duplicate), ("reorder", self.reorder)] {
            if v > 0.0 {
                parts.push(format!("{name} {v}%"));
            }
        }
        if self.correlation > 0.0 {
            parts.push(format!("correlation {}%", self.correlation));
        }
        if parts.is_empty() {
            parts.push("no change (packets pass through the shaper)".into());
        }
        let to = if self.peers.is_empty() {
            "towards every destination".to_string()
        } else {
            format!("towards {}", self.peers.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","))
        };
        let ports = match self.ports {
            Ports::All => String::new(),
            p => format!(" ({} port {})", p.name(), p.port().unwrap_or_default()),
        };
        format!("{} {to}{ports}", parts.join(", "))
    }
}

/// How a shape is put in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// The kernel's `netem` qdisc under a `prio` root, `u32` filters steering the chosen
    /// destinations and ports to it.
    Netem,
    /// An iptables NFQUEUE rule and a userspace shaper thread inside the namespace.
    Nfqueue,
}

impl Mechanism {
    /// The name used in scenarios and records.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Netem => "netem",
            Mechanism::Nfqueue => "nfqueue",
        }
    }

    /// Parse a scenario's `mechanism:`; `auto` is `None` (let [`choose`] decide).
    pub fn parse(s: &str) -> Result<Option<Mechanism>, String> {
        match s {
            "auto" => Ok(None),
            "netem" => Ok(Some(Mechanism::Netem)),
            "nfqueue" => Ok(Some(Mechanism::Nfqueue)),
            other => Err(format!("unknown shaping mechanism `{other}`: expected auto, netem or nfqueue")),
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether this kernel has `sch_netem` ([`caps::netem`](crate::host::caps::netem), probed
/// once per process).
pub fn netem_available() -> bool {
    crate::host::caps::netem()
}

const NO_NETEM: &str = "this kernel lacks sch_netem (`tc qdisc add ... netem` fails with \"Specified qdisc kind is unknown\"); \
use `mechanism: nfqueue` (or `auto`, which picks it here), or load the module (`modprobe sch_netem`, package linux-modules-extra on Ubuntu)";

/// Pick the mechanism for `shape` (checked first with [`Shape::validate`]): `requested` when
/// given, `None` is auto: netem where the kernel has it, else nfqueue. A forced netem on a
/// kernel without it is an [`Error::Environment`] that names the way out. Both mechanisms do
/// every parameter of a [`Shape`], so nothing is refused for the mechanism's sake (see
/// `docs/faults.md` for where they differ).
pub fn choose(requested: Option<Mechanism>, shape: &Shape) -> Result<Mechanism, Error> {
    shape.validate()?;
    match requested {
        Some(Mechanism::Netem) if !netem_available() => Err(Error::Environment(format!("mechanism netem: {NO_NETEM}"))),
        Some(m) => Ok(m),
        None if netem_available() => Ok(Mechanism::Netem),
        None => Ok(Mechanism::Nfqueue),
    }
}

/// What a shaping did so far. Every field is a count of packets unless named otherwise; on
/// netem only `seen`, `dropped` and `held` are known (from `tc -s`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShapeCounters {
    /// Packets the shaping's rule or filter matched.
    pub seen: u64,
    /// Packets held for a delay.
    pub delayed: u64,
    /// Packets dropped (loss).
    pub dropped: u64,
    /// Packets let through at once by `reorder`, overtaking held ones.
    pub reordered: u64,
    /// Packets sent twice.
    pub duplicated: u64,
    /// Packets let through at once because [`MAX_HELD`] were held already.
    pub overflow: u64,
    /// Packets held now.
    pub held: u64,
    /// The most packets held at once.
    pub max_held: u64,
    /// Failed receives or verdicts (each one a packet the shaper may have mishandled).
    pub errors: u64,
    /// Observed hold time (from the shaper receiving a packet to its verdict), µs: median,
    /// 99th percentile, maximum, mean; 0 when nothing was let through yet.
    pub hold_p50_us: u64,
    /// See `hold_p50_us`.
    pub hold_p99_us: u64,
    /// See `hold_p50_us`.
    pub hold_max_us: u64,
    /// See `hold_p50_us`.
    pub hold_mean_us: u64,
    /// CPU time the shaper thread used, µs.
    pub cpu_us: u64,
}

/// One shaping in force on one member namespace. Removing it (or dropping it) deletes the
/// rules or qdiscs it added and stops its shaper thread.
pub struct Shaping {
    ns: PathBuf,
    label: String,
    shape: Shape,
    mechanism: Mechanism,
    inner: Option<Inner>,
}

enum Inner {
    Netem(netem::Applied),
    Nfqueue(nfqueue::Shaper),
}

impl fmt::Debug for Shaping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shaping").field("ns", &self.ns).field("label", &self.label).field("mechanism", &self.mechanism).field("shape", &self.shape).finish()
    }
}

/// Apply `shape` to egress traffic of the namespace at `ns`, rules labelled `label` (e.g.
/// `faultline-<run>-f3`). On error nothing is left behind. `mechanism` should come from
/// [`choose`]; what it cannot do is refused here too.
pub fn apply(ns: &Path, shape: &Shape, mechanism: Mechanism, label: &str) -> Result<Shaping, Error> {
    shape.validate()?;
    if mechanism == Mechanism::Netem && !netem_available() {
        return Err(Error::Environment(format!("mechanism netem: {NO_NETEM}")));
    }
    if label.is_empty() || label.len() > 255 || label.chars().any(|c| c.is_whitespace() || c == '"') {
        return Err(Error::Harness(format!("shaping label {label:?} must be 1-255 characters without spaces or quotes")));
    }
    let inner = match mechanism {
        Mechanism::Netem => Inner::Netem(netem::apply(ns, shape)?),
        Mechanism::Nfqueue => Inner::Nfqueue(nfqueue::Shaper::start(ns, shape, label)?),
    };
    Ok(Shaping { ns: ns.to_path_buf(), label: label.to_string(), shape: shape.clone(), mechanism, inner: Some(inner) })
}

impl Shaping {
    /// The mechanism in force.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The shape in force.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The label on its rules.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The NFQUEUE queue number (nfqueue only).
    pub fn queue_num(&self) -> Option<u16> {
        match &self.inner {
            Some(Inner::Nfqueue(s)) => Some(s.queue_num()),
            _ => None,
        }
    }

    /// What the shaping did so far (netem: read from `tc -s qdisc`; zeros if that fails).
    pub fn counters(&self) -> ShapeCounters {
        match &self.inner {
            Some(Inner::Netem(a)) => a.counters(&self.ns).unwrap_or_default(),
            Some(Inner::Nfqueue(s)) => s.counters(),
            None => ShapeCounters::default(),
        }
    }

    /// Remove the rules or qdisc, stop the shaper thread (releasing every held packet at
    /// once), and return the final counters.
    pub fn remove(mut self) -> Result<ShapeCounters, Error> {
        let inner = self.inner.take();
        self.remove_inner(inner)
    }

    fn remove_inner(&self, inner: Option<Inner>) -> Result<ShapeCounters, Error> {
        let what = format!("removing the {} shaping {} from {}", self.mechanism, self.label, self.ns.display());
        match inner {
            Some(Inner::Netem(a)) => {
                let c = a.counters(&self.ns).unwrap_or_default();
                a.remove(&self.ns).map_err(|e| e.context(&what))?;
                Ok(c)
            }
            Some(Inner::Nfqueue(s)) => s.stop().map_err(|e| e.context(&what)),
            None => Ok(ShapeCounters::default()),
        }
    }
}

impl Drop for Shaping {
    fn drop(&mut self) {
        let inner = self.inner.take();
        if inner.is_some() {
            let _ = self.remove_inner(inner);
        }
    }
}

/// Remove what shapings labelled with `prefix` (e.g. `faultline-<run>-`) left in the
/// namespace at `ns` after a crash: iptables rules whose comment starts with it, and a root
/// qdisc on [`DEV`] whose handle is one of [`HANDLES`] (qdiscs carry no label, so these are
/// removed whichever run added them). Returns what was removed, in words. For namespaces the
/// run owns, deleting the namespace is enough.
pub fn remove_leftovers(ns: &Path, prefix: &str) -> Result<Vec<String>, Error> {
    let mut done = Vec::new();
    let n = grudge::remove_labelled(ns, prefix)?;
    if n > 0 {
        done.push(format!("{n} iptables rule(s) labelled {prefix}* in {}", ns.display()));
    }
    let shown = netns::exec(ns, "tc", &["qdisc", "show", "dev", DEV]).unwrap_or_default();
    for handle in HANDLES {
        if root_handle_is(&shown, handle) {
            netns::exec(ns, "tc", &["qdisc", "del", "dev", DEV, "root", "handle", handle])?;
            done.push(format!("root qdisc {handle} on {DEV} in {}", ns.display()));
        }
    }
    Ok(done)
}

/// Whether `tc qdisc show` output has a root qdisc with `handle` (e.g. `fa01:`).
fn root_handle_is(shown: &str, handle: &str) -> bool {
    shown.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.len() >= 4 && w[0] == "qdisc" && w[2] == handle && w[3] == "root"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn handles_move_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Shaping>();
        send_sync::<Bandwidth>();
        assert_eq!(nfqueue::THREAD_NAME.len(), 15, "the kernel keeps 15 characters of a thread name");
    }

    #[test]
    fn mechanism_names_parse_back() {
        assert_eq!(Mechanism::parse("auto"), Ok(None));
        for m in [Mechanism::Netem, Mechanism::Nfqueue] {
            assert_eq!(Mechanism::parse(m.name()), Ok(Some(m)));
        }
        let e = Mechanism::parse("tc").unwrap_err();
        assert!(e.contains("auto, netem or nfqueue"), "{e}");
    }

    #[test]
    fn validate_refuses_what_makes_no_sense() {
        let ok = Shape { delay: ms(100), jitter: ms(10), correlation: 25.0, loss: 1.0, ..Default::default() };
        ok.validate().unwrap();
        for (bad, want) in [
            (Shape { loss: 101.0, ..Default::default() }, "loss must be a percentage"),
            (Shape { loss: f64::NAN, ..Default::default() }, "loss must be a percentage"),
            (Shape { correlation: -1.0, loss: 1.0, ..Default::default() }, "correlation must be"),
            (Shape { delay: Duration::from_secs(61), ..Default::default() }, "use a partition"),
            (Shape { reorder: 10.0, ..Default::default() }, "needs a delay"),
            (Shape { delay: ms(10), correlation: 50.0, ..Default::default() }, "nothing to correlate"),
        ] {
            let e = bad.validate().unwrap_err();
            assert!(matches!(e, Error::BadInput(_)) && e.to_string().contains(want), "{bad:?}: {e}");
        }
    }

    #[test]
    fn describe_says_what_and_where() {
        let s = Shape { delay: ms(100), jitter: ms(10), loss: 1.0, peers: vec![Ipv4Addr::new(10, 0, 0, 2)], ports: Ports::Peer, ..Default::default() };
        assert_eq!(s.describe(), "delay 100ms ± 10ms, loss 1% towards 10.0.0.2 (peer port 2380)");
        assert_eq!(Shape::default().describe(), "no change (packets pass through the shaper) towards every destination");
    }

    #[test]
    fn root_handles_are_recognised_in_tc_output() {
        let shown = "qdisc tbf fa01: root refcnt 2 rate 8Mbit burst 10Kb lat 100ms \nqdisc noqueue 0: dev lo root refcnt 2\n";
        assert!(root_handle_is(shown, "fa01:"));
        assert!(!root_handle_is(shown, "fa00:"));
        assert!(!root_handle_is("qdisc netem 30: parent fa00:4 limit 10000", "30:"));
    }
}

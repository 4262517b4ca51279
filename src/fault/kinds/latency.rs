//! `latency`: delay, jitter, lose, duplicate or reorder a member's outgoing packets — all of
//! them, only those to some peers, or only peer (2380) or client (2379) traffic. The
//! mechanism is tc netem where the kernel has it, else faultline's NFQUEUE shaper
//! ([`net`](crate::fault::net)); it is proven from the shaper's counters (packets seen,
//! delayed, dropped).

use crate::error::{suggest, Error};
use crate::fault::api::{params_of, Active, Applied, Cx, Fault, FaultKind, Healed, Home, Kind, ParamError, Params};
use crate::fault::net;
use crate::fault::target::Target;
use crate::units::{Percent, Span};
use serde::{Serialize, Serializer};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// The registry entry.
pub const KIND: Kind = Kind {
    name: "latency",
    mechanism: "tc netem in the member's namespace where the kernel has it, else faultline's NFQUEUE shaper (delay, jitter, loss)",
    params: &["delay", "jitter", "correlation", "loss", "duplicate", "reorder", "peers", "ports", "mechanism"],
    parse,
    draw: None,
};

/// Network shaping parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetShape {
    /// Added one-way delay of each outgoing packet.
    pub delay: Span,
    /// Uniform ± variation of the delay.
    pub jitter: Span,
    /// How much each random draw follows the previous one.
    pub correlation: Percent,
    /// Share of packets dropped.
    pub loss: Percent,
    /// Share of packets sent twice.
    pub duplicate: Percent,
    /// Share of packets sent at once, ahead of delayed ones.
    pub reorder: Percent,
    /// Only packets to these members (`n1`..: 1-based positions); empty = to everyone.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "member_names")]
    pub peers: Vec<u8>,
    /// Which traffic: all, peer (2380) or client (2379).
    pub ports: PortSel,
    /// How: auto (netem where the kernel has it, else nfqueue), netem or nfqueue.
    pub mechanism: NetMechanism,
}

fn member_names<S: Serializer>(peers: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(peers.iter().map(|i| format!("n{i}")))
}

/// Which of a member's traffic a shaping applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortSel {
    /// Every packet.
    All,
    /// Raft traffic between members (port 2380).
    Peer,
    /// Client traffic (port 2379).
    Client,
}

/// The mechanism a network shaping asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetMechanism {
    /// netem where the kernel has it, else the NFQUEUE shaper.
    Auto,
    /// `tc netem` (kernel).
    Netem,
    /// faultline's userspace shaper behind an NFQUEUE rule.
    Nfqueue,
}

impl NetShape {
    /// The mechanism's shape; `peers` are the addresses of the members named (empty = every
    /// destination).
    pub fn to_shape(&self, peers: &[Ipv4Addr]) -> net::Shape {
        net::Shape {
            delay: self.delay.0,
            jitter: self.jitter.0,
            correlation: self.correlation.0,
            loss: self.loss.0,
            duplicate: self.duplicate.0,
            reorder: self.reorder.0,
            peers: peers.to_vec(),
            ports: match self.ports {
                PortSel::All => net::Ports::All,
                PortSel::Peer => net::Ports::Peer,
                PortSel::Client => net::Ports::Client,
            },
        }
    }

    /// The mechanism asked for (`None` = auto).
    pub fn requested(&self) -> Option<net::Mechanism> {
        match self.mechanism {
            NetMechanism::Auto => None,
            NetMechanism::Netem => Some(net::Mechanism::Netem),
            NetMechanism::Nfqueue => Some(net::Mechanism::Nfqueue),
        }
    }
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let size = p.size();
    let zero = Percent(0.0);
    let mut peers = Vec::new();
    for name in p.or::<Vec<String>>("peers", Vec::new())? {
        match Target::parse(&name, size)? {
            Target::Member(i) => peers.push(i),
            _ => return p.fail(format!("`peers` names members (n1..n{size}), not `{name}`")),
        }
    }
    let ports = match p.or("ports", "all".to_string())?.as_str() {
        "all" => PortSel::All,
        "peer" => PortSel::Peer,
        "client" => PortSel::Client,
        other => return p.fail(format!("unknown `ports: {other}`{}: use all, peer (2380) or client (2379)", suggest(other, &["all", "peer", "client"]))),
    };
    let mechanism = match p.or("mechanism", "auto".to_string())?.as_str() {
        "auto" => NetMechanism::Auto,
        "netem" => NetMechanism::Netem,
        "nfqueue" => NetMechanism::Nfqueue,
        other => return p.fail(format!("unknown `mechanism: {other}`{}: use auto, netem or nfqueue", suggest(other, &["auto", "netem", "nfqueue"]))),
    };
    let shape = NetShape {
        delay: p.or("delay", Span(Duration::ZERO))?,
        jitter: p.or("jitter", Span(Duration::ZERO))?,
        correlation: p.or("correlation", zero)?,
        loss: p.or("loss", zero)?,
        duplicate: p.or("duplicate", zero)?,
        reorder: p.or("reorder", zero)?,
        peers,
        ports,
        mechanism,
    };
    if shape.delay.0.is_zero() && shape.loss.0 == 0.0 && shape.duplicate.0 == 0.0 {
        return p.fail("this latency fault does nothing: give it a `delay` (e.g. `delay: 100ms`), a `loss` or a `duplicate`");
    }
    shape.to_shape(&[]).validate().map_err(|e| e.to_string())?;
    Ok(FaultKind::new(shape))
}

impl Fault for NetShape {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        format!("latency ({} ± {}, loss {})", self.delay, self.jitter, self.loss)
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        params_of(self)
    }
    fn home(&self) -> Home {
        Home::Netns
    }
    fn preflight(&self) -> Result<(), Error> {
        // A mechanism this machine cannot do is refused before anything is built.
        net::choose(self.requested(), &self.to_shape(&[])).map(|_| ())
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        let peers: Vec<Ipv4Addr> = self.peers.iter().filter_map(|i| cx.members.get(usize::from(*i).saturating_sub(1)).map(|m| m.ip)).collect();
        let shape = self.to_shape(&peers);
        let mechanism = net::choose(self.requested(), &shape)?;
        let mut done: Vec<(String, net::Shaping)> = Vec::new();
        for t in &cx.targets {
            let m = cx.member(t)?;
            // Traffic to itself is not shaped (its peers list never holds its own address).
            let mut own = shape.clone();
            own.peers.retain(|ip| *ip != m.ip);
            if !shape.peers.is_empty() && own.peers.is_empty() {
                continue;
            }
            let sh = net::apply(&m.netns, &own, mechanism, &cx.label).map_err(|e| e.context(format!("shaping {t}'s traffic")))?;
            done.push((t.clone(), sh));
        }
        // Members exchange heartbeats every interval: the shaper must see packets within 3 s.
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let quiet: Vec<String> = done.iter().filter(|(_, s)| s.counters().seen == 0).map(|(n, _)| n.clone()).collect();
            if quiet.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                let _ = InForce(done).remove_all();
                return Err(Error::Invalid(format!(
                    "the {} shaping saw no packet from {} within 3 s: it cannot be shown to take effect",
                    mechanism.name(),
                    quiet.join(", ")
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let counts = done
            .iter()
            .map(|(n, s)| (n, s.counters()))
            .map(|(n, c)| format!("{n}: {} packet(s) matched, {} delayed, {} dropped so far", c.seen, c.delayed, c.dropped))
            .collect::<Vec<_>>()
            .join("; ");
        let name = mechanism.name();
        Ok(Applied::new(InForce(done), name, format!("{} ({name}); {counts}", shape.describe()))
            .param("delay", self.delay.to_string())
            .param("jitter", self.jitter.to_string())
            .param("loss", self.loss.to_string()))
    }
}

/// The shapings in force, one per target.
#[derive(Debug)]
struct InForce(Vec<(String, net::Shaping)>);

impl InForce {
    fn remove_all(&mut self) -> Result<Vec<String>, Error> {
        let mut said = Vec::new();
        for (n, sh) in std::mem::take(&mut self.0) {
            let c = sh.remove().map_err(|e| e.context(format!("removing {n}'s shaping")))?;
            said.push(format!(
                "{n}: {} packet(s) matched, {} delayed, {} dropped, {} overflow; held p50 {} µs, p99 {} µs",
                c.seen, c.delayed, c.dropped, c.overflow, c.hold_p50_us, c.hold_p99_us
            ));
        }
        Ok(said)
    }
}

impl Active for InForce {
    fn heal(&mut self, _: &Cx<'_>) -> Result<Healed, Error> {
        Ok(Healed::proof(format!("shaping removed ({})", self.remove_all()?.join("; "))))
    }
}

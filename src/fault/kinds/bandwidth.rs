//! `bandwidth`: limit a member's outgoing bandwidth with tc tbf on its interface.

use crate::error::Error;
use crate::fault::api::{params_of, Active, Applied, Cx, Fault, FaultKind, Healed, Home, Kind, ParamError, Params};
use crate::fault::net;
use serde::Serialize;
use std::fmt;

/// The registry entry.
pub const KIND: Kind = Kind { name: "bandwidth", mechanism: "tc tbf on the member's interface", params: &["rate"], parse, draw: None };

/// A bandwidth in bits per second, written `10mbit`, `512kbit`, `1gbit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRate(pub u64);

impl BitRate {
    /// Parse `10mbit`, `512kbit`, `1gbit`, `8000bit`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        let (num, mult) = [("gbit", 1_000_000_000u64), ("mbit", 1_000_000), ("kbit", 1_000), ("bit", 1)]
            .iter()
            .find_map(|(u, m)| t.strip_suffix(u).map(|n| (n.trim().to_string(), *m)))
            .ok_or_else(|| format!("`{s}` is not a bandwidth: write e.g. `10mbit`, `512kbit` or `1gbit`"))?;
        let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a bandwidth: write e.g. `10mbit`"))?;
        let bits = (n * mult as f64).round();
        if !(8_000.0..=100_000_000_000.0).contains(&bits) {
            return Err(format!("`{s}` is out of range: a bandwidth is from 8kbit to 100gbit"));
        }
        Ok(BitRate(bits as u64))
    }
}

impl fmt::Display for BitRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            b if b % 1_000_000_000 == 0 => write!(f, "{}gbit", b / 1_000_000_000),
            b if b % 1_000_000 == 0 => write!(f, "{}mbit", b / 1_000_000),
            b if b % 1_000 == 0 => write!(f, "{}kbit", b / 1_000),
            b => write!(f, "{b}bit"),
        }
    }
}

impl Serialize for BitRate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A bandwidth limit's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bandwidth {
    /// Bits per second.
    pub rate: BitRate,
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let rate: String = p.need("bandwidth", "rate", "the member's outgoing bandwidth, e.g. `rate: 10mbit`")?;
    Ok(FaultKind::new(Bandwidth { rate: BitRate::parse(&rate)? }))
}

impl Fault for Bandwidth {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        format!("bandwidth ({})", self.rate)
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        params_of(self)
    }
    fn home(&self) -> Home {
        Home::Netns
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        let mut done = Vec::new();
        for t in &cx.targets {
            let m = cx.member(t)?;
            match net::apply_bandwidth(&m.netns, self.rate.0, &cx.label) {
                Ok(b) => done.push((t.clone(), b)),
                Err(e) => {
                    let _ = InForce(done).remove_all();
                    return Err(e.context(format!("limiting {t}'s bandwidth")));
                }
            }
        }
        let proof = format!("tbf at {} (burst {} bytes) on {} egress", self.rate, net::burst_bytes(self.rate.0), cx.targets.join(", "));
        Ok(Applied::new(InForce(done), "tbf", proof).param("rate", self.rate.to_string()))
    }
}

/// The limits in force, one per target.
#[derive(Debug)]
struct InForce(Vec<(String, net::Bandwidth)>);

impl InForce {
    fn remove_all(&mut self) -> Result<(), Error> {
        for (n, b) in std::mem::take(&mut self.0) {
            b.remove().map_err(|e| e.context(format!("removing {n}'s bandwidth limit")))?;
        }
        Ok(())
    }
}

impl Active for InForce {
    fn heal(&mut self, _: &Cx<'_>) -> Result<Healed, Error> {
        self.remove_all()?;
        Ok(Healed::proof("bandwidth limit removed"))
    }
}

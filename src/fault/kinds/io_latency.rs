//! `io-latency`: delay chosen file operations in the member's data directory (a rule in the
//! disk-fault layer, [`io_rule`](super::io_rule)).

use super::io_rule::DiskFault;
use crate::error::Error;
use crate::fault::api::{params_of, Applied, Cx, Fault, FaultKind, Home, Kind, ParamError, Params};
use crate::fault::disk::DurabilityMode;

/// The registry entry.
pub const KIND: Kind = Kind {
    name: "io-latency",
    mechanism: "faultline's FUSE layer over the member's data directory: delay chosen calls",
    params: &["ops", "delay", "jitter", "percent", "path"],
    parse,
    draw: None,
};

/// An io-latency fault's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct IoLatency(pub DiskFault);

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let d = DiskFault::parse("io-latency", p)?;
    if d.delay.is_none_or(|x| x.0.is_zero()) {
        return p.fail("an io-latency fault needs `delay`, e.g. `delay: 200ms`");
    }
    Ok(FaultKind::new(IoLatency(d)))
}

impl Fault for IoLatency {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        format!("io-latency ({} on {})", self.0.delay.map(|x| x.to_string()).unwrap_or_default(), self.0.ops.join(","))
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        params_of(&self.0)
    }
    fn home(&self) -> Home {
        Home::Disk
    }
    fn disk_layer(&self) -> Option<DurabilityMode> {
        Some(DurabilityMode::Durable)
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        self.0.inject(cx)
    }
}

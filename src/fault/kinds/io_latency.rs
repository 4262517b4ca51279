//! `io-latency`: delay chosen file operations in the member's data directory (a rule in the
//! disk-fault layer, [`io_rule`](super::io_rule)).

use super::io_rule::{DiskFault, IoRule};
use crate::fault::api::{FaultKind, Kind, ParamError, Params};

/// The registry entry.
pub const KIND: Kind = Kind {
    name: "io-latency",
    mechanism: "faultline's FUSE layer over the member's data directory: delay chosen calls",
    params: &["ops", "delay", "jitter", "percent", "path"],
    parse,
    draw: None,
};

/// An io-latency fault with these parameters.
pub fn new(rule: DiskFault) -> FaultKind {
    FaultKind::new(IoRule { kind: &KIND, rule })
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let d = DiskFault::parse("io-latency", p)?;
    if d.delay.is_none_or(|x| x.0.is_zero()) {
        return p.fail("an io-latency fault needs `delay`, e.g. `delay: 200ms`");
    }
    Ok(new(d))
}

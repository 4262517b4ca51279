//! `io-error`: fail chosen file operations in the member's data directory with an errno (a
//! rule in the disk-fault layer, [`io_rule`](super::io_rule)).

use super::io_rule::{DiskFault, IoRule};
use crate::fault::api::{FaultKind, Kind, ParamError, Params};
use crate::fault::disk;

/// The registry entry.
pub const KIND: Kind = Kind {
    name: "io-error",
    mechanism: "faultline's FUSE layer: fail chosen calls with an errno",
    params: &["ops", "errno", "percent", "path"],
    parse,
    draw: None,
};

/// An io-error fault with these parameters.
pub fn new(rule: DiskFault) -> FaultKind {
    FaultKind::new(IoRule { kind: &KIND, rule })
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let d = DiskFault::parse("io-error", p)?;
    disk::parse_errno(d.errno.as_deref().unwrap_or("EIO"))?;
    Ok(new(d))
}

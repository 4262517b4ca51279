//! `io-error`: fail chosen file operations in the member's data directory with an errno (a
//! rule in the disk-fault layer, [`io_rule`](super::io_rule)).

use super::io_rule::DiskFault;
use crate::error::Error;
use crate::fault::api::{params_of, Applied, Cx, Fault, FaultKind, Home, Kind, ParamError, Params};
use crate::fault::disk::{self, DurabilityMode};

/// The registry entry.
pub const KIND: Kind = Kind {
    name: "io-error",
    mechanism: "faultline's FUSE layer: fail chosen calls with an errno",
    params: &["ops", "errno", "percent", "path"],
    parse,
    draw: None,
};

/// An io-error fault's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct IoError(pub DiskFault);

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let d = DiskFault::parse("io-error", p)?;
    disk::parse_errno(d.errno.as_deref().unwrap_or("EIO"))?;
    Ok(FaultKind::new(IoError(d)))
}

impl Fault for IoError {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        format!("io-error ({} on {})", self.0.errno.as_deref().unwrap_or("EIO"), self.0.ops.join(","))
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

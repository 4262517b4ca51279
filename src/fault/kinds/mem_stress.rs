//! `mem-stress`: a process in the member's memory cgroup holding touched memory
//! ([`cpu`](crate::fault::cpu) is the mechanism), ended when the fault heals.

use crate::error::Error;
use crate::fault::api::{params_of, Applied, Cx, Fault, FaultKind, Home, Kind, ParamError, Params};
use crate::fault::cpu;
use crate::units::Size;
use serde::Serialize;

/// The registry entry.
pub const KIND: Kind =
    Kind { name: "mem-stress", mechanism: "a process holding touched memory inside the member's memory cgroup", params: &["size"], parse, draw: None };

/// A mem-stress fault's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemStress {
    /// How much memory.
    pub size: Size,
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let size: Size = p.need("mem-stress", "size", "how much memory to hold in the member's cgroup, e.g. `size: 256MiB`")?;
    if size.0 == 0 || size.0 > 64 << 30 {
        return p.fail(format!("mem-stress `size: {size}` is out of range: above 0 and at most 64GiB"));
    }
    Ok(FaultKind::new(MemStress { size }))
}

impl Fault for MemStress {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        format!("mem-stress ({})", self.size)
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        params_of(self)
    }
    fn home(&self) -> Home {
        Home::Cgroup
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        let (f, proof) = cpu::stress_memory(cx.backend.run_id(), &cx.hit(), self.size.0)?;
        Ok(Applied::new(f, "cgroup-memory", proof).param("size", self.size.to_string()))
    }
}

//! `cpu-limit`: a CPU quota on the member's cgroup ([`cpu`](crate::fault::cpu) is the
//! mechanism), restored when the fault heals.

use crate::error::Error;
use crate::fault::api::{params_of, Applied, Cx, Fault, FaultKind, Home, Kind, ParamError, Params};
use crate::fault::cpu;
use serde::Serialize;

/// The registry entry.
pub const KIND: Kind = Kind { name: "cpu-limit", mechanism: "the CPU quota of the member's cgroup", params: &["cores"], parse, draw: None };

/// A cpu-limit fault's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuLimit {
    /// Cores' worth of CPU time (0.2 = 20 ms per 100 ms).
    pub cores: f64,
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let cores: f64 = p.need("cpu-limit", "cores", "the CPU the member may use, e.g. `cores: 0.2` (20 ms per 100 ms)")?;
    if !(0.01..=64.0).contains(&cores) {
        return p.fail(format!("cpu-limit `cores: {cores}` is out of range: from 0.01 to 64"));
    }
    Ok(FaultKind::new(CpuLimit { cores }))
}

impl Fault for CpuLimit {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        format!("cpu-limit ({} cores)", self.cores)
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        params_of(self)
    }
    fn home(&self) -> Home {
        Home::Cgroup
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        let (f, proof) = cpu::limit_cpu(&cx.hit(), self.cores)?;
        Ok(Applied::new(f, "cgroup-quota", proof).param("cores", self.cores))
    }
}

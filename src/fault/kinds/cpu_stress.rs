//! `cpu-stress`: burner processes inside the member's cgroup, competing with etcd for its
//! CPU share as a noisy neighbour would ([`cpu`](crate::fault::cpu) is the mechanism).

use crate::error::Error;
use crate::fault::api::{params_of, Applied, Cx, Fault, FaultKind, Home, Kind, ParamError, Params};
use crate::fault::cpu;
use crate::units::Percent;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// The registry entry.
pub const KIND: Kind =
    Kind { name: "cpu-stress", mechanism: "burner processes inside the member's cgroup", params: &["workers", "load"], parse, draw: Some(draw) };

/// A cpu-stress fault's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuStress {
    /// How many burners.
    pub workers: u32,
    /// How busy each one is.
    pub load: Percent,
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let workers: u32 = p.or("workers", 1)?;
    if !(1..=64).contains(&workers) {
        return p.fail(format!("cpu-stress `workers: {workers}` is out of range: 1 to 64 burner processes"));
    }
    let load = p.or("load", Percent(100.0))?;
    if load.0 <= 0.0 {
        return p.fail("cpu-stress `load` must be above 0%: it is how busy each burner keeps a core");
    }
    Ok(FaultKind::new(CpuStress { workers, load }))
}

/// The nemesis's cpu-stress: one burner at full load.
fn draw(_: &mut ChaCha8Rng, _: usize) -> FaultKind {
    FaultKind::new(CpuStress { workers: 1, load: Percent(100.0) })
}

impl Fault for CpuStress {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        format!("cpu-stress ({} × {})", self.workers, self.load)
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        params_of(self)
    }
    fn home(&self) -> Home {
        Home::Cgroup
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        let (f, proof) = cpu::stress_cpu(cx.backend.run_id(), &cx.hit(), self.workers, self.load.0)?;
        Ok(Applied::new(f, "cgroup-burners", proof).param("workers", self.workers).param("load", self.load.to_string()))
    }
}

//! `io-mistake` (Chaos Mesh IOChaos's `mistake`): reads of the member's files matched by `path`
//! come back with a run of up to `bytes` bytes bit-flipped, zeroed or randomised, at `percent`
//! of the reads that reach the disk layer; the files on disk are not changed. Matching files
//! are opened with direct I/O while it is in force, and their cached pages are forgotten when
//! it starts and ends, so reads reach the layer (see docs/faults.md for bbolt's mmap).

use crate::error::Error;
use crate::fault::api::{params_of, Active, Applied, Cx, Fault, FaultKind, Healed, Home, Kind, ParamError, Params};
use crate::fault::disk::{DiskLayer, DurabilityMode, Mistake, MistakeMode};
use crate::units::Percent;
use serde::Serialize;
use std::sync::Arc;

/// The registry entry.
pub const KIND: Kind = Kind {
    name: "io-mistake",
    mechanism:
        "faultline's FUSE layer: reads of matching files answered with bytes flipped, zeroed or randomised (the files unchanged; direct I/O on them meanwhile)",
    params: &["path", "mode", "bytes", "percent"],
    parse,
    draw: None,
};

/// An io-mistake's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IoMistake {
    /// Files whose reads are changed: a glob relative to the data directory.
    pub path: String,
    /// `bitflip`, `zero` or `random`.
    pub mode: String,
    /// At most this many bytes (one run) of a read are changed.
    pub bytes: u32,
    /// Share of the matching reads changed.
    pub percent: Percent,
}

fn parse(p: &Params) -> Result<FaultKind, ParamError> {
    let path: String =
        p.need("io-mistake", "path", "the files whose reads come back wrong, relative to the data directory, e.g. `path: \"member/wal/*.wal\"`")?;
    let mode: String = p.or("mode", "bitflip".to_string())?;
    MistakeMode::parse(&mode)?;
    let bytes: u32 = p.or("bytes", 1)?;
    if bytes == 0 {
        return p.fail("`bytes: 0` changes nothing; give how many bytes of a read at most are changed (1 or more)");
    }
    let m = IoMistake { path, mode: mode.to_ascii_lowercase(), bytes, percent: p.or("percent", Percent(100.0))? };
    m.mistake(0).check()?;
    Ok(FaultKind::new(m))
}

impl IoMistake {
    fn mistake(&self, seed: u64) -> Mistake {
        Mistake {
            path: Some(self.path.clone()),
            mode: MistakeMode::parse(&self.mode).unwrap_or(MistakeMode::Bitflip),
            bytes: self.bytes,
            percent: self.percent.0,
            seed,
        }
    }
}

impl Fault for IoMistake {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn describe(&self) -> String {
        format!("io-mistake ({} of up to {} byte(s) in {} of reads of {})", self.mode, self.bytes, self.percent, self.path)
    }
    fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        params_of(self)
    }
    fn home(&self) -> Home {
        Home::Disk
    }
    fn disk_layer(&self) -> Option<DurabilityMode> {
        Some(DurabilityMode::Durable)
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        let layers = cx.targets.iter().map(|t| cx.layer(t).map(|l| (t.clone(), l))).collect::<Result<Vec<_>, _>>()?;
        for (_, l) in &layers {
            l.set_mistake(Some(self.mistake(cx.draw)))?;
        }
        let proof = layers
            .iter()
            .map(|(t, l)| format!("{t}: mistake {} in the layer", if l.mistake_counters().is_some() { "is" } else { "is NOT" }))
            .collect::<Vec<_>>()
            .join("; ");
        Ok(Applied::new(InForce(layers), "fuse", format!("{proof}; {} on reads of {}", self.mode, self.path))
            .param("path", self.path.clone())
            .param("mode", self.mode.clone())
            .param("bytes", self.bytes)
            .param("percent", self.percent.to_string()))
    }
}

/// The mistake in force on the targets' layers.
#[derive(Debug)]
struct InForce(Vec<(String, Arc<DiskLayer>)>);

impl Active for InForce {
    fn heal(&mut self, _: &Cx<'_>) -> Result<Healed, Error> {
        let mut said = Vec::new();
        let mut changed = 0;
        for (t, l) in std::mem::take(&mut self.0) {
            let c = l.set_mistake(None)?.unwrap_or_default();
            changed += c.changed;
            let samples = if c.samples.is_empty() { String::new() } else { format!(" ({})", c.samples.join(", ")) };
            said.push(format!("{t}: {} matching read(s) reached the layer, {} changed, {} byte(s) differ{samples}", c.reads, c.changed, c.bytes));
        }
        if changed == 0 {
            return Err(Error::Invalid(format!(
                "the read mistake changed no read while it was in force ({}): it cannot be shown to have taken effect; etcd reads its WAL only when it starts (restart the member while it is in force) and member/snap/db through mmap",
                said.join("; ")
            )));
        }
        Ok(Healed::proof(format!("mistake removed, pages read with it forgotten ({})", said.join("; "))))
    }
}

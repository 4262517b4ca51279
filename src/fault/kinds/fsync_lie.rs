//! `fsync-lie`: fsync answers success and keeps the data in the disk layer's cache, as a
//! lying disk cache would; a later `kill` with `lose_unsynced` drops it.

use crate::error::Error;
use crate::fault::api::{draw_default, no_params, Active, Applied, Cx, Fault, Healed, Home, Kind};
use crate::fault::disk::{DiskLayer, DurabilityMode};
use std::sync::Arc;

/// The registry entry.
pub const KIND: Kind = Kind {
    name: "fsync-lie",
    mechanism: "faultline's FUSE layer: fsync answers success and keeps the data in its cache (kill with lose_unsynced drops it)",
    params: &[],
    parse: no_params::<FsyncLie>,
    draw: Some(draw_default::<FsyncLie>),
};

/// An fsync-lie (no parameters).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FsyncLie;

impl Fault for FsyncLie {
    fn kind(&self) -> &'static Kind {
        &KIND
    }
    fn home(&self) -> Home {
        Home::Disk
    }
    fn disk_layer(&self) -> Option<DurabilityMode> {
        Some(DurabilityMode::LoseUnsynced)
    }
    fn inject(&self, cx: &mut Cx<'_>) -> Result<Applied, Error> {
        let layers = cx.targets.iter().map(|t| cx.layer(t).map(|l| (t.clone(), l))).collect::<Result<Vec<_>, _>>()?;
        for (_, l) in &layers {
            l.set_mode(DurabilityMode::FsyncLie);
        }
        let proof = layers.iter().map(|(t, l)| format!("{t}: layer in {} mode", l.stats().mode.name())).collect::<Vec<_>>().join("; ");
        Ok(Applied::new(InForce(layers), "fuse", proof))
    }
}

/// The targets' layers, lying.
#[derive(Debug)]
struct InForce(Vec<(String, Arc<DiskLayer>)>);

impl Active for InForce {
    fn heal(&mut self, _: &Cx<'_>) -> Result<Healed, Error> {
        // Let go of the layers: they unmount when the run's last holder drops them.
        let layers = std::mem::take(&mut self.0);
        for (_, l) in &layers {
            l.set_mode(DurabilityMode::LoseUnsynced);
        }
        Ok(Healed::proof(format!("fsync honest again on {}", layers.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", "))))
    }
}

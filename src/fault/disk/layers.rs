//! The disk-fault layers of a run: one FUSE layer ([`DiskLayer`]) mounted over each
//! member's data directory before the member starts (so it sees the layer for its whole life)
//! and unmounted after the members are stopped. The runner holds one [`Layers`] and lends it
//! to the faults ([`Cx::layer`](crate::fault::api::Cx::layer)); the backends never see it.

use super::{DiskLayer, DurabilityMode};
use crate::cluster::Member;
use crate::error::Error;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The layers of one run, by member name.
#[derive(Default)]
pub struct Layers {
    by_member: Mutex<BTreeMap<String, Arc<DiskLayer>>>,
}

impl Layers {
    /// Mount a layer over every member's data directory (labelled `faultline-<run>-<member>`),
    /// in `mode`. On error the layers mounted so far are unmounted.
    pub fn mount_all(&self, run_id: &str, members: &[Member], mode: DurabilityMode) -> Result<(), Error> {
        let mut map = self.by_member.lock().unwrap_or_else(|p| p.into_inner());
        for m in members {
            std::fs::create_dir_all(&m.data_dir)?;
            match DiskLayer::mount(&m.data_dir, &format!("faultline-{run_id}-{}", m.name)) {
                Ok(layer) => {
                    layer.set_mode(mode);
                    map.insert(m.name.clone(), Arc::new(layer));
                }
                Err(e) => {
                    map.clear();
                    return Err(e.context(format!("mounting the disk-fault layer over {}'s data directory", m.name)));
                }
            }
        }
        Ok(())
    }

    /// A member's layer, when layers are mounted.
    pub fn get(&self, member: &str) -> Option<Arc<DiskLayer>> {
        self.by_member.lock().unwrap_or_else(|p| p.into_inner()).get(member).cloned()
    }

    /// Unmount every layer (what is cached is written out first); call after the members
    /// stopped. Says what it did.
    pub fn unmount_all(&self) -> Vec<String> {
        let all: Vec<(String, Arc<DiskLayer>)> = std::mem::take(&mut *self.by_member.lock().unwrap_or_else(|p| p.into_inner())).into_iter().collect();
        let mut said = Vec::new();
        for (name, layer) in all {
            let dir = layer.dir().display().to_string();
            match Arc::try_unwrap(layer) {
                Ok(l) => match l.unmount() {
                    Ok(()) => said.push(format!("disk layer over {dir} ({name})")),
                    Err(e) => said.push(format!("could not unmount the disk layer over {dir}: {e}")),
                },
                // A fault still holds it: it unmounts when the last holder drops it.
                Err(_) => said.push(format!("disk layer over {dir} ({name}), when its last user lets go")),
            }
        }
        said
    }
}

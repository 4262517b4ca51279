//! `faultline clean`: remove what dead runs left behind (with `--images`, faultline's
//! images too) and say, line by line, what was removed, healed, left alone or could not be
//! removed. Exit 4 when something could not be removed.

use crate::cli::CleanArgs;
use crate::error::{Error, Exit};
use crate::host::leftovers;

/// Clean up and report.
pub fn run(args: CleanArgs) -> Result<Exit, Error> {
    let CleanArgs { run, force, images } = args;
    if !crate::host::sys::is_root() {
        return Err(Error::Environment(
            "faultline clean needs root to remove namespaces, processes and cgroups: run it as root (sudo faultline clean).".into(),
        ));
    }
    let c = leftovers::clean(run.as_deref(), force);
    for r in &c.removed {
        if r.starts_with("healed ") {
            println!("{r}");
        } else {
            println!("removed {r}");
        }
    }
    for s in &c.skipped {
        println!("left alone {s}");
    }
    for f in &c.failed {
        eprintln!("could not remove {f}");
    }
    let removed_images = if images { super::block_on(crate::cluster::image::remove_all())? } else { Vec::new() };
    for r in &removed_images {
        println!("removed {r}");
    }
    if c.removed.is_empty() && c.failed.is_empty() && removed_images.is_empty() {
        println!(
            "nothing to clean: no faultline namespaces, processes, cgroups or run state left behind{}",
            if images { ", and no faultline images" } else { "" }
        );
    }
    Ok(if c.failed.is_empty() { Exit::Pass } else { Exit::Harness })
}

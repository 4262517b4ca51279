//! `faultline doctor`: the table of what this machine can do, then every fault kind and how
//! faultline carries it out.

use crate::error::{Error, Exit};
use crate::host::caps;

/// Probe and print; never fails (a failing probe is a "NO" row).
pub fn run() -> Result<Exit, Error> {
    let checks = caps::checks();
    println!("{}", caps::render(&checks));
    println!("fault kinds and how faultline carries them out (docs/faults.md):");
    for k in crate::fault::registry::ALL {
        println!("  {:<11} {}", k.name, k.mechanism);
    }
    Ok(Exit::Pass)
}

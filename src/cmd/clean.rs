//! `faultline clean`: remove what dead runs left behind (with `--images`, faultline's
//! images too) and say, line by line, what was removed, healed, left alone or could not be
//! removed; with `--dry-run`, what would be, touching nothing. `--run ID` that matches
//! nothing is bad input (exit 2). Exit 4 when something could not be removed.

use crate::cli::CleanArgs;
use crate::error::{Error, Exit};
use crate::host::leftovers::{self, Mode};
use crate::markup::terminal;

/// Clean up (or, with `--dry-run`, list) and report.
pub fn run(args: CleanArgs) -> Result<Exit, Error> {
    let CleanArgs { run, force, images, dry_run } = args;
    if !crate::host::sys::is_root() {
        return Err(Error::Environment(
            "faultline clean needs root to remove namespaces, processes and cgroups: run it as root (sudo faultline clean).".into(),
        ));
    }
    let mode = if dry_run { Mode::DryRun } else { Mode::Remove };
    let c = leftovers::clean(run.as_deref(), force, mode);
    if let Some(id) = run.as_deref().filter(|id| !c.found(id)) {
        let left = if c.runs.is_empty() { "no run left anything behind".to_string() } else { format!("runs that left something: {}", c.runs.join(", ")) };
        return Err(Error::BadInput(format!(
            "--run {}: no run with this id left anything on this machine ({left}). The id is the 6 hex digits of `run_id` in the run's summary.json (and of faultline-<id>-... names); run `faultline clean --dry-run` to list what is left.",
            terminal(id)
        )));
    }
    let (did, healed) = if dry_run { ("would remove", "would heal") } else { ("removed", "healed") };
    for r in &c.removed {
        let r = &terminal(r);
        match r.strip_prefix("healed ") {
            Some(rest) => println!("{healed} {rest}"),
            None if r.starts_with("the attached containers") => println!("{r}"),
            None => println!("{did} {r}"),
        }
    }
    for s in &c.skipped {
        println!("left alone {}", terminal(s));
    }
    for f in &c.failed {
        eprintln!("could not remove {}", terminal(f));
    }
    let removed_images = if images { super::block_on(crate::cluster::image::remove_all(dry_run))? } else { Vec::new() };
    for r in &removed_images {
        println!("{did} {}", terminal(r));
    }
    if c.removed.is_empty() && c.failed.is_empty() && removed_images.is_empty() {
        println!(
            "nothing to clean: no faultline namespaces, processes, cgroups or run state left behind{}",
            if images { ", and no faultline images" } else { "" }
        );
    } else if dry_run {
        println!("dry run: nothing was touched; run `faultline clean` without --dry-run to do it");
    }
    Ok(if c.failed.is_empty() { Exit::Pass } else { Exit::Harness })
}

//! `faultline replay RUN_DIR`: the recorded run again (its scenario and seed, every fault
//! pinned to the members the original hit), then how the replay differs from the original,
//! printed and written to the replay's `replay.json`.

use crate::cli::ReplayArgs;
use crate::error::{Error, Exit};
use crate::replay;
use crate::report;
use crate::runner::{self, RunOptions};
use std::path::PathBuf;

/// Replay a run directory.
pub fn run(args: ReplayArgs) -> Result<Exit, Error> {
    let ReplayArgs { run_dir, until, out, backend, quiet } = args;
    let rec = replay::load(&run_dir)?;
    for (id, names) in &rec.pinned {
        let written = rec.written.get(id).map(String::as_str).unwrap_or("?");
        if !written.starts_with('n') || written.len() > 2 {
            eprintln!("faultline: replay: fault #{id} (target {written}) pinned to {} as in the original run", names.join(","));
        }
    }
    let cancel = super::cancel_on_ctrl_c();
    let opts = RunOptions {
        backend: backend.map(Into::into),
        seed: rec.scenario.seed,
        out,
        reports_dir: PathBuf::from("reports"),
        quiet,
        pinned: rec.pinned.clone(),
        until,
    };
    let clients = rec.scenario.workload.clients;
    let outcome = runner::run(rec.scenario, &opts, cancel)?;
    if !quiet {
        println!("{}", report::table::render(&outcome.summary));
    }
    let diff = replay::compare(&run_dir, &outcome.run_dir, clients)?;
    print!("{}", replay::render(&diff));
    let _ = std::fs::write(outcome.run_dir.join("replay.json"), serde_json::to_vec_pretty(&diff).unwrap_or_default());
    Ok(outcome.exit)
}

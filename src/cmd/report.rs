//! `faultline report RUN_DIR`: (re)write a run directory's `report.html`.

use crate::cli::ReportArgs;
use crate::error::{Error, Exit};
use crate::report;

/// Write the page and say where.
pub fn run(args: ReportArgs) -> Result<Exit, Error> {
    println!("wrote {}", crate::markup::terminal(&report::html::write(&args.run_dir)?.display().to_string()));
    Ok(Exit::Pass)
}

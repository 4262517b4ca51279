//! `faultline compare SCENARIO --a ... --b ...`: the flags turned into a comparison
//! ([`crate::compare`] runs it), then its table and where its files went.

use crate::cli::CompareArgs;
use crate::compare::{self, CompareOptions, Variant};
use crate::error::{Error, Exit};
use crate::scenario;
use std::path::PathBuf;

/// Compare two variants on one scenario.
pub fn run(args: CompareArgs) -> Result<Exit, Error> {
    let CompareArgs { scenario, a, b, runs, seed, out, backend } = args;
    let opts = CompareOptions {
        a: Variant::parse("a", &a)?,
        b: Variant::parse("b", &b)?,
        runs,
        seed,
        backend: backend.map(Into::into),
        out,
        reports_dir: PathBuf::from("reports"),
    };
    let cancel = super::cancel_on_ctrl_c();
    let (c, dir) = compare::compare(scenario::load(&scenario)?, &opts, cancel)?;
    println!("{}", crate::markup::terminal(&c.render()));
    println!("runs, compare.json and compare.html in {}", crate::markup::terminal(&dir.display().to_string()));
    Ok(c.exit())
}

//! `faultline shrink RUN_DIR`: [`crate::shrink`] cuts the failing run down; each step is
//! printed as it ends, then the table and where the shrunk scenario went.

use crate::cli::ShrinkArgs;
use crate::error::{Error, Exit};
use crate::markup::terminal;
use crate::shrink::{self, ShrinkOptions, Step};
use std::path::PathBuf;

/// Shrink a failing run.
pub fn run(args: ShrinkArgs) -> Result<Exit, Error> {
    let ShrinkArgs { run_dir, tries, out, budget, backend } = args;
    let opts = ShrinkOptions { tries, out, reports_dir: PathBuf::from("reports"), budget, backend: backend.map(Into::into) };
    eprintln!("{}", terminal(&format!("faultline: shrink {}: each candidate up to {tries} run(s), for at most {}", run_dir.display(), humantime::format_duration(budget))));
    let cancel = super::cancel_on_ctrl_c();
    let mut n = 0;
    let (sh, dir) = shrink::shrink(&run_dir, &opts, cancel, &mut |s: &Step| {
        n += 1;
        eprintln!("{}", terminal(&format!("faultline: step {n}: {} — {}", s.change, verdict(s))));
    })?;
    println!("{}", terminal(&table(&sh.steps)));
    println!(
        "{}",
        terminal(&format!(
            "shrunk: {} fault(s)/op(s) → {}, workload {:.1} s → {:.1} s ({}); failing gates: {}",
            sh.items_before,
            sh.items_after,
            sh.duration_before_s,
            sh.duration_after_s,
            sh.stopped,
            sh.gates.join(", ")
        ))
    );
    println!("{}", terminal(&format!("scenario: {}  (faultline run {} --seed {})", sh.scenario, sh.scenario, sh.seed)));
    if let Some(r) = &sh.run_dir {
        println!("{}", terminal(&format!("its failing run: {r}")));
    }
    println!("{}", terminal(&format!("shrink.json in {}", dir.display())));
    Ok(if sh.run_dir.is_some() { Exit::GateFailed } else { Exit::Invalid })
}

fn verdict(s: &Step) -> String {
    match (s.runs, s.still_fails) {
        (0, _) => format!("not run: {}", s.note.clone().unwrap_or_default()),
        (n, true) => format!("still fails (run {n})"),
        (n, false) => format!("does not fail in {n} run(s){}", s.note.as_ref().map(|x| format!(" (the last: {x})")).unwrap_or_default()),
    }
}

/// The steps as a table: what changed, runs, still failing, what is left.
fn table(steps: &[Step]) -> String {
    let mut out = String::from("step | change | runs | still fails | items left | workload\n");
    for (i, s) in steps.iter().enumerate() {
        out.push_str(&format!("{:>4} | {} | {} | {} | {} | {:.1} s\n", i + 1, s.change, s.runs, if s.still_fails { "yes" } else { "no" }, s.items, s.duration_s));
    }
    out
}

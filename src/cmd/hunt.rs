//! `faultline hunt SCENARIO`: the scenario with `--set` applied, run seed after seed by
//! [`crate::hunt`] until one fails; a line per run, then the rate and the failing seeds.

use crate::cli::HuntArgs;
use crate::error::{Error, Exit};
use crate::hunt::{self, HuntOptions};
use crate::markup::terminal;
use crate::scenario;
use std::path::PathBuf;

/// Hunt a failing seed.
pub fn run(args: HuntArgs) -> Result<Exit, Error> {
    let HuntArgs { scenario, runs, keep_going, seed, out, backend, sets } = args;
    let s = crate::overrides::apply(&scenario::load(&scenario)?, &sets)?;
    let opts = HuntOptions { runs, keep_going, seed, out, reports_dir: PathBuf::from("reports"), backend: backend.map(Into::into) };
    let (seeds, drawn) = crate::compare::seeds(seed.or(s.seed), 1);
    if drawn {
        eprintln!("faultline: first seed drawn: {} (pass --seed {} to repeat this hunt)", seeds[0], seeds[0]);
    }
    let dir = hunt::dir_for(&s, &opts);
    let set = if sets.is_empty() { String::new() } else { format!(" with --set {}", sets.join(" ")) };
    eprintln!(
        "{}",
        terminal(&format!(
            "faultline: hunt {}{set}: up to {runs} run(s) from seed {}{}, into {}",
            s.name,
            seeds[0],
            if keep_going { ", all of them" } else { ", until one fails" },
            dir.display()
        ))
    );
    let cancel = super::cancel_on_ctrl_c();
    let h = hunt::hunt(&s, seeds[0], &dir, &opts, cancel, |r, i| {
        let what = match (r.caught_by.is_empty(), &r.note) {
            (false, _) => format!(" — caught by {}", r.caught_by.join("; ")),
            (true, Some(n)) => format!(" — {n}"),
            _ => String::new(),
        };
        println!("{}", terminal(&format!("run {i}/{runs}: seed {} {} (exit {}, {:.0} s into the hunt){what} · {}", r.seed, r.verdict.to_uppercase(), r.exit_code, r.ended_s, r.run_dir)));
    })?;
    print!("{}", terminal(&h.render()));
    println!("{}", terminal(&format!("hunt.json in {}", dir.display())));
    Ok(h.exit())
}

//! `faultline replay RUN_DIR`: the recorded run again (its scenario and seed, every fault
//! pinned to the members the original hit), then how the replay differs from the original,
//! printed and written to the replay's `replay.json`.

use crate::cli::ReplayArgs;
use crate::error::{Error, Exit};
use crate::markup::terminal;
use crate::replay::{self, Differences};
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
            eprintln!("faultline: replay: fault #{id} (target {}) pinned to {} as in the original run", terminal(written), terminal(&names.join(",")));
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
        println!("{}", terminal(&report::table::render(&outcome.summary)));
    }
    let diff = replay::compare(&run_dir, &outcome.run_dir, clients)?;
    print!("{}", terminal(&render(&diff)));
    let _ = std::fs::write(outcome.run_dir.join("replay.json"), serde_json::to_vec_pretty(&diff).unwrap_or_default());
    Ok(outcome.exit)
}

/// The differences in words, for the terminal.
fn render(d: &Differences) -> String {
    let mut out = String::from("replay against the original:\n");
    for f in &d.faults {
        let at = |x: Option<f64>| x.map_or("did not start".to_string(), |s| format!("{s:.2} s"));
        let same = match (f.original_at_s, f.replay_at_s) {
            (Some(_), Some(_)) if f.original_targets == f.replay_targets => "same members",
            (Some(_), Some(_)) => "OTHER MEMBERS",
            (Some(_), None) => "not in the replay (after --until, or it could not start)",
            _ => "only in the replay",
        };
        out.push_str(&format!(
            "  fault #{} {:<10} original {} on {:<8} replay {} on {:<8} {}\n",
            f.id,
            f.kind,
            at(f.original_at_s),
            f.original_targets.join(","),
            at(f.replay_at_s),
            f.replay_targets.join(","),
            same
        ));
    }
    out.push_str(&format!(
        "  operations: {} client(s) invoked the same operations (kind, key, value written) over the {} both runs reached; {} differ{}; {} renumbered client(s) not compared (a client that gets an unknown outcome continues under a new number, in timing order)\n",
        d.clients_same.len(),
        d.ops_compared,
        d.clients_differ.len(),
        if d.clients_differ.is_empty() { String::new() } else { format!(" ({})", d.clients_differ.iter().map(|(c, i)| format!("client {c} from op {i}")).collect::<Vec<_>>().join(", ")) },
        d.clients_unmatched
    ));
    out.push_str("  timing is not replayed exactly: faults start at their offsets on the replay's own clock, and how many operations each client completes depends on the cluster\n");
    out
}

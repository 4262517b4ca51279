//! `faultline run`: every scenario parsed before any runs, then each run in turn (a run
//! directory per scenario under `--out` when there are several), its table printed; the
//! exit code is the worst run's. `--junit` writes JUnit XML, `--json` prints the summaries (JSON Lines, one per scenario).

use crate::cli::RunArgs;
use crate::error::{Error, Exit};
use crate::markup::terminal;
use crate::report::{self, Summary};
use crate::runner::{self, RunOptions};
use crate::scenario;
use std::path::PathBuf;

/// What one scenario came to: its summary, or the scenario's name and the error that
/// stopped it.
type Outcome = Result<Summary, (String, String)>;

/// Run the scenarios.
pub fn run(args: RunArgs) -> Result<Exit, Error> {
    let RunArgs { scenarios, backend, seed, out, quiet, junit, json } = args;
    // Parse every scenario before running any.
    let parsed = scenarios.iter().map(|p| scenario::load(p)).collect::<Result<Vec<_>, _>>()?;
    for w in parsed.iter().flat_map(|s| &s.warnings) {
        eprintln!("{w}");
    }
    let quiet = quiet || json;
    let cancel = super::cancel_on_ctrl_c();
    let mut exit = Exit::Pass;
    let several = parsed.len() > 1;
    let mut outcomes: Vec<Outcome> = Vec::new();
    for s in parsed {
        let name = s.name.clone();
        let opts = RunOptions {
            backend: backend.map(Into::into),
            seed,
            out: match (&out, several) {
                (Some(o), true) => Some(o.join(&s.name)),
                (o, _) => o.clone(),
            },
            reports_dir: PathBuf::from("reports"),
            quiet,
            ..Default::default()
        };
        match runner::run(s, &opts, cancel.clone()) {
            Ok(outcome) => {
                if !quiet {
                    println!("{}", terminal(&report::table::render(&outcome.summary)));
                }
                exit = exit.worst(outcome.exit);
                outcomes.push(Ok(outcome.summary));
                if json {
                    println!("{}", json_line(&outcomes[outcomes.len() - 1]));
                }
            }
            Err(e) => {
                eprintln!("faultline: {}", terminal(&e.to_string()));
                exit = exit.worst(e.exit());
                outcomes.push(Err((name, e.to_string())));
                if json {
                    println!("{}", json_line(&outcomes[outcomes.len() - 1]));
                }
            }
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    if let Some(path) = junit {
        write_junit(&path, &outcomes)?;
    }
    Ok(exit)
}

/// `--junit FILE`: a test suite per scenario, a test case per gate.
fn write_junit(path: &std::path::Path, outcomes: &[Outcome]) -> Result<(), Error> {
    let cases: Vec<report::junit::Outcome> = outcomes
        .iter()
        .map(|o| match o {
            Ok(s) => report::junit::Outcome::Ran(s),
            Err((n, m)) => report::junit::Outcome::Failed(n, m.clone()),
        })
        .collect();
    std::fs::write(path, report::junit::render(&cases)).map_err(|e| Error::Environment(format!("cannot write the JUnit file {}: {e}", path.display())))?;
    eprintln!("faultline: wrote JUnit results to {}", terminal(&path.display().to_string()));
    Ok(())
}

/// `--json`: JSON Lines on stdout, one object per scenario as its run ends — its summary
/// (summary.json on one line), or `{"scenario", "verdict": "error", "error"}` for a scenario
/// that could not run: the convention `check --json` follows too.
fn json_line(o: &Outcome) -> String {
    let v = match o {
        Ok(s) => serde_json::to_value(s).unwrap_or(serde_json::Value::Null),
        Err((n, m)) => serde_json::json!({ "scenario": n, "verdict": "error", "error": m }),
    };
    v.to_string()
}

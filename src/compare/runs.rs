//! The running half of a comparison: both variants checked before anything runs, then
//! a-1, b-1, a-2, b-2, ... through [`runner::run`] with the same seed for run i of each,
//! into the comparison directory; progress on stderr.

use super::comparison::{join_seeds, num, write_files, Comparison};
use super::figures::{figures, RunRecord};
use super::variant::{unused_setting, Setting, Variant};
use crate::error::Error;
use crate::runner::{self, RunOptions};
use crate::scenario::{BackendChoice, Scenario};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// How to run a comparison.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Variant a.
    pub a: Variant,
    /// Variant b.
    pub b: Variant,
    /// Runs per variant (at least 1).
    pub runs: usize,
    /// `--seed`: the first run's seed (run i uses seed + i − 1).
    pub seed: Option<u64>,
    /// `--backend` for variants that do not set one.
    pub backend: Option<BackendChoice>,
    /// `--out`: the comparison directory.
    pub out: Option<PathBuf>,
    /// Where the comparison directory goes when `--out` is absent.
    pub reports_dir: PathBuf,
}

/// The seeds of the runs: the first is `--seed`, else the scenario's, else drawn; run i
/// uses first + i − 1. Returns whether the first was drawn.
pub fn seeds(first: Option<u64>, runs: usize) -> (Vec<u64>, bool) {
    let drawn = first.is_none();
    let first = first.unwrap_or_else(|| rand::random::<u32>() as u64);
    ((0..runs as u64).map(|i| first.wrapping_add(i)).collect(), drawn)
}

/// The comparison directory: `--out`, else `reports/compare-<scenario>-<UTC time>`.
pub fn dir_for(s: &Scenario, opts: &CompareOptions) -> PathBuf {
    if let Some(o) = &opts.out {
        return o.clone();
    }
    crate::rundir::unique(&opts.reports_dir, &format!("compare-{}", s.name))
}

/// Run the comparison: check both variants, then run a-1, b-1, a-2, b-2, ... with the
/// same seed for run i of each, write `compare.json` and `compare.html` to the directory,
/// and return what was found. Progress goes to stderr; the table is for the caller to print.
pub fn compare(base: Scenario, opts: &CompareOptions, cancel: CancellationToken) -> Result<(Comparison, PathBuf), Error> {
    if opts.runs == 0 {
        return Err(Error::BadInput("--runs must be at least 1 (3 is the default; more runs make a separation more convincing)".into()));
    }
    // Both variants are checked before anything runs.
    let sa = opts.a.apply(&base)?;
    let sb = opts.b.apply(&base)?;
    if opts.a.settings == opts.b.settings {
        eprintln!(
            "{}",
            crate::markup::terminal(&format!(
                "faultline: warning: --a and --b set the same values ({}): the comparison measures run-to-run noise only",
                opts.a.describe()
            ))
        );
    }
    for (v, s) in [(&opts.a, &sa), (&opts.b, &sb)] {
        if v.settings.iter().any(|x| matches!(x, Setting::Binary(_))) && crate::host::sys::which(&s.cluster.etcd.binary).is_none() {
            return Err(Error::Environment(format!(
                "variant {} ({}): the etcd binary `{}` is not found: give an existing path (e.g. binary=/usr/local/bin/etcd-3.5.17)",
                v.label,
                v.describe(),
                s.cluster.etcd.binary
            )));
        }
    }
    for (v, s) in [(&opts.a, &sa), (&opts.b, &sb)] {
        if let Some(w) = unused_setting(v, v.backend().or(opts.backend).unwrap_or(s.cluster.backend)) {
            eprintln!("{}", crate::markup::terminal(&format!("faultline: warning: variant {}: {w}", v.label)));
        }
    }
    let (seeds, drawn) = seeds(opts.seed.or(base.seed), opts.runs);
    if drawn {
        eprintln!(
            "{}",
            crate::markup::terminal(&format!("faultline: seeds drawn: {} (pass --seed {} to repeat this comparison)", join_seeds(&seeds), seeds[0]))
        );
    }
    let dir = dir_for(&base, opts);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Environment(format!("cannot create the comparison directory {}: {e}: choose another with --out DIR", dir.display())))?;
    eprintln!(
        "{}",
        crate::markup::terminal(&format!(
            "faultline: compare {} — a: {} · b: {} · {} run(s) each, into {}",
            base.name,
            opts.a.describe(),
            opts.b.describe(),
            opts.runs,
            dir.display()
        ))
    );

    let total = opts.runs * 2;
    let mut records = Vec::new();
    let mut n = 0;
    'runs: for (i, seed) in seeds.iter().enumerate() {
        for (v, s) in [(&opts.a, &sa), (&opts.b, &sb)] {
            if cancel.is_cancelled() {
                break 'runs;
            }
            n += 1;
            let run_dir = dir.join(format!("{}-{}", v.label, i + 1));
            eprintln!("{}", crate::markup::terminal(&format!("faultline: run {n}/{total}: {}, seed {seed} ({}) ...", v.label, v.describe())));
            let ro = RunOptions {
                backend: v.backend().or(opts.backend),
                seed: Some(*seed),
                out: Some(run_dir.clone()),
                reports_dir: dir.clone(),
                quiet: true,
                ..Default::default()
            };
            let rec = match runner::run(s.clone(), &ro, cancel.clone()) {
                Ok(o) => {
                    eprintln!(
                        "{}",
                        crate::markup::terminal(&format!(
                            "faultline: run {n}/{total}: {} {} — {} ok ops, {} leader change(s), longest unavailability {} s",
                            v.label,
                            o.summary.verdict,
                            o.summary.ops.ok,
                            o.summary.leader_changes,
                            num(o.summary.max_unavailable_s)
                        ))
                    );
                    RunRecord {
                        variant: v.label.clone(),
                        index: i + 1,
                        seed: *seed,
                        run_dir: o.run_dir.display().to_string(),
                        exit_code: o.exit.code(),
                        verdict: o.summary.verdict.clone(),
                        error: None,
                        figures: figures(&o.summary),
                    }
                }
                Err(e) => {
                    eprintln!("{}", crate::markup::terminal(&format!("faultline: run {n}/{total}: {} did not finish: {e}", v.label)));
                    let stop = e.repeats();
                    records.push(RunRecord {
                        variant: v.label.clone(),
                        index: i + 1,
                        seed: *seed,
                        run_dir: run_dir.display().to_string(),
                        exit_code: e.exit().code(),
                        verdict: "error".into(),
                        error: Some(e.to_string()),
                        figures: Vec::new(),
                    });
                    if stop {
                        // The next runs would fail the same way.
                        eprintln!("{}", crate::markup::terminal("faultline: stopping the comparison: the remaining runs would meet the same problem"));
                        break 'runs;
                    }
                    continue;
                }
            };
            records.push(rec);
        }
    }
    let interrupted = cancel.is_cancelled();
    let c = Comparison::new(&base.name, opts.runs, seeds, &opts.a, &opts.b, records, interrupted);
    write_files(&c, &dir)?;
    Ok((c, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_count_up_from_the_first() {
        assert_eq!(seeds(Some(42), 3), (vec![42, 43, 44], false));
        assert!(seeds(None, 2).1);
    }
}

//! Hunting a failing seed: one scenario run with seeds S, S+1, ... until a run fails its
//! gates (or, with `keep_going`, all N), each into `DIR/seed-S`; then how often it failed,
//! with a 95 % confidence interval, how long the first failure took, and which gate or check
//! caught it. `faultline hunt` (`src/cmd/hunt.rs`) prints it; `hunt.json` keeps it.

use crate::error::{Error, Exit};
use crate::report::summary::Summary;
use crate::runner::{self, RunOptions};
use crate::scenario::{BackendChoice, Scenario};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// How to hunt.
#[derive(Debug, Clone)]
pub struct HuntOptions {
    /// Runs at most (at least 1).
    pub runs: usize,
    /// Go on after the first failure, to measure the rate over every run.
    pub keep_going: bool,
    /// The first seed (run i uses seed + i − 1); `None`: the scenario's, else drawn.
    pub seed: Option<u64>,
    /// The hunt's directory (`None`: `reports/hunt-<name>-<UTC time>`).
    pub out: Option<PathBuf>,
    /// Where the hunt's directory goes when `out` is absent.
    pub reports_dir: PathBuf,
    /// `--backend`.
    pub backend: Option<BackendChoice>,
}

/// One run of a hunt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HuntRun {
    /// Its seed.
    pub seed: u64,
    /// `passed`, `failed`, `undecided` (a gate could not be evaluated — the checker's time
    /// limit — and none failed), `invalid`, `interrupted`, or `error` (it did not finish).
    pub verdict: String,
    /// Its exit code.
    pub exit_code: u8,
    /// What caught it (failed runs): the gates that failed, and for the watch gate the
    /// guarantees broken (`linearizable`, `watch: 2 bookmarkable`, `consistent`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caught_by: Vec<String>,
    /// Why it is invalid, or the error that stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Its run directory.
    pub run_dir: String,
    /// Seconds from the hunt's start to this run's end.
    pub ended_s: f64,
}

impl HuntRun {
    /// It failed a gate: etcd misbehaved (a gate that could not be decided is no failure).
    pub fn failed(&self) -> bool {
        self.verdict == "failed"
    }

    /// What this run says about the hunt's exit: a failure, a run that did not test (invalid,
    /// undecided, interrupted), a pass, or the error that stopped it.
    fn exit(&self) -> Exit {
        match self.verdict.as_str() {
            "passed" => Exit::Pass,
            "failed" => Exit::GateFailed,
            "error" => Exit::from_code(self.exit_code),
            _ => Exit::Invalid,
        }
    }
}

/// A hunt's result (`hunt.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hunt {
    /// The scenario's name.
    pub scenario: String,
    /// The etcd version the runs used (the first finished run's).
    pub etcd_version: Option<String>,
    /// The backend they ran on.
    pub backend: Option<String>,
    /// Runs asked for.
    pub runs_asked: usize,
    /// Every run, in order.
    pub runs: Vec<HuntRun>,
    /// Whether it stopped at the first failure.
    pub stop_at_first: bool,
    /// Whether Ctrl-C stopped it.
    pub interrupted: bool,
}

/// A 95 % Wilson score interval for `k` failures in `n` runs, as (low, high) fractions.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (z, n, p) = (1.96_f64, n as f64, k as f64 / n as f64);
    let d = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / d;
    let half = z * ((p * (1.0 - p) / n) + z * z / (4.0 * n * n)).sqrt() / d;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

impl Hunt {
    /// Runs that finished (passed, failed or invalid; not errors or interruptions).
    pub fn counted(&self) -> Vec<&HuntRun> {
        self.runs.iter().filter(|r| matches!(r.verdict.as_str(), "passed" | "failed")).collect()
    }

    /// Failed runs.
    pub fn failures(&self) -> Vec<&HuntRun> {
        self.runs.iter().filter(|r| r.failed()).collect()
    }

    /// Seconds from the hunt's start to the end of the first failing run.
    pub fn time_to_first_failure_s(&self) -> Option<f64> {
        self.failures().first().map(|r| r.ended_s)
    }

    /// The exit code: 1 when a run failed, else 5 when a run was invalid or interrupted, else
    /// the worst error, else 0.
    pub fn exit(&self) -> Exit {
        if !self.failures().is_empty() {
            return Exit::GateFailed;
        }
        self.runs.iter().map(HuntRun::exit).fold(if self.interrupted { Exit::Invalid } else { Exit::Pass }, Exit::worst)
    }

    /// What the hunt found, in words: runs, failures, the rate with its interval, the time to
    /// the first failure, the failing seeds.
    pub fn render(&self) -> String {
        let counted = self.counted().len();
        let fails = self.failures();
        let (lo, hi) = wilson(fails.len(), counted);
        let mut out = format!(
            "hunt {}{}: {} run(s), {} failed, {} invalid or unfinished",
            self.scenario,
            self.etcd_version.as_ref().map(|v| format!(" (etcd {v}{})", self.backend.as_ref().map(|b| format!(", {b}")).unwrap_or_default())).unwrap_or_default(),
            self.runs.len(),
            fails.len(),
            self.runs.len() - counted
        );
        if counted > 0 {
            out.push_str(&format!(
                "; failure rate {:.0}% (95% CI {:.0}–{:.0}%, over the {counted} valid run(s))",
                100.0 * fails.len() as f64 / counted as f64,
                100.0 * lo,
                100.0 * hi
            ));
        }
        if self.stop_at_first && !fails.is_empty() {
            out.push_str(" — stopped at the first failure; --keep-going measures the rate over every run");
        }
        out.push('\n');
        match self.time_to_first_failure_s() {
            Some(t) => out.push_str(&format!("first failure after {t:.1} s\n")),
            None => out.push_str("no run failed its gates\n"),
        }
        for r in fails {
            out.push_str(&format!("  seed {}: {} — {}\n", r.seed, r.caught_by.join("; "), r.run_dir));
        }
        if self.interrupted {
            out.push_str("interrupted: the runs above are all there is\n");
        }
        out
    }
}

/// What caught a failed run: each failed gate (the watch gate with its broken guarantees).
pub fn caught_by(s: &Summary) -> Vec<String> {
    s.gates
        .iter()
        .filter(|g| !g.pass && g.status == crate::gates::GateStatus::Fail)
        .map(|g| match (&*g.name, &s.watch) {
            ("watch", Some(w)) => format!("watch: {}", w.problems()),
            _ => g.name.clone(),
        })
        .collect()
}

fn verdict_of(exit: Exit, interrupted: bool) -> &'static str {
    match exit {
        _ if interrupted => "interrupted",
        Exit::Pass => "passed",
        Exit::GateFailed => "failed",
        Exit::Invalid => "invalid",
        _ => "error",
    }
}

/// The hunt's directory: `out`, else `reports/hunt-<scenario>-<UTC time>`.
pub fn dir_for(s: &Scenario, opts: &HuntOptions) -> PathBuf {
    opts.out.clone().unwrap_or_else(|| crate::rundir::unique(&opts.reports_dir, &format!("hunt-{}", s.name)))
}

/// Hunt: run the scenario with seeds first, first+1, ... into `dir/seed-S`; `each` hears of
/// every run as it ends. Stops at the first failure (unless `keep_going`), at `runs`, at
/// Ctrl-C, or at an error that every run would meet (bad input, the environment). Writes
/// `dir/hunt.json`.
pub fn hunt(s: &Scenario, first: u64, dir: &Path, opts: &HuntOptions, cancel: CancellationToken, mut each: impl FnMut(&HuntRun, usize)) -> Result<Hunt, Error> {
    if opts.runs == 0 {
        return Err(Error::BadInput("--runs must be at least 1".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Environment(format!("cannot create the hunt directory {}: {e}: choose another with --out DIR", dir.display())))?;
    let started = Instant::now();
    let mut h = Hunt { scenario: s.name.clone(), etcd_version: None, backend: None, runs_asked: opts.runs, runs: Vec::new(), stop_at_first: !opts.keep_going, interrupted: false };
    for i in 0..opts.runs as u64 {
        if cancel.is_cancelled() {
            break;
        }
        let seed = first.wrapping_add(i);
        let run_dir = dir.join(format!("seed-{seed}"));
        let ro = RunOptions { backend: opts.backend, seed: Some(seed), out: Some(run_dir.clone()), reports_dir: dir.to_path_buf(), quiet: true, ..Default::default() };
        let (run, stop) = match runner::run(s.clone(), &ro, cancel.clone()) {
            Ok(o) => {
                h.etcd_version.get_or_insert_with(|| o.summary.etcd_version.clone());
                h.backend.get_or_insert_with(|| o.summary.backend.clone());
                let caught = if o.exit == Exit::GateFailed { caught_by(&o.summary) } else { Vec::new() };
                let undecided = o.exit == Exit::GateFailed && caught.is_empty();
                let note = match (undecided, o.summary.invalid_reasons.is_empty()) {
                    (true, _) => Some(o.summary.verdict_reasons.join("; ")),
                    (false, false) => Some(o.summary.invalid_reasons.join("; ")),
                    _ => None,
                };
                let run = HuntRun {
                    seed,
                    verdict: if undecided { "undecided".into() } else { verdict_of(o.exit, o.summary.interrupted).into() },
                    exit_code: o.exit.code(),
                    caught_by: caught,
                    note,
                    run_dir: o.run_dir.display().to_string(),
                    ended_s: started.elapsed().as_secs_f64(),
                };
                (run, false)
            }
            Err(e) => {
                let stop = e.repeats();
                let run = HuntRun {
                    seed,
                    verdict: "error".into(),
                    exit_code: e.exit().code(),
                    caught_by: Vec::new(),
                    note: Some(e.to_string()),
                    run_dir: run_dir.display().to_string(),
                    ended_s: started.elapsed().as_secs_f64(),
                };
                (run, stop)
            }
        };
        each(&run, i as usize + 1);
        let failed = run.failed();
        h.runs.push(run);
        if stop || (failed && !opts.keep_going) {
            break;
        }
    }
    h.interrupted = cancel.is_cancelled();
    let json = serde_json::to_vec_pretty(&h).map_err(|e| Error::harness(format!("cannot encode hunt.json: {e}")))?;
    std::fs::write(dir.join("hunt.json"), json).map_err(|e| Error::Environment(format!("cannot write {}: {e}", dir.join("hunt.json").display())))?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, exit_code: u8, verdict: &str) -> HuntRun {
        HuntRun { seed, verdict: verdict.into(), exit_code, caught_by: vec![], note: None, run_dir: format!("d/seed-{seed}"), ended_s: seed as f64 }
    }

    fn hunt(runs: Vec<HuntRun>) -> Hunt {
        Hunt { scenario: "x".into(), etcd_version: None, backend: None, runs_asked: 4, runs, stop_at_first: false, interrupted: false }
    }

    #[test]
    fn wilson_interval_brackets_the_rate() {
        let (lo, hi) = wilson(0, 10);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 0.001, "{hi}");
        let (lo, hi) = wilson(5, 10);
        assert!((lo - 0.2366).abs() < 0.001 && (hi - 0.7634).abs() < 0.001, "{lo} {hi}");
        assert_eq!(wilson(3, 3).1, 1.0);
    }

    #[test]
    fn a_failure_decides_the_exit_then_invalid_runs() {
        assert_eq!(hunt(vec![run(1, 0, "passed"), run(2, 5, "invalid"), run(3, 1, "failed")]).exit(), Exit::GateFailed);
        assert_eq!(hunt(vec![run(1, 0, "passed"), run(2, 5, "invalid")]).exit(), Exit::Invalid);
        assert_eq!(hunt(vec![run(1, 0, "passed"), run(2, 0, "passed")]).exit(), Exit::Pass);
        assert_eq!(hunt(vec![run(1, 0, "passed"), run(2, 1, "undecided")]).exit(), Exit::Invalid, "an undecided check is no failure");
        assert_eq!(hunt(vec![run(1, 3, "error")]).exit(), Exit::Environment);
        let h = hunt(vec![run(1, 0, "passed"), run(2, 5, "invalid"), run(3, 1, "failed"), run(4, 1, "failed")]);
        assert_eq!(h.time_to_first_failure_s(), Some(3.0));
        let text = h.render();
        assert!(text.contains("4 run(s), 2 failed, 1 invalid or unfinished; failure rate 67%"), "{text}");
        assert!(text.contains("seed 3:") && text.contains("d/seed-4"), "{text}");
    }
}

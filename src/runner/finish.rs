//! After the run: the checks on what was recorded (the watch check; the linearizability
//! check — a register history split into epochs at snapshot-restores, a history of etcd's API
//! checked whole by the etcd model), then `summary.json` and `report.html`.
//! A record that could not be written makes the run invalid, and a history that could not
//! be written completely is not checked: its verdict is unknown, never a pass on half a
//! history.

use super::drive::Drove;
use super::CHECK_TIMEOUT;
use crate::checker::etcd;
use crate::checker::Verdict;
use crate::events::Event;
use crate::gates::{self, CheckerStatus};
use crate::history::{Entry, HistoryWriter};
use crate::report::summary::{self, Summary, SummaryInput};
use crate::scenario::Scenario;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the summary says about the run beyond its records.
pub(super) struct About<'a> {
    /// The scenario as it ran.
    pub scenario: &'a Scenario,
    /// The seed.
    pub seed: u64,
    /// `process` or `docker`.
    pub backend: &'a str,
    /// The members' etcd version.
    pub etcd_version: &'a str,
    /// The run directory.
    pub run_dir: &'a Path,
    /// The run id its resources are labelled with.
    pub run_id: &'a str,
    /// When the run started (UTC, RFC 3339).
    pub started_at: &'a str,
}

/// Check what the run recorded, write `summary.json` and `report.html`; the summary.
/// `events_error` is the first error writing `events.jsonl`. The checks stop soon after
/// `cancel` is set (Ctrl-C), and the run is then interrupted.
pub(super) fn finish(about: &About, drove: Drove, events: &[Event], events_error: Option<String>, cancel: &AtomicBool) -> Summary {
    let (s, run_dir) = (about.scenario, about.run_dir);
    let Drove { recorded, consistency, mut invalid, interrupted, workload_end_ns } = drove;
    let history = &recorded.history;
    // Records lost make the run invalid ("could not write <file>: <os error>").
    invalid.extend([recorded.history_error.clone(), events_error, recorded.watch_error.clone()].into_iter().flatten());
    // The watch check (pure, over watch.jsonl as recorded and the history).
    let watch = recorded.watch.as_deref().map(|r| crate::checker::watch::check(r, history));
    if let Some(w) = watch.as_ref().filter(|w| !w.ok) {
        let first = w.first_problem.as_deref().unwrap_or("");
        eprintln!("{}", crate::markup::terminal(&format!("faultline: watch guarantees broken ({}); first, {first}", w.problems())));
    }
    // The linearizability check, on the history as written (the same code as `faultline check`);
    // split into epochs at snapshot-restores, each checked on its own.
    let restores = crate::epochs::restores(events);
    let (answer, epochs) = match &recorded.history_error {
        Some(error) => (Answer { linearizable: None, status: CheckerStatus::HistoryNotWritten { error: error.clone() } }, Vec::new()),
        None => check_linearizability(history, &restores, run_dir, &s.name, cancel),
    };
    let input = SummaryInput {
        scenario: s,
        seed: about.seed,
        backend: about.backend,
        etcd_version: about.etcd_version,
        run_dir,
        history,
        events,
        workload_ns: (0, workload_end_ns),
        consistency: consistency.as_ref(),
        linearizable: answer.linearizable,
        checker: answer.status,
        invalid,
        interrupted: interrupted || cancel.load(Ordering::Relaxed),
        harness: summary::harness_usage(),
        watch: watch.as_ref(),
    };
    let mut sum = summary::build(&input);
    (sum.run_id, sum.started_at) = (about.run_id.to_string(), about.started_at.to_string());
    sum.restores = restore_spans(history, &restores);
    sum.epochs = epochs;
    // Measured after building the summary, so its memory peak is counted too.
    sum.harness = summary::harness_usage();
    // The page is drawn from summary.json, and is a convenience: failing to draw it is a
    // note, never a failed run.
    if write_summary(&mut sum, run_dir) {
        if let Err(e) = crate::report::html::write(run_dir) {
            eprintln!("{}", crate::markup::terminal(&format!("faultline: note: could not write report.html: {e}")));
        }
    }
    sum
}

/// Write `summary.json`. When it cannot be written the run is invalid (exit 5), and the
/// terminal is told why in one paragraph, since the file that would say so is not there.
/// Whether it was written.
fn write_summary(sum: &mut Summary, run_dir: &Path) -> bool {
    let path = run_dir.join("summary.json");
    let Err(e) = summary::write(sum, &path) else {
        return true;
    };
    sum.invalidate(format!("could not write summary.json: {e}"));
    let said = format!(
        "faultline: could not write {}: {e}. The run is invalid (exit {}): {}. Make room under {} (or give --out a directory with space) and run the scenario again.",
        path.display(),
        sum.exit_code,
        sum.verdict_reasons.join("; "),
        run_dir.display()
    );
    eprintln!("{}", crate::markup::terminal(&said));
    false
}

/// The snapshot-restores with the writes each lost by design.
fn restore_spans(history: &[Entry], restores: &[crate::epochs::Restore]) -> Vec<summary::RestoreSpan> {
    let lost = crate::epochs::lost_by_design(history, restores);
    restores
        .iter()
        .zip(lost)
        .map(|(r, n)| summary::RestoreSpan {
            snapshot: r.snapshot.clone(),
            revision: r.revision,
            from_s: gates::round3(r.began_t as f64 / 1e9),
            to_s: gates::round3(r.ended_t as f64 / 1e9),
            lost_writes: n,
            message: summary::RestoreSpan::describe(n, r.revision),
        })
        .collect()
}

/// The linearizability check's answer: `None` when there is none, the status saying why.
struct Answer {
    linearizable: Option<bool>,
    status: CheckerStatus,
}

/// The linearizability check of the run's history: unknown without operations; the history
/// file as written, or its epochs when the run had snapshot-restores.
fn check_linearizability(
    history: &[Entry],
    restores: &[crate::epochs::Restore],
    run_dir: &Path,
    name: &str,
    cancel: &AtomicBool,
) -> (Answer, Vec<summary::EpochCheck>) {
    if history.is_empty() {
        return (Answer { linearizable: None, status: CheckerStatus::NoOperations }, Vec::new());
    }
    if restores.is_empty() {
        return (check_history(&run_dir.join("history.jsonl"), run_dir, name, cancel), Vec::new());
    }
    check_epochs(history, restores, run_dir, name, cancel)
}

/// Check one history file; a violation is explained on the terminal and drawn in
/// `linearizability.html`. A history of etcd's API (the `etcd` and `kubernetes` workloads)
/// goes to the etcd model, any other to the register model.
fn check_history(file: &Path, run_dir: &Path, title: &str, cancel: &AtomicBool) -> Answer {
    let unreadable = |error: String| {
        eprintln!("{}", crate::markup::terminal(&format!("faultline: could not check {}: {error}", file.display())));
        Answer { linearizable: None, status: CheckerStatus::HistoryUnreadable { error } }
    };
    match etcd::is_etcd_history(file) {
        Ok(true) => return check_etcd_history(file, run_dir, title, cancel),
        Ok(false) => {}
        Err(error) => return unreadable(error),
    }
    // Read back as written (the same reader as `faultline check`), checked as registers.
    let (model, ops) = match crate::checker::input::jsonl(file) {
        Ok(read) => read,
        Err(error) => return unreadable(error),
    };
    let r = crate::checker::check_cancellable(&model, ops, CHECK_TIMEOUT, cancel);
    if let Some(f) = &r.failure {
        eprintln!("{}", crate::markup::terminal(&format!("faultline: {} is NOT linearizable:\n{}", file.display(), crate::checker::explain::text(f))));
        write_violation_page(&crate::checker::html::render(f, &format!("{title}: not linearizable")), run_dir);
    }
    let status = match r.verdict {
        Verdict::Unknown if r.interrupted => CheckerStatus::Interrupted { seconds: r.seconds },
        Verdict::Unknown => CheckerStatus::TimedOut { limit_s: CHECK_TIMEOUT.as_secs_f64() },
        _ => CheckerStatus::Ran { seconds: r.seconds },
    };
    Answer { linearizable: r.verdict.as_bool(), status }
}

/// Check a history of etcd's API against the etcd model, whole (revisions tie every key to
/// every other). Unknown is interrupted when Ctrl-C stopped it, else undecided with the
/// checker's cause.
fn check_etcd_history(file: &Path, run_dir: &Path, title: &str, cancel: &AtomicBool) -> Answer {
    let ops = match etcd::read_jsonl(file) {
        Ok(ops) => ops,
        Err(error) => {
            eprintln!("{}", crate::markup::terminal(&format!("faultline: could not check {}: {error}", file.display())));
            return Answer { linearizable: None, status: CheckerStatus::HistoryUnreadable { error } };
        }
    };
    let r = etcd::check(&ops, CHECK_TIMEOUT, cancel);
    if let (Verdict::NotLinearizable, Some(v)) = (r.verdict, &r.violation) {
        eprintln!("{}", crate::markup::terminal(&format!("faultline: {} is NOT linearizable:\n{}", file.display(), etcd::explain::text(v))));
        write_violation_page(&etcd::explain::html(v, &format!("{title}: not linearizable")), run_dir);
    }
    Answer { linearizable: r.verdict.as_bool(), status: etcd_status(&r, cancel.load(Ordering::Relaxed)) }
}

/// The checker status of an etcd-model check (`cancelled`: Ctrl-C was pressed).
fn etcd_status(r: &etcd::EtcdCheck, cancelled: bool) -> CheckerStatus {
    match r.verdict {
        Verdict::Unknown if r.interrupted || cancelled => CheckerStatus::Interrupted { seconds: r.seconds },
        Verdict::Unknown => {
            CheckerStatus::Undecided { cause: r.cause.clone().unwrap_or_else(|| "it gave no cause (a bug in faultline: please report it)".to_string()) }
        }
        _ => CheckerStatus::Ran { seconds: r.seconds },
    }
}

/// A history with snapshot-restores: each epoch written as `history.epochN.jsonl` (the
/// restored values first, as synthetic writes) and checked on its own; linearizable when
/// every epoch is, not when any is not, unknown otherwise (the status then says why: the
/// first epoch's that gave no answer).
fn check_epochs(history: &[Entry], restores: &[crate::epochs::Restore], run_dir: &Path, name: &str, cancel: &AtomicBool) -> (Answer, Vec<summary::EpochCheck>) {
    let mut checks = Vec::new();
    let mut seconds = 0.0;
    let mut no_answer: Option<CheckerStatus> = None;
    for epoch in crate::epochs::split(history, restores) {
        let file = run_dir.join(format!("history.epoch{}.jsonl", epoch.index));
        let written = HistoryWriter::create(&file).and_then(|mut w| {
            for e in &epoch.entries {
                w.append(e)?;
            }
            w.flush()
        });
        let answer = match written {
            Ok(()) => check_history(&file, run_dir, &format!("{name}: epoch {}", epoch.index), cancel),
            Err(e) => {
                eprintln!("{}", crate::markup::terminal(&format!("faultline: could not write {}: {e}", file.display())));
                let error = format!("could not write {}: {e}", file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default());
                Answer { linearizable: None, status: CheckerStatus::HistoryNotWritten { error } }
            }
        };
        match answer.status {
            CheckerStatus::Ran { seconds: s } => seconds += s,
            other => {
                no_answer.get_or_insert(other);
            }
        }
        let linearizable = answer.linearizable;
        let file = file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        checks.push(summary::EpochCheck { epoch: epoch.index, file, ops: epoch.ops, restored_keys: epoch.synthetic, linearizable });
        if linearizable == Some(false) {
            // The verdict is decided; the violation page is this epoch's.
            break;
        }
    }
    let linearizable = if checks.iter().any(|c| c.linearizable == Some(false)) {
        Some(false)
    } else if checks.iter().all(|c| c.linearizable == Some(true)) {
        Some(true)
    } else {
        None
    };
    let status = match no_answer {
        Some(why) if linearizable != Some(false) => why,
        _ => CheckerStatus::Ran { seconds },
    };
    (Answer { linearizable, status }, checks)
}

/// `linearizability.html` in the run directory, for a person debugging the violation.
fn write_violation_page(page: &str, run_dir: &Path) {
    let path = run_dir.join("linearizability.html");
    match std::fs::write(&path, page) {
        Ok(()) => eprintln!("{}", crate::markup::terminal(&format!("faultline: wrote {}", path.display()))),
        Err(e) => eprintln!("{}", crate::markup::terminal(&format!("faultline: could not write {}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etcd_check(verdict: Verdict, interrupted: bool) -> etcd::EtcdCheck {
        etcd::EtcdCheck { verdict, violation: None, cause: Some("past the search bound".into()), interrupted, seconds: 2.0, stats: Default::default() }
    }

    #[test]
    fn an_undecided_etcd_check_says_the_checkers_cause_unless_interrupted() {
        assert_eq!(etcd_status(&etcd_check(Verdict::Unknown, false), false), CheckerStatus::Undecided { cause: "past the search bound".into() });
        assert_eq!(etcd_status(&etcd_check(Verdict::Unknown, true), false), CheckerStatus::Interrupted { seconds: 2.0 });
        assert_eq!(etcd_status(&etcd_check(Verdict::Unknown, false), true), CheckerStatus::Interrupted { seconds: 2.0 });
        assert_eq!(etcd_status(&etcd_check(Verdict::Linearizable, false), false), CheckerStatus::Ran { seconds: 2.0 });
        assert_eq!(etcd_status(&etcd_check(Verdict::NotLinearizable, true), true), CheckerStatus::Ran { seconds: 2.0 });
    }

    #[test]
    fn a_runs_etcd_history_goes_to_the_etcd_model_and_a_broken_one_is_unreadable() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("history.jsonl");
        std::fs::write(&file, crate::check::tests::ETCD).unwrap();
        let never = AtomicBool::new(false);
        let a = check_history(&file, d.path(), "t", &never);
        // Never the register reader's refusal: the etcd model's answer, or its cause.
        match (&a.status, a.linearizable) {
            (CheckerStatus::Ran { .. }, Some(_)) => {}
            (CheckerStatus::Undecided { cause }, None) => assert!(!cause.is_empty()),
            other => panic!("{other:?}"),
        }
        std::fs::write(&file, crate::check::tests::ETCD.replace(r#""res":{"rev":2,"range""#, r#""res":{"rev":0,"range""#)).unwrap();
        let a = check_history(&file, d.path(), "t", &never);
        assert!(matches!(&a.status, CheckerStatus::HistoryUnreadable { error } if error.contains(":4: ") && error.contains("at least 1")), "{:?}", a.status);
        assert_eq!(a.linearizable, None);
    }
}

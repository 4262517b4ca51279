//! The gates of `expect:` (docs/formats.md §1, §4) and the run's verdict.
//!
//! Each gate written in the scenario becomes one [`Gate`] with a three-valued
//! [`GateStatus`] and a message that says why (style point 7: Jepsen `merge-valid`, etcd
//! `RobustnessResult`). Merging ranks fail > unknown > pass, and unknown never counts as
//! a pass: a gate that could not be evaluated fails the run.
//!
//! Some gates are *assumptions* rather than claims about etcd: `min_ok_ops` says whether
//! the workload did enough for the other gates to mean anything. A failed assumption
//! makes the run invalid (exit 5, "the test did not test"), not failed (exit 1).
//!
//! [`verdict`] turns the gates, the run's invalid reasons and an interruption into the one
//! typed [`Verdict`], which alone decides the exit code, in this order: interrupted →
//! invalid → a gate failed → a gate unknown (with its cause) → pass.

use crate::error::Exit;
use crate::scenario::Expectations;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Whether the linearizability checker ran, and when it gave no answer, why
/// ([`CheckerStatus::cause`]). `summary.json` holds it as `checker` (`status` plus the
/// variant's fields); older summaries' `{"status": "timed-out"}` still reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum CheckerStatus {
    /// There is no checker in this build (issue 4): `linearizable` cannot be known.
    NotBuilt,
    /// The checker finished.
    Ran {
        /// Seconds it took.
        seconds: f64,
    },
    /// The checker hit its time limit: the answer is unknown.
    TimedOut {
        /// The time limit, s (0 in summaries written before it was recorded).
        #[serde(default)]
        limit_s: f64,
    },
    /// The check was cancelled (Ctrl-C) before it finished.
    Interrupted {
        /// Seconds it had run.
        seconds: f64,
    },
    /// The history holds no operation: there is nothing to check.
    NoOperations,
    /// The history file could not be read back.
    HistoryUnreadable {
        /// Why.
        error: String,
    },
    /// The history could not be written completely (a write to `history.jsonl`, or to an
    /// epoch's file, failed): it is not checked, since a truncated history proves nothing.
    HistoryNotWritten {
        /// The write error.
        error: String,
    },
    /// The etcd model's checker finished without deciding (its search bound, its time limit),
    /// and said why.
    Undecided {
        /// The checker's cause, in words.
        cause: String,
    },
}

impl CheckerStatus {
    /// Why the checker gave no answer, in words; `None` when it answered.
    pub fn cause(&self) -> Option<String> {
        match self {
            CheckerStatus::Ran { .. } => None,
            CheckerStatus::NotBuilt => Some(NO_CHECKER.to_string()),
            CheckerStatus::TimedOut { limit_s } if *limit_s > 0.0 => {
                Some(format!("the linearizability checker hit its time limit of {limit_s} s: the history was neither proven nor refuted"))
            }
            CheckerStatus::TimedOut { .. } => Some("the linearizability checker hit its time limit: the history was neither proven nor refuted".to_string()),
            CheckerStatus::Interrupted { seconds } => {
                Some(format!("the linearizability check was interrupted (Ctrl-C) after {} s: the history was neither proven nor refuted", round3(*seconds)))
            }
            CheckerStatus::NoOperations => Some("no operations to check: the history is empty".to_string()),
            CheckerStatus::HistoryUnreadable { error } => Some(format!("the linearizability checker could not read the history: {error}")),
            CheckerStatus::HistoryNotWritten { error } => Some(format!("the history could not be written completely, so it is not checked: {error}")),
            CheckerStatus::Undecided { cause } => Some(format!("the etcd checker could not decide: {cause}")),
        }
    }
}

/// A gate's outcome. Merging ranks fail > unknown > pass.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    /// The run met the gate.
    Pass,
    /// The run broke the gate.
    Fail,
    /// The gate could not be evaluated; counts as not passed.
    Unknown,
}

impl GateStatus {
    /// The status in capitals, for the terminal: `PASS`, `FAIL`, `UNKNOWN`.
    pub fn label(self) -> &'static str {
        match self {
            GateStatus::Pass => "PASS",
            GateStatus::Fail => "FAIL",
            GateStatus::Unknown => "UNKNOWN",
        }
    }

    fn rank(self) -> u8 {
        match self {
            GateStatus::Pass => 0,
            GateStatus::Unknown => 1,
            GateStatus::Fail => 2,
        }
    }

    /// The worse of two statuses: fail > unknown > pass.
    pub fn merge(self, other: GateStatus) -> GateStatus {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// One gate of `expect:`, evaluated (an entry of `gates` in `summary.json`).
///
/// Times are in milliseconds (`p99`), unavailability in seconds (`max_unavailable`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Gate {
    /// The gate's key in `expect:` (`p99`, `linearizable`, ...).
    pub name: String,
    /// The limit as written, in the gate's unit.
    pub limit: Value,
    /// What the run measured; `null` when it could not be measured.
    pub actual: Value,
    /// `status == pass`.
    pub pass: bool,
    /// Pass, fail or unknown.
    pub status: GateStatus,
    /// Why, in words.
    pub message: String,
    /// A precondition of the run rather than a claim about etcd: when it does not pass,
    /// the run is invalid (exit 5), not failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub assumption: bool,
}

impl Gate {
    fn new(name: &str, limit: Value, actual: Value, status: GateStatus, message: String) -> Self {
        Gate { name: name.to_string(), limit, actual, pass: status == GateStatus::Pass, status, message, assumption: false }
    }
}

/// What the run measured, as the gates need it.
#[derive(Debug, Clone, PartialEq)]
pub struct GateFacts {
    /// Successful operations.
    pub ok_ops: u64,
    /// p99 latency of successful operations, ms; `None` when there was none.
    pub p99_ms: Option<f64>,
    /// Longest window with no successful operation, s.
    pub max_unavailable_s: f64,
    /// Leader changes after the first leader.
    pub leader_changes: u32,
    /// The checker's answer; `None` when it did not run or did not finish.
    pub linearizable: Option<bool>,
    /// Whether the checker ran.
    pub checker: CheckerStatus,
    /// The consistency check's answer; `None` when it was not measured or some member
    /// could not be compared.
    pub consistent: Option<bool>,
    /// Why consistency is not known, when the check ran: the members that could not be
    /// compared, and why.
    pub consistency_gap: Option<String>,
    /// The watch check's answer (no problem found); `None` when the streams were not checked.
    pub watch: Option<bool>,
    /// The watch check's first problem, in words.
    pub watch_problem: Option<String>,
    /// The ops the scenario expects etcd to refuse (`expect: refused`), with what came of them.
    pub refusals: Vec<Refusal>,
}

/// An op the scenario expects etcd to refuse, and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// `rolling-restart at 20s`.
    pub op: String,
    /// etcd refused it (`Some(true)`), carried it out (`Some(false)`); `None` when it did not
    /// run or failed otherwise.
    pub refused: Option<bool>,
    /// What the op said.
    pub detail: String,
}

/// The message of a `linearizable` gate when there is no checker.
pub const NO_CHECKER: &str = "no checker: the linearizability checker is not built yet (issue 4), so this gate cannot pass";

/// The message of a failed `min_ok_ops` assumption (followed by the figures).
pub const TOO_FEW_OPS: &str = "the workload did less than the gates need to mean anything";

/// Round to 3 decimals (µs for ms, ms for s), for JSON and messages.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Evaluate every gate present in `expect`, assumptions first.
///
/// - `min_ok_ops` (assumption): pass iff `ok_ops >= limit`; otherwise fail, which
///   [`verdict`] turns into an invalid run.
/// - `linearizable: X`: pass iff the checker found `X` (so `false` expects a violation,
///   e.g. to show that stale serializable reads are caught). No checker → fail (never a
///   silent pass); no answer → unknown, the message saying why (time limit, interrupted,
///   no operations, the history not written or not readable).
/// - `consistent: X`: pass iff the consistency check found `X`; not measured → unknown.
/// - `max_unavailable`: pass iff the longest window ≤ the limit (seconds).
/// - `max_leader_changes`: pass iff changes ≤ the limit.
/// - `p99`: pass iff p99 ≤ the limit (ms); no successful operation → unknown.
/// - `watch: X`: pass iff the watch check found no problem (`true`) or found one
///   (`false`); streams not checked → unknown. On by default with `workload.watch`.
pub fn evaluate(expect: &Expectations, facts: &GateFacts) -> Vec<Gate> {
    let mut gates = Vec::new();

    if let Some(min) = expect.min_ok_ops {
        let mut g = if facts.ok_ops >= min {
            Gate::new("min_ok_ops", json!(min), json!(facts.ok_ops), GateStatus::Pass, format!("{} successful operations ≥ {min}", facts.ok_ops))
        } else {
            Gate::new(
                "min_ok_ops",
                json!(min),
                json!(facts.ok_ops),
                GateStatus::Fail,
                format!("{TOO_FEW_OPS}: {} successful operations < min_ok_ops {min}", facts.ok_ops),
            )
        };
        g.assumption = true;
        gates.push(g);
    }

    if let Some(want) = expect.linearizable {
        let actual = facts.linearizable.map_or(Value::Null, Value::Bool);
        let (status, message) = match (&facts.checker, facts.linearizable) {
            (CheckerStatus::NotBuilt, _) => (GateStatus::Fail, NO_CHECKER.to_string()),
            (CheckerStatus::Ran { .. }, None) => (GateStatus::Unknown, "the linearizability checker gave no answer".to_string()),
            (CheckerStatus::Ran { .. }, Some(got)) if got == want => {
                (GateStatus::Pass, if got { "the history is linearizable".to_string() } else { "the history is not linearizable, as expected".to_string() })
            }
            (CheckerStatus::Ran { .. }, Some(got)) => (
                GateStatus::Fail,
                if got {
                    "the history is linearizable, but the scenario expects a violation".to_string()
                } else {
                    "the history is NOT linearizable".to_string()
                },
            ),
            // No answer: unknown, with the reason why.
            (other, _) => (GateStatus::Unknown, other.cause().unwrap_or_else(|| "the linearizability checker gave no answer".to_string())),
        };
        gates.push(Gate::new("linearizable", json!(want), actual, status, message));
    }

    if let Some(want) = expect.consistent {
        let actual = facts.consistent.map_or(Value::Null, Value::Bool);
        let (status, message) = match facts.consistent {
            None => (
                GateStatus::Unknown,
                match &facts.consistency_gap {
                    Some(why) => format!("the members could not be compared (not diverged): {why}"),
                    None => "consistency was not measured (members did not answer, or the run ended first)".to_string(),
                },
            ),
            Some(got) if got == want => {
                (GateStatus::Pass, if got { "members agree on revision, hash and key count".to_string() } else { "members diverged, as expected".to_string() })
            }
            Some(got) => (
                GateStatus::Fail,
                if got {
                    "members agree, but the scenario expects them to diverge".to_string()
                } else {
                    "MEMBERS DIVERGED: they disagree on revision, hash or key count".to_string()
                },
            ),
        };
        gates.push(Gate::new("consistent", json!(want), actual, status, message));
    }

    if let Some(want) = expect.watch {
        let actual = facts.watch.map_or(Value::Null, Value::Bool);
        let problem = facts.watch_problem.as_deref().unwrap_or("a problem");
        let (status, message) = match facts.watch {
            None => (GateStatus::Unknown, "the watch streams were not checked (the watchers never started, or the run ended first)".to_string()),
            Some(true) if want => (
                GateStatus::Pass,
                "every watch stream kept every guarantee (ordered, unique, atomic, reliable, resumable, bookmarkable, prev_kv, is_create, filters, start_revision, agreement, caught_up; gated by default with workload.watch)"
                    .to_string(),
            ),
            Some(false) if !want => (GateStatus::Pass, format!("the watch check found a problem, as expected: {problem}")),
            Some(true) => (GateStatus::Fail, "the watch streams are clean, but the scenario expects a problem".to_string()),
            Some(false) => (GateStatus::Fail, format!("WATCH STREAMS BROKEN: {problem}")),
        };
        gates.push(Gate::new("watch", json!(want), actual, status, message));
    }

    for r in &facts.refusals {
        let (status, actual, message) = match r.refused {
            Some(true) => (GateStatus::Pass, json!("refused"), format!("etcd refused the {}, as expected: {}", r.op, r.detail)),
            Some(false) => (GateStatus::Fail, json!("done"), format!("etcd CARRIED OUT the {}, which the scenario expects it to refuse: {}", r.op, r.detail)),
            None => (GateStatus::Unknown, Value::Null, format!("the {} neither was refused nor went through: {}", r.op, r.detail)),
        };
        gates.push(Gate::new("op_refused", json!(r.op), actual, status, message));
    }

    if let Some(limit) = expect.max_unavailable {
        let limit_s = round3(limit.secs());
        let actual_s = round3(facts.max_unavailable_s);
        let (status, cmp) = if actual_s <= limit_s { (GateStatus::Pass, "≤") } else { (GateStatus::Fail, ">") };
        gates.push(Gate::new(
            "max_unavailable",
            json!(limit_s),
            json!(actual_s),
            status,
            format!("longest window without a successful operation {actual_s} s {cmp} {limit_s} s"),
        ));
    }

    if let Some(limit) = expect.max_leader_changes {
        let n = facts.leader_changes;
        let (status, cmp) = if n <= limit { (GateStatus::Pass, "≤") } else { (GateStatus::Fail, ">") };
        gates.push(Gate::new("max_leader_changes", json!(limit), json!(n), status, format!("{n} leader changes {cmp} {limit}")));
    }

    if let Some(limit) = expect.p99 {
        let limit_ms = round3(limit.secs() * 1000.0);
        match facts.p99_ms {
            None => gates.push(Gate::new("p99", json!(limit_ms), Value::Null, GateStatus::Unknown, "no successful operation to measure p99 on".to_string())),
            Some(p99) => {
                let p99 = round3(p99);
                let (status, cmp) = if p99 <= limit_ms { (GateStatus::Pass, "≤") } else { (GateStatus::Fail, ">") };
                gates.push(Gate::new("p99", json!(limit_ms), json!(p99), status, format!("p99 of successful operations {p99} ms {cmp} {limit_ms} ms")));
            }
        }
    }

    gates
}

/// The merged status of all gates (pass when there is none).
pub fn merged(gates: &[Gate]) -> GateStatus {
    gates.iter().fold(GateStatus::Pass, |acc, g| acc.merge(g.status))
}

/// The reasons a run is invalid: the runner's own (`invalid`), then every assumption gate
/// that did not pass, without duplicates.
pub fn invalid_reasons(gates: &[Gate], invalid: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let assumptions = gates.iter().filter(|g| g.assumption && g.status != GateStatus::Pass).map(|g| &g.message);
    for r in invalid.iter().chain(assumptions) {
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

/// The run's outcome, decided once by [`verdict`]: the one owner of a run's exit code
/// ([`Verdict::exit`]). `summary.json` keeps its `exit_code`, `verdict`, `passed` and
/// `verdict_reasons` written from it.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every gate passed and the run is valid (exit 0).
    Pass,
    /// A gate failed (exit 1): the reasons, failures first, then unknown gates.
    Fail {
        /// `name: message` of each gate that did not pass.
        reasons: Vec<String>,
    },
    /// No gate failed, but some could not be evaluated (exit 1: unknown never counts as a
    /// pass); each reason says why (`linearizable: the linearizability checker hit its time
    /// limit of 120 s: ...`).
    Unknown {
        /// `name: message` of each unknown gate.
        reasons: Vec<String>,
    },
    /// The test did not test (exit 5).
    Invalid {
        /// The runner's reasons, then the assumption gates that did not pass.
        reasons: Vec<String>,
    },
    /// The run was interrupted before it finished (exit 5).
    Interrupted {
        /// [`INTERRUPTED`], then any invalid reasons.
        reasons: Vec<String>,
    },
}

impl Verdict {
    /// The exit code (docs/formats.md §4).
    pub fn exit(&self) -> Exit {
        match self {
            Verdict::Pass => Exit::Pass,
            Verdict::Fail { .. } | Verdict::Unknown { .. } => Exit::GateFailed,
            Verdict::Invalid { .. } | Verdict::Interrupted { .. } => Exit::Invalid,
        }
    }

    /// The `verdict` of `summary.json`: `pass`, `fail` (unknown gates included), `invalid`
    /// or `interrupted`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail { .. } | Verdict::Unknown { .. } => "fail",
            Verdict::Invalid { .. } => "invalid",
            Verdict::Interrupted { .. } => "interrupted",
        }
    }

    /// Every gate passed and the run is valid.
    pub fn passed(&self) -> bool {
        *self == Verdict::Pass
    }

    /// Why: the invalid reasons, or the gates that did not pass (`name: message`); empty
    /// when passed.
    pub fn reasons(&self) -> &[String] {
        match self {
            Verdict::Pass => &[],
            Verdict::Fail { reasons } | Verdict::Unknown { reasons } | Verdict::Invalid { reasons } | Verdict::Interrupted { reasons } => reasons,
        }
    }
}

/// The message that leads the reasons of an interrupted run.
pub const INTERRUPTED: &str = "the run was interrupted before it finished: the test did not test";

/// Decide the run's outcome, in this order:
///
/// 1. interrupted → exit 5, label `interrupted` (an interrupted run tested less than it
///    was asked to; the contract has no code of its own for it);
/// 2. any invalid reason (the runner's, or an assumption gate such as `min_ok_ops` that
///    did not pass) → exit 5, label `invalid`;
/// 3. any gate failed → exit 1, label `fail`; else any gate unknown → exit 1, label `fail`
///    ([`Verdict::Unknown`], the reasons saying why);
/// 4. otherwise exit 0, label `pass`.
///
/// Gates are still evaluated and reported for invalid runs, but they do not decide the
/// exit code: checking on a failed precondition proves nothing (style point 7).
pub fn verdict(gates: &[Gate], invalid: &[String], interrupted: bool) -> Verdict {
    let invalid = invalid_reasons(gates, invalid);
    if interrupted {
        let mut reasons = vec![INTERRUPTED.to_string()];
        reasons.extend(invalid.into_iter().filter(|r| r != INTERRUPTED));
        return Verdict::Interrupted { reasons };
    }
    if !invalid.is_empty() {
        return Verdict::Invalid { reasons: invalid };
    }
    let merged = merged(gates);
    if merged != GateStatus::Pass {
        // Failures first, then unknowns.
        let mut bad: Vec<&Gate> = gates.iter().filter(|g| g.status != GateStatus::Pass).collect();
        bad.sort_by_key(|g| std::cmp::Reverse(g.status.rank()));
        let reasons = bad.iter().map(|g| format!("{}: {}", g.name, g.message)).collect();
        return if merged == GateStatus::Fail { Verdict::Fail { reasons } } else { Verdict::Unknown { reasons } };
    }
    Verdict::Pass
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::units::Span;
    use std::time::Duration;

    fn facts() -> GateFacts {
        GateFacts {
            ok_ops: 5000,
            p99_ms: Some(9.8),
            max_unavailable_s: 1.6,
            leader_changes: 2,
            linearizable: Some(true),
            checker: CheckerStatus::Ran { seconds: 0.5 },
            consistent: Some(true),
            consistency_gap: None,
            watch: None,
            watch_problem: None,
            refusals: Vec::new(),
        }
    }

    #[test]
    fn an_op_expected_refused_passes_only_when_etcd_refused_it() {
        let gate = |refused: Option<bool>| {
            let mut f = facts();
            f.refusals = vec![Refusal { op: "rolling-restart at 20s".into(), refused, detail: "n3 would not run".into() }];
            evaluate(&Expectations::default(), &f).into_iter().find(|g| g.name == "op_refused").unwrap()
        };
        assert_eq!(gate(Some(true)).status, GateStatus::Pass);
        let done = gate(Some(false));
        assert_eq!(done.status, GateStatus::Fail);
        assert!(done.message.contains("CARRIED OUT the rolling-restart at 20s"), "{}", done.message);
        assert_eq!(gate(None).status, GateStatus::Unknown);
    }

    fn all_expect() -> Expectations {
        Expectations {
            linearizable: Some(true),
            consistent: Some(true),
            max_unavailable: Some(Span(Duration::from_secs(5))),
            max_leader_changes: Some(3),
            p99: Some(Span(Duration::from_millis(800))),
            min_ok_ops: Some(1000),
            watch: None,
        }
    }

    fn gate<'a>(gates: &'a [Gate], name: &str) -> &'a Gate {
        gates.iter().find(|g| g.name == name).unwrap_or_else(|| panic!("no gate {name}"))
    }

    #[test]
    fn only_the_gates_written_are_evaluated() {
        assert!(evaluate(&Expectations::default(), &facts()).is_empty());
        let e = Expectations { p99: Some(Span(Duration::from_millis(800))), ..Default::default() };
        let g = evaluate(&e, &facts());
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].name, "p99");
    }

    #[test]
    fn everything_within_limits_passes_with_design_units() {
        let g = evaluate(&all_expect(), &facts());
        assert_eq!(g.len(), 6);
        assert!(g.iter().all(|g| g.pass && g.status == GateStatus::Pass), "{g:#?}");
        let p99 = gate(&g, "p99");
        assert_eq!(p99.limit, json!(800.0));
        assert_eq!(p99.actual, json!(9.8));
        let un = gate(&g, "max_unavailable");
        assert_eq!(un.limit, json!(5.0));
        assert_eq!(un.actual, json!(1.6));
        assert_eq!(g[0].name, "min_ok_ops", "assumptions come first");
        let v = verdict(&g, &[], false);
        assert_eq!((v.exit(), v.passed(), v.label()), (Exit::Pass, true, "pass"));
        assert!(v.reasons().is_empty());
    }

    #[test]
    fn gate_serialises_like_the_design_example() {
        let e = Expectations { p99: Some(Span(Duration::from_millis(800))), ..Default::default() };
        let g = evaluate(&e, &facts());
        let v = serde_json::to_value(&g[0]).unwrap();
        assert_eq!(v["name"], "p99");
        assert_eq!(v["limit"], 800.0);
        assert_eq!(v["actual"], 9.8);
        assert_eq!(v["pass"], true);
        assert_eq!(v["status"], "pass");
        assert!(v.get("assumption").is_none());
        let back: Gate = serde_json::from_value(v).unwrap();
        assert_eq!(back, g[0]);
    }

    #[test]
    fn limits_are_inclusive_and_exceeding_fails() {
        let e = all_expect();
        let mut f = facts();
        f.max_unavailable_s = 5.0;
        f.leader_changes = 3;
        f.p99_ms = Some(800.0);
        assert!(evaluate(&e, &f).iter().all(|g| g.pass));
        f.max_unavailable_s = 5.2;
        f.leader_changes = 4;
        f.p99_ms = Some(812.5);
        let g = evaluate(&e, &f);
        for name in ["max_unavailable", "max_leader_changes", "p99"] {
            assert_eq!(gate(&g, name).status, GateStatus::Fail, "{name}");
            assert!(!gate(&g, name).pass);
        }
        let v = verdict(&g, &[], false);
        assert_eq!((v.exit(), v.label()), (Exit::GateFailed, "fail"));
        assert_eq!(v.reasons().len(), 3);
        assert!(v.reasons()[0].starts_with("max_unavailable: "), "{:?}", v.reasons());
    }

    #[test]
    fn linearizable_without_a_checker_fails_never_passes_silently() {
        let e = Expectations { linearizable: Some(true), ..Default::default() };
        let mut f = facts();
        f.checker = CheckerStatus::NotBuilt;
        f.linearizable = None;
        let g = evaluate(&e, &f);
        assert_eq!(g[0].status, GateStatus::Fail);
        assert_eq!(g[0].message, NO_CHECKER);
        assert_eq!(g[0].actual, Value::Null);
        // Even a stray answer does not make it pass without a checker.
        f.linearizable = Some(true);
        assert_eq!(evaluate(&e, &f)[0].status, GateStatus::Fail);
        assert_eq!(verdict(&evaluate(&e, &f), &[], false).exit(), Exit::GateFailed);
    }

    #[test]
    fn linearizable_timed_out_or_unanswered_is_unknown_and_not_passed() {
        let e = Expectations { linearizable: Some(true), ..Default::default() };
        let mut f = facts();
        f.checker = CheckerStatus::TimedOut { limit_s: 120.0 };
        f.linearizable = None;
        let g = evaluate(&e, &f);
        assert_eq!(g[0].status, GateStatus::Unknown);
        assert!(!g[0].pass);
        assert!(g[0].message.contains("time limit of 120 s"), "{}", g[0].message);
        let v = verdict(&g, &[], false);
        assert_eq!((v.exit(), v.passed(), v.label()), (Exit::GateFailed, false, "fail"));
        assert!(matches!(v, Verdict::Unknown { .. }), "{v:?}");
        f.checker = CheckerStatus::Ran { seconds: 1.0 };
        assert_eq!(evaluate(&e, &f)[0].status, GateStatus::Unknown);
    }

    #[test]
    fn an_unknown_linearizable_gate_says_why_the_checker_gave_no_answer() {
        let e = Expectations { linearizable: Some(true), ..Default::default() };
        let mut f = facts();
        f.linearizable = None;
        for (status, says) in [
            (CheckerStatus::Interrupted { seconds: 3.25 }, "interrupted (Ctrl-C) after 3.25 s"),
            (CheckerStatus::NoOperations, "no operations to check"),
            (CheckerStatus::HistoryUnreadable { error: "history.jsonl:3: expected an entry".into() }, "could not read the history: history.jsonl:3"),
            (
                CheckerStatus::HistoryNotWritten { error: "could not write history.jsonl: No space left on device (os error 28)".into() },
                "could not be written completely",
            ),
            (
                CheckerStatus::Undecided { cause: "3 unacknowledged revisions past the search bound".into() },
                "the etcd checker could not decide: 3 unacknowledged",
            ),
        ] {
            assert_eq!(status.cause().as_deref().map(|c| c.contains(says)), Some(true), "{status:?}: {:?}", status.cause());
            f.checker = status;
            let g = evaluate(&e, &f);
            assert_eq!(g[0].status, GateStatus::Unknown, "{:?}", f.checker);
            assert!(g[0].message.contains(says), "{}", g[0].message);
            let v = verdict(&g, &[], false);
            assert_eq!(v.exit(), Exit::GateFailed);
            assert!(v.reasons()[0].starts_with("linearizable: ") && v.reasons()[0].contains(says), "{:?}", v.reasons());
        }
        // A stray answer does not make an unanswered check pass.
        f.linearizable = Some(true);
        assert_eq!(evaluate(&e, &f)[0].status, GateStatus::Unknown);
        assert_eq!(CheckerStatus::Ran { seconds: 1.0 }.cause(), None);
        // As summary.json holds it.
        let undecided = CheckerStatus::Undecided { cause: "c".into() };
        assert_eq!(serde_json::to_string(&undecided).unwrap(), r#"{"status":"undecided","cause":"c"}"#);
        assert_eq!(serde_json::from_str::<CheckerStatus>(r#"{"status":"undecided","cause":"c"}"#).unwrap(), undecided);
    }

    #[test]
    fn a_failed_gate_outranks_an_unknown_one_in_the_verdict() {
        let mut f = facts();
        f.linearizable = None;
        f.checker = CheckerStatus::NoOperations;
        f.p99_ms = Some(5000.0);
        let g = evaluate(&all_expect(), &f);
        let v = verdict(&g, &[], false);
        assert!(matches!(v, Verdict::Fail { .. }), "{v:?}");
        assert!(v.reasons()[0].starts_with("p99: "), "failures first: {:?}", v.reasons());
        assert!(v.reasons()[1].starts_with("linearizable: no operations"), "{:?}", v.reasons());
    }

    #[test]
    fn linearizable_compares_with_the_expected_value() {
        let mut f = facts();
        f.linearizable = Some(false);
        let yes = Expectations { linearizable: Some(true), ..Default::default() };
        let g = evaluate(&yes, &f);
        assert_eq!(g[0].status, GateStatus::Fail);
        assert!(g[0].message.contains("NOT linearizable"));
        let no = Expectations { linearizable: Some(false), ..Default::default() };
        assert_eq!(evaluate(&no, &f)[0].status, GateStatus::Pass);
        f.linearizable = Some(true);
        assert_eq!(evaluate(&no, &f)[0].status, GateStatus::Fail);
    }

    #[test]
    fn consistent_unmeasured_is_unknown_and_divergence_fails() {
        let e = Expectations { consistent: Some(true), ..Default::default() };
        let mut f = facts();
        f.consistent = None;
        assert_eq!(evaluate(&e, &f)[0].status, GateStatus::Unknown);
        f.consistent = Some(false);
        let g = evaluate(&e, &f);
        assert_eq!(g[0].status, GateStatus::Fail);
        assert!(g[0].message.contains("MEMBERS DIVERGED"));
        f.consistent = Some(true);
        assert_eq!(evaluate(&e, &f)[0].status, GateStatus::Pass);
        // Issue 15 item 5: members that did not answer are not compared, not diverged.
        f.consistent = None;
        f.consistency_gap = Some("n1 did not answer: connection refused".into());
        let g = evaluate(&e, &f);
        assert_eq!(g[0].status, GateStatus::Unknown);
        assert_eq!(g[0].message, "the members could not be compared (not diverged): n1 did not answer: connection refused");
    }

    #[test]
    fn watch_unchecked_is_unknown_and_a_problem_fails_in_words() {
        let e = Expectations { watch: Some(true), ..Default::default() };
        let mut f = facts();
        assert_eq!(evaluate(&e, &f)[0].status, GateStatus::Unknown);
        f.watch = Some(true);
        let g = evaluate(&e, &f);
        assert_eq!((g[0].name.as_str(), g[0].status), ("watch", GateStatus::Pass));
        assert!(g[0].message.contains("by default"), "{}", g[0].message);
        f.watch = Some(false);
        f.watch_problem = Some("n2's stream lacks revision 12".into());
        let g = evaluate(&e, &f);
        assert_eq!(g[0].status, GateStatus::Fail);
        assert!(g[0].message.contains("WATCH STREAMS BROKEN: n2's stream lacks revision 12"));
        assert_eq!(verdict(&g, &[], false).exit(), Exit::GateFailed);
    }

    #[test]
    fn p99_without_successful_operations_is_unknown() {
        let e = Expectations { p99: Some(Span(Duration::from_millis(800))), ..Default::default() };
        let mut f = facts();
        f.p99_ms = None;
        let g = evaluate(&e, &f);
        assert_eq!(g[0].status, GateStatus::Unknown);
        assert_eq!(g[0].actual, Value::Null);
    }

    #[test]
    fn too_few_ops_makes_the_run_invalid_not_failed() {
        let mut f = facts();
        f.ok_ops = 10;
        let g = evaluate(&all_expect(), &f);
        let min = gate(&g, "min_ok_ops");
        assert!(min.assumption);
        assert_eq!(min.status, GateStatus::Fail);
        assert!(min.message.starts_with(TOO_FEW_OPS));
        let v = verdict(&g, &[], false);
        assert_eq!((v.exit(), v.passed(), v.label()), (Exit::Invalid, false, "invalid"));
        assert_eq!(v.reasons().len(), 1);
        assert!(v.reasons()[0].starts_with(TOO_FEW_OPS));
        // Enough ops: an ordinary pass.
        f.ok_ops = 1000;
        assert_eq!(verdict(&evaluate(&all_expect(), &f), &[], false).exit(), Exit::Pass);
    }

    #[test]
    fn invalid_wins_over_failed_gates() {
        let mut f = facts();
        f.p99_ms = Some(5000.0);
        let g = evaluate(&all_expect(), &f);
        let why = vec!["fault 0 (kill n1) could not be shown to have taken effect".to_string()];
        let v = verdict(&g, &why, false);
        assert_eq!((v.exit(), v.label()), (Exit::Invalid, "invalid"));
        assert_eq!(v.reasons(), why);
    }

    #[test]
    fn interrupted_is_invalid_with_its_own_label() {
        let g = evaluate(&all_expect(), &facts());
        let v = verdict(&g, &[], true);
        assert_eq!((v.exit(), v.passed(), v.label()), (Exit::Invalid, false, "interrupted"));
        assert_eq!(v.reasons(), [INTERRUPTED.to_string()]);
        let v = verdict(&g, &["cluster never became healthy".to_string()], true);
        assert_eq!(v.label(), "interrupted");
        assert_eq!(v.reasons().len(), 2);
        assert_eq!(v.exit().code(), 5);
    }

    #[test]
    fn merge_ranks_fail_over_unknown_over_pass() {
        use GateStatus::*;
        assert_eq!(Pass.merge(Unknown), Unknown);
        assert_eq!(Unknown.merge(Pass), Unknown);
        assert_eq!(Unknown.merge(Fail), Fail);
        assert_eq!(Fail.merge(Unknown), Fail);
        assert_eq!(Pass.merge(Pass), Pass);
        assert_eq!(merged(&[]), Pass);
    }

    #[test]
    fn invalid_reasons_are_not_duplicated() {
        let mut f = facts();
        f.ok_ops = 1;
        let g = evaluate(&all_expect(), &f);
        let first = invalid_reasons(&g, &[]);
        assert_eq!(invalid_reasons(&g, &first), first);
    }

    #[test]
    fn checker_status_serialises_tagged() {
        assert_eq!(serde_json::to_value(CheckerStatus::NotBuilt).unwrap(), json!({"status": "not-built"}));
        assert_eq!(serde_json::to_value(CheckerStatus::Ran { seconds: 1.5 }).unwrap(), json!({"status": "ran", "seconds": 1.5}));
        assert_eq!(serde_json::to_value(CheckerStatus::TimedOut { limit_s: 120.0 }).unwrap(), json!({"status": "timed-out", "limit_s": 120.0}));
        assert_eq!(serde_json::to_value(CheckerStatus::NoOperations).unwrap(), json!({"status": "no-operations"}));
        // A summary written before the limit was recorded still reads.
        let old: CheckerStatus = serde_json::from_value(json!({"status": "timed-out"})).unwrap();
        assert_eq!(old, CheckerStatus::TimedOut { limit_s: 0.0 });
        let back: CheckerStatus = serde_json::from_value(json!({"status": "history-not-written", "error": "e"})).unwrap();
        assert_eq!(back, CheckerStatus::HistoryNotWritten { error: "e".into() });
    }
}

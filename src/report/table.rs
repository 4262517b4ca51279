//! The terminal report: a compact rendering of a [`Summary`] for a person at a terminal
//! (or a CI log), ending with one verdict line.
//!
//! Sections, in order: header (scenario, seed, backend, etcd, duration, run dir),
//! operations, latency, leaders, unavailability, faults, linearizability and consistency,
//! gates, verdict. Long lists are cut (the whole list is in `summary.json`), so a typical
//! run fits in about 60 lines. No colour: the text is the same on a terminal and in a log,
//! and the loud lines (divergence, non-linearizable) are loud in capitals.

use super::summary::Summary;
use crate::gates::{CheckerStatus, Gate, GateStatus};
use std::fmt::Write as _;
use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Style};

/// Rows shown of the leader timeline before cutting.
const MAX_LEADERS: usize = 10;
/// Rows shown of the unavailability windows before cutting.
const MAX_WINDOWS: usize = 8;
/// Rows shown of the fault timeline before cutting.
const MAX_FAULTS: usize = 15;
/// Kinds of error shown on the `errors` line before cutting.
const MAX_ERRORS: usize = 5;

/// A number with at most 3 decimals and no trailing zeros: `1.234`, `9.8`, `850`.
fn num(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A table in the `psql` style; the columns whose index is in `numeric` are right-aligned.
fn table(header: &[&str], rows: Vec<Vec<String>>, numeric: &[usize]) -> String {
    let mut b = Builder::default();
    b.push_record(header.iter().map(|h| h.to_string()));
    for r in rows {
        b.push_record(r);
    }
    let mut t = b.build();
    t.with(Style::psql());
    for &c in numeric {
        t.modify(Columns::one(c), Alignment::right());
    }
    t.to_string()
}

fn push_table(out: &mut String, header: &[&str], rows: Vec<Vec<String>>, numeric: &[usize]) {
    out.push_str(&table(header, rows, numeric));
    out.push('\n');
}

fn more(out: &mut String, shown: usize, total: usize) {
    if total > shown {
        let _ = writeln!(out, "  … and {} more (see summary.json)", total - shown);
    }
}

/// A gate's value with its unit.
fn gate_value(g: &Gate, v: &serde_json::Value) -> String {
    let unit = match g.name.as_str() {
        "p99" => " ms",
        "max_unavailable" => " s",
        _ => "",
    };
    match v {
        serde_json::Value::Null => "—".to_string(),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() => format!("{}{unit}", num(x)),
            _ => format!("{n}{unit}"),
        },
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The loud line shown when members that answered diverged, if they did (members that did
/// not answer have not diverged: they could not be compared).
fn divergence(s: &Summary) -> Option<String> {
    let c = s.consistency.as_ref()?;
    if c.consistent || !c.diverged() {
        return None;
    }
    let what = if c.differences.is_empty() { "the members disagree on revision, hash or key count".to_string() } else { c.differences.join("; ") };
    Some(format!("!!! MEMBERS DIVERGED: {what} !!!"))
}

/// The watch check: one line, a row per stream, and the broken guarantees, each with its
/// first violation.
fn watch(out: &mut String, s: &Summary) {
    let Some(w) = &s.watch else { return };
    let life = format!("{} resumption{}, {} compaction{} reported", w.resumed, plural(w.resumed), w.compacted, plural(w.compacted));
    if w.ok {
        let _ = writeln!(out, "watch  {} streams · {} events · every guarantee held · {life}", w.streams, w.events);
    } else {
        let _ = writeln!(out, "watch  {} streams · {} events · !!! {} !!! · {life}", w.streams, w.events, w.problems().to_uppercase());
    }
    let rows = w
        .watchers
        .iter()
        .map(|m| {
            let rev = |r: Option<i64>| r.map_or_else(|| "—".to_string(), |r| r.to_string());
            let name = if m.watcher.is_empty() { m.member.clone() } else { m.watcher.clone() };
            vec![
                name,
                m.member.clone(),
                m.events.to_string(),
                rev(m.from_revision),
                rev(m.last_revision),
                m.resumed.to_string(),
                m.compacted.to_string(),
                m.problems(),
            ]
        })
        .collect();
    push_table(out, &["stream", "member", "events", "from rev", "last rev", "resumed", "compacted", "problems"], rows, &[2, 3, 4, 5, 6]);
    for (g, n) in w.guarantees.iter().filter(|(_, n)| **n > 0) {
        let first = w.violations.iter().find(|v| v.guarantee == *g).map_or(String::new(), |v| format!(": {}", v.message));
        let _ = writeln!(out, "  {g} broken ({n}){first}");
    }
    if let Some(p) = &w.first_problem {
        let _ = writeln!(out, "  first problem: {p}");
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Render the summary for a terminal.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();

    // Header.
    let _ = writeln!(out, "faultline · {} · seed {} · {} · etcd {} · {} s", s.scenario, s.seed, s.backend, s.etcd_version, num(s.duration_s));
    let _ = writeln!(out, "run dir {} · harness {} s CPU, {} MiB peak RSS", s.run_dir, num(s.harness.cpu_s), num(s.harness.peak_rss_mib));
    if !s.version_changes.is_empty() {
        let _ = writeln!(out, "versions at the end: {}", s.versions_line().unwrap_or_default());
    }
    out.push('\n');

    // Operations and latency.
    let not_applied = if s.ops.cas_not_applied > 0 { format!(" · {} cas not applied (compare false)", s.ops.cas_not_applied) } else { String::new() };
    let _ = writeln!(
        out,
        "operations  {} total · {} ok · {} fail{not_applied} · {} info · {} ok/s",
        s.ops.total,
        s.ops.ok,
        s.ops.fail,
        s.ops.info,
        num(s.throughput_ok_per_s)
    );
    if !s.errors.is_empty() {
        let mut by: Vec<(&String, &u64)> = s.errors.iter().collect();
        by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = by.iter().take(MAX_ERRORS).map(|(m, n)| format!("{n} {m}")).collect();
        let rest = if by.len() > MAX_ERRORS { format!(" · … {} more kinds", by.len() - MAX_ERRORS) } else { String::new() };
        let _ = writeln!(out, "errors      {}{rest}", shown.join(" · "));
    }
    let rows = [("all", &s.latency_ms.all), ("read", &s.latency_ms.read), ("write", &s.latency_ms.write), ("cas", &s.latency_ms.cas)]
        .iter()
        .map(|(name, p)| {
            let mut r = vec![name.to_string(), p.count.to_string()];
            if p.count == 0 {
                r.extend(std::iter::repeat_n("—".to_string(), 5));
            } else {
                r.extend([p.p50, p.p90, p.p99, p.p999, p.max].map(num));
            }
            r
        })
        .collect();
    push_table(&mut out, &["latency ms", "count", "p50", "p90", "p99", "p99.9", "max"], rows, &[1, 2, 3, 4, 5, 6]);
    out.push('\n');

    // Leaders.
    match s.leaders.len() {
        0 => out.push_str("leaders  none seen\n"),
        n => {
            let _ = writeln!(out, "leaders  {} change{} after the first", s.leader_changes, if s.leader_changes == 1 { "" } else { "s" });
            let rows = s.leaders.iter().take(MAX_LEADERS).map(|l| vec![num(l.t_s), l.member.clone(), l.term.to_string()]).collect();
            push_table(&mut out, &["t s", "member", "term"], rows, &[0, 2]);
            more(&mut out, MAX_LEADERS, n);
        }
    }

    // Unavailability.
    let _ = write!(out, "unavailable  longest {} s", num(s.max_unavailable_s));
    if s.unavailability.is_empty() {
        out.push_str(" · no window ≥ 250 ms\n");
    } else {
        let n = s.unavailability.len();
        let _ = writeln!(out, " · {n} window{} ≥ 250 ms", if n == 1 { "" } else { "s" });
        let rows = s.unavailability.iter().take(MAX_WINDOWS).map(|w| vec![num(w.from_s), num(w.to_s), num(w.len_s())]).collect();
        push_table(&mut out, &["from s", "to s", "length s"], rows, &[0, 1, 2]);
        more(&mut out, MAX_WINDOWS, n);
    }

    // Faults.
    if s.faults.is_empty() {
        out.push_str("faults  none\n");
    } else {
        let n = s.faults.len();
        let _ = writeln!(out, "faults  {n}");
        let rows = s
            .faults
            .iter()
            .take(MAX_FAULTS)
            .map(|f| {
                let kind = match f.params.get("mode").and_then(|m| m.as_str()) {
                    Some(mode) => format!("{} ({mode})", f.kind),
                    None => f.kind.clone(),
                };
                vec![
                    num(f.from_s),
                    f.to_s.map_or_else(|| "never healed".to_string(), num),
                    kind,
                    format!("{} → {}", f.target, f.targets.join(",")),
                    f.mechanism.clone(),
                ]
            })
            .collect();
        push_table(&mut out, &["from s", "to s", "kind", "targets", "mechanism"], rows, &[0, 1]);
        more(&mut out, MAX_FAULTS, n);
    }
    for r in &s.restores {
        let _ = writeln!(out, "restore  {} (revision {}) {} → {} s: {}", r.snapshot, r.revision, num(r.from_s), num(r.to_s), r.message);
    }
    out.push('\n');

    // Linearizability.
    let lin = match (&s.checker, s.linearizable) {
        (CheckerStatus::NotBuilt, _) => "not checked: the checker is not built yet (issue 4)".to_string(),
        (CheckerStatus::Ran { seconds }, Some(true)) => {
            format!("yes (checked in {} s)", num(*seconds))
        }
        (CheckerStatus::Ran { seconds }, Some(false)) => {
            format!("!!! NOT LINEARIZABLE !!! (checked in {} s)", num(*seconds))
        }
        // No answer: say why.
        (c, _) => format!("UNKNOWN: {}", s.linearizable_cause.clone().or_else(|| c.cause()).unwrap_or_else(|| "the checker gave no answer".to_string())),
    };
    let _ = writeln!(out, "linearizable  {lin}");
    if !s.epochs.is_empty() {
        let each: Vec<String> = s
            .epochs
            .iter()
            .map(|e| {
                let v = match e.linearizable {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "unknown",
                };
                format!("epoch {} ({} ops) {v}", e.epoch, e.ops)
            })
            .collect();
        // A failing epoch ends the check: the later ones are not listed.
        let n = s.restores.len().max(s.epochs.len() - 1) + 1;
        let _ = writeln!(out, "              checked as {n} epochs split at the restores: {}", each.join(", "));
    }

    if let Some(c) = &s.corruption {
        let _ = writeln!(out, "corruption   {}", c.line());
    }

    // Consistency.
    if let Some(c) = s.consistency.as_ref().filter(|c| !c.skipped.is_empty()) {
        let _ = writeln!(out, "consistency  left out by design: {}", c.skipped.join("; "));
    }
    match &s.consistency {
        None => out.push_str("consistency  not measured\n"),
        Some(c) => {
            let rev = c.revision.map_or_else(|| "—".to_string(), |r| r.to_string());
            if c.consistent {
                let _ = writeln!(out, "consistency  members agree at revision {rev} (waited {} s)", num(c.waited_s));
            } else if !c.diverged() && !c.not_compared.is_empty() {
                let _ =
                    writeln!(out, "consistency  could not compare the members (not diverged): {} (waited {} s)", c.not_compared.join("; "), num(c.waited_s));
            } else {
                let _ = writeln!(out, "consistency  compared at revision {rev} (waited {} s)", num(c.waited_s));
            }
            let opt = |v: Option<String>| v.unwrap_or_else(|| "—".to_string());
            let errors = c.members.iter().any(|m| m.error.is_some());
            let rows = c
                .members
                .iter()
                .map(|m| {
                    let mut r =
                        vec![m.member.clone(), opt(m.revision.map(|r| r.to_string())), opt(m.hash.map(|h| h.to_string())), opt(m.keys.map(|k| k.to_string()))];
                    if errors {
                        r.push(m.error.clone().unwrap_or_default());
                    }
                    r
                })
                .collect();
            let header: &[&str] = if errors { &["member", "revision", "hash", "keys", "error"] } else { &["member", "revision", "hash", "keys"] };
            push_table(&mut out, header, rows, &[1, 2, 3]);
            if let Some(loud) = divergence(s) {
                let _ = writeln!(out, "{loud}");
            }
        }
    }
    watch(&mut out, s);
    out.push('\n');

    // Gates.
    if s.gates.is_empty() {
        out.push_str("gates  none (the scenario has no expect:)\n");
    } else {
        out.push_str("gates\n");
        let rows = s.gates.iter().map(|g| vec![g.name.clone(), g.status.label().to_string(), gate_value(g, &g.actual), gate_value(g, &g.limit)]).collect();
        push_table(&mut out, &["gate", "status", "actual", "limit"], rows, &[2, 3]);
        for g in s.gates.iter().filter(|g| g.status != GateStatus::Pass) {
            let _ = writeln!(out, "  {} {}: {}", g.status.label(), g.name, g.message);
        }
    }
    out.push('\n');

    // Verdict, with the divergence repeated right above it.
    if let Some(loud) = divergence(s) {
        let _ = writeln!(out, "{loud}");
    }
    let head = match s.verdict.as_str() {
        "pass" => "PASSED",
        "fail" => "FAILED",
        "invalid" => "INVALID",
        "interrupted" => "INTERRUPTED",
        _ => "UNKNOWN VERDICT",
    };
    if s.verdict_reasons.is_empty() {
        let _ = writeln!(out, "{head} (exit {})", s.exit_code);
    } else {
        let _ = writeln!(out, "{head} (exit {}): {}", s.exit_code, s.verdict_reasons.join("; "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consistency::{Consistency, MemberFigures};
    use crate::gates::{GateStatus, NO_CHECKER};
    use crate::report::summary::{FaultSpan, HarnessUsage, Latencies, Leader, OpCounts, Percentiles, Window};
    use serde_json::json;

    fn p(p50: f64, max: f64, count: u64) -> Percentiles {
        Percentiles { p50, p90: p50 * 2.0, p99: p50 * 8.0, p999: max * 0.8, max, count }
    }

    fn summary() -> Summary {
        Summary {
            scenario: "leader-partition".into(),
            seed: 42,
            backend: "process".into(),
            etcd_version: "3.4.23".into(),
            members: Vec::new(),
            cluster_version: None,
            version_changes: Vec::new(),
            duration_s: 60.0,
            ops: OpCounts { total: 24000, ok: 23800, fail: 120, info: 80, cas_not_applied: 0 },
            errors: [("database space exceeded".to_string(), 120), ("timeout".to_string(), 80)].into_iter().collect(),
            throughput_ok_per_s: 396.667,
            latency_ms: Latencies { all: p(1.2, 1020.0, 23800), read: p(1.1, 1020.0, 11900), write: p(1.3, 900.0, 5950), cas: Percentiles::default() },
            leader_changes: 1,
            leaders: vec![Leader { t_s: 0.4, member: "n1".into(), term: 2 }, Leader { t_s: 11.6, member: "n3".into(), term: 3 }],
            unavailability: vec![Window { from_s: 10.1, to_s: 11.7 }],
            max_unavailable_s: 1.6,
            faults: vec![FaultSpan {
                id: 0,
                kind: "partition".into(),
                target: "leader".into(),
                targets: vec!["n1".into()],
                from_s: 10.0,
                proven_s: Some(10.3),
                to_s: Some(20.0),
                mechanism: "iptables".into(),
                params: [("mode".to_string(), json!("isolate"))].into_iter().collect(),
                proof: "n1 lost its peers".into(),
                heal_proof: Some("rules removed".into()),
            }],
            linearizable: None,
            linearizable_cause: None,
            watch: None,
            consistency: Some(Consistency {
                consistent: true,
                revision: Some(24810),
                members: vec![
                    MemberFigures { member: "n1".into(), revision: Some(24810), hash: Some(3411932), keys: Some(16), error: None },
                    MemberFigures { member: "n2".into(), revision: Some(24810), hash: Some(3411932), keys: Some(16), error: None },
                ],
                differences: vec![],
                not_compared: vec![],
                skipped: Vec::new(),
                waited_s: 0.2,
            }),
            gates: vec![
                Gate {
                    name: "p99".into(),
                    limit: json!(800.0),
                    actual: json!(9.6),
                    pass: true,
                    status: GateStatus::Pass,
                    message: "ok".into(),
                    assumption: false,
                },
                Gate {
                    name: "max_leader_changes".into(),
                    limit: json!(3),
                    actual: json!(1),
                    pass: true,
                    status: GateStatus::Pass,
                    message: "ok".into(),
                    assumption: false,
                },
            ],
            passed: true,
            checker: CheckerStatus::NotBuilt,
            exit_code: 0,
            verdict: "pass".into(),
            verdict_reasons: vec![],
            invalid_reasons: vec![],
            interrupted: false,
            harness: HarnessUsage { cpu_s: 3.2, peak_rss_mib: 45.5 },
            run_dir: "reports/leader-partition-20250101T000000Z".into(),
            run_id: "3fa2c1".into(),
            started_at: "2026-11-23T17:05:12Z".into(),
            faultline_version: "0.1.0".into(),
            restores: vec![],
            corruption: None,
            epochs: vec![],
        }
    }

    fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
        text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(1.234), "1.234");
        assert_eq!(num(9.8), "9.8");
        assert_eq!(num(850.0), "850");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(396.6667), "396.667");
    }

    #[test]
    fn a_passing_run_shows_every_section() {
        let text = render(&summary());
        println!("{text}");
        assert!(text.starts_with("faultline · leader-partition · seed 42 · process · etcd 3.4.23 · 60 s\n"));
        assert!(line_with(&text, "run dir").contains("reports/leader-partition-20250101T000000Z"));
        assert!(line_with(&text, "operations").contains("24000 total · 23800 ok · 120 fail · 80 info · 396.667 ok/s"));
        assert!(line_with(&text, "errors").contains("120 database space exceeded · 80 timeout"));
        let header = line_with(&text, "latency ms");
        for col in ["count", "p50", "p90", "p99", "p99.9", "max"] {
            assert!(header.contains(col), "{header}");
        }
        let all = line_with(&text, " all ");
        assert!(all.contains("23800") && all.contains("1.2") && all.contains("1020"), "{all}");
        assert!(line_with(&text, " cas ").contains('—'));
        assert!(text.contains("leaders  1 change after the first"));
        assert!(line_with(&text, "11.6").contains("n3"));
        assert!(text.contains("unavailable  longest 1.6 s · 1 window ≥ 250 ms"));
        let f = line_with(&text, "iptables");
        assert!(f.contains("partition (isolate)") && f.contains("leader → n1") && f.contains("20"), "{f}");
        assert!(text.contains("linearizable  not checked"));
        assert!(text.contains("consistency  members agree at revision 24810"));
        assert!(line_with(&text, " n2 ").contains("3411932"));
        let g = line_with(&text, "9.6 ms");
        assert!(g.contains(" p99 ") && g.contains("PASS") && g.contains("800 ms"), "{g}");
        assert!(!text.contains("DIVERGED"));
        assert_eq!(text.lines().last(), Some("PASSED (exit 0)"));
        assert!(text.lines().count() <= 60, "{} lines", text.lines().count());
    }

    /// Issue 15 item 4: a cas not applied is said apart from the failures.
    #[test]
    fn a_cas_not_applied_is_shown_apart_from_failures() {
        let mut s = summary();
        s.ops = OpCounts { total: 24000, ok: 22000, fail: 120, info: 80, cas_not_applied: 1800 };
        let text = render(&s);
        assert!(line_with(&text, "operations").contains("22000 ok · 120 fail · 1800 cas not applied (compare false) · 80 info"), "{text}");
        assert!(!line_with(&text, "errors").contains("compare failed"), "{text}");
    }

    #[test]
    fn the_watch_check_shows_each_stream_and_a_problem_loudly() {
        use crate::checker::watch::{Guarantee, StreamFigures, Violation, WatchCheck};
        let stream = |m: &str| StreamFigures { member: m.into(), events: 90, from_revision: Some(2), last_revision: Some(91), ..Default::default() };
        let mut s = summary();
        s.watch = Some(WatchCheck { streams: 2, events: 180, resumed: 1, ok: true, watchers: vec![stream("n1"), stream("n2")], ..Default::default() });
        let text = render(&s);
        assert!(line_with(&text, "watch  ").contains("2 streams · 180 events · every guarantee held"), "{text}");
        assert!(text.lines().any(|l| l.contains(" n2 ") && l.contains(" 91 ") && l.contains("no problem")), "{text}");
        if let Some(w) = s.watch.as_mut() {
            w.ok = false;
            w.guarantees.insert(Guarantee::Reliable, 1);
            w.watchers[1].violations.insert(Guarantee::Reliable, 1);
            let message = "n2's stream lacks revision 40".to_string();
            w.violations =
                vec![Violation { guarantee: Guarantee::Reliable, watcher: "n2".into(), member: "n2".into(), revision: Some(40), key: None, t: 1, message }];
            w.first_problem = Some("reliable: n2's stream lacks revision 40".into());
        }
        let text = render(&s);
        assert!(line_with(&text, "watch  ").contains("!!! 1 RELIABLE !!!"), "{text}");
        assert!(text.lines().any(|l| l.contains(" n2 ") && l.contains(" 91 ") && l.contains("1 reliable")), "{text}");
        assert!(text.contains("reliable broken (1): n2's stream lacks revision 40"), "{text}");
        assert!(text.contains("first problem: reliable: n2's stream lacks revision 40"));
    }

    #[test]
    fn divergence_is_impossible_to_miss_and_failures_are_explained() {
        let mut s = summary();
        if let Some(c) = s.consistency.as_mut() {
            c.consistent = false;
            c.members[1].hash = Some(1);
            c.differences = vec!["n2 hash 1 ≠ n1 hash 3411932 at revision 24810".into()];
        }
        s.gates.push(Gate {
            name: "linearizable".into(),
            limit: json!(true),
            actual: serde_json::Value::Null,
            pass: false,
            status: GateStatus::Fail,
            message: NO_CHECKER.into(),
            assumption: false,
        });
        s.passed = false;
        s.exit_code = 1;
        s.verdict = "fail".into();
        s.verdict_reasons = vec![format!("linearizable: {NO_CHECKER}")];
        let text = render(&s);
        println!("{text}");
        let loud: Vec<&str> = text.lines().filter(|l| l.contains("MEMBERS DIVERGED")).collect();
        assert_eq!(loud.len(), 2, "in the consistency section and above the verdict");
        assert!(loud[0].contains("n2 hash 1"));
        assert!(text.contains("consistency  compared at revision 24810"));
        assert!(text.contains("  FAIL linearizable: no checker"));
        let last = text.lines().last().unwrap_or_default();
        assert!(last.starts_with("FAILED (exit 1): linearizable: no checker"), "{last}");
        let before_last = text.lines().rev().nth(1).unwrap_or_default();
        assert!(before_last.contains("MEMBERS DIVERGED"));
    }

    /// Issue 15 item 5: members that did not answer could not be compared; they have not
    /// diverged, and the table does not say they did.
    #[test]
    fn members_that_did_not_answer_are_not_compared_rather_than_diverged() {
        let mut s = summary();
        if let Some(c) = s.consistency.as_mut() {
            c.consistent = false;
            c.members[1] = MemberFigures { member: "n2".into(), revision: None, hash: None, keys: None, error: Some("connection refused".into()) };
            c.not_compared = vec!["n2 did not answer: connection refused".into()];
        }
        let text = render(&s);
        assert!(!text.contains("DIVERGED"), "{text}");
        assert!(line_with(&text, "consistency").contains("could not compare the members (not diverged): n2 did not answer: connection refused"), "{text}");
    }

    #[test]
    fn invalid_and_empty_runs_render() {
        let mut s = summary();
        s.leaders.clear();
        s.unavailability.clear();
        s.faults.clear();
        s.consistency = None;
        s.gates.clear();
        s.faults.push(FaultSpan {
            id: 1,
            kind: "kill".into(),
            target: "n2".into(),
            targets: vec!["n2".into()],
            from_s: 5.0,
            proven_s: None,
            to_s: None,
            mechanism: "signal".into(),
            params: Default::default(),
            proof: String::new(),
            heal_proof: None,
        });
        s.checker = CheckerStatus::Ran { seconds: 2.5 };
        s.linearizable = Some(false);
        s.passed = false;
        s.exit_code = 5;
        s.verdict = "invalid".into();
        s.verdict_reasons = vec!["the cluster never became healthy".into()];
        let text = render(&s);
        println!("{text}");
        assert!(text.contains("leaders  none seen"));
        assert!(text.contains("no window ≥ 250 ms"));
        assert!(line_with(&text, "signal").contains("never healed"));
        assert!(text.contains("!!! NOT LINEARIZABLE !!! (checked in 2.5 s)"));
        assert!(text.contains("consistency  not measured"));
        assert!(text.contains("gates  none"));
        assert_eq!(text.lines().last(), Some("INVALID (exit 5): the cluster never became healthy"));
    }

    #[test]
    fn a_restore_says_what_it_lost_and_the_epochs_their_verdicts() {
        let mut s = summary();
        s.restores = vec![crate::report::summary::RestoreSpan {
            snapshot: "snap1".into(),
            revision: 812,
            from_s: 10.0,
            to_s: 12.5,
            lost_writes: 57,
            message: crate::report::summary::RestoreSpan::describe(57, 812),
        }];
        let epoch = |epoch, linearizable| crate::report::summary::EpochCheck { epoch, file: String::new(), ops: 100, restored_keys: 16, linearizable };
        s.epochs = vec![epoch(1, Some(true)), epoch(2, Some(true))];
        let text = render(&s);
        assert!(text.contains("57 acknowledged writes after the snapshot's revision 812 were lost by design by the restore"), "{text}");
        assert!(text.contains("checked as 2 epochs split at the restores: epoch 1 (100 ops) yes, epoch 2 (100 ops) yes"), "{text}");
    }

    #[test]
    fn an_unknown_linearizability_says_why() {
        let mut s = summary();
        s.checker = CheckerStatus::Interrupted { seconds: 4.0 };
        s.linearizable_cause = s.checker.cause();
        let text = render(&s);
        assert!(line_with(&text, "linearizable  ").contains("UNKNOWN: the linearizability check was interrupted (Ctrl-C) after 4 s"), "{text}");
        s.checker = CheckerStatus::NoOperations;
        s.linearizable_cause = None;
        assert!(line_with(&render(&s), "linearizable  ").contains("UNKNOWN: no operations to check"));
    }

    #[test]
    fn long_lists_are_cut() {
        let mut s = summary();
        s.leaders = (0..30).map(|i| Leader { t_s: i as f64, member: "n1".into(), term: i + 2 }).collect();
        s.unavailability = (0..20).map(|i| Window { from_s: i as f64, to_s: i as f64 + 0.5 }).collect();
        let text = render(&s);
        assert!(text.contains("… and 20 more (see summary.json)"));
        assert!(text.contains("… and 12 more (see summary.json)"));
    }
}

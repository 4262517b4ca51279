//! `faultline check`: the flags turned into a model, a format and a time limit, each history
//! checked by [`crate::check`], its verdict printed (text, or one JSON object per line with
//! `--json`), and a page drawn for each violation with `--html` (the register checker's, or
//! the etcd model's).

use crate::check::{self, FileCheck, ModelName, Outcome};
use crate::checker::etcd::{self, EtcdCheck};
use crate::checker::{self, input::Format, CheckResult, Verdict};
use crate::cli::CheckArgs;
use crate::error::{Error, Exit};
use crate::markup::terminal;
use crate::scenario::units::Span;

/// Check the histories. Every file gets its line (or its JSON object), a file that could not
/// be checked included, so that one bad file does not hide another's verdict; the exit code
/// is [`check::exit_for`] (2 also when a page could not be written).
pub fn run(args: CheckArgs) -> Result<Exit, Error> {
    let CheckArgs { histories, model, format, timeout, json, html } = args;
    let model = model.as_deref().map(ModelName::parse).transpose().map_err(Error::BadInput)?;
    let format = Format::parse(&format).map_err(Error::BadInput)?;
    let timeout = Span::parse(&timeout).map_err(|m| Error::BadInput(format!("--timeout: {m}")))?.0;
    let mut done = Vec::new();
    let mut problems = Vec::new();
    let mut pages = 0;
    for h in histories.iter().flat_map(|h| check::history_files(h)) {
        match check::check_file(&h, model, format, timeout) {
            Ok(c) => {
                println!("{}", if json { json_line(&c) } else { terminal(&text(&c)) });
                if let (Some(page), Some(drawn)) = (&html, page_of(&c)) {
                    pages += 1;
                    let path = check::html_path(page, pages);
                    match std::fs::write(&path, drawn) {
                        Ok(()) => eprintln!("wrote {}", terminal(&path.display().to_string())),
                        Err(e) => {
                            eprintln!("faultline: {}", terminal(&format!("cannot write --html {}: {e}", path.display())));
                            problems.push(Exit::BadInput);
                        }
                    }
                }
                done.push(c);
            }
            Err(e) => {
                if json {
                    println!("{}", json_problem(&check::history_path(&h), &e));
                }
                eprintln!("faultline: {}", terminal(&e.to_string()));
                problems.push(e.exit());
            }
        }
    }
    Ok(check::exit_for(&done, &problems))
}

/// The `--json` line of a file that could not be checked: its verdict is `bad-input` (exit
/// 2) or `no-operations` (exit 5), with the error in words.
fn json_problem(file: &std::path::Path, e: &Error) -> String {
    let verdict = match e.exit() {
        Exit::Invalid => "no-operations",
        _ => "bad-input",
    };
    serde_json::json!({"file": file.display().to_string(), "verdict": verdict, "error": e.to_string()}).to_string()
}

/// The `--html` page of a violation; `None` when the file has none.
fn page_of(c: &FileCheck) -> Option<String> {
    let title = format!("faultline check {}", c.file.display());
    match &c.result {
        Outcome::Register(r) => r.failure.as_ref().map(|f| checker::html::render(f, &title)),
        Outcome::Etcd(r) => r.violation.as_ref().map(|v| etcd::explain::html(v, &title)),
    }
}

/// One line of `--json` output.
fn json_line(c: &FileCheck) -> String {
    match &c.result {
        Outcome::Register(r) => register_json(c, r),
        Outcome::Etcd(r) => etcd_json(c, r),
    }
}

/// The `--json` line of an etcd-model check: the counts in `stats`, and the violation, or the
/// cause of an unknown verdict.
fn etcd_json(c: &FileCheck, r: &EtcdCheck) -> String {
    serde_json::json!({
        "file": c.file.display().to_string(),
        "verdict": r.verdict.name(),
        "ops": r.stats.ops,
        "seconds": r.seconds,
        "model": c.model.name(),
        "stats": r.stats,
        "violation": r.violation,
        "cause": r.cause,
    })
    .to_string()
}

/// The `--json` line of a register or kv check.
fn register_json(c: &FileCheck, r: &CheckResult) -> String {
    let unfinished: Vec<String> = r.keys.iter().filter(|k| k.verdict == Verdict::Unknown).map(|k| k.key.clone()).collect();
    serde_json::json!({
        "file": c.file.display().to_string(),
        "verdict": r.verdict.name(),
        "ops": r.ops(),
        "keys": r.keys.len(),
        "seconds": r.seconds,
        "model": c.model.name(),
        "failing_key": r.failure.as_ref().map(|f| f.key.clone()),
        // Keys left unfinished: out of time when the verdict is unknown; not needed (left
        // when another key failed) when it is not linearizable.
        "unknown_keys": if r.verdict == Verdict::Unknown { unfinished.clone() } else { Vec::new() },
        "unchecked_keys": if r.verdict == Verdict::NotLinearizable { unfinished } else { Vec::new() },
    })
    .to_string()
}

/// The terminal lines for one file: verdict, counts, time, and the explanation of a failure.
fn text(c: &FileCheck) -> String {
    match &c.result {
        Outcome::Register(r) => register_text(c, r),
        Outcome::Etcd(r) => etcd_text(c, r),
    }
}

/// An etcd-model check on the terminal: the verdict with the model's figures, then the
/// violation explained, or why the verdict is unknown.
fn etcd_text(c: &FileCheck, r: &EtcdCheck) -> String {
    let s = &r.stats;
    let mut out = format!(
        "{}: {} — etcd model, {} ops, {} revisions ({} unacknowledged, filled by operations of unknown outcome), {} backtracks, {:.3} s",
        c.file.display(),
        r.verdict.name().to_uppercase(),
        s.ops,
        s.revisions,
        s.unacknowledged,
        s.backtracks,
        r.seconds
    );
    if let Some(v) = &r.violation {
        out.push('\n');
        out.push_str(&etcd::explain::text(v));
    } else if r.verdict == Verdict::Unknown {
        let cause = r.cause.as_deref().unwrap_or("the checker gave no cause");
        out.push_str(&format!("\n  undecided{}: {cause}", if r.interrupted { " (interrupted)" } else { "" }));
    }
    out
}

/// A register or kv check on the terminal.
fn register_text(c: &FileCheck, r: &CheckResult) -> String {
    let mut out = format!("{}: {} — {} ops over {} key(s), {:.3} s", c.file.display(), r.verdict.name().to_uppercase(), r.ops(), r.keys.len(), r.seconds);
    // Per key: the slowest first, at most 10 (a history can have thousands of keys).
    let mut keys: Vec<&checker::KeyResult> = r.keys.iter().collect();
    keys.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(a.key.cmp(&b.key)));
    for k in keys.iter().take(10) {
        let dropped = if k.dropped > 0 { format!(" (+{} unknown-outcome ops that cannot matter)", k.dropped) } else { String::new() };
        let width = if k.peak_configs > 0 { format!(", at most {} configurations at once", k.peak_configs) } else { String::new() };
        let verdict =
            if k.verdict == Verdict::Unknown && r.verdict == Verdict::NotLinearizable { "not checked (another key failed first)" } else { k.verdict.name() };
        out.push_str(&format!("\n  key {}: {verdict}, {} ops{dropped}, {:.3} s{width}", k.key, k.ops, k.seconds));
    }
    if keys.len() > 10 {
        out.push_str(&format!("\n  … and {} more keys (use --json for totals)", keys.len() - 10));
    }
    let unknown: Vec<&str> = r.keys.iter().filter(|k| k.verdict == Verdict::Unknown).map(|k| k.key.as_str()).collect();
    if r.verdict == Verdict::Unknown {
        let done = r.keys.len() - unknown.len();
        out.push_str(&format!("\n  ran out of time: {done} of {} keys finished (linearizable); unfinished: {}", r.keys.len(), unknown.join(", ")));
    }
    if let Some(f) = &r.failure {
        out.push('\n');
        out.push_str(&checker::explain::text(f));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::etcd::{OpView, Stats, Violation};

    fn args(histories: Vec<std::path::PathBuf>, model: Option<&str>) -> CheckArgs {
        CheckArgs { histories, model: model.map(str::to_string), format: "auto".into(), timeout: "5s".into(), json: false, html: None }
    }

    #[test]
    fn an_unknown_model_is_refused_naming_the_models() {
        match run(args(vec!["/nonexistent/history.jsonl".into()], Some("foo"))) {
            Err(Error::BadInput(m)) => assert!(m.contains("`foo`") && m.contains("register, kv or etcd"), "{m}"),
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn an_etcd_history_is_auto_detected_and_its_exit_follows_the_verdict() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("history.jsonl");
        std::fs::write(&p, crate::check::tests::ETCD).unwrap();
        let c = check::check_file(&p, None, None, std::time::Duration::from_secs(5)).unwrap();
        assert_eq!(c.model, ModelName::Etcd);
        let want = match c.result.verdict() {
            Verdict::Linearizable => Exit::Pass,
            Verdict::NotLinearizable => Exit::GateFailed,
            Verdict::Unknown => Exit::Invalid,
        };
        assert_eq!(run(args(vec![p.clone()], None)).unwrap(), want);
        assert_eq!(run(args(vec![p.clone()], Some("etcd"))).unwrap(), want);
        // --model register on it: bad input (exit 2), named on stderr.
        assert_eq!(run(args(vec![p], Some("register"))).unwrap(), Exit::BadInput);
    }

    fn etcd_check(violation: bool) -> FileCheck {
        let op = |id: u64, client: u32, call: u64, ret: u64, text: &str| OpView {
            id,
            client,
            call,
            ret: Some(ret),
            text: text.into(),
            answer: "rev 4".into(),
            rev: Some(4),
            outcome: "ok",
            line: 0,
        };
        let v = Violation {
            culprit: 1,
            other: Some(0),
            revision: Some(5),
            keys: vec!["k".into()],
            expected: "k=\"b\"".into(),
            got: "k=\"a\"".into(),
            why: "the put of b returned before the get was called".into(),
            ops: vec![op(1, 0, 1_000_000, 2_000_000, "put k=b"), op(2, 1, 3_000_000, 4_000_000, "get k")],
        };
        FileCheck {
            file: "h.jsonl".into(),
            model: ModelName::Etcd,
            result: Outcome::Etcd(EtcdCheck {
                verdict: if violation { Verdict::NotLinearizable } else { Verdict::Unknown },
                violation: violation.then_some(v),
                cause: (!violation).then(|| "out of time at revision 9".to_string()),
                interrupted: false,
                seconds: 0.25,
                stats: Stats { ops: 2, revisions: 5, unacknowledged: 1, backtracks: 3, ..Stats::default() },
            }),
        }
    }

    #[test]
    fn an_etcd_result_prints_its_figures_and_its_violation_or_its_cause() {
        let t = text(&etcd_check(true));
        let first = t.lines().next().unwrap();
        assert_eq!(
            first,
            "h.jsonl: NOT-LINEARIZABLE — etcd model, 2 ops, 5 revisions (1 unacknowledged, filled by operations of unknown outcome), 3 backtracks, 0.250 s"
        );
        assert!(t.contains("expected:  k=\"b\"") && t.contains("etcd said: k=\"a\"") && t.contains("<- breaks here"), "{t}");
        let t = text(&etcd_check(false));
        assert!(t.starts_with("h.jsonl: UNKNOWN — etcd model") && t.ends_with("\n  undecided: out of time at revision 9"), "{t}");
        assert!(page_of(&etcd_check(true)).is_some_and(|p| p.contains("put k=b") && p.contains("<svg")));
        assert!(page_of(&etcd_check(false)).is_none());
    }

    #[test]
    fn an_etcd_result_as_json_has_its_stats_and_violation_or_cause() {
        let v: serde_json::Value = serde_json::from_str(&json_line(&etcd_check(true))).unwrap();
        assert_eq!((v["verdict"].as_str(), v["model"].as_str(), v["ops"].as_u64()), (Some("not-linearizable"), Some("etcd"), Some(2)));
        assert_eq!(v["stats"]["revisions"], 5);
        assert_eq!(v["stats"]["backtracks"], 3);
        assert_eq!(v["violation"]["ops"][1]["text"], "get k");
        assert!(v["cause"].is_null());
        let v: serde_json::Value = serde_json::from_str(&json_line(&etcd_check(false))).unwrap();
        assert_eq!(v["verdict"], "unknown");
        assert_eq!(v["cause"], "out of time at revision 9");
        assert!(v["violation"].is_null());
    }
}

//! `faultline check`: the flags turned into a model, a format and a time limit, each history
//! checked by [`crate::check`], its verdict printed (text, or one JSON object per line with
//! `--json`), and a page drawn for each violation with `--html`.

use crate::check::{self, FileCheck, ModelName};
use crate::checker::{self, input::Format, Verdict};
use crate::cli::CheckArgs;
use crate::error::{Error, Exit};
use crate::markup::terminal;
use crate::scenario::units::Span;

/// Check the histories. Every file gets its line (or its JSON object), a file that could not
/// be checked included, so that one bad file does not hide another's verdict; the exit code
/// is [`check::exit_for`] (2 also when a page could not be written).
pub fn run(args: CheckArgs) -> Result<Exit, Error> {
    let CheckArgs { histories, model, format, timeout, json, html } = args;
    let model = match model.as_deref() {
        Some("kv") => Some(ModelName::Kv),
        Some(_) => Some(ModelName::Register),
        None => None,
    };
    let format = Format::parse(&format).map_err(Error::BadInput)?;
    let timeout = Span::parse(&timeout).map_err(|m| Error::BadInput(format!("--timeout: {m}")))?.0;
    let mut done = Vec::new();
    let mut problems = Vec::new();
    let mut pages = 0;
    for h in histories.iter().flat_map(|h| check::history_files(h)) {
        match check::check_file(&h, model, format, timeout) {
            Ok(c) => {
                println!("{}", if json { json_line(&c) } else { terminal(&text(&c)) });
                if let (Some(page), Some(f)) = (&html, &c.result.failure) {
                    pages += 1;
                    let path = check::html_path(page, pages);
                    let title = format!("faultline check {}", c.file.display());
                    match std::fs::write(&path, checker::html::render(f, &title)) {
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

/// One line of `--json` output.
fn json_line(c: &FileCheck) -> String {
    let r = &c.result;
    let unfinished: Vec<String> = r.keys.iter().filter(|k| k.verdict == Verdict::Unknown).map(|k| k.key.clone()).collect();
    serde_json::json!({
        "file": c.file.display().to_string(),
        "verdict": r.verdict.name(),
        "ops": r.ops(),
        "keys": r.keys.len(),
        "seconds": r.seconds,
        "model": match c.model { ModelName::Register => "register", ModelName::Kv => "kv" },
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
    let r = &c.result;
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

//! `docs/formats.md`, the contract other tools rely on, held to what faultline really writes:
//! its JSON Lines examples parse as the records the code reads and print back byte for byte,
//! and a real run (a kill, a compaction, watch streams, every gate) writes no field, event
//! kind or watch line that the document does not name.

use faultline::events::Event;
use faultline::history::Entry;
use faultline::watchlog::WatchRecord;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

pub(crate) fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/formats.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text of the section whose heading starts with `heading`, up to the next heading of
/// the same or a higher level.
pub(crate) fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc.find(&format!("\n{heading}")).unwrap_or_else(|| panic!("docs/formats.md has no section `{heading}`")) + 1;
    let level = heading.chars().take_while(|c| *c == '#').count();
    let body = &doc[start..];
    let end = body.match_indices("\n#").find(|(i, _)| body[i + 1..].chars().take_while(|c| *c == '#').count() <= level).map_or(body.len(), |(i, _)| i);
    &body[..end]
}

/// The lines of the section's ```json blocks.
fn json_lines(section: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in section.lines() {
        match line.trim() {
            "```json" => inside = true,
            "```" => inside = false,
            l if inside && !l.is_empty() => out.push(l),
            _ => {}
        }
    }
    out
}

/// The names a section documents: every word inside its `code spans` (so `{p50, p90}` and
/// `faults[{id, kind}]` name each field) and every key of its ```json examples.
fn documented(section: &str) -> BTreeSet<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = BTreeSet::new();
    let mut words = |text: &str| {
        for w in text.split(|c: char| !ident(c)).filter(|w| !w.is_empty()) {
            out.insert(w.to_string());
        }
    };
    let mut in_block = false;
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            // Keys of the examples: the strings followed by a colon.
            for (i, _) in line.match_indices("\":") {
                let start = line[..i].rfind('"').map_or(i, |j| j + 1);
                words(&line[start..i]);
            }
        } else {
            for (n, span) in line.split('`').enumerate() {
                if n % 2 == 1 {
                    words(span);
                }
            }
        }
    }
    out
}

fn round_trips<T: serde::de::DeserializeOwned + serde::Serialize>(heading: &str, what: &str) {
    let doc = doc();
    let lines = json_lines(section(&doc, heading));
    assert!(lines.len() >= 3, "{heading} has no examples");
    for line in lines {
        let record: T = serde_json::from_str(line).unwrap_or_else(|e| panic!("{heading}: not {what}: {e}\n{line}"));
        assert_eq!(serde_json::to_string(&record).unwrap(), line, "{heading}: faultline writes this {what} differently");
    }
}

#[test]
fn the_json_lines_examples_are_exactly_what_faultline_writes() {
    round_trips::<Entry>("## 2.", "history entry");
    round_trips::<Event>("### 3.2", "event");
    round_trips::<WatchRecord>("### 3.3", "watch record");
}

/// Every key of every object in `v` (recursively), except under keys whose own keys are
/// data rather than names (`errors` by message, `params` of a fault kind, `values` by key).
pub(crate) fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.insert(k.clone());
                if !matches!(k.as_str(), "errors" | "params" | "values") {
                    keys(v, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// The keys, and the values of `kind_field`, of every line of a JSON Lines file.
pub(crate) fn jsonl_names(path: &Path, kind_field: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (mut fields, mut kinds) = (BTreeSet::new(), BTreeSet::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {e}: {line}", path.display()));
        keys(&v, &mut fields);
        kinds.insert(v[kind_field].as_str().unwrap_or_default().to_string());
    }
    (fields, kinds)
}

pub(crate) fn undocumented<'a>(section: &str, found: &'a BTreeSet<String>) -> Vec<&'a str> {
    let known = documented(section);
    found.iter().map(String::as_str).filter(|k| !known.contains(*k)).collect()
}

#[test]
fn a_real_run_writes_nothing_the_formats_doc_does_not_name() {
    crate::util::require_root();
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("formats.yaml");
    std::fs::write(
        &scen,
        "name: formats\nseed: 3\nworkload: {clients: 2, rate: 60/s, duration: 5s, watch: true}\nfaults:\n  - {at: 1s, for: 1s, kind: kill, target: follower}\nops:\n  - {at: 3s, op: compact}\nexpect: {linearizable: true, consistent: true, min_ok_ops: 20, max_unavailable: 5s, max_leader_changes: 3, p99: 2s}\n",
    )
    .unwrap();
    let run = dir.path().join("run");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", scen.to_str().unwrap(), "--backend", "process", "--out", run.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let doc = doc();

    let summary: Value = serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    let mut fields = BTreeSet::new();
    keys(&summary, &mut fields);
    for must in ["watch", "consistency", "gates", "assumption", "heal_proof", "members"] {
        assert!(fields.contains(must), "the run was meant to write `{must}` into summary.json: {summary}");
    }
    let missing = undocumented(section(&doc, "### 3.4"), &fields);
    assert!(missing.is_empty(), "summary.json fields not in docs/formats.md §3.4: {missing:?}");

    let (fields, kinds) = jsonl_names(&run.join("events.jsonl"), "event");
    for must in ["member-stop", "fault-start", "fault-heal", "op", "leader-change"] {
        assert!(kinds.contains(must), "the run was meant to record a `{must}` event: {kinds:?}");
    }
    let events = section(&doc, "### 3.2");
    let missing: Vec<&str> = kinds.iter().map(String::as_str).filter(|k| !events.contains(&format!("`{k}`"))).collect();
    assert!(missing.is_empty(), "event kinds not in docs/formats.md §3.2: {missing:?}");
    let missing = undocumented(events, &fields);
    assert!(missing.is_empty(), "event fields not in docs/formats.md §3.2: {missing:?}");

    let (fields, kinds) = jsonl_names(&run.join("watch.jsonl"), "type");
    let watch = section(&doc, "### 3.3");
    let missing: Vec<&str> = kinds.iter().map(String::as_str).filter(|k| !watch.contains(&format!("`{k}`"))).collect();
    assert!(missing.is_empty(), "watch line types not in docs/formats.md §3.3: {missing:?}");
    let missing = undocumented(watch, &fields);
    assert!(missing.is_empty(), "watch.jsonl fields not in docs/formats.md §3.3: {missing:?}");

    let (fields, _) = jsonl_names(&run.join("history.jsonl"), "type");
    let missing = undocumented(section(&doc, "## 2."), &fields);
    assert!(missing.is_empty(), "history.jsonl fields not in docs/formats.md §2: {missing:?}");

    let table = section(&doc, "## 3.");
    for file in ["scenario.yaml", "schedule.json", "history.jsonl", "events.jsonl", "watch.jsonl", "summary.json", "report.html"] {
        assert!(run.join(file).is_file(), "the run wrote no {file}");
        assert!(table.contains(&format!("| `{file}` |")), "{file} is not in the run directory table of docs/formats.md §3");
    }
    assert!(run.join("logs/n1.log").is_file() && table.contains("| `logs/<member>.log` |"));
}

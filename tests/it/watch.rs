//! The watch workload and its checker. The checker is held to a stream recorded from a real
//! run (tests/fixtures/watch-kill-compact: three members, n3 killed for 4 s and a compaction
//! while it was down, so its stream broke, was refused as compacted and resumed from the
//! compact revision), clean and with one defect planted at a time. Then whole runs with
//! `watch: true` and a member killed and restarted, on processes and on containers.

use faultline::checker::watch::{check, Guarantee, WatchCheck};
use faultline::history::{self, Entry};
use faultline::watchlog::{self, WatchLine, WatchRecord};
use std::path::{Path, PathBuf};

fn fixture() -> (Vec<WatchRecord>, Vec<Entry>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/watch-kill-compact");
    (watchlog::read(&dir.join("watch.jsonl")).unwrap(), history::read(&dir.join("history.jsonl")).unwrap())
}

/// Where the `n`-th event of `member`'s stream is in the records.
fn nth_event(r: &[WatchRecord], member: &str, n: usize) -> usize {
    r.iter().enumerate().filter(|(_, x)| x.member == member && x.what.event_revision().is_some()).nth(n).unwrap().0
}

#[test]
fn the_recorded_stream_passes_with_its_break_and_compaction_explained() {
    let (r, h) = fixture();
    let c = check(&r, &h);
    assert!(c.ok, "{c:#?}");
    assert_eq!(c.streams, 3);
    let n3 = &c.watchers[2];
    assert_eq!(n3.member, "n3");
    assert!(n3.resumed >= 2 && n3.compacted == 1 && n3.skipped > 0, "{n3:?}");
    assert!(c.watchers.iter().all(|m| m.events > 0 && m.last_revision == c.watchers[0].last_revision));
}

#[test]
fn a_dropped_event_is_found_as_a_gap() {
    let (mut r, h) = fixture();
    let i = nth_event(&r, "n1", 20);
    let rev = r[i].what.event_revision().unwrap();
    r.remove(i);
    let c = check(&r, &h);
    assert_eq!(c.problems(), "1 reliable", "{c:#?}");
    assert_eq!(c.watchers[0].problems(), "1 reliable");
    let v = &c.violations[0];
    assert_eq!((v.guarantee, v.watcher.as_str(), v.member.as_str(), v.revision), (Guarantee::Reliable, "n1", "n1", Some(rev)));
    assert!(c.first_problem.as_deref().unwrap().contains(&format!("reliable: n1's stream lacks revision {rev}")), "{:?}", c.first_problem);
}

#[test]
fn a_compaction_not_reported_by_etcd_does_not_excuse_the_revisions_it_skipped() {
    let (mut r, h) = fixture();
    let skipped = check(&r, &h).watchers[2].skipped;
    // Without the `compacted` line, n3's resumption at the compact revision is a hole: it
    // resumed from 42 and went on at 62.
    r.retain(|x| !matches!(x.what, WatchLine::Compacted { .. }));
    let c = check(&r, &h);
    let holes = c.guarantees[&Guarantee::Resumable];
    assert!(holes > 0 && holes <= skipped && c.problems() == format!("{holes} resumable"), "{holes} holes, {skipped} skipped: {c:#?}");
    assert!(c.violations.iter().all(|v| v.watcher == "n3" && v.revision.is_some_and(|r| (42..62).contains(&r))), "{:?}", c.violations);
    assert!(c.first_problem.unwrap().starts_with("resumable: n3's stream lacks revision 42"));
}

#[test]
fn a_repeated_event_is_a_duplicate_and_a_swapped_pair_is_out_of_order() {
    let (r, h) = fixture();
    let mut dup = r.clone();
    let i = nth_event(&dup, "n2", 10);
    dup.insert(i + 1, dup[i].clone());
    let c = check(&dup, &h);
    assert_eq!(c.problems(), "1 unique", "{c:#?}");
    assert_eq!((c.violations[0].watcher.as_str(), c.violations[0].revision), ("n2", dup[i].what.event_revision()));
    assert!(c.first_problem.unwrap().contains("twice"));

    let mut swapped = r.clone();
    let (a, b) = (nth_event(&swapped, "n2", 10), nth_event(&swapped, "n2", 11));
    swapped.swap(a, b);
    let c = check(&swapped, &h);
    assert_eq!(c.problems(), "1 ordered", "{c:#?}");
    assert_eq!((c.violations[0].watcher.as_str(), c.violations[0].revision), ("n2", swapped[b].what.event_revision()));
}

#[test]
fn a_value_no_write_put_there_is_a_disagreement() {
    let (mut r, h) = fixture();
    let i = nth_event(&r, "n1", 5);
    if let WatchLine::Put { value, .. } = &mut r[i].what {
        *value = "forged".into();
    }
    let c = check(&r, &h);
    assert_eq!(c.problems(), "1 agreement", "{c:#?}");
    assert_eq!(
        (c.violations[0].guarantee, c.violations[0].watcher.as_str(), c.violations[0].revision),
        (Guarantee::Agreement, "n1", r[i].what.event_revision())
    );
    assert!(c.first_problem.unwrap().contains("\"forged\""));
}

/// Run `yaml` through the CLI on `backend`; the summary's `watch`, and the run directory.
fn run(yaml: &str, backend: &str, dir: &Path) -> (WatchCheck, serde_json::Value) {
    let scen = dir.join("s.yaml");
    std::fs::write(&scen, yaml).unwrap();
    let out = dir.join("run");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", scen.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet", "--backend", backend])
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(o.status.code(), Some(0), "stderr: {}\nsummary: {summary}", String::from_utf8_lossy(&o.stderr));
    let w: WatchCheck = serde_json::from_value(summary["watch"].clone()).unwrap();
    // The check in the summary is the check of the files written.
    let again = check(&watchlog::read(&out.join("watch.jsonl")).unwrap(), &history::read(&out.join("history.jsonl")).unwrap());
    assert_eq!(again, w);
    (w, summary)
}

/// A follower killed for 3 s under load with a compaction while it is down: every member's
/// stream has events and the watch check (a gate, on by default) passes; the killed
/// member's stream broke and was resumed.
fn watch_through_a_kill(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: it-watch\nseed: 4\nworkload: {clients: 4, keys: 8, rate: 150/s, duration: 9s, watch: true}\nfaults:\n  - {at: 2s, for: 3s, kind: kill, target: n3}\nops:\n  - {at: 4s, op: compact}\nexpect: {linearizable: true, consistent: true}\n";
    let (w, summary) = run(yaml, backend, dir.path());
    assert!(w.ok, "{w:#?}");
    assert_eq!(w.streams, 3);
    for m in &w.watchers {
        assert!(m.events > 100, "{m:?}");
    }
    assert!(w.watchers[2].resumed >= 1, "n3 was killed: its stream must have been resumed: {:?}", w.watchers[2]);
    let gate = summary["gates"].as_array().unwrap().iter().find(|g| g["name"] == "watch").expect("a watch gate by default");
    assert_eq!(gate["status"], "pass");
}

#[test]
fn watch_streams_survive_a_killed_member_on_processes() {
    crate::util::require_root();
    watch_through_a_kill("process");
}

#[test]
fn watch_streams_survive_a_killed_member_on_containers() {
    if !crate::util::docker() {
        return;
    }
    watch_through_a_kill("docker");
}

//! The watch workload and its checker. The checker is held to a stream recorded from a real
//! run (tests/fixtures/watch-kill-compact: three members, n3 killed for 4 s and a compaction
//! while it was down, so its stream broke, was refused as compacted and resumed from the
//! compact revision), clean and with one defect planted at a time. Then whole runs with
//! `watch: true` and a member killed and restarted, on processes and on containers; then
//! watch traffic with every setting a watcher can have (on the etcd workload, with a member
//! cut off), an informer whose resumption is refused as compacted, and the kubernetes workload's informers — judged here on what `watch.jsonl`
//! records, not by the watch gate.

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

/// Plant one defect in the recorded stream: the guarantee it breaks, named once, at the
/// watcher and revision planted.
fn only(c: &WatchCheck, g: Guarantee, watcher: &str, revision: i64) {
    assert_eq!(c.problems(), format!("1 {g}"), "{c:#?}");
    let v = &c.violations[0];
    assert_eq!((v.guarantee, v.watcher.as_str(), v.revision), (g, watcher, Some(revision)), "{v:?}");
    assert!(c.first_problem.as_deref().unwrap().starts_with(&format!("{g}: ")), "{:?}", c.first_problem);
}

#[test]
fn an_event_below_the_resumed_revision_breaks_start_revision() {
    let (mut r, h) = fixture();
    let at = r.iter().position(|x| x.member == "n3" && matches!(x.what, WatchLine::Resumed { revision: 62, .. })).unwrap();
    // n1's event at revision 50, delivered to n3 just after it resumed from 62.
    let mut e = r.iter().find(|x| x.member == "n1" && x.what.event_revision() == Some(50)).unwrap().clone();
    e.member = "n3".into();
    r.insert(at + 1, e);
    only(&check(&r, &h), Guarantee::StartRevision, "n3", 50);
}

#[test]
fn a_resumed_stream_that_skips_its_first_revision_breaks_resumable() {
    let (mut r, h) = fixture();
    let first = r.iter().position(|x| x.member == "n3" && x.what.event_revision() == Some(62)).unwrap();
    r.remove(first);
    only(&check(&r, &h), Guarantee::Resumable, "n3", 62);
}

#[test]
fn a_stream_that_stops_short_breaks_caught_up() {
    let (mut r, h) = fixture();
    let last = r.iter().rposition(|x| x.member == "n2" && x.what.event_revision() == Some(139)).unwrap();
    r.remove(last);
    for x in r.iter_mut().filter(|x| x.member == "n2") {
        if let WatchLine::Stopped { last_revision, .. } = &mut x.what {
            *last_revision = 138;
        }
    }
    only(&check(&r, &h), Guarantee::CaughtUp, "n2", 139);
}

#[test]
fn a_stream_still_refused_as_compacted_when_it_stops_is_not_held_to_caught_up() {
    let (mut r, h) = fixture();
    let last = r.iter().rposition(|x| x.member == "n2" && x.what.event_revision() == Some(139)).unwrap();
    let mut refused = r.remove(last);
    refused.what = WatchLine::Compacted { requested: 139, compact_revision: 140 };
    r.insert(last, refused);
    for x in r.iter_mut().filter(|x| x.member == "n2") {
        if let WatchLine::Stopped { last_revision, .. } = &mut x.what {
            *last_revision = 138;
        }
    }
    let c = check(&r, &h);
    assert_eq!(c.guarantees[&Guarantee::CaughtUp], 0, "etcd's last word to it was the compaction: {c:#?}");
}

/// Watchers with every new field, on n1..n3, revisions 2..=5 (no history): r2 creates k1,
/// r3 creates k2, r4 is one txn (k1 put again, k2 deleted; one response), r5 re-creates k2.
/// `w0`, `w1`: prefix `k`, prev_kv, progress at 5; `w2`: no-delete; `w3`: a future start
/// (asked 5 when the store was at 3); `w4`: an informer that listed at 4 after breaking.
const WATCHERS: &str = r#"{"member":"n1","watcher":"w0","t":1,"type":"started","revision":2,"spec":{"key":"k","prefix":true,"require_leader":false,"prev_kv":true,"progress_notify":true,"start":"current","placement":"spread"},"header":1}
{"member":"n1","watcher":"w0","t":2,"type":"put","key":"k1","value":"a","mod_revision":2,"create_revision":2,"version":1,"prev":null,"response":1}
{"member":"n1","watcher":"w0","t":3,"type":"put","key":"k2","value":"b","mod_revision":3,"create_revision":3,"version":1,"prev":null,"response":2}
{"member":"n1","watcher":"w0","t":4,"type":"put","key":"k1","value":"c","mod_revision":4,"create_revision":2,"version":2,"prev":{"value":"a","mod_revision":2,"create_revision":2,"version":1},"response":3}
{"member":"n1","watcher":"w0","t":4,"type":"delete","key":"k2","mod_revision":4,"prev":{"value":"b","mod_revision":3,"create_revision":3,"version":1},"response":3}
{"member":"n1","watcher":"w0","t":5,"type":"put","key":"k2","value":"d","mod_revision":5,"create_revision":5,"version":1,"prev":null,"response":4}
{"member":"n1","watcher":"w0","t":6,"type":"progress","revision":5,"response":5}
{"member":"n1","watcher":"w0","t":9,"type":"stopped","last_revision":5,"target":5}
{"member":"n2","watcher":"w1","t":1,"type":"started","revision":2,"spec":{"key":"k","prefix":true,"require_leader":true,"prev_kv":true,"progress_notify":true,"start":"current","placement":"spread"},"header":1}
{"member":"n2","watcher":"w1","t":2,"type":"put","key":"k1","value":"a","mod_revision":2,"create_revision":2,"version":1,"prev":null,"response":1}
{"member":"n2","watcher":"w1","t":3,"type":"put","key":"k2","value":"b","mod_revision":3,"create_revision":3,"version":1,"prev":null,"response":2}
{"member":"n2","watcher":"w1","t":4,"type":"put","key":"k1","value":"c","mod_revision":4,"create_revision":2,"version":2,"prev":{"value":"a","mod_revision":2,"create_revision":2,"version":1},"response":3}
{"member":"n2","watcher":"w1","t":4,"type":"delete","key":"k2","mod_revision":4,"prev":{"value":"b","mod_revision":3,"create_revision":3,"version":1},"response":3}
{"member":"n2","watcher":"w1","t":5,"type":"put","key":"k2","value":"d","mod_revision":5,"create_revision":5,"version":1,"prev":null,"response":4}
{"member":"n2","watcher":"w1","t":6,"type":"progress","revision":5,"response":5}
{"member":"n2","watcher":"w1","t":9,"type":"stopped","last_revision":5,"target":5}
{"member":"n3","watcher":"w2","t":1,"type":"started","revision":2,"spec":{"key":"k","prefix":true,"require_leader":false,"prev_kv":false,"filter":"no-delete","progress_notify":false,"start":"current","placement":"spread"},"header":1}
{"member":"n3","watcher":"w2","t":2,"type":"put","key":"k1","value":"a","mod_revision":2,"create_revision":2,"version":1,"response":1}
{"member":"n3","watcher":"w2","t":3,"type":"put","key":"k2","value":"b","mod_revision":3,"create_revision":3,"version":1,"response":2}
{"member":"n3","watcher":"w2","t":4,"type":"put","key":"k1","value":"c","mod_revision":4,"create_revision":2,"version":2,"response":3}
{"member":"n3","watcher":"w2","t":5,"type":"put","key":"k2","value":"d","mod_revision":5,"create_revision":5,"version":1,"response":4}
{"member":"n3","watcher":"w2","t":9,"type":"stopped","last_revision":5,"target":5}
{"member":"n1","watcher":"w3","t":1,"type":"started","revision":5,"spec":{"key":"k","prefix":true,"require_leader":false,"prev_kv":false,"progress_notify":false,"start":"future","placement":"one"},"header":3}
{"member":"n1","watcher":"w3","t":5,"type":"put","key":"k2","value":"d","mod_revision":5,"create_revision":5,"version":1,"response":1}
{"member":"n1","watcher":"w3","t":9,"type":"stopped","last_revision":5,"target":5}
{"member":"n2","watcher":"w4","t":1,"type":"started","revision":2,"spec":{"key":"k","prefix":true,"require_leader":true,"prev_kv":false,"progress_notify":false,"start":"after-list","placement":"follow"},"header":1}
{"member":"n2","watcher":"w4","t":2,"type":"put","key":"k1","value":"a","mod_revision":2,"create_revision":2,"version":1,"response":1}
{"member":"n2","watcher":"w4","t":3,"type":"broken","why":"rpc error: compacted"}
{"member":"n3","watcher":"w4","t":4,"type":"listed","revision":4,"keys":1}
{"member":"n3","watcher":"w4","t":4,"type":"resumed","revision":5,"attempts":1}
{"member":"n3","watcher":"w4","t":5,"type":"put","key":"k2","value":"d","mod_revision":5,"create_revision":5,"version":1,"response":1}
{"member":"n3","watcher":"w4","t":9,"type":"stopped","last_revision":5,"target":5}
"#;

fn watchers() -> Vec<WatchRecord> {
    WATCHERS.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The `i`-th event of `watcher` at `revision`.
fn event_at<'a>(r: &'a mut [WatchRecord], watcher: &str, revision: i64, i: usize) -> &'a mut WatchLine {
    &mut r.iter_mut().filter(|x| x.watcher_id() == watcher && x.what.event_revision() == Some(revision)).nth(i).unwrap().what
}

#[test]
fn the_hand_written_watchers_keep_every_guarantee() {
    let c = check(&watchers(), &[]);
    assert!(c.ok, "{c:#?}");
    assert_eq!((c.streams, c.events), (5, 17));
    assert!(c.guarantees.len() == Guarantee::ALL.len() && c.guarantees.values().all(|n| *n == 0), "{:?}", c.guarantees);
    assert_eq!(c.watchers[0].progress, 1);
}

#[test]
fn a_revision_split_over_two_responses_breaks_atomic() {
    let mut r = watchers();
    if let WatchLine::Delete { response, .. } = event_at(&mut r, "w0", 4, 1) {
        *response = Some(9);
    }
    only(&check(&r, &[]), Guarantee::Atomic, "w0", 4);
}

#[test]
fn an_event_after_a_progress_notification_past_it_breaks_bookmarkable() {
    let mut r = watchers();
    // w1's progress at 5 arrives before its event at 5.
    let p = r.iter().position(|x| x.watcher_id() == "w1" && matches!(x.what, WatchLine::Progress { .. })).unwrap();
    let progress = r.remove(p);
    let e = r.iter().position(|x| x.watcher_id() == "w1" && x.what.event_revision() == Some(5)).unwrap();
    r.insert(e, progress);
    only(&check(&r, &[]), Guarantee::Bookmarkable, "w1", 5);
}

#[test]
fn a_previous_value_no_write_left_there_breaks_prev_kv() {
    let mut r = watchers();
    if let WatchLine::Put { prev: Some(Some(p)), .. } = event_at(&mut r, "w0", 4, 0) {
        p.value = "zzz".into();
    }
    only(&check(&r, &[]), Guarantee::PrevKv, "w0", 4);
    // A previous value on a creation.
    let mut r = watchers();
    if let WatchLine::Put { prev, .. } = event_at(&mut r, "w1", 5, 0) {
        *prev = Some(Some(faultline::watchlog::PrevKv { value: "b".into(), mod_revision: 3, create_revision: 3, version: 1 }));
    }
    only(&check(&r, &[]), Guarantee::PrevKv, "w1", 5);
}

#[test]
fn a_creation_with_a_version_past_1_breaks_is_create() {
    let mut r = watchers();
    // Every stream says k2's re-creation at 5 is version 2: they agree, and all are wrong.
    for w in ["w0", "w1", "w2", "w3", "w4"] {
        if let WatchLine::Put { version, .. } = event_at(&mut r, w, 5, 0) {
            *version = Some(2);
        }
    }
    let c = check(&r, &[]);
    assert_eq!(c.problems(), "5 is_create", "{c:#?}");
    assert!(c.violations.iter().all(|v| v.guarantee == Guarantee::IsCreate && v.revision == Some(5)));
}

#[test]
fn a_delete_on_a_no_delete_stream_breaks_filters() {
    let mut r = watchers();
    let mut delete = r.iter().find(|x| x.watcher_id() == "w0" && matches!(x.what, WatchLine::Delete { .. })).unwrap().clone();
    (delete.watcher, delete.member) = (Some("w2".into()), "n3".into());
    let at = r.iter().position(|x| x.watcher_id() == "w2" && x.what.event_revision() == Some(5)).unwrap();
    r.insert(at, delete);
    only(&check(&r, &[]), Guarantee::Filters, "w2", 4);
}

#[test]
fn an_event_below_a_future_start_breaks_start_revision() {
    let mut r = watchers();
    let mut early = r.iter().find(|x| x.watcher_id() == "w0" && x.what.event_revision() == Some(4)).unwrap().clone();
    early.watcher = Some("w3".into());
    let at = r.iter().position(|x| x.watcher_id() == "w3" && x.what.event_revision() == Some(5)).unwrap();
    r.insert(at, early);
    only(&check(&r, &[]), Guarantee::StartRevision, "w3", 4);
}

#[test]
fn without_its_list_the_informer_lacks_what_the_list_covered() {
    let mut r = watchers();
    r.retain(|x| !matches!(x.what, WatchLine::Listed { .. }));
    let c = check(&r, &[]);
    // r3 (k2), r4 (k1, k2): missing from w4, which resumed at 5.
    assert_eq!(c.problems(), "3 reliable", "{c:#?}");
    assert!(c.violations.iter().all(|v| v.watcher == "w4" && matches!(v.revision, Some(3 | 4))), "{:?}", c.violations);
}

#[test]
fn a_transaction_delivered_in_another_order_breaks_ordered() {
    let mut r = watchers();
    // w1 gets revision 4's delete of k2 before its put of k1; w0 (the first) had them the
    // other way round, as the transaction applied them.
    let i = r.iter().position(|x| x.watcher_id() == "w1" && x.what.event_revision() == Some(4)).unwrap();
    r.swap(i, i + 1);
    let c = check(&r, &[]);
    only(&c, Guarantee::Ordered, "w1", 4);
    assert!(c.first_problem.unwrap().contains("key order k2, k1, w0's stream in k1, k2"));
}

/// An etcd-API history (docs/formats.md §2.1) behind the hand-written watchers: op 1 puts k1
/// at 2; op 5, a delete of a missing key, answers with the header revision 3, which is op 6's
/// (it made no revision of its own); op 2, one txn, puts k1 and deletes k2 at 4; op 3's put of
/// k2 = "d" is unknown (no completion).
const ETCD_HISTORY: &str = r#"{"type":"invoke","id":1,"client":0,"t":1,"f":"put","key":"k1","value":null,"req":{"txn":{"then":[{"put":{"key":"k1","value":"a"}}]}}}
{"type":"ok","id":1,"client":0,"t":2,"f":"put","key":"k1","value":null,"rev":2,"res":{"rev":2,"txn":{"ok":true,"results":[{"put":{}}]}}}
{"type":"invoke","id":5,"client":1,"t":2,"f":"delete","key":"k9","value":null,"req":{"txn":{"then":[{"delete":{"key":"k9"}}]}}}
{"type":"ok","id":5,"client":1,"t":3,"f":"delete","key":"k9","value":null,"rev":3,"res":{"rev":3,"txn":{"ok":true,"results":[{"delete":{"deleted":0}}]}}}
{"type":"invoke","id":6,"client":2,"t":2,"f":"put","key":"k2","value":null,"req":{"txn":{"then":[{"put":{"key":"k2","value":"b"}}]}}}
{"type":"ok","id":6,"client":2,"t":3,"f":"put","key":"k2","value":null,"rev":3,"res":{"rev":3,"txn":{"ok":true,"results":[{"put":{}}]}}}
{"type":"invoke","id":2,"client":0,"t":3,"f":"txn","key":"k1","value":null,"req":{"txn":{"if":[{"key":"k1","op":"=","target":"mod","n":2}],"then":[{"put":{"key":"k1","value":"c"}},{"delete":{"key":"k2"}}]}}}
{"type":"ok","id":2,"client":0,"t":4,"f":"txn","key":"k1","value":null,"rev":4,"res":{"rev":4,"txn":{"ok":true,"results":[{"put":{}},{"delete":{"deleted":1}}]}}}
{"type":"invoke","id":3,"client":1,"t":4,"f":"put","key":"k2","value":null,"req":{"txn":{"then":[{"put":{"key":"k2","value":"d"}}]}}}
"#;

fn etcd_history() -> Vec<Entry> {
    ETCD_HISTORY.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn against_an_etcd_history_events_agree_with_the_acknowledged_transactions() {
    let c = check(&watchers(), &etcd_history());
    assert!(c.ok, "{c:#?}");
    // A value op 2's transaction did not write at its revision.
    let mut r = watchers();
    if let WatchLine::Put { value, .. } = event_at(&mut r, "w0", 4, 0) {
        *value = "zz".into();
    }
    let c = check(&r, &etcd_history());
    only(&c, Guarantee::Agreement, "w0", 4);
    assert!(c.first_problem.unwrap().contains("but op 2 (acknowledged at 0.00 s) wrote k1 = \"c\", k2 deleted there"));
    // The put no one acknowledged failed: every stream that shows it breaks agreement.
    let mut h = etcd_history();
    let fail = r#"{"type":"fail","id":3,"client":1,"t":5,"f":"put","key":"k2","value":null,"error":"etcdserver: request timed out"}"#;
    h.push(serde_json::from_str(fail).unwrap());
    let c = check(&watchers(), &h);
    assert_eq!(c.problems(), "5 agreement", "{c:#?}");
    assert!(c.violations.iter().all(|v| v.revision == Some(5) && v.message.contains("op 3 that put it failed")), "{:?}", c.violations);
    // A value no operation put.
    let mut r = watchers();
    for w in ["w0", "w1", "w2", "w3", "w4"] {
        if let WatchLine::Put { value, .. } = event_at(&mut r, w, 5, 0) {
            *value = "forged".into();
        }
    }
    let c = check(&r, &etcd_history());
    assert_eq!(c.problems(), "5 agreement", "{c:#?}");
    assert!(c.violations[0].message.contains("no operation of the history put that value"));
}

#[test]
fn a_put_that_continues_a_deleted_generation_breaks_is_create() {
    let mut r = watchers();
    // Every stream says k2 at 5 is version 2 of the generation created at 3 — which the
    // delete at 4 ended.
    for w in ["w0", "w1", "w2", "w3", "w4"] {
        if let WatchLine::Put { version, create_revision, .. } = event_at(&mut r, w, 5, 0) {
            (*version, *create_revision) = (Some(2), Some(3));
        }
    }
    let c = check(&r, &[]);
    assert_eq!(c.problems(), "5 is_create", "{c:#?}");
    assert!(c.violations.iter().all(|v| v.revision == Some(5) && v.message.contains("deleted k2 at revision 4")), "{:?}", c.violations);
}

/// Run `yaml` on processes (it must pass, the watch check on every guarantee included); the run's
/// `watch.jsonl`.
fn run_traffic(yaml: &str, dir: &Path) -> Vec<WatchRecord> {
    run_traffic_with(yaml, dir, false)
}

/// [`run_traffic`], also accepting the one failure etcd 3.4.23 is known for
/// (etcd-io/etcd#18089, docs/findings.md): a watcher opened or resumed at a compaction revision
/// that is a delete misses the delete — only `resumable` broken, each time that way.
fn run_traffic_with(yaml: &str, dir: &Path, allow_18089: bool) -> Vec<WatchRecord> {
    crate::util::require_root();
    let scen = dir.join("s.yaml");
    std::fs::write(&scen, yaml).unwrap();
    let out = dir.join("run");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", scen.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet", "--backend", "process"])
        .output()
        .unwrap();
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let known_bug = || {
        let v: serde_json::Value = serde_json::from_str(&summary).unwrap_or_default();
        let g = &v["watch"]["guarantees"];
        let broken: Vec<&String> = g.as_object().map(|m| m.iter().filter(|(_, n)| n.as_u64() != Some(0)).map(|(k, _)| k).collect()).unwrap_or_default();
        broken == ["resumable"] && stderr.contains("deleted") && stderr.contains("though resumed from revision")
    };
    if !(allow_18089 && o.status.code() == Some(1) && known_bug()) {
        assert_eq!(o.status.code(), Some(0), "stderr: {stderr}\nsummary: {summary}");
    }
    watchlog::read(&out.join("watch.jsonl")).unwrap()
}

/// One watcher's lines.
fn of<'a>(r: &'a [WatchRecord], watcher: &str) -> Vec<&'a WatchRecord> {
    r.iter().filter(|x| x.watcher.as_deref() == Some(watcher)).collect()
}

/// A watcher's `started` line: its revision, spec and header.
fn started(lines: &[&WatchRecord]) -> (i64, watchlog::WatchSpec, i64) {
    let s: Vec<_> = lines
        .iter()
        .filter_map(|x| match &x.what {
            WatchLine::Started { revision, spec, header } => Some((*revision, spec.clone().expect("a spec"), header.expect("a header"))),
            _ => None,
        })
        .collect();
    assert_eq!(s.len(), 1, "one started line: {lines:?}");
    s[0].clone()
}

#[test]
fn watchers_get_what_they_asked_for_on_the_etcd_workload_with_a_member_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: it-watch-traffic\nseed: 5\nworkload:\n  kind: etcd\n  clients: 4\n  keys: 8\n  rate: 100/s\n  duration: 20s\n  watch:\n\
                \x20   - {watchers: 1, prev_kv: true}\n\
                \x20   - {watchers: 1, placement: one, member: n2, filter: no-put}\n\
                \x20   - {watchers: 1, placement: one, member: n1, progress_requests: 2/s, progress_notify: true}\n\
                \x20   - {watchers: 1, placement: one, member: n2, start: past}\n\
                \x20   - {watchers: 1, placement: one, member: n1, slow: {share: 1, every: 3s, for: 1s}}\n\
                \x20   - {watchers: 1, placement: one, member: n2, informer: true}\n\
                \x20   - {watchers: 1, placement: one, member: n3, require_leader: false}\n\
                \x20   - {watchers: 1, placement: one, member: n3}\n\
                \x20   - {watchers: 2, placement: one, member: n1, start: [compaction, future]}\n\
                \x20   - {watchers: 2, placement: follow}\n\
                faults:\n  - {at: 4s, for: 7s, kind: partition, target: n3}\nexpect: {linearizable: true}\n";
    // The watcher opened at the compaction revision meets etcd-io/etcd#18089 when that
    // revision is a delete (seen once in CI): the known bug, not this test's subject.
    let r = run_traffic_with(yaml, dir.path(), true);
    let events = |lines: &[&WatchRecord]| lines.iter().filter(|x| x.what.event_revision().is_some()).count();
    for w in 0..12 {
        let lines = of(&r, &format!("w{w}"));
        let (rev, spec, _) = started(&lines);
        assert_eq!((spec.key.as_str(), spec.prefix), ("k", true), "w{w}");
        assert!(events(&lines) > 0 || spec.start == watchlog::StartRevision::Future, "w{w} delivered nothing from {rev}");
        assert!(matches!(lines.last().unwrap().what, WatchLine::Stopped { .. }), "w{w} ends stopped");
    }
    // prev_kv: every event says what the key was; a previous state is older than the event.
    let w0 = of(&r, "w0");
    assert!(started(&w0).1.prev_kv);
    let mut prevs = 0;
    for x in &w0 {
        match &x.what {
            WatchLine::Put { prev, mod_revision, version, .. } => {
                let prev = prev.as_ref().expect("prev recorded with prev_kv");
                if let Some(p) = prev {
                    assert!(p.mod_revision < *mod_revision && p.version + 1 == version.unwrap(), "{x:?}");
                    prevs += 1;
                }
            }
            WatchLine::Delete { prev, .. } => assert!(prev.is_some(), "{x:?}"),
            _ => {}
        }
    }
    assert!(prevs > 50, "{prevs} puts with a previous value");
    // The no-put filter: deletes only.
    let w1 = of(&r, "w1");
    assert_eq!(started(&w1).1.filter, watchlog::Filter::NoPut);
    assert!(w1.iter().all(|x| !matches!(x.what, WatchLine::Put { .. })) && events(&w1) > 10);
    // Progress requested and answered, every response numbered in order.
    let w2 = of(&r, "w2");
    assert!(w2.iter().filter(|x| matches!(x.what, WatchLine::ProgressRequested {})).count() >= 10);
    assert!(w2.iter().filter(|x| matches!(x.what, WatchLine::Progress { .. })).count() >= 5);
    let numbers: Vec<u64> = w2
        .iter()
        .filter_map(|x| match x.what {
            WatchLine::Put { response, .. } | WatchLine::Delete { response, .. } | WatchLine::Progress { response, .. } => response,
            _ => None,
        })
        .collect();
    assert!(numbers.windows(2).all(|p| p[1] == p[0] || p[1] == p[0] + 1) && numbers[0] == 1, "{numbers:?}");
    // A past start is below the store's revision when the stream opened.
    let (past, spec, header) = started(&of(&r, "w3"));
    assert!(spec.start == watchlog::StartRevision::Past && past <= header, "{past} {header}");
    // The slow reader stopped reading now and then.
    assert!(of(&r, "w4").iter().filter(|x| matches!(x.what, WatchLine::Slow { ms: 1000 })).count() >= 3);
    // The informer listed, then watched from the list's revision + 1.
    let w5 = of(&r, "w5");
    let WatchLine::Listed { revision: listed, keys } = w5[0].what else { panic!("the informer lists first: {:?}", w5[0]) };
    let (from, spec, _) = started(&w5);
    assert!(keys > 0 && from == listed + 1 && spec.start == watchlog::StartRevision::AfterList);
    // On the cut-off member: the watch without require_leader stayed open, the one with it
    // was cancelled ("no leader") and resumed after the heal.
    let w6 = of(&r, "w6");
    assert!(!started(&w6).1.require_leader && w6.iter().all(|x| !matches!(x.what, WatchLine::Broken { .. })), "{w6:?}");
    let w7 = of(&r, "w7");
    assert!(w7.iter().any(|x| matches!(&x.what, WatchLine::Broken { why } if why.contains("no leader"))), "{w7:?}");
    assert!(w7.iter().any(|x| matches!(x.what, WatchLine::Resumed { .. })));
    // A compaction start (the workload compacts now and then): from the compact revision, in
    // the past, nothing below it; with nothing compacted yet it would start at the current
    // revision (and say so in a note).
    let w8 = of(&r, "w8");
    let (compaction, spec, header) = started(&w8);
    assert!(matches!(spec.start, watchlog::StartRevision::Compaction | watchlog::StartRevision::Current));
    assert!(spec.start != watchlog::StartRevision::Compaction || compaction <= header, "{compaction} {header}");
    assert!(w8.iter().filter_map(|x| x.what.event_revision()).all(|rev| rev >= compaction));
    // A future start: nothing delivered below it.
    let w9 = of(&r, "w9");
    let (future, spec, header) = started(&w9);
    assert!(spec.start == watchlog::StartRevision::Future && future > header + 1);
    assert!(w9.iter().filter_map(|x| x.what.event_revision()).all(|rev| rev >= future));
    // A following watcher starts where the round robin puts it (w11 on n3) and, when n3's
    // stream is cancelled, goes on on another member under the same name.
    let w11 = of(&r, "w11");
    assert_eq!((w11[0].member.as_str(), started(&w11).1.placement.as_str()), ("n3", "follow"));
    let broke = w11.iter().position(|x| matches!(x.what, WatchLine::Broken { .. })).expect("n3's stream broke");
    let resumed = w11[broke..].iter().find(|x| matches!(x.what, WatchLine::Resumed { .. })).expect("and resumed");
    assert_ne!(resumed.member, "n3", "{w11:?}");
}

#[test]
fn the_kubernetes_workload_lists_then_watches_each_resource() {
    let dir = tempfile::tempdir().unwrap();
    let yaml =
        "name: it-watch-kubernetes\nseed: 3\nworkload: {kind: kubernetes, clients: 4, keys: 20, rate: 150/s, duration: 10s}\nexpect: {linearizable: true}\n";
    let r = run_traffic(yaml, dir.path());
    let mut prefixes = Vec::new();
    for w in ["w0", "w1", "w2"] {
        let lines = of(&r, w);
        let WatchLine::Listed { revision: listed, keys } = lines[0].what else { panic!("{w} lists first: {:?}", lines[0]) };
        let (from, spec, _) = started(&lines);
        assert!(keys > 0 && from == listed + 1 && spec.start == watchlog::StartRevision::AfterList, "{w}");
        let mine = |x: &&&WatchRecord| match &x.what {
            WatchLine::Put { key, .. } | WatchLine::Delete { key, .. } => Some(key.starts_with(&spec.key)),
            _ => None,
        };
        assert!(lines.iter().filter_map(|x| mine(&x)).all(|m| m) && lines.iter().filter(|x| mine(x).is_some()).count() > 10, "{w} sees only its resource");
        prefixes.push(spec.key);
    }
    assert_eq!(prefixes, ["/registry/pods/", "/registry/configmaps/", "/registry/leases/"]);
    assert!(of(&r, "w3").is_empty());
}

#[test]
fn an_informer_refused_as_compacted_lists_again_and_watches_from_after_the_new_list() {
    let dir = tempfile::tempdir().unwrap();
    // The informer has listed and watches by 5 s (its delay is 20-50 % of the 10 s); n2 is
    // killed at 5.5 s, and the compaction at 7 s, while n2 is down, takes its last revision.
    let yaml = "name: it-watch-informer\nseed: 2\nworkload:\n  clients: 4\n  keys: 8\n  rate: 150/s\n  duration: 10s\n  watch: {informer: true, watchers: 1, placement: one, member: n2}\nfaults:\n  - {at: 5.5s, for: 3s, kind: kill, target: n2}\nops:\n  - {at: 7s, op: compact}\nexpect: {linearizable: true}\n";
    let r = run_traffic(yaml, dir.path());
    let w0 = of(&r, "w0");
    let lists: Vec<i64> = w0
        .iter()
        .filter_map(|x| match x.what {
            WatchLine::Listed { revision, .. } => Some(revision),
            _ => None,
        })
        .collect();
    let (from, _, _) = started(&w0);
    assert_eq!(from, lists[0] + 1);
    let c = w0.iter().position(|x| matches!(x.what, WatchLine::Compacted { .. })).unwrap_or_else(|| panic!("the resumption was refused as compacted: {w0:?}"));
    let (WatchLine::Listed { revision: relisted, .. }, WatchLine::Resumed { revision: resumed, .. }) = (&w0[c + 1].what, &w0[c + 2].what) else {
        panic!("a new list, then the watch from after it: {:?}", &w0[c..])
    };
    assert!(lists.len() == 2 && *resumed == relisted + 1 && *relisted > lists[0], "{:?}", &w0[c..]);
}

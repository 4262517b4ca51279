//! The watch workload and its checker. The checker is held to a stream recorded from a real
//! run (tests/fixtures/watch-kill-compact: three members, n3 killed for 4 s and a compaction
//! while it was down, so its stream broke, was refused as compacted and resumed from the
//! compact revision), clean and with one defect planted at a time. Then whole runs with
//! `watch: true` and a member killed and restarted, on processes and on containers; then
//! watch traffic with every setting a watcher can have (on the etcd workload, with a member
//! cut off), an informer whose resumption is refused as compacted, and the kubernetes workload's informers — judged here on what `watch.jsonl`
//! records, not by the watch gate.

use faultline::checker::watch::{check, WatchCheck};
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
    let n3 = &c.members[2];
    assert_eq!(n3.member, "n3");
    assert!(n3.resumed >= 2 && n3.compacted == 1 && n3.skipped > 0, "{n3:?}");
    assert!(c.members.iter().all(|m| m.events > 0 && m.last_revision == c.members[0].last_revision));
}

#[test]
fn a_dropped_event_is_found_as_a_gap() {
    let (mut r, h) = fixture();
    let i = nth_event(&r, "n1", 20);
    let rev = r[i].what.event_revision().unwrap();
    r.remove(i);
    let c = check(&r, &h);
    assert_eq!((c.gaps, c.duplicates, c.out_of_order, c.disagreements), (1, 0, 0, 0), "{c:#?}");
    assert_eq!(c.members[0].gaps, 1);
    assert!(c.first_problem.as_deref().unwrap().contains(&format!("n1's stream lacks revision {rev}")), "{:?}", c.first_problem);
}

#[test]
fn a_compaction_not_reported_by_etcd_does_not_excuse_the_revisions_it_skipped() {
    let (mut r, h) = fixture();
    let skipped = check(&r, &h).members[2].skipped;
    // Without the `compacted` line, n3's resumption at the compact revision is a hole.
    r.retain(|x| !matches!(x.what, WatchLine::Compacted { .. }));
    let c = check(&r, &h);
    assert!(c.gaps > 0 && c.gaps <= skipped, "{} gaps, {skipped} skipped", c.gaps);
    assert!(c.first_problem.unwrap().starts_with("n3's stream lacks revision"));
}

#[test]
fn a_repeated_event_is_a_duplicate_and_a_swapped_pair_is_out_of_order() {
    let (r, h) = fixture();
    let mut dup = r.clone();
    let i = nth_event(&dup, "n2", 10);
    dup.insert(i + 1, dup[i].clone());
    let c = check(&dup, &h);
    assert_eq!((c.duplicates, c.gaps, c.out_of_order), (1, 0, 0), "{c:#?}");
    assert!(c.first_problem.unwrap().contains("twice"));

    let mut swapped = r.clone();
    let (a, b) = (nth_event(&swapped, "n2", 10), nth_event(&swapped, "n2", 11));
    swapped.swap(a, b);
    let c = check(&swapped, &h);
    assert_eq!((c.out_of_order, c.duplicates, c.gaps), (1, 0, 0), "{c:#?}");
}

#[test]
fn a_value_no_write_put_there_is_a_disagreement() {
    let (mut r, h) = fixture();
    let i = nth_event(&r, "n1", 5);
    if let WatchLine::Put { value, .. } = &mut r[i].what {
        *value = "forged".into();
    }
    let c = check(&r, &h);
    assert_eq!(c.disagreements, 1, "{c:#?}");
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
    for m in &w.members {
        assert!(m.events > 100, "{m:?}");
    }
    assert!(w.members[2].resumed >= 1, "n3 was killed: its stream must have been resumed: {:?}", w.members[2]);
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

/// Run `yaml` on processes (it must pass: its watch traffic is not gated); the run's
/// `watch.jsonl`.
fn run_traffic(yaml: &str, dir: &Path) -> Vec<WatchRecord> {
    crate::util::require_root();
    let scen = dir.join("s.yaml");
    std::fs::write(&scen, yaml).unwrap();
    let out = dir.join("run");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", scen.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet", "--backend", "process"])
        .output()
        .unwrap();
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap_or_default();
    assert_eq!(o.status.code(), Some(0), "stderr: {}\nsummary: {summary}", String::from_utf8_lossy(&o.stderr));
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
    let r = run_traffic(yaml, dir.path());
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

//! Triggered faults on real clusters: a kill `when:` a defrag has started, a partition
//! `until:` the cut-off member needs a snapshot (proven from the leader's log, and the
//! member's), a pause `when:` that partition finished — and conditions that never come.

use faultline::events::{self, Event, EventKind};
use std::path::Path;

/// A defrag of n2 cut short by a kill of n2 as it starts; n3 cut off until it needs a
/// snapshot (a snapshot every 100 entries; etcd keeps 5 000 entries for slow followers, so
/// 32 writing clients must append those first); n1 paused 500 ms after that heals.
const SCENARIO: &str = "name: it-triggers
seed: 5
cluster: {size: 3, etcd: {snapshot_count: 100}}
workload: {duration: 40s, clients: 32, keys: 50, mix: {read: 10, write: 90}}
ops:
  - {id: d1, at: 3s, op: defrag, target: n2, expect: interrupted}
faults:
  - {when: \"d1 started\", for: 2s, kind: kill, target: n2}
  - {id: cut, at: 6s, until: snapshot, within: 32s, kind: partition, mode: isolate, target: n3}
  - {when: \"cut finished + 500ms\", for: 1s, kind: pause, target: n1}
expect: {linearizable: true}
";

fn run(yaml: &str, backend: &str, dir: &Path) -> (i32, String, Vec<Event>) {
    crate::util::require_root();
    let scen = dir.join("s.yaml");
    std::fs::write(&scen, yaml).unwrap();
    let out = dir.join("run");
    let (code, stdout, stderr) = crate::util::faultline(&["run", scen.to_str().unwrap(), "--out", out.to_str().unwrap(), "--backend", backend]);
    let events = events::read(&out.join("events.jsonl")).unwrap_or_default();
    (code, format!("{stdout}\n{stderr}"), events)
}

/// When (s) the first event `f` picks happened.
fn when(events: &[Event], f: impl Fn(&EventKind) -> bool) -> Option<f64> {
    events.iter().find(|e| f(&e.what)).map(|e| e.t as f64 / 1e9)
}

fn fault_start(events: &[Event], id: usize) -> Option<f64> {
    when(events, |k| matches!(k, EventKind::FaultStart(r) if r.id == id))
}

fn fault_heal(events: &[Event], id: usize) -> Option<f64> {
    when(events, |k| matches!(k, EventKind::FaultHeal(r) if r.id == id))
}

fn check_triggers(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, ev) = run(SCENARIO, backend, dir.path());
    assert_eq!(code, 0, "{out}");
    // The schedule: #0 kill (when d1 started), #1 pause (when cut finished), #2 the partition.
    let op_start = when(&ev, |k| matches!(k, EventKind::OpStart { id, .. } if id == "d1")).expect("d1's op-start");
    let fired = ev.iter().find_map(|e| match &e.what {
        EventKind::TriggerFired { fault: 0, then, waited_for, happened_t, .. } => Some((then.clone(), waited_for.clone(), *happened_t as f64 / 1e9)),
        _ => None,
    });
    let (then, waited, happened) = fired.expect("the kill's trigger fired");
    assert_eq!((then.as_str(), waited.as_str()), ("start", "d1 started"));
    assert!((happened - op_start).abs() < 0.05, "the trigger heard d1 start at {happened}, the op says {op_start}");
    let kill = fault_start(&ev, 0).expect("the kill started");
    assert!(kill >= op_start && kill - op_start < 0.25, "the kill began {:.3} s after the defrag was sent", kill - op_start);
    let defrag = ev.iter().find_map(|e| match &e.what {
        EventKind::Op { op, ok, expect, .. } if op == "defrag" => Some((*ok, expect.clone())),
        _ => None,
    });
    assert_eq!(defrag, Some((false, Some("interrupted".into()))), "the kill cut the defrag short");

    // The partition heals once the leader compacted its raft log past n3's index.
    let cut = ev
        .iter()
        .find_map(|e| match &e.what {
            EventKind::TriggerFired { fault: 2, then, waited_for, evidence, .. } if then == "heal" && waited_for == "snapshot" => {
                Some((e.t as f64 / 1e9, evidence.clone()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("the partition's until: snapshot fired: {out}"));
    assert!(cut.1.contains("compacted its raft log at index") && cut.1.contains("past n3's index"), "{}", cut.1);
    let healed = fault_heal(&ev, 2).expect("the partition healed");
    assert!(healed >= cut.0 && healed - cut.0 < 1.0, "healed at {healed}, fired at {}", cut.0);
    let took = when(&ev, |k| matches!(k, EventKind::SnapshotReceived { member, .. } if member == "n3"));
    assert!(took.is_some_and(|t| t >= cut.0), "n3's log says it took a snapshot after the heal: {out}");
    // And the pause 500 ms after the partition finished.
    let pause = fault_start(&ev, 1).expect("the pause started");
    assert!(pause - healed >= 0.45 && pause - healed < 2.0, "the pause began {:.3} s after the heal", pause - healed);
    // The report's member lanes say what each triggered fault waited for.
    let page = std::fs::read_to_string(dir.path().join("run/report.html")).unwrap();
    for mark in ["fault #0 started: d1 started", "fault #2 healed: snapshot", "fault #1 started: cut finished + 500ms", "applied a snapshot from the leader"] {
        assert!(page.contains(mark), "report.html marks `{mark}`");
    }
}

#[test]
fn a_kill_cuts_a_defrag_short_and_a_partition_lasts_until_the_member_needs_a_snapshot_on_processes() {
    check_triggers("process");
}

#[test]
fn a_kill_cuts_a_defrag_short_and_a_partition_lasts_until_the_member_needs_a_snapshot_on_containers() {
    if crate::util::etcd_image().is_none() {
        return;
    }
    check_triggers("docker");
}

#[test]
fn conditions_that_never_come_make_the_run_invalid_and_say_what_was_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing cuts n2 off, and a stopped n3 cannot need a snapshot at 20 writes a second.
    let yaml = "name: it-never\nseed: 1\nworkload: {duration: 6s, rate: 20/s}\nfaults:\n  - {at: 1s, until: snapshot, within: 2s, kind: stop, target: n3}\n  - {when: \"n2 needs snapshot\", for: 1s, kind: pause, target: n1}\n";
    let (code, out, ev) = run(yaml, "process", dir.path());
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("was healed without its condition: `snapshot` did not come within 2s (n3 needs snapshot never happened)"), "{out}");
    assert!(out.contains("never started: `n2 needs snapshot` did not come by the workload's end"), "{out}");
    let expired: Vec<(usize, String)> = ev
        .iter()
        .filter_map(|e| match &e.what {
            EventKind::TriggerExpired { fault, then, .. } => Some((*fault, then.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(expired.len(), 2, "{expired:?}");
    // The stop healed at its bound (n3 restarted), 2 s after it began.
    let (start, heal) = (fault_start(&ev, 1).unwrap(), fault_heal(&ev, 1).unwrap());
    assert!((heal - start - 2.0).abs() < 0.5, "stopped at {start}, restarted at {heal}");
    assert!(fault_start(&ev, 0).is_none(), "the pause never started");
}

#[test]
fn validate_shows_triggered_faults_with_their_condition() {
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("s.yaml");
    std::fs::write(&scen, SCENARIO).unwrap();
    let (code, out, err) = crate::util::faultline(&["validate", scen.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "when \"d1 started\", for 2s  kill on n2",
        "when \"cut finished + 500ms\", for 1s  pause on n1",
        "(cut) at    6.0s until snapshot (within 32s)  partition (isolate) on n3",
        "at    3.0s (d1)  defrag on n2",
    ] {
        assert!(out.contains(line), "`{line}` in:\n{out}");
    }
}

//! The etcd-API workloads on real clusters (issue 17): what the history records of etcd's
//! answers, and the etcd model's verdict on it — a healthy run through a kill is
//! linearizable, serializable reads on a cut-off follower are caught.

use crate::util::{faultline, require_root};
use serde_json::Value;

/// Run `scenario` on the process backend; the exit code, the output, summary.json and the
/// history's lines.
fn run(scenario: &str) -> (i32, String, Value, Vec<Value>, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("s.yaml");
    std::fs::write(&p, scenario).unwrap();
    let out = d.path().join("run");
    let (code, stdout, err) = faultline(&["run", p.to_str().unwrap(), "--backend", "process", "--out", out.to_str().unwrap(), "--quiet"]);
    let said = format!("{stdout}{err}");
    let sum = std::fs::read_to_string(out.join("summary.json")).unwrap_or_else(|e| panic!("no summary.json ({e}): {said}"));
    let history = std::fs::read_to_string(out.join("history.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (code, said, serde_json::from_str(&sum).unwrap(), history, d)
}

#[test]
fn the_etcd_workload_records_etcds_answers_and_a_run_through_a_kill_is_linearizable() {
    require_root();
    let (code, said, sum, history, _d) = run(
        "name: etcd-api\nseed: 5\ncluster: {size: 3}\nworkload: {kind: etcd, clients: 6, keys: 8, rate: 250/s, duration: 8s}\n\
         faults:\n  - {at: 3s, for: 2s, kind: kill, target: leader}\nexpect: {linearizable: true, consistent: true, min_ok_ops: 500}\n",
    );
    assert_eq!(code, 0, "{said}");
    assert_eq!(sum["linearizable"], true, "{}", sum["linearizable_cause"]);
    let ok = |f: &str| history.iter().filter(|e| e["type"] == "ok" && e["f"] == f).count();
    for f in ["get", "range", "put", "delete", "txn", "grant", "compact"] {
        assert!(ok(f) > 0, "no ok {f} in the history");
    }
    // Every ok completion carries etcd's response with its header revision; revisions of
    // answers never exceed the highest a write produced.
    let oks: Vec<&Value> = history.iter().filter(|e| e["type"] == "ok").collect();
    assert!(oks.iter().all(|e| e["res"]["rev"].as_i64().is_some_and(|r| r >= 1) && e["res"]["rev"] == e["rev"]));
    // Reads return keys with their revisions and versions; some read at a past revision
    // below the compaction was refused as compacted.
    let kv = oks.iter().filter_map(|e| e["res"]["range"]["kvs"].as_array()).flatten().next().expect("a read returned a key");
    assert!(kv["mod"].as_i64() >= kv["create"].as_i64() && kv["ver"].as_i64() >= Some(1), "{kv}");
    assert!(history.iter().any(|e| e["type"] == "fail" && e["error"] == "compacted"), "no read was refused as compacted");
}

#[test]
fn kubernetes_traffic_lists_page_by_page_at_one_revision_and_is_linearizable() {
    require_root();
    let (code, said, sum, history, _d) = run(
        "name: k8s\nseed: 6\ncluster: {size: 3}\nworkload: {kind: kubernetes, clients: 6, keys: 30, rate: 250/s, duration: 6s}\n\
         expect: {linearizable: true, consistent: true, min_ok_ops: 500}\n",
    );
    assert_eq!(code, 0, "{said}");
    assert_eq!(sum["linearizable"], true, "{}", sum["linearizable_cause"]);
    // A next page asks at the list's revision, from after the last key of the page before.
    let pages: Vec<&Value> = history.iter().filter(|e| e["type"] == "invoke" && e["req"]["range"]["rev"].is_i64()).collect();
    assert!(pages.len() > 20, "{} continued pages", pages.len());
    assert!(pages.iter().all(|p| p["req"]["range"]["key"].as_str().is_some_and(|k| k.starts_with("/registry/") && k.ends_with('\0'))));
    // Guarded creates and updates both went through and were refused (the 409 an API server gives).
    let txn = |ok: bool| history.iter().filter(|e| e["type"] == "ok" && e["f"] == "txn" && e["res"]["txn"]["ok"] == ok).count();
    assert!(txn(true) > 50 && txn(false) > 5, "succeeded {} refused {}", txn(true), txn(false));
}

#[test]
fn serializable_reads_of_a_cut_off_follower_are_caught_through_their_revisions() {
    require_root();
    let (code, said, sum, _history, _d) = run(
        "name: stale-etcd\nseed: 19\ncluster: {size: 3}\nworkload: {kind: etcd, clients: 8, keys: 4, rate: 300/s, duration: 8s, reads: serializable}\n\
         faults:\n  - {at: 2s, for: 5s, kind: partition, target: follower, mode: isolate}\nexpect: {linearizable: true}\n",
    );
    assert_eq!(code, 1, "{said}");
    assert_eq!(sum["linearizable"], false, "{sum}");
    assert!(said.contains("NOT linearizable"), "{said}");
}

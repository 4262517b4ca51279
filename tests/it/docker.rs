//! The Docker backend against the real engine: a whole run with a partition, a kill and a
//! pause on containers, and nothing labelled with the run left afterwards. Where no engine
//! (or, for attach mode, no Compose) is here, the tests fail under `CI` and otherwise say
//! they were skipped and why (`util::require`).

use crate::cluster::{kill_and_restart, leader_isolation, membership_changes_as_asked, pause_and_catch_up};
use crate::util::{self, TestCluster};
use std::collections::HashMap;

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
fn containers_isolating_the_leader_elects_another_and_the_old_one_rejoins() {
    let Some(c) = TestCluster::docker(3) else { return };
    assert_eq!(c.backend.kind(), "docker");
    leader_isolation(&c);
    drop(c);
    assert_eq!(labelled(), 0, "containers or networks left behind");
}

#[test]
fn a_killed_container_restarts_on_its_data_and_serves_a_key_written_before() {
    let Some(c) = TestCluster::docker(3) else { return };
    kill_and_restart(&c);
    // The data is the run directory's, bind-mounted.
    assert!(c._dir.path().join("data/n2/member/wal").exists());
    drop(c);
    assert_eq!(labelled(), 0, "containers or networks left behind");
}

#[test]
fn a_paused_container_falls_behind_and_catches_up() {
    let Some(c) = TestCluster::docker(3) else { return };
    pause_and_catch_up(&c, "engine pause");
    drop(c);
    assert_eq!(labelled(), 0, "containers or networks left behind");
}

#[test]
fn container_members_are_added_promoted_removed_replaced_and_restarted_in_turn() {
    let Some(c) = TestCluster::docker(3) else { return };
    membership_changes_as_asked(&c);
}

#[test]
fn clean_removes_the_containers_and_network_of_a_crashed_run() {
    let Some(c) = TestCluster::docker(3) else { return };
    let run = c.run_id.clone();
    assert_eq!(labelled(), 4, "3 containers and a network");
    // As after a crash: `clean` finds the run by its label while nothing has torn it down
    // (its state file names this process, which `clean` does not count as a live owner).
    let cleaned = faultline::host::leftovers::clean(Some(&run), false, faultline::host::leftovers::Mode::Remove);
    assert!(cleaned.failed.is_empty(), "{:?}", cleaned.failed);
    assert!(cleaned.removed.iter().filter(|r| r.starts_with("container ")).count() == 3, "{:?}", cleaned.removed);
    assert_eq!(labelled(), 0, "containers or networks left behind after clean");
    drop(c);
}

#[test]
fn containers_survive_a_partition_a_kill_and_a_pause_and_leave_nothing_behind() {
    if !util::docker() {
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
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", scen.to_str().unwrap(), "--out", dir.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
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

/// A Compose project started from the top-level docker-compose.yml on a subnet of the test's
/// own, taken down (with its volumes) when dropped.
struct ComposeProject {
    tool: Vec<&'static str>,
    name: &'static str,
}

impl ComposeProject {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml");
        let mut all = self.tool[1..].to_vec();
        all.extend(["-f", file, "-p", self.name]);
        all.extend(args);
        std::process::Command::new(self.tool[0])
            .args(&all)
            .env("FAULTLINE_COMPOSE_NET", "10.79.201")
            .env("FAULTLINE_ETCD_VERSION", etcd_version())
            .output()
            .unwrap()
    }

    fn up(tool: Vec<&'static str>, name: &'static str) -> Self {
        let p = ComposeProject { tool, name };
        p.cmd(&["down", "-v"]);
        let o = p.cmd(&["up", "-d"]);
        assert!(o.status.success(), "compose up: {}", String::from_utf8_lossy(&o.stderr));
        p
    }

    /// (id, running, paused, pid) of each container, by service name.
    fn containers(&self) -> std::collections::BTreeMap<String, (String, bool, bool, i64)> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let d = faultline::cluster::docker::connect().await.unwrap();
            let filters = HashMap::from([("label".to_string(), vec![format!("com.docker.compose.project={}", self.name)])]);
            let list =
                d.list_containers(Some(bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).filters(&filters).build())).await.unwrap();
            let mut out = std::collections::BTreeMap::new();
            for c in list {
                let id = c.id.unwrap();
                let svc = c.labels.unwrap()["com.docker.compose.service"].clone();
                let st = d.inspect_container(&id, None::<bollard::query_parameters::InspectContainerOptions>).await.unwrap().state.unwrap();
                out.insert(svc, (id, st.running.unwrap(), st.paused.unwrap(), st.pid.unwrap()));
            }
            out
        })
    }
}

impl Drop for ComposeProject {
    fn drop(&mut self) {
        self.cmd(&["down", "-v"]);
    }
}

/// The local etcd's version: the tag `faultline image build` gives.
fn etcd_version() -> String {
    let etcd = faultline::host::sys::which("etcd").expect("etcd on PATH");
    faultline::cluster::etcd_version(&etcd).unwrap()
}

fn etcdctl(args: &[&str]) -> String {
    let o = std::process::Command::new("etcdctl").env("ETCDCTL_API", "3").arg("--endpoints=http://10.79.201.11:2379").args(args).output().unwrap();
    assert!(o.status.success(), "etcdctl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn attach_mode_faults_a_compose_cluster_and_gives_it_back_running_and_healed() {
    if !util::docker() {
        return;
    }
    let Some(tool) = util::compose() else { return };
    let bin = env!("CARGO_BIN_EXE_faultline");
    let built = std::process::Command::new(bin).args(["image", "build"]).output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let project = ComposeProject::up(tool, "faultline-it-attach");
    // The owner's data, which the run must leave alone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints=http://10.79.201.11:2379", "put", "owner", "precious"])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        assert!(std::time::Instant::now() < deadline, "the compose cluster did not come up");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let before = project.containers();
    assert_eq!(before.len(), 3);

    let out = tempfile::tempdir().unwrap();
    let scen = out.path().join("s.yaml");
    std::fs::write(
        &scen,
        "name: it-attach\nseed: 3\ncluster: {backend: docker, attach: {compose_project: faultline-it-attach}}\nworkload: {clients: 4, rate: 200/s, duration: 16s}\nfaults:\n  - {at: 2s, for: 3s, kind: partition, target: leader}\n  - {at: 7s, for: 2s, kind: kill, target: follower}\n  - {at: 11s, for: 2s, kind: pause, target: follower}\nexpect: {consistent: true, linearizable: true, min_ok_ops: 200}\n",
    )
    .unwrap();
    let dir = out.path().join("run");
    let o = std::process::Command::new(bin).args(["run", scen.to_str().unwrap(), "--out", dir.to_str().unwrap(), "--quiet"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let mechanisms: Vec<&str> = summary["faults"].as_array().unwrap().iter().map(|f| f["mechanism"].as_str().unwrap()).collect();
    assert_eq!(mechanisms, ["iptables", "docker-engine", "docker-engine"], "{summary}");

    // Given back: the same containers (none removed or recreated), all running, none paused,
    // no rule of the run left in their namespaces, the owner's key there and the run's gone.
    let after = project.containers();
    for (svc, (id, running, paused, pid)) in &after {
        assert_eq!(Some(id), before.get(svc).map(|b| &b.0), "{svc} was recreated");
        assert!(*running && !*paused, "{svc} is not running unpaused");
        let rules = std::process::Command::new("nsenter").args([&format!("--net=/proc/{pid}/ns/net"), "iptables-save"]).output().unwrap();
        assert!(!String::from_utf8_lossy(&rules.stdout).contains("faultline-"), "{svc} still has rules of the run");
    }
    assert_eq!(etcdctl(&["get", "owner", "--print-value-only"]).trim(), "precious");
    assert_eq!(etcdctl(&["get", "/faultline/", "--prefix", "--keys-only"]).trim(), "", "the run's keys were left behind");
    assert!(std::fs::read_to_string(dir.join("logs/n1.log")).unwrap().contains("etcd"));
}

#[test]
fn attaching_to_a_project_that_is_not_running_says_how_to_start_it_and_touches_nothing() {
    if !util::docker() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let scen = out.path().join("s.yaml");
    std::fs::write(&scen, "name: it-attach-none\ncluster: {attach: {compose_project: faultline-no-such-project}}\nworkload: {duration: 2s}\n").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", scen.to_str().unwrap(), "--out", out.path().join("run").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("no container matches") && err.contains("up -d"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!faultline::cluster::state::RunState::all().iter().any(|s| s.run_dir.starts_with(out.path())), "a run state was left behind");
}

#[test]
fn containers_restored_from_a_snapshot_come_back_at_its_revision_with_its_keys() {
    let Some(c) = TestCluster::docker(3) else { return };
    crate::cluster::restore_from_snapshot(&c);
    drop(c);
    assert_eq!(labelled(), 0, "containers or networks left behind");
}

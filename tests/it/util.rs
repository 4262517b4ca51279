//! Shared test scaffolding: a real 3-member cluster in namespaces, a client runtime inside
//! its client namespace, and [`require`], the one way a test asks for a tool the machine may
//! lack (Docker, Compose, Chromium): a failure under `CI`, a skip with a message otherwise.

use faultline::client::{self, Endpoint};
use faultline::cluster::process::ProcessBackend;
use faultline::cluster::{netns, state, Backend};
use faultline::observer::{self, ClusterView};
use faultline::scenario;
use std::sync::Arc;
use std::time::Duration;

/// A running cluster for a test; torn down on drop.
pub struct TestCluster {
    pub backend: Arc<dyn Backend>,
    /// The disk-fault layers (none mounted unless started on layers); unmounted on drop,
    /// after the backend stopped the members.
    pub layers: Arc<faultline::fault::disk::Layers>,
    pub rt: tokio::runtime::Runtime,
    /// The run directory (data dirs and logs); removed when the test ends.
    pub _dir: tempfile::TempDir,
    pub run_id: String,
}

/// Whether `CI` is set (CI runs with `CI=true`); empty, `false` and `0` count as unset.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether `FAULTLINE_TEST_PRETEND_MISSING` (a comma-separated list of the names given to
/// [`require`]) names `tool`: a way to see what a test does on a machine without it, without
/// taking the tool away. Only these tests read it; faultline itself does not.
fn pretend_missing(tool: &str) -> bool {
    std::env::var("FAULTLINE_TEST_PRETEND_MISSING").is_ok_and(|v| v.split(',').any(|t| t.trim() == tool))
}

/// The rule of `main.rs` for a tool a test needs: `probe` gives the tool (its command, or
/// `()`) when the machine has it, else why not; `how` says how to install or start it.
/// Missing under `CI`, the test fails with both; missing elsewhere, it says on stderr that
/// it was skipped and why, and the caller returns on `None`.
pub fn require<T>(tool: &str, how: &str, probe: impl FnOnce() -> Result<T, String>) -> Option<T> {
    let found = if pretend_missing(tool) { Err("FAULTLINE_TEST_PRETEND_MISSING names it".to_string()) } else { probe() };
    let why = match found {
        Ok(v) => return Some(v),
        Err(why) => why.trim_end_matches('.').to_string(),
    };
    if in_ci() {
        panic!("this test needs {tool}, which is missing here: {why}. To get it: {how}. (CI is set, so a missing tool fails the test instead of skipping it.)");
    }
    let test = std::thread::current().name().unwrap_or("this test").to_string();
    // Straight to stderr, not through `eprintln!`, which the test harness captures and hides
    // for a passing test: a skip must be seen.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: it needs {tool}, which is missing here: {why}. To get it: {how}. (With CI set this fails.)");
    None
}

/// A Docker engine that answers, or the test is failed or skipped by [`require`].
pub fn docker() -> bool {
    require("docker", "install and start the Docker engine: `apt-get install -y docker.io`, then `systemctl start docker` (or `dockerd &`)", || {
        faultline::cluster::docker::available().map_err(|e| e.to_string())
    })
    .is_some()
}

/// The Compose command here, `docker compose` (plugin) or `docker-compose`, or the test is
/// failed or skipped by [`require`].
pub fn compose() -> Option<Vec<&'static str>> {
    let ok = |p: &str, a: &[&str]| std::process::Command::new(p).args(a).output().is_ok_and(|o| o.status.success());
    require("compose", "`apt-get install -y docker-compose` (or the `docker compose` plugin)", || {
        if ok("docker", &["compose", "version"]) {
            Ok(vec!["docker", "compose"])
        } else if ok("docker-compose", &["version"]) {
            Ok(vec!["docker-compose"])
        } else {
            Err("neither `docker compose` nor `docker-compose` runs".into())
        }
    })
}

/// A headless-capable Chromium here, or the test is failed or skipped by [`require`].
pub fn chromium() -> Option<&'static str> {
    require("chromium", "`apt-get install -y chromium` (`make test-deps` does)", || {
        ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|c| std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
            .ok_or_else(|| "none of chromium, chromium-browser, google-chrome runs".into())
    })
}

/// The default etcd image (`faultline/etcd:<local etcd version>`), built from the local etcd
/// as `faultline image build` does when it is not here yet; `None` (or a failure under
/// `CI`) when no Docker engine answers.
pub fn etcd_image() -> Option<String> {
    if !docker() {
        return None;
    }
    let s = scenario::parse("name: t\ncluster: {backend: docker}\n", "test").unwrap();
    faultline::cluster::docker::prepare_image(&s.cluster, true).expect("the etcd image (`faultline image build` makes it from the local etcd)");
    Some(s.cluster.etcd.image)
}

pub fn require_root() {
    assert!(nix::unistd::geteuid().is_root(), "the real-cluster tests need root (network namespaces, iptables, cgroups); run `make test` as root");
}

impl TestCluster {
    /// A cluster of local processes in namespaces.
    pub fn start(size: usize) -> TestCluster {
        Self::start_with(size, "{}")
    }

    /// A cluster of local processes with member settings: `etcd` is the `cluster.etcd` of a
    /// scenario as a YAML flow mapping, e.g. `{quota_backend_bytes: 16MiB}`.
    pub fn start_with(size: usize, etcd: &str) -> TestCluster {
        require_root();
        let s = scenario::parse(&format!("name: t\ncluster: {{size: {size}, etcd: {etcd}}}\n"), "test").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run_id = state::new_run_id();
        let backend: Arc<dyn Backend> = Arc::new(ProcessBackend::create(&run_id, dir.path(), &s.cluster).expect("create cluster"));
        Self::up(backend, dir, run_id)
    }

    /// A cluster of local processes whose data directories sit under faultline's disk-fault
    /// layer (mounted before the members start), in `mode`.
    pub fn start_on_layers(size: usize, mode: faultline::fault::disk::DurabilityMode) -> TestCluster {
        require_root();
        let s = scenario::parse(&format!("name: t\ncluster: {{size: {size}}}\n"), "test").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run_id = state::new_run_id();
        let backend: Arc<dyn Backend> = Arc::new(ProcessBackend::create(&run_id, dir.path(), &s.cluster).expect("create cluster"));
        let layers = Arc::new(faultline::fault::disk::Layers::default());
        layers.mount_all(&run_id, &backend.members(), mode).expect("mount the disk layers");
        Self::up_on(backend, layers, dir, run_id)
    }

    /// A cluster of containers (the image built from the local etcd when missing), or `None`
    /// when no Docker engine answers (a failure under `CI`; see [`require`]).
    pub fn docker(size: usize) -> Option<TestCluster> {
        Self::docker_with(size, "{}")
    }

    /// [`TestCluster::docker`] with member settings, as [`TestCluster::start_with`] takes them.
    pub fn docker_with(size: usize, etcd: &str) -> Option<TestCluster> {
        if !docker() {
            return None;
        }
        let s = scenario::parse(&format!("name: t\ncluster: {{size: {size}, backend: docker, etcd: {etcd}}}\n"), "test").unwrap();
        faultline::cluster::docker::prepare_image(&s.cluster, true).expect("the etcd image");
        let dir = tempfile::tempdir().unwrap();
        let run_id = state::new_run_id();
        let backend: Arc<dyn Backend> = Arc::new(faultline::cluster::docker::DockerBackend::create(&run_id, dir.path(), &s.cluster).expect("create cluster"));
        Some(Self::up(backend, dir, run_id))
    }

    /// [`TestCluster::docker`] with the members' data directories under faultline's disk-fault
    /// layer (mounted before the containers are created, as a run does), in `mode`.
    pub fn docker_on_layers(size: usize, mode: faultline::fault::disk::DurabilityMode) -> Option<TestCluster> {
        if !docker() {
            return None;
        }
        let s = scenario::parse(&format!("name: t\ncluster: {{size: {size}, backend: docker}}\n"), "test").unwrap();
        faultline::cluster::docker::prepare_image(&s.cluster, true).expect("the etcd image");
        let dir = tempfile::tempdir().unwrap();
        let run_id = state::new_run_id();
        let backend: Arc<dyn Backend> = Arc::new(faultline::cluster::docker::DockerBackend::create(&run_id, dir.path(), &s.cluster).expect("create cluster"));
        let layers = Arc::new(faultline::fault::disk::Layers::default());
        layers.mount_all(&run_id, &backend.members(), mode).expect("mount the disk layers");
        Some(Self::up_on(backend, layers, dir, run_id))
    }

    fn up(backend: Arc<dyn Backend>, dir: tempfile::TempDir, run_id: String) -> TestCluster {
        Self::up_on(backend, Arc::default(), dir, run_id)
    }

    fn up_on(backend: Arc<dyn Backend>, layers: Arc<faultline::fault::disk::Layers>, dir: tempfile::TempDir, run_id: String) -> TestCluster {
        backend.start_all().expect("start members");
        let rt = netns::runtime_in(&backend.client_netns(), 2).expect("client runtime");
        let c = TestCluster { backend, layers, rt, _dir: dir, run_id };
        c.wait_leader(Duration::from_secs(30));
        c
    }

    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.backend.endpoints()
    }

    pub fn endpoint(&self, member: &str) -> Endpoint {
        self.endpoints().into_iter().find(|e| e.member == member).unwrap()
    }

    pub fn wait_leader(&self, timeout: Duration) -> ClusterView {
        let eps = self.endpoints();
        self.rt.block_on(async move { observer::wait_for_leader(&eps, timeout).await }).unwrap_or_else(|e| panic!("no agreed leader: {e}"))
    }

    pub fn put(&self, member: &str, key: &str, value: &str) {
        let ep = self.endpoint(member);
        let (k, v) = (key.to_string(), value.to_string());
        self.rt
            .block_on(async move {
                let mut c = client::connect(&ep, Duration::from_secs(3)).await?;
                c.put(k, v, None).await.map(|_| ())
            })
            .expect("put");
    }

    /// A serializable read on one member: what that member itself holds.
    pub fn get_local(&self, member: &str, key: &str) -> Option<String> {
        let ep = self.endpoint(member);
        let k = key.to_string();
        self.rt
            .block_on(async move {
                let mut c = client::connect(&ep, Duration::from_secs(3)).await?;
                let r = c.get(k, Some(etcd_client::GetOptions::new().with_serializable())).await?;
                Ok::<_, etcd_client::Error>(r.kvs().first().map(|kv| String::from_utf8_lossy(kv.value()).into_owned()))
            })
            .expect("get")
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.backend.teardown();
        let left = netns::list(&format!("faultline-{}", self.run_id));
        assert!(left.is_empty() || std::thread::panicking(), "namespaces left behind: {left:?}");
    }
}

impl TestCluster {
    /// The leader and term the members other than `excluded` agree on, if any.
    pub fn view_of_majority(&self, excluded: &str) -> Option<(String, u64)> {
        let eps: Vec<Endpoint> = self.endpoints().into_iter().filter(|e| e.member != excluded).collect();
        self.rt.block_on(async move { observer::wait_for_leader(&eps, Duration::from_millis(1500)).await }).ok().and_then(|v| v.leader.map(|l| (l, v.term)))
    }
}

/// Run the faultline binary with `args`: (exit code, stdout, stderr).
pub fn faultline(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultline")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// A fault planned from the start of the workload to its end, for tests that inject one by
/// hand (`faultline::fault::inject`).
pub fn planned(kind: faultline::scenario::FaultKind, target: faultline::scenario::Target) -> faultline::schedule::Planned {
    faultline::schedule::Planned {
        id: 0,
        name: None,
        start: faultline::schedule::Start::At(std::time::Duration::ZERO),
        end: faultline::schedule::End::WorkloadEnd,
        kind,
        target,
        origin: "test".into(),
        draw: 7,
        pinned: None,
    }
}

/// Every scenario shipped in the repository: `scenarios/*.yaml` and `scenarios/bugs/*.yaml`.
pub fn shipped_scenarios() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut v: Vec<_> = [root.clone(), root.join("bugs")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    v.sort();
    v
}

//! Shared test scaffolding: a real 3-member cluster in namespaces, and a client runtime
//! inside its client namespace.

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
    /// — saying the test was skipped and why — when no Docker engine answers.
    pub fn docker(size: usize) -> Option<TestCluster> {
        Self::docker_with(size, "{}")
    }

    /// [`TestCluster::docker`] with member settings, as [`TestCluster::start_with`] takes them.
    pub fn docker_with(size: usize, etcd: &str) -> Option<TestCluster> {
        if let Err(e) = faultline::cluster::docker::available() {
            eprintln!("SKIPPED: no Docker engine answers here ({e}); the Docker backend was not tested");
            return None;
        }
        let s = scenario::parse(&format!("name: t\ncluster: {{size: {size}, backend: docker, etcd: {etcd}}}\n"), "test").unwrap();
        faultline::cluster::docker::prepare_image(&s.cluster, true).expect("the etcd image");
        let dir = tempfile::tempdir().unwrap();
        let run_id = state::new_run_id();
        let backend: Arc<dyn Backend> =
            Arc::new(faultline::cluster::docker::DockerBackend::create(&run_id, dir.path(), &s.cluster, &s.cluster.etcd.image).expect("create cluster"));
        Some(Self::up(backend, dir, run_id))
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

//! The Docker backend: every member is a container on a user-defined bridge network of the
//! run's own, with a fixed address, driven through the engine's API (bollard; no `docker`
//! CLI). Faults reach a member the same way as on the process backend: its network
//! namespace (`/proc/<pid>/ns/net` of the container's etcd), its pid and its cgroup; the
//! engine's own verbs replace signals where they mean the same (kill with a signal, start the
//! same container on the same data, pause/unpause through the freezer).
//!
//! ```text
//!   host netns (clients)          network faultline-<run> 10.78.X.0/24 (bridge on the host)
//!        |                           |             |             |
//!   10.78.X.1 (gateway)        n1 10.78.X.11  n2 10.78.X.12  n3 10.78.X.13   containers
//!                              data: <run dir>/data/nK bind-mounted at /data
//! ```
//!
//! Every container and the network carry the labels `faultline.run=<run id>` and (members)
//! `faultline.member=<name>`, which is how `faultline clean` finds them after a crash.

use super::state::{self, RunState};
use super::{Backend, Member, MemberConfig, MemberState, Membership, Program, PEER_PORT};
use crate::cluster::spec::{AttachSelector, AttachSpec, ClusterSpec};
use crate::error::Error;
use bollard::models::{ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig, NetworkCreateRequest, NetworkingConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, KillContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StartContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use nix::sys::signal::Signal;
use std::collections::HashMap;
use std::future::Future;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The label every resource of a run carries.
pub const RUN_LABEL: &str = "faultline.run";
/// The label naming a member.
pub const MEMBER_LABEL: &str = "faultline.member";
/// Where a member's data directory is mounted inside its container.
const DATA_IN_CONTAINER: &str = "/data";
/// A stopped member's network namespace: none.
const NOT_RUNNING: &str = "/nonexistent/not-running";

struct Slot {
    member: Member,
    /// Its container's id; empty once the member is removed.
    container: String,
    /// The command every container of this member runs (before its config's flags).
    cmd: Vec<String>,
    /// The image its containers run (its version's, in a mixed cluster; another after an
    /// upgrade).
    image: String,
    /// How it starts beyond the shared settings (joins, rolling restarts).
    config: MemberConfig,
    /// Removed from the cluster: no longer a member.
    removed: bool,
}

/// A cluster of etcd containers.
pub struct DockerBackend {
    run_id: String,
    rt: tokio::runtime::Runtime,
    docker: Docker,
    /// The image of members added at run time: the cluster's (the newest of a mixed one's),
    /// then the one a rolling restart last moved a member to.
    image: Mutex<String>,
    entrypoint: Option<Vec<String>>,
    network: String,
    /// The run's third address octet (10.78.<subnet>.0/24) and directory, for added members.
    subnet: u8,
    run_dir: PathBuf,
    /// The etcd flags every member shares.
    common: Vec<String>,
    slots: Mutex<Vec<Slot>>,
    torn_down: Mutex<bool>,
    /// Set when the cluster is someone else's (attach mode): faultline never removes,
    /// recreates or reconfigures its containers, and heals them at teardown.
    attached: Option<Attached>,
}

/// What attach mode remembers about the cluster it found.
struct Attached {
    /// Removes what the run's faults left in an attached container's namespace.
    scrub: super::Scrub,
    /// What found the containers, for messages.
    selector: String,
    /// Unix time of the attach: logs are saved from then on.
    since: i64,
}

/// Connect to the Docker engine (negotiating the API version: Debian's engine speaks 1.41)
/// and ping it. `Error::Environment` with what to do when it is absent, unreachable or
/// refuses us (the one paragraph of [`crate::cluster::image::connect`]).
pub async fn connect() -> Result<Docker, Error> {
    let docker = crate::cluster::image::connect().await?;
    docker.ping().await.map_err(|e| {
        Error::Environment(format!(
            "the Docker engine did not answer a ping ({e}): check that dockerd is running (`systemctl status docker`), or run with `--backend process`"
        ))
    })?;
    Ok(docker)
}

/// Whether a Docker engine answers here (for `backend: auto`), within a second.
pub fn available() -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(2), connect()).await.map_err(|_| Error::Environment("the Docker engine did not answer within 2 s".into()))?
    })
    .map(|_| ())
}

/// The image a scenario runs when it names none: the one `faultline image build` makes from
/// the etcd binary on this machine.
pub fn default_image(etcd_version: &str) -> String {
    crate::cluster::image::default_tag(etcd_version)
}

/// Make sure the scenario's images are here (building `faultline/etcd:<version>` from the
/// local etcd binary of that version when that is the one missing) and return the etcd
/// version they run (`3.4.23`; a mixed cluster's versions joined: `3.4.23, 3.5.1`).
pub fn prepare_image(spec: &ClusterSpec, quiet: bool) -> Result<String, Error> {
    let mut images: Vec<(String, usize)> = Vec::new();
    for i in 0..spec.size {
        let image = spec.etcd.image_of(i);
        if !images.iter().any(|(x, _)| *x == image) {
            images.push((image, i));
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut versions = Vec::new();
    for (image, member) in images {
        let v = rt.block_on(prepare_one(spec, &image, member, quiet))?;
        if !versions.contains(&v) {
            versions.push(v);
        }
    }
    Ok(versions.join(", "))
}

/// Make sure `faultline/etcd:<version>` is here (a rolling restart moves members to it),
/// building it from the store's binary of that version when it is not.
pub fn prepare_version_image(version: &str, quiet: bool) -> Result<(), Error> {
    let tag = default_image(version);
    let binary = super::versions::binary(version)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    if rt.block_on(crate::cluster::image::ensure(&tag, &binary))? && !quiet {
        eprintln!("faultline: built {tag} from {} (a rolling restart moves members to it)", binary.display());
    }
    Ok(())
}

/// [`prepare_image`] of the image member `member` runs.
async fn prepare_one(spec: &ClusterSpec, image: &str, member: usize, quiet: bool) -> Result<String, Error> {
    let docker = connect().await?;
    let found = match docker.inspect_image(image).await {
        Ok(info) => Some(info),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => None,
        Err(e) => return Err(engine_err(&format!("looking up image {image}"), e)),
    };
    let info = match found {
        Some(info) => info,
        None => {
            if !image.starts_with("faultline/etcd:") {
                return Err(Error::Environment(format!(
                    "the image `{image}` is not on this machine and no registry can be reached here: load it (`docker load`), or drop `cluster.etcd.image` to use faultline/etcd built from the local etcd (`faultline image build`)"
                )));
            }
            let binary = spec.etcd.binary_of(member).map_err(|e| e.context(format!("the image `{image}` is missing and must be built from a local etcd")))?;
            if !quiet {
                eprintln!("faultline: image {image} is not here; building it from {}", binary.display());
            }
            build_image(image, &binary).await?;
            docker.inspect_image(image).await.map_err(|e| engine_err(&format!("looking up image {image} after building it"), e))?
        }
    };
    let labelled = info.config.and_then(|c| c.labels).and_then(|l| l.get("faultline.etcd-version").cloned());
    Ok(labelled.unwrap_or_else(|| image.rsplit(':').next().unwrap_or("unknown").to_string()))
}

/// Build `tag` from a local etcd binary (see `faultline image build`).
async fn build_image(tag: &str, binary: &Path) -> Result<(), Error> {
    let built = crate::cluster::image::build(binary, Some(tag)).await?;
    eprintln!("faultline: built {} in {:.1} s", built.tag, built.seconds);
    Ok(())
}

fn engine_err(what: &str, e: bollard::errors::Error) -> Error {
    Error::Harness(format!("Docker engine: {what}: {e}"))
}

impl DockerBackend {
    /// Create the network and the member containers (none started). On any error, everything
    /// made so far is removed before returning.
    pub fn create(run_id: &str, run_dir: &Path, spec: &ClusterSpec) -> Result<Self, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let docker = rt.block_on(connect())?;
        let subnet = state::pick_subnet(run_id);
        RunState::record(run_id, run_dir, subnet, "docker", Vec::new())?;
        let ip = |host: u8| Ipv4Addr::new(10, 78, subnet, host);
        let network = format!("faultline-{run_id}");
        let backend = DockerBackend {
            run_id: run_id.into(),
            rt,
            docker,
            image: Mutex::new(spec.etcd.image.clone()),
            entrypoint: spec.etcd.command.clone(),
            network: network.clone(),
            subnet,
            run_dir: run_dir.to_path_buf(),
            common: Vec::new(),
            slots: Mutex::new(Vec::new()),
            torn_down: Mutex::new(false),
            attached: None,
        };
        // From here on, Drop removes whatever was made if a step fails.
        let labels = HashMap::from([(RUN_LABEL.to_string(), run_id.to_string())]);
        let req = NetworkCreateRequest {
            name: network.clone(),
            driver: Some("bridge".into()),
            labels: Some(labels),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig { subnet: Some(format!("10.78.{subnet}.0/24")), gateway: Some(ip(1).to_string()), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let d = backend.docker.clone();
        backend.call(async move { d.create_network(req).await }).map_err(|e| engine_err(&format!("creating network {network}"), e))?;

        std::fs::create_dir_all(run_dir.join("logs"))?;
        std::fs::create_dir_all(run_dir.join("data"))?;
        let members = super::new_members(spec.size, run_dir, ip, |_| PathBuf::from(NOT_RUNNING));
        let mut backend = backend;
        backend.common = super::shared_flags(run_id, spec, &members);
        for m in members {
            let image = spec.etcd.image_of(m.index);
            backend.new_slot(m, image)?;
        }
        Ok(backend)
    }

    /// The data directory, command and container (of `image`) of a new member, in a slot.
    fn new_slot(&self, m: Member, image: String) -> Result<Member, Error> {
        std::fs::create_dir_all(&m.data_dir)?;
        let mut cmd = vec![
            format!("--name={}", m.name),
            format!("--data-dir={DATA_IN_CONTAINER}"),
            format!("--listen-client-urls={}", m.client_url),
            format!("--advertise-client-urls={}", m.client_url),
            format!("--listen-peer-urls={}", m.peer_url),
            format!("--initial-advertise-peer-urls={}", m.peer_url),
        ];
        cmd.extend(self.common.iter().cloned());
        let container = self.create_container(&m, &cmd, &image)?;
        lock(&self.slots).push(Slot { member: m.clone(), container, cmd, image, config: MemberConfig::default(), removed: false });
        Ok(m)
    }

    /// Replace a member's (stopped) container by one running `cmd` + its config's flags +
    /// `extra`, from its image, on the same data and address.
    fn recreate(&self, member: &str, extra: &[String]) -> Result<(), Error> {
        let (old, m, mut cmd, config, image) =
            self.with_slot(member, |s| Ok((s.container.clone(), s.member.clone(), s.cmd.clone(), s.config.clone(), s.image.clone())))?;
        if !old.is_empty() {
            if let (true, _, _) = self.inspect(&old)? {
                return Err(Error::Harness(format!("member {member} is running: stop it before changing its container")));
            }
            self.remove_container(&old).map_err(|e| engine_err(&format!("replacing {member}'s container"), e))?;
        }
        cmd.extend(config.args.iter().cloned());
        cmd.extend(extra.iter().cloned());
        let container = self.create_container(&m, &cmd, &image)?;
        self.with_slot(member, |s| {
            s.container = container;
            Ok(())
        })
    }

    fn remove_container(&self, id: &str) -> Result<(), bollard::errors::Error> {
        let d = self.docker.clone();
        let id = id.to_string();
        let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        self.call(async move { d.remove_container(&id, Some(opts)).await })
    }

    /// Refuse to change members faultline did not start.
    fn own_members(&self, what: &str) -> Result<(), Error> {
        match &self.attached {
            Some(a) => Err(Error::Invalid(format!(
                "the members belong to an attached cluster ({}): faultline does not create, remove or reconfigure containers it did not start, so it cannot {what}",
                a.selector
            ))),
            None => Ok(()),
        }
    }

    /// Attach to a running cluster faultline did not start (`cluster.attach`): the
    /// containers the selector finds become the members, named after their Compose service
    /// (or their container name), at their address on the network they all share. Nothing is
    /// created; nothing found is removed or reconfigured, ever.
    pub fn attach(run_id: &str, run_dir: &Path, spec: &AttachSpec, scrub: super::Scrub) -> Result<Self, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let docker = rt.block_on(connect())?;
        let selector = spec.selector.to_string();
        let found = rt.block_on(find_attached(&docker, &spec.selector))?;
        std::fs::create_dir_all(run_dir.join("logs"))?;
        let mut slots = Vec::new();
        for (i, f) in found.iter().enumerate() {
            let member = Member {
                name: f.name.clone(),
                index: i,
                ip: f.ip,
                client_url: format!("http://{}:{}", f.ip, spec.client_port),
                peer_url: format!("http://{}:{PEER_PORT}", f.ip),
                netns: PathBuf::from(format!("/proc/{}/ns/net", f.pid)),
                pid: Some(f.pid),
                cgroup: cgroups_of(f.pid),
                data_dir: run_dir.join("data").join(&f.name),
                log: run_dir.join("logs").join(format!("{}.log", f.name)),
            };
            slots.push(Slot { member, container: f.id.clone(), cmd: Vec::new(), image: String::new(), config: MemberConfig::default(), removed: false });
        }
        RunState::record(run_id, run_dir, 0, "docker", found.iter().map(|f| f.id.clone()).collect())?;
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        Ok(DockerBackend {
            run_id: run_id.into(),
            rt,
            docker,
            image: Mutex::new(String::new()),
            entrypoint: None,
            network: String::new(),
            subnet: 0,
            run_dir: run_dir.to_path_buf(),
            common: Vec::new(),
            slots: Mutex::new(slots),
            torn_down: Mutex::new(false),
            attached: Some(Attached { scrub, selector, since }),
        })
    }

    /// The etcd version an attached cluster runs, as its first member's `/version` says.
    pub fn attached_version(&self) -> Option<String> {
        let m = self.members().into_iter().next()?;
        let addr = m.client_url.strip_prefix("http://")?.parse().ok()?;
        etcd_version_at(addr)
    }

    /// Run a future on the backend's runtime from any thread, including a tokio worker of
    /// another runtime (the runner's), by blocking a scoped thread of our own.
    fn call<F>(&self, f: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        std::thread::scope(|s| match s.spawn(|| self.rt.block_on(f)).join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        })
    }

    fn container_name(&self, member: &str) -> String {
        format!("faultline-{}-{member}", self.run_id)
    }

    fn create_container(&self, m: &Member, cmd: &[String], image: &str) -> Result<String, Error> {
        let name = self.container_name(&m.name);
        let labels = HashMap::from([(RUN_LABEL.to_string(), self.run_id.clone()), (MEMBER_LABEL.to_string(), m.name.clone())]);
        let endpoint =
            EndpointSettings { ipam_config: Some(EndpointIpamConfig { ipv4_address: Some(m.ip.to_string()), ..Default::default() }), ..Default::default() };
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            entrypoint: self.entrypoint.clone(),
            cmd: Some(cmd.to_vec()),
            hostname: Some(m.name.clone()),
            labels: Some(labels),
            env: Some(vec![format!("FAULTLINE_RUN={}", self.run_id), format!("FAULTLINE_MEMBER={}", m.name)]),
            host_config: Some(HostConfig {
                // The engine wants an absolute host path (a relative one names a volume).
                binds: Some(vec![format!("{}:{DATA_IN_CONTAINER}", std::fs::canonicalize(&m.data_dir).unwrap_or_else(|_| m.data_dir.clone()).display())]),
                network_mode: Some(self.network.clone()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig { endpoints_config: Some(HashMap::from([(self.network.clone(), endpoint)])) }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default().name(&name).build();
        let d = self.docker.clone();
        let created = self.call(async move { d.create_container(Some(opts), body).await }).map_err(|e| match e {
            bollard::errors::Error::DockerResponseServerError { status_code: 404, .. } => Error::Environment(format!(
                "the image `{image}` is not on this machine and no registry can be reached here: build it with `faultline image build` (from the etcd binary on this machine), or name an image you have in `cluster.etcd.image`"
            )),
            e => engine_err(&format!("creating container {name}"), e),
        })?;
        Ok(created.id)
    }

    fn with_slot<T>(&self, member: &str, f: impl FnOnce(&mut Slot) -> Result<T, Error>) -> Result<T, Error> {
        let mut slots = lock(&self.slots);
        let slot = slots.iter_mut().find(|s| s.member.name == member && !s.removed).ok_or_else(|| Error::Harness(format!("no member named {member}")))?;
        f(slot)
    }

    fn container_of(&self, member: &str) -> Result<String, Error> {
        self.with_slot(member, |s| Ok(s.container.clone()))
    }

    /// (running, paused, pid) of a container.
    fn inspect(&self, container: &str) -> Result<(bool, bool, Option<u32>), Error> {
        let d = self.docker.clone();
        let c = container.to_string();
        let info =
            self.call(async move { d.inspect_container(&c, None::<InspectContainerOptions>).await }).map_err(|e| engine_err("inspecting a container", e))?;
        let st = info.state.unwrap_or_default();
        let pid = st.pid.filter(|&p| p > 0).map(|p| p as u32);
        Ok((st.running.unwrap_or(false), st.paused.unwrap_or(false), pid))
    }

    /// Record a started member's pid, namespace and cgroups.
    fn note_started(&self, member: &str, pid: u32) {
        let _ = self.with_slot(member, |s| {
            s.member.pid = Some(pid);
            s.member.netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
            s.member.cgroup = cgroups_of(pid);
            Ok(())
        });
    }

    fn note_down(&self, member: &str) {
        let _ = self.with_slot(member, |s| {
            s.member.pid = None;
            s.member.netns = PathBuf::from(NOT_RUNNING);
            Ok(())
        });
    }

    fn start_container(&self, member: &str) -> Result<u32, Error> {
        let c = self.container_of(member)?;
        if let (true, _, pid) = self.inspect(&c)? {
            // An attached container may have been restarted by its own restart policy.
            if let (Some(_), Some(pid)) = (&self.attached, pid) {
                self.note_started(member, pid);
                return Ok(pid);
            }
            return Err(Error::Harness(format!("member {member} is already running")));
        }
        let d = self.docker.clone();
        let c2 = c.clone();
        self.call(async move { d.start_container(&c2, None::<StartContainerOptions>).await }).map_err(|e| engine_err(&format!("starting {member}"), e))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let (true, _, Some(pid)) = self.inspect(&c)? {
                self.note_started(member, pid);
                return Ok(pid);
            }
            if Instant::now() >= deadline {
                return Err(Error::Harness(format!("member {member}'s container did not start within 10 s; its log:\n{}", self.log_tail(member, 10))));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Fetch a container's whole log (stdout and stderr, in order) as text.
    fn logs(&self, container: &str, tail: Option<usize>) -> String {
        let d = self.docker.clone();
        let c = container.to_string();
        let since = self.attached.as_ref().map_or(0, |a| a.since);
        self.call(async move {
            let mut b = LogsOptionsBuilder::default().stdout(true).stderr(true).since(since as i32);
            if let Some(n) = tail {
                b = b.tail(&n.to_string());
            }
            let mut s = d.logs(&c, Some(b.build()));
            let mut out = String::new();
            while let Some(Ok(chunk)) = s.next().await {
                out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
            out
        })
    }
}

/// A process's cgroup directories (v1: one per controller faultline uses; v2: one).
fn cgroups_of(pid: u32) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return Vec::new();
    };
    let mut dirs = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = path.trim_start_matches('/');
        if ctrls.is_empty() {
            // The unified hierarchy's line: the cgroup only on a v2 host (on a v1 host it is
            // the empty hybrid `unified` tree).
            if super::cgroup::is_v2() {
                dirs.push(Path::new("/sys/fs/cgroup").join(path));
            }
            continue;
        }
        for c in ctrls.split(',') {
            if ["cpu", "cpuacct", "memory", "freezer", "blkio"].contains(&c) {
                let d = Path::new("/sys/fs/cgroup").join(c).join(path);
                if d.exists() && !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
        }
    }
    dirs
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Backend for DockerBackend {
    fn kind(&self) -> &'static str {
        "docker"
    }

    fn attached(&self) -> bool {
        self.attached.is_some()
    }

    fn run_id(&self) -> &str {
        &self.run_id
    }

    fn members(&self) -> Vec<Member> {
        lock(&self.slots).iter().filter(|s| !s.removed).map(|s| s.member.clone()).collect()
    }

    fn restart_keeps_netns(&self) -> bool {
        false
    }

    fn membership(&self) -> Option<&dyn Membership> {
        // An attached cluster is its owner's: its members are not faultline's to change.
        if self.attached.is_some() {
            None
        } else {
            Some(self)
        }
    }

    fn client_netns(&self) -> PathBuf {
        // Clients run in faultline's own namespace: the run's bridge network is reachable
        // from the host without forwarding.
        PathBuf::from(format!("/proc/{}/ns/net", std::process::id()))
    }

    fn start(&self, member: &str) -> Result<u32, Error> {
        self.start_container(member)
    }

    fn start_all(&self) -> Result<Vec<(String, u32)>, Error> {
        // All at once: a member's etcd first checks whether its peers are already
        // bootstrapped, waiting up to 1 s for each peer address that does not answer yet; when
        // every container is up, an address with no listener answers at once.
        let names: Vec<String> = self.members().into_iter().map(|m| m.name).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = names.iter().map(|n| (n.clone(), s.spawn(move || self.start_container(n)))).collect();
            handles
                .into_iter()
                .map(|(n, h)| match h.join() {
                    Ok(r) => r.map(|pid| (n, pid)),
                    Err(p) => std::panic::resume_unwind(p),
                })
                .collect()
        })
    }

    fn start_with(&self, member: &str, extra_args: &[String]) -> Result<u32, Error> {
        // A container's command is fixed: replace the (stopped) container by one with the
        // extra flags, on the same data and address.
        self.own_members(&format!("restart {member} with other flags"))?;
        self.recreate(member, extra_args)?;
        self.start_container(member)
    }

    fn signal(&self, member: &str, sig: Signal) -> Result<(), Error> {
        let c = self.container_of(member)?;
        let d = self.docker.clone();
        let r = match sig {
            // The engine's pause freezes the whole container (cgroup freezer), as `docker pause`.
            Signal::SIGSTOP => self.call(async move { d.pause_container(&c).await }),
            Signal::SIGCONT => self.call(async move { d.unpause_container(&c).await }),
            s => {
                let opts = KillContainerOptionsBuilder::default().signal(s.as_str()).build();
                self.call(async move { d.kill_container(&c, Some(opts)).await })
            }
        };
        r.map_err(|e| engine_err(&format!("sending {sig} to {member}"), e))
    }

    fn signal_verb(&self, sig: Signal) -> String {
        match sig {
            Signal::SIGSTOP => "engine pause (cgroup freezer)".into(),
            Signal::SIGCONT => "engine unpause".into(),
            s => format!("engine kill {}", s.as_str()),
        }
    }

    fn process_mechanism(&self) -> &'static str {
        "docker-engine"
    }

    fn wait_exit(&self, member: &str, timeout: Duration) -> bool {
        let Ok(c) = self.container_of(member) else { return true };
        let deadline = Instant::now() + timeout;
        loop {
            match self.inspect(&c) {
                Ok((false, _, _)) | Err(_) => {
                    self.note_down(member);
                    return true;
                }
                _ if Instant::now() >= deadline => return false,
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn state(&self, member: &str) -> MemberState {
        let Ok(c) = self.container_of(member) else { return MemberState::Down };
        match self.inspect(&c) {
            Ok((true, true, _)) => MemberState::Paused,
            Ok((true, false, _)) => MemberState::Running,
            _ => MemberState::Down,
        }
    }

    fn log_tail(&self, member: &str, lines: usize) -> String {
        let Ok(c) = self.container_of(member) else { return String::new() };
        self.logs(&c, Some(lines)).trim_end().to_string()
    }

    fn teardown(&self) -> Vec<String> {
        let mut done = lock(&self.torn_down);
        if *done {
            return Vec::new();
        }
        *done = true;
        if self.attached.is_some() {
            return self.release_attached();
        }
        let mut removed = Vec::new();
        let slots: Vec<(String, String, PathBuf)> =
            lock(&self.slots).iter().filter(|s| !s.container.is_empty()).map(|s| (s.member.name.clone(), s.container.clone(), s.member.log.clone())).collect();
        for (name, c, log) in slots {
            // The container's log goes into the run directory before the container goes.
            let text = self.logs(&c, None);
            let _ = std::fs::write(&log, text);
            let d = self.docker.clone();
            let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
            match self.call(async move { d.remove_container(&c, Some(opts)).await }) {
                Ok(()) => removed.push(format!("container {}", self.container_name(&name))),
                Err(e) => removed.push(format!("could not remove container {}: {e}", self.container_name(&name))),
            }
            self.note_down(&name);
        }
        let d = self.docker.clone();
        let net = self.network.clone();
        match self.call(async move { d.remove_network(&net).await }) {
            Ok(()) => removed.push(format!("network {}", self.network)),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => removed.push(format!("could not remove network {}: {e}", self.network)),
        }
        if RunState::remove(&self.run_id) {
            removed.push(format!("run state {}", RunState::path(&self.run_id).display()));
        }
        removed
    }
}

impl DockerBackend {
    /// Teardown in attach mode: give every container back as the run found it — running,
    /// not paused, with none of the run's rules left in its namespace — and keep its log
    /// since the attach. Nothing is removed.
    fn release_attached(&self) -> Vec<String> {
        let mut said = Vec::new();
        let slots: Vec<(String, String, PathBuf)> =
            lock(&self.slots).iter().map(|s| (s.member.name.clone(), s.container.clone(), s.member.log.clone())).collect();
        let d = self.docker.clone();
        let ids: Vec<String> = slots.iter().map(|(_, c, _)| c.clone()).collect();
        let Some(scrub) = self.attached.as_ref().map(|a| a.scrub) else { return said };
        let (healed, failed) = self.call(async move { heal_attached(&d, &self.run_id, &ids, scrub).await });
        said.extend(healed);
        said.extend(failed.into_iter().map(|f| format!("could not heal {f}")));
        for (name, c, log) in slots {
            let _ = std::fs::write(&log, self.logs(&c, None));
            said.push(format!("left attached member {name} running (container {})", short(&c)));
        }
        if RunState::remove(&self.run_id) {
            said.push(format!("run state {}", RunState::path(&self.run_id).display()));
        }
        said
    }
}

/// A running container found by an attach selector.
struct FoundMember {
    id: String,
    name: String,
    ip: Ipv4Addr,
    pid: u32,
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The containers an attach selector finds, checked: at least one, all running and not
/// paused, sharing one network; sorted by member name.
async fn find_attached(docker: &Docker, selector: &AttachSelector) -> Result<Vec<FoundMember>, Error> {
    let filters = HashMap::from([("label".to_string(), selector.label_filters())]);
    let opts = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    let list = docker.list_containers(Some(opts)).await.map_err(|e| engine_err("listing containers to attach to", e))?;
    let how = match selector {
        AttachSelector::ComposeProject(p) => format!("start it first (`docker-compose -p {p} up -d` beside its compose file, or `make compose-up` for faultline's own), or check the name: `docker ps --filter label=com.docker.compose.project={p}`"),
        AttachSelector::Labels(l) => format!("start it first, or check the labels: `docker ps --filter label={}`", l.join(" --filter label=")),
    };
    if list.is_empty() {
        return Err(Error::Environment(format!("cluster.attach: no container matches the {selector}: {how}")));
    }
    let mut found = Vec::new();
    let mut networks: Option<Vec<(String, Ipv4Addr)>> = None;
    let mut per_member_nets = Vec::new();
    for c in &list {
        let id = c.id.clone().unwrap_or_default();
        let cname = c.names.as_ref().and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_string()).unwrap_or_else(|| short(&id).to_string());
        let info = docker.inspect_container(&id, None::<InspectContainerOptions>).await.map_err(|e| engine_err(&format!("inspecting {cname}"), e))?;
        let st = info.state.clone().unwrap_or_default();
        if !st.running.unwrap_or(false) || st.paused.unwrap_or(false) {
            let what = if st.paused.unwrap_or(false) { "paused" } else { "not running" };
            return Err(Error::Environment(format!(
                "cluster.attach: container {cname} of the {selector} is {what}: faultline attaches only to a healthy running cluster; bring it back (`docker start {cname}` / `docker unpause {cname}`) and run again"
            )));
        }
        let pid =
            st.pid.filter(|p| *p > 0).map(|p| p as u32).ok_or_else(|| Error::Environment(format!("cluster.attach: the engine gives no pid for {cname}")))?;
        let service = c.labels.as_ref().and_then(|l| l.get("com.docker.compose.service")).cloned();
        let name = match selector {
            AttachSelector::ComposeProject(_) => service.unwrap_or_else(|| cname.clone()),
            AttachSelector::Labels(_) => cname.clone(),
        };
        let nets: Vec<(String, Ipv4Addr)> = info
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(net, ep)| ep.ip_address.filter(|a| !a.is_empty()).and_then(|a| a.parse().ok()).map(|ip| (net, ip)))
            .collect();
        networks = Some(match networks {
            None => nets.clone(),
            Some(prev) => prev.into_iter().filter(|(n, _)| nets.iter().any(|(m, _)| m == n)).collect(),
        });
        per_member_nets.push(nets);
        found.push(FoundMember { id, name, ip: Ipv4Addr::UNSPECIFIED, pid });
    }
    let mut shared: Vec<String> = networks.unwrap_or_default().into_iter().map(|(n, _)| n).collect();
    shared.sort();
    let Some(net) = shared.first() else {
        return Err(Error::Environment(format!(
            "cluster.attach: the containers of the {selector} share no network with an IPv4 address: faultline needs their addresses on one network to cut links between them"
        )));
    };
    for (f, nets) in found.iter_mut().zip(&per_member_nets) {
        f.ip = nets.iter().find(|(n, _)| n == net).map(|(_, ip)| *ip).unwrap_or(Ipv4Addr::UNSPECIFIED);
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    let mut names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
    names.dedup();
    if names.len() != found.len() {
        return Err(Error::Environment(format!("cluster.attach: two containers of the {selector} have the same name; select them with `labels:` instead")));
    }
    Ok(found)
}

/// Give attached containers back healed: unpause, start what a fault left stopped, and
/// remove every rule labelled with the run from their namespaces. Says what it did and what
/// it could not.
async fn heal_attached(docker: &Docker, run_id: &str, ids: &[String], scrub: super::Scrub) -> (Vec<String>, Vec<String>) {
    let (mut did, mut failed) = (Vec::new(), Vec::new());
    for id in ids {
        let info = match docker.inspect_container(id, None::<InspectContainerOptions>).await {
            Ok(i) => i,
            Err(e) => {
                failed.push(format!("container {}: {e}", short(id)));
                continue;
            }
        };
        let name = info.name.clone().unwrap_or_default().trim_start_matches('/').to_string();
        let st = info.state.unwrap_or_default();
        if st.paused.unwrap_or(false) {
            match docker.unpause_container(id).await {
                Ok(()) => did.push(format!("healed attached container {name}: unpaused")),
                Err(e) => failed.push(format!("container {name} (unpause): {e}")),
            }
        } else if !st.running.unwrap_or(false) {
            match docker.start_container(id, None::<StartContainerOptions>).await {
                Ok(()) => did.push(format!("healed attached container {name}: started again (a fault had stopped it)")),
                Err(e) => failed.push(format!("container {name} (start): {e}")),
            }
        }
        let pid = match docker.inspect_container(id, None::<InspectContainerOptions>).await {
            Ok(i) => i.state.and_then(|s| s.pid).filter(|p| *p > 0),
            Err(_) => None,
        };
        if let Some(pid) = pid {
            let ns = PathBuf::from(format!("/proc/{pid}/ns/net"));
            match scrub(&ns, &format!("faultline-{run_id}-")) {
                Ok(gone) => did.extend(gone.into_iter().map(|g| format!("healed attached container {name}: removed {g}"))),
                Err(e) => failed.push(format!("container {name} (rules): {e}")),
            }
        }
    }
    (did, failed)
}

/// Heal the attached containers of a run whose harness is gone (for `faultline clean`).
pub fn clean_attached(run_id: &str, ids: &[String], scrub: super::Scrub) -> Result<(Vec<String>, Vec<String>), Error> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let docker = connect().await?;
        Ok(heal_attached(&docker, run_id, ids, scrub).await)
    })
}

/// `GET /version` from an etcd client URL: the server version it reports.
fn etcd_version_at(addr: std::net::SocketAddr) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("GET /version HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    let v = body.split("\"etcdserver\":\"").nth(1)?.split('"').next()?;
    Some(v.to_string())
}

impl Membership for DockerBackend {
    fn add_member(&self, name: Option<&str>) -> Result<Member, Error> {
        self.own_members("add a member")?;
        let (revive, used, index) = {
            let slots = lock(&self.slots);
            if let Some(n) = name {
                if slots.iter().any(|s| s.member.name == n && !s.removed) {
                    return Err(Error::Invalid(format!("{n} is a member already: remove it before adding a member under its name")));
                }
            }
            let revive = name.and_then(|n| slots.iter().find(|s| s.member.name == n).map(|s| s.member.clone()));
            (revive, slots.iter().map(|s| s.member.name.clone()).collect::<Vec<_>>(), slots.len())
        };
        if let Some(m) = revive {
            // The replace path: the same name and address, fresh data, a new container.
            super::empty_dir(&m.data_dir)?;
            {
                let mut slots = lock(&self.slots);
                if let Some(s) = slots.iter_mut().find(|s| s.member.name == m.name) {
                    s.removed = false;
                    s.config = MemberConfig::default();
                    s.image = lock(&self.image).clone();
                }
            }
            self.recreate(&m.name, &[])?;
            return Ok(m);
        }
        if index >= 80 {
            return Err(Error::Invalid("a run cannot have more than 80 members".into()));
        }
        let name = name.map_or_else(|| super::next_member_name(&used), str::to_string);
        let subnet = self.subnet;
        let m = super::new_member(index, &name, &self.run_dir, |h| Ipv4Addr::new(10, 78, subnet, h), |_| PathBuf::from(NOT_RUNNING));
        let image = lock(&self.image).clone();
        self.new_slot(m, image)
    }

    fn remove_member(&self, member: &str) -> Result<(), Error> {
        self.own_members(&format!("remove {member}"))?;
        let (c, m) = self.with_slot(member, |s| Ok((s.container.clone(), s.member.clone())))?;
        // Its log stays in the run directory, beside the log of whoever takes its name.
        let _ = std::fs::write(m.log.with_extension("removed.log"), self.logs(&c, None));
        self.remove_container(&c).map_err(|e| engine_err(&format!("removing {member}'s container"), e))?;
        self.note_down(member);
        super::empty_dir(&m.data_dir).map_err(|e| Error::Harness(format!("could not delete {member}'s data in {}: {e}", m.data_dir.display())))?;
        self.with_slot(member, |s| {
            s.container.clear();
            s.removed = true;
            Ok(())
        })
    }

    fn configure(&self, member: &str, mut config: MemberConfig) -> Result<MemberConfig, Error> {
        self.own_members(&format!("reconfigure {member}"))?;
        let image = match config.program.take() {
            None => None,
            Some(Program::Version(v)) => {
                let tag = default_image(&v);
                let binary = super::versions::binary(&v)?;
                if self.call(crate::cluster::image::ensure(&tag, &binary))? {
                    eprintln!("faultline: built {tag} from {} for {member}", binary.display());
                }
                Some(tag)
            }
            Some(Program::Image(i)) => Some(i),
            Some(Program::Binary(b)) => {
                return Err(Error::Invalid(format!(
                    "member {member} runs in a container: a binary (`{}`) applies to the process backend; give `version` (one of the store's) or `image` (build one with `faultline image build --etcd PATH`) instead",
                    b.display()
                )))
            }
        };
        if let Some(i) = &image {
            *lock(&self.image) = i.clone();
        }
        let before = self.with_slot(member, |s| {
            let before = MemberConfig { args: std::mem::replace(&mut s.config.args, config.args), program: Some(Program::Image(s.image.clone())) };
            if let Some(i) = image {
                s.image = i;
            }
            Ok(before)
        })?;
        self.recreate(member, &[])?;
        Ok(before)
    }
}

impl Drop for DockerBackend {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// What [`clean_labelled`] removed (or would), what it could not, and the run ids seen.
pub type Cleaned = (Vec<String>, Vec<String>, Vec<String>);

/// Containers and networks labelled with a run (for `faultline clean`): removes those of
/// `run` (or of every run when `None`) not kept, and says what it removed (with `dry_run`:
/// would remove), what it could not, and every run id its labels name.
pub fn clean_labelled(run: Option<&str>, keep: &dyn Fn(&str) -> bool, dry_run: bool) -> Result<Cleaned, Error> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let docker = connect().await?;
        let filter = match run {
            Some(r) => format!("{RUN_LABEL}={r}"),
            None => RUN_LABEL.to_string(),
        };
        let (mut removed, mut failed, mut runs) = (Vec::new(), Vec::new(), Vec::new());
        let filters = HashMap::from([("label".to_string(), vec![filter.clone()])]);
        let opts = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let list = docker.list_containers(Some(opts)).await.map_err(|e| engine_err("listing containers", e))?;
        for c in list {
            let id = c.id.unwrap_or_default();
            let rid = c.labels.as_ref().and_then(|l| l.get(RUN_LABEL)).cloned().unwrap_or_default();
            runs.push(rid.clone());
            if keep(&rid) {
                continue;
            }
            let name = c.names.and_then(|n| n.first().cloned()).unwrap_or_else(|| id.clone());
            if dry_run {
                removed.push(format!("container {}", name.trim_start_matches('/')));
                continue;
            }
            let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
            match docker.remove_container(&id, Some(opts)).await {
                Ok(()) => removed.push(format!("container {}", name.trim_start_matches('/'))),
                Err(e) => failed.push(format!("container {name}: {e}")),
            }
        }
        let opts = ListNetworksOptionsBuilder::default().filters(&filters).build();
        let nets = docker.list_networks(Some(opts)).await.map_err(|e| engine_err("listing networks", e))?;
        for n in nets {
            let rid = n.labels.as_ref().and_then(|l| l.get(RUN_LABEL)).cloned().unwrap_or_default();
            runs.push(rid.clone());
            if keep(&rid) {
                continue;
            }
            let name = n.name.unwrap_or_default();
            if dry_run {
                removed.push(format!("network {name}"));
                continue;
            }
            match docker.remove_network(&name).await {
                Ok(()) => removed.push(format!("network {name}")),
                Err(e) => failed.push(format!("network {name}: {e}")),
            }
        }
        Ok((removed, failed, runs))
    })
}

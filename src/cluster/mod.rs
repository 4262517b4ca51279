//! Clusters: the [`Backend`] trait that brings members up and down, and the [`Member`]
//! handle through which faults, workload and observer reach a member. Faults never ask
//! which backend they run on: they use a member's network namespace, addresses, PID and
//! cgroup, and the backend's signal/start verbs.

pub mod cgroup;
pub mod docker;
pub mod image;
pub mod netns;
pub mod process;
pub mod spec;
pub mod state;
pub mod versions;

use crate::client::Endpoint;
use crate::error::Error;
use nix::sys::signal::Signal;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// The etcd client port inside every member's namespace.
pub const CLIENT_PORT: u16 = 2379;
/// The etcd peer port inside every member's namespace.
pub const PEER_PORT: u16 = 2380;

/// Removes what a run's faults (labelled `prefix`, e.g. `faultline-<run>-`) left in a
/// network namespace the run does not own — an attached container's — and says what it
/// removed. The fault module provides it (`fault::net::remove_leftovers`); the backend only
/// calls it, so that the cluster never depends on the faults.
pub type Scrub = fn(&std::path::Path, &str) -> Result<Vec<String>, Error>;

/// Everything the rest of faultline may know about a member.
#[derive(Debug, Clone)]
pub struct Member {
    /// `n1`..`n7`.
    pub name: String,
    /// 0-based position.
    pub index: usize,
    /// Its address on the run's network.
    pub ip: Ipv4Addr,
    /// `http://IP:2379`.
    pub client_url: String,
    /// `http://IP:2380`.
    pub peer_url: String,
    /// Its network namespace (a path usable with setns / nsenter).
    pub netns: PathBuf,
    /// Its process id while it runs.
    pub pid: Option<u32>,
    /// Its cgroup directories.
    pub cgroup: Vec<PathBuf>,
    /// Its data directory (under the run directory).
    pub data_dir: PathBuf,
    /// Its log file (under the run directory).
    pub log: PathBuf,
}

impl Member {
    /// The client endpoint of this member.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint { member: self.name.clone(), url: self.client_url.clone() }
    }
}

/// What a member's process is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// Running (or sleeping): it can answer.
    Running,
    /// Stopped by SIGSTOP.
    Paused,
    /// Not running.
    Down,
}

/// How a member starts from now on, beyond the cluster's shared settings: flags added after
/// the shared ones (etcd takes the last of a repeated flag), and what it runs — the
/// rolling-restart and upgrade path. Also how a member added at run time joins
/// (`--initial-cluster-state=existing`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberConfig {
    /// etcd flags after the shared ones.
    pub args: Vec<String>,
    /// What it runs from now on; `None` keeps what it runs.
    pub program: Option<Program>,
}

/// What a member runs: a version of the store (either backend), or an etcd of one's own.
#[derive(Debug, Clone, PartialEq)]
pub enum Program {
    /// A version of faultline's store ([`versions`]): its binary (process backend), or the
    /// image `faultline/etcd:<version>` built from it (Docker backend).
    Version(String),
    /// Another etcd binary (process backend).
    Binary(PathBuf),
    /// Another image (Docker backend).
    Image(String),
}

impl std::fmt::Display for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Program::Version(v) => write!(f, "etcd {v}"),
            Program::Binary(b) => write!(f, "binary {}", b.display()),
            Program::Image(i) => write!(f, "image {i}"),
        }
    }
}

/// A way of running etcd members.
pub trait Backend: Send + Sync {
    /// `process` or `docker`.
    fn kind(&self) -> &'static str;
    /// The run id every resource is labelled with.
    fn run_id(&self) -> &str;
    /// Whether the members are someone else's, already running when the run attached to
    /// them: the run does not start them, and teardown gives them back healed, not removed.
    fn attached(&self) -> bool {
        false
    }
    /// Handles of every member, as they are now (a removed member is no longer one).
    fn members(&self) -> Vec<Member>;
    /// Whether a member restarted keeps its network namespace (and so the network faults in
    /// force on it). Docker gives a restarted container a new one.
    fn restart_keeps_netns(&self) -> bool {
        true
    }
    /// Membership changes, where this backend can make them (a cluster faultline made; not an
    /// attached one, whose members are someone else's).
    fn membership(&self) -> Option<&dyn Membership> {
        None
    }
    /// [`Backend::membership`], or why there is none.
    fn membership_or_err(&self) -> Result<&dyn Membership, Error> {
        self.membership().ok_or_else(|| Error::Invalid(format!("the {} backend cannot add, remove or reconfigure members here", self.kind())))
    }
    /// The network namespace clients connect from.
    fn client_netns(&self) -> PathBuf;
    /// Start (or restart, on the same data) a member; returns its pid.
    fn start(&self, member: &str) -> Result<u32, Error>;
    /// Start every member (at a run's beginning); returns (member, pid) in member order.
    fn start_all(&self) -> Result<Vec<(String, u32)>, Error> {
        self.members().iter().map(|m| self.start(&m.name).map(|pid| (m.name.clone(), pid))).collect()
    }
    /// Start a member with extra etcd flags for this start only (operators' mistakes in tests).
    fn start_with(&self, member: &str, extra_args: &[String]) -> Result<u32, Error>;
    /// Send a signal to a member's process.
    fn signal(&self, member: &str, sig: Signal) -> Result<(), Error>;
    /// How [`Backend::signal`] carries out `sig`, in words for proofs (`SIGKILL`; on Docker
    /// `engine kill SIGKILL`, `engine pause (cgroup freezer)`).
    fn signal_verb(&self, sig: Signal) -> String {
        sig.as_str().to_string()
    }
    /// The mechanism of process faults, for the faults table: `signal`, `docker-engine`.
    fn process_mechanism(&self) -> &'static str {
        "signal"
    }
    /// Wait up to `timeout` for a member's process to exit; true if it did.
    fn wait_exit(&self, member: &str, timeout: Duration) -> bool;
    /// What a member's process is doing.
    fn state(&self, member: &str) -> MemberState;
    /// The last `lines` lines of a member's log.
    fn log_tail(&self, member: &str, lines: usize) -> String;
    /// Stop every member and remove everything the run created; says what was removed.
    fn teardown(&self) -> Vec<String>;
    /// A member by name.
    fn member(&self, name: &str) -> Result<Member, Error> {
        self.members().into_iter().find(|m| m.name == name).ok_or_else(|| Error::Harness(format!("no member named {name}")))
    }

    /// Client endpoints of every member.
    fn endpoints(&self) -> Vec<Endpoint> {
        self.members().iter().map(Member::endpoint).collect()
    }
}

/// Adding, removing and reconfiguring members: a capability of the backends that made their
/// cluster ([`Backend::membership`]).
pub trait Membership: Send + Sync {
    /// Make room for a new member (not started): its address, namespace, cgroup and an empty
    /// data directory. `name` revives a member removed earlier under that name (the
    /// replace path: same name and address, fresh data); `None` takes the next `nK`.
    fn add_member(&self, name: Option<&str>) -> Result<Member, Error>;
    /// Stop a member for good and delete its data: it is no longer one of [`Backend::members`].
    fn remove_member(&self, member: &str) -> Result<(), Error>;
    /// How `member` starts from its next start on (it must not be running on Docker, whose
    /// containers are recreated with the new command or image); returns how it started
    /// until now (with the program it ran), to go back to when the new one is refused.
    fn configure(&self, member: &str, config: MemberConfig) -> Result<MemberConfig, Error>;
}

/// The members of a new cluster faultline makes: `n1`..`nN` at host addresses .11, .12, ...
/// (`ip(host)`), their namespaces named by `netns(name)`, data and logs under `run_dir`.
pub fn new_members(size: usize, run_dir: &std::path::Path, ip: impl Fn(u8) -> Ipv4Addr, netns: impl Fn(&str) -> PathBuf) -> Vec<Member> {
    (0..size).map(|i| new_member(i, &format!("n{}", i + 1), run_dir, &ip, &netns)).collect()
}

/// The member at position `index` (host address .11 + index) named `name`.
pub fn new_member(index: usize, name: &str, run_dir: &std::path::Path, ip: impl Fn(u8) -> Ipv4Addr, netns: impl Fn(&str) -> PathBuf) -> Member {
    let addr = ip(11 + index as u8);
    Member {
        netns: netns(name),
        ip: addr,
        client_url: format!("http://{addr}:{CLIENT_PORT}"),
        peer_url: format!("http://{addr}:{PEER_PORT}"),
        pid: None,
        cgroup: Vec::new(),
        data_dir: run_dir.join("data").join(name),
        log: run_dir.join("logs").join(format!("{name}.log")),
        index,
        name: name.to_string(),
    }
}

/// The next free member name among `used` (every name a run has had, removed ones too):
/// `n(K+1)` for the highest `nK`.
pub fn next_member_name(used: &[String]) -> String {
    let k = used.iter().filter_map(|n| n.strip_prefix('n')?.parse::<usize>().ok()).max().unwrap_or(0);
    format!("n{}", k + 1)
}

/// Empty a directory without removing it (it may be a mount point: a disk-fault layer or a
/// container's bind mount).
pub fn empty_dir(dir: &std::path::Path) -> std::io::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries {
                let p = e?.path();
                if p.is_dir() && !p.is_symlink() {
                    std::fs::remove_dir_all(&p)?;
                } else {
                    std::fs::remove_file(&p)?;
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir),
        Err(e) => Err(e),
    }
}

/// The etcd flags every member of a new cluster shares: the static initial cluster, its
/// token, and the scenario's settings (`cluster.etcd`).
pub fn shared_flags(run_id: &str, spec: &spec::ClusterSpec, members: &[Member]) -> Vec<String> {
    let initial_cluster = members.iter().map(|m| format!("{}={}", m.name, m.peer_url)).collect::<Vec<_>>().join(",");
    let e = &spec.etcd;
    let mut flags = vec![
        format!("--initial-cluster={initial_cluster}"),
        format!("--initial-cluster-token=faultline-{run_id}"),
        "--initial-cluster-state=new".into(),
        format!("--heartbeat-interval={}", e.heartbeat_interval.0.as_millis()),
        format!("--election-timeout={}", e.election_timeout.0.as_millis()),
        format!("--snapshot-count={}", e.snapshot_count),
        format!("--quota-backend-bytes={}", e.quota_backend_bytes.0),
    ];
    flags.extend(e.corrupt_checks.flags().into_iter().map(|(_, f)| f));
    flags.extend(e.extra_args.iter().cloned());
    flags
}

/// The etcd binary's version, from `etcd --version` (`3.4.23`).
pub fn etcd_version(binary: &std::path::Path) -> Result<String, Error> {
    let out = crate::host::sys::run(&binary.display().to_string(), &["--version"])?;
    out.lines()
        .find_map(|l| l.strip_prefix("etcd Version:").map(|v| v.trim().to_string()))
        .ok_or_else(|| Error::Environment(format!("{} --version did not print an etcd version: {out}", binary.display())))
}

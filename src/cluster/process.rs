//! The process backend: every member is a real `etcd` process in a network namespace of
//! its own, joined by a veth pair to a bridge that lives in a namespace of its own; clients
//! connect from a client namespace. Nothing is added to the host's network namespace.
//!
//! ```text
//!   faultline-<run>-n1   faultline-<run>-n2   ...   faultline-<run>-cl
//!      eth0 10.77.X.11      eth0 10.77.X.12            eth0 10.77.X.100
//!        |                    |                          |
//!   [ v-n1 ------------- v-n2 --- br0 --------------- v-cl ]  faultline-<run>-br
//! ```

use super::cgroup::Cgroup;
use super::state::{self, RunState};
use super::{netns, Backend, Member, MemberConfig, MemberState, Membership, Program};
use crate::cluster::spec::ClusterSpec;
use crate::error::Error;
use crate::host::sys;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs::{File, OpenOptions};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Slot {
    member: Member,
    cgroup: Cgroup,
    child: Option<Child>,
    /// The etcd binary it runs (its version's, in a mixed cluster; another after an upgrade).
    binary: PathBuf,
    /// How it starts beyond the shared settings (set by joins and rolling restarts).
    config: MemberConfig,
    /// Removed from the cluster: no longer a member (its namespace stays, for a replacement
    /// under the same name).
    removed: bool,
}

/// A cluster of local etcd processes in network namespaces.
pub struct ProcessBackend {
    run_id: String,
    prefix: String,
    run_dir: PathBuf,
    subnet: u8,
    /// The binary of members added at run time: the cluster's (the newest of a mixed one's),
    /// then the one a rolling restart last moved a member to.
    binary: Mutex<PathBuf>,
    args: Vec<String>,
    slots: Mutex<Vec<Slot>>,
    namespaces: Mutex<Vec<String>>,
    torn_down: Mutex<bool>,
}

/// Check what the process backend needs before building anything; the binary of each member
/// (in member order).
pub fn preflight(spec: &ClusterSpec) -> Result<Vec<PathBuf>, Error> {
    if !sys::is_root() {
        return Err(Error::Environment(
            "the process backend needs root: it creates network namespaces, veth links, iptables rules and cgroups. \
             Run faultline as root (e.g. `sudo faultline run ...`); `faultline doctor` lists what each feature needs."
                .into(),
        ));
    }
    for tool in ["ip", "nsenter"] {
        if sys::which(tool).is_none() {
            return Err(Error::Environment(format!("`{tool}` is not installed: {}.", sys::install_hint(tool))));
        }
    }
    (0..spec.size).map(|i| spec.etcd.binary_of(i)).collect()
}

impl ProcessBackend {
    /// Build the network and member slots (no member is started yet). On any error,
    /// everything made so far is removed before returning.
    pub fn create(run_id: &str, run_dir: &Path, spec: &ClusterSpec) -> Result<Self, Error> {
        let binaries = preflight(spec)?;
        let binary = spec.etcd.binary_path()?;
        let subnet = state::pick_subnet(run_id);
        RunState::record(run_id, run_dir, subnet, "process", Vec::new())?;

        let prefix = format!("faultline-{run_id}");
        let ip = |host: u8| Ipv4Addr::new(10, 77, subnet, host);
        let members = super::new_members(spec.size, run_dir, ip, |name| netns::path(&format!("{prefix}-{name}")));
        let args = super::shared_flags(run_id, spec, &members);

        let backend = ProcessBackend {
            run_id: run_id.into(),
            prefix: prefix.clone(),
            run_dir: run_dir.to_path_buf(),
            subnet,
            binary: Mutex::new(binary),
            args,
            slots: Mutex::new(Vec::new()),
            namespaces: Mutex::new(Vec::new()),
            torn_down: Mutex::new(false),
        };
        // From here on, Drop tears down whatever was made if a step fails.
        backend.build_network(&members, subnet)?;
        std::fs::create_dir_all(run_dir.join("logs"))?;
        std::fs::create_dir_all(run_dir.join("data"))?;
        let mut slots = Vec::new();
        for (mut m, binary) in members.into_iter().zip(binaries) {
            let cgroup = Cgroup::create(&format!("{run_id}-{}", m.name));
            m.cgroup = cgroup.dirs.clone();
            slots.push(Slot { member: m, cgroup, child: None, binary, config: MemberConfig::default(), removed: false });
        }
        *lock(&backend.slots) = slots;
        Ok(backend)
    }

    fn build_network(&self, members: &[Member], subnet: u8) -> Result<(), Error> {
        let br = format!("{}-br", self.prefix);
        self.add_ns(&br)?;
        sys::run("ip", &["-n", &br, "link", "add", "br0", "type", "bridge"])?;
        sys::run("ip", &["-n", &br, "link", "set", "br0", "up"])?;
        let mut hosts: Vec<(String, Ipv4Addr)> = members.iter().map(|m| (m.name.clone(), m.ip)).collect();
        hosts.push(("cl".into(), Ipv4Addr::new(10, 77, subnet, 100)));
        for (name, ip) in hosts {
            self.plug(&name, ip)?;
        }
        Ok(())
    }

    /// A namespace `<prefix>-<name>` with `eth0` at `ip`, its veth peer on the bridge.
    fn plug(&self, name: &str, ip: Ipv4Addr) -> Result<(), Error> {
        let br = format!("{}-br", self.prefix);
        let ns = format!("{}-{name}", self.prefix);
        self.add_ns(&ns)?;
        let veth = format!("v-{name}");
        sys::run("ip", &["-n", &br, "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
        sys::run("ip", &["-n", &br, "link", "set", &veth, "master", "br0", "up"])?;
        sys::run("ip", &["-n", &ns, "addr", "add", &format!("{ip}/24"), "dev", "eth0"])?;
        sys::run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
        Ok(())
    }

    fn add_ns(&self, name: &str) -> Result<(), Error> {
        netns::create(name)?;
        lock(&self.namespaces).push(name.to_string());
        Ok(())
    }

    fn spawn(&self, slot: &mut Slot, extra: &[String]) -> Result<u32, Error> {
        if let Some(child) = slot.child.as_mut() {
            if matches!(child.try_wait(), Ok(None)) {
                return Err(Error::Harness(format!("member {} is already running", slot.member.name)));
            }
        }
        let m = &slot.member;
        std::fs::create_dir_all(&m.data_dir)?;
        let log = OpenOptions::new().create(true).append(true).open(&m.log)?;
        let log2 = log.try_clone()?;
        let ns = File::open(&m.netns).map_err(|e| Error::Harness(format!("failed to open {}: {e}", m.netns.display())))?;
        let ns_fd = ns.as_raw_fd();
        let binary = slot.binary.clone();
        let mut cmd = Command::new(&binary);
        cmd.arg(format!("--name={}", m.name))
            .arg(format!("--data-dir={}", m.data_dir.display()))
            .arg(format!("--listen-client-urls={}", m.client_url))
            .arg(format!("--advertise-client-urls={}", m.client_url))
            .arg(format!("--listen-peer-urls={}", m.peer_url))
            .arg(format!("--initial-advertise-peer-urls={}", m.peer_url))
            .args(&self.args)
            .args(&slot.config.args)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .env("FAULTLINE_RUN", &self.run_id)
            .env("FAULTLINE_MEMBER", &m.name);
        // etcd refuses ETCD_DATA_DIR (and friends) together with the flags we pass.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("ETCD_") {
                cmd.env_remove(k);
            }
        }
        // SAFETY: only async-signal-safe system calls run between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(ns_fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Its own process group, so a Ctrl-C at the terminal reaches only faultline.
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| Error::Environment(format!("failed to start {} for member {}: {e}", binary.display(), m.name)))?;
        drop(ns);
        let pid = child.id();
        let _ = slot.cgroup.add(pid);
        slot.child = Some(child);
        slot.member.pid = Some(pid);
        Ok(pid)
    }

    fn with_slot<T>(&self, member: &str, f: impl FnOnce(&mut Slot) -> Result<T, Error>) -> Result<T, Error> {
        let mut slots = lock(&self.slots);
        let slot = slots.iter_mut().find(|s| s.member.name == member && !s.removed).ok_or_else(|| Error::Harness(format!("no member named {member}")))?;
        f(slot)
    }

    /// Kill a slot's process group and reap it.
    fn kill_slot(slot: &mut Slot) -> Option<i32> {
        let mut c = slot.child.take()?;
        let pid = c.id() as i32;
        // The whole process group: etcd and anything it started.
        let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = c.wait();
        slot.member.pid = None;
        Some(pid)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Backend for ProcessBackend {
    fn kind(&self) -> &'static str {
        "process"
    }

    fn run_id(&self) -> &str {
        &self.run_id
    }

    fn members(&self) -> Vec<Member> {
        lock(&self.slots).iter().filter(|s| !s.removed).map(|s| s.member.clone()).collect()
    }

    fn membership(&self) -> Option<&dyn Membership> {
        Some(self)
    }

    fn client_netns(&self) -> PathBuf {
        netns::path(&format!("{}-cl", self.prefix))
    }

    fn start(&self, member: &str) -> Result<u32, Error> {
        self.with_slot(member, |s| self.spawn(s, &[]))
    }

    fn start_with(&self, member: &str, extra_args: &[String]) -> Result<u32, Error> {
        self.with_slot(member, |s| self.spawn(s, extra_args))
    }

    fn signal(&self, member: &str, sig: Signal) -> Result<(), Error> {
        self.with_slot(member, |s| {
            let pid = s.member.pid.ok_or_else(|| Error::Harness(format!("member {member} is not running")))?;
            kill(Pid::from_raw(pid as i32), sig).map_err(|e| Error::Harness(format!("failed to send {sig} to {member} (pid {pid}): {e}")))
        })
    }

    fn wait_exit(&self, member: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let done = self
                .with_slot(member, |s| {
                    Ok(match s.child.as_mut() {
                        None => true,
                        Some(c) => match c.try_wait() {
                            Ok(Some(_)) | Err(_) => {
                                s.child = None;
                                s.member.pid = None;
                                true
                            }
                            Ok(None) => false,
                        },
                    })
                })
                .unwrap_or(true);
            if done {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn state(&self, member: &str) -> MemberState {
        self.with_slot(member, |s| {
            Ok(match s.child.as_mut() {
                None => MemberState::Down,
                Some(c) => match c.try_wait() {
                    Ok(None) => match sys::proc_state(c.id()) {
                        Some('T') | Some('t') => MemberState::Paused,
                        Some('Z') | None => MemberState::Down,
                        Some(_) => MemberState::Running,
                    },
                    _ => MemberState::Down,
                },
            })
        })
        .unwrap_or(MemberState::Down)
    }

    fn log_tail(&self, member: &str, lines: usize) -> String {
        let Ok(m) = self.member(member) else {
            return String::new();
        };
        let text = std::fs::read_to_string(&m.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn teardown(&self) -> Vec<String> {
        let mut done = lock(&self.torn_down);
        if *done {
            return Vec::new();
        }
        *done = true;
        let mut removed = Vec::new();
        let mut slots = lock(&self.slots);
        for s in slots.iter_mut() {
            if let Some(pid) = Self::kill_slot(s) {
                removed.push(format!("process {} (pid {pid})", s.member.name));
            }
            for p in s.cgroup.dirs.iter().flat_map(|d| super::cgroup::pids(d)) {
                let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
            removed.extend(s.cgroup.remove().into_iter().map(|d| format!("cgroup {d}")));
        }
        let mut nss = lock(&self.namespaces);
        for ns in nss.drain(..).rev() {
            match netns::delete(&ns) {
                Ok(()) => removed.push(format!("network namespace {ns}")),
                Err(e) => removed.push(format!("could not delete network namespace {ns}: {e}")),
            }
        }
        if RunState::remove(&self.run_id) {
            removed.push(format!("run state {}", RunState::path(&self.run_id).display()));
        }
        removed
    }
}

impl Membership for ProcessBackend {
    fn add_member(&self, name: Option<&str>) -> Result<Member, Error> {
        let mut slots = lock(&self.slots);
        if let Some(n) = name {
            if slots.iter().any(|s| s.member.name == n && !s.removed) {
                return Err(Error::Invalid(format!("{n} is a member already: remove it before adding a member under its name")));
            }
            if let Some(s) = slots.iter_mut().find(|s| s.member.name == n) {
                // The replace path: the same name, namespace and address, fresh data.
                super::empty_dir(&s.member.data_dir)?;
                s.removed = false;
                s.config = MemberConfig::default();
                s.binary = lock(&self.binary).clone();
                return Ok(s.member.clone());
            }
        }
        let used: Vec<String> = slots.iter().map(|s| s.member.name.clone()).collect();
        let name = name.map_or_else(|| super::next_member_name(&used), str::to_string);
        let index = slots.len();
        if index >= 80 {
            return Err(Error::Invalid("a run cannot have more than 80 members".into()));
        }
        let subnet = self.subnet;
        let mut m = super::new_member(index, &name, &self.run_dir, |h| Ipv4Addr::new(10, 77, subnet, h), |n| netns::path(&format!("{}-{n}", self.prefix)));
        self.plug(&name, m.ip)?;
        std::fs::create_dir_all(&m.data_dir)?;
        let cgroup = Cgroup::create(&format!("{}-{name}", self.run_id));
        m.cgroup = cgroup.dirs.clone();
        slots.push(Slot { member: m.clone(), cgroup, child: None, binary: lock(&self.binary).clone(), config: MemberConfig::default(), removed: false });
        Ok(m)
    }

    fn remove_member(&self, member: &str) -> Result<(), Error> {
        self.with_slot(member, |s| {
            Self::kill_slot(s);
            super::empty_dir(&s.member.data_dir)
                .map_err(|e| Error::Harness(format!("could not delete {member}'s data in {}: {e}", s.member.data_dir.display())))?;
            s.removed = true;
            Ok(())
        })
    }

    fn configure(&self, member: &str, mut config: MemberConfig) -> Result<MemberConfig, Error> {
        let binary = match config.program.take() {
            None => None,
            Some(Program::Version(v)) => Some(super::versions::binary(&v)?),
            Some(Program::Binary(b)) => Some(
                sys::which(&b.display().to_string())
                    .ok_or_else(|| Error::Invalid(format!("the etcd binary `{}` for member {member} was not found", b.display())))?,
            ),
            Some(Program::Image(image)) => {
                return Err(Error::Invalid(format!(
                    "member {member} runs as a local process: an image (`{image}`) applies to the docker backend; give `version` (one of the store's) or `binary` (a path to another etcd) instead"
                )))
            }
        };
        if let Some(b) = &binary {
            *lock(&self.binary) = b.clone();
        }
        self.with_slot(member, |s| {
            let before = MemberConfig { args: std::mem::replace(&mut s.config.args, config.args), program: Some(Program::Binary(s.binary.clone())) };
            if let Some(b) = binary {
                s.binary = b;
            }
            Ok(before)
        })
    }
}

impl Drop for ProcessBackend {
    fn drop(&mut self) {
        self.teardown();
    }
}

//! What this machine can do, probed for real inside a scratch network namespace of its own
//! (removed afterwards): root, namespaces, iptables/nft, netem, NFQUEUE, FUSE, cgroups,
//! Docker, etcd. Each row says what it enables and, where missing, how to get it;
//! `faultline doctor` prints the rows. The probes a run's preflight also needs ([`netem`],
//! [`etcdctl`]) are made once per process and shared by both. What only root can probe says
//! "not root" for a user who is not, never "NO — install it". [`render`] fits the rows to a
//! width (the terminal's).

use crate::cluster::{cgroup, netns};
use crate::host::sys;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::OnceLock;
use tabled::settings::{peaker::PriorityMax, Style, Width};
use tabled::{Table, Tabled};

/// One capability.
#[derive(Debug, Clone, Tabled)]
pub struct Check {
    /// What was checked.
    #[tabled(rename = "capability")]
    pub name: String,
    /// `yes` / `no` and a detail.
    #[tabled(rename = "status")]
    pub status: String,
    /// What it enables.
    #[tabled(rename = "enables")]
    pub enables: String,
    /// How to get it when missing.
    #[tabled(rename = "if missing")]
    pub fix: String,
}

fn row(name: &str, ok: bool, detail: impl Into<String>, enables: &str, fix: &str) -> Check {
    let detail = detail.into();
    Check {
        name: name.into(),
        status: if detail.is_empty() { (if ok { "yes" } else { "NO" }).into() } else { format!("{} ({detail})", if ok { "yes" } else { "NO" }) },
        enables: enables.into(),
        fix: if ok { String::new() } else { fix.into() },
    }
}

/// A capability only root can probe, for a user who is not root: not known, not missing.
fn unprobed(name: &str, enables: &str) -> Check {
    Check { name: name.into(), status: "? not root".into(), enables: enables.into(), fix: "run `sudo faultline doctor` to probe it".into() }
}

/// Probe everything; never fails (a failing probe is a "NO" row; what only root can probe
/// is a "not root" row for anyone else).
pub fn checks() -> Vec<Check> {
    let mut out = Vec::new();
    let root = sys::is_root();
    out.push(row("root", root, "", "the process backend: namespaces, iptables, cgroups", "run as root (sudo faultline ...)"));
    if !root {
        for (name, enables) in [
            ("network namespaces", "process backend: one namespace per member"),
            ("iptables", "partitions (DROP rules inside member namespaces)"),
            ("nftables", "an alternative rule backend"),
            ("tc netem", "latency/loss faults in the kernel"),
            ("tc tbf", "bandwidth faults"),
            ("NFQUEUE", "userspace latency/loss shaping where netem is missing"),
            ("network shaping", "latency, jitter, loss (mechanism: auto picks the first that works)"),
        ] {
            out.push(unprobed(name, enables));
        }
        return unprivileged(out);
    }
    let scratch = format!("faultline-doctor{}", std::process::id());
    let ns_ok = root && netns::create(&scratch).is_ok();
    out.push(row("network namespaces", ns_ok, "", "process backend: one namespace per member", "root and iproute2 (apt-get install iproute2)"));
    let ns = netns::path(&scratch);
    let in_ns = |prog: &str, args: &[&str]| ns_ok && netns::exec(&ns, prog, args).is_ok();
    let ipt = in_ns("iptables", &["-w", "-S"]);
    out.push(row("iptables", ipt, version("iptables", &["--version"]), "partitions (DROP rules inside member namespaces)", "apt-get install iptables"));
    let nft = in_ns("nft", &["list", "ruleset"]);
    out.push(row("nftables", nft, version("nft", &["--version"]), "an alternative rule backend", "apt-get install nftables"));
    let netem = ns_ok && self::netem();
    out.push(row(
        "tc netem",
        netem,
        if netem { "" } else { "kernel has no sch_netem" },
        "latency/loss faults in the kernel",
        "a kernel with sch_netem (modprobe sch_netem); faultline will use NFQUEUE instead",
    ));
    let tbf = in_ns("tc", &["qdisc", "replace", "dev", "lo", "root", "tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms"]);
    out.push(row("tc tbf", tbf, "", "bandwidth faults", "a kernel with sch_tbf"));
    let nfq = in_ns("iptables", &["-w", "-A", "OUTPUT", "-p", "udp", "--dport", "9", "-j", "NFQUEUE", "--queue-num", "7", "--queue-bypass"]);
    out.push(row("NFQUEUE", nfq, "", "userspace latency/loss shaping where netem is missing", "a kernel with nfnetlink_queue / xt_NFQUEUE"));
    if ns_ok {
        let _ = netns::delete(&scratch);
    }
    out.push(row(
        "network shaping",
        ns_ok && (netem || nfq),
        if netem {
            "latency faults will use tc netem"
        } else if nfq {
            "latency faults will use the NFQUEUE shaper (no sch_netem here)"
        } else {
            "neither netem nor NFQUEUE works"
        },
        "latency, jitter, loss (mechanism: auto picks the first that works)",
        "a kernel with sch_netem or nfnetlink_queue",
    ));
    unprivileged(out)
}

/// The rows anyone can probe: FUSE, cgroups, Docker, the etcd image, Compose, etcd, etcdctl.
fn unprivileged(mut out: Vec<Check>) -> Vec<Check> {
    let root = sys::is_root();
    let fuse = std::path::Path::new("/dev/fuse").exists();
    out.push(row("FUSE", fuse, "", "disk faults: io-latency, io-error, fsync-lie, kill with lose_unsynced", "apt-get install fuse3; load the fuse module"));
    let v2 = cgroup::is_v2();
    let controllers: Vec<&str> = ["cpu", "cpuacct", "memory", "freezer", "blkio"]
        .into_iter()
        .filter(|c| v2 || std::path::Path::new("/sys/fs/cgroup").join(c).join("cgroup.procs").exists())
        .collect();
    out.push(if !root {
        unprobed("cgroups", "a cgroup per member: CPU and memory faults, per-member CPU use")
    } else {
        row(
            "cgroups",
            !controllers.is_empty(),
            if v2 { "v2".to_string() } else { format!("v1: {}", controllers.join(", ")) },
            "a cgroup per member: CPU and memory faults, per-member CPU use",
            "mount cgroups (v1 controllers cpu, memory, freezer or the v2 hierarchy)",
        )
    });
    let docker = docker_version();
    out.push(row(
        "Docker engine",
        docker.is_some(),
        docker.clone().unwrap_or_else(|| "no answer on /var/run/docker.sock".into()),
        "the docker backend (what backend auto picks) and attach mode",
        "install and start Docker Engine (apt-get install docker.io); without it, backend auto uses the process backend",
    ));
    if docker.is_some() {
        let tag = etcd_version_here().map(|v| crate::cluster::image::default_tag(&v));
        let have = tag.as_ref().and_then(|t| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(crate::cluster::image::exists(t)).ok()
        });
        out.push(row(
            "etcd image",
            have == Some(true),
            tag.clone().map(|t| if have == Some(true) { t } else { format!("{t} not built yet") }).unwrap_or_else(|| "no local etcd to name it after".into()),
            "docker backend members (run builds it when missing)",
            "faultline image build (seconds, from the local etcd)",
        ));
        let compose = compose_version();
        out.push(row(
            "Docker Compose",
            compose.is_some(),
            compose.unwrap_or_default(),
            "docker-compose.yml: the same cluster by hand, to attach to (make compose-up)",
            "apt-get install docker-compose (or the compose plugin)",
        ));
    }
    let etcd = sys::which("etcd");
    let etcd_v = etcd.as_ref().and_then(|p| crate::cluster::etcd_version(p).ok());
    out.push(row(
        "etcd",
        etcd_v.is_some(),
        match (&etcd, &etcd_v) {
            (Some(p), Some(v)) => format!("{v} at {}", p.display()),
            (Some(p), None) => format!("{} does not print a version", p.display()),
            _ => "not on PATH".into(),
        },
        "the cluster under test",
        "apt-get install etcd-server, or set cluster.etcd.binary",
    ));
    let etcdctl = self::etcdctl();
    out.push(row(
        "etcdctl",
        etcdctl.is_some(),
        "",
        "snapshot-save/snapshot-restore ops, benchmarks (etcdctl check perf), manual inspection",
        "apt-get install etcd-client",
    ));
    out
}

/// Whether this kernel has `sch_netem`: probed once per process, by adding a netem qdisc to
/// the loopback of a scratch namespace (`faultline-netemprobe<pid>`, deleted at once), which
/// also loads the module where it exists but is not loaded. False when the probe cannot run
/// (no root, no `tc`): the NFQUEUE path then reports the real problem when applied.
pub fn netem() -> bool {
    static NETEM: OnceLock<bool> = OnceLock::new();
    *NETEM.get_or_init(|| {
        let name = format!("faultline-netemprobe{}", std::process::id());
        if netns::create(&name).is_err() {
            let _ = netns::delete(&name);
            return false;
        }
        let ok = netns::exec(&netns::path(&name), "tc", &["qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]).is_ok();
        let _ = netns::delete(&name);
        ok
    })
}

/// Where `etcdctl` is (the snapshot ops need it), looked up once per process.
pub fn etcdctl() -> Option<PathBuf> {
    static ETCDCTL: OnceLock<Option<PathBuf>> = OnceLock::new();
    ETCDCTL.get_or_init(|| sys::which("etcdctl")).clone()
}

/// The local etcd's version, if there is one.
fn etcd_version_here() -> Option<String> {
    sys::which("etcd").and_then(|p| crate::cluster::etcd_version(&p).ok())
}

/// `docker compose version` or `docker-compose version`, first line.
fn compose_version() -> Option<String> {
    [("docker", &["compose", "version"][..]), ("docker-compose", &["version"][..])]
        .iter()
        .find_map(|(p, a)| sys::run(p, a).ok().map(|s| s.lines().next().unwrap_or("").trim().to_string()))
}

fn version(prog: &str, args: &[&str]) -> String {
    sys::run(prog, args).map(|s| s.lines().next().unwrap_or("").trim().to_string()).unwrap_or_default()
}

/// The Docker engine's version, asked over its socket (`GET /version`).
pub fn docker_version() -> Option<String> {
    let mut s = std::os::unix::net::UnixStream::connect("/var/run/docker.sock").ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /version HTTP/1.0\r\nHost: docker\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let body = buf.split("\r\n\r\n").nth(1)?;
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(format!("engine {} (API {})", v.get("Version")?.as_str()?, v.get("ApiVersion")?.as_str()?))
}

/// The rows as a table at most `width` columns wide: the widest columns are wrapped first,
/// at word boundaries where a word fits.
pub fn render(checks: &[Check], width: usize) -> String {
    Table::new(checks).with(Style::sharp()).with(Width::wrap(width).keep_words(true).priority(PriorityMax::right())).to_string()
}

/// `text` wrapped to lines of at most `width` columns (at word boundaries where a word fits).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    tabled::settings::width::Wrap::wrap(text, width.max(1), true).lines().map(|l| l.trim_end().to_string()).collect()
}

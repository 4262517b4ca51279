//! Scenarios: the YAML a user writes (design.md §1), parsed with positions
//! ([`raw`]), checked and given its defaults ([`resolve`]) into a [`Scenario`] whose types
//! cannot hold a wrong state. Units live in [`units`].

pub mod raw;
mod resolve;
pub mod units;

pub(crate) use resolve::suggest;
pub use resolve::{load, parse};
use serde::Serialize;
use std::fmt;
use units::{Percent, Rate, Size, Span};

/// A scenario, checked and with every default filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// `[a-z0-9-]+`, names the run directory.
    pub name: String,
    /// What the scenario shows, for people.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The seed; `None` until a run draws one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The cluster under test.
    pub cluster: ClusterSpec,
    /// The client load.
    pub workload: WorkloadSpec,
    /// The fixed fault schedule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSpec>,
    /// The seeded random schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nemesis: Option<NemesisSpec>,
    /// etcd operations at fixed times.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<OpSpec>,
    /// The gates.
    pub expect: Expectations,
}

/// Which backend runs the members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// Docker where an engine answers, else process.
    Auto,
    /// Local etcd processes in network namespaces.
    Process,
    /// Docker containers.
    Docker,
}

impl BackendChoice {
    /// The name as written in a scenario.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Process => "process",
            Self::Docker => "docker",
        }
    }

    /// Parse a backend name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "process" => Ok(Self::Process),
            "docker" => Ok(Self::Docker),
            other => Err(format!("unknown backend `{other}`{}: use auto, process or docker", resolve::suggest(other, &["auto", "process", "docker"]))),
        }
    }
}

/// The cluster under test.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSpec {
    /// Backend choice (the CLI's `--backend` overrides it).
    pub backend: BackendChoice,
    /// Number of members, 1..=7.
    pub size: usize,
    /// The etcd settings every member gets (not applied when attaching: the cluster runs
    /// with the settings its owner gave it).
    pub etcd: EtcdSpec,
    /// Attach to running containers faultline did not start, instead of creating a cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach: Option<AttachSpec>,
}

/// Which running containers form the cluster to attach to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachSpec {
    /// How the containers are found.
    #[serde(flatten)]
    pub selector: AttachSelector,
    /// The etcd client port inside each container.
    pub client_port: u16,
}

/// How the containers of an attached cluster are found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachSelector {
    /// The containers of a Compose project (label `com.docker.compose.project=NAME`);
    /// members are named after their Compose service.
    ComposeProject(String),
    /// The containers carrying every one of these labels (`key=value` or `key`); members
    /// are named after their container.
    Labels(Vec<String>),
}

impl AttachSelector {
    /// The engine's label filters for this selector.
    pub fn label_filters(&self) -> Vec<String> {
        match self {
            Self::ComposeProject(p) => vec![format!("com.docker.compose.project={p}")],
            Self::Labels(l) => l.clone(),
        }
    }
}

impl fmt::Display for AttachSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ComposeProject(p) => write!(f, "compose project `{p}`"),
            Self::Labels(l) => write!(f, "containers labelled {}", l.join(", ")),
        }
    }
}

/// The etcd settings every member gets.
#[derive(Debug, Clone, Serialize)]
pub struct EtcdSpec {
    /// Process backend: a path, or a name looked up on PATH.
    pub binary: String,
    /// Docker backend image.
    pub image: String,
    /// Docker backend: the command that starts etcd in the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// `--heartbeat-interval`.
    pub heartbeat_interval: Span,
    /// `--election-timeout`.
    pub election_timeout: Span,
    /// `--snapshot-count`.
    pub snapshot_count: u64,
    /// `--quota-backend-bytes`.
    pub quota_backend_bytes: Size,
    /// Passed through to every member.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<String>,
}

/// The client load.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadSpec {
    /// The workload kind.
    pub kind: WorkloadKind,
    /// Number of independent keys.
    pub keys: u32,
    /// Number of concurrent clients.
    pub clients: u32,
    /// Total target rate; `None` is a closed loop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// How long the workload runs.
    pub duration: Span,
    /// Past this an operation is recorded as `info`.
    pub op_timeout: Span,
    /// Operation mix, normalised to sum to 1.
    pub mix: Mix,
    /// Read consistency.
    pub reads: ReadMode,
    /// A watcher per member records the events of the workload's keys (`watch.jsonl`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub watch: bool,
}

/// The workload kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// read / write / cas on independent keys.
    Register,
}

/// Operation mix of the register workload (fractions summing to 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mix {
    /// Fraction of reads.
    pub read: f64,
    /// Fraction of writes.
    pub write: f64,
    /// Fraction of compare-and-sets.
    pub cas: f64,
}

/// Read consistency of the workload's reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadMode {
    /// Through the leader (ReadIndex): never stale.
    Linearizable,
    /// Served by whichever member answers: may be stale.
    Serializable,
}

/// One entry of `faults:`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultSpec {
    /// Offset from workload start.
    pub at: Span,
    /// Heal (or restart) after this long; `None` = until the end.
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Span>,
    /// Repeat every this long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<Span>,
    /// Who it hits, resolved when it starts.
    pub target: Target,
    /// What it does.
    #[serde(flatten)]
    pub kind: FaultKind,
}

/// What a fault does. Kinds named in the design but not built are refused by [`resolve`]
/// with "not supported yet", never ignored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FaultKind {
    /// Drop packets between members (iptables in member namespaces).
    Partition {
        /// How the members are split.
        mode: PartitionMode,
    },
    /// SIGKILL; restarted on the same data when `for` ends.
    Kill {
        /// Throw away what the member wrote but did not fsync (the disk layer's cache), as
        /// a power loss would, before it restarts.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        lose_unsynced: bool,
    },
    /// SIGTERM; restarted on the same data when `for` ends.
    Stop,
    /// SIGSTOP; SIGCONT when `for` ends.
    Pause,
    /// Delay, jitter and lose the member's outgoing packets.
    Latency(NetShape),
    /// Limit the member's outgoing bandwidth.
    Bandwidth {
        /// Bits per second.
        rate: BitRate,
    },
    /// Delay chosen file operations in the member's data directory.
    IoLatency(DiskFault),
    /// Fail chosen file operations in the member's data directory with an errno.
    IoError(DiskFault),
    /// fsync returns success without making anything durable (a lying disk cache).
    FsyncLie,
    /// Burner processes in the member's cgroup, competing for its CPU share.
    CpuStress {
        /// How many burners.
        workers: u32,
        /// How busy each one is.
        load: Percent,
    },
    /// A CPU quota on the member's cgroup.
    CpuLimit {
        /// Cores' worth of CPU time (0.2 = 20 ms per 100 ms).
        cores: f64,
    },
    /// A process in the member's memory cgroup holding `size` of touched memory.
    MemStress {
        /// How much memory.
        size: Size,
    },
}

/// An etcd operation at a time (`ops:`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpSpec {
    /// Offset from workload start.
    pub at: Span,
    /// What it does.
    #[serde(flatten)]
    pub op: EtcdOp,
}

/// What a `rolling-restart` changes on each member (`etcd:` under the op, with the keys of
/// `cluster.etcd`): settings turned into flags added after the cluster's own, and another
/// binary (process backend) or image (Docker backend).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RestartSettings {
    /// `--heartbeat-interval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval: Option<Span>,
    /// `--election-timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub election_timeout: Option<Span>,
    /// `--snapshot-count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_count: Option<u64>,
    /// `--quota-backend-bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_backend_bytes: Option<Size>,
    /// More flags, as given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<String>,
    /// Another etcd binary (process backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// Another image (Docker backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl RestartSettings {
    /// The etcd flags these settings add.
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(h) = self.heartbeat_interval {
            args.push(format!("--heartbeat-interval={}", h.0.as_millis()));
        }
        if let Some(t) = self.election_timeout {
            args.push(format!("--election-timeout={}", t.0.as_millis()));
        }
        if let Some(n) = self.snapshot_count {
            args.push(format!("--snapshot-count={n}"));
        }
        if let Some(q) = self.quota_backend_bytes {
            args.push(format!("--quota-backend-bytes={}", q.0));
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// Whether it changes nothing (a plain restart).
    pub fn is_empty(&self) -> bool {
        self.args().is_empty() && self.binary.is_none() && self.image.is_none()
    }
}

/// The etcd operations built so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum EtcdOp {
    /// Compact to the current revision minus `keep`.
    Compact {
        /// Revisions kept.
        keep: u64,
    },
    /// Defragment the targets one at a time.
    Defrag {
        /// Who.
        target: Target,
    },
    /// Hand leadership to the target (a follower or a named member).
    MoveLeader {
        /// Who.
        target: Target,
    },
    /// Disarm every alarm.
    AlarmDisarm,
    /// Add a member (`nK`, the next free name), as a learner or a voter.
    MemberAdd {
        /// A non-voting learner.
        learner: bool,
    },
    /// Promote a learner (the only one, or the one named) to a voter.
    LearnerPromote {
        /// Which learner; `None` is the only one.
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
    /// Remove a member; its process or container stops and its data goes.
    MemberRemove {
        /// Who.
        target: Target,
    },
    /// Remove a member and add a fresh one under the same name and address.
    MemberReplace {
        /// Who.
        target: Target,
    },
    /// Restart every member, one at a time, followers first.
    RollingRestart {
        /// What changes on each.
        #[serde(skip_serializing_if = "RestartSettings::is_empty")]
        etcd: RestartSettings,
    },
    /// Fill the backend until the space quota raises `NOSPACE`.
    Fill {
        /// Bytes per put.
        value_size: Size,
    },
    /// Stream a snapshot from the target into `<run dir>/snapshots/<name>.db`.
    SnapshotSave {
        /// Who (leader, follower or a named member).
        target: Target,
        /// The snapshot's name (`snap1`, `snap2`, ... by default).
        name: String,
    },
    /// Stop every member, restore every data dir from a snapshot saved earlier as a new
    /// cluster, start them again; the workload is paused meanwhile.
    SnapshotRestore {
        /// The name of the snapshot (saved earlier in the scenario).
        from: String,
    },
}

impl EtcdOp {
    /// Whether it changes who is in the cluster (the runner then refreshes whom clients see).
    pub fn changes_membership(&self) -> bool {
        matches!(self, EtcdOp::MemberAdd { .. } | EtcdOp::LearnerPromote { .. } | EtcdOp::MemberRemove { .. } | EtcdOp::MemberReplace { .. })
    }

    /// The name as written.
    pub fn name(&self) -> &'static str {
        match self {
            EtcdOp::Compact { .. } => "compact",
            EtcdOp::Defrag { .. } => "defrag",
            EtcdOp::MoveLeader { .. } => "move-leader",
            EtcdOp::AlarmDisarm => "alarm-disarm",
            EtcdOp::MemberAdd { .. } => "member-add",
            EtcdOp::LearnerPromote { .. } => "learner-promote",
            EtcdOp::MemberRemove { .. } => "member-remove",
            EtcdOp::MemberReplace { .. } => "member-replace",
            EtcdOp::RollingRestart { .. } => "rolling-restart",
            EtcdOp::Fill { .. } => "fill",
            EtcdOp::SnapshotSave { .. } => "snapshot-save",
            EtcdOp::SnapshotRestore { .. } => "snapshot-restore",
        }
    }

    /// Whether the runner waits (bounded) for a leader before the op: not for a restore,
    /// whose point is a cluster that lost its quorum.
    pub fn needs_leader(&self) -> bool {
        !matches!(self, EtcdOp::SnapshotRestore { .. })
    }
}

/// Network shaping parameters (`kind: latency`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetShape {
    /// Added one-way delay of each outgoing packet.
    pub delay: Span,
    /// Uniform ± variation of the delay.
    pub jitter: Span,
    /// How much each random draw follows the previous one.
    pub correlation: Percent,
    /// Share of packets dropped.
    pub loss: Percent,
    /// Share of packets sent twice.
    pub duplicate: Percent,
    /// Share of packets sent at once, ahead of delayed ones.
    pub reorder: Percent,
    /// Only packets to these members (`n1`..); empty = to everyone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<u8>,
    /// Which traffic: all, peer (2380) or client (2379).
    pub ports: PortSel,
    /// How: auto (netem where the kernel has it, else nfqueue), netem or nfqueue.
    pub mechanism: NetMechanism,
}

/// Which of a member's traffic a shaping applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortSel {
    /// Every packet.
    All,
    /// Raft traffic between members (port 2380).
    Peer,
    /// Client traffic (port 2379).
    Client,
}

/// The mechanism a network shaping asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetMechanism {
    /// netem where the kernel has it, else the NFQUEUE shaper.
    Auto,
    /// `tc netem` (kernel).
    Netem,
    /// faultline's userspace shaper behind an NFQUEUE rule.
    Nfqueue,
}

/// A bandwidth in bits per second, written `10mbit`, `512kbit`, `1gbit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRate(pub u64);

impl BitRate {
    /// Parse `10mbit`, `512kbit`, `1gbit`, `8000bit`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        let (num, mult) = [("gbit", 1_000_000_000u64), ("mbit", 1_000_000), ("kbit", 1_000), ("bit", 1)]
            .iter()
            .find_map(|(u, m)| t.strip_suffix(u).map(|n| (n.trim().to_string(), *m)))
            .ok_or_else(|| format!("`{s}` is not a bandwidth: write e.g. `10mbit`, `512kbit` or `1gbit`"))?;
        let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a bandwidth: write e.g. `10mbit`"))?;
        let bits = (n * mult as f64).round();
        if !(8_000.0..=100_000_000_000.0).contains(&bits) {
            return Err(format!("`{s}` is out of range: a bandwidth is from 8kbit to 100gbit"));
        }
        Ok(BitRate(bits as u64))
    }
}

impl fmt::Display for BitRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            b if b % 1_000_000_000 == 0 => write!(f, "{}gbit", b / 1_000_000_000),
            b if b % 1_000_000 == 0 => write!(f, "{}mbit", b / 1_000_000),
            b if b % 1_000 == 0 => write!(f, "{}kbit", b / 1_000),
            b => write!(f, "{b}bit"),
        }
    }
}

impl Serialize for BitRate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Disk fault parameters (`kind: io-latency` / `io-error`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskFault {
    /// The file operations it applies to (`write`, `fsync`, `read`, `open`, ...).
    pub ops: Vec<String>,
    /// Share of those calls it hits.
    pub percent: Percent,
    /// Only files matching this glob, relative to the data directory (`member/wal/*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// io-latency: the added delay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Span>,
    /// io-latency: uniform ± variation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Span>,
    /// io-error: the errno returned (`EIO`, `ENOSPC`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
}

impl FaultKind {
    /// The kind's name as written in a scenario.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Partition { .. } => "partition",
            FaultKind::Kill { .. } => "kill",
            FaultKind::Stop => "stop",
            FaultKind::Pause => "pause",
            FaultKind::Latency(_) => "latency",
            FaultKind::Bandwidth { .. } => "bandwidth",
            FaultKind::IoLatency(_) => "io-latency",
            FaultKind::IoError(_) => "io-error",
            FaultKind::FsyncLie => "fsync-lie",
            FaultKind::CpuStress { .. } => "cpu-stress",
            FaultKind::CpuLimit { .. } => "cpu-limit",
            FaultKind::MemStress { .. } => "mem-stress",
        }
    }

    /// Whether the members need the disk layer mounted from their start for this fault.
    pub fn needs_disk_layer(&self) -> bool {
        matches!(self, FaultKind::IoLatency(_) | FaultKind::IoError(_) | FaultKind::FsyncLie | FaultKind::Kill { lose_unsynced: true })
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Partition { mode } => write!(f, "partition ({})", mode.name()),
            FaultKind::Kill { lose_unsynced: true } => f.write_str("kill (losing unsynced writes)"),
            FaultKind::Latency(s) => write!(f, "latency ({} ± {}, loss {})", s.delay, s.jitter, s.loss),
            FaultKind::Bandwidth { rate } => write!(f, "bandwidth ({rate})"),
            FaultKind::IoLatency(d) => write!(f, "io-latency ({} on {})", d.delay.map(|x| x.to_string()).unwrap_or_default(), d.ops.join(",")),
            FaultKind::IoError(d) => write!(f, "io-error ({} on {})", d.errno.as_deref().unwrap_or("EIO"), d.ops.join(",")),
            FaultKind::CpuStress { workers, load } => write!(f, "cpu-stress ({workers} × {load})"),
            FaultKind::CpuLimit { cores } => write!(f, "cpu-limit ({cores} cores)"),
            FaultKind::MemStress { size } => write!(f, "mem-stress ({size})"),
            other => f.write_str(other.name()),
        }
    }
}

/// How a partition splits the members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionMode {
    /// The targets on one side, everyone else on the other.
    Isolate,
    /// A random minority and majority.
    Halves,
    /// Each member hears only its two neighbours (Jepsen's majorities ring).
    Ring,
    /// Two halves that share one member.
    Bridge,
    /// The other members stop hearing the targets; the targets still hear them.
    OneWay,
}

impl PartitionMode {
    /// All modes, for help and suggestions.
    pub const ALL: [&'static str; 5] = ["isolate", "halves", "ring", "bridge", "one-way"];

    /// The mode's name as written in a scenario.
    pub fn name(self) -> &'static str {
        match self {
            PartitionMode::Isolate => "isolate",
            PartitionMode::Halves => "halves",
            PartitionMode::Ring => "ring",
            PartitionMode::Bridge => "bridge",
            PartitionMode::OneWay => "one-way",
        }
    }

    /// Whether the mode uses the fault's `target` (the others draw their own sides).
    pub fn uses_target(self) -> bool {
        matches!(self, PartitionMode::Isolate | PartitionMode::OneWay)
    }
}

/// Who a fault hits, resolved when the fault starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The leader at that moment.
    Leader,
    /// One follower, drawn from the seed.
    Follower,
    /// One member, drawn from the seed.
    Random,
    /// A named member, `n1`..`n7` (1-based).
    Member(u8),
    /// Fewer than half the members, drawn from the seed.
    Minority,
    /// More than half the members, drawn from the seed.
    Majority,
    /// Every member.
    All,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Leader => f.write_str("leader"),
            Target::Follower => f.write_str("follower"),
            Target::Random => f.write_str("random"),
            Target::Member(n) => write!(f, "n{n}"),
            Target::Minority => f.write_str("minority"),
            Target::Majority => f.write_str("majority"),
            Target::All => f.write_str("all"),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Target {
    /// Every target word, for help and suggestions.
    pub const WORDS: [&'static str; 7] = ["leader", "follower", "random", "minority", "majority", "all", "n1"];

    /// Parse a target for a cluster of `size` members.
    pub fn parse(s: &str, size: usize) -> Result<Self, String> {
        Ok(match s {
            "leader" => Target::Leader,
            "follower" => Target::Follower,
            "random" => Target::Random,
            "minority" => Target::Minority,
            "majority" => Target::Majority,
            "all" => Target::All,
            m if m.starts_with('n') && m[1..].parse::<u8>().is_ok() => {
                let n: u8 = m[1..].parse().unwrap_or(0);
                if n == 0 || n as usize > size {
                    return Err(format!("target `{m}` names no member: this cluster has n1..n{size}"));
                }
                Target::Member(n)
            }
            other => {
                return Err(format!(
                    "unknown target `{other}`{}: use leader, follower, random, minority, majority, all or n1..n{size}",
                    resolve::suggest(other, &Target::WORDS)
                ))
            }
        })
    }
}

/// The seeded random schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NemesisSpec {
    /// Fault kinds to draw from.
    pub kinds: Vec<NemesisKind>,
    /// A new fault every interval.
    pub interval: Span,
    /// Each healed after this long.
    #[serde(rename = "for")]
    pub for_: Span,
    /// First fault at this offset (default: one interval).
    pub start: Span,
    /// Targets to draw from.
    pub targets: Vec<Target>,
}

/// A fault kind the nemesis may draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NemesisKind {
    /// A partition of a random mode.
    Partition,
    /// SIGKILL and restart.
    Kill,
    /// SIGTERM and restart.
    Stop,
    /// SIGSTOP and SIGCONT.
    Pause,
}

/// The gates (`expect:`); `None` = not gated.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Expectations {
    /// The history must be linearizable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linearizable: Option<bool>,
    /// Members agree on revision, HashKV and key count after healing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// Longest window with no successful operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<Span>,
    /// Most leader changes allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_leader_changes: Option<u32>,
    /// p99 latency bound over all successful operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99: Option<Span>,
    /// Fewest successful operations for the run to mean anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ok_ops: Option<u64>,
    /// The watch check (ordered, no gaps, no duplicates, agrees with the history) must
    /// find this; `Some(true)` by default when `workload.watch` is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<bool>,
}

impl Scenario {
    /// The scenario as YAML, as written into the run directory.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_else(|e| format!("# could not serialise scenario: {e}\n"))
    }
}

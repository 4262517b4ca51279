//! Scenarios: the YAML a user writes (docs/formats.md §1), parsed with positions
//! ([`raw`]), checked and given its defaults ([`resolve`]) into a [`Scenario`] whose types
//! cannot hold a wrong state. Units live in [`units`].

pub mod raw;
mod resolve;
pub mod trigger;
pub mod watch;

pub use crate::cluster::spec::{AttachSelector, AttachSpec, BackendChoice, ClusterSpec, EtcdSpec};
pub use crate::fault::kinds::partition::PartitionMode;
pub use crate::fault::target::Target;
pub use crate::fault::FaultKind;
pub use crate::units;
pub use resolve::{load, parse};
use serde::Serialize;
use std::fmt;
use units::{Rate, Size, Span};

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
    /// Likely mistakes that do not stop the scenario from running, said by `validate` and
    /// before a run starts.
    #[serde(skip)]
    pub warnings: Vec<Warning>,
}

/// A likely mistake in a scenario that it can still run with (a heal past the end, faults
/// that overlap on a member): where it is and what happens.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// `file:line:column` (or `file` where there is no position).
    pub at: String,
    /// What is likely wrong and what faultline does about it.
    pub msg: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: {}", self.at, self.msg)
    }
}

/// The client load.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadSpec {
    /// The workload kind and its operation mix (`kind:` and `mix:`).
    #[serde(flatten)]
    pub load: Load,
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
    /// Read consistency.
    pub reads: ReadMode,
    /// The watch traffic: groups of watchers recording what their streams deliver
    /// (`watch.jsonl`); empty: none.
    #[serde(serialize_with = "watch::serialize")]
    pub watch: Vec<watch::WatchGroup>,
}

/// The workload kinds, each with its operation mix (normalised to sum to 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "mix", rename_all = "lowercase")]
pub enum Load {
    /// read / write / cas on independent keys, each a register (Jepsen's etcd register).
    Register(Mix),
    /// etcd's own API over a key space: gets, ranges, puts, deletes, transactions, leases and
    /// compactions, checked with the etcd model (docs/formats.md §2.1).
    Etcd(EtcdMix),
    /// What a Kubernetes API server sends: creates, optimistic updates and deletes on
    /// mod_revision, paginated lists at one revision — over a few resources (prefixes) of many
    /// objects each; recorded and checked as the etcd workload is.
    Kubernetes(KubernetesMix),
}

impl Load {
    /// The kind's name (`register`, `etcd`, `kubernetes`).
    pub fn name(&self) -> &'static str {
        match self {
            Load::Register(_) => "register",
            Load::Etcd(_) => "etcd",
            Load::Kubernetes(_) => "kubernetes",
        }
    }

    /// Whether its history is etcd's API (docs/formats.md §2.1), checked with the etcd model.
    pub fn is_etcd_api(&self) -> bool {
        !matches!(self, Load::Register(_))
    }
}

/// Operation mix of the `kubernetes` workload (fractions summing to 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KubernetesMix {
    /// Creates: a txn `mod_revision == 0` → put, else get.
    pub create: f64,
    /// Optimistic updates: a txn `mod_revision == seen` → put, else get.
    pub update: f64,
    /// Optimistic deletes: a txn `mod_revision == seen` → delete, else get.
    pub delete: f64,
    /// Paginated lists of a resource at one revision (each page one operation).
    pub list: f64,
    /// Compactions a few revisions behind the newest seen, as the API server's periodic
    /// compactor does (a list paging below it is refused and ends).
    pub compact: f64,
}

/// The kubernetes workload's resources, each a prefix of its own (what its objects and its
/// informers live under).
pub const KUBERNETES_RESOURCES: [&str; 3] = ["pods", "configmaps", "leases"];

/// A resource's prefix: `/registry/pods/`.
pub fn resource_prefix(resource: &str) -> String {
    format!("/registry/{resource}/")
}

impl KubernetesMix {
    /// The default mix.
    pub const DEFAULT: KubernetesMix = KubernetesMix { create: 0.2, update: 0.44, delete: 0.1, list: 0.25, compact: 0.01 };
    /// The operations' names, as `workload.mix` takes them.
    pub const NAMES: [&'static str; 5] = ["create", "update", "delete", "list", "compact"];
}

/// Operation mix of the `etcd` workload (fractions summing to 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EtcdMix {
    /// Gets of one key (some at a past revision, some below the compaction).
    pub get: f64,
    /// Ranges over the key space, with and without a limit.
    pub range: f64,
    /// Puts.
    pub put: f64,
    /// Deletes of one key or of a few.
    pub delete: f64,
    /// Transactions: compares on value, mod, create or version, then puts and deletes on
    /// several keys, else a read.
    pub txn: f64,
    /// Lease calls: a grant, a put with the lease, or a revoke.
    pub lease: f64,
    /// Compactions (a few revisions behind the latest seen).
    pub compact: f64,
}

impl EtcdMix {
    /// The default mix.
    pub const DEFAULT: EtcdMix = EtcdMix { get: 0.2, range: 0.15, put: 0.25, delete: 0.08, txn: 0.22, lease: 0.07, compact: 0.03 };
    /// The operations' names, as `workload.mix` takes them.
    pub const NAMES: [&'static str; 7] = ["get", "range", "put", "delete", "txn", "lease", "compact"];
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
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    /// Its `id:`, which triggers name (`when: "f1 started"`).
    pub id: Option<String>,
    /// Offset from workload start; with `when:`, when it starts waiting for its trigger.
    pub at: Span,
    /// Start when this happens (plus a delay), not at `at`.
    pub when: Option<trigger::When>,
    /// Heal (or restart) after this long (from when it started); `None` = until the end or
    /// `until`.
    pub for_: Option<Span>,
    /// Heal when this comes, not after `for`.
    pub until: Option<trigger::Until>,
    /// How long `when` and `until` may wait (from `at`, and from the fault's start) before
    /// the run says the condition never came; `None` = to the workload's end.
    pub within: Option<Span>,
    /// Repeat every this long.
    pub every: Option<Span>,
    /// Who it hits, resolved when it starts.
    pub target: Target,
    /// What it does (its kind and parameters).
    pub kind: FaultKind,
}

impl Serialize for FaultSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = serde_json::Map::new();
        if let Some(id) = &self.id {
            m.insert("id".into(), id.clone().into());
        }
        m.insert("at".into(), self.at.to_string().into());
        if let Some(w) = &self.when {
            m.insert("when".into(), w.to_string().into());
        }
        if let Some(f) = self.for_ {
            m.insert("for".into(), f.to_string().into());
        }
        if let Some(u) = &self.until {
            m.insert("until".into(), u.to_string().into());
        }
        if let Some(w) = self.within {
            m.insert("within".into(), w.to_string().into());
        }
        if let Some(e) = self.every {
            m.insert("every".into(), e.to_string().into());
        }
        m.insert("target".into(), self.target.to_string().into());
        m.extend(self.kind.to_map());
        m.serialize(s)
    }
}

/// An etcd operation at a time (`ops:`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpSpec {
    /// Its `id:`, which triggers name (`when: "d1 started + 20ms"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Offset from workload start.
    pub at: Span,
    /// What it does.
    #[serde(flatten)]
    pub op: EtcdOp,
    /// Its right outcome: done (the default), or refused by etcd.
    #[serde(skip_serializing_if = "OpExpect::is_done")]
    pub expect: OpExpect,
}

/// An op's right outcome (`expect:` on an op).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpExpect {
    /// It is carried out and verified; its failure makes the run invalid.
    #[default]
    Done,
    /// etcd refuses it (a member will not start on a version): a gate, `op_refused`, passes
    /// when it does and fails when etcd carries it out.
    Refused,
    /// A fault triggered by it is meant to cut it short (`kill` `when: "d1 started +
    /// 20ms"` during a defrag): its failure is the point; an op that finished first means
    /// the fault came too late, and the run is invalid.
    Interrupted,
}

impl OpExpect {
    /// The default.
    pub fn is_done(&self) -> bool {
        *self == OpExpect::Done
    }

    /// As a scenario writes it.
    pub fn name(&self) -> &'static str {
        match self {
            OpExpect::Done => "done",
            OpExpect::Refused => "refused",
            OpExpect::Interrupted => "interrupted",
        }
    }
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
    /// A version of faultline's store (either backend): the upgrade path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
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
        self.args().is_empty() && self.program().is_none()
    }

    /// What the members run after it, when it changes that (the resolver lets one of
    /// version, binary and image through).
    pub fn program(&self) -> Option<crate::cluster::Program> {
        use crate::cluster::Program;
        (self.version.clone().map(Program::Version))
            .or_else(|| self.binary.as_ref().map(|b| Program::Binary(b.into())))
            .or_else(|| self.image.clone().map(Program::Image))
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

/// What the nemesis may draw: a kind named alone (it draws its own parameters, e.g. a
/// partition's mode) or a fault with its parameters given.
#[derive(Clone)]
pub enum NemesisKind {
    /// `kinds: [partition]`: the kind's own draw.
    Draw(&'static str, crate::fault::api::DrawFn),
    /// `kinds: [{kind: latency, delay: 100ms}]`: this fault.
    Given(FaultKind),
}

impl NemesisKind {
    /// The kind's name.
    pub fn name(&self) -> &'static str {
        match self {
            NemesisKind::Draw(name, _) => name,
            NemesisKind::Given(f) => f.name(),
        }
    }
}

impl PartialEq for NemesisKind {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (NemesisKind::Draw(a, _), NemesisKind::Draw(b, _)) => a == b,
            (NemesisKind::Given(a), NemesisKind::Given(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for NemesisKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NemesisKind::Draw(name, _) => write!(f, "Draw({name})"),
            NemesisKind::Given(k) => write!(f, "Given({k:?})"),
        }
    }
}

impl Serialize for NemesisKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NemesisKind::Draw(name, _) => s.serialize_str(name),
            NemesisKind::Given(f) => f.serialize(s),
        }
    }
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
    /// Every fault the scenario may inject: the fixed ones and those the nemesis may draw
    /// (a kind named alone, with what it draws on this cluster; the partition modes alike
    /// for what a fault needs of the machine and the disk layer).
    pub fn fault_kinds(&self) -> Vec<FaultKind> {
        let mut out: Vec<FaultKind> = self.faults.iter().map(|f| f.kind.clone()).collect();
        if let Some(n) = &self.nemesis {
            for k in &n.kinds {
                match k {
                    NemesisKind::Given(f) => out.push(f.clone()),
                    NemesisKind::Draw(_, draw) => {
                        use rand::SeedableRng;
                        out.push(draw(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), self.cluster.size));
                    }
                }
            }
        }
        out
    }

    /// The scenario as YAML, as written into the run directory.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_else(|e| format!("# could not serialise scenario: {e}\n"))
    }
}

/// The scenarios shipped in the repository (`scenarios/*.yaml` and `scenarios/bugs/*.yaml`),
/// for the tests that hold every one of them to a rule.
#[cfg(test)]
pub fn shipped() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut out: Vec<std::path::PathBuf> = [root.clone(), root.join("bugs")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap_or_else(|e| panic!("{}: {e}", d.display())))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod shipped_tests {
    #[test]
    fn every_bug_scenario_says_its_issue_versions_trigger_and_what_shows_it() {
        let bugs: Vec<_> = super::shipped().into_iter().filter(|p| p.parent().is_some_and(|d| d.ends_with("bugs"))).collect();
        assert!(bugs.len() >= 10, "only {} bug scenarios", bugs.len());
        for p in bugs {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            let issue = name.strip_prefix("etcd-").and_then(|r| r.split('-').next()).unwrap_or_else(|| panic!("{name}: name it etcd-<issue>-<what>"));
            for needed in [format!("etcd-io/etcd#{issue}"), "Affected:".into(), "Trigger:".into(), "What faultline shows".into(), "# make bugs: ".into(), "# make bugs expects: ".into(), "# make bugs tried: ".into()] {
                assert!(text.contains(&needed), "{}: its header lacks `{needed}`", p.display());
            }
            let s = super::load(&p).unwrap();
            assert_eq!(s.name, name, "{}: the name is the file's", p.display());
        }
    }
}


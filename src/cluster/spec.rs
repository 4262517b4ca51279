//! What a scenario asks of the cluster: the backend, the size, the etcd settings every
//! member gets, and (attach mode) which running containers form the cluster. The scenario
//! parser fills these in; the backends read them.

use crate::units::{Size, Span};
use serde::Serialize;
use std::fmt;

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
            other => Err(format!("unknown backend `{other}`{}: use auto, process or docker", crate::error::suggest(other, &["auto", "process", "docker"]))),
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
#[derive(Debug, Clone)]
pub struct EtcdSpec {
    /// An etcd version of the machine's store (`3.5.1`, see [`super::versions`]): its binary
    /// (process backend) and the image `faultline/etcd:<version>` built from it (Docker).
    pub version: Option<String>,
    /// One version of the store per member, in member order (`versions:`): a mixed cluster.
    /// Empty when every member runs the same; when given, `version` is the newest of them
    /// (what a member added at run time runs).
    pub versions: Vec<String>,
    /// Process backend: a path, or a name looked up on PATH.
    pub binary: String,
    /// Docker backend image.
    pub image: String,
    /// Docker backend: the command that starts etcd in the image.
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
    pub extra_args: Vec<String>,
    /// etcd's own corruption checks.
    pub corrupt_checks: CorruptChecks,
}

/// etcd's own corruption checks (`cluster.etcd.initial_corrupt_check`, `corrupt_check_time`,
/// `compact_hash_check`), off unless a scenario turns them on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorruptChecks {
    /// `--experimental-initial-corrupt-check`: a member compares its HashKV with its peers'
    /// before it serves, and exits on a mismatch.
    pub initial: bool,
    /// `--experimental-corrupt-check-time`: the leader compares every member's HashKV this
    /// often and raises a `CORRUPT` alarm on a mismatch.
    pub period: Option<Span>,
    /// `--experimental-compact-hash-check-enabled` (etcd 3.5.5 and later): the leader compares
    /// the hashes members record at each compaction.
    pub compact_hash: bool,
}

impl CorruptChecks {
    /// The flags, each with the scenario key that asks for it.
    pub fn flags(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.initial {
            out.push(("initial_corrupt_check", "--experimental-initial-corrupt-check=true".to_string()));
        }
        if let Some(p) = self.period {
            out.push(("corrupt_check_time", format!("--experimental-corrupt-check-time={}ms", p.0.as_millis())));
        }
        if self.compact_hash {
            out.push(("compact_hash_check", "--experimental-compact-hash-check-enabled=true".to_string()));
        }
        out
    }

    /// Whether any is on.
    pub fn any(&self) -> bool {
        !self.flags().is_empty()
    }
}

/// As a scenario writes it: with a `version`, no `binary` or `image` (they follow from it,
/// and a scenario may not give both).
impl Serialize for EtcdSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        match &self.version {
            Some(_) if !self.versions.is_empty() => m.serialize_entry("versions", &self.versions)?,
            Some(v) => m.serialize_entry("version", v)?,
            None => {
                m.serialize_entry("binary", &self.binary)?;
                m.serialize_entry("image", &self.image)?;
            }
        }
        if let Some(c) = &self.command {
            m.serialize_entry("command", c)?;
        }
        m.serialize_entry("heartbeat_interval", &self.heartbeat_interval)?;
        m.serialize_entry("election_timeout", &self.election_timeout)?;
        m.serialize_entry("snapshot_count", &self.snapshot_count)?;
        m.serialize_entry("quota_backend_bytes", &self.quota_backend_bytes)?;
        if !self.extra_args.is_empty() {
            m.serialize_entry("extra_args", &self.extra_args)?;
        }
        let c = &self.corrupt_checks;
        if c.initial {
            m.serialize_entry("initial_corrupt_check", &true)?;
        }
        if let Some(p) = &c.period {
            m.serialize_entry("corrupt_check_time", p)?;
        }
        if c.compact_hash {
            m.serialize_entry("compact_hash_check", &true)?;
        }
        m.end()
    }
}

impl EtcdSpec {
    /// What the members run, in words: `etcd 3.5.1`, `etcd 3.4.23 (n1), 3.5.1 (n2, n3)`, or
    /// the binary as given (`etcd `etcd``).
    pub fn describe(&self) -> String {
        if !self.versions.is_empty() {
            let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
            for (i, v) in self.versions.iter().enumerate() {
                match groups.iter_mut().find(|(g, _)| g == v) {
                    Some((_, m)) => m.push(format!("n{}", i + 1)),
                    None => groups.push((v, vec![format!("n{}", i + 1)])),
                }
            }
            let parts: Vec<String> = groups.iter().map(|(v, m)| format!("{v} ({})", m.join(", "))).collect();
            return format!("etcd {}", parts.join(", "));
        }
        match &self.version {
            Some(v) => format!("etcd {v}"),
            None => format!("etcd `{}`", self.binary),
        }
    }

    /// The store's version member `index` (0-based) runs, when a version picks what it runs.
    pub fn version_of(&self, index: usize) -> Option<&str> {
        self.versions.get(index).or(self.version.as_ref()).map(String::as_str)
    }

    /// The etcd binary member `index` runs (and its image is built from): see
    /// [`EtcdSpec::binary_path`].
    pub fn binary_of(&self, index: usize) -> Result<std::path::PathBuf, crate::error::Error> {
        match self.versions.get(index) {
            Some(v) => super::versions::binary(v),
            None => self.binary_path(),
        }
    }

    /// The image member `index` runs (Docker backend).
    pub fn image_of(&self, index: usize) -> String {
        match self.versions.get(index) {
            Some(v) => super::image::default_tag(v),
            None => self.image.clone(),
        }
    }

    /// The etcd binary the members run (and the Docker image is built from): the store's of
    /// `version`, else `binary` as a path or on PATH — or why there is none (exit 3).
    pub fn binary_path(&self) -> Result<std::path::PathBuf, crate::error::Error> {
        if let Some(v) = &self.version {
            return super::versions::binary(v);
        }
        crate::host::sys::which(&self.binary).ok_or_else(|| {
            crate::error::Error::Environment(format!(
                "the etcd binary `{}` was not found{}. Install it with `apt-get install etcd-server`, or set `cluster.etcd.binary` in the scenario to the path of an etcd binary (or `cluster.etcd.version` to one `faultline doctor` lists).",
                self.binary,
                if self.binary.contains('/') { "" } else { " on PATH" }
            ))
        })
    }
}

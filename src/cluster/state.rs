//! The run label: a small state file per run under `/run/faultline/`, naming the harness
//! pid and what the run created, so `faultline clean` can tell a crashed run (owner gone)
//! from a live one, and a run can pick a subnet no other live run uses.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where run state files live.
pub const STATE_DIR: &str = "/run/faultline";

/// What a run records about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunState {
    /// The run id (`faultline-<id>-...` names).
    pub run_id: String,
    /// The harness process that owns the run.
    pub harness_pid: u32,
    /// The run directory.
    pub run_dir: PathBuf,
    /// Third octet of the run's 10.77.X.0/24 subnet.
    pub subnet: u8,
    /// `process` or `docker`.
    pub backend: String,
    /// Attach mode: the ids of the containers the run attached to (never removed; `clean`
    /// heals them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached: Vec<String>,
}

impl RunState {
    /// Record a run owned by this faultline process: write its state file (the label
    /// `faultline clean` reads), or say why it could not be written.
    pub fn record(run_id: &str, run_dir: &Path, subnet: u8, backend: &str, attached: Vec<String>) -> Result<(), crate::error::Error> {
        RunState { run_id: run_id.into(), harness_pid: std::process::id(), run_dir: run_dir.to_path_buf(), subnet, backend: backend.into(), attached }
            .save()
            .map_err(|e| crate::error::Error::Harness(format!("failed to write the run state in {STATE_DIR}: {e}")))
    }

    /// The state file's path.
    pub fn path(run_id: &str) -> PathBuf {
        Path::new(STATE_DIR).join(format!("{run_id}.json"))
    }

    /// Write the state file.
    pub fn save(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(STATE_DIR)?;
        std::fs::write(Self::path(&self.run_id), serde_json::to_vec_pretty(self).unwrap_or_default())
    }

    /// Remove the state file.
    pub fn remove(run_id: &str) -> bool {
        std::fs::remove_file(Self::path(run_id)).is_ok()
    }

    /// Every state file that parses.
    pub fn all() -> Vec<RunState> {
        std::fs::read_dir(STATE_DIR)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect()
    }

    /// Whether the owning harness is still alive.
    pub fn owner_alive(&self) -> bool {
        owner_alive(self.harness_pid)
    }
}

/// Whether `pid` is a live faultline process (not a recycled pid of something else).
pub fn owner_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).map(|c| String::from_utf8_lossy(&c).contains("faultline") || pid == std::process::id()).unwrap_or(false)
        && crate::host::sys::proc_state(pid).is_some_and(|s| s != 'Z')
}

/// A new run id: 6 hex digits.
pub fn new_run_id() -> String {
    format!("{:06x}", rand::random::<u32>() & 0xff_ffff)
}

/// A subnet octet no live run uses, starting from one derived from the run id.
pub fn pick_subnet(run_id: &str) -> u8 {
    let used: Vec<u8> = RunState::all().iter().filter(|s| s.owner_alive()).map(|s| s.subnet).collect();
    let start = u32::from_str_radix(run_id, 16).unwrap_or(0) % 250;
    (0..250u32).map(|i| ((start + i) % 250 + 1) as u8).find(|o| !used.contains(o)).unwrap_or(1)
}

//! A cgroup of the run's own for each member (cgroup v1 here: cpu, cpuacct, memory,
//! freezer, blkio; a single directory on a v2 host), named `faultline/<run>-<member>`, so
//! that CPU and memory faults and the report can reach exactly that member.

use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";
const V1_CONTROLLERS: [&str; 5] = ["cpu", "cpuacct", "memory", "freezer", "blkio"];

/// A member's cgroup: one directory per v1 controller, or one v2 directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// The directories, one per controller.
    pub dirs: Vec<PathBuf>,
}

/// Whether the host uses the unified (v2) hierarchy.
pub fn is_v2() -> bool {
    Path::new(ROOT).join("cgroup.controllers").exists()
}

impl Cgroup {
    /// Create `faultline/<leaf>` under every controller faultline uses. Controllers that are
    /// not mounted are skipped; an empty result means no cgroup could be made.
    pub fn create(leaf: &str) -> Cgroup {
        let mut dirs = Vec::new();
        if is_v2() {
            let d = Path::new(ROOT).join("faultline").join(leaf);
            if std::fs::create_dir_all(&d).is_ok() {
                dirs.push(d);
            }
        } else {
            for c in V1_CONTROLLERS {
                let base = Path::new(ROOT).join(c);
                if !base.join("cgroup.procs").exists() {
                    continue;
                }
                let d = base.join("faultline").join(leaf);
                if std::fs::create_dir_all(&d).is_ok() {
                    dirs.push(d);
                }
            }
        }
        Cgroup { dirs }
    }

    /// Put a process into every directory of the cgroup.
    pub fn add(&self, pid: u32) -> std::io::Result<()> {
        for d in &self.dirs {
            std::fs::write(d.join("cgroup.procs"), pid.to_string())?;
        }
        Ok(())
    }

    /// The cgroup's directory for one v1 controller (or the v2 directory).
    pub fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs.iter().find(|d| is_v2() || d.components().any(|c| c.as_os_str() == controller)).map(|d| d.as_path())
    }

    /// Remove the directories (they must hold no process).
    pub fn remove(&self) -> Vec<String> {
        let mut removed = Vec::new();
        for d in &self.dirs {
            if std::fs::remove_dir(d).is_ok() {
                removed.push(d.display().to_string());
            }
            // The shared `faultline` parent goes when no other run uses it.
            if let Some(parent) = d.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
        removed
    }
}

/// Every faultline cgroup directory whose leaf starts with `prefix` (for `faultline clean`).
pub fn list(prefix: &str) -> Vec<PathBuf> {
    let bases: Vec<PathBuf> =
        if is_v2() { vec![Path::new(ROOT).join("faultline")] } else { V1_CONTROLLERS.iter().map(|c| Path::new(ROOT).join(c).join("faultline")).collect() };
    bases
        .into_iter()
        .flat_map(|b| std::fs::read_dir(b).into_iter().flatten().filter_map(|e| e.ok()).map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix)))
        .collect()
}

/// The pids in a cgroup directory.
pub fn pids(dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(dir.join("cgroup.procs")).map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect()).unwrap_or_default()
}

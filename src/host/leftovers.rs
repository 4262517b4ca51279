//! What runs left behind on this machine, found by their label — network namespaces named
//! `faultline-<run>-*`, processes carrying `FAULTLINE_RUN=<run>` in their environment,
//! cgroups `faultline/<run>-*`, disk-fault layers (FUSE mounts labelled `faultline-<run>-*`),
//! state files `/run/faultline/<run>.json`, Docker containers and networks labelled
//! `faultline.run=<run>` — and removed, sparing runs whose faultline process is still alive
//! (unless forced). `faultline clean` prints what was done; with [`Mode::DryRun`] nothing is
//! touched and the same lines say what would be.

use crate::cluster::cgroup;
use crate::cluster::netns;
use crate::cluster::state::{self, RunState};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::time::Duration;

/// Whether [`clean`] removes what it finds or only lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Remove (and heal attached containers).
    Remove,
    /// Touch nothing: `removed` lists what would be removed or healed.
    DryRun,
}

/// What `clean` did (or, in a dry run, would do).
#[derive(Debug, Default)]
pub struct Cleaned {
    /// Things removed (in a dry run: that would be removed), in words.
    pub removed: Vec<String>,
    /// Runs left alone because their owner is alive.
    pub skipped: Vec<String>,
    /// Things that could not be removed.
    pub failed: Vec<String>,
    /// Every run id found left behind (before `--run` chose one), sorted.
    pub runs: Vec<String>,
}

impl Cleaned {
    /// Whether run `id` left anything on this machine: something of it was found (removed,
    /// to be removed, left alone or failed).
    pub fn found(&self, id: &str) -> bool {
        self.runs.iter().any(|r| r == id)
    }
}

/// Processes labelled with a run id: (pid, run id).
fn labelled_processes() -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        for var in env.split(|b| *b == 0) {
            if let Some(v) = var.strip_prefix(b"FAULTLINE_RUN=") {
                out.push((pid, String::from_utf8_lossy(v).into_owned()));
            }
        }
    }
    out
}

fn run_of_netns(name: &str) -> Option<String> {
    name.strip_prefix("faultline-")?.split('-').next().map(str::to_string)
}

/// Remove leftovers of dead runs (or of `only`), `force` to include live ones; in
/// [`Mode::DryRun`] only say what would go.
pub fn clean(only: Option<&str>, force: bool, mode: Mode) -> Cleaned {
    let dry = mode == Mode::DryRun;
    let mut c = Cleaned::default();
    let states = RunState::all();
    let mut runs: BTreeSet<String> = BTreeSet::new();
    let nss = netns::list("faultline-");
    runs.extend(nss.iter().filter_map(|n| run_of_netns(n)));
    let procs = labelled_processes();
    runs.extend(procs.iter().map(|(_, r)| r.clone()));
    runs.extend(states.iter().map(|s| s.run_id.clone()));
    runs.extend(cgroup::list("").iter().filter_map(|p| p.file_name()?.to_str()?.split('-').next().map(str::to_string)));
    // Containers and networks labelled faultline.run, through the engine (none to clean
    // when no engine answers).
    let keep = |rid: &str| {
        only.is_some_and(|o| o != rid) || (!force && states.iter().any(|s| s.run_id == rid && s.owner_alive() && s.harness_pid != std::process::id()))
    };
    if let Ok((removed, failed, labelled)) = crate::cluster::docker::clean_labelled(None, &keep, dry) {
        c.removed.extend(removed);
        c.failed.extend(failed);
        runs.extend(labelled);
    }
    c.runs = runs.iter().cloned().collect();

    for run in runs {
        if only.is_some_and(|o| o != run) {
            continue;
        }
        let st = states.iter().find(|s| s.run_id == run);
        if let Some(st) = st {
            if !force && st.owner_alive() && st.harness_pid != std::process::id() {
                c.skipped.push(format!("run {run} (faultline pid {} is still running; --force to remove it anyway)", st.harness_pid));
                continue;
            }
        }
        // An attached cluster is someone else's: heal its containers, never remove them.
        if let Some(st) = st.filter(|s| !s.attached.is_empty()) {
            if dry {
                c.removed.push(format!("the attached containers of run {run} would be healed: {}", st.attached.join(", ")));
            } else {
                match crate::cluster::docker::clean_attached(&run, &st.attached, crate::fault::net::remove_leftovers) {
                    Ok((did, failed)) => {
                        c.removed.extend(did);
                        c.failed.extend(failed);
                    }
                    Err(e) => c.failed.push(format!("attached containers of run {run}: {e}")),
                }
            }
        }
        // Processes first (they hold namespaces and cgroups).
        let mine: Vec<u32> = procs.iter().filter(|(_, r)| *r == run).map(|(p, _)| *p).collect();
        let mut cg_pids: Vec<u32> = cgroup::list(&format!("{run}-")).iter().flat_map(|d| cgroup::pids(d)).collect();
        cg_pids.retain(|p| !mine.contains(p));
        for pid in mine.iter().chain(cg_pids.iter()) {
            // Gone already (a container the engine removed above).
            if *pid == std::process::id() || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            if dry {
                c.removed.push(format!("process {pid} of run {run}"));
                continue;
            }
            // A stopped process must be continued to die promptly in some kernels' views.
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGCONT);
            c.removed.push(format!("process {pid} of run {run}"));
        }
        if !dry && (!mine.is_empty() || !cg_pids.is_empty()) {
            std::thread::sleep(Duration::from_millis(200));
        }
        // Disk layers over data directories (lazily: a process may still hold files there).
        for point in crate::fault::disk::list_mounts(&format!("faultline-{run}-")) {
            if dry {
                c.removed.push(format!("disk layer mounted over {}", point.display()));
                continue;
            }
            match crate::fault::disk::force_unmount(&point) {
                Ok(()) => c.removed.push(format!("disk layer mounted over {}", point.display())),
                Err(e) => c.failed.push(format!("disk layer over {}: {e}", point.display())),
            }
        }
        for dir in cgroup::list(&format!("{run}-")) {
            if dry {
                c.removed.push(format!("cgroup {}", dir.display()));
                continue;
            }
            match std::fs::remove_dir(&dir) {
                Ok(()) => c.removed.push(format!("cgroup {}", dir.display())),
                Err(e) => c.failed.push(format!("cgroup {}: {e}", dir.display())),
            }
        }
        for ns in nss.iter().filter(|n| run_of_netns(n).as_deref() == Some(run.as_str())) {
            if dry {
                c.removed.push(format!("network namespace {ns} (with its links and rules)"));
                continue;
            }
            match netns::delete(ns) {
                Ok(()) => c.removed.push(format!("network namespace {ns} (with its links and rules)")),
                Err(e) => c.failed.push(format!("network namespace {ns}: {e}")),
            }
        }
        if dry {
            if st.is_some() {
                c.removed.push(format!("run state {}", RunState::path(&run).display()));
            }
        } else if RunState::remove(&run) {
            c.removed.push(format!("run state {}", RunState::path(&run).display()));
        }
    }
    if !dry {
        remove_empty_parents();
    }
    c
}

/// Remove the shared `faultline` cgroup parents and the state directory once empty.
fn remove_empty_parents() {
    for base in ["cpu", "cpuacct", "memory", "freezer", "blkio", ""] {
        let _ = std::fs::remove_dir(std::path::Path::new("/sys/fs/cgroup").join(base).join("faultline"));
    }
    let _ = std::fs::remove_dir(state::STATE_DIR);
}

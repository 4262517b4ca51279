//! No record lost silently: a run whose run directory fills up (a 64 KiB tmpfs the test
//! mounts itself) is invalid (exit 5), says which file it could not write and why, and still
//! tears its cluster down.

use crate::util::require_root;
use faultline::cluster::netns;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs mounted on a directory for the length of a test; unmounted when dropped, also
/// when the test fails.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).output().expect("run mount");
        assert!(o.status.success(), "mount a tmpfs on {}: {}", dir.display(), String::from_utf8_lossy(&o.stderr));
        Tmpfs { dir: dir.to_path_buf() }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let o = Command::new("umount").arg(&self.dir).output();
        if !matches!(&o, Ok(o) if o.status.success()) {
            // Still busy (a process of a failed run): detach it now, it goes when released.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

#[test]
fn a_full_run_directory_makes_the_run_invalid_with_the_file_and_the_os_error() {
    require_root();
    let roomy = tempfile::tempdir().unwrap();
    let scen = roomy.path().join("s.yaml");
    std::fs::write(&scen, "name: it-full-disk\nseed: 5\ncluster: {size: 1}\nworkload: {clients: 4, duration: 4s}\nexpect: {linearizable: true}\n").unwrap();
    let run = roomy.path().join("run");
    let _tmpfs = Tmpfs::mount(&run, "64k");
    // etcd's data (its WAL alone is 64 MB) and logs live elsewhere: only the run's own
    // records are on the tiny filesystem.
    for d in ["data", "logs"] {
        std::fs::create_dir(roomy.path().join(d)).unwrap();
        std::os::unix::fs::symlink(roomy.path().join(d), run.join(d)).unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", scen.to_str().unwrap(), "--out", run.to_str().unwrap(), "--quiet", "--backend", "process"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The run's id, to look for what it might leave behind.
    let deadline = Instant::now() + Duration::from_secs(40);
    let run_id = loop {
        if let Some(s) = faultline::cluster::state::RunState::all().into_iter().find(|s| s.harness_pid == child.id()) {
            break Some(s.run_id);
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let run_id = run_id.unwrap_or_else(|| panic!("the run never built its cluster; stderr: {err}"));

    assert_eq!(o.status.code(), Some(5), "stderr: {err}");
    // The reason, in stderr (summary.json could not be written either on a full disk) or in
    // summary.json when it could.
    let summary = std::fs::read_to_string(run.join("summary.json")).unwrap_or_default();
    let said = format!("{err}\n{summary}");
    let enospc = std::io::Error::from_raw_os_error(libc::ENOSPC).to_string();
    assert!(said.contains(&format!("could not write history.jsonl: {enospc}")), "no reason naming history.jsonl and {enospc:?} in:\n{said}");
    assert!(!said.contains("\"linearizable\": true"), "a verdict on half a history: {said}");
    if summary.is_empty() {
        assert!(err.contains("could not write") && err.contains("summary.json") && err.contains("The run is invalid (exit 5)"), "stderr: {err}");
    }
    // Nothing of the run is left: members, namespaces.
    assert!(netns::list(&format!("faultline-{run_id}")).is_empty(), "namespaces left: {:?}", netns::list(&format!("faultline-{run_id}")));
    let etcds = Command::new("pgrep").args(["-f", &format!("faultline-{run_id}")]).output().unwrap();
    assert!(etcds.stdout.is_empty(), "etcd processes of the run left: {}", String::from_utf8_lossy(&etcds.stdout));
}

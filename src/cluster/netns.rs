//! Network namespaces: the run's own, named `faultline-<run>-<role>`, created and joined
//! with veth pairs without ever adding anything to the host's namespace; and entering a
//! namespace from a thread (for probes and for the client runtime).

use crate::error::Error;
use crate::host::sys;
use nix::sched::{setns, CloneFlags};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Where `ip netns` keeps named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// Path of a named namespace.
pub fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Create a named namespace with its loopback up.
pub fn create(name: &str) -> Result<(), Error> {
    sys::run("ip", &["netns", "add", name])?;
    sys::run("ip", &["-n", name, "link", "set", "lo", "up"])?;
    Ok(())
}

/// Delete a named namespace (its links and rules go with it).
pub fn delete(name: &str) -> Result<(), Error> {
    sys::run("ip", &["netns", "del", name]).map(|_| ())
}

/// Names of every namespace whose name starts with `prefix`.
pub fn list(prefix: &str) -> Vec<String> {
    std::fs::read_dir(NETNS_DIR)
        .map(|rd| rd.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).filter(|n| n.starts_with(prefix)).collect())
        .unwrap_or_default()
}

/// Move the calling thread into the network namespace at `ns` (a path such as
/// `/run/netns/NAME` or `/proc/PID/ns/net`). Sockets the thread opens afterwards live there.
pub fn enter(ns: &Path) -> Result<(), Error> {
    let f = File::open(ns).map_err(|e| Error::Harness(format!("failed to open network namespace {}: {e}", ns.display())))?;
    setns(&f, CloneFlags::CLONE_NEWNET).map_err(|e| Error::Harness(format!("failed to enter network namespace {}: {e}", ns.display())))
}

/// Run `f` on a fresh thread inside the namespace at `ns`, and return its result.
pub fn in_ns<T: Send + 'static>(ns: &Path, f: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    let ns = ns.to_path_buf();
    std::thread::spawn(move || -> Result<T, Error> {
        enter(&ns)?;
        Ok(f())
    })
    .join()
    .map_err(|_| Error::Harness("a thread inside a network namespace panicked".into()))?
}

/// Run a command inside the namespace at `ns` (via `nsenter`, which works for named
/// namespaces and for a container's `/proc/PID/ns/net` alike).
pub fn exec(ns: &Path, program: &str, args: &[&str]) -> Result<String, Error> {
    let net = format!("--net={}", ns.display());
    let mut all = vec![net.as_str(), "--", program];
    all.extend_from_slice(args);
    sys::run("nsenter", &all)
}

/// A multi-threaded tokio runtime every thread of which has entered the namespace at `ns`:
/// the workload and observer run on it, so their sockets open inside the run's client
/// namespace and nothing is added to the host's.
pub fn runtime_in(ns: &Path, threads: usize) -> Result<tokio::runtime::Runtime, Error> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let failed = Arc::new(AtomicBool::new(false));
    let f2 = failed.clone();
    let ns_owned = ns.to_path_buf();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("faultline-client")
        .enable_all()
        .on_thread_start(move || {
            if enter(&ns_owned).is_err() {
                f2.store(true, Ordering::SeqCst);
            }
        })
        .build()
        .map_err(|e| Error::Harness(format!("failed to build the client runtime: {e}")))?;
    // Prove a worker is in the namespace: compare its netns inode with the target's.
    let want = std::fs::metadata(ns).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).ok();
    let got = rt.block_on(async {
        tokio::spawn(async { std::fs::metadata("/proc/thread-self/ns/net").map(|m| std::os::unix::fs::MetadataExt::ino(&m)).ok() }).await.ok().flatten()
    });
    if failed.load(Ordering::SeqCst) || want.is_none() || want != got {
        return Err(Error::Harness(format!("the client runtime could not enter network namespace {}", ns.display())));
    }
    Ok(rt)
}

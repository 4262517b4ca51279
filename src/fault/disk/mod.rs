//! Disk faults through a FUSE layer mounted over a member's data directory (issue 6):
//! io-latency, io-error, lose-unsynced and fsync-lie.
//!
//! **How it is built.** [`DiskLayer::mount`] opens the data directory (`O_PATH`) *before*
//! mounting a FUSE file system over it, then serves every request with `openat`, `fstatat`,
//! `renameat2`, `unlinkat`, ... relative to that descriptor — the directory the member sees is
//! the mount, and the data stays in the real directory underneath ("overlay on itself", as
//! libfuse's `passthrough_ll`). The FUSE side is the pure-Rust [`fuser`] crate without libfuse:
//! `/dev/fuse` is opened and mounted with `mount(2)` directly (root only), with
//! `default_permissions,allow_other`, source = the layer's label and type `fuse.faultline`,
//! so [`list_mounts`] finds it in `/proc/self/mountinfo`. Requests are served by four threads
//! (each on its own cloned `/dev/fuse` descriptor); a delayed request waits on a thread of its
//! own, so a delay never holds up another request.
//!
//! The kernel's page cache stays on (no direct I/O): bbolt's read-only `mmap` of `member/snap/db`
//! works, and reads the kernel already holds never reach the layer. There is no writeback
//! cache, so every `write(2)` reaches the layer. `flock` and `fcntl` locks are kept by the
//! kernel on the mount itself (the layer does not take the lock capabilities), which is where
//! every user of the directory takes them.
//!
//! **Faults.** [`DiskLayer::set_rules`] installs [`DiskRule`]s: on the listed [`IoOp`]s, under an
//! optional path glob, at a percentage drawn from a seeded ChaCha8 stream per rule, delay the
//! request ([`DiskAction::Delay`]) or fail it with an errno ([`DiskAction::Fail`]; the operation
//! is then not carried out). [`DiskLayer::set_mode`] picks the [`DurabilityMode`]: `Durable`
//! writes through and forwards fsync; `LoseUnsynced` keeps writes in the layer's own memory
//! until the file is fsync'd (reads see them), so [`DiskLayer::drop_unsynced`] can throw away
//! what a power loss would; `FsyncLie` also keeps them but answers fsync without writing
//! anything, so even "synced" data is lost on a drop.
//!
//! **Differences from LazyFS.** Metadata operations (create, mkdir, rename, unlink, truncate,
//! fallocate, chmod) are carried out at once on the real directory, so they survive a drop even
//! without an fsync of the directory; LazyFS can lose them too. The cache is bounded
//! ([`DEFAULT_CACHE_LIMIT`]): past it everything cached is written out and the event is
//! counted as a forced flush ([`LayerStats`]). Files opened with `O_SYNC`/`O_DSYNC` write
//! through in every mode. See `docs/faults.md`, "Disk faults".

mod cache;
mod crash;
mod fs;
pub mod layers;
mod mistake;
mod mount;
mod power;
mod rules;
mod sys;

pub use crash::{parse_crash_call, CrashPoint, CrashStatus, Fired, Timing, CRASH_CALLS};
pub use layers::Layers;
pub use mistake::{Mistake, MistakeCounters, MistakeMode};
pub use power::{Cut, LossReport, PowerLoss, Torn, SECTOR};

use crate::error::suggest;
use crate::error::Error;
use fs::{Fs, Shared};
use fuser::{BackgroundSession, Config, INodeNo, Notifier, Session, SessionACL};
use std::fmt;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes of unsynced writes the layer holds before it writes everything out (a forced flush).
pub const DEFAULT_CACHE_LIMIT: u64 = 256 << 20;

/// Threads serving requests.
const THREADS: usize = 4;

/// An operation a rule can watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoOp {
    /// Reads that reach the layer (the kernel serves cached pages itself).
    Read,
    /// Writes.
    Write,
    /// `fsync` and `fdatasync` of files.
    Fsync,
    /// Opening a file or directory.
    Open,
    /// Creating a file (also `mknod`, `symlink`, `link`).
    Create,
    /// `close` (FUSE flush).
    Flush,
    /// Renames.
    Rename,
    /// Removing a file or directory (`unlink`, `rmdir`).
    Unlink,
    /// Creating a directory.
    Mkdir,
    /// Listing a directory.
    Readdir,
    /// `stat` (when the kernel's attribute cache has expired).
    Getattr,
    /// `chmod`, `chown`, `truncate`, `utimes`.
    Setattr,
    /// Preallocation and hole punching.
    Fallocate,
    /// `fsync` of a directory.
    Fsyncdir,
    /// `statfs`.
    Statfs,
}

impl IoOp {
    /// Every operation, in the order of the docs.
    pub const ALL: [IoOp; 15] = [
        IoOp::Read,
        IoOp::Write,
        IoOp::Fsync,
        IoOp::Open,
        IoOp::Create,
        IoOp::Flush,
        IoOp::Rename,
        IoOp::Unlink,
        IoOp::Mkdir,
        IoOp::Readdir,
        IoOp::Getattr,
        IoOp::Setattr,
        IoOp::Fallocate,
        IoOp::Fsyncdir,
        IoOp::Statfs,
    ];

    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            IoOp::Read => "read",
            IoOp::Write => "write",
            IoOp::Fsync => "fsync",
            IoOp::Open => "open",
            IoOp::Create => "create",
            IoOp::Flush => "flush",
            IoOp::Rename => "rename",
            IoOp::Unlink => "unlink",
            IoOp::Mkdir => "mkdir",
            IoOp::Readdir => "readdir",
            IoOp::Getattr => "getattr",
            IoOp::Setattr => "setattr",
            IoOp::Fallocate => "fallocate",
            IoOp::Fsyncdir => "fsyncdir",
            IoOp::Statfs => "statfs",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Parse an operation name (case-insensitive). Also accepted: `fdatasync` (= fsync),
    /// `stat` (getattr), `truncate`/`chmod` (setattr), `rmdir` (unlink), `close` (flush),
    /// `mknod` (create), `opendir` (open).
    pub fn parse(s: &str) -> Result<IoOp, String> {
        let w = s.trim().to_ascii_lowercase();
        if let Some(op) = IoOp::ALL.iter().find(|op| op.name() == w) {
            return Ok(*op);
        }
        let alias = match w.as_str() {
            "fdatasync" => Some(IoOp::Fsync),
            "stat" => Some(IoOp::Getattr),
            "truncate" | "chmod" | "chown" => Some(IoOp::Setattr),
            "rmdir" => Some(IoOp::Unlink),
            "close" => Some(IoOp::Flush),
            "mknod" => Some(IoOp::Create),
            "opendir" => Some(IoOp::Open),
            _ => None,
        };
        alias.ok_or_else(|| {
            let names: Vec<&str> = IoOp::ALL.iter().map(|o| o.name()).collect();
            format!("unknown operation `{s}`{}; the operations are: {}", suggest(&w, &names), names.join(", "))
        })
    }
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const ERRNOS: [(&str, i32); 31] = [
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("ENXIO", libc::ENXIO),
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("EWOULDBLOCK", libc::EWOULDBLOCK),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("EXDEV", libc::EXDEV),
    ("ENODEV", libc::ENODEV),
    ("ENOTDIR", libc::ENOTDIR),
    ("EISDIR", libc::EISDIR),
    ("EINVAL", libc::EINVAL),
    ("ENFILE", libc::ENFILE),
    ("EMFILE", libc::EMFILE),
    ("EFBIG", libc::EFBIG),
    ("ENOSPC", libc::ENOSPC),
    ("EROFS", libc::EROFS),
    ("EMLINK", libc::EMLINK),
    ("ENAMETOOLONG", libc::ENAMETOOLONG),
    ("ENOTEMPTY", libc::ENOTEMPTY),
    ("ENOSYS", libc::ENOSYS),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("ESTALE", libc::ESTALE),
    ("EDQUOT", libc::EDQUOT),
];

/// Parse an errno: a name (`EIO`, `enospc`, ...) or a number between 1 and 133.
pub fn parse_errno(s: &str) -> Result<i32, String> {
    let w = s.trim();
    if let Ok(n) = w.parse::<i32>() {
        return if (1..=133).contains(&n) { Ok(n) } else { Err(format!("errno {n} is out of range; give a number from 1 to 133 or a name such as EIO")) };
    }
    let up = w.to_ascii_uppercase();
    let up = if up == "ENOTSUP" { "EOPNOTSUPP".to_string() } else { up };
    ERRNOS.iter().find(|(n, _)| *n == up).map(|(_, e)| *e).ok_or_else(|| {
        let names: Vec<&str> = ERRNOS.iter().map(|(n, _)| *n).collect();
        format!("unknown errno `{s}`{}; use a number or one of: {}", suggest(&up, &names), names.join(", "))
    })
}

/// The name of an errno value (`EIO`), or its number.
pub fn errno_name(e: i32) -> String {
    ERRNOS.iter().find(|(_, v)| *v == e).map_or_else(|| e.to_string(), |(n, _)| n.to_string())
}

/// What a rule does to the requests it picks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DiskAction {
    /// Serve the request after `delay` ± a uniform draw within `jitter` (never below zero).
    Delay {
        /// The mean delay.
        delay: Duration,
        /// The half-width of the uniform spread around it.
        jitter: Duration,
    },
    /// Fail the request with `errno` without carrying it out.
    Fail {
        /// The error the caller gets (`libc::EIO`, ...).
        errno: i32,
    },
}

/// A fault rule.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskRule {
    /// Its id (counters are kept per id).
    pub id: u32,
    /// What it does.
    pub action: DiskAction,
    /// The operations it watches.
    pub ops: Vec<IoOp>,
    /// The share of watched requests it acts on, 0 to 100.
    pub percent: f64,
    /// A glob relative to the mounted directory (`member/wal/*`: `*` stays within one path
    /// component, `**` crosses them); `None` watches every path.
    pub path: Option<String>,
    /// The seed of its random draws.
    pub seed: u64,
}

impl DiskRule {
    /// Check the rule before use: operations named, percent within 0..=100, a glob that
    /// compiles. ([`DiskLayer::set_rules`] takes an unchecked glob as a literal path.)
    pub fn check(&self) -> Result<(), String> {
        if self.ops.is_empty() {
            return Err(format!("disk rule {} names no operation; list some, e.g. `ops: [fsync]`", self.id));
        }
        if !(0.0..=100.0).contains(&self.percent) {
            return Err(format!("disk rule {}: percent {} is outside 0..=100", self.id, self.percent));
        }
        if let Some(p) = &self.path {
            rules::compile_glob(p)?;
        }
        Ok(())
    }
}

/// What a rule id did since mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleCounters {
    /// The rule id.
    pub id: u32,
    /// Requests the rule watched (operation and path matched).
    pub seen: u64,
    /// Requests it delayed.
    pub delayed: u64,
    /// Requests it failed.
    pub failed: u64,
}

/// How writes and fsyncs are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum DurabilityMode {
    /// Writes go to the real file at once; fsync is forwarded.
    #[default]
    Durable = 0,
    /// Writes stay in the layer's cache until their file is fsync'd (reads see them);
    /// [`DiskLayer::drop_unsynced`] throws away what is still cached.
    LoseUnsynced = 1,
    /// Like `LoseUnsynced`, but fsync answers success and keeps the cache: fsync'd data is lost too.
    FsyncLie = 2,
}

impl DurabilityMode {
    fn from_u8(v: u8) -> DurabilityMode {
        match v {
            1 => DurabilityMode::LoseUnsynced,
            2 => DurabilityMode::FsyncLie,
            _ => DurabilityMode::Durable,
        }
    }

    /// The name users write: `durable`, `lose-unsynced`, `fsync-lie`.
    pub fn name(self) -> &'static str {
        match self {
            DurabilityMode::Durable => "durable",
            DurabilityMode::LoseUnsynced => "lose-unsynced",
            DurabilityMode::FsyncLie => "fsync-lie",
        }
    }

    /// Parse a mode name.
    pub fn parse(s: &str) -> Result<DurabilityMode, String> {
        let w = s.trim().to_ascii_lowercase().replace('_', "-");
        [DurabilityMode::Durable, DurabilityMode::LoseUnsynced, DurabilityMode::FsyncLie].into_iter().find(|m| m.name() == w).ok_or_else(|| {
            format!(
                "unknown durability mode `{s}`{}; the modes are: durable, lose-unsynced, fsync-lie",
                suggest(&w, &["durable", "lose-unsynced", "fsync-lie"])
            )
        })
    }
}

/// What [`DiskLayer::drop_unsynced`] threw away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dropped {
    /// Files that had unsynced writes.
    pub files: usize,
    /// Bytes dropped.
    pub bytes: u64,
    /// Writes dropped.
    pub writes: u64,
}

/// The layer's state beyond the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerStats {
    /// The current durability mode.
    pub mode: DurabilityMode,
    /// Files with unsynced writes now.
    pub unsynced_files: usize,
    /// Bytes of unsynced writes now.
    pub unsynced_bytes: u64,
    /// Times the cache outgrew its limit and was written out (the data then is not lost by a drop).
    pub forced_flushes: u64,
    /// Bytes written out by forced flushes.
    pub forced_flush_bytes: u64,
}

/// One mounted layer over one directory. Unmounted (after writing out what is cached) by
/// [`DiskLayer::unmount`] or on drop.
pub struct DiskLayer {
    dir: PathBuf,
    label: String,
    shared: Arc<Shared>,
    session: Option<BackgroundSession>,
    notifier: Notifier,
    /// The mount's device number (its FUSE connection id).
    dev: u64,
    /// The rules in force, as given to [`DiskLayer::set_rules`].
    active: std::sync::Mutex<Vec<DiskRule>>,
}

impl fmt::Debug for DiskLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskLayer").field("dir", &self.dir).field("label", &self.label).finish_non_exhaustive()
    }
}

fn check_label(label: &str) -> Result<(), Error> {
    if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(Error::BadInput(format!("disk layer label {label:?} must be non-empty letters, digits, `-`, `_` or `.` (e.g. faultline-<run>-n1)")));
    }
    Ok(())
}

impl DiskLayer {
    /// Mount over `dir` (which must exist); `label` (e.g. `faultline-<run>-n1`) names the mount
    /// (its source; the type is `fuse.faultline`) so `faultline clean` can find it in
    /// /proc/self/mountinfo. Mount before the member starts: a process that opened files in
    /// `dir` earlier keeps using the real files, unseen by the layer.
    pub fn mount(dir: &Path, label: &str) -> Result<DiskLayer, Error> {
        DiskLayer::mount_with_limit(dir, label, DEFAULT_CACHE_LIMIT)
    }

    /// [`DiskLayer::mount`] with a cache limit other than [`DEFAULT_CACHE_LIMIT`].
    pub fn mount_with_limit(dir: &Path, label: &str, cache_limit: u64) -> Result<DiskLayer, Error> {
        check_label(label)?;
        if !crate::host::sys::is_root() {
            return Err(Error::Environment("the disk-fault layer mounts a FUSE file system with mount(2), which needs root; run faultline as root".into()));
        }
        let dir = dir.canonicalize().map_err(|e| {
            Error::Harness(format!("the directory to put the disk layer over, {}, cannot be used ({e}); create it before mounting", dir.display()))
        })?;
        if !dir.is_dir() {
            return Err(Error::Harness(format!("{} is not a directory; the disk layer mounts over a member's data directory", dir.display())));
        }
        let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()))
            .map_err(|_| Error::BadInput(format!("path {} holds a NUL byte", dir.display())))?;
        // The real directory, opened before the mount covers it.
        // SAFETY: NUL-terminated path; the descriptor is owned from here on.
        let raw = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(Error::Harness(format!("cannot open {}: {}", dir.display(), std::io::Error::last_os_error())));
        }
        // SAFETY: fresh descriptor.
        let root = unsafe { OwnedFd::from_raw_fd(raw) };
        let st = sys::stat_fd(raw).map_err(|e| Error::Harness(format!("cannot stat {}: {}", dir.display(), std::io::Error::from_raw_os_error(e))))?;
        let shared =
            Arc::new(Shared::new(root, cache_limit).map_err(|e| Error::Harness(format!("{}: {}", dir.display(), std::io::Error::from_raw_os_error(e))))?);
        let dev = mount::mount_fuse(&dir, label, st.st_mode)?;
        let mut config = Config::default();
        config.n_threads = Some(THREADS);
        config.clone_fd = true;
        config.acl = SessionACL::All;
        let session = Session::from_fd(Fs(shared.clone()), dev, SessionACL::All, config).and_then(|s| s.spawn());
        let session = match session {
            Ok(s) => s,
            Err(e) => {
                let _ = mount::umount(&dir, true);
                return Err(Error::Harness(format!("the FUSE session over {} did not start: {e}", dir.display())));
            }
        };
        let notifier = session.notifier();
        let mounted = std::fs::metadata(&dir).map(|m| std::os::unix::fs::MetadataExt::dev(&m));
        let layer = DiskLayer {
            dir: dir.clone(),
            label: label.to_string(),
            shared,
            session: Some(session),
            notifier,
            dev: *mounted.as_ref().unwrap_or(&0),
            active: Default::default(),
        };
        match mounted {
            Ok(d) if d != st.st_dev && mount::is_ours(&dir, label) => Ok(layer),
            Ok(_) => Err(Error::Harness(format!("the disk layer over {} does not show in /proc/self/mountinfo after mounting", dir.display()))),
            Err(e) => Err(Error::Harness(format!("the disk layer over {} does not answer: {e}", dir.display()))),
        }
    }

    /// The directory the layer is mounted over.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The label the mount carries.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Replace the active fault rules (empty = passthrough). Takes effect for the next call.
    pub fn set_rules(&self, rules: Vec<DiskRule>) {
        *self.active.lock().unwrap_or_else(|p| p.into_inner()) = rules.clone();
        let set = Arc::new(rules::RuleSet::new(rules, &self.shared.book));
        *self.shared.rules.write().unwrap_or_else(|p| p.into_inner()) = set;
    }

    /// The rules in force (to add one to them, or take one out).
    pub fn rules(&self) -> Vec<DiskRule> {
        self.active.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Counters since mount, per rule id: calls seen, delayed, failed (so the runner can prove a fault took effect).
    pub fn counters(&self) -> Vec<RuleCounters> {
        self.shared.book.snapshot()
    }

    /// The durability mode, the cache's size and the forced flushes so far.
    pub fn stats(&self) -> LayerStats {
        let (files, bytes) = self.shared.cached();
        LayerStats {
            mode: self.shared.mode(),
            unsynced_files: files,
            unsynced_bytes: bytes,
            forced_flushes: self.shared.forced_flushes.load(std::sync::atomic::Ordering::Relaxed),
            forced_flush_bytes: self.shared.forced_bytes.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Data-durability mode: Durable (write-through, fsync forwarded: the default), LoseUnsynced
    /// (writes kept in the layer's own cache until the file is fsync'd/fdatasync'd; reads see
    /// the cache), FsyncLie (like LoseUnsynced, but fsync returns success WITHOUT flushing).
    /// Switching back to Durable keeps what is cached (new writes go through and replace the
    /// cached bytes they cover); call [`DiskLayer::flush`] or [`DiskLayer::drop_unsynced`] to settle it.
    pub fn set_mode(&self, mode: DurabilityMode) {
        self.shared.set_mode(mode);
    }

    /// Throw away every write not yet made durable (as a power loss would); call after the
    /// member was killed. Returns what was dropped (files, bytes, writes). The kernel is told
    /// to forget its cached pages and sizes of those files.
    pub fn drop_unsynced(&self) -> Dropped {
        let r = self.shared.drop_all();
        for node in &r.nodes {
            let _ = self.notifier.inval_inode(INodeNo(*node), 0, -1);
        }
        Dropped { files: r.files, bytes: r.bytes, writes: r.writes }
    }

    /// A power loss with torn writes or lost directory operations (see [`PowerLoss`]); call
    /// after the member was killed. With `PowerLoss::default()` it drops what
    /// [`DiskLayer::drop_unsynced`] drops (and also forgets the journal of directory operations).
    pub fn lose_power(&self, loss: &PowerLoss) -> LossReport {
        let (r, f) = self.shared.lose_power(loss);
        self.forget(f);
        r
    }

    fn forget(&self, f: power::Forget) {
        for node in &f.nodes {
            let _ = self.notifier.inval_inode(INodeNo(*node), 0, -1);
        }
        for (parent, name) in &f.entries {
            let _ = self.notifier.inval_entry(INodeNo(*parent), name);
        }
    }

    /// Arm a crash point (replacing any other): at the `nth` matching call from now, the layer
    /// SIGKILLs `point.pid` from the thread serving the call, before or after carrying it out,
    /// and loses power as `point.loss` says. Bad globs are refused.
    pub fn arm_crash(&self, point: CrashPoint) -> Result<(), Error> {
        if point.nth == 0 {
            return Err(Error::BadInput("a crash point's `nth` counts from 1 (the first matching call)".into()));
        }
        if !CRASH_CALLS.contains(&point.call) {
            return Err(Error::BadInput(parse_crash_call(point.call.name()).err().unwrap_or_default()));
        }
        self.shared.arm_crash(point).map_err(Error::BadInput)
    }

    /// The armed (or fired) crash point's status, `None` when none is armed.
    pub fn crash_status(&self) -> Option<CrashStatus> {
        self.shared.crash_status()
    }

    /// Disarm the crash point (fired or not) and lift the fence a firing put up; its status.
    pub fn disarm_crash(&self) -> Option<CrashStatus> {
        let (s, f) = self.shared.disarm_crash();
        if let Some(f) = f {
            self.forget(f);
        }
        s
    }

    /// Put a read mistake in force (`None`: take it out). The pages the kernel holds of the
    /// files it matches are forgotten both ways, so reads reach the layer, and a page read
    /// with a mistake does not outlive it. Returns the counters of the mistake taken out.
    pub fn set_mistake(&self, m: Option<Mistake>) -> Result<Option<MistakeCounters>, Error> {
        let armed = m.map(mistake::Armed::new).transpose().map_err(Error::BadInput)?.map(Arc::new);
        let old = {
            let mut w = self.shared.mistake.write().unwrap_or_else(|p| p.into_inner());
            self.shared.mistake_on.store(armed.is_some(), std::sync::atomic::Ordering::SeqCst);
            std::mem::replace(&mut *w, armed.clone())
        };
        let globs: Vec<&mistake::Armed> = old.iter().chain(armed.iter()).map(|a| a.as_ref()).collect();
        let nodes: Vec<u64> = self.shared.inodes.read().unwrap_or_else(|p| p.into_inner()).by_node.keys().copied().collect();
        for n in nodes {
            let p = self.shared.node_path(n);
            if globs.iter().any(|g| g.matches(p.as_deref())) {
                let _ = self.notifier.inval_inode(INodeNo(n), 0, -1);
            }
        }
        Ok(old.map(|o| o.counters()))
    }

    /// The counters of the read mistake in force.
    pub fn mistake_counters(&self) -> Option<MistakeCounters> {
        self.shared.mistake.read().unwrap_or_else(|p| p.into_inner()).as_ref().map(|m| m.counters())
    }

    /// Flush what is cached to the real files, each fdatasync'd (used at heal/teardown when no loss is wanted).
    pub fn flush(&self) -> Result<(), Error> {
        self.shared.flush_all(true).map_err(|e| {
            Error::Harness(format!("writing the disk layer's unsynced data to {} failed: {}", self.dir.display(), std::io::Error::from_raw_os_error(e)))
        })
    }

    /// Unmount (lazy if busy), stop the session thread. Also done on Drop. What is still
    /// cached is written to the real files first (as a clean unmount would); call
    /// [`DiskLayer::drop_unsynced`] before to lose it instead.
    pub fn unmount(mut self) -> Result<(), Error> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), Error> {
        let Some(session) = self.session.take() else { return Ok(()) };
        self.shared.disarm_crash();
        let flushed = self.shared.flush_all(false);
        let mut result = Ok(());
        if mount::is_ours(&self.dir, &self.label) {
            if let Err(e) = mount::umount(&self.dir, false) {
                if let Err(e2) = mount::umount(&self.dir, true) {
                    result = Err(Error::Harness(format!(
                        "cannot unmount the disk layer at {} ({}, then lazily: {}); try `umount -l {}`",
                        self.dir.display(),
                        std::io::Error::from_raw_os_error(e),
                        std::io::Error::from_raw_os_error(e2),
                        self.dir.display()
                    )));
                }
            }
        }
        // The session ends when the kernel lets the connection go: at once after a plain
        // unmount, after the last open file closes after a lazy one.
        if !wait_finished(&session, Duration::from_secs(2)) && mount::abort_connection(self.dev) {
            wait_finished(&session, Duration::from_secs(1));
        }
        if session.guard.is_finished() {
            let _ = session.join();
        }
        // Otherwise the thread is left to end with the connection (a process still holds files).
        result?;
        flushed.map_err(|e| {
            Error::Harness(format!(
                "unmounted {}, but writing its unsynced data to the real files failed: {}",
                self.dir.display(),
                std::io::Error::from_raw_os_error(e)
            ))
        })
    }
}

fn wait_finished(s: &BackgroundSession, within: Duration) -> bool {
    let end = Instant::now() + within;
    while !s.guard.is_finished() {
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

impl Drop for DiskLayer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Every faultline FUSE mount left in /proc/self/mountinfo whose label starts with `prefix`
/// (for `faultline clean`), last mounted first.
pub fn list_mounts(prefix: &str) -> Vec<PathBuf> {
    let t = format!("fuse.{}", mount::SUBTYPE);
    mount::mounts().into_iter().rev().filter(|m| m.fstype == t && m.source.starts_with(prefix)).map(|m| m.point).collect()
}

/// Unmount one layer lazily (`umount2(MNT_DETACH)`): works when its process is gone (the mount
/// then answers ENOTCONN) and when files are still open. Not mounted is not an error.
pub fn force_unmount(path: &Path) -> Result<(), Error> {
    match mount::umount(path, true) {
        Ok(()) => Ok(()),
        Err(e) if e == libc::EINVAL || e == libc::ENOENT => Ok(()),
        Err(e) => Err(Error::Harness(format!(
            "cannot unmount the disk layer at {}: {}; try `umount -l {}` as root",
            path.display(),
            std::io::Error::from_raw_os_error(e),
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<DiskLayer>();
    }

    #[test]
    fn ops_parse_with_aliases_and_hints() {
        assert_eq!(IoOp::parse("fsync"), Ok(IoOp::Fsync));
        assert_eq!(IoOp::parse("FDATASYNC"), Ok(IoOp::Fsync));
        assert_eq!(IoOp::parse("truncate"), Ok(IoOp::Setattr));
        for op in IoOp::ALL {
            assert_eq!(IoOp::parse(op.name()), Ok(op));
        }
        let e = IoOp::parse("fsnyc").unwrap_err();
        assert!(e.contains("did you mean `fsync`"), "{e}");
    }

    #[test]
    fn errnos_parse_by_name_and_number() {
        assert_eq!(parse_errno("EIO"), Ok(libc::EIO));
        assert_eq!(parse_errno("enospc"), Ok(libc::ENOSPC));
        assert_eq!(parse_errno("EDQUOT"), Ok(libc::EDQUOT));
        assert_eq!(parse_errno("ENOTSUP"), Ok(libc::EOPNOTSUPP));
        assert_eq!(parse_errno("5"), Ok(5));
        assert!(parse_errno("0").is_err());
        let e = parse_errno("EIOO").unwrap_err();
        assert!(e.contains("did you mean `EIO`"), "{e}");
        assert_eq!(errno_name(libc::EROFS), "EROFS");
    }

    #[test]
    fn modes_parse() {
        assert_eq!(DurabilityMode::parse("lose_unsynced"), Ok(DurabilityMode::LoseUnsynced));
        assert_eq!(DurabilityMode::parse("fsync-lie"), Ok(DurabilityMode::FsyncLie));
        assert!(DurabilityMode::parse("lossy").is_err());
    }

    #[test]
    fn rules_are_checked() {
        let mut r = DiskRule {
            id: 1,
            action: DiskAction::Fail { errno: libc::EIO },
            ops: vec![IoOp::Write],
            percent: 100.0,
            path: Some("member/wal/*".into()),
            seed: 1,
        };
        assert!(r.check().is_ok());
        r.percent = 101.0;
        assert!(r.check().is_err());
        r.percent = 50.0;
        r.path = Some("member/[wal".into());
        assert!(r.check().unwrap_err().contains("not a valid glob"));
    }
}

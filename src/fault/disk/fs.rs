//! The FUSE file system: a passthrough onto the directory it is mounted over, served through
//! `O_PATH` descriptors of the real files (the root's was opened before the mount covered
//! it), with the fault rules and the durability mode applied on the way.
//!
//! Node ids are the real inode numbers (files on other devices below the directory get ids of
//! their own), so `stat` through the mount shows what the real directory would. Each known
//! node holds an `O_PATH` descriptor, which follows renames and keeps the real inode from
//! being reused while the kernel may still name it. File handles are the real descriptors.

use super::cache::{Key, Unsynced};
use super::crash::{CrashState, Due};
use super::mistake::Armed;
use super::power::DirOp;
use super::rules::{CounterBook, RuleSet, Verdict};
use super::sys::{self, raw, SysResult};
use super::{DurabilityMode, IoOp};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the kernel may trust an entry or attributes without asking again.
const TTL: Duration = Duration::from_secs(1);
/// Node ids of files on another device than the root start here.
const SYNTHETIC: u64 = 1 << 63;
const ROOT: u64 = 1;

/// A node the kernel knows.
pub(crate) struct Inode {
    /// `O_PATH` descriptor of the real file.
    pub(crate) fd: Arc<OwnedFd>,
    /// (device, inode) of the real file.
    pub(crate) key: Key,
    /// Lookups the kernel holds (a node is forgotten when they reach zero).
    lookups: AtomicU64,
}

#[derive(Default)]
pub(crate) struct Inodes {
    pub(crate) by_node: HashMap<u64, Arc<Inode>>,
    pub(crate) by_key: HashMap<Key, u64>,
}

struct DirHandle {
    fd: OwnedFd,
    entries: Vec<(u64, u8, Vec<u8>)>,
}

/// What dropping the unsynced writes threw away, and which nodes the kernel must forget the
/// pages of.
pub(crate) struct DropReport {
    pub(crate) files: usize,
    pub(crate) bytes: u64,
    pub(crate) writes: u64,
    pub(crate) nodes: Vec<u64>,
}

/// State shared by the request threads and the [`super::DiskLayer`] handle.
pub(crate) struct Shared {
    root_dev: u64,
    /// The real directory's path as `/proc/self/fd` links show it (rule paths are relative to it).
    pub(crate) root_real: Vec<u8>,
    pub(crate) inodes: RwLock<Inodes>,
    next_synthetic: AtomicU64,
    dirs: Mutex<HashMap<u64, DirHandle>>,
    next_dir: AtomicU64,
    pub(crate) rules: RwLock<Arc<RuleSet>>,
    pub(crate) book: CounterBook,
    mode: AtomicU8,
    pub(crate) cache: Mutex<Unsynced>,
    /// Number of files in `cache` (read without the lock on the hot path).
    pub(crate) cached_files: AtomicUsize,
    /// Creates and renames since their directory's last fsync (modes that cache writes).
    pub(crate) dirops: Mutex<Vec<DirOp>>,
    /// The crash point (see `crash.rs`), and whether one is armed (the hot path's test).
    pub(crate) crash: Mutex<CrashState>,
    pub(crate) crash_armed: AtomicBool,
    /// A crash point fired: changes are refused until it is disarmed.
    pub(crate) fenced: AtomicBool,
    /// The read mistake in force (see `mistake.rs`), and whether there is one.
    pub(crate) mistake: RwLock<Option<Arc<Armed>>>,
    pub(crate) mistake_on: AtomicBool,
    /// Bytes the cache may hold before everything in it is written out.
    pub(crate) limit: u64,
    pub(crate) forced_flushes: AtomicU64,
    pub(crate) forced_bytes: AtomicU64,
    umask: u32,
    uid: u32,
    gid: u32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn to_errno(e: i32) -> Errno {
    Errno::from_i32(e)
}

fn kind_of(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

fn kind_of_dtype(t: u8) -> FileType {
    match t {
        libc::DT_DIR => FileType::Directory,
        libc::DT_LNK => FileType::Symlink,
        libc::DT_FIFO => FileType::NamedPipe,
        libc::DT_SOCK => FileType::Socket,
        libc::DT_CHR => FileType::CharDevice,
        libc::DT_BLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

fn time(sec: i64, nsec: i64) -> SystemTime {
    if sec >= 0 {
        UNIX_EPOCH + Duration::new(sec as u64, nsec.clamp(0, 999_999_999) as u32)
    } else {
        UNIX_EPOCH - Duration::from_secs(sec.unsigned_abs())
    }
}

fn set_time(t: Option<TimeOrNow>) -> sys::SetTime {
    t.map(|t| match t {
        TimeOrNow::SpecificTime(t) => Some(t),
        TimeOrNow::Now => None,
    })
}

impl Shared {
    /// State for a layer over the directory whose `O_PATH` descriptor is `root`.
    pub(crate) fn new(root: OwnedFd, limit: u64) -> SysResult<Shared> {
        let st = sys::stat_fd(raw(&root))?;
        let root_real = sys::fd_path(raw(&root))?;
        let key = (st.st_dev, st.st_ino);
        let mut inodes = Inodes::default();
        inodes.by_node.insert(ROOT, Arc::new(Inode { fd: Arc::new(root), key, lookups: AtomicU64::new(1) }));
        inodes.by_key.insert(key, ROOT);
        Ok(Shared {
            root_dev: st.st_dev,
            root_real,
            inodes: RwLock::new(inodes),
            next_synthetic: AtomicU64::new(SYNTHETIC),
            dirs: Mutex::new(HashMap::new()),
            next_dir: AtomicU64::new(1),
            rules: RwLock::new(Arc::new(RuleSet::default())),
            book: CounterBook::default(),
            mode: AtomicU8::new(DurabilityMode::Durable as u8),
            cache: Mutex::new(Unsynced::default()),
            cached_files: AtomicUsize::new(0),
            dirops: Mutex::new(Vec::new()),
            crash: Mutex::new(CrashState::default()),
            crash_armed: AtomicBool::new(false),
            fenced: AtomicBool::new(false),
            mistake: RwLock::new(None),
            mistake_on: AtomicBool::new(false),
            limit,
            forced_flushes: AtomicU64::new(0),
            forced_bytes: AtomicU64::new(0),
            umask: sys::current_umask(),
            // SAFETY: plain getters.
            uid: unsafe { libc::geteuid() },
            gid: unsafe { libc::getegid() },
        })
    }

    /// The current durability mode.
    pub(crate) fn mode(&self) -> DurabilityMode {
        DurabilityMode::from_u8(self.mode.load(Ordering::Relaxed))
    }

    /// Switch the durability mode (the cache is kept; see [`super::DiskLayer::set_mode`]).
    pub(crate) fn set_mode(&self, m: DurabilityMode) {
        self.mode.store(m as u8, Ordering::Relaxed);
    }

    pub(crate) fn inode(&self, node: u64) -> SysResult<Arc<Inode>> {
        self.inodes.read().unwrap_or_else(|p| p.into_inner()).by_node.get(&node).cloned().ok_or(libc::ESTALE)
    }

    /// The decision of the rules on `op`; `path` is asked only if a rule needs it.
    fn verdict(&self, op: IoOp, path: impl FnOnce() -> Option<String>) -> Verdict {
        let rules = {
            let r = self.rules.read().unwrap_or_else(|p| p.into_inner());
            if !r.watches(op) {
                return Verdict::Pass;
            }
            r.clone()
        };
        let p = if rules.needs_path(op) { path() } else { None };
        rules.decide(op, p.as_deref())
    }

    /// A node's path relative to the mounted directory (`.` for the directory itself).
    pub(crate) fn node_path(&self, node: u64) -> Option<String> {
        if node == ROOT {
            return Some(".".into());
        }
        let i = self.inode(node).ok()?;
        let mut p = sys::fd_path(raw(&*i.fd)).ok()?;
        if p.ends_with(b" (deleted)") {
            p.truncate(p.len() - b" (deleted)".len());
        }
        let rest = p.strip_prefix(self.root_real.as_slice())?;
        let rest = rest.strip_prefix(b"/")?;
        Some(String::from_utf8_lossy(rest).into_owned())
    }

    /// The path of `name` in the directory `parent`, relative to the mounted directory.
    fn child_path(&self, parent: u64, name: &OsStr) -> Option<String> {
        let p = self.node_path(parent)?;
        let n = name.to_string_lossy();
        Some(if p == "." { n.into_owned() } else { format!("{p}/{n}") })
    }

    /// Record a lookup of the file behind `fd` (an `O_PATH` descriptor): its node id and stat.
    fn register(&self, fd: OwnedFd) -> SysResult<(u64, libc::stat)> {
        let st = sys::stat_fd(raw(&fd))?;
        let key = (st.st_dev, st.st_ino);
        let mut w = self.inodes.write().unwrap_or_else(|p| p.into_inner());
        if let Some(&node) = w.by_key.get(&key) {
            if let Some(i) = w.by_node.get(&node) {
                i.lookups.fetch_add(1, Ordering::Relaxed);
                return Ok((node, st));
            }
        }
        let node = if st.st_dev == self.root_dev && st.st_ino > ROOT && st.st_ino < SYNTHETIC && !w.by_node.contains_key(&st.st_ino) {
            st.st_ino
        } else {
            self.next_synthetic.fetch_add(1, Ordering::Relaxed)
        };
        w.by_node.insert(node, Arc::new(Inode { fd: Arc::new(fd), key, lookups: AtomicU64::new(1) }));
        w.by_key.insert(key, node);
        Ok((node, st))
    }

    fn forget(&self, node: u64, n: u64) {
        if node == ROOT {
            return;
        }
        let mut w = self.inodes.write().unwrap_or_else(|p| p.into_inner());
        let Some(i) = w.by_node.get(&node) else { return };
        let left = i.lookups.load(Ordering::Relaxed).saturating_sub(n);
        i.lookups.store(left, Ordering::Relaxed);
        if left == 0 {
            let key = i.key;
            w.by_node.remove(&node);
            if w.by_key.get(&key) == Some(&node) {
                w.by_key.remove(&key);
            }
        }
    }

    /// The attributes the kernel sees: the real file's, with the size grown by cached writes.
    fn attr(&self, node: u64, st: &libc::stat) -> FileAttr {
        let mut size = st.st_size as u64;
        if self.cached_files.load(Ordering::Relaxed) > 0 && st.st_mode & libc::S_IFMT == libc::S_IFREG {
            if let Some(f) = lock(&self.cache).files.get(&(st.st_dev, st.st_ino)) {
                size = size.max(f.end());
            }
        }
        FileAttr {
            ino: INodeNo(node),
            size,
            blocks: st.st_blocks as u64,
            atime: time(st.st_atime, st.st_atime_nsec),
            mtime: time(st.st_mtime, st.st_mtime_nsec),
            ctime: time(st.st_ctime, st.st_ctime_nsec),
            crtime: UNIX_EPOCH,
            kind: kind_of(st.st_mode),
            perm: (st.st_mode & 0o7777) as u16,
            nlink: st.st_nlink as u32,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev as u32,
            blksize: st.st_blksize as u32,
            flags: 0,
        }
    }

    fn lookup(&self, parent: u64, name: &OsStr) -> SysResult<FileAttr> {
        let p = self.inode(parent)?;
        let fd = sys::openat(raw(&*p.fd), &sys::cname(name)?, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        let (node, st) = self.register(fd)?;
        Ok(self.attr(node, &st))
    }

    /// After creating `name` in `dir` for `req`: the mode the caller asked for (our own umask
    /// must not narrow it) and the caller as owner; then the entry.
    fn created(&self, dir: RawFd, name: &std::ffi::CStr, mode: Option<u32>, uid: u32, gid: u32) -> SysResult<FileAttr> {
        let fd = sys::openat(dir, name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        if let Some(m) = mode {
            if m & self.umask & 0o777 != 0 {
                sys::chmod_fd(raw(&fd), m & 0o7777)?;
            }
        }
        if uid != self.uid || gid != self.gid {
            sys::chown_fd(raw(&fd), uid, gid)?;
        }
        let (node, st) = self.register(fd)?;
        Ok(self.attr(node, &st))
    }

    fn getattr(&self, node: u64) -> SysResult<FileAttr> {
        let i = self.inode(node)?;
        let st = sys::stat_fd(raw(&*i.fd))?;
        Ok(self.attr(node, &st))
    }

    #[allow(clippy::too_many_arguments)]
    fn setattr(
        &self,
        node: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<u64>,
    ) -> SysResult<FileAttr> {
        let i = self.inode(node)?;
        let fd = raw(&*i.fd);
        if let Some(m) = mode {
            sys::chmod_fd(fd, m & 0o7777)?;
        }
        if uid.is_some() || gid.is_some() {
            sys::chown_fd(fd, uid.unwrap_or(u32::MAX), gid.unwrap_or(u32::MAX))?;
        }
        if let Some(s) = size {
            // Truncation is immediate (durable); cached writes past the new end go.
            let mut c = lock(&self.cache);
            match fh {
                Some(h) => sys::ftruncate(h as RawFd, s)?,
                None => sys::truncate_path(fd, s)?,
            }
            c.truncate(i.key, s);
            self.cached_files.store(c.files.len(), Ordering::Relaxed);
        }
        if atime.is_some() || mtime.is_some() {
            sys::utimes_fd(fd, set_time(atime), set_time(mtime))?;
        }
        self.getattr(node)
    }

    fn open(&self, node: u64, flags: i32) -> SysResult<u64> {
        let i = self.inode(node)?;
        // The kernel computes offsets (also for O_APPEND) and truncates through setattr.
        let flags = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_TRUNC | libc::O_APPEND | libc::O_DIRECT);
        let fd = sys::reopen(raw(&*i.fd), flags)?;
        Ok(fd.into_raw_fd() as u64)
    }

    #[allow(clippy::too_many_arguments)]
    fn create(&self, parent: u64, name: &OsStr, mode: u32, umask: u32, flags: i32, uid: u32, gid: u32) -> SysResult<(FileAttr, u64)> {
        let p = self.inode(parent)?;
        let c = sys::cname(name)?;
        let mode = mode & !umask;
        let flags = (flags | libc::O_CREAT) & !(libc::O_NOCTTY | libc::O_APPEND | libc::O_DIRECT);
        let fd = sys::openat(raw(&*p.fd), &c, flags, mode)?;
        let attr = self.created(raw(&*p.fd), &c, Some(mode), uid, gid)?;
        if flags & libc::O_TRUNC != 0 && self.cached_files.load(Ordering::Relaxed) > 0 {
            let st = sys::stat_fd(raw(&fd))?;
            let mut c = lock(&self.cache);
            c.truncate((st.st_dev, st.st_ino), 0);
            self.cached_files.store(c.files.len(), Ordering::Relaxed);
        }
        Ok((attr, fd.into_raw_fd() as u64))
    }

    /// Read into `buf`; returns how many bytes are the answer (cached writes laid over).
    fn read(&self, node: u64, fh: RawFd, offset: u64, buf: &mut [u8]) -> SysResult<usize> {
        let n = self.read_layered(node, fh, offset, buf)?;
        if let Some(m) = self.mistake() {
            if let Some(p) = self.node_path(node).filter(|p| m.matches(Some(p))) {
                m.apply(&p, offset, &mut buf[..n]);
            }
        }
        Ok(n)
    }

    /// What a read answers before any mistake: the real file with cached writes laid over.
    fn read_layered(&self, node: u64, fh: RawFd, offset: u64, buf: &mut [u8]) -> SysResult<usize> {
        let n = sys::pread_full(fh, buf, offset)?;
        if self.cached_files.load(Ordering::Relaxed) == 0 {
            return Ok(n);
        }
        let i = self.inode(node)?;
        let c = lock(&self.cache);
        let Some(f) = c.files.get(&i.key) else { return Ok(n) };
        // A short read met the real end of file; the cache may reach further.
        let want = if n == buf.len() { n } else { (n as u64).max(f.end().saturating_sub(offset)).min(buf.len() as u64) as usize };
        buf[n..want].fill(0);
        f.overlay(offset, &mut buf[..want]);
        Ok(want)
    }

    fn write(&self, node: u64, fh: RawFd, offset: u64, data: &[u8], open_flags: i32) -> SysResult<u32> {
        let through = self.mode() == DurabilityMode::Durable || open_flags & libc::O_DSYNC != 0;
        if through && self.cached_files.load(Ordering::Relaxed) == 0 {
            sys::pwrite_all(fh, data, offset)?;
            return Ok(data.len() as u32);
        }
        let i = self.inode(node)?;
        let mut c = lock(&self.cache);
        if through {
            sys::pwrite_all(fh, data, offset)?;
            c.with_file(i.key, |f| f.punch(offset, offset + data.len() as u64));
        } else {
            c.write(i.key, &i.fd, offset, data);
            if c.bytes > self.limit {
                let bytes = c.bytes;
                self.write_out(&mut c, false)?;
                self.forced_flushes.fetch_add(1, Ordering::Relaxed);
                self.forced_bytes.fetch_add(bytes, Ordering::Relaxed);
            }
        }
        self.cached_files.store(c.files.len(), Ordering::Relaxed);
        Ok(data.len() as u32)
    }

    /// Write one file's cached extents to the real file (kept in the cache if that fails).
    fn write_file(c: &mut Unsynced, key: Key, fsync: bool) -> SysResult<()> {
        let Some(f) = c.take(key) else { return Ok(()) };
        let res = (|| {
            let w = sys::reopen(raw(&*f.fd), libc::O_WRONLY)?;
            for (off, data) in f.extents() {
                sys::pwrite_all(raw(&w), data, off)?;
            }
            if fsync {
                sys::sync(raw(&w), true)?;
            }
            Ok(())
        })();
        if res.is_err() {
            c.bytes += f.bytes;
            c.files.insert(key, f);
        }
        res
    }

    /// Write every cached file out; the first error is returned after trying them all.
    fn write_out(&self, c: &mut Unsynced, fsync: bool) -> SysResult<()> {
        let keys: Vec<Key> = c.files.keys().copied().collect();
        let mut first = Ok(());
        for k in keys {
            if let Err(e) = Self::write_file(c, k, fsync) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        self.cached_files.store(c.files.len(), Ordering::Relaxed);
        first
    }

    /// Write everything cached to the real files (and fdatasync them when `fsync`).
    pub(crate) fn flush_all(&self, fsync: bool) -> SysResult<()> {
        let mut c = lock(&self.cache);
        self.write_out(&mut c, fsync)
    }

    /// Forget every unsynced write.
    pub(crate) fn drop_all(&self) -> DropReport {
        let taken = {
            let mut c = lock(&self.cache);
            self.cached_files.store(0, Ordering::Relaxed);
            c.take_all().0
        };
        // The directory operations were carried out on the real directory: they stay.
        lock(&self.dirops).clear();
        let inodes = self.inodes.read().unwrap_or_else(|p| p.into_inner());
        DropReport {
            files: taken.len(),
            bytes: taken.values().map(|f| f.bytes).sum(),
            writes: taken.values().map(|f| f.writes).sum(),
            nodes: taken.keys().filter_map(|k| inodes.by_key.get(k).copied()).collect(),
        }
    }

    /// (files, bytes) held in the cache now.
    pub(crate) fn cached(&self) -> (usize, u64) {
        let c = lock(&self.cache);
        (c.files.len(), c.bytes)
    }

    fn fsync(&self, node: u64, fh: RawFd, datasync: bool) -> SysResult<()> {
        if self.mode() == DurabilityMode::FsyncLie {
            return Ok(());
        }
        if self.cached_files.load(Ordering::Relaxed) > 0 {
            let i = self.inode(node)?;
            let mut c = lock(&self.cache);
            Self::write_file(&mut c, i.key, false)?;
            self.cached_files.store(c.files.len(), Ordering::Relaxed);
        }
        sys::sync(fh, datasync)
    }

    fn fallocate(&self, node: u64, fh: RawFd, offset: u64, len: u64, mode: i32) -> SysResult<()> {
        if mode & !libc::FALLOC_FL_KEEP_SIZE != 0 && self.cached_files.load(Ordering::Relaxed) > 0 {
            // Punching, zeroing, collapsing or inserting ranges moves or clears bytes the cache
            // may hold: write the file's cache out first so the real file is the whole truth.
            let i = self.inode(node)?;
            let mut c = lock(&self.cache);
            Self::write_file(&mut c, i.key, false)?;
            self.cached_files.store(c.files.len(), Ordering::Relaxed);
        }
        sys::fallocate(fh, mode, offset, len)
    }

    fn opendir(&self, node: u64) -> SysResult<u64> {
        let i = self.inode(node)?;
        let fd = sys::openat(raw(&*i.fd), c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        let id = self.next_dir.fetch_add(1, Ordering::Relaxed);
        lock(&self.dirs).insert(id, DirHandle { fd, entries: Vec::new() });
        Ok(id)
    }

    fn readdir(&self, fh: u64, offset: u64, mut reply: ReplyDirectory) {
        let mut dirs = lock(&self.dirs);
        let Some(h) = dirs.get_mut(&fh) else { return reply.error(Errno::EBADF) };
        if offset == 0 {
            match sys::read_dir(raw(&h.fd)) {
                Ok(e) => h.entries = e,
                Err(e) => return reply.error(to_errno(e)),
            }
        }
        for (i, (ino, t, name)) in h.entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*ino), i as u64 + 1, kind_of_dtype(*t), OsStr::from_bytes(name)) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(&self, fh: u64, datasync: bool) -> SysResult<()> {
        if self.mode() == DurabilityMode::FsyncLie {
            return Ok(());
        }
        let fd = {
            let dirs = lock(&self.dirs);
            let h = dirs.get(&fh).ok_or(libc::EBADF)?;
            h.fd.try_clone().map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?
        };
        sys::sync(raw(&fd), datasync)?;
        if let Ok(st) = sys::stat_fd(raw(&fd)) {
            self.dir_synced((st.st_dev, st.st_ino));
        }
        Ok(())
    }

    fn statfs(&self) -> SysResult<libc::statvfs> {
        let root = self.inode(ROOT)?;
        sys::statvfs(raw(&*root.fd))
    }

    /// Journal the creation of `name` in `parent` (when the mode caches writes).
    fn note_create(&self, parent: u64, name: &OsStr) {
        self.journal_dirop(|| {
            let p = self.inode(parent).ok()?;
            let st = sys::stat_at(raw(&*p.fd), &sys::cname(name).ok()?).ok()?;
            let path = self.child_path(parent, name)?;
            Some(DirOp::Create { dir: p.fd.clone(), dir_key: p.key, name: name.to_owned(), key: (st.st_dev, st.st_ino), path })
        });
    }

    /// A rename, journaled when the mode caches writes.
    fn rename_op(&self, parent: u64, name: &OsStr, newparent: u64, newname: &OsStr, flags: u32) -> SysResult<()> {
        let p = self.inode(parent)?;
        let np = self.inode(newparent)?;
        let (from, to) = (sys::cname(name)?, sys::cname(newname)?);
        let journal = self.mode() != DurabilityMode::Durable && flags & libc::RENAME_EXCHANGE == 0;
        let before = journal.then(|| (sys::stat_at(raw(&*p.fd), &from).ok(), sys::stat_at(raw(&*np.fd), &to).is_ok()));
        let paths = journal.then(|| (self.child_path(parent, name), self.child_path(newparent, newname)));
        sys::renameat2(raw(&*p.fd), &from, raw(&*np.fd), &to, flags)?;
        if let (Some((Some(st), replaced)), Some((Some(a), Some(b)))) = (before, paths) {
            self.journal_dirop(|| {
                Some(DirOp::Rename {
                    from_dir: p.fd.clone(),
                    from_key: p.key,
                    from: name.to_owned(),
                    to_dir: np.fd.clone(),
                    to_key: np.key,
                    to: newname.to_owned(),
                    key: (st.st_dev, st.st_ino),
                    replaced,
                    path: format!("{a} -> {b}"),
                })
            });
        }
        Ok(())
    }

    fn remove_op(&self, parent: u64, name: &OsStr, dir: bool) -> SysResult<()> {
        let p = self.inode(parent)?;
        sys::unlinkat(raw(&*p.fd), &sys::cname(name)?, dir)
    }
}

/// A reply that can carry an error.
trait Fails: Send + 'static {
    fn fail(self, errno: i32);
}

macro_rules! fails {
    ($($t:ty),*) => {$(
        impl Fails for $t {
            fn fail(self, errno: i32) {
                self.error(to_errno(errno))
            }
        }
    )*};
}
fails!(ReplyEmpty, ReplyData, ReplyEntry, ReplyAttr, ReplyOpen, ReplyWrite, ReplyStatfs, ReplyCreate, ReplyDirectory);

/// Run `f` after `d` on a thread of its own, so a delayed request holds up no other.
/// (Should the thread not start, the reply inside `f` is dropped, which answers EIO.)
fn later(d: Duration, f: impl FnOnce() + Send + 'static) {
    let _ = std::thread::Builder::new().name("faultline-delay".into()).stack_size(256 * 1024).spawn(move || {
        std::thread::sleep(d);
        f()
    });
}

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The FUSE file system handed to fuser.
pub(crate) struct Fs(pub(crate) Arc<Shared>);

impl Fs {
    /// A crash point fired on this call: `before`, kill and fail it (not carried out); `after`,
    /// carry it out, kill, then answer.
    fn crashing<T, R: Fails>(&self, due: Due, reply: R, work: impl FnOnce(&Shared) -> T, answer: impl FnOnce(T, R)) {
        if due.after() {
            let t = work(&self.0);
            self.0.fire(due);
            answer(t, reply);
        } else {
            self.0.fire(due);
            reply.fail(libc::EIO);
        }
    }

    /// Apply a verdict: run `job` now, later, or fail the request.
    fn run<R: Fails>(&self, v: Verdict, reply: R, job: impl FnOnce(&Shared, R) + Send + 'static) {
        match v {
            Verdict::Pass => job(&self.0, reply),
            Verdict::Delay(d) => {
                let sh = self.0.clone();
                later(d, move || job(&sh, reply));
            }
            Verdict::Fail { errno, after } if after.is_zero() => reply.fail(errno),
            Verdict::Fail { errno, after } => later(after, move || reply.fail(errno)),
        }
    }

    fn entry_job(res: SysResult<FileAttr>, reply: ReplyEntry) {
        match res {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.fail(e),
        }
    }

    fn empty_job(res: SysResult<()>, reply: ReplyEmpty) {
        match res {
            Ok(()) => reply.ok(),
            Err(e) => reply.fail(e),
        }
    }
}

impl Filesystem for Fs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // No FUSE_POSIX_LOCKS / FUSE_FLOCK_LOCKS: the kernel keeps flock and fcntl locks on the
        // mount itself, which is where every user of the data directory takes them. No
        // writeback cache: every write reaches the layer. Shared mmap of a file opened with
        // direct I/O (a read mistake's files) where the kernel allows it (Linux 6.6 and later);
        // elsewhere such an mmap fails with ENODEV.
        let _ = config.add_capabilities(fuser::InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        Self::entry_job(self.0.lookup(parent.0, name), reply);
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.0.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let v = self.0.verdict(IoOp::Getattr, || self.0.node_path(ino.0));
        self.run(v, reply, move |sh, reply| match sh.getattr(ino.0) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.fail(e),
        });
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let v = self.0.verdict(IoOp::Setattr, || self.0.node_path(ino.0));
        let fh = fh.map(|h| h.0);
        self.run(v, reply, move |sh, reply| match sh.setattr(ino.0, mode, uid, gid, size, atime, mtime, fh) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.fail(e),
        });
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.0.inode(ino.0).and_then(|i| sys::readlink_at(raw(&*i.fd), c"")) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.fail(e),
        }
    }

    fn mknod(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, rdev: u32, reply: ReplyEntry) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let due = self.0.crash_due(IoOp::Create, || self.0.child_path(parent.0, name));
        let v = if due.is_none() { self.0.verdict(IoOp::Create, || self.0.child_path(parent.0, name)) } else { Verdict::Pass };
        let (name, uid, gid) = (name.to_owned(), req.uid(), req.gid());
        let work = move |sh: &Shared| {
            let res = (|| {
                let p = sh.inode(parent.0)?;
                let c = sys::cname(&name)?;
                sys::mknodat(raw(&*p.fd), &c, mode & !umask, rdev as u64)?;
                sh.created(raw(&*p.fd), &c, Some(mode & !umask), uid, gid)
            })();
            if res.is_ok() {
                sh.note_create(parent.0, &name);
            }
            res
        };
        if let Some(due) = due {
            return self.crashing(due, reply, work, Self::entry_job);
        }
        self.run(v, reply, move |sh, reply| Self::entry_job(work(sh), reply));
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let v = self.0.verdict(IoOp::Mkdir, || self.0.child_path(parent.0, name));
        let (name, uid, gid) = (name.to_owned(), req.uid(), req.gid());
        self.run(v, reply, move |sh, reply| {
            let res = (|| {
                let p = sh.inode(parent.0)?;
                let c = sys::cname(&name)?;
                sys::mkdirat(raw(&*p.fd), &c, mode & !umask)?;
                sh.created(raw(&*p.fd), &c, Some(mode & !umask), uid, gid)
            })();
            Self::entry_job(res, reply)
        });
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, false, reply);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, true, reply);
    }

    fn symlink(&self, req: &Request, parent: INodeNo, link_name: &OsStr, target: &std::path::Path, reply: ReplyEntry) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let due = self.0.crash_due(IoOp::Create, || self.0.child_path(parent.0, link_name));
        let v = if due.is_none() { self.0.verdict(IoOp::Create, || self.0.child_path(parent.0, link_name)) } else { Verdict::Pass };
        let (name, target, uid, gid) = (link_name.to_owned(), target.as_os_str().to_owned(), req.uid(), req.gid());
        let work = move |sh: &Shared| {
            let res = (|| {
                let p = sh.inode(parent.0)?;
                let c = sys::cname(&name)?;
                sys::symlinkat(&sys::cname(&target)?, raw(&*p.fd), &c)?;
                sh.created(raw(&*p.fd), &c, None, uid, gid)
            })();
            if res.is_ok() {
                sh.note_create(parent.0, &name);
            }
            res
        };
        if let Some(due) = due {
            return self.crashing(due, reply, work, Self::entry_job);
        }
        self.run(v, reply, move |sh, reply| Self::entry_job(work(sh), reply));
    }

    fn rename(&self, _req: &Request, parent: INodeNo, name: &OsStr, newparent: INodeNo, newname: &OsStr, flags: RenameFlags, reply: ReplyEmpty) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let due = self.0.crash_due(IoOp::Rename, || self.0.child_path(parent.0, name));
        let v = if due.is_none() { self.0.verdict(IoOp::Rename, || self.0.child_path(parent.0, name)) } else { Verdict::Pass };
        let (name, newname) = (name.to_owned(), newname.to_owned());
        let work = move |sh: &Shared| sh.rename_op(parent.0, &name, newparent.0, &newname, flags.bits());
        if let Some(due) = due {
            return self.crashing(due, reply, work, Self::empty_job);
        }
        self.run(v, reply, move |sh, reply| Self::empty_job(work(sh), reply));
    }

    fn link(&self, _req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let due = self.0.crash_due(IoOp::Create, || self.0.child_path(newparent.0, newname));
        let v = if due.is_none() { self.0.verdict(IoOp::Create, || self.0.child_path(newparent.0, newname)) } else { Verdict::Pass };
        let newname: OsString = newname.to_owned();
        let work = move |sh: &Shared| {
            let res = (|| {
                let i = sh.inode(ino.0)?;
                let np = sh.inode(newparent.0)?;
                sys::link_fd(raw(&*i.fd), raw(&*np.fd), &sys::cname(&newname)?)?;
                sh.lookup(newparent.0, &newname)
            })();
            if res.is_ok() {
                sh.note_create(newparent.0, &newname);
            }
            res
        };
        if let Some(due) = due {
            return self.crashing(due, reply, work, Self::entry_job);
        }
        self.run(v, reply, move |sh, reply| Self::entry_job(work(sh), reply));
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let v = self.0.verdict(IoOp::Open, || self.0.node_path(ino.0));
        self.run(v, reply, move |sh, reply| match sh.open(ino.0, flags.0) {
            // No direct I/O and no keep-cache: mmap works, and each open starts from what the
            // layer says (which matters after unsynced writes were dropped). Direct I/O for
            // the files a read mistake is on: every read reaches the layer.
            Ok(fh) if sh.mistaken(ino.0) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO),
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.fail(e),
        });
    }

    fn read(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, size: u32, _flags: OpenFlags, _lock: Option<LockOwner>, reply: ReplyData) {
        let v = self.0.verdict(IoOp::Read, || self.0.node_path(ino.0));
        self.run(v, reply, move |sh, reply| {
            READ_BUF.with(|b| {
                let mut b = b.borrow_mut();
                if b.len() < size as usize {
                    b.resize(size as usize, 0);
                }
                let buf = &mut b[..size as usize];
                match sh.read(ino.0, fh.0 as RawFd, offset, buf) {
                    Ok(n) => reply.data(&buf[..n]),
                    Err(e) => reply.fail(e),
                }
            })
        });
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let answer = |res: SysResult<u32>, reply: ReplyWrite| match res {
            Ok(n) => reply.written(n),
            Err(e) => reply.fail(e),
        };
        if let Some(due) = self.0.crash_due(IoOp::Write, || self.0.node_path(ino.0)) {
            return self.crashing(due, reply, |sh| sh.write(ino.0, fh.0 as RawFd, offset, data, flags.0), answer);
        }
        let v = self.0.verdict(IoOp::Write, || self.0.node_path(ino.0));
        let job = move |sh: &Shared, data: &[u8], reply: ReplyWrite| answer(sh.write(ino.0, fh.0 as RawFd, offset, data, flags.0), reply);
        match v {
            // The data is borrowed from the request buffer: copied only when the write waits.
            Verdict::Pass => job(&self.0, data, reply),
            v => {
                let data = data.to_vec();
                self.run(v, reply, move |sh, reply| job(sh, &data, reply));
            }
        }
    }

    fn flush(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _lock: LockOwner, reply: ReplyEmpty) {
        let v = self.0.verdict(IoOp::Flush, || self.0.node_path(ino.0));
        self.run(v, reply, |_, reply| reply.ok());
    }

    fn release(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, _lock: Option<LockOwner>, _flush: bool, reply: ReplyEmpty) {
        sys::close(fh.0 as RawFd);
        reply.ok();
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let work = move |sh: &Shared| sh.fsync(ino.0, fh.0 as RawFd, datasync);
        if let Some(due) = self.0.crash_due(IoOp::Fsync, || self.0.node_path(ino.0)) {
            return self.crashing(due, reply, work, Self::empty_job);
        }
        let v = self.0.verdict(IoOp::Fsync, || self.0.node_path(ino.0));
        self.run(v, reply, move |sh, reply| Self::empty_job(work(sh), reply));
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let v = self.0.verdict(IoOp::Open, || self.0.node_path(ino.0));
        self.run(v, reply, move |sh, reply| match sh.opendir(ino.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.fail(e),
        });
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, reply: ReplyDirectory) {
        let v = self.0.verdict(IoOp::Readdir, || self.0.node_path(ino.0));
        self.run(v, reply, move |sh, reply| sh.readdir(fh.0, offset, reply));
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        lock(&self.0.dirs).remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, ino: INodeNo, fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let work = move |sh: &Shared| sh.fsyncdir(fh.0, datasync);
        if let Some(due) = self.0.crash_due(IoOp::Fsyncdir, || self.0.node_path(ino.0)) {
            return self.crashing(due, reply, work, Self::empty_job);
        }
        let v = self.0.verdict(IoOp::Fsyncdir, || self.0.node_path(ino.0));
        self.run(v, reply, move |sh, reply| Self::empty_job(work(sh), reply));
    }

    fn statfs(&self, _req: &Request, ino: INodeNo, reply: ReplyStatfs) {
        let v = self.0.verdict(IoOp::Statfs, || self.0.node_path(ino.0));
        self.run(v, reply, |sh, reply| match sh.statfs() {
            Ok(s) => reply.statfs(s.f_blocks, s.f_bfree, s.f_bavail, s.f_files, s.f_ffree, s.f_bsize as u32, s.f_namemax as u32, s.f_frsize as u32),
            Err(e) => reply.fail(e),
        });
    }

    fn create(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, flags: i32, reply: ReplyCreate) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let due = self.0.crash_due(IoOp::Create, || self.0.child_path(parent.0, name));
        let v = if due.is_none() { self.0.verdict(IoOp::Create, || self.0.child_path(parent.0, name)) } else { Verdict::Pass };
        let (name, uid, gid) = (name.to_owned(), req.uid(), req.gid());
        let work = move |sh: &Shared| {
            let res = sh.create(parent.0, &name, mode, umask, flags, uid, gid);
            if res.is_ok() {
                sh.note_create(parent.0, &name);
            }
            res
        };
        let answer = |res: SysResult<(FileAttr, u64)>, reply: ReplyCreate| match res {
            Ok((attr, fh)) => reply.created(&TTL, &attr, Generation(0), FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.fail(e),
        };
        if let Some(due) = due {
            return self.crashing(due, reply, work, answer);
        }
        self.run(v, reply, move |sh, reply| answer(work(sh), reply));
    }

    fn fallocate(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, length: u64, mode: i32, reply: ReplyEmpty) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let work = move |sh: &Shared| sh.fallocate(ino.0, fh.0 as RawFd, offset, length, mode);
        if let Some(due) = self.0.crash_due(IoOp::Fallocate, || self.0.node_path(ino.0)) {
            return self.crashing(due, reply, work, Self::empty_job);
        }
        let v = self.0.verdict(IoOp::Fallocate, || self.0.node_path(ino.0));
        self.run(v, reply, move |sh, reply| Self::empty_job(work(sh), reply));
    }
}

impl Fs {
    fn remove(&self, parent: INodeNo, name: &OsStr, dir: bool, reply: ReplyEmpty) {
        if self.0.fenced() {
            return reply.fail(libc::EIO);
        }
        let due = self.0.crash_due(IoOp::Unlink, || self.0.child_path(parent.0, name));
        let v = if due.is_none() { self.0.verdict(IoOp::Unlink, || self.0.child_path(parent.0, name)) } else { Verdict::Pass };
        let name = name.to_owned();
        let work = move |sh: &Shared| sh.remove_op(parent.0, &name, dir);
        if let Some(due) = due {
            return self.crashing(due, reply, work, Self::empty_job);
        }
        self.run(v, reply, move |sh, reply| Self::empty_job(work(sh), reply));
    }
}

//! Disk faults (FUSE layer) against real mounts: passthrough equals the real files, delays
//! and errors measured at the syscall, unsynced writes lost (and fsync'd ones under
//! fsync-lie), and a real etcd member started, killed and restarted on the layer (also in a
//! container, through a bind mount; that test needs a Docker engine, see `util::require`).

use crate::util::require_root;
use faultline::fault::disk::{self, DiskAction, DiskLayer, DiskRule, DurabilityMode, IoOp};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static N: AtomicU32 = AtomicU32::new(0);

/// A scratch directory with the layer mounted over it, and a descriptor of the real directory
/// opened before the mount (to look underneath while mounted).
pub(crate) struct Mounted {
    _tmp: tempfile::TempDir,
    pub(crate) dir: PathBuf,
    label: String,
    real: OwnedFd,
    layer: Option<DiskLayer>,
}

impl Mounted {
    pub(crate) fn new(prepare: impl FnOnce(&Path)) -> Mounted {
        require_root();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        fs::create_dir(&dir).unwrap();
        prepare(&dir);
        let real = OwnedFd::from(File::open(&dir).unwrap());
        let label = format!("faultline-test{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let layer = DiskLayer::mount(&dir, &label).expect("mount the layer");
        Mounted { _tmp: tmp, dir, label, real, layer: Some(layer) }
    }

    pub(crate) fn layer(&self) -> &DiskLayer {
        self.layer.as_ref().unwrap()
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The real file underneath the mount (empty if missing).
    pub(crate) fn underneath(&self, rel: &str) -> Vec<u8> {
        let c = CString::new(rel).unwrap();
        let fd = unsafe { libc::openat(self.real.as_raw_fd(), c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Vec::new();
        }
        let mut f = unsafe { File::from_raw_fd(fd) };
        let mut v = Vec::new();
        f.read_to_end(&mut v).unwrap();
        v
    }

    /// The size of the real file underneath the mount.
    pub(crate) fn underneath_len(&self, rel: &str) -> u64 {
        let c = CString::new(rel).unwrap();
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::fstatat(self.real.as_raw_fd(), c.as_ptr(), &mut st, 0) }, 0, "{rel} underneath");
        st.st_size as u64
    }

    /// Unmount and check that nothing is left at the mount point.
    pub(crate) fn unmount(&mut self) {
        if let Some(l) = self.layer.take() {
            l.unmount().expect("unmount");
        }
        assert_not_mounted(&self.dir, &self.label);
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(l) = self.layer.take() {
            let _ = l.unmount();
        }
    }
}

fn assert_not_mounted(dir: &Path, label: &str) {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let needle = format!(" {} ", dir.display());
    assert!(!info.lines().any(|l| l.contains(&needle)), "{} still mounted:\n{info}", dir.display());
    assert!(disk::list_mounts(label).is_empty());
}

fn errno_of(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

fn rule(id: u32, action: DiskAction, ops: &[IoOp], path: Option<&str>) -> DiskRule {
    DiskRule { id, action, ops: ops.to_vec(), percent: 100.0, path: path.map(str::to_string), seed: 1 }
}

#[test]
fn passthrough_equals_the_real_files() {
    let mut m = Mounted::new(|d| fs::write(d.join("before.txt"), b"written before the mount").unwrap());
    assert_eq!(fs::read(m.path("before.txt")).unwrap(), b"written before the mount");
    assert!(disk::list_mounts(&m.label).contains(&m.dir), "{:?}", disk::list_mounts("faultline-"));

    // write, read, rename, fsync.
    fs::create_dir_all(m.path("member/wal")).unwrap();
    let mut f = File::create(m.path("member/wal/0.tmp")).unwrap();
    f.write_all(b"hello wal").unwrap();
    f.sync_data().unwrap();
    f.sync_all().unwrap();
    drop(f);
    fs::rename(m.path("member/wal/0.tmp"), m.path("member/wal/0.wal")).unwrap();
    File::open(m.path("member/wal")).unwrap().sync_all().unwrap(); // fsyncdir
    assert_eq!(fs::read(m.path("member/wal/0.wal")).unwrap(), b"hello wal");
    assert_eq!(m.underneath("member/wal/0.wal"), b"hello wal");
    assert!(m.underneath("member/wal/0.tmp").is_empty());
    let names: Vec<String> = fs::read_dir(m.path("member/wal")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["0.wal".to_string()]);

    // fallocate (etcd preallocates its WAL) and truncate.
    let f = OpenOptions::new().read(true).write(true).open(m.path("member/wal/0.wal")).unwrap();
    assert_eq!(unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, 1 << 20) }, 0, "{}", std::io::Error::last_os_error());
    assert_eq!(f.metadata().unwrap().len(), 1 << 20);
    f.set_len(4096).unwrap();
    assert_eq!(fs::metadata(m.path("member/wal/0.wal")).unwrap().len(), 4096);
    assert_eq!(&m.underneath("member/wal/0.wal")[..9], b"hello wal");

    // flock as etcd takes it (LOCK_EX | LOCK_NB): a second open file cannot have it too.
    let g = File::open(m.path("member/wal/0.wal")).unwrap();
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    assert_eq!(unsafe { libc::flock(g.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, -1);
    assert_eq!(errno_of(&std::io::Error::last_os_error()), libc::EWOULDBLOCK);
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_UN) }, 0);
    assert_eq!(unsafe { libc::flock(g.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    // fcntl locks (bbolt can use them) work as well.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as i16;
    fl.l_whence = libc::SEEK_SET as i16;
    assert_eq!(unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) }, 0);
    drop(g);

    // A read-only shared mmap (bbolt's) sees a later pwrite through another descriptor.
    f.write_all_at(&[b'x'; 4096], 0).unwrap();
    let r = File::open(m.path("member/wal/0.wal")).unwrap();
    let p = unsafe { libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_SHARED, r.as_raw_fd(), 0) };
    assert_ne!(p, libc::MAP_FAILED, "{}", std::io::Error::last_os_error());
    let page = unsafe { std::slice::from_raw_parts(p as *const u8, 4096) };
    assert_eq!(page[0], b'x');
    f.write_all_at(b"y", 0).unwrap();
    f.sync_data().unwrap();
    assert_eq!(page[0], b'y');
    unsafe { libc::munmap(p, 4096) };
    drop((f, r));

    // statfs, unlink, rmdir.
    let mut sv: libc::statvfs = unsafe { std::mem::zeroed() };
    let c = CString::new(m.dir.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut sv) }, 0);
    assert!(sv.f_blocks > 0);
    fs::create_dir(m.path("gone")).unwrap();
    fs::write(m.path("gone/f"), b"1").unwrap();
    fs::remove_file(m.path("gone/f")).unwrap();
    fs::remove_dir(m.path("gone")).unwrap();
    assert!(!m.path("gone").exists());
    // A directory too big for one readdir reply.
    fs::create_dir(m.path("many")).unwrap();
    for i in 0..300 {
        File::create(m.path(&format!("many/file-with-a-longish-name-{i:04}"))).unwrap();
    }
    assert_eq!(fs::read_dir(m.path("many")).unwrap().count(), 300);

    m.unmount();
    // The data is in the real directory.
    let real = m.dir.join("member/wal/0.wal");
    let data = fs::read(&real).unwrap();
    assert_eq!(data.len(), 4096);
    assert_eq!(&data[..2], b"yx");
    assert_eq!(fs::read(m.dir.join("before.txt")).unwrap(), b"written before the mount");
    assert!(!m.dir.join("gone").exists());
}

#[test]
fn io_latency_delays_fsync_under_the_glob_only() {
    let mut m = Mounted::new(|d| {
        fs::create_dir(d.join("wal")).unwrap();
        fs::create_dir(d.join("snap")).unwrap();
    });
    let delay = Duration::from_millis(200);
    m.layer().set_rules(vec![rule(1, DiskAction::Delay { delay, jitter: Duration::ZERO }, &[IoOp::Fsync], Some("wal/*"))]);
    let mut w = File::create(m.path("wal/a.wal")).unwrap();
    let mut s = File::create(m.path("snap/db")).unwrap();
    w.write_all(b"entry").unwrap();
    s.write_all(b"page").unwrap();

    let t = Instant::now();
    w.sync_data().unwrap();
    let slow = t.elapsed();
    let t = Instant::now();
    s.sync_data().unwrap();
    let fast = t.elapsed();
    assert!(slow >= delay, "fsync under wal/* took {slow:?}");
    assert!(fast < Duration::from_millis(100), "fsync elsewhere took {fast:?}");

    // A delayed fsync holds up no other request.
    let path = m.path("wal/a.wal");
    let bg = std::thread::spawn(move || {
        let f = File::open(path).unwrap();
        let t = Instant::now();
        f.sync_all().unwrap();
        t.elapsed()
    });
    std::thread::sleep(Duration::from_millis(30));
    let t = Instant::now();
    for i in 0..20u8 {
        s.write_all(&[i]).unwrap();
        fs::metadata(m.path("snap/db")).unwrap();
    }
    let others = t.elapsed();
    assert!(bg.join().unwrap() >= delay);
    assert!(others < Duration::from_millis(100), "40 other requests took {others:?} while an fsync was delayed");

    let c = m.layer().counters();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].id, c[0].seen, c[0].delayed, c[0].failed), (1, 2, 2, 0), "{c:?}");
    // A delayed write keeps its data.
    m.layer().set_rules(vec![rule(2, DiskAction::Delay { delay: Duration::from_millis(50), jitter: Duration::ZERO }, &[IoOp::Write], None)]);
    let t = Instant::now();
    w.write_all(b" and more").unwrap();
    assert!(t.elapsed() >= Duration::from_millis(50));
    assert_eq!(fs::read(m.path("wal/a.wal")).unwrap(), b"entry and more");
    m.layer().set_rules(Vec::new());
    let t = Instant::now();
    w.sync_data().unwrap();
    assert!(t.elapsed() < Duration::from_millis(100));
    drop((w, s));
    m.unmount();
}

#[test]
fn io_error_fails_writes_with_the_errno() {
    let mut m = Mounted::new(|_| {});
    let mut f = File::create(m.path("f")).unwrap();
    f.write_all(b"ok ").unwrap();
    m.layer().set_rules(vec![rule(7, DiskAction::Fail { errno: libc::EIO }, &[IoOp::Write], None)]);
    let e = f.write_all(b"lost").unwrap_err();
    assert_eq!(errno_of(&e), libc::EIO, "{e}");
    // Another errno, by name.
    m.layer().set_rules(vec![rule(8, DiskAction::Fail { errno: disk::parse_errno("ENOSPC").unwrap() }, &[IoOp::Write], None)]);
    assert_eq!(errno_of(&f.write_all(b"lost").unwrap_err()), libc::ENOSPC);
    m.layer().set_rules(Vec::new());
    f.write_all(b"again").unwrap();
    drop(f);
    assert_eq!(fs::read(m.path("f")).unwrap(), b"ok again");
    let c = m.layer().counters();
    assert_eq!(c.iter().map(|c| (c.id, c.failed)).collect::<Vec<_>>(), vec![(7, 1), (8, 1)]);
    m.unmount();
}

#[test]
fn lose_unsynced_drops_what_was_not_fsynced() {
    let mut m = Mounted::new(|_| {});
    m.layer().set_mode(DurabilityMode::LoseUnsynced);
    let mut f = File::create(m.path("log")).unwrap();
    f.write_all(b"AAAA").unwrap();
    f.sync_data().unwrap();
    f.write_all(b"BBBB").unwrap();
    // Reads and stat see the cache; the real file does not have B yet.
    assert_eq!(fs::read(m.path("log")).unwrap(), b"AAAABBBB");
    assert_eq!(fs::metadata(m.path("log")).unwrap().len(), 8);
    assert_eq!(m.underneath("log"), b"AAAA");
    drop(f);
    let s = m.layer().stats();
    assert_eq!((s.unsynced_files, s.unsynced_bytes), (1, 4));

    let d = m.layer().drop_unsynced();
    assert_eq!((d.files, d.bytes, d.writes), (1, 4, 1));
    assert_eq!(fs::read(m.path("log")).unwrap(), b"AAAA");
    assert_eq!(fs::metadata(m.path("log")).unwrap().len(), 4);

    // flush() makes cached writes durable instead.
    fs::OpenOptions::new().append(true).open(m.path("log")).unwrap().write_all(b"CC").unwrap();
    assert_eq!(m.underneath("log"), b"AAAA");
    m.layer().flush().unwrap();
    assert_eq!(m.underneath("log"), b"AAAACC");
    assert_eq!(m.layer().drop_unsynced().bytes, 0);
    m.unmount();
    // What a program reading the real directory sees afterwards.
    assert_eq!(fs::read(m.dir.join("log")).unwrap(), b"AAAACC");
}

#[test]
fn unmount_writes_out_what_is_cached() {
    let mut m = Mounted::new(|_| {});
    m.layer().set_mode(DurabilityMode::LoseUnsynced);
    fs::write(m.path("f"), b"kept").unwrap();
    assert!(m.underneath("f").is_empty());
    m.unmount();
    assert_eq!(fs::read(m.dir.join("f")).unwrap(), b"kept");
}

#[test]
fn fsync_lie_loses_fsynced_data() {
    let mut m = Mounted::new(|d| fs::write(d.join("old"), b"old").unwrap());
    m.layer().set_mode(DurabilityMode::FsyncLie);
    let mut f = File::create(m.path("f")).unwrap();
    f.write_all(b"synced?").unwrap();
    f.sync_all().unwrap();
    assert_eq!(m.underneath("f"), b"");
    drop(f);
    let d = m.layer().drop_unsynced();
    assert_eq!((d.files, d.bytes), (1, 7));
    assert_eq!(fs::read(m.path("f")).unwrap(), b"");
    m.unmount();
    assert_eq!(fs::read(m.dir.join("f")).unwrap(), b"");
    assert_eq!(fs::read(m.dir.join("old")).unwrap(), b"old");
}

/// Two different free ports (both listeners are held while the second is taken: two ports
/// taken one after the other can be the same one, and etcd then fails to bind).
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (a.local_addr().unwrap().port(), b.local_addr().unwrap().port())
}

/// `etcdctl` (API 3) against `client`, with short timeouts.
fn etcdctl(client: &str, args: &[&str]) -> std::process::Output {
    Command::new("etcdctl")
        .env_clear()
        .env("ETCDCTL_API", "3")
        .env("PATH", "/usr/bin:/bin")
        .arg(format!("--endpoints={client}"))
        .args(["--dial-timeout=1s", "--command-timeout=3s"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run etcdctl")
}

struct Etcd {
    child: Child,
    client: String,
    log: PathBuf,
}

impl Etcd {
    fn start(data: &Path, log: &Path, client_port: u16, peer_port: u16) -> Etcd {
        let client = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let out = OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new("/usr/bin/etcd")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .args(["--name", "n1", "--logger", "zap", "--log-outputs", "stderr"])
            .arg(format!("--data-dir={}", data.display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=n1={peer}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start /usr/bin/etcd");
        Etcd { child, client, log: log.to_path_buf() }
    }

    fn ctl(&self, args: &[&str]) -> std::process::Output {
        etcdctl(&self.client, args)
    }

    fn put_until_ok(&self, key: &str, value: &str, within: Duration) {
        let end = Instant::now() + within;
        loop {
            let o = self.ctl(&["put", key, value]);
            if o.status.success() {
                return;
            }
            assert!(Instant::now() < end, "etcd on the layer never took a put: {}\nlog:\n{}", String::from_utf8_lossy(&o.stderr), self.log_text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn exited_within(&mut self, within: Duration) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn etcd_runs_restarts_and_fails_on_the_layer() {
    let mut m = Mounted::new(|_| {});
    let log = m._tmp.path().join("etcd.log");
    let (cp, pp) = free_ports();

    let mut e = Etcd::start(&m.dir, &log, cp, pp);
    e.put_until_ok("/disk/k", "v1", Duration::from_secs(10));
    e.kill(); // SIGKILL

    let mut e = Etcd::start(&m.dir, &log, cp, pp);
    e.put_until_ok("/disk/k2", "v2", Duration::from_secs(10));
    let got = e.ctl(&["get", "/disk/k", "--print-value-only"]);
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "v1", "after a restart on the layer: {}", e.log_text());
    // The data is in the real directory underneath: WAL segment and bbolt db.
    let wal: Vec<String> = fs::read_dir(m.path("member/wal")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(wal.iter().any(|n| n.ends_with(".wal")), "{wal:?}");
    let first = "member/wal/0000000000000000-0000000000000000.wal";
    assert_eq!(m.underneath_len(first), 64_000_000, "the preallocated WAL segment, underneath");
    assert_eq!(fs::metadata(m.path(first)).unwrap().len(), 64_000_000, "the preallocated WAL segment, through the layer");

    // EIO on the WAL's fsync: the put fails and etcd says why.
    m.layer().set_rules(vec![rule(1, DiskAction::Fail { errno: libc::EIO }, &[IoOp::Fsync], Some("member/wal/*"))]);
    let put = e.ctl(&["put", "/disk/k3", "v3"]);
    assert!(!put.status.success(), "a put succeeded while the WAL's fsync failed");
    let exited = e.exited_within(Duration::from_secs(5));
    let text = e.log_text();
    // etcd 3.4: {"level":"fatal",...,"msg":"failed to save Raft hard state and entries","error":"input/output error"}
    assert!(
        text.lines().any(|l| l.contains("failed to save Raft hard state and entries") && l.contains("input/output error")),
        "etcd's log does not show the WAL's EIO:\n{text}"
    );
    assert!(exited, "etcd kept running after its WAL fsync failed");
    let c = m.layer().counters();
    assert!(c[0].failed >= 1, "{c:?}");
    e.kill();
    drop(e);
    m.unmount();
}

#[test]
fn the_cache_is_bounded_by_forced_flushes() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    fs::create_dir(&dir).unwrap();
    let label = format!("faultline-test{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let layer = DiskLayer::mount_with_limit(&dir, &label, 64 << 10).expect("mount the layer");
    layer.set_mode(DurabilityMode::LoseUnsynced);
    let mut f = File::create(dir.join("big")).unwrap();
    for i in 0..25u8 {
        f.write_all(&[i; 4096]).unwrap(); // 100 KiB in all, never fsync'd
    }
    drop(f);
    let s = layer.stats();
    assert_eq!(s.forced_flushes, 1, "{s:?}");
    assert_eq!(s.forced_flush_bytes, 17 * 4096, "the write that crossed 64 KiB flushed everything: {s:?}");
    assert_eq!(s.unsynced_bytes, 8 * 4096);
    let d = layer.drop_unsynced();
    assert_eq!(d.bytes, 8 * 4096);
    assert_eq!(fs::metadata(dir.join("big")).unwrap().len(), 17 * 4096);
    layer.unmount().unwrap();
    assert_not_mounted(&dir, &label);
}

#[test]
fn force_unmount_detaches_a_layer_that_list_mounts_finds() {
    let mut m = Mounted::new(|_| {});
    let prefix = format!("faultline-test{}-", std::process::id());
    assert!(disk::list_mounts(&prefix).contains(&m.dir));
    disk::force_unmount(&m.dir).unwrap();
    assert!(!disk::list_mounts(&prefix).contains(&m.dir));
    disk::force_unmount(&m.dir).expect("not mounted is not an error");
    m.unmount(); // the handle copes with a mount someone else removed
}

#[test]
fn etcd_keeps_acknowledged_writes_when_unsynced_ones_are_dropped() {
    let mut m = Mounted::new(|_| {});
    m.layer().set_mode(DurabilityMode::LoseUnsynced);
    let log = m._tmp.path().join("etcd.log");
    let (cp, pp) = free_ports();
    let mut e = Etcd::start(&m.dir, &log, cp, pp);
    e.put_until_ok("/disk/k0", "v0", Duration::from_secs(10));
    for i in 1..20 {
        let o = e.ctl(&["put", &format!("/disk/k{i}"), &format!("v{i}")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    e.kill(); // power loss: kill, then drop what was not fsync'd
    let d = m.layer().drop_unsynced();
    let mut e = Etcd::start(&m.dir, &log, cp, pp);
    e.put_until_ok("/disk/after", "x", Duration::from_secs(10));
    let got = e.ctl(&["get", "/disk/k", "--prefix", "--keys-only"]);
    let keys = String::from_utf8_lossy(&got.stdout).split_whitespace().filter(|k| k.starts_with("/disk/k")).count();
    assert_eq!(keys, 20, "acknowledged puts lost after dropping {d:?}:\n{}", e.log_text());
    e.kill();
    drop(e);
    m.unmount();
}

#[test]
fn etcd_in_a_container_uses_the_layer_through_a_bind_mount() {
    let Some(image) = crate::util::etcd_image() else { return };
    let mut m = Mounted::new(|_| {});
    // Count what the container's etcd does through the layer (a rule that never fires).
    m.layer().set_rules(vec![DiskRule { percent: 0.0, ..rule(1, DiskAction::Fail { errno: libc::EIO }, &[IoOp::Fsync], Some("etcd/member/wal/*")) }]);
    let (cp, pp) = free_ports();
    let name = format!("{}-etcd", m.label);
    let client = format!("http://127.0.0.1:{cp}");
    let peer = format!("http://127.0.0.1:{pp}");
    // Mounted before the container is created: its bind mount of the directory is the layer.
    let run = Command::new("docker")
        .args(["run", "-d", "--rm", "--name", &name, "--network", "host", "-v"])
        .arg(format!("{}:/data", m.dir.display()))
        .arg(&image)
        .args(["--name", "n1", "--data-dir", "/data/etcd", "--listen-client-urls", &client, "--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer, "--initial-cluster", &format!("n1={peer}")])
        .output()
        .expect("docker run");
    assert!(run.status.success(), "docker run: {}", String::from_utf8_lossy(&run.stderr));
    let end = Instant::now() + Duration::from_secs(15);
    let ok = loop {
        if etcdctl(&client, &["put", "/disk/c", "v"]).status.success() {
            break true;
        }
        if Instant::now() > end {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let logs =
        Command::new("docker").args(["logs", "--tail", "20", &name]).output().map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_default();
    let _ = Command::new("docker").args(["kill", &name]).output();
    assert!(ok, "etcd in a container on the layer never took a put:\n{logs}");
    let c = m.layer().counters();
    assert!(c[0].seen >= 1, "the container's WAL fsyncs did not go through the layer: {c:?}");
    let end = Instant::now() + Duration::from_secs(10);
    while Command::new("docker").args(["inspect", &name]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success()) {
        assert!(Instant::now() < end, "container {name} did not go away");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(m.underneath_len("etcd/member/snap/db") > 0);
    m.unmount();
}

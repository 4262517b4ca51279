//! The NFQUEUE userspace shaper, for kernels without `sch_netem`.
//!
//! An iptables rule in the member's namespace sends the packets to shape to a queue:
//!
//! ```text
//! iptables -w -A OUTPUT -o eth0 [-d PEER/32] [-p tcp --dport|--sport PORT] -m mark ! --mark 0x666c7368 \
//!     -m comment --comment LABEL -j NFQUEUE --queue-num N --queue-bypass
//! ```
//!
//! and a dedicated thread that has entered the namespace (queues and their netlink sockets
//! are per namespace) binds queue `N` with the pure-Rust `nfq` crate and decides each
//! packet's fate:
//!
//! - `loss`: the DROP verdict;
//! - `reorder`, a zero delay, or more than [`MAX_HELD`] held: the ACCEPT verdict at once;
//! - otherwise (a delay, or `duplicate`): the packet is copied, its original gets the DROP
//!   verdict, and the copy waits in a min-heap keyed by release time; when due it is sent
//!   through a raw socket of the namespace (twice when duplicated), carrying the mark
//!   [`RESENT_MARK`] that the rule excludes, so it is not queued again.
//!
//! Why copy instead of holding the verdict: a packet held in the queue still belongs to the
//! socket that sent it, and TCP Small Queues lets a TCP socket have only about two segments
//! (or 1 ms of its pacing rate) queued inside the host. Held verdicts therefore cap a TCP
//! connection at ~2 segments per delay: measured here, 4 MiB through a 50 ms delay took 54 s
//! (77 KB/s). netem avoids this by detaching the packet from its socket
//! (`skb_orphan_partial`); dropping the original and sending a copy does the same from
//! userspace. The copy is the packet as it left the stack (checksums completed by the
//! kernel, segments already split from GSO super-packets), re-sent with its own headers
//! (`IPPROTO_RAW`); it loses only the original's firewall mark and socket priority.
//!
//! Failure modes fail open for packets not yet taken, never closed: `--queue-bypass` lets
//! packets through while no shaper is bound (it died, or a crash left the rule behind); the
//! queue's fail-open flag lets them through when the kernel queue ([`MAX_HELD`] + 1024) or
//! the socket's buffer is full. Copies held when the shaper stops are sent at once.
//!
//! The thread sleeps in `ppoll` on the queue's socket and an eventfd (the stop signal), with
//! the time until the next release as timeout: no busy waiting, and a stop is immediate.
//! Removal deletes the rules first, then stops the thread, which sends what it holds and
//! accepts what it finds queued before it closes the socket (closing it with packets
//! unanswered would make the kernel drop them).

use super::{Shape, ShapeCounters, DEV, MAX_HELD};
use crate::cluster::netns;
use crate::error::Error;
use hdrhistogram::Histogram;
use nfq::{Queue, Verdict};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BinaryHeap;
use std::hash::{Hash, Hasher};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::thread::JoinHandleExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Queue numbers are picked in `BASE..BASE + SPAN`, away from 0 (what other tools default to).
const BASE: u16 = 0x4000;
const SPAN: u16 = 0x4000;
/// Packets read per wake-up before due releases are looked at again.
const BATCH: usize = 256;
/// The kernel queue's length: what the shaper may hold, and room for what it has not read.
const KERNEL_QUEUE: u32 = MAX_HELD as u32 + 1024;
/// The socket's receive buffer (room for several thousand unread packet notices).
const RCVBUF: libc::c_int = 4 << 20;
/// The name of the shaper threads (15 characters, the kernel's limit).
pub(super) const THREAD_NAME: &str = "faultline-shape";
/// The firewall mark of the copies the shaper sends ("flsh"); the rules skip it.
pub(super) const RESENT_MARK: u32 = 0x666c_7368;
/// How many of a packet's bytes are copied to userspace when the shape holds packets: all
/// (they are re-sent). A shape that never holds (loss only) copies metadata only.
const COPY_RANGE: u16 = 0xffff;
/// Spare packet buffers kept for reuse (beyond it, released buffers are freed).
const POOL: usize = 1024;
/// Highest hold time the histogram tracks, µs.
const MAX_HOLD_US: u64 = 120_000_000;

/// A per-process counter mixed into queue numbers, so two shapers with one label differ.
static STARTED: AtomicU32 = AtomicU32::new(0);

/// The iptables rule specifications (what follows `-A` or `-D`): one per destination and
/// port direction.
pub(super) fn rules(shape: &Shape, dev: &str, label: &str, queue: u16) -> Vec<Vec<String>> {
    let dsts: Vec<Option<String>> = if shape.peers.is_empty() { vec![None] } else { shape.peers.iter().map(|p| Some(format!("{p}/32"))).collect() };
    let ports: Vec<Option<(&str, u16)>> = match shape.ports.port() {
        None => vec![None],
        Some(p) => vec![Some(("--dport", p)), Some(("--sport", p))],
    };
    let mut out = Vec::new();
    for d in &dsts {
        for p in &ports {
            let mut r = vec!["OUTPUT".to_string(), "-o".into(), dev.into()];
            if let Some(d) = d {
                r.extend(["-d".into(), d.clone()]);
            }
            if let Some((dir, port)) = p {
                r.extend(["-p".into(), "tcp".into(), dir.to_string(), port.to_string()]);
            }
            r.extend(["-m", "mark", "!", "--mark"].map(String::from));
            r.push(format!("{RESENT_MARK:#x}"));
            r.extend(["-m", "comment", "--comment", label, "-j", "NFQUEUE", "--queue-num"].map(String::from));
            r.extend([queue.to_string(), "--queue-bypass".into()]);
            out.push(r);
        }
    }
    out
}

/// The queue numbers to try for `label`, in order: a hash of the label and of a per-process
/// counter, then the following numbers (a queue is per namespace, so they only collide with
/// another shaping on the same member).
fn queue_candidates(label: &str, started: u32) -> impl Iterator<Item = u16> {
    let mut h = std::hash::DefaultHasher::new();
    label.hash(&mut h);
    started.hash(&mut h);
    let first = (h.finish() % SPAN as u64) as u16;
    (0..SPAN).map(move |k| BASE + (first + k) % SPAN)
}

/// Counters the thread updates and anyone may read.
struct Stats {
    seen: AtomicU64,
    delayed: AtomicU64,
    dropped: AtomicU64,
    reordered: AtomicU64,
    duplicated: AtomicU64,
    overflow: AtomicU64,
    held: AtomicU64,
    max_held: AtomicU64,
    errors: AtomicU64,
    cpu_final_ns: AtomicU64,
    finished: AtomicBool,
    /// Hold times, µs (locked once per batch, never while the thread sleeps).
    hold: Mutex<Histogram<u64>>,
}

impl Stats {
    fn new() -> Result<Stats, Error> {
        let h = Histogram::new_with_bounds(1, MAX_HOLD_US, 3).map_err(|e| Error::harness(format!("hold-time histogram: {e}")))?;
        Ok(Stats {
            seen: AtomicU64::new(0),
            delayed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            reordered: AtomicU64::new(0),
            duplicated: AtomicU64::new(0),
            overflow: AtomicU64::new(0),
            held: AtomicU64::new(0),
            max_held: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            cpu_final_ns: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            hold: Mutex::new(h),
        })
    }

    fn snapshot(&self, cpu_ns: u64) -> ShapeCounters {
        let h = self.hold.lock().unwrap_or_else(|p| p.into_inner());
        let (p50, p99, max, mean) =
            if h.is_empty() { (0, 0, 0, 0) } else { (h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max(), h.mean().round() as u64) };
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ShapeCounters {
            seen: l(&self.seen),
            delayed: l(&self.delayed),
            dropped: l(&self.dropped),
            reordered: l(&self.reordered),
            duplicated: l(&self.duplicated),
            overflow: l(&self.overflow),
            held: l(&self.held),
            max_held: l(&self.max_held),
            errors: l(&self.errors),
            hold_p50_us: p50,
            hold_p99_us: p99,
            hold_max_us: max,
            hold_mean_us: mean,
            cpu_us: cpu_ns / 1000,
        }
    }
}

/// The random draws for each packet. `correlation` ρ makes each draw repeat the previous
/// one with probability ρ and be fresh otherwise: the long-run rates and the spread of the
/// delays stay what was asked, and consecutive packets agree more often (lag-one
/// correlation ρ).
pub(super) struct Draws {
    rng: SmallRng,
    rho: f64,
    loss: f64,
    reorder: f64,
    duplicate: f64,
    base_ns: i64,
    jitter_ns: i64,
    last_loss: bool,
    last_reorder: bool,
    last_duplicate: bool,
    last_delay_ns: i64,
}

impl Draws {
    pub(super) fn new(shape: &Shape, rng: SmallRng) -> Draws {
        let base_ns = shape.delay.as_nanos().min(i64::MAX as u128) as i64;
        Draws {
            rng,
            rho: shape.correlation / 100.0,
            loss: shape.loss / 100.0,
            reorder: shape.reorder / 100.0,
            duplicate: shape.duplicate / 100.0,
            base_ns,
            jitter_ns: shape.jitter.as_nanos().min(i64::MAX as u128 / 4) as i64,
            last_loss: false,
            last_reorder: false,
            last_duplicate: false,
            last_delay_ns: base_ns,
        }
    }

    fn repeat(&mut self) -> bool {
        self.rho > 0.0 && self.rng.random::<f64>() < self.rho
    }

    fn event(rng: &mut SmallRng, repeat: bool, last: &mut bool, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if !repeat {
            *last = p >= 1.0 || rng.random::<f64>() < p;
        }
        *last
    }

    /// Whether to drop this packet.
    pub(super) fn lose(&mut self) -> bool {
        if self.loss <= 0.0 {
            return false;
        }
        let r = self.repeat();
        Self::event(&mut self.rng, r, &mut self.last_loss, self.loss)
    }

    /// Whether to send this packet at once, ahead of the held ones.
    pub(super) fn reorder(&mut self) -> bool {
        if self.reorder <= 0.0 {
            return false;
        }
        let r = self.repeat();
        Self::event(&mut self.rng, r, &mut self.last_reorder, self.reorder)
    }

    /// Whether some packets will be held or duplicated (and so must be copied whole).
    pub(super) fn holds(&self) -> bool {
        self.base_ns > 0 || self.jitter_ns > 0 || self.duplicate > 0.0
    }

    /// Whether to send this packet twice.
    pub(super) fn duplicate(&mut self) -> bool {
        if self.duplicate <= 0.0 {
            return false;
        }
        let r = self.repeat();
        Self::event(&mut self.rng, r, &mut self.last_duplicate, self.duplicate)
    }

    /// This packet's delay: uniform in `delay ± jitter`, never below zero.
    pub(super) fn delay(&mut self) -> Duration {
        if self.jitter_ns > 0 && !self.repeat() {
            self.last_delay_ns = self.base_ns - self.jitter_ns + self.rng.random_range(0..=2 * self.jitter_ns);
        }
        Duration::from_nanos(self.last_delay_ns.max(0) as u64)
    }
}

/// A copy waiting for its release time; the heap is a max-heap, so the order is reversed
/// to put the earliest release (then the earliest arrival) on top.
struct Held {
    due: Instant,
    seq: u64,
    since: Instant,
    /// 1, or 2 when duplicated.
    copies: u8,
    bytes: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        self.due == o.due && self.seq == o.seq
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.due, o.seq).cmp(&(self.due, self.seq))
    }
}

/// An NFQUEUE shaper in force: its rules and its thread.
pub(super) struct Shaper {
    ns: PathBuf,
    queue: u16,
    rules: Vec<Vec<String>>,
    rules_in: usize,
    stats: Arc<Stats>,
    stop: Arc<OwnedFd>,
    thread: Option<JoinHandle<()>>,
    cpu_clock: Option<libc::clockid_t>,
}

fn iptables(ns: &Path, op: &str, rule: &[String]) -> Result<String, Error> {
    let mut args = vec!["-w", op];
    args.extend(rule.iter().map(String::as_str));
    netns::exec(ns, "iptables", &args)
}

fn eventfd() -> Result<OwnedFd, Error> {
    // SAFETY: eventfd returns a new descriptor we own, or -1.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(Error::harness(format!("eventfd: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: fd is valid and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Shaper {
    /// Start the thread inside `ns`, bind a queue, then add the rules. On error nothing is
    /// left behind.
    pub(super) fn start(ns: &Path, shape: &Shape, label: &str) -> Result<Shaper, Error> {
        let stats = Arc::new(Stats::new()?);
        let stop = Arc::new(eventfd()?);
        let (tx, rx) = mpsc::channel();
        let started = STARTED.fetch_add(1, Ordering::Relaxed);
        let draws = Draws::new(shape, SmallRng::from_os_rng());
        let (ns2, label2, stats2, stop2) = (ns.to_path_buf(), label.to_string(), stats.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || run(&ns2, &label2, started, draws, &stats2, stop2.as_raw_fd(), tx))
            .map_err(|e| Error::harness(format!("failed to start the shaper thread: {e}")))?;
        let mut cpu_clock: libc::clockid_t = 0;
        // SAFETY: the thread is alive (it has not been joined); cpu_clock is a valid out pointer.
        let clock_ok = unsafe { libc::pthread_getcpuclockid(thread.as_pthread_t(), &mut cpu_clock) } == 0;
        let mut s = Shaper {
            ns: ns.to_path_buf(),
            queue: 0,
            rules: Vec::new(),
            rules_in: 0,
            stats,
            stop,
            thread: Some(thread),
            cpu_clock: clock_ok.then_some(cpu_clock),
        };
        let ready = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| Err(Error::harness("the shaper thread did not start within 10 s")));
        s.queue = match ready {
            Ok(q) => q,
            Err(e) => {
                let _ = s.shutdown();
                return Err(e.context(format!("failed to start the NFQUEUE shaper in {}", ns.display())));
            }
        };
        s.rules = rules(shape, DEV, label, s.queue);
        for i in 0..s.rules.len() {
            if let Err(e) = iptables(ns, "-A", &s.rules[i]) {
                let _ = s.shutdown();
                return Err(e.context(format!("failed to add the NFQUEUE rule for {} in {}", shape.describe(), ns.display())));
            }
            s.rules_in = i + 1;
        }
        Ok(s)
    }

    /// The queue number bound.
    pub(super) fn queue_num(&self) -> u16 {
        self.queue
    }

    fn cpu_ns(&self) -> u64 {
        if !self.stats.finished.load(Ordering::Acquire) {
            if let (Some(clock), Some(_)) = (self.cpu_clock, &self.thread) {
                let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                // SAFETY: the thread has not been joined, so its clock id names it.
                if unsafe { libc::clock_gettime(clock, &mut ts) } == 0 {
                    return ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
                }
            }
        }
        self.stats.cpu_final_ns.load(Ordering::Acquire)
    }

    /// What the shaper did so far.
    pub(super) fn counters(&self) -> ShapeCounters {
        self.stats.snapshot(self.cpu_ns())
    }

    /// Remove the rules, stop the thread, and return the final counters.
    pub(super) fn stop(mut self) -> Result<ShapeCounters, Error> {
        self.shutdown()?;
        Ok(self.stats.snapshot(self.stats.cpu_final_ns.load(Ordering::Acquire)))
    }

    /// Idempotent: delete the rules added (last first), then signal and join the thread.
    fn shutdown(&mut self) -> Result<(), Error> {
        let mut first_err = None;
        while self.rules_in > 0 {
            if let Err(e) = iptables(&self.ns, "-D", &self.rules[self.rules_in - 1]) {
                first_err.get_or_insert(e);
            }
            self.rules_in -= 1;
        }
        if let Some(t) = self.thread.take() {
            let one: u64 = 1;
            // SAFETY: writing 8 bytes from a valid u64 to our eventfd.
            unsafe { libc::write(self.stop.as_raw_fd(), (&one as *const u64).cast(), 8) };
            if t.join().is_err() {
                first_err
                    .get_or_insert(Error::harness("the shaper thread panicked: the copies it held were lost, and packets now pass unshaped (--queue-bypass)"));
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for Shaper {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Open the queue inside the current namespace: bind the first free number, whole packets
/// copied when `copy` (else metadata only), fail open, nonblocking. Returns the queue, its
/// number and its socket.
fn open(label: &str, started: u32, copy: bool) -> Result<(Queue, u16, RawFd), Error> {
    let mut q = Queue::open().map_err(|e| {
        Error::Environment(format!("cannot open an NFQUEUE netlink socket ({e}); the kernel needs nfnetlink_queue (`modprobe nfnetlink_queue`)"))
    })?;
    let mut last = None;
    let mut num = None;
    for n in queue_candidates(label, started).take(64) {
        match q.bind(n) {
            Ok(()) => {
                num = Some(n);
                break;
            }
            // EPERM: another socket holds this queue in this namespace; try the next one.
            Err(e) if e.raw_os_error() == Some(libc::EPERM) || e.raw_os_error() == Some(libc::EBUSY) => last = Some(e),
            Err(e) => {
                return Err(Error::Environment(format!(
                    "cannot bind an NFQUEUE queue ({e}); the kernel needs nfnetlink_queue (`modprobe nfnetlink_queue`) and the process CAP_NET_ADMIN"
                )))
            }
        }
    }
    let n = num.ok_or_else(|| {
        Error::harness(format!("no free NFQUEUE queue number among 64 tried (last error: {})", last.map_or(String::new(), |e| e.to_string())))
    })?;
    let conf = |r: std::io::Result<()>, what: &str| r.map_err(|e| Error::harness(format!("configuring NFQUEUE queue {n} ({what}): {e}")));
    conf(q.set_copy_range(n, if copy { COPY_RANGE } else { 0 }), "copy range")?;
    conf(q.set_queue_max_len(n, KERNEL_QUEUE), "queue length")?;
    conf(q.set_fail_open(n, true), "fail open")?;
    q.set_nonblocking(true);
    let fd = find_fd(n)?;
    // A larger receive buffer for bursts; as root the kernel's cap does not apply. Best effort.
    // SAFETY: fd is our open socket; the option value is a c_int.
    unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, (&RCVBUF as *const libc::c_int).cast(), 4) };
    Ok((q, n, fd))
}

fn sockopt_int(fd: RawFd, opt: libc::c_int) -> Option<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: valid out pointers of the right size; a bad fd only makes the call fail.
    (unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, opt, (&mut v as *mut libc::c_int).cast(), &mut len) } == 0).then_some(v)
}

/// `nfq` does not expose its socket, and the shaper must `ppoll` on it. Find it: the netlink
/// (netfilter) socket of this process whose port id is the one the kernel lists as bound to
/// `queue` in this namespace's `/proc/net/netfilter/nfnetlink_queue`, and which lives in
/// this thread's namespace (port ids are unique per namespace only).
fn find_fd(queue: u16) -> Result<RawFd, Error> {
    const SIOCGSKNS: libc::c_ulong = 0x894C;
    let table =
        std::fs::read_to_string("/proc/thread-self/net/netfilter/nfnetlink_queue").map_err(|e| Error::harness(format!("reading nfnetlink_queue: {e}")))?;
    let portid: u32 = table
        .lines()
        .find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.first()?.parse::<u16>().ok()? == queue).then(|| w.get(1)?.parse().ok())?
        })
        .ok_or_else(|| Error::harness(format!("queue {queue} is not listed as bound in nfnetlink_queue")))?;
    let my_ns = std::fs::metadata("/proc/thread-self/ns/net").map_err(|e| Error::harness(format!("reading this thread's namespace: {e}")))?.ino();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc/thread-self/fd").map_err(|e| Error::harness(format!("listing descriptors: {e}")))?.flatten() {
        let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<RawFd>().ok()) else { continue };
        if !std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:")) {
            continue;
        }
        if sockopt_int(fd, libc::SO_DOMAIN) != Some(libc::AF_NETLINK) || sockopt_int(fd, libc::SO_PROTOCOL) != Some(libc::NETLINK_NETFILTER) {
            continue;
        }
        // SAFETY: zeroed sockaddr_nl is valid; getsockname writes at most `len` bytes.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        if unsafe { libc::getsockname(fd, (&mut addr as *mut libc::sockaddr_nl).cast(), &mut len) } != 0 || addr.nl_pid != portid {
            continue;
        }
        // SAFETY: SIOCGSKNS returns a new descriptor of the socket's namespace, or -1.
        let nsfd = unsafe { libc::ioctl(fd, SIOCGSKNS as _) };
        if nsfd < 0 {
            continue;
        }
        // SAFETY: nsfd is a fresh descriptor we own.
        let nsfd = unsafe { OwnedFd::from_raw_fd(nsfd) };
        if std::fs::File::from(nsfd).metadata().is_ok_and(|m| m.ino() == my_ns) {
            found.push(fd);
        }
    }
    match found.as_slice() {
        [fd] => Ok(*fd),
        other => Err(Error::harness(format!("expected one socket bound to NFQUEUE queue {queue} (port id {portid}), found {}", other.len()))),
    }
}

/// The raw socket copies are sent through: `IPPROTO_RAW` (the copy carries its own IP
/// header), marked [`RESENT_MARK`] so the rules let it pass, never blocking.
fn raw_socket() -> Result<OwnedFd, Error> {
    // SAFETY: socket returns a new descriptor we own, or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, libc::IPPROTO_RAW) };
    if fd < 0 {
        return Err(Error::harness(format!("opening a raw socket for delayed packets: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: fd is valid and owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mark = RESENT_MARK as libc::c_int;
    // SAFETY: a valid socket and c_int option values.
    if unsafe { libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_MARK, (&mark as *const libc::c_int).cast(), 4) } != 0 {
        return Err(Error::harness(format!("marking the shaper's raw socket: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: as above; best effort.
    unsafe { libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, (&RCVBUF as *const libc::c_int).cast(), 4) };
    Ok(fd)
}

/// Send a copy: an IPv4 packet whose destination is in its header.
fn send_copy(raw: RawFd, bytes: &[u8]) -> bool {
    if bytes.len() < 20 {
        return false;
    }
    // SAFETY: zeroed sockaddr_in is valid.
    let mut to: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    to.sin_family = libc::AF_INET as libc::sa_family_t;
    to.sin_addr.s_addr = u32::from_ne_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    // SAFETY: bytes and to are valid for the lengths given.
    let n = unsafe {
        libc::sendto(
            raw,
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT,
            (&to as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    n == bytes.len() as isize
}

/// The shaper thread: enter the namespace, open the queue and the raw socket, report ready,
/// shape until told to stop.
fn run(ns: &Path, label: &str, started: u32, draws: Draws, stats: &Stats, stop: RawFd, ready: mpsc::Sender<Result<u16, Error>>) {
    let opened = netns::enter(ns).and_then(|()| {
        let dev = std::ffi::CString::new(DEV).map_err(Error::harness)?;
        // SAFETY: dev is a valid C string; if_nametoindex looks it up in this thread's namespace.
        if unsafe { libc::if_nametoindex(dev.as_ptr()) } == 0 {
            return Err(Error::Invalid(format!("there is no interface {DEV} in network namespace {}: nothing to shape", ns.display())));
        }
        let raw = raw_socket()?;
        open(label, started, draws.holds()).map(|q| (q, raw))
    });
    let ((mut q, num, fd), raw) = match opened {
        Ok(x) => x,
        Err(e) => {
            let _ = ready.send(Err(e));
            stats.finished.store(true, Ordering::Release);
            return;
        }
    };
    // Release times are kept to the microsecond, not the default 50 µs timer slack.
    // SAFETY: prctl with an integer argument.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong) };
    let _ = ready.send(Ok(num));
    let mut sh = Worker { q: &mut q, raw: raw.as_raw_fd(), stats, draws, heap: BinaryHeap::with_capacity(1024), pool: Vec::new(), seq: 0 };
    sh.run(fd, stop);
    // Rules are gone (removal deletes them before signalling): send what is held, answer
    // what is still queued.
    sh.release(None);
    while let Ok(msg) = sh.q.recv() {
        accept(sh.q, msg, stats);
    }
    q.set_nonblocking(false);
    let _ = q.unbind(num);
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    stats.cpu_final_ns.store(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64, Ordering::Release);
    stats.finished.store(true, Ordering::Release);
}

fn accept(q: &mut Queue, mut msg: nfq::Message, stats: &Stats) {
    msg.set_verdict(Verdict::Accept);
    if q.verdict(msg).is_err() {
        stats.errors.fetch_add(1, Ordering::Relaxed);
    }
}

fn hold_us(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_HOLD_US)
}

fn to_timespec(d: Duration) -> libc::timespec {
    libc::timespec { tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long }
}

/// The shaper thread's state.
struct Worker<'a> {
    q: &'a mut Queue,
    raw: RawFd,
    stats: &'a Stats,
    draws: Draws,
    heap: BinaryHeap<Held>,
    /// Spare buffers for copies, so a steady flow allocates nothing.
    pool: Vec<Vec<u8>>,
    seq: u64,
}

impl Worker<'_> {
    /// Receive, decide, hold and release until the stop eventfd is signalled.
    fn run(&mut self, fd: RawFd, stop: RawFd) {
        let mut fds = [libc::pollfd { fd, events: libc::POLLIN, revents: 0 }, libc::pollfd { fd: stop, events: libc::POLLIN, revents: 0 }];
        loop {
            self.release(Some(Instant::now()));
            // Sleep until a packet arrives, the next release is due, or we are told to stop.
            let ts = self.heap.peek().map(|p| to_timespec(p.due.saturating_duration_since(Instant::now())));
            fds[0].revents = 0;
            fds[1].revents = 0;
            // SAFETY: fds is a valid array of 2 pollfds; ts is null or points to a timespec.
            let r = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec), std::ptr::null()) };
            if r < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if fds[1].revents != 0 {
                return;
            }
            if fds[0].revents != 0 {
                self.receive();
            }
        }
    }

    /// Whether the earliest copy is due by `now` (`None`: whenever).
    fn due(&self, now: Option<Instant>) -> bool {
        self.heap.peek().is_some_and(|p| now.is_none_or(|n| p.due <= n))
    }

    /// Send the copies due by `now` (all of them for `None`).
    fn release(&mut self, now: Option<Instant>) {
        if !self.due(now) {
            return;
        }
        let mut h = self.stats.hold.lock().unwrap_or_else(|p| p.into_inner());
        while self.due(now) {
            let Some(p) = self.heap.pop() else { break };
            for _ in 0..p.copies {
                if !send_copy(self.raw, &p.bytes) {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            h.saturating_record(hold_us(p.since.elapsed()));
            if self.pool.len() < POOL {
                let mut b = p.bytes;
                b.clear();
                self.pool.push(b);
            }
        }
        self.stats.held.store(self.heap.len() as u64, Ordering::Relaxed);
    }

    /// Read what the kernel queued (a batch at most) and decide each packet's fate.
    fn receive(&mut self) {
        let stats = self.stats;
        let mut h = stats.hold.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..BATCH {
            let mut msg = match self.q.recv() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // A verdict the kernel refused comes back as an error message here.
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            };
            let now = Instant::now();
            stats.seen.fetch_add(1, Ordering::Relaxed);
            if self.heap.len() >= MAX_HELD {
                stats.overflow.fetch_add(1, Ordering::Relaxed);
                h.saturating_record(1);
                accept(self.q, msg, stats);
                continue;
            }
            if self.draws.lose() {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                msg.set_verdict(Verdict::Drop);
                if self.q.verdict(msg).is_err() {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            if self.draws.reorder() {
                stats.reordered.fetch_add(1, Ordering::Relaxed);
                h.saturating_record(hold_us(now.elapsed()));
                accept(self.q, msg, stats);
                continue;
            }
            let dup = self.draws.duplicate();
            let d = self.draws.delay();
            if d.is_zero() && !dup {
                h.saturating_record(hold_us(now.elapsed()));
                accept(self.q, msg, stats);
                continue;
            }
            let payload = msg.get_payload();
            if payload.len() < 20 || payload.len() < msg.get_original_len() || payload[0] >> 4 != 4 {
                // Not a whole IPv4 packet: it cannot be re-sent, so it passes unshaped.
                stats.errors.fetch_add(1, Ordering::Relaxed);
                accept(self.q, msg, stats);
                continue;
            }
            let mut bytes = self.pool.pop().unwrap_or_else(|| Vec::with_capacity(2048));
            bytes.extend_from_slice(payload);
            // The original goes; the copy is sent when due.
            msg.set_verdict(Verdict::Drop);
            if self.q.verdict(msg).is_err() {
                stats.errors.fetch_add(1, Ordering::Relaxed);
            }
            let copies = 1 + dup as u8;
            if dup {
                stats.duplicated.fetch_add(1, Ordering::Relaxed);
            }
            if d.is_zero() {
                for _ in 0..copies {
                    if !send_copy(self.raw, &bytes) {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                h.saturating_record(hold_us(now.elapsed()));
                bytes.clear();
                self.pool.push(bytes);
                continue;
            }
            self.heap.push(Held { due: now + d, seq: self.seq, since: now, copies, bytes });
            self.seq += 1;
            stats.delayed.fetch_add(1, Ordering::Relaxed);
        }
        drop(h);
        let n = self.heap.len() as u64;
        stats.held.store(n, Ordering::Relaxed);
        stats.max_held.fetch_max(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::super::Ports;
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn one_rule_per_destination_and_port_direction() {
        let s = Shape { peers: vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)], ports: Ports::Peer, ..Default::default() };
        let r: Vec<String> = rules(&s, "eth0", "faultline-r1-f3", 17000).iter().map(|r| r.join(" ")).collect();
        assert_eq!(r.len(), 4);
        assert_eq!(r[0], "OUTPUT -o eth0 -d 10.0.0.2/32 -p tcp --dport 2380 -m mark ! --mark 0x666c7368 -m comment --comment faultline-r1-f3 -j NFQUEUE --queue-num 17000 --queue-bypass");
        assert_eq!(r[3], "OUTPUT -o eth0 -d 10.0.0.3/32 -p tcp --sport 2380 -m mark ! --mark 0x666c7368 -m comment --comment faultline-r1-f3 -j NFQUEUE --queue-num 17000 --queue-bypass");
        let all: Vec<String> = rules(&Shape::default(), "eth0", "l", 16384).iter().map(|r| r.join(" ")).collect();
        assert_eq!(all, vec!["OUTPUT -o eth0 -m mark ! --mark 0x666c7368 -m comment --comment l -j NFQUEUE --queue-num 16384 --queue-bypass"]);
    }

    #[test]
    fn queue_numbers_stay_in_range_and_differ_per_start() {
        let a: Vec<u16> = queue_candidates("faultline-x-f1", 0).take(3).collect();
        let b: Vec<u16> = queue_candidates("faultline-x-f1", 1).take(3).collect();
        assert!(a.iter().chain(&b).all(|q| (BASE..BASE + SPAN).contains(q)));
        assert_ne!(a[0], b[0]);
        assert_eq!(queue_candidates("l", 7).count(), SPAN as usize);
    }

    fn draws(shape: &Shape) -> Draws {
        Draws::new(shape, SmallRng::seed_from_u64(7))
    }

    #[test]
    fn loss_rate_holds_with_and_without_correlation() {
        for corr in [0.0, 50.0, 90.0] {
            let mut d = draws(&Shape { loss: 10.0, correlation: corr, ..Default::default() });
            let n = 200_000;
            let lost = (0..n).filter(|_| d.lose()).count() as f64 / n as f64;
            assert!((lost - 0.10).abs() < 0.01, "correlation {corr}: loss rate {lost}");
        }
        let mut all = draws(&Shape { loss: 100.0, ..Default::default() });
        assert!((0..1000).all(|_| all.lose()));
    }

    #[test]
    fn correlation_makes_consecutive_losses_agree() {
        let agree = |corr: f64| {
            let mut d = draws(&Shape { loss: 50.0, correlation: corr, ..Default::default() });
            let v: Vec<bool> = (0..100_000).map(|_| d.lose()).collect();
            v.windows(2).filter(|w| w[0] == w[1]).count() as f64 / (v.len() - 1) as f64
        };
        // Independent draws at 50% agree half the time; ρ = 0.8 gives 0.8 + 0.2 × 0.5 = 0.9.
        assert!((agree(0.0) - 0.5).abs() < 0.02);
        assert!((agree(80.0) - 0.9).abs() < 0.02);
    }

    #[test]
    fn delays_spread_uniformly_over_delay_plus_minus_jitter() {
        let mut d = draws(&Shape { delay: Duration::from_millis(50), jitter: Duration::from_millis(20), ..Default::default() });
        let v: Vec<f64> = (0..100_000).map(|_| d.delay().as_secs_f64() * 1000.0).collect();
        let (min, max) = v.iter().fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        assert!((30.0..30.1).contains(&min) && max <= 70.0 && max > 69.9, "{min} {max}");
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 50.0).abs() < 0.2, "{mean}");
        let low = v.iter().filter(|x| **x < 40.0).count() as f64 / v.len() as f64;
        assert!((low - 0.25).abs() < 0.01, "a quarter below 40 ms: {low}");
        // Jitter wider than the delay: clamped at zero, never negative.
        let mut z = draws(&Shape { delay: Duration::from_millis(5), jitter: Duration::from_millis(10), ..Default::default() });
        assert!((0..10_000).map(|_| z.delay()).any(|d| d.is_zero()));
    }
}

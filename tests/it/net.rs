//! Network shaping against real namespaces: two namespaces `faultline-nettest<pid>-a` and
//! `-b` joined by a veth pair (`eth0` on both sides, 10.99.X.1 and 10.99.X.2, with 10.99.X.3
//! as a second address of b that no shaping targets), measured for real. The tests hold one
//! lock, since they time packets and parallel runs would disturb each other; each one takes
//! a few seconds. The pair is deleted by a guard, also when a test panics.
//!
//! `bench_shaper_cost` (ignored) is benchmark 8 of `docs/benchmarks.md`:
//!
//! ```sh
//! cargo test --release --test it net::bench_shaper_cost -- --ignored --nocapture
//! ```

use crate::util::require_root;
use faultline::cluster::netns;
use faultline::error::Error;
use faultline::fault::net::{self, Mechanism, Ports, Shape};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

static LOCK: Mutex<()> = Mutex::new(());

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn sh(program: &str, args: &[&str]) {
    faultline::host::sys::run(program, args).unwrap_or_else(|e| panic!("{e}"));
}

/// Two namespaces joined by a veth pair; deleted on drop.
struct Pair {
    a: String,
    b: String,
    a_ip: Ipv4Addr,
    b_ip: Ipv4Addr,
    /// A second address of b, which shapings towards `b_ip` must leave alone.
    b_other: Ipv4Addr,
    _lock: MutexGuard<'static, ()>,
}

impl Pair {
    fn new() -> Pair {
        require_root();
        let lock = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let pid = std::process::id();
        let x = (pid % 200 + 20) as u8;
        let (a, b) = (format!("faultline-nettest{pid}-a"), format!("faultline-nettest{pid}-b"));
        let p = Pair { a, b, a_ip: Ipv4Addr::new(10, 99, x, 1), b_ip: Ipv4Addr::new(10, 99, x, 2), b_other: Ipv4Addr::new(10, 99, x, 3), _lock: lock };
        netns::create(&p.a).expect("namespace a");
        netns::create(&p.b).expect("namespace b");
        sh("ip", &["-n", &p.a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", &p.b]);
        for (ns, addrs) in [(&p.a, vec![p.a_ip]), (&p.b, vec![p.b_ip, p.b_other])] {
            for ip in addrs {
                sh("ip", &["-n", ns, "addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
            }
            sh("ip", &["-n", ns, "link", "set", "eth0", "up"]);
        }
        p
    }

    fn a_ns(&self) -> PathBuf {
        netns::path(&self.a)
    }

    fn b_ns(&self) -> PathBuf {
        netns::path(&self.b)
    }

    fn label(&self) -> String {
        format!("faultline-nettest{}-f1", std::process::id())
    }

    /// iptables rules in a carrying the test label.
    fn labelled_rules(&self) -> usize {
        netns::exec(&self.a_ns(), "iptables-save", &[]).unwrap().lines().filter(|l| l.contains(&self.label())).count()
    }

    fn qdiscs(&self) -> String {
        netns::exec(&self.a_ns(), "tc", &["qdisc", "show", "dev", "eth0"]).unwrap()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = netns::delete(&self.a);
        let _ = netns::delete(&self.b);
    }
}

/// Shaper threads alive in this process.
fn shaper_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "faultline-shape"))
        .count()
}

/// Nothing of the shaping is left: no rule, no faultline qdisc, no shaper thread.
fn assert_clean(p: &Pair) {
    assert_eq!(p.labelled_rules(), 0, "rules left in {}", p.a);
    let q = p.qdiscs();
    assert!(!q.contains("fa00:") && !q.contains("fa01:"), "qdisc left: {q}");
    assert_eq!(shaper_threads(), 0, "a shaper thread is still running");
}

/// A TCP connect from the namespace `from`: its round trip when something answered (a
/// connection or a refusal), `None` when nothing did within `timeout`.
fn connect_rtt(from: &Path, to: SocketAddr, timeout: Duration) -> Option<Duration> {
    netns::in_ns(from, move || {
        let t = Instant::now();
        match TcpStream::connect_timeout(&to, timeout) {
            Ok(_) => Some(t.elapsed()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(t.elapsed()),
            Err(_) => None,
        }
    })
    .unwrap()
}

fn rtts(from: &Path, to: SocketAddr, n: usize) -> Vec<Duration> {
    (0..n).map(|_| connect_rtt(from, to, Duration::from_secs(2)).expect("the connect got no answer")).collect()
}

fn udp_in(ns: &Path, at: SocketAddr) -> UdpSocket {
    netns::in_ns(ns, move || UdpSocket::bind(at)).unwrap().unwrap()
}

/// A UDP echo server in a namespace; stopped on drop.
struct Echo {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Echo {
    fn start(ns: &Path, at: SocketAddr) -> Echo {
        let sock = udp_in(ns, at);
        sock.set_read_timeout(Some(ms(50))).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !s2.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    let _ = sock.send_to(&buf[..n], from);
                }
            }
        });
        Echo { stop, thread: Some(thread) }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Round trips of `n` UDP datagrams sent every `every` from a socket in `from` to an echo
/// server, in arrival order as (sequence number, round trip).
fn udp_rtts(from: &Path, local: SocketAddr, to: SocketAddr, n: u64, every: Duration) -> Vec<(u64, Duration)> {
    let sock = udp_in(from, local);
    sock.connect(to).unwrap();
    let base = Instant::now();
    let rx = sock.try_clone().unwrap();
    rx.set_read_timeout(Some(ms(500))).unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while let Ok(len) = rx.recv(&mut buf) {
            if len < 16 {
                continue;
            }
            let seq = u64::from_le_bytes(buf[..8].try_into().unwrap());
            let sent = u64::from_le_bytes(buf[8..16].try_into().unwrap());
            got.push((seq, Duration::from_nanos(base.elapsed().as_nanos() as u64 - sent)));
            if got.len() as u64 == n {
                break;
            }
        }
        got
    });
    for seq in 0..n {
        let mut msg = [0u8; 16];
        msg[..8].copy_from_slice(&seq.to_le_bytes());
        msg[8..].copy_from_slice(&(base.elapsed().as_nanos() as u64).to_le_bytes());
        sock.send(&msg).unwrap();
        std::thread::sleep(every);
    }
    reader.join().unwrap()
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[s.len() / 2]
}

#[test]
fn a_100ms_delay_towards_b_delays_only_a_to_b_and_goes_away_on_removal() {
    let p = Pair::new();
    let to_b = SocketAddr::new(p.b_ip.into(), 2380);
    let to_other = SocketAddr::new(p.b_other.into(), 2380);
    let to_client_port = SocketAddr::new(p.b_ip.into(), 2379);
    rtts(&p.a_ns(), to_b, 2); // warm-up: neighbour resolution
    let before = rtts(&p.a_ns(), to_b, 5);
    assert!(median(&before) < ms(10), "before: {before:?}");

    let shape = Shape { delay: ms(100), peers: vec![p.b_ip], ports: Ports::Peer, ..Default::default() };
    let mech = net::choose(None, &shape).unwrap();
    if !net::netem_available() {
        assert_eq!(mech, Mechanism::Nfqueue);
    }
    let s = net::apply(&p.a_ns(), &shape, mech, &p.label()).unwrap();
    assert_eq!(s.mechanism(), mech);
    let during = rtts(&p.a_ns(), to_b, 5);
    for d in &during {
        assert!(*d >= ms(100) && *d < ms(150), "during: {during:?}");
    }
    // Other destinations and other ports are untouched.
    let other = rtts(&p.a_ns(), to_other, 3);
    let client = rtts(&p.a_ns(), to_client_port, 3);
    assert!(median(&other) < ms(10) && median(&client) < ms(10), "other address {other:?}, client port {client:?}");
    let c = s.counters();
    if mech == Mechanism::Nfqueue {
        assert!(c.delayed >= 5 && c.seen >= c.delayed, "{c:?}");
        assert!(c.hold_p50_us >= 100_000 && c.hold_p50_us < 110_000, "{c:?}");
        assert_eq!(p.labelled_rules(), 2, "one rule per port direction");
    }
    let fin = s.remove().unwrap();
    assert!(fin.seen >= c.seen, "{fin:?}");
    eprintln!("delay 100ms: before {before:?}, during {during:?}, counters {fin:?}");

    let after = rtts(&p.a_ns(), to_b, 5);
    assert!(median(&after) < ms(10), "after: {after:?}");
    assert_clean(&p);
}

#[test]
fn total_loss_towards_b_is_a_one_way_partition() {
    let p = Pair::new();
    let to_b = SocketAddr::new(p.b_ip.into(), 2380);
    assert!(connect_rtt(&p.a_ns(), to_b, ms(1000)).is_some(), "b must answer before the fault");
    let shape = Shape { loss: 100.0, peers: vec![p.b_ip], ..Default::default() };
    let s = net::apply(&p.a_ns(), &shape, net::choose(None, &shape).unwrap(), &p.label()).unwrap();

    // a → b: a TCP connect gets no answer, a datagram never arrives.
    assert_eq!(connect_rtt(&p.a_ns(), to_b, ms(500)), None, "a's SYN must not reach b");
    let at_b = udp_in(&p.b_ns(), SocketAddr::new(p.b_ip.into(), 6000));
    at_b.set_read_timeout(Some(ms(300))).unwrap();
    let from_a = udp_in(&p.a_ns(), SocketAddr::new(p.a_ip.into(), 0));
    from_a.send_to(b"a to b", SocketAddr::new(p.b_ip.into(), 6000)).unwrap();
    let mut buf = [0u8; 64];
    assert!(at_b.recv_from(&mut buf).is_err(), "a datagram from a reached b");

    // b → a still flows.
    let at_a = udp_in(&p.a_ns(), SocketAddr::new(p.a_ip.into(), 6000));
    at_a.set_read_timeout(Some(ms(1000))).unwrap();
    let from_b = udp_in(&p.b_ns(), SocketAddr::new(p.b_ip.into(), 0));
    from_b.send_to(b"b to a", SocketAddr::new(p.a_ip.into(), 6000)).unwrap();
    let (n, _) = at_a.recv_from(&mut buf).expect("b's datagram must reach a");
    assert_eq!(&buf[..n], b"b to a");

    let c = s.remove().unwrap();
    if c.seen > 0 {
        assert_eq!(c.dropped, c.seen, "every packet seen was dropped: {c:?}");
        assert!(c.dropped >= 2, "{c:?}");
    }
    assert!(connect_rtt(&p.a_ns(), to_b, ms(1000)).is_some(), "b must answer after removal");
    assert_clean(&p);
}

#[test]
fn jitter_spreads_delays_across_delay_plus_minus_jitter() {
    let p = Pair::new();
    let echo_at = SocketAddr::new(p.b_ip.into(), 7000);
    let _echo = Echo::start(&p.b_ns(), echo_at);
    let shape = Shape { delay: ms(50), jitter: ms(20), peers: vec![p.b_ip], ..Default::default() };
    let s = net::apply(&p.a_ns(), &shape, net::choose(None, &shape).unwrap(), &p.label()).unwrap();
    let got = udp_rtts(&p.a_ns(), SocketAddr::new(p.a_ip.into(), 0), echo_at, 300, ms(3));
    let c = s.remove().unwrap();
    assert_eq!(got.len(), 300, "every datagram came back");
    let mut v: Vec<f64> = got.iter().map(|(_, d)| d.as_secs_f64() * 1000.0).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |f: f64| v[((v.len() - 1) as f64 * f) as usize];
    eprintln!("jitter 50±20ms: min {:.1} p10 {:.1} p50 {:.1} p90 {:.1} max {:.1} ms; {c:?}", v[0], q(0.1), q(0.5), q(0.9), v[v.len() - 1]);
    // Never early; late only by scheduling (a loaded machine runs the shaper's thread late, so
    // the bound is on the 95th percentile, not the maximum).
    assert!(v[0] >= 30.0 && q(0.95) <= 75.0, "round trips within [30, 70] ms (+5 ms slack): min {} p95 {} max {}", v[0], q(0.95), v[v.len() - 1]);
    // Uniform on [30, 70]: p10 = 34, p50 = 50, p90 = 66.
    assert!(q(0.1) < 38.0 && q(0.9) > 62.0 && (q(0.5) - 50.0).abs() < 5.0, "spread: p10 {} p50 {} p90 {}", q(0.1), q(0.5), q(0.9));
    // Jitter larger than the gap between packets reorders them.
    let out_of_order = got.windows(2).filter(|w| w[1].0 < w[0].0).count();
    assert!(out_of_order > 10, "only {out_of_order} datagrams overtook another");
    assert_clean(&p);
}

/// Send `bytes` over TCP from a to b and return how long b took to receive them, from the
/// first byte to the end.
fn transfer(p: &Pair, bytes: usize) -> Duration {
    let at = SocketAddr::new(p.b_ip.into(), 5001);
    let listener = netns::in_ns(&p.b_ns(), move || TcpListener::bind(at)).unwrap().unwrap();
    let rx = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = c.read(&mut buf).unwrap();
        let t = Instant::now();
        loop {
            match c.read(&mut buf).unwrap() {
                0 => break,
                n => got += n,
            }
        }
        (got, t.elapsed())
    });
    let mut tx = netns::in_ns(&p.a_ns(), move || TcpStream::connect_timeout(&at, Duration::from_secs(2))).unwrap().unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        tx.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    drop(tx);
    let (got, took) = rx.join().unwrap();
    assert_eq!(got, bytes);
    took
}

#[test]
fn bandwidth_limit_makes_a_bulk_transfer_take_the_expected_time() {
    let p = Pair::new();
    let bytes = 2_000_000;
    let free = transfer(&p, bytes);
    let rate = 8_000_000;
    let bw = net::apply_bandwidth(&p.a_ns(), rate, &p.label()).unwrap();
    assert_eq!(bw.burst(), 10_000);
    assert!(p.qdiscs().contains("qdisc tbf fa01: root"), "{}", p.qdiscs());
    let limited = transfer(&p, bytes);
    bw.remove().unwrap();
    // The rate counts whole frames (payload 1448 of 1514 bytes per full-size frame).
    let expected = Duration::from_secs_f64(bytes as f64 * 8.0 / rate as f64 * 1514.0 / 1448.0);
    eprintln!("2 MB: unlimited {free:?}, at 8 Mbit/s {limited:?} (expected {expected:?})");
    let ratio = limited.as_secs_f64() / expected.as_secs_f64();
    assert!((0.7..=1.3).contains(&ratio), "took {limited:?}, expected {expected:?} ± 30%");
    assert!(free < expected / 4, "without the limit the transfer is much faster: {free:?}");
    assert_clean(&p);
}

#[test]
fn netem_is_detected_and_a_forced_netem_without_it_is_refused_clearly() {
    let p = Pair::new();
    // An independent probe: does this kernel take a netem qdisc?
    let has = netns::exec(&p.a_ns(), "tc", &["qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]).is_ok();
    assert_eq!(net::netem_available(), has);
    assert!(netns::list(&format!("faultline-netemprobe{}", std::process::id())).is_empty(), "the probe's namespace is gone");
    let shape = Shape { delay: ms(10), ..Default::default() };
    if has {
        eprintln!("this kernel has sch_netem: checking auto picks it");
        assert_eq!(net::choose(None, &shape).unwrap(), Mechanism::Netem);
        return;
    }
    assert_eq!(net::choose(None, &shape).unwrap(), Mechanism::Nfqueue);
    for e in [net::choose(Some(Mechanism::Netem), &shape).unwrap_err(), net::apply(&p.a_ns(), &shape, Mechanism::Netem, &p.label()).unwrap_err()] {
        assert!(matches!(e, Error::Environment(_)), "{e}");
        let m = e.to_string();
        assert!(m.contains("lacks sch_netem") && m.contains("mechanism: nfqueue"), "{m}");
    }
    // Every parameter is done by the NFQUEUE shaper: nothing is refused for its sake.
    let all = Shape { delay: ms(10), jitter: ms(5), correlation: 25.0, loss: 1.0, duplicate: 1.0, reorder: 5.0, ..Default::default() };
    assert_eq!(net::choose(Some(Mechanism::Nfqueue), &all).unwrap(), Mechanism::Nfqueue);
    assert_clean(&p);
}

#[test]
fn dropping_shapings_removes_everything_and_two_can_share_a_member() {
    let p = Pair::new();
    let to_b = SocketAddr::new(p.b_ip.into(), 2380);
    let to_other = SocketAddr::new(p.b_other.into(), 2380);
    rtts(&p.a_ns(), to_b, 1);
    let s1 = Shape { delay: ms(60), peers: vec![p.b_ip], ..Default::default() };
    let s2 = Shape { delay: ms(30), peers: vec![p.b_other], ..Default::default() };
    let one = net::apply(&p.a_ns(), &s1, Mechanism::Nfqueue, &p.label()).unwrap();
    let two = net::apply(&p.a_ns(), &s2, Mechanism::Nfqueue, &p.label()).unwrap();
    assert_ne!(one.queue_num(), two.queue_num());
    let bw = net::apply_bandwidth(&p.a_ns(), 100_000_000, &p.label()).unwrap();
    assert_eq!(shaper_threads(), 2);
    assert_eq!(p.labelled_rules(), 2);
    let (d1, d2) = (median(&rtts(&p.a_ns(), to_b, 3)), median(&rtts(&p.a_ns(), to_other, 3)));
    assert!(d1 >= ms(60) && d1 < ms(90) && d2 >= ms(30) && d2 < ms(55), "towards b {d1:?}, towards b's other address {d2:?}");
    drop(one);
    drop(two);
    drop(bw);
    assert_clean(&p);
    assert!(median(&rtts(&p.a_ns(), to_b, 3)) < ms(10));
}

#[test]
fn a_tcp_transfer_through_a_delay_is_not_throttled_by_tcp_small_queues() {
    // Held verdicts would keep each packet charged to its TCP socket, and TCP Small Queues
    // then allows about two segments per delay: 4 MiB through 50 ms took 54 s that way.
    let p = Pair::new();
    let shape = Shape { delay: ms(50), peers: vec![p.b_ip], ..Default::default() };
    let s = net::apply(&p.a_ns(), &shape, net::choose(None, &shape).unwrap(), &p.label()).unwrap();
    let took = transfer(&p, 4 << 20);
    let c = s.remove().unwrap();
    eprintln!("4 MiB through 50 ms: {took:?}, {c:?}");
    assert!(took < Duration::from_secs(3), "4 MiB took {took:?} through a 50 ms delay");
    assert!(c.delayed > 2000 && c.hold_p50_us >= 50_000, "{c:?}");
    assert_clean(&p);
}

#[test]
fn duplicate_sends_each_packet_twice() {
    let p = Pair::new();
    let at = SocketAddr::new(p.b_ip.into(), 6100);
    let rx = udp_in(&p.b_ns(), at);
    rx.set_read_timeout(Some(ms(300))).unwrap();
    let tx = udp_in(&p.a_ns(), SocketAddr::new(p.a_ip.into(), 0));
    for (delay, n) in [(0, 20u8), (20, 20)] {
        let shape = Shape { delay: ms(delay), duplicate: 100.0, peers: vec![p.b_ip], ..Default::default() };
        let s = net::apply(&p.a_ns(), &shape, net::choose(None, &shape).unwrap(), &p.label()).unwrap();
        let t = Instant::now();
        for i in 0..n {
            tx.send_to(&[i], at).unwrap();
        }
        let mut got = vec![0u32; n as usize];
        let mut buf = [0u8; 16];
        while let Ok(len) = rx.recv(&mut buf) {
            assert_eq!(len, 1);
            got[buf[0] as usize] += 1;
        }
        let c = s.remove().unwrap();
        assert!(got.iter().all(|g| *g == 2), "delay {delay} ms: copies received per datagram {got:?}; {c:?}");
        assert_eq!(c.duplicated, n as u64, "{c:?}");
        assert!(t.elapsed() >= ms(delay), "delay {delay} ms");
    }
    assert_clean(&p);
}

#[test]
fn leftovers_of_a_crashed_run_are_found_by_label_and_handle() {
    let p = Pair::new();
    let label = p.label();
    sh(
        "nsenter",
        &[
            &format!("--net={}", p.a_ns().display()),
            "--",
            "iptables",
            "-w",
            "-A",
            "OUTPUT",
            "-o",
            "eth0",
            "-m",
            "comment",
            "--comment",
            &label,
            "-j",
            "NFQUEUE",
            "--queue-num",
            "17000",
            "--queue-bypass",
        ],
    );
    sh(
        "ip",
        &["netns", "exec", &p.a, "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "fa01:", "tbf", "rate", "1mbit", "burst", "3028", "latency", "100ms"],
    );
    // A bypass rule with nobody bound lets packets through.
    assert!(connect_rtt(&p.a_ns(), SocketAddr::new(p.b_ip.into(), 2380), ms(1000)).is_some());
    let done = net::remove_leftovers(&p.a_ns(), &format!("faultline-nettest{}-", std::process::id())).unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
    assert_clean(&p);
}

/// CPU time of this whole process (every thread: senders, receivers, echo server, shaper,
/// and the kernel's packet processing done on their behalf), ns. Precise, unlike
/// `/proc/stat`, whose tick sampling misses short bursts on an otherwise idle CPU.
fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One measured phase: the shaping in force (none for the reference), the shaper's CPU
/// when it started (its set-up is not counted per packet), the process's CPU.
struct Phase {
    name: String,
    shaping: Option<net::Shaping>,
    cpu0_us: u64,
    cpu0_ns: u64,
}

impl Phase {
    fn start(p: &Pair, delay: Option<u64>) -> Phase {
        let shaping =
            delay.map(|d| net::apply(&p.a_ns(), &Shape { delay: ms(d), peers: vec![p.b_ip], ..Default::default() }, Mechanism::Nfqueue, &p.label()).unwrap());
        let cpu0_us = shaping.as_ref().map_or(0, |s| s.counters().cpu_us);
        Phase { name: delay.map_or("no shaper".to_string(), |d| format!("shaper {d} ms")), shaping, cpu0_us, cpu0_ns: process_cpu_ns() }
    }

    /// The final counters, the shaper thread's CPU per packet seen (ns) and the whole
    /// process's CPU per `packets` (ns).
    fn end(self, packets: u64) -> (String, net::ShapeCounters, f64, f64) {
        let cpu = process_cpu_ns() - self.cpu0_ns;
        let c = self.shaping.map(|s| s.remove().unwrap()).unwrap_or_default();
        let shaper = if c.seen > 0 { (c.cpu_us - self.cpu0_us) as f64 * 1000.0 / c.seen as f64 } else { 0.0 };
        let process = cpu as f64 / packets.max(1) as f64;
        (self.name, c, shaper, process)
    }
}

/// Benchmark 8: the shaper's cost. See `docs/benchmarks.md`.
#[test]
#[ignore]
fn bench_shaper_cost() {
    let secs: f64 = std::env::var("FAULTLINE_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let rates: Vec<u64> =
        std::env::var("FAULTLINE_BENCH_RATES").ok().map(|s| s.split(',').filter_map(|r| r.trim().parse().ok()).collect()).unwrap_or_else(|| vec![1000, 10_000]);
    let p = Pair::new();
    let echo_at = SocketAddr::new(p.b_ip.into(), 7000);
    let _echo = Echo::start(&p.b_ns(), echo_at);
    let local = SocketAddr::new(p.a_ip.into(), 0);
    udp_rtts(&p.a_ns(), local, echo_at, 10, ms(1));

    println!("\na) UDP echo a→b→a, a's egress towards b shaped, {secs} s per phase, 16-byte datagrams paced in 1 ms ticks");
    println!(
        "phase | rate/s | sent | back | rtt p50 µs | rtt p99 µs | rtt max µs | hold p50 µs | hold p99 µs | max held | shaper CPU ns/pkt | process CPU ns/pkt"
    );
    for &rate in &rates {
        for delay in [None, Some(0u64), Some(50)] {
            let n = (rate as f64 * secs) as u64;
            let ph = Phase::start(&p, delay);
            let got = paced_rtts(&p.a_ns(), local, echo_at, n, rate);
            let (name, c, shaper, process) = ph.end(n);
            let mut v: Vec<u64> = got.iter().map(|d| d.as_micros() as u64).collect();
            v.sort();
            let q = |f: f64| v.get(((v.len().max(1) - 1) as f64 * f) as usize).copied().unwrap_or(0);
            println!(
                "{name} | {rate} | {n} | {} | {} | {} | {} | {} | {} | {} | {shaper:.0} | {process:.0}",
                v.len(),
                q(0.5),
                q(0.99),
                q(1.0),
                c.hold_p50_us,
                c.hold_p99_us,
                c.max_held
            );
        }
    }

    println!("\nb) flood: 64-byte datagrams a→b as fast as one thread sends, {secs} s, counted at b");
    println!("phase | sender buffer | sent/s | received at b /s | shaper seen /s | bypassed /s | max held | overflow | shaper CPU ns/pkt | process CPU ns/pkt");
    for (delay, sndbuf) in [(None, 8 << 20), (Some(0u64), 8 << 20), (Some(50), 8 << 20), (Some(50), 0)] {
        let ph = Phase::start(&p, delay);
        let (sent, received) = flood(&p, secs, sndbuf);
        let (name, c, shaper, process) = ph.end(received);
        let bypassed = if delay.is_some() { received.saturating_sub(c.seen) } else { 0 };
        let buf = if sndbuf == 0 { "default".to_string() } else { format!("{} MiB", sndbuf >> 20) };
        println!(
            "{name} | {buf} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {shaper:.0} | {process:.0}",
            sent as f64 / secs,
            received as f64 / secs,
            c.seen as f64 / secs,
            bypassed as f64 / secs,
            c.max_held,
            c.overflow
        );
    }

    let bytes = 64 << 20;
    println!("\nc) one TCP transfer of {} MiB a→b", bytes >> 20);
    println!("phase | MB/s | packets shaped | max held | shaper CPU ns/pkt | process CPU s");
    for delay in [None, Some(0u64), Some(50)] {
        let ph = Phase::start(&p, delay);
        let took = transfer(&p, bytes);
        let (name, c, shaper, process) = ph.end(1);
        println!("{name} | {:.1} | {} | {} | {shaper:.0} | {:.3}", bytes as f64 / 1e6 / took.as_secs_f64(), c.seen, c.max_held, process / 1e9);
    }
    assert_clean(&p);
}

/// Round trips of `n` datagrams sent at `rate` per second (in 1 ms ticks) to an echo server.
fn paced_rtts(from: &Path, local: SocketAddr, to: SocketAddr, n: u64, rate: u64) -> Vec<Duration> {
    let sock = udp_in(from, local);
    sock.connect(to).unwrap();
    let base = Instant::now();
    let rx = sock.try_clone().unwrap();
    rx.set_read_timeout(Some(ms(1000))).unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::with_capacity(n as usize);
        let mut buf = [0u8; 64];
        while let Ok(len) = rx.recv(&mut buf) {
            if len >= 16 {
                let sent = u64::from_le_bytes(buf[8..16].try_into().unwrap());
                got.push(Duration::from_nanos(base.elapsed().as_nanos() as u64 - sent));
                if got.len() as u64 == n {
                    break;
                }
            }
        }
        got
    });
    let mut seq = 0u64;
    let tick = ms(1);
    let mut next = Instant::now();
    while seq < n {
        // Send what is due by now, then sleep to the next tick.
        let due = ((base.elapsed().as_secs_f64() * rate as f64) as u64 + 1).min(n);
        while seq < due {
            let mut msg = [0u8; 16];
            msg[..8].copy_from_slice(&seq.to_le_bytes());
            msg[8..].copy_from_slice(&(base.elapsed().as_nanos() as u64).to_le_bytes());
            let _ = sock.send(&msg);
            seq += 1;
        }
        next += tick;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    reader.join().unwrap()
}

/// Send 64-byte datagrams from a to b as fast as one thread can for `secs` (with the
/// sender's send buffer forced to `sndbuf` bytes, 0 = the default); returns (sent, received
/// at b).
fn flood(p: &Pair, secs: f64, sndbuf: libc::c_int) -> (u64, u64) {
    use std::os::fd::AsRawFd;
    let at = SocketAddr::new(p.b_ip.into(), 7100);
    let rx = udp_in(&p.b_ns(), at);
    rx.set_read_timeout(Some(ms(300))).unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let r2 = received.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 128];
        while rx.recv(&mut buf).is_ok() {
            r2.fetch_add(1, Ordering::Relaxed);
        }
    });
    let tx = udp_in(&p.a_ns(), SocketAddr::new(p.a_ip.into(), 0));
    if sndbuf > 0 {
        // SAFETY: a valid socket and a c_int option value.
        unsafe { libc::setsockopt(tx.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, (&sndbuf as *const libc::c_int).cast(), 4) };
    }
    tx.connect(at).unwrap();
    let msg = [0u8; 64];
    let mut sent = 0u64;
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        for _ in 0..64 {
            if tx.send(&msg).is_ok() {
                sent += 1;
            }
        }
    }
    // Held packets come out within the delay; the reader stops 300 ms after the last one.
    reader.join().unwrap();
    (sent, received.load(Ordering::Relaxed))
}

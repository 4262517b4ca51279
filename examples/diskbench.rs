//! Measure the disk-fault layer's cost with no fault active (benchmark 7 of
//! docs/benchmarks.md; driven by `bench/fuse.sh`). As root:
//!
//! ```sh
//! cargo run --release --example diskbench -- fsync --dir /tmp/x [--layer MODE] [--count 1000] [--size 4096]
//! cargo run --release --example diskbench -- etcd  --dir /tmp/x [--layer MODE] [--puts 2000] [--clients 1] [--value 256] [--count-ops]
//! ```
//!
//! `fsync`: `count` times write `size` bytes at the end of a file and fdatasync it.
//! `etcd`: a single etcd member (`/usr/bin/etcd`) on `--dir`, `puts` sequential puts spread
//! over `clients` concurrent clients. With `--layer MODE` (`durable`, `lose-unsynced`,
//! `fsync-lie`) the layer is mounted over `--dir` first; without it the directory is used as is.
//! `--dir` must exist and be empty. Prints one JSON line: per-operation p50/p99/mean in µs and
//! operations per second. `--count-ops` (with `--layer`) also prints to stderr how many
//! requests of each kind reached the layer (through rules at 0 %, which only count).

use faultline::fault::disk::{DiskAction, DiskLayer, DiskRule, DurabilityMode, IoOp};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn usage() -> ! {
    eprintln!("usage: diskbench (fsync|etcd) --dir DIR [--layer durable|lose-unsynced|fsync-lie] [--count N] [--size B] [--puts N] [--clients C] [--value B] [--count-ops]");
    std::process::exit(2)
}

struct Args {
    what: String,
    dir: PathBuf,
    layer: Option<DurabilityMode>,
    count: usize,
    size: usize,
    puts: usize,
    clients: usize,
    value: usize,
    count_ops: bool,
}

fn args() -> Args {
    let mut a = std::env::args().skip(1);
    let what = a.next().unwrap_or_else(|| usage());
    let mut r = Args { what, dir: PathBuf::new(), layer: None, count: 1000, size: 4096, puts: 2000, clients: 1, value: 256, count_ops: false };
    while let Some(k) = a.next() {
        if k == "--count-ops" {
            r.count_ops = true;
            continue;
        }
        let v = a.next().unwrap_or_else(|| usage());
        let num = || v.parse::<usize>().unwrap_or_else(|_| usage());
        match k.as_str() {
            "--dir" => r.dir = PathBuf::from(&v),
            "--layer" => r.layer = Some(DurabilityMode::parse(&v).unwrap_or_else(|e| panic!("{e}"))),
            "--count" => r.count = num(),
            "--size" => r.size = num(),
            "--puts" => r.puts = num(),
            "--clients" => r.clients = num().max(1),
            "--value" => r.value = num(),
            _ => usage(),
        }
    }
    if r.dir.as_os_str().is_empty() {
        usage()
    }
    r
}

fn report(what: &str, layer: Option<DurabilityMode>, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let pct = |p: f64| us(lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1]);
    let mean = lat.iter().map(|d| us(*d)).sum::<f64>() / lat.len() as f64;
    println!(
        "{{\"what\":\"{what}\",\"dir\":\"{}\",\"n\":{},\"p50_us\":{:.1},\"p99_us\":{:.1},\"mean_us\":{:.1},\"per_s\":{:.1}}}",
        layer.map_or("plain", |m| m.name()),
        lat.len(),
        pct(0.50),
        pct(0.99),
        mean,
        lat.len() as f64 / wall.as_secs_f64()
    );
}

fn fsync_loop(dir: &Path, count: usize, size: usize) -> (Vec<Duration>, Duration) {
    let mut f = OpenOptions::new().create(true).write(true).truncate(true).open(dir.join("fsync.bin")).expect("create fsync.bin");
    let buf = vec![0xa5u8; size];
    let mut lat = Vec::with_capacity(count);
    let t0 = Instant::now();
    for _ in 0..count {
        let t = Instant::now();
        f.write_all(&buf).expect("write");
        // SAFETY: plain syscall on an open descriptor.
        assert_eq!(unsafe { libc::fdatasync(f.as_raw_fd()) }, 0, "fdatasync: {}", std::io::Error::last_os_error());
        lat.push(t.elapsed());
    }
    (lat, t0.elapsed())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn etcd_load(dir: &Path, puts: usize, clients: usize, value: usize) -> (Vec<Duration>, Duration) {
    let (cp, pp) = (free_port(), free_port());
    let client = format!("http://127.0.0.1:{cp}");
    let peer = format!("http://127.0.0.1:{pp}");
    let log = std::fs::File::create(dir.parent().unwrap_or(Path::new("/tmp")).join("etcd.log")).expect("etcd.log");
    let mut etcd = Command::new("/usr/bin/etcd")
        .env_clear()
        .args(["--name", "n1", "--logger", "zap", "--log-outputs", "stderr"])
        .arg(format!("--data-dir={}", dir.join("etcd").display()))
        .arg(format!("--listen-client-urls={client}"))
        .arg(format!("--advertise-client-urls={client}"))
        .arg(format!("--listen-peer-urls={peer}"))
        .arg(format!("--initial-advertise-peer-urls={peer}"))
        .arg(format!("--initial-cluster=n1={peer}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start /usr/bin/etcd");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let out = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(20);
        let c = loop {
            if let Ok(mut c) = etcd_client::Client::connect([client.as_str()], None).await {
                if c.put("warmup", "x", None).await.is_ok() {
                    break c;
                }
            }
            assert!(Instant::now() < deadline, "etcd did not take a put within 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let v = "v".repeat(value);
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..clients {
            let mut c = c.clone();
            let v = v.clone();
            let n = puts / clients + usize::from(w < puts % clients);
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(n);
                for i in 0..n {
                    let t = Instant::now();
                    c.put(format!("k{w}-{i}"), v.as_str(), None).await.expect("put");
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.expect("client task"));
        }
        (lat, t0.elapsed())
    });
    let _ = etcd.kill();
    let _ = etcd.wait();
    out
}

fn main() {
    let a = args();
    let layer = a.layer.map(|mode| {
        let label = format!("faultline-bench{}", std::process::id());
        let l = DiskLayer::mount(&a.dir, &label).unwrap_or_else(|e| panic!("{e}"));
        l.set_mode(mode);
        if a.count_ops {
            let rules = IoOp::ALL.iter().enumerate();
            l.set_rules(
                rules
                    .map(|(i, op)| DiskRule { id: i as u32, action: DiskAction::Fail { errno: libc::EIO }, ops: vec![*op], percent: 0.0, path: None, seed: 0 })
                    .collect(),
            );
        }
        l
    });
    let (lat, wall) = match a.what.as_str() {
        "fsync" => fsync_loop(&a.dir, a.count, a.size),
        "etcd" => etcd_load(&a.dir, a.puts, a.clients, a.value),
        _ => usage(),
    };
    if let Some(l) = layer {
        if a.count_ops {
            let counts: Vec<String> = l.counters().iter().filter(|c| c.seen > 0).map(|c| format!("{} {}", IoOp::ALL[c.id as usize], c.seen)).collect();
            eprintln!("requests: {}", counts.join(", "));
        }
        let s = l.stats();
        if s.forced_flushes > 0 {
            eprintln!("note: {} forced flushes", s.forced_flushes);
        }
        l.unmount().unwrap_or_else(|e| panic!("{e}"));
    }
    report(&a.what, a.layer, lat, wall);
}

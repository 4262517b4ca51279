//! Benchmark 2 of `docs/benchmarks.md`: the register workload's closed-loop throughput
//! against a 3-member cluster, beside reference load generators on the same cluster in the
//! same run, with who used the CPU in each phase. Not part of the default test run:
//!
//! ```sh
//! cargo test --release --test it bench -- --ignored --nocapture --test-threads=1
//! ```
//!
//! `FAULTLINE_BENCH_SECS` (default 10) sets each in-process phase's length; every
//! configuration runs faultline, raw, raw, faultline, so each tool gets two phases and drift
//! during the run weighs on both alike. `FAULTLINE_BENCH_PERF_LOADS` (default `s,l`) names
//! the `etcdctl check perf` loads to run (each takes 60 s, fixed by etcdctl; empty = none).
//!
//! Phases, all on one cluster, one at a time:
//! - `faultline`: `faultline::workload::run`, closed loop (no `rate`), recording every
//!   entry to a history file as the runner does;
//! - `raw loop`: the same operations (same mix, same connections via
//!   `faultline::client::connect`, a task per client) with nothing recorded, generated or
//!   classified: the ceiling for this client library on this cluster;
//! - `etcdctl check perf`: etcd's own load check (Go clientv3, 256-byte keys, 1 KiB
//!   values, rate-limited puts) from the client namespace.
//!
//! Between phases the cluster's history is compacted, so each phase starts on a small
//! keyspace.

use crate::util::TestCluster;
use faultline::client::{self, Endpoint};
use faultline::history::{self, Clock, EntryType, HistoryWriter};
use faultline::workload::{self, LiveStats};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const DEFAULT_MIX: &str = "{read: 0.5, write: 0.25, cas: 0.25}";
const WRITE_MIX: &str = "{read: 0, write: 1, cas: 0}";

/// CPU counters at one instant.
#[derive(Clone, Copy)]
struct CpuSnapshot {
    /// This test process (the load generator when it runs in-process), user + system, s.
    self_s: f64,
    /// Reaped children of this process (etcdctl), s.
    children_s: f64,
    /// The etcd members together, s (their cgroups' cpuacct.usage).
    members_s: f64,
    /// The whole machine: busy and total jiffies over all cores (/proc/stat).
    machine_busy: u64,
    machine_total: u64,
}

/// CPU used between two snapshots.
struct CpuUse {
    generator_s: f64,
    members_s: f64,
    /// Busy share of the machine's cores, 0..1.
    machine_busy: f64,
}

fn rusage_s(who: i32) -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU seconds of one member: its cgroup's `cpuacct.usage` (v1) or `cpu.stat` (v2), else
/// its process's utime + stime.
fn member_cpu_s(dirs: &[PathBuf], pid: Option<u32>) -> f64 {
    for d in dirs {
        if let Ok(ns) = std::fs::read_to_string(d.join("cpuacct.usage")) {
            if let Ok(ns) = ns.trim().parse::<u64>() {
                return ns as f64 / 1e9;
            }
        }
        if let Ok(stat) = std::fs::read_to_string(d.join("cpu.stat")) {
            if let Some(us) = stat.lines().find_map(|l| l.strip_prefix("usage_usec ")).and_then(|v| v.trim().parse::<u64>().ok()) {
                return us as f64 / 1e6;
            }
        }
    }
    let Some(pid) = pid else { return 0.0 };
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(close) = stat.rfind(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0) + fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    ticks as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn machine_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn snapshot(c: &TestCluster) -> CpuSnapshot {
    let members_s = c.backend.members().iter().map(|m| member_cpu_s(&m.cgroup, m.pid)).sum();
    let (machine_busy, machine_total) = machine_jiffies();
    CpuSnapshot { self_s: rusage_s(libc::RUSAGE_SELF), children_s: rusage_s(libc::RUSAGE_CHILDREN), members_s, machine_busy, machine_total }
}

impl CpuSnapshot {
    /// What was used since `self`; the generator is this process, or its children when
    /// `external`.
    fn until(&self, later: &CpuSnapshot, external: bool) -> CpuUse {
        let generator_s = if external { later.children_s - self.children_s } else { later.self_s - self.self_s };
        let total = later.machine_total.saturating_sub(self.machine_total).max(1);
        CpuUse {
            generator_s,
            members_s: later.members_s - self.members_s,
            machine_busy: later.machine_busy.saturating_sub(self.machine_busy) as f64 / total as f64,
        }
    }
}

/// One line of the results table.
struct Row {
    tool: String,
    mix: &'static str,
    clients: String,
    secs: f64,
    /// Operations answered by etcd (ok, or a cas whose compare failed).
    answered: u64,
    ok: u64,
    total: u64,
    /// Latencies of the ok operations, ns (empty when the tool does not give them).
    lat: Vec<u64>,
    note: String,
    cpu: CpuUse,
    /// ok/s of each repetition merged into this row.
    reps: Vec<f64>,
}

impl Row {
    /// Sum two repetitions of the same phase.
    fn merge(mut self, other: Row) -> Row {
        self.secs += other.secs;
        self.answered += other.answered;
        self.ok += other.ok;
        self.total += other.total;
        self.lat.extend(other.lat);
        self.cpu.generator_s += other.cpu.generator_s;
        self.cpu.members_s += other.cpu.members_s;
        // Weighted by length; the phases are of equal length.
        self.cpu.machine_busy = (self.cpu.machine_busy * self.reps.len() as f64 + other.cpu.machine_busy) / (self.reps.len() + 1) as f64;
        self.reps.extend(other.reps);
        self.note = format!("{} cas compare-failed, {} errors", self.answered - self.ok, self.total - self.answered);
        self
    }

    fn percentile_ms(&self, q: f64) -> Option<f64> {
        let mut sorted = self.lat.clone();
        sorted.sort_unstable();
        percentile(&sorted, q)
    }

    fn ok_per_s(&self) -> f64 {
        self.ok as f64 / self.secs
    }
    fn answered_per_s(&self) -> f64 {
        self.answered as f64 / self.secs
    }
}

fn percentile(sorted: &[u64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[i] as f64 / 1e6)
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `faultline::workload::run` closed loop, recording every entry to `history` as the runner does.
fn faultline_phase(c: &TestCluster, mix_name: &'static str, mix: &str, clients: u32, secs: u64, history_path: &Path) -> Row {
    let yaml = format!("name: bench\nworkload: {{clients: {clients}, keys: 16, duration: {secs}s, op_timeout: 1s, mix: {mix}}}\n");
    let spec = faultline::scenario::parse(&yaml, "bench").expect("bench scenario").workload;
    assert!(spec.rate.is_none(), "closed loop");
    let eps = c.endpoints();
    let path = history_path.to_path_buf();
    let before = snapshot(c);
    let (entries, report, stats) =
        c.rt.block_on(c.rt.spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let stats = Arc::new(LiveStats::default());
            // The runner's recorder: write as the run goes, keep everything in memory.
            let recorder = tokio::spawn(async move {
                let mut w = HistoryWriter::create(&path).expect("history file");
                let mut all = Vec::new();
                while let Some(e) = rx.recv().await {
                    let _ = w.append(&e);
                    all.push(e);
                    if rx.is_empty() {
                        let _ = w.flush();
                    }
                }
                let _ = w.flush();
                all
            });
            let report = workload::run(
                &spec,
                42,
                "",
                &faultline::client::Roster::fixed(eps.clone()),
                Clock::start(),
                tx,
                stats.clone(),
                Default::default(),
                CancellationToken::new(),
            )
            .await;
            let all = recorder.await.expect("recorder");
            (all, report, stats)
        }))
        .expect("faultline phase");
    let after = snapshot(c);
    let ops = history::pair(&entries);
    let mut lat: Vec<u64> = ops.iter().filter(|o| o.outcome == EntryType::Ok).filter_map(|o| o.latency_ns()).collect();
    lat.sort_unstable();
    let ok = stats.ok.load(Ordering::Relaxed);
    let fail = stats.fail.load(Ordering::Relaxed);
    let info = stats.info.load(Ordering::Relaxed);
    let compare_failed = entries.iter().filter(|e| e.kind == EntryType::Fail && e.error.as_deref() == Some(workload::register::COMPARE_FAILED)).count() as u64;
    assert_eq!(ok as usize, lat.len());
    let errors = fail - compare_failed + info;
    Row {
        tool: "faultline workload".into(),
        mix: mix_name,
        clients: format!("{clients} / {clients}"),
        secs: report.elapsed.as_secs_f64(),
        answered: ok + compare_failed,
        ok,
        total: ok + fail + info,
        reps: vec![ok as f64 / report.elapsed.as_secs_f64()],
        lat,
        note: format!("{compare_failed} cas compare-failed, {errors} errors"),
        cpu: before.until(&after, false),
    }
}

/// The reference: the same operations on the same connections, nothing recorded.
fn raw_phase(c: &TestCluster, mix_name: &'static str, mix: (f64, f64), clients: u32, secs: u64) -> Row {
    let eps = c.endpoints();
    let before = snapshot(c);
    let started = Instant::now();
    let results =
        c.rt.block_on(c.rt.spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
            let mut tasks = tokio::task::JoinSet::new();
            for slot in 0..clients {
                let ep: Endpoint = eps[slot as usize % eps.len()].clone();
                tasks.spawn(raw_client(ep, slot, mix, deadline));
            }
            let mut all = Vec::new();
            while let Some(r) = tasks.join_next().await {
                all.push(r.expect("raw client"));
            }
            all
        }))
        .expect("raw phase");
    let elapsed = started.elapsed().as_secs_f64();
    let after = snapshot(c);
    let (mut lat, mut answered, mut ok, mut total) = (Vec::new(), 0, 0, 0);
    for r in results {
        lat.extend(r.ok_lat_ns);
        answered += r.answered;
        ok += r.ok;
        total += r.total;
    }
    lat.sort_unstable();
    Row {
        tool: "raw etcd-client loop".into(),
        mix: mix_name,
        clients: format!("{clients} / {clients}"),
        secs: elapsed,
        answered,
        ok,
        total,
        reps: vec![ok as f64 / elapsed],
        lat,
        note: format!("{} cas compare-failed, {} errors", answered - ok, total - answered),
        cpu: before.until(&after, false),
    }
}

struct RawResult {
    ok_lat_ns: Vec<u64>,
    answered: u64,
    ok: u64,
    total: u64,
}

/// One reference client: read / write / cas by `mix` (read share, write share), each on
/// one of 16 keys, back to back until `deadline`. Like the workload, a cas expects the
/// value this client last saw for the key, so compare failures happen as often.
async fn raw_client(ep: Endpoint, slot: u32, mix: (f64, f64), deadline: tokio::time::Instant) -> RawResult {
    use etcd_client::{Compare, CompareOp, Txn, TxnOp, TxnOpResponse};
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(u64::from(slot));
    let mut conn = client::connect(&ep, Duration::from_secs(1)).await.expect("connect");
    let mut r = RawResult { ok_lat_ns: Vec::new(), answered: 0, ok: 0, total: 0 };
    let mut seen: std::collections::HashMap<String, Vec<u8>> = std::collections::HashMap::new();
    let mut seq = 0u64;
    while tokio::time::Instant::now() < deadline {
        let x: f64 = rng.random();
        let key = format!("k{}", rng.random_range(0..16u32));
        seq += 1;
        let value = (u64::from(slot) * 1_000_000_000 + seq).to_string();
        let t0 = Instant::now();
        let outcome: Result<bool, etcd_client::Error> = if x < mix.0 {
            conn.get(key.as_str(), None).await.map(|g| {
                if let Some(kv) = g.kvs().first() {
                    seen.insert(key, kv.value().to_vec());
                }
                true
            })
        } else if x < mix.0 + mix.1 {
            conn.put(key.as_str(), value.as_str(), None).await.map(|_| {
                seen.insert(key, value.into_bytes());
                true
            })
        } else {
            let from = seen.get(&key).cloned().unwrap_or_default();
            let txn = Txn::new()
                .when([Compare::value(key.as_str(), CompareOp::Equal, from)])
                .and_then([TxnOp::put(key.as_str(), value.as_str(), None)])
                .or_else([TxnOp::get(key.as_str(), None)]);
            conn.txn(txn).await.map(|t| {
                if t.succeeded() {
                    seen.insert(key, value.into_bytes());
                } else if let Some(TxnOpResponse::Get(g)) = t.op_responses().into_iter().next() {
                    if let Some(kv) = g.kvs().first() {
                        seen.insert(key, kv.value().to_vec());
                    }
                }
                t.succeeded()
            })
        };
        r.total += 1;
        match outcome {
            Ok(true) => {
                r.ok_lat_ns.push(t0.elapsed().as_nanos() as u64);
                r.ok += 1;
                r.answered += 1;
            }
            Ok(false) => r.answered += 1,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    r
}

/// `etcdctl check perf --load=<load>` from the client namespace, against every member.
fn check_perf_phase(c: &TestCluster, load: &str) -> Row {
    let urls: Vec<String> = c.endpoints().into_iter().map(|e| e.url).collect();
    let clients = match load {
        "s" => 50,
        "m" => 200,
        "l" => 500,
        "xl" => 1000,
        _ => 0,
    };
    let limit = match load {
        "s" => 150,
        "m" => 1000,
        "l" => 8000,
        "xl" => 15000,
        _ => 0,
    };
    let before = snapshot(c);
    let started = Instant::now();
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", c.backend.client_netns().display()))
        .arg("etcdctl")
        .arg(format!("--endpoints={}", urls.join(",")))
        .args(["check", "perf", &format!("--load={load}")])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run etcdctl check perf (apt-get install etcd-client)");
    let elapsed = started.elapsed().as_secs_f64();
    let after = snapshot(c);
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    let verdicts: Vec<&str> =
        text.lines().map(str::trim).filter(|l| l.contains("writes/s") || l.contains("Slowest") || l.contains("Stddev") || l.contains("ERROR")).collect();
    eprintln!("etcdctl check perf --load={load} ({}): {}", out.status, verdicts.join(" | "));
    if !out.stderr.is_empty() {
        eprintln!("  stderr: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let writes_per_s: f64 = verdicts
        .iter()
        .find_map(|l| l.split_whitespace().rev().nth(1).filter(|_| l.ends_with("writes/s")).and_then(|v| v.parse().ok()))
        .expect("check perf printed no throughput");
    let errors: u64 = verdicts.iter().filter_map(|l| l.rsplit("-> ").next().filter(|_| l.contains("ERROR")).and_then(|v| v.trim().parse::<u64>().ok())).sum();
    let slowest = verdicts.iter().find(|l| l.contains("Slowest")).map(|l| l.to_string()).unwrap_or_default();
    let stddev = verdicts.iter().find(|l| l.contains("Stddev")).map(|l| l.to_string()).unwrap_or_default();
    // check perf runs its load for 60 s and reports int(writes/s) + 1 over its own window.
    let ok = (writes_per_s * 60.0).round() as u64;
    Row {
        tool: format!("etcdctl check perf --load={load}"),
        mix: "put 1 KiB",
        // clientv3 (3.4) opens one connection per endpoint for each client (counted with `ss`).
        clients: format!("{clients} / {}", clients * urls.len()),
        secs: 60.0,
        answered: ok,
        ok,
        total: ok + errors,
        reps: vec![writes_per_s],
        lat: Vec::new(),
        note: format!("rate limit {limit}/s; {}; {}; phase took {elapsed:.1} s", slowest.trim_start_matches("PASS: "), stddev.trim_start_matches("PASS: ")),
        cpu: before.until(&after, true),
    }
}

/// Compact the cluster's history, so that every phase starts on a small keyspace.
fn compact(c: &TestCluster) {
    let ep = c.endpoints()[0].clone();
    c.rt.block_on(c.rt.spawn(async move {
        let mut conn = client::connect(&ep, Duration::from_secs(5)).await?;
        let rev = conn.get("k0", None).await?.header().map(|h| h.revision()).unwrap_or(0);
        if rev > 1 {
            conn.compact(rev, Some(etcd_client::CompactionOptions::new().with_physical())).await?;
        }
        Ok::<_, etcd_client::Error>(())
    }))
    .expect("join")
    .expect("compact");
    std::thread::sleep(Duration::from_secs(1));
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.2}"))
}

#[test]
#[ignore = "benchmark: run with `cargo test --release --test it bench -- --ignored --nocapture --test-threads=1`"]
fn bench_closed_loop_throughput_against_references() {
    let secs = env_u64("FAULTLINE_BENCH_SECS", 10);
    let loads: Vec<String> = std::env::var("FAULTLINE_BENCH_PERF_LOADS")
        .unwrap_or_else(|_| "s,l".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let c = TestCluster::start(3);
    let dir = tempfile::tempdir().unwrap();
    eprintln!("cluster up (run {}); phases of {secs} s", c.run_id);

    // Warm-up: connections, etcd's caches, the page cache; not reported.
    let _ = faultline_phase(&c, "write", WRITE_MIX, 8, 3, &dir.path().join("warmup.jsonl"));
    compact(&c);

    let mut rows: Vec<(Row, Option<usize>)> = Vec::new();
    for (mix_name, mix, shares) in [("write", WRITE_MIX, (0.0, 1.0)), ("default", DEFAULT_MIX, (0.5, 0.25))] {
        for clients in [8u32, 32] {
            // faultline, raw, raw, faultline: drift during the run (the cluster's data, the
            // machine) weighs on both alike.
            let mut f: Option<Row> = None;
            let mut r: Option<Row> = None;
            for (rep, faultline_turn) in [true, false, false, true].into_iter().enumerate() {
                if faultline_turn {
                    let row = faultline_phase(&c, mix_name, mix, clients, secs, &dir.path().join(format!("{mix_name}-{clients}-{rep}.jsonl")));
                    eprintln!("  faultline {mix_name:7} {clients:2} clients: {:.0} ok/s", row.ok_per_s());
                    f = Some(match f.take() {
                        Some(prev) => prev.merge(row),
                        None => row,
                    });
                } else {
                    let row = raw_phase(&c, mix_name, shares, clients, secs);
                    eprintln!("  raw loop  {mix_name:7} {clients:2} clients: {:.0} ok/s", row.ok_per_s());
                    r = Some(match r.take() {
                        Some(prev) => prev.merge(row),
                        None => row,
                    });
                }
                compact(&c);
            }
            rows.push((r.expect("raw rows"), None));
            let reference = rows.len() - 1;
            rows.push((f.expect("faultline rows"), Some(reference)));
        }
    }
    for load in &loads {
        let r = check_perf_phase(&c, load);
        compact(&c);
        rows.push((r, None));
    }
    // faultline's write-only rows also against the saturating check perf load, if it ran.
    let perf_ref = rows.iter().position(|(r, _)| r.tool.ends_with("--load=l") || r.tool.ends_with("--load=xl"));

    println!();
    println!("Benchmark 2: closed-loop throughput, one 3-member cluster (etcd members each in a namespace), 2 × {secs} s per tool and configuration (order faultline, raw, raw, faultline)");
    println!(
        "| tool | mix | clients / conns | s | ok/s | ok/s per repetition | answered/s | ok ratio | p50 ms | p99 ms | ok/s vs ref | generator CPU s (cores) | generator CPU µs / answered op | etcd members CPU s (cores) | machine busy | notes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (row, reference) in &rows {
        let mut vs = reference.map(|i| format!("{:.2} × raw", row.ok_per_s() / rows[i].0.ok_per_s())).unwrap_or_else(|| "ref".into());
        if let (Some(p), true, Some(_)) = (perf_ref, row.mix == "write", reference) {
            vs.push_str(&format!(", {:.2} × check perf {}", row.ok_per_s() / rows[p].0.ok_per_s(), rows[p].0.tool.rsplit(' ').next().unwrap_or("")));
        }
        println!(
            "| {} | {} | {} | {:.1} | {:.0} | {} | {:.0} | {:.3} | {} | {} | {} | {:.2} ({:.2}) | {:.0} | {:.2} ({:.2}) | {:.0}% | {} |",
            row.tool,
            row.mix,
            row.clients,
            row.secs,
            row.ok_per_s(),
            row.reps.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", "),
            row.answered_per_s(),
            row.ok as f64 / row.total.max(1) as f64,
            fmt_ms(row.percentile_ms(0.50)),
            fmt_ms(row.percentile_ms(0.99)),
            vs,
            row.cpu.generator_s,
            row.cpu.generator_s / row.secs,
            row.cpu.generator_s * 1e6 / row.answered.max(1) as f64,
            row.cpu.members_s,
            row.cpu.members_s / row.secs,
            row.cpu.machine_busy * 100.0,
            row.note
        );
    }
    println!();
    println!("ok ratio = ok / all completions (a cas whose compare failed is answered but not ok); cores = CPU s / phase s; machine busy = share of all {} cores busy (/proc/stat)", std::thread::available_parallelism().map_or(0, |n| n.get()));
}

//! CPU and memory pressure inside a member's cgroup (on the process backend the member's own
//! `faultline/<run>-<member>` cgroup; on Docker the container's): `cpu-stress` runs burner
//! processes there, so they compete with etcd for its CPU share as a noisy neighbour would;
//! `cpu-limit` sets the cgroup's CPU quota; `mem-stress` runs a process that holds touched
//! memory there. Each is proven from the cgroup's own accounting.
//!
//! Burners are faultline itself, re-executed as the hidden `faultline stress-worker`, with
//! `FAULTLINE_RUN=<run>` in their environment (so `faultline clean` finds them); they exit
//! by themselves when faultline goes.

use super::api::{Active, Cx, Healed};
use crate::cluster::cgroup;
use crate::cluster::Member;
use crate::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A CPU or memory fault in force on some members.
#[derive(Debug)]
pub enum CpuFault {
    /// Burner or memory-holding processes, by member.
    Workers(Vec<(String, Vec<Child>)>),
    /// Quotas written, with the values to restore, by member.
    Limit(Vec<(String, QuotaFile)>),
}

/// A quota file and what it held before.
#[derive(Debug, Clone)]
pub struct QuotaFile {
    dir: PathBuf,
    /// v1: (cfs_quota_us, cfs_period_us) before; v2: cpu.max before.
    before: (String, String),
    throttled_before: u64,
}

fn cpu_dir(m: &Member) -> Result<PathBuf, Error> {
    m.cgroup
        .iter()
        .find(|d| cgroup::is_v2() || d.components().any(|c| c.as_os_str() == "cpu" || c.as_os_str() == "cpu,cpuacct"))
        .cloned()
        .ok_or_else(|| Error::Environment(format!("{} has no cpu cgroup to act on (is the cpu controller mounted? see `faultline doctor`)", m.name)))
}

/// CPU time used by a cgroup so far, in seconds.
fn cgroup_cpu_s(m: &Member) -> Option<f64> {
    for d in &m.cgroup {
        if let Ok(t) = std::fs::read_to_string(d.join("cpuacct.usage")) {
            return t.trim().parse::<f64>().ok().map(|ns| ns / 1e9);
        }
        if let Ok(t) = std::fs::read_to_string(d.join("cpu.stat")) {
            if let Some(us) = t.lines().find_map(|l| l.strip_prefix("usage_usec ")) {
                return us.trim().parse::<f64>().ok().map(|us| us / 1e6);
            }
        }
    }
    None
}

/// A process's CPU time so far (user + system), in seconds.
fn process_cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

fn clock_ticks() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as f64
}

/// A process's resident memory, in bytes.
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()).map(|kb| kb * 1024)
}

static WORKER_EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Use `exe` as the faultline binary that runs stress workers (for callers that are not the
/// faultline binary themselves, such as the integration tests).
pub fn set_worker_exe(exe: &Path) {
    let _ = WORKER_EXE.set(exe.to_path_buf());
}

/// Start one worker (`faultline stress-worker ARGS`) inside the member's cgroups.
fn spawn_worker(run_id: &str, m: &Member, args: &[String]) -> Result<Child, Error> {
    let exe = match WORKER_EXE.get() {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(|e| Error::Harness(format!("cannot find faultline's own executable to start a stress worker: {e}")))?,
    };
    let child = Command::new(exe)
        .arg("stress-worker")
        .args(args)
        .env("FAULTLINE_RUN", run_id)
        .env("FAULTLINE_MEMBER", &m.name)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::Harness(format!("cannot start a stress worker for {}: {e}", m.name)))?;
    for d in m.cgroup.iter().filter(|d| !d.components().any(|c| c.as_os_str() == "freezer")) {
        if let Err(e) = std::fs::write(d.join("cgroup.procs"), child.id().to_string()) {
            let mut c = child;
            let _ = c.kill();
            let _ = c.wait();
            return Err(Error::Environment(format!("cannot put a stress worker into {}'s cgroup {}: {e}", m.name, d.display())));
        }
    }
    Ok(child)
}

fn stop_all(workers: &mut [(String, Vec<Child>)]) {
    for (_, cs) in workers.iter_mut() {
        for c in cs.iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `cpu-stress`: `workers` burners at `load` % in each target's cgroup. Proven when the
/// burners' CPU shows in the member's cgroup accounting.
pub fn stress_cpu(run_id: &str, members: &[Member], workers: u32, load: f64) -> Result<(CpuFault, String), Error> {
    let mut all: Vec<(String, Vec<Child>)> = Vec::new();
    for m in members {
        let mut mine = Vec::new();
        for _ in 0..workers {
            match spawn_worker(run_id, m, &["--cpu-load".into(), format!("{load}")]) {
                Ok(c) => mine.push(c),
                Err(e) => {
                    all.push((m.name.clone(), mine));
                    stop_all(&mut all);
                    return Err(e);
                }
            }
        }
        all.push((m.name.clone(), mine));
    }
    // Measure over a short window: the burners' own CPU, and the cgroup's.
    let window = Duration::from_millis(400);
    let before: Vec<(Option<f64>, f64)> =
        members.iter().zip(&all).map(|(m, (_, cs))| (cgroup_cpu_s(m), cs.iter().filter_map(|c| process_cpu_s(c.id())).sum::<f64>())).collect();
    let t0 = Instant::now();
    std::thread::sleep(window);
    let mut proofs = Vec::new();
    for ((m, (_, cs)), (cg0, b0)) in members.iter().zip(&all).zip(before) {
        let burned = cs.iter().filter_map(|c| process_cpu_s(c.id())).sum::<f64>() - b0;
        let cg = cgroup_cpu_s(m).zip(cg0).map(|(a, b)| a - b);
        // The real elapsed time: the burners may delay this thread well past the window.
        let secs = t0.elapsed().as_secs_f64();
        match cg {
            Some(cg) if burned > 0.0 && cg + 0.02 >= burned * 0.8 => proofs.push(format!(
                "{}: {} burner(s) used {:.2} cores, the member's cgroup {:.2} cores over {:.1} s",
                m.name,
                cs.len(),
                burned / secs,
                cg / secs,
                secs
            )),
            Some(cg) => {
                stop_all(&mut all);
                return Err(Error::Invalid(format!(
                    "cpu-stress on {} could not be shown to take effect: the burners used {burned:.3} s of CPU in {secs:.1} s but the member's cgroup only {cg:.3} s",
                    m.name
                )));
            }
            None => {
                stop_all(&mut all);
                return Err(Error::Invalid(format!("cpu-stress on {}: the member's cgroup has no CPU accounting (cpuacct) to prove it", m.name)));
            }
        }
    }
    Ok((CpuFault::Workers(all), proofs.join("; ")))
}

/// `mem-stress`: a process holding `bytes` of touched memory in each target's cgroup.
/// Proven when its resident size reaches 90 % of `bytes` (within 10 s).
pub fn stress_memory(run_id: &str, members: &[Member], bytes: u64) -> Result<(CpuFault, String), Error> {
    let mut all: Vec<(String, Vec<Child>)> = Vec::new();
    for m in members {
        match spawn_worker(run_id, m, &["--mem-bytes".into(), bytes.to_string()]) {
            Ok(c) => all.push((m.name.clone(), vec![c])),
            Err(e) => {
                stop_all(&mut all);
                return Err(e);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut proofs = Vec::new();
    let pids: Vec<(String, u32)> = all.iter().map(|(n, cs)| (n.clone(), cs[0].id())).collect();
    for (name, pid) in pids {
        loop {
            let rss = rss_bytes(pid).unwrap_or(0);
            if rss >= bytes / 10 * 9 {
                proofs.push(format!("{name}: a worker holds {} MiB resident in the member's memory cgroup", rss >> 20));
                break;
            }
            if Instant::now() >= deadline || rss_bytes(pid).is_none() {
                stop_all(&mut all);
                return Err(Error::Invalid(format!(
                    "mem-stress on {name} could not be shown to take effect: the worker holds {} MiB of the {} MiB asked (the cgroup's memory limit may be lower; it may have been OOM-killed)",
                    rss >> 20,
                    bytes >> 20
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok((CpuFault::Workers(all), proofs.join("; ")))
}

fn throttled(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join("cpu.stat"))
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("nr_throttled ")).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

fn read(p: &Path) -> Result<String, Error> {
    std::fs::read_to_string(p).map(|s| s.trim().to_string()).map_err(|e| Error::Environment(format!("cannot read {}: {e}", p.display())))
}

fn write(p: &Path, v: &str) -> Result<(), Error> {
    std::fs::write(p, v).map_err(|e| Error::Environment(format!("cannot write {v} to {}: {e}", p.display())))
}

/// `cpu-limit`: a CPU quota of `cores` on each target's cgroup (v1 `cpu.cfs_quota_us` over a
/// 100 ms period; v2 `cpu.max`). Proven by reading the quota back.
pub fn limit_cpu(members: &[Member], cores: f64) -> Result<(CpuFault, String), Error> {
    let period: u64 = 100_000;
    let quota = ((cores * period as f64).round() as u64).max(1000);
    let mut done: Vec<(String, QuotaFile)> = Vec::new();
    let mut proofs = Vec::new();
    for m in members {
        let dir = cpu_dir(m)?;
        let r = (|| -> Result<QuotaFile, Error> {
            if cgroup::is_v2() {
                let before = read(&dir.join("cpu.max"))?;
                write(&dir.join("cpu.max"), &format!("{quota} {period}"))?;
                Ok(QuotaFile { throttled_before: throttled(&dir), dir: dir.clone(), before: (before, String::new()) })
            } else {
                let q = read(&dir.join("cpu.cfs_quota_us"))?;
                let p = read(&dir.join("cpu.cfs_period_us"))?;
                write(&dir.join("cpu.cfs_period_us"), &period.to_string())?;
                write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
                Ok(QuotaFile { throttled_before: throttled(&dir), dir: dir.clone(), before: (q, p) })
            }
        })();
        match r {
            Ok(qf) => {
                let now = if cgroup::is_v2() { read(&dir.join("cpu.max"))? } else { format!("{} {}", read(&dir.join("cpu.cfs_quota_us"))?, period) };
                proofs.push(format!("{}: quota {now} µs per period in {}", m.name, dir.display()));
                done.push((m.name.clone(), qf));
            }
            Err(e) => {
                let _ = unlimit(&done);
                return Err(e);
            }
        }
    }
    Ok((CpuFault::Limit(done), proofs.join("; ")))
}

fn unlimit(done: &[(String, QuotaFile)]) -> Result<Vec<String>, Error> {
    let mut said = Vec::new();
    let mut first_err = None;
    for (name, q) in done {
        let r = if cgroup::is_v2() {
            write(&q.dir.join("cpu.max"), &q.before.0)
        } else {
            // Quota first: a quota larger than a shorter period is refused.
            write(&q.dir.join("cpu.cfs_quota_us"), "-1")
                .and_then(|()| write(&q.dir.join("cpu.cfs_period_us"), &q.before.1))
                .and_then(|()| write(&q.dir.join("cpu.cfs_quota_us"), &q.before.0))
        };
        match r {
            Ok(()) => said.push(format!("{name}: quota restored, throttled {} time(s) while limited", throttled(&q.dir).saturating_sub(q.throttled_before))),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(said), Err)
}

impl Active for CpuFault {
    fn heal(&mut self, _: &Cx<'_>) -> Result<Healed, Error> {
        CpuFault::heal(self).map(Healed::proof)
    }
}

impl CpuFault {
    /// Undo: stop the workers (saying how much CPU they used) or restore the quotas.
    pub fn heal(&mut self) -> Result<String, Error> {
        match self {
            CpuFault::Workers(all) => {
                let used: Vec<String> = all
                    .iter()
                    .map(|(n, cs)| format!("{n}: workers used {:.2} s of CPU", cs.iter().filter_map(|c| process_cpu_s(c.id())).sum::<f64>()))
                    .collect();
                stop_all(all);
                Ok(format!("workers stopped ({})", used.join("; ")))
            }
            CpuFault::Limit(done) => unlimit(done).map(|s| s.join("; ")),
        }
    }
}

/// The hidden `faultline stress-worker`: burn `cpu_load` % of a core (in 10 ms slices), or
/// hold `mem_bytes` of touched memory; exit when the parent faultline goes.
pub fn worker_main(cpu_load: Option<f64>, mem_bytes: Option<u64>) -> ! {
    let parent = std::os::unix::process::parent_id();
    let _held: Vec<u8> = match mem_bytes {
        Some(n) => {
            let mut v = vec![0u8; n as usize];
            // Touch every page so it is resident (and charged to the cgroup).
            for i in (0..v.len()).step_by(4096) {
                v[i] = 1;
            }
            v
        }
        None => Vec::new(),
    };
    let busy = Duration::from_micros((cpu_load.unwrap_or(0.0).clamp(0.0, 100.0) * 100.0) as u64);
    let slice = Duration::from_millis(10);
    let mut x: u64 = 1;
    loop {
        if std::os::unix::process::parent_id() != parent {
            std::process::exit(0);
        }
        // Check the parent every 100 ms.
        for _ in 0..10 {
            let start = Instant::now();
            while start.elapsed() < busy {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                std::hint::black_box(x);
            }
            std::thread::sleep(slice.saturating_sub(start.elapsed()));
        }
    }
}

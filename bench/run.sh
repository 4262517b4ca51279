#!/usr/bin/env bash
# Benchmarks 1 and 3 of docs/benchmarks.md, with one command (as root, from anywhere):
#
#   bench/run.sh                 # both
#   bench/run.sh startup         # 1: time from `faultline run` to a healthy 3-member cluster
#   bench/run.sh rate            # 3: faultline's CPU and memory at 500 ops/s for 60 s
#
# Environment: RUNS (start-up runs, default 10), OUT (where run directories, without the
# members' data, and results.json go; default /tmp/faultline-bench-<time>), NO_BUILD=1
# (skip cargo build).
#
# 1 runs bench/startup.yaml RUNS times and reads each run's "cluster healthy X s after
# start" note from events.jsonl, the command's wall time, and from the members' logs (µs
# timestamps) the set-up time (launch → first etcd line) and etcd's own bootstrap (first
# line → the last member's "ready to serve client requests"), the reference inside the run.
# After each run, as a second reference, the same three etcd members (same flags) are
# started bare on 127.0.0.1 — no namespaces, cgroups or faultline — and timed the same way.
# 3 runs bench/rate-500.yaml once and reads summary.json; while it runs, faultline's CPU,
# RSS and VmHWM and the members' CPU are sampled every 0.25 s, to give the rates inside the
# workload window (apart from start-up and teardown) and the kernel's peak RSS.
#
# Benchmark 2 (closed-loop throughput against references) is a test, not part of this
# script: cargo test --release --test it bench -- --ignored --nocapture --test-threads=1
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench/run.sh needs root (faultline runs need it)" >&2; exit 3; fi
if [ -z "${NO_BUILD:-}" ]; then cargo build --release --quiet; fi
export OUT="${OUT:-/tmp/faultline-bench-$(date -u +%Y%m%dT%H%M%SZ)}"
export RUNS="${RUNS:-10}"
mkdir -p "$OUT"
exec python3 - "${1:-all}" <<'PY'
import datetime, glob, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

WHAT = sys.argv[1]
OUT, RUNS = os.environ["OUT"], int(os.environ["RUNS"])
BIN = os.path.abspath("target/release/faultline")
TCK = os.sysconf("SC_CLK_TCK")
results = {}

def leftovers():
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    procs = subprocess.run(["pgrep", "-x", "etcd"], capture_output=True, text=True).stdout.split()
    return [l.split()[0] for l in ns.splitlines() if l.startswith("faultline-")], procs

def check_clean(when):
    ns, procs = leftovers()
    if ns or procs:
        sys.exit(f"{when}: faultline namespaces {ns} or etcd processes {procs} exist; "
                 "stop them (target/release/faultline clean) before benchmarking")

def stats(xs):
    return {"n": len(xs), "min": min(xs), "median": statistics.median(xs), "max": max(xs)}

def fmt(s, unit="s", nd=2):
    return f"min {s['min']:.{nd}f} {unit} · median {s['median']:.{nd}f} {unit} · max {s['max']:.{nd}f} {unit} (n={s['n']})"

def faultline_run(scenario, out, seed, sampler=None):
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.monotonic()
    p = subprocess.Popen([BIN, "run", scenario, "--quiet", "--seed", str(seed), "--out", out],
                         stdin=subprocess.DEVNULL)
    samples = sampler(p.pid, out) if sampler else None
    rc = p.wait()
    wall = time.monotonic() - t0
    summary = json.load(open(os.path.join(out, "summary.json")))
    events = [json.loads(l) for l in open(os.path.join(out, "events.jsonl"))]
    # The members' data directories (preallocated WAL files: ~0.3 GiB a run) are not needed.
    shutil.rmtree(os.path.join(out, "data"), ignore_errors=True)
    return rc, wall, summary, events, samples

# --- 1: start-up --------------------------------------------------------------------------

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) ")

def log_times(paths):
    """From etcd logs (local time, µs): the earliest line; when the last member was ready
    (`ready to serve client requests`: joined, a leader elected, its attributes published);
    the leader's term; and the longest a member spent between its first line and `starting
    member` (etcd's check, with a 1 s timeout per peer, of whether the member is already
    bootstrapped: it waits out peers whose port is bound but not yet served)."""
    first, ready, term, precheck = None, [], None, 0.0
    for path in paths:
        mine, own_first = None, None
        for line in open(path, errors="replace"):
            t = re.search(r"became leader at term (\d+)", line)
            if t:
                term = int(t.group(1))
            m = LOG_TIME.match(line)
            if not m:
                continue
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            own_first = t if own_first is None else own_first
            first = t if first is None else min(first, t)
            if "etcdserver: starting member" in line:
                precheck = max(precheck, t - own_first)
            if "ready to serve client requests" in line and mine is None:
                mine = t
        ready.append(mine)
    return first, (max(ready) if ready and all(ready) else None), term, precheck

def bare_etcd_startup(i):
    """The reference: three etcd members with faultline's flags, bare on 127.0.0.1 (no
    namespaces, cgroups or faultline). Returns (spawn → last member ready, first log line →
    last member ready, the leader's term), seconds."""
    d = tempfile.mkdtemp(prefix="faultline-bench-bare-")
    names = ["n1", "n2", "n3"]
    client = {n: f"http://127.0.0.1:{24010 + k}" for k, n in enumerate(names)}
    peer = {n: f"http://127.0.0.1:{24020 + k}" for k, n in enumerate(names)}
    cluster = ",".join(f"{n}={peer[n]}" for n in names)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
    logs = [os.path.join(d, f"{n}.log") for n in names]
    procs = []
    t0 = time.time()
    try:
        for n, path in zip(names, logs):
            log = open(path, "w")
            procs.append(subprocess.Popen(
                ["etcd", f"--name={n}", f"--data-dir={d}/{n}", f"--listen-client-urls={client[n]}",
                 f"--advertise-client-urls={client[n]}", f"--listen-peer-urls={peer[n]}",
                 f"--initial-advertise-peer-urls={peer[n]}", f"--initial-cluster={cluster}",
                 f"--initial-cluster-token=bench-bare-{i}", "--initial-cluster-state=new",
                 "--heartbeat-interval=100", "--election-timeout=1000", "--snapshot-count=10000",
                 f"--quota-backend-bytes={2 << 30}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env))
        while time.time() - t0 < 30:
            time.sleep(0.02)
            first, ready, term, precheck = log_times(logs)
            if ready:
                return ready - t0, ready - first, term, precheck
        return None, None, None, None
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        shutil.rmtree(d, ignore_errors=True)

def bench_startup():
    print(f"== 1: start-up, {RUNS} runs of bench/startup.yaml, each followed by a bare-etcd reference start", flush=True)
    rows = []
    for i in range(1, RUNS + 1):
        check_clean(f"before start-up run {i}")
        out = f"{OUT}/startup-{i}"
        launched = time.time()
        rc, w, summary, events, _ = faultline_run("bench/startup.yaml", out, i)
        note = next(e["message"] for e in events if e["event"] == "note" and "healthy" in e["message"])
        h = float(re.search(r"healthy ([0-9.]+) s after start", note).group(1))
        first, ready, _, precheck = log_times(sorted(glob.glob(f"{out}/logs/n*.log")))
        b_spawn, b_boot, b_term, b_precheck = bare_etcd_startup(i)
        row = {"run": i, "exit": rc, "verdict": summary["verdict"], "healthy_s": h, "wall_s": round(w, 3),
               "launch_to_first_etcd_log_s": round(first - launched, 3),
               "etcd_bootstrap_s": round(ready - first, 3), "etcd_precheck_max_s": round(precheck, 3),
               "launch_to_etcd_ready_s": round(ready - launched, 3),
               "bare_spawn_to_ready_s": b_spawn and round(b_spawn, 3), "bare_bootstrap_s": b_boot and round(b_boot, 3), "bare_leader_term": b_term,
               "bare_precheck_max_s": b_precheck and round(b_precheck, 3),
               "ok_per_s": summary["throughput_ok_per_s"]}
        rows.append(row)
        print(f"  run {i:2}: exit {rc}; {note}; command {w:.2f} s | inside: launch→first etcd log "
              f"{row['launch_to_first_etcd_log_s']:.3f} s, etcd bootstrap {row['etcd_bootstrap_s']:.3f} s "
              f"(longest pre-start check {precheck:.3f} s) | bare etcd: spawn→ready {b_spawn:.3f} s, bootstrap "
              f"{b_boot:.3f} s (longest pre-start check {b_precheck:.3f} s), leader at term {b_term}", flush=True)
    col = lambda k: [r[k] for r in rows if r[k] is not None]
    r = {"runs": rows}
    for k in ("healthy_s", "wall_s", "launch_to_first_etcd_log_s", "etcd_bootstrap_s", "launch_to_etcd_ready_s",
              "etcd_precheck_max_s", "bare_spawn_to_ready_s", "bare_bootstrap_s", "bare_precheck_max_s"):
        r[k] = stats(col(k))
    r["healthy_over_etcd_bootstrap_median"] = r["healthy_s"]["median"] / r["etcd_bootstrap_s"]["median"]
    r["healthy_over_bare_spawn_to_ready_median"] = r["healthy_s"]["median"] / r["bare_spawn_to_ready_s"]["median"]
    results["startup"] = r
    print(f"  faultline, 'cluster healthy X s after start':  {fmt(r['healthy_s'])}")
    print(f"  faultline, whole command (3 s of workload):    {fmt(r['wall_s'])}")
    print(f"    of which launch → first etcd log line:       {fmt(r['launch_to_first_etcd_log_s'], nd=3)}")
    print(f"    of which etcd bootstrap (first log → all 3 ready): {fmt(r['etcd_bootstrap_s'], nd=3)}")
    print(f"    longest etcd pre-start check (first line → 'starting member'): {fmt(r['etcd_precheck_max_s'], nd=3)}")
    print(f"  reference, bare etcd trio spawn → all 3 ready: {fmt(r['bare_spawn_to_ready_s'], nd=3)}")
    print(f"  reference, bare etcd bootstrap (first log → all 3 ready): {fmt(r['bare_bootstrap_s'], nd=3)}")
    print(f"    longest etcd pre-start check (first line → 'starting member'): {fmt(r['bare_precheck_max_s'], nd=3)}")
    print(f"  ratio of medians, faultline healthy / etcd bootstrap in the same runs: {r['healthy_over_etcd_bootstrap_median']:.2f}")
    print(f"  ratio of medians, faultline healthy / bare etcd spawn→ready: {r['healthy_over_bare_spawn_to_ready_median']:.2f}")

# --- 3: CPU and memory at 500 ops/s ---------------------------------------------------------

def proc_sample(pid):
    """faultline's (state, CPU s, RSS MiB, VmHWM MiB) from /proc, or None once it is gone."""
    try:
        f = open(f"/proc/{pid}/stat").read()
        f = f[f.rindex(")") + 2:].split()
        cpu = (int(f[11]) + int(f[12])) / TCK
        rss = int(f[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        hwm = re.search(r"VmHWM:\s+(\d+) kB", open(f"/proc/{pid}/status").read())
        return f[0], cpu, rss, (int(hwm.group(1)) / 1024 if hwm else 0.0)
    except (OSError, ValueError, IndexError):
        return None

def members_cpu():
    total = 0.0
    for path in glob.glob("/sys/fs/cgroup/cpuacct/faultline/*-n*/cpuacct.usage") or glob.glob("/sys/fs/cgroup/faultline/*-n*/cpu.stat"):
        try:
            text = open(path).read()
            total += int(text) / 1e9 if path.endswith("usage") else int(re.search(r"usage_usec (\d+)", text).group(1)) / 1e6
        except (OSError, ValueError, AttributeError):
            pass
    return total

def machine():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)

def sampler(pid, out):
    """Every 0.25 s until faultline exits: its CPU, RSS and VmHWM, the members' CPU, the
    machine's; and, for the workload's start and end, the index of the first sample taken
    after the event was seen in events.jsonl."""
    samples, marks = [], {}
    events = os.path.join(out, "events.jsonl")

    def look():
        try:
            for line in open(events):
                e = json.loads(line)
                if e["event"] in ("workload-start", "workload-end") and e["event"] not in marks:
                    marks[e["event"]] = len(samples)
        except (OSError, ValueError):
            pass

    while True:
        look()
        p = proc_sample(pid)
        if p is None or p[0] in "ZX":
            break
        samples.append((time.monotonic(), p[1], p[2], members_cpu(), *machine(), p[3]))
        time.sleep(0.25)
    look()
    return samples, marks

def bench_rate():
    print("== 3: bench/rate-500.yaml (500 ops/s target, 8 clients, 60 s, no faults)", flush=True)
    check_clean("before the rate run")
    rc, wall, s, events, (samples, marks) = faultline_run("bench/rate-500.yaml", f"{OUT}/rate-500", 500, sampler)
    h = s["harness"]
    r = {"exit": rc, "verdict": s["verdict"], "wall_s": round(wall, 3), "duration_s": s["duration_s"],
         "harness_cpu_s": h["cpu_s"], "harness_cpu_per_workload_s": h["cpu_s"] / s["duration_s"],
         "peak_rss_mib": h["peak_rss_mib"], "throughput_ok_per_s": s["throughput_ok_per_s"], "ops": s["ops"],
         "latency_ms_all": s["latency_ms"]["all"]}
    if samples:
        # summary.json's `harness` is read before the summary is built (and before teardown);
        # the last sample before exit and the kernel's high-water mark include what follows.
        r["last_sample_before_exit"] = {"harness_cpu_s": round(samples[-1][1], 2), "vmhwm_mib": round(max(x[6] for x in samples), 1)}
    if "workload-start" in marks and "workload-end" in marks:
        # From the first sample after the workload started to the last one before its end was
        # seen, and before teardown removed the members' cgroups (it follows within ~0.2 s).
        i = marks["workload-start"]
        j = min(marks["workload-end"], len(samples)) - 1
        while j > i and samples[j][3] < samples[i][3]:
            j -= 1
        a, b = samples[i], samples[j]
        span = b[0] - a[0]
        r["window"] = {"seconds": round(span, 2), "harness_cores": (b[1] - a[1]) / span,
                       "members_cores": (b[3] - a[3]) / span, "machine_busy": (b[4] - a[4]) / max(1, b[5] - a[5]),
                       "harness_rss_mib_at_workload_start": round(a[2], 1), "harness_rss_mib_at_workload_end": round(b[2], 1)}
    results["rate_500"] = r
    lat = r["latency_ms_all"]
    print(f"  exit {rc} ({s['verdict']}), command {wall:.1f} s")
    print(f"  ops {s['ops']}: {s['ops']['total'] / s['duration_s']:.1f} invoked/s (target 500), "
          f"{s['throughput_ok_per_s']:.1f} ok/s (a cas whose compare failed is `fail`)")
    print(f"  latency ms (ok ops): p50 {lat['p50']} · p99 {lat['p99']} · p99.9 {lat['p999']} · max {lat['max']}")
    print(f"  harness (summary.json): cpu_s {h['cpu_s']} over the whole run = {r['harness_cpu_per_workload_s']:.3f} of one core "
          f"per workload second; peak_rss_mib {h['peak_rss_mib']}")
    if "last_sample_before_exit" in r:
        x = r["last_sample_before_exit"]
        print(f"  sampled from /proc until exit: CPU {x['harness_cpu_s']} s at the last sample, peak RSS (VmHWM) {x['vmhwm_mib']} MiB")
    if "window" in r:
        w = r["window"]
        print(f"  sampled inside the workload window ({w['seconds']} s): faultline {w['harness_cores']:.3f} cores, "
              f"etcd members {w['members_cores']:.3f} cores, machine {w['machine_busy'] * 100:.0f}% busy; faultline RSS "
              f"{w['harness_rss_mib_at_workload_start']} MiB at workload start, {w['harness_rss_mib_at_workload_end']} MiB at its end")

if WHAT in ("all", "startup"):
    bench_startup()
if WHAT in ("all", "rate"):
    bench_rate()
json.dump(results, open(f"{OUT}/results.json", "w"), indent=2)
check_clean("after the benchmarks")
print(f"results: {OUT}/results.json (run directories beside it)")
PY

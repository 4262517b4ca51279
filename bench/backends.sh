#!/usr/bin/env bash
# Benchmark 6 of docs/benchmarks.md: the process and Docker backends side by side, in one
# run, alternating so that both see the same machine (as root, from anywhere):
#
#   bench/backends.sh
#
# a) time to a healthy 3-member cluster: bench/startup.yaml RUNS times on each backend
#    ("cluster healthy X s after start" in events.jsonl, and the command's wall time);
# b) throughput and latency under no faults: bench/closed-20s.yaml (16 clients, closed loop,
#    20 s) LOAD_RUNS times on each backend: ok/s, p50/p99/p99.9 of every ok operation, and
#    faultline's own CPU per 1000 operations (summary.json `harness.cpu_s`; the harness must
#    cost the same on both).
# The image build is timed first (benchmark 5 measures it in more detail).
#
# Environment: RUNS (default 5), LOAD_RUNS (default 3), OUT (default
# /tmp/faultline-backends-<time>), NO_BUILD=1 (skip cargo build).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench/backends.sh needs root (the process backend needs it)" >&2; exit 3; fi
if [ -z "${NO_BUILD:-}" ]; then cargo build --release --quiet; fi
export OUT="${OUT:-/tmp/faultline-backends-$(date -u +%Y%m%dT%H%M%SZ)}"
export RUNS="${RUNS:-5}" LOAD_RUNS="${LOAD_RUNS:-3}"
mkdir -p "$OUT"
exec python3 - <<'PY'
import json, os, re, shutil, statistics, subprocess, time

OUT, RUNS, LOAD_RUNS = os.environ["OUT"], int(os.environ["RUNS"]), int(os.environ["LOAD_RUNS"])
BIN = os.path.abspath("target/release/faultline")
BACKENDS = ["process", "docker"]

def leftovers():
    ns = [l.split()[0] for l in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.splitlines() if l.startswith("faultline-")]
    ct = subprocess.run(["docker", "ps", "-aq", "--filter", "label=faultline.run"], capture_output=True, text=True).stdout.split()
    return ns + ct

def run(scenario, backend, out, seed):
    if leftovers():
        raise SystemExit(f"leftovers of another run: {leftovers()}; run `faultline clean` first")
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.monotonic()
    rc = subprocess.run([BIN, "run", scenario, "--quiet", "--backend", backend, "--seed", str(seed), "--out", out], stdin=subprocess.DEVNULL).returncode
    wall = time.monotonic() - t0
    s = json.load(open(f"{out}/summary.json"))
    events = [json.loads(l) for l in open(f"{out}/events.jsonl")]
    shutil.rmtree(f"{out}/data", ignore_errors=True)
    note = next((e["message"] for e in events if e["event"] == "note" and "healthy" in e["message"]), "")
    m = re.search(r"healthy ([0-9.]+) s after start", note)
    return rc, wall, s, (float(m.group(1)) if m else None)

def med(xs):
    return statistics.median(xs) if xs else float("nan")

def span(xs):
    return f"{med(xs):.2f} (min {min(xs):.2f}, max {max(xs):.2f}, n={len(xs)})"

results = {}
t0 = time.monotonic()
b = subprocess.run([BIN, "image", "build"], capture_output=True, text=True)
results["image_build_s"] = round(time.monotonic() - t0, 2)
print(f"image build (cached layers allowed): {results['image_build_s']} s — {b.stderr.strip() or b.stdout.strip()}", flush=True)

print(f"== a) time to a healthy cluster: bench/startup.yaml, {RUNS} runs per backend, alternating", flush=True)
start = {k: {"healthy_s": [], "wall_s": []} for k in BACKENDS}
for i in range(RUNS):
    for k in BACKENDS:
        rc, wall, s, h = run("bench/startup.yaml", k, f"{OUT}/startup-{k}-{i}", i + 1)
        start[k]["healthy_s"].append(h)
        start[k]["wall_s"].append(round(wall, 3))
        print(f"  {k:7} run {i + 1}: exit {rc}, healthy {h} s after start, command {wall:.2f} s", flush=True)
results["startup"] = start
for k in BACKENDS:
    print(f"  {k:7}: healthy after {span(start[k]['healthy_s'])} s; command {span(start[k]['wall_s'])} s")
ratio = med(start["docker"]["healthy_s"]) / med(start["process"]["healthy_s"])
results["startup_docker_over_process"] = ratio
print(f"  ratio of medians, docker / process: {ratio:.2f}")

print(f"== b) closed loop, 16 clients, 20 s, no faults: {LOAD_RUNS} runs per backend, alternating", flush=True)
load = {k: [] for k in BACKENDS}
for i in range(LOAD_RUNS):
    for k in BACKENDS:
        rc, wall, s, _ = run("bench/closed-20s.yaml", k, f"{OUT}/closed-{k}-{i}", 100 + i)
        lat = s["latency_ms"]["all"]
        ops = s["ops"]["total"]
        row = {"exit": rc, "ok_per_s": s["throughput_ok_per_s"], "ops": ops, "p50_ms": lat["p50"], "p99_ms": lat["p99"], "p999_ms": lat["p999"],
               "harness_cpu_s": s["harness"]["cpu_s"], "harness_cpu_ms_per_1000_ops": 1e6 * s["harness"]["cpu_s"] / max(1, ops), "peak_rss_mib": s["harness"]["peak_rss_mib"]}
        load[k].append(row)
        print(f"  {k:7} run {i + 1}: exit {rc}, {row['ok_per_s']:.0f} ok/s, p50 {lat['p50']} ms, p99 {lat['p99']} ms, p99.9 {lat['p999']} ms, "
              f"harness {row['harness_cpu_s']:.2f} CPU s = {row['harness_cpu_ms_per_1000_ops']:.1f} ms per 1000 ops", flush=True)
results["closed_loop"] = load
for k in BACKENDS:
    col = lambda f: [r[f] for r in load[k]]
    print(f"  {k:7}: ok/s {span(col('ok_per_s'))}; p50 ms {span(col('p50_ms'))}; p99 ms {span(col('p99_ms'))}; "
          f"harness CPU ms per 1000 ops {span(col('harness_cpu_ms_per_1000_ops'))}")
for f in ("ok_per_s", "p99_ms", "harness_cpu_ms_per_1000_ops"):
    r = med([x[f] for x in load["docker"]]) / med([x[f] for x in load["process"]])
    results[f"closed_{f}_docker_over_process"] = r
    print(f"  ratio of medians, docker / process, {f}: {r:.2f}")
json.dump(results, open(f"{OUT}/results.json", "w"), indent=2)
print(f"results: {OUT}/results.json")
PY

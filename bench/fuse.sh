#!/usr/bin/env bash
# Benchmark 7 of docs/benchmarks.md: the disk-fault layer's overhead with no fault active, on
# etcd's write path (as root, from anywhere):
#
#   bench/fuse.sh
#
# Each round measures, in a fresh directory under $BASE (same disk as the run directories),
# first plainly and then under the layer (`--layer durable`, the default mode), alternating so
# both see the same machine:
#   fsync    COUNT x (write SIZE bytes + fdatasync) on one file (a WAL-like append loop);
#   put-1    PUTS sequential puts of 256-byte values from one client to a single etcd member;
#   put-16   PUTS puts from 16 concurrent clients (etcd batches their fsyncs).
# The layer's other modes are measured on the fsync loop too (lose-unsynced: writes stay in
# the layer's memory until the fdatasync writes them out).
# Prints per-operation p50/p99 and operations per second, medians over the rounds, and ratios
# layer / plain; writes results.json to $OUT.
#
# Environment: ROUNDS (default 5), COUNT (1000), SIZE (4096), PUTS (2000),
# BASE (default /tmp), OUT (default /tmp/faultline-fuse-<time>), NO_BUILD=1 (skip cargo build).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench/fuse.sh needs root (the layer mounts with mount(2))" >&2; exit 3; fi
if [ -z "${NO_BUILD:-}" ]; then cargo build --release --quiet --example diskbench; fi
export OUT="${OUT:-/tmp/faultline-fuse-$(date -u +%Y%m%dT%H%M%SZ)}"
export ROUNDS="${ROUNDS:-5}" COUNT="${COUNT:-1000}" SIZE="${SIZE:-4096}" PUTS="${PUTS:-2000}" BASE="${BASE:-/tmp}"
mkdir -p "$OUT"
exec python3 - <<'PY'
import json, os, shutil, statistics, subprocess, tempfile

OUT, ROUNDS = os.environ["OUT"], int(os.environ["ROUNDS"])
COUNT, SIZE, PUTS, BASE = os.environ["COUNT"], os.environ["SIZE"], os.environ["PUTS"], os.environ["BASE"]
BIN = os.path.abspath("target/release/examples/diskbench")

def leftover_mounts():
    return [l for l in open("/proc/self/mountinfo") if " - fuse.faultline faultline-bench" in l]

def one(args, layer):
    if leftover_mounts():
        raise SystemExit(f"faultline-bench mounts left over: {leftover_mounts()}")
    tmp = tempfile.mkdtemp(prefix="faultline-fuse-", dir=BASE)
    d = os.path.join(tmp, "data")
    os.mkdir(d)
    cmd = [BIN] + args + ["--dir", d] + (["--layer", layer] if layer else [])
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    shutil.rmtree(tmp, ignore_errors=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])

LOADS = {
    "fsync": (["fsync", "--count", COUNT, "--size", SIZE], [None, "durable", "lose-unsynced", "fsync-lie"]),
    "put-1": (["etcd", "--puts", PUTS, "--clients", "1"], [None, "durable"]),
    "put-16": (["etcd", "--puts", PUTS, "--clients", "16"], [None, "durable"]),
}
res = {name: {str(l): [] for l in layers} for name, (_, layers) in LOADS.items()}
for r in range(ROUNDS):
    for name, (args, layers) in LOADS.items():
        for layer in layers:
            x = one(args, layer)
            res[name][str(layer)].append(x)
            print(f"round {r + 1} {name:7} {x['dir']:14} p50 {x['p50_us']:9.1f} us  p99 {x['p99_us']:9.1f} us  {x['per_s']:9.1f}/s", flush=True)

med = lambda xs: statistics.median(xs)
print()
print(f"medians over {ROUNDS} rounds; ratio = layer / plain (same round set)")
summary = {}
for name, runs in res.items():
    plain = runs["None"]
    base = {k: med([x[k] for x in plain]) for k in ("p50_us", "p99_us", "per_s")}
    for layer, xs in runs.items():
        m = {k: med([x[k] for x in xs]) for k in ("p50_us", "p99_us", "per_s")}
        ratio = {k: m[k] / base[k] for k in m}
        summary[f"{name}/{'plain' if layer == 'None' else layer}"] = {"median": m, "ratio": ratio, "runs": xs}
        print(f"{name:7} {('plain' if layer == 'None' else layer):14} p50 {m['p50_us']:9.1f} us ({ratio['p50_us']:.2f})  "
              f"p99 {m['p99_us']:9.1f} us ({ratio['p99_us']:.2f})  {m['per_s']:9.1f}/s ({ratio['per_s']:.2f})")
json.dump(summary, open(os.path.join(OUT, "results.json"), "w"), indent=1)
print(f"\nresults.json in {OUT}")
PY

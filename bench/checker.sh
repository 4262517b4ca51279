#!/usr/bin/env bash
# Benchmark 4 of docs/benchmarks.md: the linearizability checker (`faultline check`), with one
# command (no root needed), from anywhere:
#
#   bench/checker.sh              # both parts
#   bench/checker.sh generated    # generated register histories: 10k, 100k, 1M ops, two shapes,
#                                 #   ~2 % info writes, with and without a planted stale read
#   bench/checker.sh porcupine    # Porcupine's test data (103 Jepsen etcd logs, 6 kv logs) in
#                                 #   one call, beside Porcupine's own times
#
# Environment: OUT (generated histories and results.json; default /tmp/faultline-checker-bench;
# histories already there are reused), SIZES (default "10000 100000 1000000"), TIMEOUT
# (faultline check --timeout, default 60s), RUNS (repetitions of the Porcupine call, default 5,
# best taken), NO_BUILD=1 (skip cargo build).
#
# Each generated history is checked by a process of its own under /usr/bin/time -v: the wall
# time (parsing included), the `seconds` of the --json line (the check after parsing), the
# peak RSS, the verdict and the exit code. The histories come from
# `cargo run --release --example genhist` (faultline::checker::gen), seed 1: linearizable by
# construction; `--stale-read` changes one ok read in the middle to a value overwritten by three
# real-time-ordered writes before the read was invoked, which no order can explain.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${NO_BUILD:-}" ]; then cargo build --release --quiet --bin faultline --example genhist; fi
if [ ! -x /usr/bin/time ]; then echo "bench/checker.sh needs /usr/bin/time (apt-get install time)" >&2; exit 3; fi
export OUT="${OUT:-/tmp/faultline-checker-bench}"
export SIZES="${SIZES:-10000 100000 1000000}"
export TIMEOUT="${TIMEOUT:-60s}"
export RUNS="${RUNS:-5}"
mkdir -p "$OUT"
# A copy of the binary, so that a rebuild while the benchmark runs does not change it.
cp target/release/faultline "$OUT/faultline"
cp target/release/examples/genhist "$OUT/genhist"
exec python3 - "${1:-all}" <<'PY'
import glob, json, os, re, subprocess, sys, time

WHAT = sys.argv[1]
OUT, TIMEOUT, RUNS = os.environ["OUT"], os.environ["TIMEOUT"], int(os.environ["RUNS"])
SIZES = [int(s) for s in os.environ["SIZES"].split()]
BIN, GEN = os.path.join(OUT, "faultline"), os.path.join(OUT, "genhist")
DATA = os.path.abspath("../shared/data/porcupine-etcd")
results = {}
path_results = os.path.join(OUT, "results.json")
if os.path.exists(path_results):
    results = json.load(open(path_results))

def timed(cmd):
    """Run cmd under /usr/bin/time -v: (stdout, rc, wall s, peak RSS MiB)."""
    tf = os.path.join(OUT, "time.txt")
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", "-o", tf] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tf).read()).group(1)) / 1024
    return p.stdout, p.returncode, wall, rss

def human(n):
    return f"{n // 1000000}M" if n >= 1000000 else f"{n // 1000}k"

if WHAT in ("all", "generated"):
    rows = []
    for n in SIZES:
        for clients, keys in ((32, 16), (64, 4)):
            for stale in (False, True):
                name = f"h-{human(n)}-{clients}c{keys}k{'-stale' if stale else ''}.jsonl"
                path = os.path.join(OUT, name)
                gen = ["--ops", str(n), "--clients", str(clients), "--keys", str(keys), "--info-pct", "2", "--seed", "1", "--out", path]
                if stale:
                    gen.append("--stale-read")
                note_path = path + ".gen"
                if not os.path.exists(path) or not os.path.exists(note_path):
                    p = subprocess.run([GEN] + gen, stderr=subprocess.PIPE, text=True, check=True)
                    open(note_path, "w").write(p.stderr)
                note = open(note_path).read().strip()
                out, rc, wall, rss = timed([BIN, "check", path, "--json", "--timeout", TIMEOUT])
                line = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
                row = {
                    "file": name, "ops": n, "clients": clients, "keys": keys, "stale": stale,
                    "verdict": line.get("verdict", f"(exit {rc})"), "exit": rc,
                    "check_s": line.get("seconds"), "wall_s": wall, "rss_mib": rss,
                    "unknown_keys": line.get("unknown_keys", []), "generated": note,
                }
                rows.append(row)
                print(f"{name:28} {row['verdict']:17} exit {rc}  check {row['check_s'] or 0:8.3f} s  wall {wall:8.3f} s  peak {rss:8.1f} MiB"
                      + (f"  unknown keys: {len(row['unknown_keys'])}" if row["unknown_keys"] else ""), flush=True)
    results["generated"] = rows
    print()
    print("| ops | clients / keys | stale read | verdict | check s | wall s | peak RSS |")
    print("| ---: | --- | --- | --- | ---: | ---: | ---: |")
    for r in rows:
        v = r["verdict"] + (f" ({len(r['unknown_keys'])} of {r['keys']} keys unfinished)" if r["verdict"] == "unknown" else "")
        print(f"| {human(r['ops'])} | {r['clients']} / {r['keys']} | {'yes' if r['stale'] else 'no'} | {v} | {r['check_s'] or 0:.3f} | {r['wall_s']:.3f} | {r['rss_mib']:.0f} MiB |")
    print()

if WHAT in ("all", "porcupine"):
    expected = {}
    for l in open(os.path.join(DATA, "EXPECTED.tsv")).read().splitlines()[1:]:
        f = l.split("\t")
        expected[f[0]] = (f[3], int(f[4]), float(f[5]) if f[5] else None)
    files = sorted(glob.glob(os.path.join(DATA, "jepsen", "*.log"))) + sorted(glob.glob(os.path.join(DATA, "kv", "*.txt")))
    walls, per_file, rsss, wrong = [], {}, [], set()
    for _ in range(RUNS):
        out, rc, wall, rss = timed([BIN, "check", "--json"] + files)
        walls.append(wall)
        rsss.append(rss)
        for l in out.strip().splitlines():
            d = json.loads(l)
            rel = os.path.relpath(d["file"], DATA)
            per_file.setdefault(rel, []).append(d["seconds"])
            want = expected[rel][0].replace("empty", "linearizable")
            if d["verdict"] != want:
                wrong.add(f"{rel}: {d['verdict']}, expected {want}")
    jep = [f for f in per_file if f.startswith("jepsen/")]
    kv = [f for f in per_file if f.startswith("kv/")]
    por_j = sum(expected[f][2] or 0 for f in jep)
    por_k = sum(expected[f][2] or 0 for f in kv)
    best = min(walls)
    sum_j = sum(min(per_file[f]) for f in jep)
    sum_k = sum(min(per_file[f]) for f in kv)
    results["porcupine"] = {"walls": walls, "best_wall": best, "rss_mib": max(rsss), "check_sum_jepsen": sum_j, "check_sum_kv": sum_k,
                            "per_file_min": {f: min(v) for f, v in per_file.items()}, "wrong": sorted(wrong)}
    print(f"one call, {len(files)} files: wall best of {RUNS} {best:.3f} s (all: {', '.join(f'{w:.3f}' for w in walls)}), peak {max(rsss):.0f} MiB")
    print(f"Porcupine (check only, sum of per-file minimums): jepsen {por_j:.3f} s + kv {por_k:.3f} s = {por_j + por_k:.3f} s; "
          f"goal (10x) {(por_j + por_k) / 10:.3f} s; faultline wall / Porcupine = {best / (por_j + por_k):.2f}")
    print(f"faultline check only (sum of per-file minimums of `seconds`): jepsen {sum_j:.3f} s, kv {sum_k:.3f} s")
    print("wrong verdicts: " + (", ".join(sorted(wrong)) if wrong else "none"))
    print()
    print("| file | verdict | ops | Porcupine s | faultline check s (min) | ratio |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    slow = ["jepsen/etcd_002.log", "jepsen/etcd_007.log", "jepsen/etcd_057.log", "jepsen/etcd_099.log", "jepsen/etcd_075.log",
            "jepsen/etcd_040.log", "jepsen/etcd_080.log"] + [f"kv/{n}.txt" for n in ("c01-bad", "c01-ok", "c10-bad", "c10-ok", "c50-bad", "c50-ok")]
    for f in slow:
        e = expected[f]
        ours = min(per_file[f])
        print(f"| {f} | {e[0]} | {e[1]} | {e[2]:.4f} | {ours:.4f} | {e[2] / ours:.1f}x |")
    print()
json.dump(results, open(path_results, "w"), indent=1)
print(f"results: {path_results}")
PY

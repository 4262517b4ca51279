#!/usr/bin/env bash
# Benchmark 12 of docs/benchmarks.md: the etcd model's checker (`faultline check --model etcd`)
# on generated etcd-API histories, with one command (no root needed), from anywhere:
#
#   bench/etcd-checker.sh
#
# Environment: OUT (histories and results.json; default /tmp/faultline-etcd-checker-bench;
# histories already there are reused), SIZES (default "10000 100000 1000000"), CLIENTS
# (default 32), KEYS (default 16), INFO (percent of writers with unknown outcome, default 2),
# PLANTS (default "none stale missed-write txn-half"), TIMEOUT (default 60s), NO_BUILD=1.
#
# Each history comes from `cargo run --release --example genetcd` (faultline::checker::etcd::gen,
# seed 1): every kind of request (gets, ranges with limits, reads at past revisions, puts,
# deletes, transactions, leases, compactions), linearizable by construction; a plant breaks one
# answer in the middle (`stale` is the generator's revision-back: a read answering at an older
# revision after a newer one was seen). Each is checked by a process of its own under
# /usr/bin/time -v: wall time (parsing included), the check's own `seconds`, peak RSS, verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${NO_BUILD:-}" ]; then cargo build --release --quiet --bin faultline --example genetcd; fi
if [ ! -x /usr/bin/time ]; then echo "bench/etcd-checker.sh needs /usr/bin/time (apt-get install time)" >&2; exit 3; fi
OUT="${OUT:-/tmp/faultline-etcd-checker-bench}"
SIZES="${SIZES:-10000 100000 1000000}"
CLIENTS="${CLIENTS:-32}"; KEYS="${KEYS:-16}"; INFO="${INFO:-2}"; TIMEOUT="${TIMEOUT:-60s}"
PLANTS="${PLANTS:-none stale missed-write txn-half}"
mkdir -p "$OUT"
cp target/release/faultline "$OUT/faultline"
cp target/release/examples/genetcd "$OUT/genetcd"
printf '%-9s %-14s %-18s %8s %8s %8s\n' ops plant verdict wall_s check_s rss_mb
echo "[" > "$OUT/results.json"
first=1
for n in $SIZES; do
  for plant in $PLANTS; do
    h="$OUT/etcd-$n-$plant.jsonl"
    if [ ! -s "$h" ]; then
      args=(--ops "$n" --clients "$CLIENTS" --keys "$KEYS" --info-pct "$INFO" --seed 1 --out "$h")
      case "$plant" in none) ;; stale) args+=(--plant revision-back) ;; *) args+=(--plant "$plant") ;; esac
      "$OUT/genetcd" "${args[@]}" 2>/dev/null
    fi
    set +e
    /usr/bin/time -v -o "$OUT/time.txt" "$OUT/faultline" check --model etcd --json --timeout "$TIMEOUT" "$h" > "$OUT/check.json" 2>/dev/null
    set -e
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2,a,":"); if (length(a)==3) print a[1]*3600+a[2]*60+a[3]; else print a[1]*60+a[2]}' "$OUT/time.txt")
    rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2/1024}' "$OUT/time.txt")
    verdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$OUT/check.json")
    secs=$(python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["seconds"])' "$OUT/check.json")
    printf '%-9s %-14s %-18s %8s %8s %8s\n' "$n" "$plant" "$verdict" "$wall" "$secs" "$rss"
    [ $first = 1 ] || echo "," >> "$OUT/results.json"; first=0
    printf '{"ops":%s,"plant":"%s","verdict":"%s","wall_s":%s,"check_s":%s,"rss_mb":%s}' "$n" "$plant" "$verdict" "$wall" "$secs" "$rss" >> "$OUT/results.json"
  done
done
echo "]" >> "$OUT/results.json"

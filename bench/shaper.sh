#!/usr/bin/env bash
# Benchmark 8 of docs/benchmarks.md: the NFQUEUE shaper's cost (root; about 1 minute a run).
#
#   bench/shaper.sh            # one run
#   RUNS=3 bench/shaper.sh     # several runs, one after the other
#
# Each run is `net::bench_shaper_cost` (tests/it/net.rs, #[ignore]d), release build, in two
# namespaces `faultline-nettest<pid>-a/-b` joined by a veth pair, with three parts, each phase
# without the shaper first (the reference, same run), then with it at 0 ms and 50 ms delay:
#   a) UDP echo a→b→a at fixed rates: round trips, hold times, the shaper thread's CPU per
#      packet (from its thread CPU clock, set-up excluded) and the whole process's CPU per
#      packet (every thread, and the kernel work done on their behalf);
#   b) a one-thread UDP flood a→b: what b receives, what the shaper saw, what bypassed it
#      (fail-open), held and overflow;
#   c) one 64 MiB TCP transfer a→b.
# Environment: FAULTLINE_BENCH_SECS (phase length, default 5), FAULTLINE_BENCH_RATES (part a's
# rates, default "1000,10000"), RUNS (default 1), NO_BUILD=1 (skip the build).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench/shaper.sh needs root (network namespaces, iptables)" >&2; exit 3; fi
if [ -z "${NO_BUILD:-}" ]; then cargo test --release --test it --no-run --quiet; fi
for i in $(seq 1 "${RUNS:-1}"); do
  echo "== run $i"
  cargo test --release --quiet --test it net::bench_shaper_cost -- --ignored --nocapture --test-threads=1 | grep -E '^(phase|no shaper|shaper|[abc]\)|flood)'
done

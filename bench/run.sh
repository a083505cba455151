#!/usr/bin/env bash
# npm run bench [-- ROWS-ARGS]: every benchmark, each printing JSON lines with the C baseline (libbpf) or
# the kernel measured in the same run. Arguments go to bench/run.ts (e.g. --rows perf,cli --repeat 3).
#   BENCH_ONLY=run|udp|runtime|nats   one of them
set -euo pipefail
cd "$(dirname "$0")/.."
only=${BENCH_ONLY:-}
run() { [ -z "$only" ] || [ "$only" = "$1" ]; }
if run run; then node --import tsx bench/run.ts "$@"; fi
if run udp; then node --import tsx bench/udp-veth.ts; fi
if run runtime; then node --import tsx bench/runtime.ts; fi
if run nats; then bash scripts/ensure-tools.sh && node --import tsx bench/nats.ts; fi

#!/bin/bash
# Instructions per instrumented call added by tracing scope bench's functions workload
# (src/bench/workloads/functions.cjs), counted by cachegrind: user-space instructions of
# the node process, all threads (the collector is another process), a figure the
# machine's load does not move. Each tree's addon is built for x86-64-v2 (valgrind does not
# decode the AVX-512 a native build may use) into a temporary prefix; untraced and each
# tree traced run at two call counts, and the slope between them is the cost per call
# without the fixed start-up, transform and JIT cost (the intercept, printed too).
#   scripts/functions-instructions.sh LEVEL CALLS_LOW CALLS_HIGH TREE...
#   e.g. scripts/functions-instructions.sh calls 400000 1200000 /tmp/before .
# LEVEL: calls or full (the functions and functions-full workloads: guard off, chunks of
# 5 000 / 1 000 calls 10 ms apart). Needs valgrind. Runs one call count's runs in parallel.
set -euo pipefail
level=$1
low=$2
high=$3
shift 3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
valgrind_work_dir functions-instructions.sh
cp "$here/src/bench/workloads/functions.cjs" "$here/src/bench/workloads/common.cjs" "$out/"
chunk=5000
[ "$level" = full ] && chunk=1000
settings="{\"hotCallsPerSecond\":0,\"root\":\"$out\",\"include\":[\"functions.cjs\"],\"level\":\"$level\"}"
names=()
for tree in "$@"; do
  name="$(basename "$(cd "$tree" && pwd)")"
  names+=("$name")
  valgrind_build "$tree" "$out/$name-zig" x86_64_v2
done
for calls in "$low" "$high"; do
  params="{\"calls\":$calls,\"chunkCalls\":$chunk,\"pauseMs\":10}"
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node "$out/functions.cjs" "$out/r.json" "$params" >"$out/untraced-$calls.log" 2>&1 &
  i=0
  for tree in "$@"; do
    name="${names[$i]}"
    (cd "$tree" && SCOPE_ADDON="$out/$name-zig/lib/scope.node" bun src/cli/main.ts run --functions="$settings" --out "$out/$name-$calls.bin" -- \
      valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node "$out/functions.cjs" "$out/r-$name.json" "$params" >"$out/$name-$calls.log" 2>&1) &
    i=$((i + 1))
  done
  wait
done
slope_report "$out" "$low" "$high" calls 1 call "start-up, transform, JIT" "${names[@]}"

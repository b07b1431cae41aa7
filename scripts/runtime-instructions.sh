#!/bin/bash
# Instructions per instrumented call of FunctionRuntime alone (no scope run, no collector):
# scripts/runtime-instructions.cjs under cachegrind at two call counts, the slope between
# them, per tree (each tree's src/instrument bundled, its addon built for valgrind's CPU).
# With KEEP=1 the cachegrind files stay in the work dir: `cg_diff low.out high.out` then
# `cg_annotate --auto=no` gives the per-call split by native function (V8's builtins and
# runtime, Node-API, the ring; JIT code is one "???" line).
#   scripts/runtime-instructions.sh LEVEL CALLS_LOW CALLS_HIGH TREE...
#   e.g. scripts/runtime-instructions.sh full 20000 100000 /tmp/before .
set -euo pipefail
level=$1
low=$2
high=$3
shift 3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
ring=/dev/shm/scope-runtime-instructions-$$
valgrind_work_dir runtime-instructions.sh "$ring"
(cd "$here" && bun -e "require('./src/core/ring').Ring.create('$ring', { laneCount: 4, laneCapacitySlots: 65536, mode: 'overwrite' })")
for tree in "$@"; do
  name="$(basename "$(cd "$tree" && pwd)")"
  valgrind_build "$tree" "$out/$name-zig" x86_64_v2
  (cd "$tree" && bun build src/instrument/index.ts --target node --format cjs --external oxc-parser --outfile "$out/$name.cjs" > /dev/null)
  for calls in "$low" "$high"; do
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out/$name-$calls.out" node "$here/scripts/runtime-instructions.cjs" "$out/$name.cjs" "$out/$name-zig/lib/scope.node" "$ring" "$calls" "$level" > "$out/$name-$calls.log" 2>&1
  done
  awk -v n="$name" -v l="$low" -v h="$high" -v lo="$(cachegrind_refs "$out/$name-$low.log")" -v hi="$(cachegrind_refs "$out/$name-$high.log")" \
    'BEGIN { printf "%s: %.1f instructions per call at the %s level (slope %d..%d calls)\n", n, (hi - lo) / (h - l), "'"$level"'", l, h }'
done

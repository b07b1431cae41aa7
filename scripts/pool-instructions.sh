#!/bin/bash
# Instructions per message event added by tracing the pool workload, counted by cachegrind
# (user-space instructions of the node process, all threads; the collector is another
# process): a figure the machine's load does not move. Each tree's addon is built for
# x86-64-v3 (valgrind 3.19 does not decode the AVX-512 a native build may use) into a
# temporary prefix; untraced and each tree traced run at two job counts, and the slope
# between them is the cost per job without the fixed start-up and JIT cost (the intercept,
# printed too). 4 message events a job (a send and a receive each way).
#   scripts/pool-instructions.sh JOBS_LOW JOBS_HIGH TREE...     e.g. scripts/pool-instructions.sh 20000 60000 /tmp/before .
# A TREE may be followed by `:events` (scope run --events), e.g. `. .:+loop,+memory`.
# RUN_ARGS: more `scope run` options for every traced run, e.g. RUN_ARGS='--loop-interval 50s
# --long-task 2500ms' (the loop group's time settings scaled by valgrind's ~50x slowdown).
# NODE_FLAGS: node options for every run (untraced too), e.g. NODE_FLAGS='--single-threaded
# --predictable-gc-schedule': V8's background threads and speed-driven heap growing otherwise move
# a run's count by several M (BENCHMARKS.md "Event loop and memory", fifth look).
# COMPILES=1: callgrind instead of cachegrind (~2x slower), and a second report with V8's
# optimizing compiles taken out of every count (optimizing_compile_refs; needs --single-threaded
# in NODE_FLAGS). On Node 24 (V8 13.6) a function reaches TurboFan only after ~3,000 calls' worth
# of its bytecode (Maglev first), so the agent's TurboFan compiles land inside the 20,000 ->
# 60,000-job window and the slope counts them as per-message cost; on Node 20 they are done
# before it (BENCHMARKS.md "Messages on Node 24").
# Needs valgrind (apt-get install valgrind). Runs the configurations of one job count in parallel.
set -euo pipefail
low=$1
high=$2
shift 2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
valgrind_work_dir pool-instructions.sh
workload="$here/src/bench/workloads/pool.cjs"
names=()
trees=()
events=()
for spec in "$@"; do
  IFS=: read -r tree event <<<"$spec"
  name="$(basename "$(cd "$tree" && pwd)")${event:+-$event}"
  names+=("$name")
  trees+=("$tree")
  events+=("$event")
  valgrind_build "$tree" "$out/$name-zig"
done
# The valgrind command line of one run; $1: the run's name and job count (its callgrind file).
tool() {
  if [ -n "${COMPILES:-}" ]; then echo "valgrind --tool=callgrind --callgrind-out-file=$out/$1.cg"
  else echo "valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null"; fi
}
for jobs in "$low" "$high"; do
  $(tool "untraced-$jobs") node ${NODE_FLAGS:-} "$workload" "$out/r.json" "{\"jobs\":$jobs}" >"$out/untraced-$jobs.log" 2>&1 &
  i=0
  for tree in "${trees[@]}"; do
    name="${names[$i]}"
    event="${events[$i]}"
    (cd "$tree" && SCOPE_ADDON="$out/$name-zig/lib/scope.node" bun src/cli/main.ts run ${event:+--events $event} ${RUN_ARGS:-} --out "$out/$name-$jobs.bin" -- \
      $(tool "$name-$jobs") node ${NODE_FLAGS:-} "$workload" "$out/r-$name.json" "{\"jobs\":$jobs}" >"$out/$name-$jobs.log" 2>&1) &
    i=$((i + 1))
  done
  wait
done
slope_report "$out" "$low" "$high" jobs 4 "message event" "start-up, JIT" "${names[@]}"
if [ -n "${COMPILES:-}" ]; then
  # The same slopes with the optimizing compiles out: each count minus its compiles, as logs slope_report reads.
  mkdir -p "$out/nocompile"
  for log in "$out"/*.log; do
    run="$(basename "$log" .log)"
    compiled=$(optimizing_compile_refs "$out/$run.cg")
    echo "$run: optimizing compiles $compiled" >&2
    echo "I refs: $(( $(cachegrind_refs "$log") - compiled ))" >"$out/nocompile/$run.log"
    grep -q 'lost: none' "$log" && echo "lost: none" >>"$out/nocompile/$run.log"
  done
  echo "without the optimizing compiles (Maglev, TurboFan):"
  slope_report "$out/nocompile" "$low" "$high" jobs 4 "message event" "start-up, JIT" "${names[@]}"
fi

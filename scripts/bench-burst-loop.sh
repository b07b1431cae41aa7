#!/bin/bash
# The full-level million-call loop (spec/fixtures/lossless/loop.cjs, ~4 M records) under
# `scope run --functions --hot-calls-per-second 0`, N times in TREE: per run the traced
# node's own wall, user and system seconds (/usr/bin/time inside the run), scope's
# duration, the losses, and for the whole run (perf stat, needs tracefs) the futex and
# clock_nanosleep syscalls (a producer waiting for the drain sleeps in clock_nanosleep;
# one sleep is Node's own) and the CPU of every process in ms (task-clock).
#   bash scripts/bench-burst-loop.sh <tree> <runs> [scope run options...]
# Alternate two trees run by run to compare them (BENCHMARKS.md "The collector's drain rate").
set -euo pipefail
tree=$1; runs=$2; shift 2
cd "$tree" && . scripts/env.sh
work=$(mktemp -d /tmp/scope-burst-loop.XXXXXX)
trap 'rm -rf "$work"' EXIT
for _ in $(seq "$runs"); do
  perf stat -x, -o "$work/stat" -e 'syscalls:sys_enter_futex,syscalls:sys_enter_clock_nanosleep,task-clock' -- \
    bun src/cli/main.ts run --functions --hot-calls-per-second 0 --out "$work/loop.bin" "$@" -- \
    /usr/bin/time -f "node %e %U %S" node spec/fixtures/lossless/loop.cjs > "$work/out" 2>&1
  node_line=$(grep "^node " "$work/out")
  lost=$(grep "lost:" "$work/out" | head -1 | sed 's/^ *//')
  seconds=$(grep -o "), [0-9.]*s" "$work/out" | sed 's/), //')
  stats=$(grep -v "^#" "$work/stat" | grep -v "^$" | awk -F, '{n=$3; sub("syscalls:sys_enter_","",n); printf "%s=%s ", n, $1}')
  echo "$node_line (wall user sys s) | scope $seconds | $lost | $stats"
done

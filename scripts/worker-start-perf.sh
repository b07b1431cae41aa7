#!/usr/bin/env bash
# Where a worker's start spends its CPU time, untraced against traced, by symbol, thread or
# shared object: `perf record -e cpu-clock` (a timer: this VM has no hardware counters) of the
# seed-like chain (scripts/lib/worker-chain-time.cjs) at 12 and 112 workers, under SCHED_FIFO
# (both cores taken from other processes for each ~2 s run), alternated; per worker =
# (112 - 12) / 100 per run, then the mean or the median over runs (scripts/lib/perf-pairs-diff.py).
# No --perf-basic-prof: its code-event log computes every script's line ends and writes a line
# a compiled function, which itself costs a traced worker more (BENCHMARKS.md "Worker start: the
# time instructions do not show").
#
#   scripts/worker-start-perf.sh <tree> <dir> [runs=3] [node bin dir]
#   scripts/lib/perf-pairs-diff.py <dir> [runs=3] [dso|comm|dso,sym] [rows] [mean|median]
set -euo pipefail
tree=$(cd "$1" && pwd); dir=$2; runs=${3:-3}
[ -n "${4:-}" ] && export PATH=$4:$PATH
chain=$(cd "$(dirname "$0")" && pwd)/lib/worker-chain-time.cjs
mkdir -p "$dir"
for r in $(seq 1 "$runs"); do
  for n in 12 112; do
    for v in u t; do
      out=$dir/$v-$n-$r.data
      rec=(perf record -q -e cpu-clock -F 4000 -o "$out" -- node "$chain" "$n" 2 "$dir/chain.json")
      if [ $v = u ]; then
        chrt -f 1 "${rec[@]}" > /dev/null 2>&1
      else
        (cd "$tree" && . scripts/env.sh && chrt -f 1 bun src/cli/main.ts run --out "$dir/t.bin" -- "${rec[@]}" > /dev/null 2>&1)
      fi
    done
  done
done

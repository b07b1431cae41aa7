#!/usr/bin/env bash
# Stress for scope attach's workers started while attached (src/attach/agent-workers.ts):
# RUNS times, a fresh src/bench/workloads/worker-churn.cjs under NODE (default: node), attached
# for 3 s (scope from source); a run is an ABORT when the process died, a STALL when it started
# no further worker in the 5 s after the detach, FAILED when scope attach itself exited non-zero.
# Prints one line per run and a total.
# Usage: bash scripts/attach-worker-churn.sh [RUNS=20] [NODE=node] [DURATION=3s] [AFTER=5]
# Short attaches, many runs, no stall check (the running workers' crash, BENCHMARKS.md):
#   bash scripts/attach-worker-churn.sh 250 node 0.2s 0
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
runs=${1:-20}
node_bin=${2:-node}
duration=${3:-3s}
after_s=${4:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bad=0
for i in $(seq 1 "$runs"); do
  rm -f "$dir/count" "$dir/t.bin"
  rm -f "$dir/out.log"
  "$node_bin" --inspect-port=0 src/bench/workloads/worker-churn.cjs "$dir" >"$dir/out.log" 2>"$dir/err.log" &
  pid=$!
  # Its first line ("ready") comes after Node's start-up, SIGUSR1 handler included; then workers.
  until grep -q ready "$dir/out.log" 2>/dev/null; do sleep 0.05; done
  sleep 0.1
  bun src/cli/main.ts attach "$pid" --out "$dir/t.bin" --duration "$duration" 2>"$dir/attach.log"
  attach_rc=$?
  before=$(cat "$dir/count" 2>/dev/null || echo 0)
  sleep "$after_s"
  after=$(cat "$dir/count" 2>/dev/null || echo 0)
  traced=$(grep -o "trace_start [0-9]*" "$dir/attach.log" | grep -o "[0-9]*" || echo 0)
  # A child that died is a zombie until waited for, and kill -0 still reaches a zombie.
  if ! kill -0 "$pid" 2>/dev/null || grep -q "^State:.*Z" "/proc/$pid/status" 2>/dev/null; then verdict=ABORT; bad=$((bad + 1))
  elif [ "$attach_rc" != 0 ]; then verdict="FAILED: $(tail -1 "$dir/attach.log")"; bad=$((bad + 1))
  elif [ "$after_s" != 0 ] && [ "${after:-0}" -le "${before:-0}" ]; then verdict=STALL; bad=$((bad + 1))
  else verdict=ok; fi
  echo "run $i: $verdict (workers ended by the detach ${before:-?}, ${after_s} s later ${after:-?}; threads with a trace_start: ${traced:-0})"
  if [ "$verdict" != ok ]; then tail -3 "$dir/attach.log" | sed 's/^/    scope: /'; tail -3 "$dir/err.log" | sed 's/^/    program: /'; fi
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
echo "$((runs - bad)) of $runs runs clean ($("$node_bin" --version))"

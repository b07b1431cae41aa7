#!/usr/bin/env bash
# Stress for scope attach's workers started while attached (src/attach/agent-workers.ts):
# RUNS times, a fresh src/bench/workloads/worker-churn.cjs under NODE (default: node), attached
# for 3 s (scope from source); a run is an ABORT when the process died, a STALL when it started
# no further worker in the 5 s after the detach. Prints one line per run and a total.
# Usage: bash scripts/attach-worker-churn.sh [RUNS=20] [NODE=node]
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
runs=${1:-20}
node_bin=${2:-node}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bad=0
for i in $(seq 1 "$runs"); do
  rm -f "$dir/count" "$dir/t.bin"
  "$node_bin" --inspect-port=0 src/bench/workloads/worker-churn.cjs "$dir" >/dev/null 2>"$dir/err.log" &
  pid=$!
  sleep 0.5
  bun src/cli/main.ts attach "$pid" --out "$dir/t.bin" --duration 3s 2>"$dir/attach.log"
  before=$(cat "$dir/count" 2>/dev/null || echo 0)
  sleep 5
  after=$(cat "$dir/count" 2>/dev/null || echo 0)
  traced=$(grep -o "trace_start [0-9]*" "$dir/attach.log" | grep -o "[0-9]*" || echo 0)
  if ! kill -0 "$pid" 2>/dev/null; then verdict=ABORT; bad=$((bad + 1))
  elif [ "${after:-0}" -le "${before:-0}" ]; then verdict=STALL; bad=$((bad + 1))
  else verdict=ok; fi
  echo "run $i: $verdict (workers ended by the detach ${before:-?}, 5 s later ${after:-?}; threads with a trace_start: ${traced:-0})"
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
echo "$((runs - bad)) of $runs runs clean ($("$node_bin" --version))"

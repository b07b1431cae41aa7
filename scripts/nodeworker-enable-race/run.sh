#!/usr/bin/env bash
# Node's NodeWorker.enable race (ARCHITECTURE.md "scope attach" → "Why the running workers are
# reached over scope's connection"): RUNS times each, for SECONDS, worker churn with
# NodeWorker.enable (a) on an in-process session, (b) over a remote inspector connection.
# Usage: bash scripts/nodeworker-enable-race/run.sh [RUNS=3] [SECONDS=15] [NODE=node]
set -uo pipefail
cd "$(dirname "$0")"
. ../env.sh
runs=${1:-3}
seconds=${2:-15}
node_bin=${3:-node}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "$("$node_bin" --version), in-process session:"
for i in $(seq 1 "$runs"); do
  (cd "$dir" && timeout $((seconds + 30)) "$node_bin" "$OLDPWD/inproc.cjs" "$dir" $((seconds * 1000)) >"$dir/inproc.log" 2>&1)
  echo "  run $i: exit $? ($(tail -1 "$dir/inproc.log"))"
done
echo "remote connection:"
for i in $(seq 1 "$runs"); do
  "$node_bin" --inspect=0 ../../src/bench/workloads/worker-churn.cjs "$dir" >"$dir/churn.out" 2>"$dir/churn.err" &
  pid=$!
  until grep -q "127.0.0.1:" "$dir/churn.err" 2>/dev/null; do sleep 0.05; done
  port=$(grep -o "127.0.0.1:[0-9]*" "$dir/churn.err" | head -1 | cut -d: -f2)
  echo "  run $i: $(bun remote.ts "$port" $((seconds * 1000)))"
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done

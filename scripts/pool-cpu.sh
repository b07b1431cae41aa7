#!/bin/bash
# Program CPU (user + system s, /usr/bin/time of the node process itself, so the collector's
# CPU is not in it) of the pool workload untraced and traced by each given tree (a checkout
# with zig-out built and node_modules), alternated round by round; medians at the end.
#   scripts/pool-cpu.sh ROUNDS TREE...     e.g. scripts/pool-cpu.sh 5 /tmp/before .
# POOL_PARAMS='{"jobs":300000}' passes the workload its parameters (longer runs: start-up is less of the figure).
set -euo pipefail
rounds=$1
shift
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
workload="$here/src/bench/workloads/pool.cjs"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$rounds"); do
  /usr/bin/time -f "untraced %U %S" node "$workload" "$out/r.json" ${POOL_PARAMS:+"$POOL_PARAMS"} 2>&1 | grep '^untraced ' >>"$out/cpu"
  for tree in "$@"; do
    name="$(basename "$(cd "$tree" && pwd)")"
    (cd "$tree" && bun src/cli/main.ts run --out "$out/t.bin" -- /usr/bin/time -f "$name %U %S" node "$workload" "$out/r.json" ${POOL_PARAMS:+"$POOL_PARAMS"} 2>&1 | grep "^$name " >>"$out/cpu")
  done
done
# 200 002 messages, each a send and a receive: 400 004 message events per traced run.
awk '{cpu[$1] = cpu[$1] " " ($2 + $3)} END {for (k in cpu) print k ":" cpu[k]}' "$out/cpu" | while read -r name values; do
  median=$(echo "$values" | tr ' ' '\n' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  echo "$name median ${median} s (runs:${values})"
done

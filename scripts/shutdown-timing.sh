#!/usr/bin/env bash
# A traced service's graceful shutdown against the same service untraced (BENCHMARKS.md "A service's
# graceful shutdown, traced and untraced"): spec/fixtures/service under 1 s of keep-alive load, then
# SIGTERM (to node untraced, to `scope run` traced); alternated, N rounds (default 7). Prints the
# medians of SIGTERM → the command's exit as its caller sees it, and of the service's own shutdown
# (SIGTERM received → exit, its own clock). Usage: scripts/shutdown-timing.sh [rounds] [scope executable]
set -euo pipefail
rounds=${1:-7}
scope=${2:-$(dirname "$0")/../dist/scope}
fixtures=$(cd "$(dirname "$0")/../spec/fixtures/service" && pwd)
dir=$(mktemp -d /tmp/scope-shutdown-XXXXXX)
trap 'rm -rf "$dir"' EXIT
one() { # one <label> <command...>: prints "<label> <outside ms> <service ms>"
  local label=$1; shift
  rm -f "$dir/ready.json"
  SERVICE_SHUTDOWN_TIMING=1 "$@" "$dir/ready.json" > /dev/null 2> "$dir/stderr" & local pid=$!
  for _ in $(seq 600); do [ -f "$dir/ready.json" ] && break; sleep 0.05; done
  local port; port=$(node -p "require('$dir/ready.json').port")
  node "$fixtures/load.cjs" "$port" 1000 4 > /dev/null
  local t0; t0=$(date +%s%N)
  kill -TERM "$pid"; wait "$pid"
  local t1; t1=$(date +%s%N)
  echo "$label $(( (t1 - t0) / 1000 )) $(sed -n 's/^shutdown \([0-9.]*\) ms$/\1/p' "$dir/stderr")"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for _ in $(seq "$rounds"); do
  one untraced node "$fixtures/service.cjs"
  one traced "$scope" run --out "$dir/t.bin" -- node "$fixtures/service.cjs"
done > "$dir/rounds"
for label in untraced traced; do
  outside=$(awk -v l=$label '$1 == l { print $2 / 1000 }' "$dir/rounds" | median)
  own=$(awk -v l=$label '$1 == l { print $3 }' "$dir/rounds" | median)
  echo "$label: SIGTERM → exit ${outside} ms (median of $rounds), the service's own shutdown ${own} ms"
done

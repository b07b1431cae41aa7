#!/bin/bash
# scope bench's functions workload (src/bench/workloads/functions.cjs) under `scope run` of
# each tree, alternated with an untraced run before each traced one: per round, the ns per
# call each tree adds to the workload's own measured window (wall time of its chunks).
#   scripts/bench-functions-pairs.sh LEVEL PARAMS ROUNDS TREE...
#   e.g. scripts/bench-functions-pairs.sh calls '{"calls":2000000,"chunkCalls":5000,"pauseMs":10}' 5 /tmp/before .
set -euo pipefail
level=$1
params=$2
rounds=$3
shift 3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh" >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/src/bench/workloads/functions.cjs" "$here/src/bench/workloads/common.cjs" "$work/"
settings="{\"hotCallsPerSecond\":0,\"root\":\"$work\",\"include\":[\"functions.cjs\"],\"level\":\"$level\"}"
for round in $(seq "$rounds"); do
  line="round $round:"
  for tree in "$@"; do
    node "$work/functions.cjs" "$work/u.json" "$params"
    (cd "$tree" && bun src/cli/main.ts run --functions="$settings" --out "$work/t.bin" -- node "$work/functions.cjs" "$work/t.json" "$params" >/dev/null 2>"$work/run.log") || echo "run failed in $tree"
    grep -q "lost: none" "$work/run.log" || echo "records lost in $tree"
    added=$(node -e 'const u=require(process.argv[1]),t=require(process.argv[2]);process.stdout.write(((t.seconds-u.seconds)/u.ops*1e9).toFixed(1))' "$work/u.json" "$work/t.json")
    line="$line $(basename "$(cd "$tree" && pwd)")=$added"
  done
  echo "$line"
done

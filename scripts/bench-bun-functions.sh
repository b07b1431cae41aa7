#!/bin/bash
# Not part of scope bench (its workloads run under node): Bun's function path (bun:ffi sink, one
# record() per event, previews built as strings) on the functions workload.
#   bash scripts/bench-bun-functions.sh "$PWD" 2
# Bun's function path: functions.cjs under bun, untraced and traced (calls, full), alternated; the
# workload's own measured window (seconds) per call. Usage: bun-fn.sh <checkout> <rounds>
R=$1; W=$R/src/bench/workloads; . $R/scripts/env.sh
for level in calls full; do
  if [ $level = calls ]; then P='{"calls":2000000,"chunkCalls":5000,"pauseMs":10}'; else P='{"calls":200000,"chunkCalls":1000,"pauseMs":10}'; fi
  S="{\"root\":\"$W\",\"include\":[\"functions.cjs\"],\"level\":\"$level\",\"hotCallsPerSecond\":0}"
  for i in $(seq $2); do
    bun $W/functions.cjs /tmp/bun-u.json "$P" >/dev/null 2>&1
    bun $R/src/cli/main.ts run --functions="$S" --out /tmp/bun-fn.bin -- bun $W/functions.cjs /tmp/bun-t.json "$P" > /tmp/bun-run.txt 2>&1
    node -e 'const u=require("/tmp/bun-u.json"),t=require("/tmp/bun-t.json");console.log(process.argv[1], "untraced", (u.seconds*1e9/u.ops).toFixed(1), "traced", (t.seconds*1e9/t.ops).toFixed(1), "added ns/call", ((t.seconds-u.seconds)*1e9/t.ops).toFixed(1))' $level
    grep -E "lost" /tmp/bun-run.txt | head -1
  done
done

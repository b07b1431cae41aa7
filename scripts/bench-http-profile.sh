#!/bin/bash
# The http workload's server under `node --cpu-prof`, traced (scope run) or untraced, loaded by
# the bench's own client (32 keep-alive connections, 4 s); prints the server's CPU per request
# and, from the profile, per request: busy time, the agent's own frames, async_hooks outside
# them and GC (scripts/profile-agent-share.cjs). BENCHMARKS.md "HTTP requests".
#   bash scripts/bench-http-profile.sh traced|untraced
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
mode=${1:?traced or untraced}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
workloads=src/bench/workloads
flags="--cpu-prof --cpu-prof-dir=$dir"
if [ "$mode" = traced ]; then
  bun src/cli/main.ts run --out "$dir/trace.bin" -- node $flags $workloads/http-server.cjs "$dir/result.json" "{\"ready\":\"$dir/ready.json\"}" > /dev/null 2>&1 &
else
  node $flags $workloads/http-server.cjs "$dir/result.json" "{\"ready\":\"$dir/ready.json\"}" &
fi
while [ ! -f "$dir/ready.json" ]; do sleep 0.05; done
port=$(node -p "require('$dir/ready.json').port")
pid=$(node -p "require('$dir/ready.json').pid")
before=$(awk '{print $14+$15}' /proc/$pid/stat)
result=$(node $workloads/http-load.cjs "{\"port\":$port,\"connections\":32,\"warmupMs\":0,\"durationMs\":4000}" | tail -1)
after=$(awk '{print $14+$15}' /proc/$pid/stat)
node -e "fetch('http://127.0.0.1:$port/shutdown').then((r) => r.text())"
wait
requests=$(node -p "JSON.parse(process.argv[1]).requests" "$result")
ticks=$(getconf CLK_TCK)
node -p "'$mode: ' + $requests + ' requests, server CPU ' + (($after - $before) / $ticks * 1e6 / $requests).toFixed(2) + ' µs/request'"
node scripts/profile-agent-share.cjs "$(ls -S "$dir"/*.cpuprofile | head -1)" "$requests"

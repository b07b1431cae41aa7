#!/usr/bin/env bash
# The async bench workload (promise-heavy tasks: one immediate, one tick and ~10 promises
# each), traced two ways, alternated; each run's CPU per task is the program's own over its
# measured window (async.cjs reports it: no start-up). what=immediates: --events
# +loop,+memory without and with --long-task-immediates (timing every immediate); what=groups:
# the default groups without and with +loop,+memory.
# Usage: scripts/bench-loop-async.sh [pairs] [tasks] [immediates|groups]   (repository root, after scripts/env.sh)
set -euo pipefail
pairs=${1:-6}
tasks=${2:-200000}
what=${3:-immediates}
if [ "$what" = groups ]; then off=(--events process,thread,message,http,db); on=(--events +loop,+memory); else off=(--events +loop,+memory); on=(--events +loop,+memory --long-task-immediates); fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp src/bench/workloads/async.cjs src/bench/workloads/async-tasks.cjs src/bench/workloads/common.cjs "$dir/"
run() {
  bun src/cli/main.ts run "$@" --out "$dir/t.bin" node "$dir/async.cjs" "$dir/r.json" "{\"tasks\":$tasks,\"inFlight\":16}" >/dev/null 2>&1
  node -e 'const r = require(process.argv[1]); console.log((r.cpuSeconds / r.ops * 1e9).toFixed(0))' "$dir/r.json"
}
for i in $(seq "$pairs"); do
  if [ $((i % 2)) -eq 1 ]; then echo "off $(run "${off[@]}")"; echo "on $(run "${on[@]}")"; else echo "on $(run "${on[@]}")"; echo "off $(run "${off[@]}")"; fi
done | tee "$dir/runs.txt"
node -e '
const lines = require("node:fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
const median = (v) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const off = lines.filter((l) => l[0] === "off").map((l) => Number(l[1]));
const on = lines.filter((l) => l[0] === "on").map((l) => Number(l[1]));
console.log(`${process.argv[2]}: ns CPU per task: off ${median(off)}, on ${median(on)}; paired median ${(median(on.map((x, i) => x / off[i] - 1)) * 100).toFixed(1)}% (n ${on.length})`);
' "$dir/runs.txt" "$what"

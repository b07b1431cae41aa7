#!/usr/bin/env bash
# The loop and memory groups' own cost: the loop-gc workload's program (allocation-heavy
# units, one turn of the loop each) run untraced, traced with --events process, and traced
# with --events process,loop,memory, alternated; each run prints the program's own CPU
# time (process.cpuUsage at its end, so scope's collector is not in it) per unit of work.
# Usage: scripts/bench-loop.sh [pairs] [units]   (from the repository root, after scripts/env.sh)
set -euo pipefail
pairs=${1:-8}
units=${2:-4000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp src/bench/workloads/loopgc.cjs src/bench/workloads/common.cjs "$dir/"
# The program's CPU at its end, written by a preload of its own (after the agent's).
cat > "$dir/cpu.cjs" <<'JS'
process.on("exit", () => { const u = process.cpuUsage(); require("node:fs").writeSync(2, `cpu_us ${u.user + u.system}\n`); });
JS
run() {
  local mode=$1
  local cmd=(node --require "$dir/cpu.cjs" "$dir/loopgc.cjs" "$dir/result.json" "{\"units\":$units}")
  case $mode in
    untraced) "${cmd[@]}" 2>&1 >/dev/null | sed -n 's/^cpu_us //p' ;;
    process) bun src/cli/main.ts run --events process --out "$dir/t.bin" "${cmd[@]}" 2>&1 >/dev/null | sed -n 's/^cpu_us //p' ;;
    loopgc) bun src/cli/main.ts run --events process,loop,memory --out "$dir/t.bin" "${cmd[@]}" 2>&1 >/dev/null | sed -n 's/^cpu_us //p' ;;
  esac
}
for i in $(seq "$pairs"); do
  for mode in untraced process loopgc; do
    echo "$mode $(run $mode)"
  done
done | tee "${RUNS_FILE:-$dir/runs.txt}"
cat > "$dir/stats.cjs" <<'JS'
const runs = require("node:fs").readFileSync(process.argv[2], "utf8").trim().split("\n").map((line) => line.split(" "));
const units = Number(process.argv[3]);
const median = (v) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const by = {};
for (const [mode, us] of runs) (by[mode] ??= []).push(Number(us) / units);
for (const [mode, v] of Object.entries(by)) console.log(`${mode}: median ${median(v).toFixed(2)} us CPU per unit (min ${Math.min(...v).toFixed(2)}, max ${Math.max(...v).toFixed(2)}, n ${v.length})`);
// Paired, per round: loop+memory against process only, and its own cost as a share of the untraced program.
console.log(`loop+memory vs process only (paired median): ${(median(by.loopgc.map((x, i) => x / by.process[i] - 1)) * 100).toFixed(1)}%`);
console.log(`(loop+memory - process) / untraced (paired median): ${(median(by.loopgc.map((x, i) => (x - by.process[i]) / by.untraced[i])) * 100).toFixed(1)}%`);
JS
node "$dir/stats.cjs" "${RUNS_FILE:-$dir/runs.txt}" "$units"

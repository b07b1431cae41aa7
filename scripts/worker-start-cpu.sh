#!/usr/bin/env bash
# Worker start cost in program CPU (user+sys of the whole program process, per worker),
# robust against a busy machine in a way wall time is not: each program starts N workers
# one after another, each worker loading one thing, then prints its CPU time / N.
#
#   scripts/worker-start-cpu.sh [rounds] [other-tree]
#
# Rounds alternate every variant; medians are printed. Variants: an empty worker; workers
# that load node:child_process, node:module, node:os; the agent bundle of this tree with
# install() skipped (its compile and top-level code only), as a plain bundle and as the
# dist/agent/node.cjs loader with its V8 code cache (agent-cached); and whole traced workers under
# `scope run` of this tree (and of other-tree, another checkout, for a before/after).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
rounds=${1:-7}
other=${2:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
workers=40
cat > "$dir/start.cjs" <<'JS'
const { Worker, isMainThread, workerData } = require("node:worker_threads");
if (isMainThread) {
  const n = Number(process.argv[3]);
  let i = 0;
  const next = () => {
    if (i++ < n) return new Worker(__filename, { workerData: process.argv[2] }).once("exit", next);
    const u = process.resourceUsage();
    process.stdout.write(String((u.userCPUTime + u.systemCPUTime) / 1000 / n));
  };
  next();
} else {
  globalThis[Symbol.for("scope.agent.attached")] = true; // the agent bundle: install() skipped
  if (workerData) require(workerData);
}
JS
: > "$dir/empty.cjs"
for m in child_process module os; do echo "require('node:$m');" > "$dir/$m.cjs"; done
bun build src/agent/node/main.ts --target node --format cjs --outfile "$dir/agent.cjs" > /dev/null
# The loader scope hands to Node (src/agent/node/code-cache.ts); a main thread writes its cache first.
bun -e "import { bundleAgent } from './src/core/assets'; await bundleAgent('nodeAgent', '$dir/cached')" > /dev/null
node -r "$dir/cached/node.cjs" -e 0 2>/dev/null
declare -A acc
variants=(empty child_process module os agent agent-cached traced)
[ -n "$other" ] && variants+=(traced-other)
for _ in $(seq "$rounds"); do
  for v in "${variants[@]}"; do
    case $v in
      traced) acc[$v]+="$(bun src/cli/main.ts run --out "$dir/t.bin" -- node "$dir/start.cjs" "" $workers 2>/dev/null) " ;;
      traced-other) acc[$v]+="$(cd "$other" && bun src/cli/main.ts run --out "$dir/t.bin" -- node "$dir/start.cjs" "" $workers 2>/dev/null) " ;;
      agent-cached) acc[$v]+="$(node "$dir/start.cjs" "$dir/cached/node.cjs" $workers) " ;;
      *) acc[$v]+="$(node "$dir/start.cjs" "$dir/$v.cjs" $workers) " ;;
    esac
  done
done
for v in "${variants[@]}"; do
  echo "${acc[$v]}" | tr ' ' '\n' | grep . | sort -n | awk -v name="$v" '{a[NR]=$1} END {printf "%-14s %7.2f ms CPU per worker (median of %d; min %.2f, max %.2f)\n", name, a[int((NR+1)/2)], NR, a[1], a[NR]}'
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

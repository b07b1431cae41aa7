#!/usr/bin/env bash
# Bun: what loading CommonJS modules and the agent's start cost, untraced and traced by each
# scope tree given (BENCHMARKS.md "Bun: library files hooked by require"). A program requires
# FILES small files of its own and a package whose index requires FILES files (half of them
# by names the agent resolves: client, query, index, ..; each resolved, none hooked). It reports the CPU (user + system,
# process.cpuUsage) the process had used when its main file began (runtime and agent start)
# and what the requires took, medians of RUNS runs.
# Usage: bash scripts/bench-bun-module-load.sh RUNS FILES|packages <scope tree>...
set -euo pipefail
runs=${1:?runs}; files=${2:?files}; shift 2
dir=$(mktemp -d /tmp/bench-bun-load.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
if [ "$files" = packages ]; then
  # The repo's installed frameworks and clients instead (express 4 and 5, fastify, koa,
  # @koa/router, hono's CommonJS build, pg, mysql2, ioredis): the hooked files among theirs.
  root=$(cd "$(dirname "$0")/.." && pwd)
  cat > "$dir/main.cjs" <<JS
const start = process.cpuUsage();
const t0 = process.cpuUsage();
const r = require("node:module").createRequire("$root/package.json");
for (const id of ["express4", "express5", "fastify", "koa", "@koa/router", "hono", "pg", "mysql2", "ioredis"]) r(id);
const d = process.cpuUsage(t0);
require("node:fs").appendFileSync(process.env.BENCH_OUT, JSON.stringify({ start: start.user + start.system, load: d.user + d.system }) + "\n");
JS
  files=0
else
mkdir -p "$dir/m" "$dir/node_modules/pkg/lib"
echo '{"name":"pkg","main":"index.js"}' > "$dir/node_modules/pkg/package.json"
names=(client query index router pool util helper parse format state)
for ((i = 0; i < files; i++)); do
  echo "exports.v = $i; exports.f = function f$i(x) { return x + $i; };" > "$dir/m/$i.js"
  n=${names[$((i % 10))]}
  mkdir -p "$dir/node_modules/pkg/lib/d$i"
  echo "exports.v = $i;" > "$dir/node_modules/pkg/lib/d$i/$n.js"
  echo "exports.d$i = require('./lib/d$i/$n');" >> "$dir/node_modules/pkg/index.js"
done
cat > "$dir/main.cjs" <<JS
const start = process.cpuUsage();
const t0 = process.cpuUsage();
for (let i = 0; i < $files; i++) require("./m/" + i + ".js");
require("pkg");
const d = process.cpuUsage(t0);
require("node:fs").appendFileSync(process.env.BENCH_OUT, JSON.stringify({ start: start.user + start.system, load: d.user + d.system }) + "\n");
JS
fi
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
report() {
  local label=$1 out=$2
  printf '%-40s start %6.1f ms  load %6.1f ms' "$label" "$(jq -r .start "$out" | median | awk '{print $1/1000}')" "$(jq -r .load "$out" | median | awk '{print $1/1000}')"
  if ((files > 0)); then printf ' (%d files: %.1f us a file)' $((2 * files)) "$(jq -r .load "$out" | median | awk -v n=$((2 * files)) '{print $1/n}')"; fi
  echo
}
out="$dir/untraced.jsonl"
for ((r = 0; r < runs; r++)); do BENCH_OUT=$out bun "$dir/main.cjs"; done
report untraced "$out"
for tree in "$@"; do
  out="$dir/traced-$(basename "$tree").jsonl"
  for ((r = 0; r < runs; r++)); do
    if ! (cd "$dir" && BENCH_OUT=$out "$tree/dist/scope" run -o "$dir/t.bin" -- bun main.cjs > /dev/null 2> "$dir/err"); then
      echo "traced run failed: $(tail -3 "$dir/err")" >&2
      exit 1
    fi
  done
  report "traced $tree" "$out"
done

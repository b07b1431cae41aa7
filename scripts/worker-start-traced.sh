#!/usr/bin/env bash
# Program CPU per traced worker start for a seed-like program (40 workers one after another,
# each sent one message that it echoes back), untraced and under `scope run` of each tree
# given, alternated for `rounds` rounds; medians printed.
#
#   scripts/worker-start-traced.sh [rounds] [tree[:events]]...   (default: this tree)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
shift || true
trees=("$@")
[ ${#trees[@]} -eq 0 ] && trees=("$PWD")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "scripts/lib/worker-chain.cjs" "$dir/start.cjs"
variants=(untraced "${trees[@]}")
declare -A acc
for _ in $(seq "$rounds"); do
  for v in "${variants[@]}"; do
    if [ "$v" = untraced ]; then
      acc[$v]+="$(node "$dir/start.cjs" 40 cpu) "
    else
      IFS=: read -r tree events <<<"$v"
      acc[$v]+="$(cd "$tree" && . scripts/env.sh && bun src/cli/main.ts run ${events:+--events $events} --out "$dir/t.bin" -- node "$dir/start.cjs" 40 cpu 2>/dev/null) "
    fi
  done
done
for v in "${variants[@]}"; do
  echo "${acc[$v]}" | tr ' ' '\n' | grep . | sort -n | awk -v name="$v" '{a[NR]=$1} END {printf "%-40s %7.2f ms CPU per worker (median of %d; min %.2f, max %.2f)\n", name, a[int((NR+1)/2)], NR, a[1], a[NR]}'
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# The query text normaliser's instructions a text (src/agent/shared/sql.ts normalizeSql, four
# PostgreSQL texts of 70-120 characters in turn), in each tree given: the tree's sql.ts bundled
# alone, counted by valgrind (cachegrind) at two loop lengths, the slope printed (start-up and
# JIT out). DIALECT=1 runs the MySQL dialect on the same texts.
#
#   . scripts/env.sh && bash scripts/sql-instructions.sh [low=300000] [high=1000000] [tree]...
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_work_dir sql-instructions.sh
low=${1:-300000}
high=${2:-1000000}
shift 2 || shift $#
trees=("$@")
[ ${#trees[@]} -eq 0 ] && trees=("$here")
for tree in "${trees[@]}"; do
  name=$(basename "$(cd "$tree" && pwd)")
  (cd "$tree" && bun build src/agent/shared/sql.ts --target node --format cjs --outfile "$out/$name.cjs" > /dev/null)
  counts=()
  for n in "$low" "$high"; do
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node "$here/scripts/sql-instructions-loop.cjs" "$out/$name.cjs" "$n" "${DIALECT:-0}" > "$out/log" 2>&1
    counts+=("$(cachegrind_refs "$out/log")")
  done
  awk -v n="$name" -v l="$low" -v h="$high" -v a="${counts[0]}" -v b="${counts[1]}" -v d="${DIALECT:-0}" \
    'BEGIN { printf "%s (dialect %d): %.0f instructions a text (%d texts: %.0f, %d: %.0f)\n", n, d, (b - a) / (h - l), l, a, h, b }'
done

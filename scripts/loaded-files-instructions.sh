#!/usr/bin/env bash
# What the agent's core adds to each CommonJS file Node loads (its test for the library files
# the integrations hook): scripts/bench-loaded-files-instructions.cjs in its three modes
# (none, wrapper, accessor) at two counts under valgrind (cachegrind, --single-threaded V8),
# the difference per file, the median of `runs` (default 3: one run moves by a few hundred
# instructions a file, GC). A figure the machine's load does not move.
#   . scripts/env.sh && bash scripts/loaded-files-instructions.sh [node] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
node=${1:-node}
runs=${2:-3}
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_work_dir loaded-files-instructions.sh
dir=$out
printf 'export { whenFilesLoaded } from "%s/src/agent/node/loaded-files";\nexport { isHookedDirectory, isHookedFile } from "%s/src/agent/node/triggers";\n' "$PWD" "$PWD" > "$dir/entry.ts"
bun build --target=node --format=cjs "$dir/entry.ts" --outfile "$dir/loaded-files.cjs" > /dev/null
low=20000
high=100000
count() {
  LOADED_FILES="$dir/loaded-files.cjs" valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    "$node" --single-threaded scripts/bench-loaded-files-instructions.cjs "$1" "$2" >"$dir/log" 2>&1
  cachegrind_refs "$dir/log"
}
echo "node: $("$node" --version)"
for mode in none wrapper accessor; do
  per=()
  for ((run = 0; run < runs; run++)); do
    a=$(count $mode $low)
    b=$(count $mode $high)
    per+=($(( (b - a) / (high - low) )))
  done
  echo "$mode $(printf '%s\n' "${per[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') ${per[*]}"
done | awk '{ if ($1 == "none") base = $2; runs = ""; for (i = 3; i <= NF; i++) runs = runs " " $i; printf "%-9s %d instructions a file (%d added; runs:%s)\n", $1, $2, $2 - base, runs }'

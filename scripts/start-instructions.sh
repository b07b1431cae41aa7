#!/usr/bin/env bash
# Instructions of the transform workload's start (issue 12; src/bench/transform.ts): node
# requiring typescript-js, marked and yaml untraced, then under `scope run --functions`
# (calls level, those packages) from an empty transform cache (first start: parse,
# transform, print, cache writes, V8 compiling the instrumented files) and again (cached).
# Counted by valgrind (cachegrind, every thread of the program; scope's own process and
# the collector are not counted): a figure the machine's load does not move.
#
#   . scripts/env.sh && bash scripts/start-instructions.sh [tree]...
#
# Each tree (a checkout of scope with node_modules; default: this one) gives a first and a
# cached count; the untraced count is node alone on this tree's node_modules. valgrind
# cannot run native code built for this CPU (AVX-512): the addon is built for x86-64-v3.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
trees=("$@")
[ ${#trees[@]} -eq 0 ] && trees=("$here")
dir=$(mktemp -d /tmp/scope-start-instructions-XXXXXX)
trap 'rm -rf "$dir"' EXIT
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_required start-instructions.sh
valgrind_build . "$dir/zig"
. "$here/scripts/lib/start-workload.sh"
params="$start_params"
program="$start_program"
vg=(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node "$program" "$dir/r.json" "$params")
traced() {
  local tree=$1 cache=$2
  (cd "$tree" && . scripts/env.sh && XDG_CACHE_HOME="$cache" SCOPE_ADDON="$dir/zig/lib/scope.node" SCOPE_LIBSCOPE="$dir/zig/lib/libscope.so" \
    bun src/cli/main.ts run --ring-size 64MiB \
      --functions="$start_functions" \
      --out "$dir/t.bin" -- "${vg[@]}" > /dev/null 2> "$dir/err")
  cachegrind_refs "$dir/err"
}
"${vg[@]}" > /dev/null 2> "$dir/err"
untraced=$(cachegrind_refs "$dir/err")
printf '%-40s %8.3f G\n' untraced "$(awk -v a="$untraced" 'BEGIN {print a / 1e9}')"
for tree in "${trees[@]}"; do
  cache=$(mktemp -d "$dir/cache-XXXXXX")
  first=$(traced "$tree" "$cache")
  cached=$(traced "$tree" "$cache")
  awk -v name="$tree" -v u="$untraced" -v f="$first" -v c="$cached" \
    'BEGIN {printf "%-40s first %8.3f G (%.2fx untraced)   cached %8.3f G (%.2fx)\n", name, f / 1e9, f / u, c / 1e9, c / u}'
done

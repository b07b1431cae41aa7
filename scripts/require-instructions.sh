#!/usr/bin/env bash
# What `scope run` (no --functions; groups http and db on, as by default) adds to each
# CommonJS file a program loads: the agent's per-file test for the library files its
# integrations hook (src/agent/node/lazy.ts hookLibraryFiles). A generated program requires
# N packages under node_modules (index.js requiring lib/a.js, both a few bytes), untraced and
# traced, at two sizes; the slope is what tracing adds per file. Counted by valgrind
# (cachegrind, every thread of the program): a figure the machine's load does not move.
#
#   . scripts/env.sh && bash scripts/require-instructions.sh [node] [tree]...
#
# node: the Node to run (default: this machine's); trees: checkouts of scope (default: this
# one). valgrind cannot run native code built for this CPU (AVX-512): the addon is built for
# x86-64-v3.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
node=${1:-node}
shift || true
trees=("$@")
[ ${#trees[@]} -eq 0 ] && trees=("$here")
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_work_dir require-instructions.sh
dir=$out
valgrind_build . "$dir/zig"
low=200
high=1000
for size in $low $high; do
  program="$dir/p$size"
  mkdir -p "$program"
  for ((i = 0; i < size / 2; i++)); do
    mkdir -p "$program/node_modules/pkg$i/lib"
    echo "module.exports = require('./lib/a.js');" > "$program/node_modules/pkg$i/index.js"
    echo "module.exports = { n: $i };" > "$program/node_modules/pkg$i/lib/a.js"
    echo "require('pkg$i');" >> "$program/main.js"
  done
done
vg() { echo valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$node" "$dir/p$1/main.js"; }
for size in $low $high; do
  $(vg $size) > /dev/null 2> "$dir/untraced-$size.log"
done
names=()
for tree in "${trees[@]}"; do
  name=$(basename "$tree")
  names+=("$name")
  for size in $low $high; do
    (cd "$tree" && . scripts/env.sh && SCOPE_ADDON="$dir/zig/lib/scope.node" SCOPE_LIBSCOPE="$dir/zig/lib/libscope.so" \
      bun src/cli/main.ts run --out "$dir/t.bin" -- $(vg $size) > /dev/null 2> "$dir/$name-$size.log")
  done
done
echo "node: $("$node" --version)"
slope_report "$dir" $low $high files 1 "file loaded" "agent start" "${names[@]}"

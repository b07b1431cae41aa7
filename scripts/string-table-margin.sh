#!/usr/bin/env bash
# How close a seed worker's V8 string table is to its next growth: one worker (callgrind,
# --separate-threads) that receives one message, then internalizes K fresh strings (property
# keys "zq<i>k") and closes its port, untraced or traced by a tree; prints how many times the
# worker's string table was resized (StringTable::Data::Resize calls under EnsureCapacity).
# The smallest K that adds a resize is the worker's margin: what the program (or the agent)
# can add before the table doubles, a rehash of every string in it (~0.34 M instructions a
# worker on Node 24.22: BENCHMARKS.md "Worker start: the hash tables the stable figure leaves out").
#
#   scripts/string-table-margin.sh <untraced|tree> K...        (Node 24: PATH=<node 24>/bin:$PATH)
#
# A tree is traced through its own `bun src/cli/main.ts run`, with this tree's scope.node built
# for valgrind (x86-64-v3).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: scripts/string-table-margin.sh <untraced|tree> K..." >&2; exit 2; }
tree=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_required string-table-margin.sh
[ "$tree" = untraced ] || valgrind_build . "$dir/zig"
cat > "$dir/strings.cjs" <<'EOF'
"use strict";
const { Worker, isMainThread, parentPort, workerData } = require("node:worker_threads");
if (isMainThread) new Worker(__filename, { workerData: Number(process.argv[2]) }).postMessage({ n: 1 });
else
  parentPort.once("message", () => {
    const keys = {};
    for (let i = 0; i < workerData; i++) keys["zq" + i + "k"] = 1;
    parentPort.close();
  });
EOF
for k in "$@"; do
  rm -f "$dir"/cg.out*
  vg=(valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/cg.out" node "$dir/strings.cjs" "$k")
  if [ "$tree" = untraced ]; then
    "${vg[@]}" > /dev/null 2> "$dir/err"
  else
    (cd "$tree" && . scripts/env.sh && SCOPE_ADDON="$dir/zig/lib/scope.node" SCOPE_LIBSCOPE="$dir/zig/lib/libscope.so" \
      bun src/cli/main.ts run --out "$dir/t.bin" -- "${vg[@]}" > /dev/null 2> "$dir/err")
  fi
  # The worker is the last thread valgrind numbered.
  worker=$(ls "$dir"/cg.out-* | sort | tail -1)
  resizes=$(callgrind_annotate --tree=caller --inclusive=yes --threshold=100 "$worker" 2>/dev/null |
    grep -B3 -E '\* .*StringTable::Data::Resize' | grep EnsureCapacity | sed -E 's/.*\(([0-9,]+)x\).*/\1/' || true)
  printf '%-40s K=%-6s string table resizes in the worker: %s\n' "$tree" "$k" "${resizes:-0}"
done

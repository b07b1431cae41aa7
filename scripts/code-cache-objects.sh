#!/usr/bin/env bash
# The objects in the Node agent core's code cache when the bundle is compiled and not run
# (its top level only: what every worker deserialises whatever it runs), by V8 instance type,
# from `node --serialization-statistics`: for each tree, the core bundled as `scope run` does
# (src/core/assets.ts bundleAgent), compiled by vm.Script and serialised by createCachedData.
# Deserialising costs ~1 K instructions an object (BENCHMARKS.md "Seventeenth look", "Worker
# start: the core's top level made at first use").
#
#   scripts/code-cache-objects.sh <tree>...      (Node 24: PATH=<node 24>/bin:$PATH after . scripts/env.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat > "$out/bundle.ts" <<'TS'
const { bundleAgent } = await import(process.argv[3] + "/src/core/assets.ts");
await bundleAgent("nodeAgent", process.argv[2]!);
TS
cat > "$out/compile.cjs" <<'JS'
const vm = require("node:vm");
const source = require("node:fs").readFileSync(process.argv[2], "latin1");
console.log("bytes", new vm.Script(source, { filename: process.argv[2] }).createCachedData().length);
JS
index=0
for tree in "$@"; do
  index=$((index + 1))
  tree=$(cd "$tree" && pwd)
  bun "$out/bundle.ts" "$out/$index" "$tree" > /dev/null
  echo "== $tree ($(wc -c < "$out/$index/node-bundle.cjs") bytes of source)"
  # Node serialises its own scripts too: the bundle's is the one with the most SharedFunctionInfos.
  node --serialization-statistics "$out/compile.cjs" "$out/$index/node-bundle.cjs" 2>&1 | python3 -c '
import re, sys
blocks, current = [], None
for line in sys.stdin:
    if line.startswith("CodeSerializer:"):
        current = {}
        blocks.append(current)
    elif line.startswith("bytes"):
        print("cache", line.strip())
    else:
        m = re.match(r"\s+(\d+)\s+(\d+)\s+Old\s+(\S+)", line)
        if m and current is not None:
            current[m.group(3)] = (int(m.group(1)), int(m.group(2)))
block = max(blocks, key=lambda b: b.get("SHARED_FUNCTION_INFO_TYPE", (0, 0))[0])
for name, (count, size) in sorted(block.items(), key=lambda item: -item[1][0]):
    print(f"{count:6d} {size:7d}  {name}")
print(f"{sum(c for c, _ in block.values()):6d} {sum(s for _, s in block.values()):7d}  objects in all")
'
done

#!/usr/bin/env bash
# What V8 itself spends on the agent's code in each traced worker thread, by its function
# events (`node --log-function-events --logfile-per-isolate`): parsing the loader file
# (node.cjs and node-bundle.cjs), deserialising the code cache, and compiling agent functions lazily (the ones
# not in the cache). A seed-like program (3 workers one after another, each echoing one
# message) under `scope run` of the tree given. V8's logging inflates the times; compare trees.
#
#   scripts/worker-start-v8log.sh [tree]    (default: this tree)
set -euo pipefail
tree=$(cd "${1:-$(dirname "$0")/..}" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$(dirname "$0")/lib/worker-chain.cjs" "$dir/start.cjs"
(cd "$tree" && . scripts/env.sh && cd "$dir" && bun "$tree/src/cli/main.ts" run --out "$dir/t.bin" -- node --log-function-events --logfile-per-isolate "$dir/start.cjs" > /dev/null 2>&1)
cd "$dir"
# Worker isolates: the ones that did not compile the bundle from source (the main thread made the cache).
for log in $(grep -L "parse-script" isolate*.log); do
  ids=$(grep "^script-details" "$log" | grep -E "node.cjs|node-bundle.cjs" | cut -d, -f2 | sort -u | tr '\n' ' ')
  awk -F, -v ids=" $ids " '$1 == "function" && index(ids, " " $3 " ") {
    if ($2 == "deserialize") cache += $6
    else if ($2 == "parse-eval" || ($2 == "full-parse" && $4 == 0)) loader += $6
    else if ($2 != "first-execution") { lazy += $6; n++ }
  } END { printf "worker: loader parse %.3f ms, cache deserialise %.3f ms, lazy compile events %d (%.3f ms)\n", loader, cache, n, lazy }' "$log"
done

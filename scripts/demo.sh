#!/usr/bin/env bash
# The main job: build scope into one executable, trace the bundled example (its processes,
# threads and messages, and with --functions its own functions, each message handler
# linked to the receive it handles), show the trace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
. scripts/env.sh
bun run build
out=$(mktemp -d)/trace.bin
dist/scope run --functions --out "$out" -- node examples/hello/app.js
dist/scope dump "$out"

#!/bin/bash
# Instructions per walk of the pool's two messages ({id, seed, rounds} and {id, result}) through
# previewWrite (a message send's preview, src/agent/shared/preview.ts), counted by cachegrind: the
# slope between two loop lengths, so start-up and JIT are out. Each iteration walks both.
#   scripts/preview-walk-instructions.sh [TREE...]     (default: this tree)
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
valgrind_work_dir preview-walk-instructions.sh
cat >"$out/walk.cjs" <<'JS'
const previewWrite = require(process.argv[2]).previewWrite;
const types = require("node:util").types;
const target = new Uint8Array(300);
const n = Number(process.argv[3]);
let s = 0;
for (let i = 0; i < n; i++) {
  s += previewWrite(target, { id: i, seed: i, rounds: 200 }, types);
  s += previewWrite(target, { id: i, result: (i * 2654435761) >>> 0 }, types);
}
if (s === 0) throw new Error("nothing written");
JS
preview_walk_slope "$out/walk.cjs" 100000 300000 "iteration (two walks, five keys)" -- "$@"

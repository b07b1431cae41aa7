#!/bin/bash
# Instructions per scratch commit of scope.node (the Recorder's path for every event):
# commit() of a record, and commitString() of a record with a 30-byte preview, each after
# the 8 scratch stores a Recorder makes, in a loop counted by cachegrind: the slope between
# 200,000 and 600,000 commits, so start-up and JIT are out. Each tree's addon is built for
# x86-64-v3 (valgrind cannot decode AVX-512) into a temporary prefix; the ring is in
# overwrite mode with no consumer.
#   scripts/commit-instructions.sh [TREE...]     (default: this tree)
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
ring="/dev/shm/scope-commit-instructions-$$"
valgrind_work_dir commit-instructions.sh "$ring"
(cd "$here" && bun -e "require('./src/core/ring').Ring.create('$ring', { laneCount: 4, laneCapacitySlots: 65536, mode: 'overwrite' }).close()")
cat >"$out/commit.cjs" <<'JS'
const addon = require(process.argv[2]);
if (!addon.attach(process.argv[3], 0)) throw new Error("attach");
const n = Number(process.argv[4]);
const buffer = addon.scratch();
const scratch = new Float64Array(buffer, 0, 8);
new Uint8Array(buffer, 64, 30).fill(0x61);
function plain(from, to) {
  let s = 0;
  for (let i = from; i < to; i++) {
    scratch[0] = 33; scratch[1] = 0; scratch[2] = i; scratch[3] = 1; scratch[4] = 2; scratch[5] = 3; scratch[6] = i + 1; scratch[7] = 30;
    s += addon.commit() !== false ? 1 : 0;
  }
  return s;
}
function string(from, to) {
  let s = 0;
  for (let i = from; i < to; i++) {
    scratch[0] = 33; scratch[1] = 0; scratch[2] = i; scratch[3] = 1; scratch[4] = 2; scratch[5] = 3; scratch[6] = i + 1; scratch[7] = 30;
    s += addon.commitString() ?? 2;
  }
  return s;
}
const run = process.argv[5] === "string" ? string : plain;
let s = 0;
for (let i = 0; i < n; i += 1000) s += run(i, i + 1000);
if (s === 0) throw new Error("nothing written");
JS
count() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node --single-threaded --predictable-gc-schedule "$out/commit.cjs" "$1" "$ring" "$2" "$3" >"$out/log" 2>&1
  cachegrind_refs "$out/log"
}
for tree in "${@:-$here}"; do
  name="$(basename "$(cd "$tree" && pwd)")"
  valgrind_build "$tree" "$out/$name"
  line="$name:"
  for mode in plain string; do
    low=$(count "$out/$name/lib/scope.node" 200000 $mode)
    high=$(count "$out/$name/lib/scope.node" 600000 $mode)
    line="$line $mode $(( (high - low) / 400000 ))"
  done
  echo "$line  (instructions a commit: commit(), commitString())"
done

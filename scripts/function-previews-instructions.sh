#!/bin/bash
# Instructions per step of functions-full's previews alone (src/bench/workloads/functions.cjs:
# `step(state, i)` with `state` cut in its return and its 8 items past the depth in its
# arguments, `price(item, q)`, `tax(a, r)`, `round(v)` twice; 10 previews a step, as
# FunctionRuntime asks for them: sized false, into a native-sized text, arguments in place),
# through src/agent/shared/preview.ts, counted by cachegrind: the slope between two loop
# lengths, so start-up and JIT are out. No runtime, no ring: the walk's own cost.
#   scripts/function-previews-instructions.sh [PART] [TREE...]     (default: every part, this tree)
# PART: all, or one of step-args, step-return, price-args, round-args (both), number-returns
# (round's two and price's), tax-args. Needs valgrind (apt-get install valgrind).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
valgrind_work_dir function-previews-instructions.sh
part="${1:-all}"
shift || true
cat >"$out/previews.cjs" <<'JS'
const preview = require(process.argv[2]);
const writePreview = preview.writePreview;
const writeArgumentsPreview = preview.writeArgumentsPreview;
const types = require("node:util").types;
const part = process.argv[4];
const limits = { depth: 3, chars: 96 };
const text = new Uint8Array(3 * 4096 + 64);
// The runtime's key places: 16 per function and kind (runtime.ts slotsOf).
function args2(a, b) { return writeArgumentsPreview(arguments, arguments.length, types, limits, text, false, 32); }
function args1(a) { return writeArgumentsPreview(arguments, arguments.length, types, limits, text, false, 64); }
const value = (v, slots) => writePreview(v, types, limits, text, false, slots);
const on = (name) => part === "all" || part === name;
const [stepArgs, stepReturn, priceArgs, roundArgs, numberReturns, taxArgs] = ["step-args", "step-return", "price-args", "round-args", "number-returns", "tax-args"].map(on);
const items = Array.from({ length: 8 }, (_, i) => ({ unit: 1.5 + i, discount: i / 2 }));
const state = { items, total: 0 };
const n = Number(process.argv[3]);
let s = 0;
for (let i = 0; i < n; i++) {
  const item = items[i & 7];
  const quantity = (i % 13) + 1;
  if (stepArgs) s += args2(state, i);
  if (priceArgs) s += args2(item, quantity);
  const priced = item.unit * quantity - (quantity > 10 ? item.discount : 0);
  if (numberReturns) s += value(priced, 80);
  if (roundArgs) s += args1(priced);
  const net = Math.round(priced * 100) / 100;
  if (numberReturns) s += value(net, 96);
  if (taxArgs) s += args2(net, 0.2);
  if (roundArgs) s += args1(net * 0.2);
  const tax = Math.round(net * 0.2 * 100) / 100;
  if (numberReturns) s += value(tax, 96) + value(tax, 112);
  state.total += net + tax;
  if (stepReturn) s += value(state, 128);
}
if (s === 0 && part === "all") throw new Error("nothing written");
JS
preview_walk_slope "$out/previews.cjs" 20000 100000 "step ($part)" "$part" -- "$@"

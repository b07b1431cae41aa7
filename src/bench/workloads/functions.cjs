"use strict";
// Functions: CPU-bound JavaScript calling this file's own small functions, instrumented
// at the calls level when traced (one function_call event per call). The work runs in
// chunks with a pause between them, outside the measured window, so the collector can
// drain the ring as a real program's idle moments would let it: the measured window is
// the program's own cost per call; the collector's CPU is reported beside it.
// Usage: node functions.cjs <result.json> '{"calls": N, "chunkCalls": N, "pauseMs": N}'
const { params, report, nowSeconds } = require("./common.cjs");

// chunkCalls stays well under a ring lane's capacity (16,384 records at the default 16 MiB;
// 10,000-call chunks lost ~1.6% of the events to a full lane while the collector drained).
const { calls, chunkCalls, pauseMs } = params({ calls: 2_000_000, chunkCalls: 5_000, pauseMs: 10 });

// Per step: one `step`, which calls `price` and `tax` once each and `round` twice:
// 5 instrumented calls doing a little arithmetic and object work, like a program's
// small helpers.
function round(value) {
  return Math.round(value * 100) / 100;
}

function tax(amount, rate) {
  return round(amount * rate);
}

function price(item, quantity) {
  return item.unit * quantity - (quantity > 10 ? item.discount : 0);
}

function step(state, i) {
  const item = state.items[i & 7];
  const net = round(price(item, (i % 13) + 1));
  state.total += net + tax(net, 0.2);
  return state;
}

const items = Array.from({ length: 8 }, (_, i) => ({ unit: 1.5 + i, discount: i / 2 }));
const perStep = 5;
const steps = Math.max(1, Math.round(calls / perStep));
const chunk = Math.max(1, Math.round(chunkCalls / perStep));
const counts = { step: 0 };

function runChunk(state, from, to) {
  for (let i = from; i < to; i++) step(state, i);
  counts.step += to - from;
}

async function main() {
  const state = { items, total: 0 };
  // Warm-up (not measured, but traced and counted): let V8 optimise the functions.
  runChunk(state, 0, Math.min(steps, chunk));
  let measured = 0;
  for (let from = 0; from < steps; from += chunk) {
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const start = nowSeconds();
    runChunk(state, from, Math.min(steps, from + chunk));
    measured += nowSeconds() - start;
  }
  const chunks = 1 + Math.ceil(steps / chunk);
  const functions = { step: counts.step, price: counts.step, tax: counts.step, round: 2 * counts.step, runChunk: chunks, main: 1 };
  report({
    ops: steps * perStep,
    unit: "calls",
    seconds: measured,
    checksum: Math.round(state.total),
    expect: { messages: 0, threads: 0, processes: 0, functions },
  });
}

main();

"use strict";
// Does a V8 code cache carry whether the thread that made it compiled a function with
// Sparkplug? (BENCHMARKS.md "Eleventh look".) The main thread compiles a script, calls its
// `big` 50 times ("warm": V8 tiers it up with Sparkplug) or not at all ("cold"), makes the
// cache and hands it to a worker, which compiles the same source with it and calls `big`
// once. Run with V8's trace of Sparkplug batches and look between the worker's two markers:
//
//   node --trace-baseline-batch-compilation scripts/code-cache-sparkplug.cjs warm | sed -n '/worker: call/,/worker: called/p'
//   node --trace-baseline-batch-compilation scripts/code-cache-sparkplug.cjs cold | sed -n '/worker: call/,/worker: called/p'
//
// On Node 20.20 (V8 11.3) "warm" queues `big` (and `small`, which it calls) at that single
// call; "cold" queues neither. The markers are written straight to fd 1, as V8's trace is.
const vm = require("node:vm");
const fs = require("node:fs");
const { Worker, isMainThread, workerData } = require("node:worker_threads");

const source = `(function () {
  function small(n) { let digits = 1; while (n >= 10) { n = n / 10; digits++; } return digits; }
  function big(x) { let sum = 0; ${Array.from({ length: 60 }, (_, i) => `if (x === ${i}) sum += ${i};`).join(" ")} return sum + small(x); }
  return { small, big };
})`;

if (isMainThread) {
  const script = new vm.Script(source, { filename: "/sparkplug-probe.js" });
  const { big } = script.runInThisContext()();
  if (process.argv[2] === "warm") for (let i = 0; i < 50; i++) big(i);
  new Worker(__filename, { workerData: script.createCachedData() });
} else {
  const script = new vm.Script(source, { filename: "/sparkplug-probe.js", cachedData: workerData });
  const { big } = script.runInThisContext()();
  fs.writeSync(1, `worker: call big once (cache rejected: ${script.cachedDataRejected})\n`);
  big(3);
  fs.writeSync(1, "worker: called\n");
}

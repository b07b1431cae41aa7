"use strict";
// CPU ns per unit of an async function awaiting three times, with a request context carried
// by: nothing (none), AsyncLocalStorage (als: async_hooks in Node 20), or V8's promise hooks
// alone (v8hooks: init stamps the current number on each promise, before/after set and
// restore it; v8init: the init hook only). One mechanism per process; 7 rounds of 200,000
// units, the first two are warm-up; prints the median of the other five.
//   for m in none als v8hooks v8init; do node scripts/bench-promise-hooks-context.cjs $m; done
// BENCHMARKS.md "Web services" (what the request context costs).
const mode = process.argv[2] ?? "none";
const { promiseHooks } = require("node:v8");
const { AsyncLocalStorage } = require("node:async_hooks");
const context = Symbol("context");
let current = 0;
if (mode === "als") new AsyncLocalStorage().enterWith(1);
if (mode === "v8hooks" || mode === "v8init") {
  current = 1;
  const hooks = {
    init(promise) {
      if (current !== 0) promise[context] = current;
    },
  };
  if (mode === "v8hooks") {
    hooks.before = (promise) => {
      current = promise[context] ?? 0;
    };
    hooks.after = () => {
      current = 0;
    };
  }
  promiseHooks.createHook(hooks);
}
async function leaf(x) {
  return x + 1;
}
async function unit(x) {
  x = await leaf(x);
  x = await leaf(x);
  x = await leaf(x);
  return x;
}
async function main() {
  const units = 200_000;
  const results = [];
  for (let round = 0; round < 7; round++) {
    const start = process.cpuUsage();
    for (let i = 0; i < units; i++) await unit(i);
    const used = process.cpuUsage(start);
    if (round >= 2) results.push(((used.user + used.system) * 1000) / units);
  }
  results.sort((a, b) => a - b);
  console.log(`${mode}: ${results[2].toFixed(0)} ns per unit (median of 5)`);
}
main();

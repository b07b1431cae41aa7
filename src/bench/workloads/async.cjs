"use strict";
// Async causality's workload (scope run --async): promise-heavy asynchronous JavaScript.
// Each task waits for an immediate, runs two small async functions side by side, then
// waits for a nextTick: 1 immediate, 1 tick and about ten promises per task, `inFlight`
// tasks at a time. No I/O, so the cost measured is the per-callback and per-promise one.
const { params, report, nowSeconds } = require("./common.cjs");

const { tasks, inFlight } = params({ tasks: 200000, inFlight: 16 });

async function step(value) {
  await null;
  return value + 1;
}

async function task(i) {
  await new Promise((resolve) => setImmediate(resolve));
  const [a, b] = await Promise.all([step(i), step(i + 1)]);
  await new Promise((resolve) => process.nextTick(resolve));
  return a + b;
}

async function main() {
  let next = 0;
  let checksum = 0;
  const start = nowSeconds();
  const cpuStart = process.cpuUsage();
  async function lane() {
    while (next < tasks) checksum = (checksum + (await task(next++))) % 1000003;
  }
  await Promise.all(Array.from({ length: inFlight }, lane));
  const seconds = nowSeconds() - start;
  const cpu = process.cpuUsage(cpuStart);
  report({
    ops: tasks,
    unit: "tasks",
    seconds,
    checksum,
    // This thread's CPU time in the measured window (scripts/bench-async.ts: per task, without start-up).
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    // With --async: at least one init per immediate and nextTick the tasks made (Node adds its own).
    expect: { messages: 0, threads: 0, processes: 0, asyncInits: { Immediate: tasks, TickObject: tasks, PROMISE: 8 * tasks } },
  });
}

main();

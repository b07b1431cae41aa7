"use strict";
// Async causality's workload (scope run --async): promise-heavy asynchronous JavaScript
// (async-tasks.cjs: 1 immediate, 1 tick and about ten promises per task), `inFlight`
// tasks at a time. No I/O, so the cost measured is the per-callback and per-promise one.
const { params, report, nowSeconds } = require("./common.cjs");
const { runTasks } = require("./async-tasks.cjs");

const { tasks, inFlight } = params({ tasks: 200000, inFlight: 16 });

async function main() {
  const start = nowSeconds();
  const cpuStart = process.cpuUsage();
  const checksum = await runTasks(tasks, inFlight);
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

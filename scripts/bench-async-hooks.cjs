"use strict";
// What Node's async_hooks cost by themselves, beside scope's --async records: the async
// workload's tasks (src/bench/workloads/async-tasks.cjs) in one process, in rounds that alternate
// the modes, CPU time per task (process.cpuUsage), medians. A hook is enabled for its
// rounds and disabled after (Node keeps its promise hook until the next microtask).
//   node scripts/bench-async-hooks.cjs [rounds] [tasks]
// Modes: none; empty (init/before/after that do nothing: Node's bookkeeping alone);
// empty+resolve (also a promiseResolve hook, as --async=promises has); filter (what
// --async=callbacks does per callback without writing a record).
const hooks = require("node:async_hooks");
const { runTasks } = require("../src/bench/workloads/async-tasks.cjs");

const rounds = Number(process.argv[2] ?? 7);
const tasks = Number(process.argv[3] ?? 20000);

const run = () => runTasks(tasks, 16);

const noop = () => {};
const modes = {
  none: undefined,
  empty: { init: noop, before: noop, after: noop },
  "empty+resolve": { init: noop, before: noop, after: noop, promiseResolve: noop },
  // --async=callbacks' filter without its writes: promises skipped by type, their reactions by the running resource.
  filter: {
    init(id, type) {
      if (type === "PROMISE") return;
      sink++;
    },
    before() {
      if (hooks.executionAsyncResource() instanceof Promise) return;
      sink++;
    },
    after() {
      if (hooks.executionAsyncResource() instanceof Promise) return;
      sink++;
    },
  },
};
let sink = 0;
const median = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];

async function main() {
  const results = Object.fromEntries(Object.keys(modes).map((mode) => [mode, []]));
  await run(); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const [mode, callbacks] of Object.entries(modes)) {
      const hook = callbacks && hooks.createHook(callbacks).enable();
      const start = process.cpuUsage();
      await run();
      const used = process.cpuUsage(start);
      hook?.disable();
      await new Promise((resolve) => setImmediate(resolve));
      results[mode].push(((used.user + used.system) / tasks));
    }
  }
  for (const [mode, values] of Object.entries(results)) {
    console.log(`${mode.padEnd(14)} ${median(values).toFixed(2)} µs CPU per task (min ${Math.min(...values).toFixed(2)}, max ${Math.max(...values).toFixed(2)}, ${rounds} rounds of ${tasks})`);
  }
}
main();

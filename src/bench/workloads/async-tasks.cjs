"use strict";
// The async workload's tasks (async.cjs; scripts/bench-async-hooks.cjs runs the same).
// Each task waits for an immediate, runs two small async functions side by side, then
// waits for a nextTick: 1 immediate, 1 tick and about ten promises per task.

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

/** Runs `tasks` tasks, `inFlight` at a time; resolves to a checksum of their results. */
async function runTasks(tasks, inFlight) {
  let next = 0;
  let checksum = 0;
  async function lane() {
    while (next < tasks) checksum = (checksum + (await task(next++))) % 1000003;
  }
  await Promise.all(Array.from({ length: inFlight }, lane));
  return checksum;
}

module.exports = { runTasks };

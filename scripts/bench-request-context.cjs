"use strict";
// What linking events to their request costs the program, by mechanism (BENCHMARKS.md
// "Request context"). Each mechanism runs in a fresh process (async hooks stay enabled once
// enabled), alternated over rounds; the figure is CPU time per unit of work, median.
//   node scripts/bench-request-context.cjs [rounds]      (also: bun scripts/bench-request-context.cjs)
// Work units:
//   await   an async function awaiting a resolved promise 3 times (a promise-heavy handler)
//   timer   a setImmediate callback (callback-style I/O continuations)
//   lookup  one currentRequest() as the agent does it per event (getStore of the live store)
// Mechanisms:
//   none       nothing (the untraced program)
//   als        the agent's: one AsyncLocalStorage, the work inside store.run(id) (Node 20:
//              its promise hook copies the store into every promise and resource created)
//   switch     a context-switch record instead: async_hooks init copies the request into each
//              resource, before compares it with the thread's last written one and "writes"
//              a record when it changes (no lookup per event, a hook per callback)
const { spawnSync } = require("node:child_process");

// Bun implements no async_hooks callbacks (oven-sh/bun#14457): "switch" cannot run there.
const mechanisms = typeof Bun !== "undefined" ? ["none", "als"] : ["none", "als", "switch"];
const UNITS = 200_000;

function measure(mechanism) {
  let lookup = () => 0;
  let enter = (id, fn) => fn();
  let switches = 0;
  if (mechanism === "als") {
    const { AsyncLocalStorage } = require("node:async_hooks");
    const store = new AsyncLocalStorage();
    enter = (id, fn) => store.run(id, fn);
    lookup = () => store.getStore() ?? 0;
  } else if (mechanism === "switch") {
    const hooks = require("node:async_hooks");
    const key = Symbol("request");
    let current = 0;
    let written = 0;
    hooks
      .createHook({
        init(asyncId, type, triggerAsyncId, resource) {
          const parent = hooks.executionAsyncResource();
          if (parent && parent[key] !== undefined) resource[key] = parent[key];
        },
        before() {
          const resource = hooks.executionAsyncResource();
          current = (resource && resource[key]) || 0;
          if (current !== written) {
            written = current;
            switches++;
          }
        },
      })
      .enable();
    enter = (id, fn) => {
      const resource = hooks.executionAsyncResource();
      const previous = resource[key];
      resource[key] = id;
      current = id;
      try {
        return fn();
      } finally {
        resource[key] = previous;
        current = previous || 0;
      }
    };
    lookup = () => current;
  }
  const cpu = () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  async function handler() {
    await null;
    await Promise.resolve(1);
    await null;
  }
  const results = {};
  return enter(1, async () => {
    // Warm-up, then each unit.
    for (let i = 0; i < 20_000; i++) await handler();
    let start = cpu();
    for (let i = 0; i < UNITS; i++) await handler();
    results.await = ((cpu() - start) * 1000) / UNITS;
    start = cpu();
    await new Promise((resolve) => {
      let left = UNITS;
      const next = () => (--left === 0 ? resolve() : setImmediate(next));
      setImmediate(next);
    });
    results.timer = ((cpu() - start) * 1000) / UNITS;
    let sum = 0;
    start = cpu();
    for (let i = 0; i < UNITS * 10; i++) sum += lookup();
    results.lookup = ((cpu() - start) * 1000) / (UNITS * 10);
    results.check = sum > 0 ? 1 : 0;
    results.switches = switches;
    return results;
  });
}

if (process.argv[2] === "--child") {
  measure(process.argv[3]).then((results) => process.stdout.write(JSON.stringify(results)));
} else {
  const rounds = Number(process.argv[2] ?? 7);
  const runtime = process.execPath;
  const samples = Object.fromEntries(mechanisms.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 === 0 ? mechanisms : [...mechanisms].reverse()) {
      const child = spawnSync(runtime, [__filename, "--child", name], { encoding: "utf8" });
      if (child.status !== 0) throw new Error(`${name}: ${child.stderr}`);
      samples[name].push(JSON.parse(child.stdout));
    }
  }
  const median = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
  const version = typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.version}`;
  process.stdout.write(`${version}, ${rounds} rounds alternated, CPU ns per unit (median); load ${require("node:os").loadavg()[0].toFixed(2)}\n`);
  process.stdout.write(`${"mechanism".padEnd(10)} ${"await x3".padStart(10)} ${"timer".padStart(10)} ${"lookup".padStart(10)}\n`);
  for (const name of mechanisms) {
    const rows = samples[name];
    const cell = (key) => median(rows.map((row) => row[key])).toFixed(1).padStart(10);
    process.stdout.write(`${name.padEnd(10)} ${cell("await")} ${cell("timer")} ${cell("lookup")}\n`);
  }
}

"use strict";
// What plain Node (no scope) keeps per cycle of the steps an attach takes, heap after two
// full GCs, N cycles (default 120), KiB per cycle by quarter of the run:
//   node --expose-gc src/bench/workloads/attach-residue.cjs <mode> [file]
// modes: none (the loop alone), session (an in-process inspector Session: connect,
// NodeWorker.enable/disable, disconnect), subscribe (a diagnostics-channel subscribe and
// unsubscribe), als (an AsyncLocalStorage entered, then disabled), load (require(file) from a
// fresh createRequire, then its require.cache entry deleted: the attach agent bundle is
// loaded this way each attach; give the bundle's path, e.g. dist/agent/attach.cjs).
const inspector = require("node:inspector");
const channels = require("node:diagnostics_channel");
const { AsyncLocalStorage } = require("node:async_hooks");
const { createRequire } = require("node:module");
const { join } = require("node:path");
const [mode = "none", file] = process.argv.slice(2);
const cycles = Number(process.env.N || 120);
const heapMiB = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed / 1024 ** 2;
};
(async () => {
  const series = [heapMiB()];
  for (let cycle = 0; cycle < cycles; cycle++) {
    if (mode === "session") {
      const session = new inspector.Session();
      session.connect();
      await new Promise((resolve) => session.post("NodeWorker.enable", { waitForDebuggerOnStart: false }, resolve));
      await new Promise((resolve) => session.post("NodeWorker.disable", {}, resolve));
      session.disconnect();
    } else if (mode === "subscribe") {
      const subscriber = () => {};
      channels.subscribe("http.server.request.start", subscriber);
      channels.unsubscribe("http.server.request.start", subscriber);
    } else if (mode === "als") {
      const storage = new AsyncLocalStorage();
      storage.enterWith(1);
      await null;
      storage.disable();
    } else if (mode === "load") {
      createRequire(join(process.cwd(), "[eval]"))(file);
      delete require.cache[file];
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    series.push(heapMiB());
  }
  const n = series.length - 1;
  const per = (a, b) => (((series[b] - series[a]) * 1024) / (b - a)).toFixed(1);
  console.log(`${mode.padEnd(9)} KiB per cycle by quarter: ${per(1, n >> 2)} ${per(n >> 2, n >> 1)} ${per(n >> 1, (3 * n) >> 2)} ${per((3 * n) >> 2, n)}; heap ${series[0].toFixed(3)} → ${series[1].toFixed(3)} (first) → ${series[n].toFixed(3)} MiB`);
})();

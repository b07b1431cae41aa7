// What an idle thread pays for each periodic part of the loop and memory groups, in plain
// node (no scope): the process's CPU per second of wall time while it only waits.
// Variants (joined with +): none, empty (a 25 ms setInterval doing nothing), sent (the
// sentinel's 25 ms interval with its two eventLoopUtilization calls), hist (perf_hooks'
// monitorEventLoopDelay at 20 ms, what Node's delay samples used until 2026-12-04), obs (a
// 'gc' PerformanceObserver), prof (a v8.GCProfiler running), sample (process.memoryUsage
// every second).
// Usage: for r in 1 2 3; do for v in none empty sent hist sent+hist; do node scripts/bench-loop-wakeups.cjs $v 4; done; done
const variant = process.argv[2] ?? "none";
const seconds = Number(process.argv[3] ?? 4);
const perf = require("node:perf_hooks");
const t0 = process.cpuUsage();
if (variant.includes("sent")) setInterval(() => { const e = perf.performance.eventLoopUtilization(); perf.performance.eventLoopUtilization(e, e); }, 25).unref();
if (variant.includes("empty")) setInterval(() => {}, 25).unref();
if (variant.includes("hist")) perf.monitorEventLoopDelay({ resolution: 20 }).enable();
if (variant.includes("obs")) new perf.PerformanceObserver(() => {}).observe({ entryTypes: ["gc"] });
if (variant.includes("prof")) new (require("node:v8").GCProfiler)().start();
if (variant.includes("sample")) setInterval(() => process.memoryUsage(), 1000).unref();
setTimeout(() => {
  const u = process.cpuUsage(t0);
  console.log(variant, ((u.user + u.system) / 1000 / seconds).toFixed(2), "ms CPU/s");
}, seconds * 1000);

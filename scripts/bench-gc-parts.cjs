// CPU per GC of Node's own GC reporting, in plain node (no scope): allocation-heavy turns
// (3,000 turns of 3,000 small objects, one setImmediate each) with none, obs (a 'gc'
// PerformanceObserver), prof (a v8.GCProfiler) or both, what scope's memory group used per
// GC until 2026-12-04. Run with a small young generation so GCs are many:
//   for r in 1 2 3 4; do for m in none obs prof both; do node --max-semi-space-size=1 scripts/bench-gc-parts.cjs $m; done; done
// CPU per GC of a part = (its CPU - none's CPU) / its GCs (medians over rounds).
const mode = process.argv[2] ?? "none";
const perf = require("node:perf_hooks");
const v8 = require("node:v8");
let entries = 0;
let profiler;
if (mode === "obs" || mode === "both") new perf.PerformanceObserver((list) => { entries += list.getEntries().length; }).observe({ entryTypes: ["gc"] });
if (mode === "prof" || mode === "both") { profiler = new v8.GCProfiler(); profiler.start(); }
const t0 = process.cpuUsage();
let sink;
let units = 0;
const done = () => {
  const u = process.cpuUsage(t0);
  const stats = profiler?.stop();
  console.log(mode, ((u.user + u.system) / 1000).toFixed(0), "ms", stats ? stats.statistics.length : entries, "GCs");
};
const unit = () => {
  for (let i = 0; i < 3000; i++) sink = { a: i, b: [i, i + 1], c: "x" + i };
  if (++units < 3000) setImmediate(unit);
  else done();
};
unit();

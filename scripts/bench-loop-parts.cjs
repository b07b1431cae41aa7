// The loop and memory groups' parts, each alone, on the loop-gc workload's unit of work
// (2,000 small objects per setImmediate turn, 4,000 units): `none`, `obs` (a 'gc'
// PerformanceObserver), `prof` (the observer draining a v8.GCProfiler per delivery, as
// src/agent/shared/loop.ts does), `timers` (setImmediate's callback wrapped with two clock
// reads, as loop.ts does). Prints this process's CPU per unit.
// Usage: for r in 1 2 3 4 5 6; do for m in none obs prof timers; do node scripts/bench-loop-parts.cjs $m; done; done
const mode = process.argv[2];
const { PerformanceObserver } = require('perf_hooks');
const v8 = require('v8');
let drains = 0, entries = 0;
if (mode === 'obs' || mode === 'prof') {
  let prof = mode === 'prof' ? new v8.GCProfiler() : null; if (prof) prof.start();
  const o = new PerformanceObserver((list) => { const e = list.getEntries(); entries += e.length; if (prof) { const d = prof; prof = new v8.GCProfiler(); prof.start(); d.stop(); drains++; } });
  o.observe({ entryTypes: ['gc'] });
}
if (mode === 'timers') {
  const orig = globalThis.setImmediate;
  globalThis.setImmediate = function (cb) { const a = Array.prototype.slice.call(arguments); a[0] = function () { const s = performance.now(); try { return Reflect.apply(cb, this, arguments); } finally { if (performance.now() - s > 50) {} } }; return Reflect.apply(orig, this, a); };
}
let keep = [], done = 0, units = 4000;
const t0 = process.cpuUsage();
function unit() { for (let i = 0; i < 2000; i++) { const item = { id: i, name: `item-${done}-${i}`, tags: [i % 7, i % 11] }; keep.push(item); if (keep.length > 20000) keep = []; } if (++done >= units) { const u = process.cpuUsage(t0); console.log(mode, ((u.user + u.system) / units).toFixed(1), 'us/unit', 'entries', entries, 'drains', drains); } else setImmediate(unit); }
unit();

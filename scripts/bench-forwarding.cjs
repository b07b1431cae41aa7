// What a wrapper's forwarding of its arguments to the original costs, warm (BENCHMARKS.md
// "Per-request cost, 2026-12-04"). Run as a sloppy-mode script (the agent bundle is one):
//   node scripts/bench-forwarding.cjs
function orig(a, b) { return (a | 0) + (b === undefined ? 1 : 2); }
const call = Function.prototype.call.bind(orig);
const A = function (a, b) { if (a === -1) return 0; return Reflect.apply(orig, this, arguments); };
const B = function (...args) { if (args[0] === -1) return 0; return Reflect.apply(orig, this, args); };
const C = function (a, b) { if (a === -1) return 0; const n = arguments.length; if (n === 1) return call(this, a); if (n === 2) return call(this, a, b); return Reflect.apply(orig, this, arguments); };
const D = function (a, b) { "use strict"; if (a === -1) return 0; return Reflect.apply(orig, this, arguments); };
const E = function (a, b) { if (a === -1) return 0; return orig.apply(this, arguments); };
const N = 2e7;
for (const round of [1, 2]) for (const [name, f] of [["sloppy arguments", A], ["rest", B], ["bound call by count", C], ["strict arguments", D], ["fn.apply(arguments)", E]]) {
  const o = { f };
  let s = 0; const t = process.cpuUsage();
  for (let i = 0; i < N; i++) s += (i & 1) ? o.f(i) : o.f(i, 2);
  const u = process.cpuUsage(t); if (round === 2) console.log(name.padEnd(22), ((u.user + u.system) * 1000 / N).toFixed(1), "ns", s > 0);
}

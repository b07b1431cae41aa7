// FunctionRuntime's own cost in Node, by CPU time (process.cpuUsage), which a loaded
// machine disturbs less than wall time: the same loop untouched and instrumented,
// alternated 7 times in one process, median added ns per instrumented call. Modes:
//   full      price(item, quantity) at the full level: small object arguments, number returned
//   workload  functions-full's program (step/price/tax/round, `state` previewed) at the full level
//   calls     leaf(n) at the calls level
// Events go through scope.node into a ring nobody drains (overwrite mode). To compare two
// versions, bundle each checkout's src/instrument and run both alternately:
//   . scripts/env.sh && zig build -Doptimize=ReleaseFast
//   bun build src/instrument/index.ts --target node --format cjs --external oxc-parser --outfile /tmp/now.cjs
//   bun -e 'require("./src/core/ring").Ring.create("/dev/shm/scope-bench-runtime", { laneCount: 4, laneCapacitySlots: 65536, mode: "overwrite" })'
//   node scripts/bench-runtime.cjs /tmp/now.cjs full 100000 /dev/shm/scope-bench-runtime; rm /dev/shm/scope-bench-runtime
const lib = require(require("node:path").resolve(process.argv[2]));
const addon = require(require("node:path").resolve(__dirname, "../zig-out/lib/scope.node"));
if (!addon.attach(process.argv[5], 0)) throw new Error("attach " + process.argv[5]);
const types = require("node:util").types;
const workload = `function price(item, quantity) { return item.unit * quantity - (quantity > 10 ? item.discount : 0); }
function leaf(a) { return a + 1; }
exports.full = function (n, items) { let s = 0; for (let i = 0; i < n; i++) s += price(items[i & 7], (i % 13) + 1); return s; };
function round(value) { return Math.round(value * 100) / 100; }
function tax(amount, rate) { return round(amount * rate); }
function step(state, i) { const item = state.items[i & 7]; const net = round(price(item, (i % 13) + 1)); state.total += net + tax(net, 0.2); return state; }
exports.workload = function (n, items) { const state = { items, total: 0 }; for (let i = 0; i < n / 5; i++) step(state, i); return state.total; };
exports.calls = function (n) { let s = 0; for (let i = 0; i < n; i++) s = leaf(s); return s; };`;
const load = (level) => { const code = level ? lib.instrument(workload, "/bench/w.js", { config: { root: "/bench", level }, module: false }).code : workload; const e = {}; new Function("exports", code)(e); return e; };
const key = Symbol.for(lib.HOOK_KEY);
// The calls level packs eight calls to a record (function_calls) into discard-mode rings;
// this ring is an overwrite one nobody drains, so packing is asked for here (PACK=0: not).
const runtime = new lib.FunctionRuntime({ sink: addon, types, hotCallsPerSecond: 0, batchSize: 256, flushIntervalMs: 0, flushAtJobEnd: false, str: undefined, packCalls: process.env.PACK !== "0" });
globalThis[key] = runtime.hook;
const items = Array.from({ length: 8 }, (_, i) => ({ unit: 1.5 + i, discount: i / 2 }));
const mode = process.argv[3] || "full";
const n = Number(process.argv[4] || 200000);
const plain = load(undefined), traced = load(mode === "workload" ? "full" : mode);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const run = (e) => mode === "full" ? e.full(n, items) : mode === "workload" ? e.workload(n, items) : e.calls(n);
run(traced); run(plain);
const a = [], b = [];
for (let r = 0; r < 7; r++) { let t = cpu(); run(plain); a.push((cpu() - t) / n); t = cpu(); run(traced); b.push((cpu() - t) / n); }
runtime.close();
console.log(`${mode}: plain ${median(a).toFixed(1)} ns/call, traced ${median(b).toFixed(1)} ns/call, added ${(median(b) - median(a)).toFixed(1)} ns (CPU time, median of 7)`);

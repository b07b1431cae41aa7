// The calls level's cost in the shape of scope bench's functions workload (step calls
// price, round, tax and round again: five instrumented calls per step), by CPU time, in
// one process: FunctionRuntime into scope.node (a ring nobody drains, overwrite mode) or
// into a sink whose commitEvents() does nothing (the JavaScript side alone), with
// function_calls packs (packCalls) or a record per call. Median of 9 alternations of
// 2 M calls, untouched and instrumented.
//   . scripts/env.sh && zig build -Doptimize=ReleaseFast
//   bun build src/instrument/index.ts --target node --format cjs --external oxc-parser --outfile /tmp/now.cjs
//   bun -e 'require("./src/core/ring").Ring.create("/dev/shm/scope-bench-runtime", { laneCount: 4, laneCapacitySlots: 65536, mode: "overwrite" })'
//   for w in fake addon; do for p in 0 1; do node scripts/bench-calls-workload.cjs /tmp/now.cjs /dev/shm/scope-bench-runtime $w $p; done; done
const lib = require(require("node:path").resolve(process.argv[2]));
const addon = require(require("node:path").resolve(__dirname, "../zig-out/lib/scope.node"));
if (!addon.attach(process.argv[3], 0)) throw new Error("attach");
const types = require("node:util").types;
const workload = `function round(value) { return Math.round(value * 100) / 100; }
function tax(amount, rate) { return round(amount * rate); }
function price(item, quantity) { return item.unit * quantity - (quantity > 10 ? item.discount : 0); }
function step(state, i) { const item = state.items[i & 7]; const net = round(price(item, (i % 13) + 1)); state.total += net + tax(net, 0.2); return state; }
exports.calls = function (n, items) { const state = { items, total: 0 }; for (let i = 0; i < n / 5; i++) step(state, i); return state.total; };`;
const key = Symbol.for(lib.HOOK_KEY);
const EV = 64 + 256 * 64 + 2 * (3 * 4096 + 64);
const fake = { record() { return true; }, string() { return true; }, recordBatch(w, c) { return c; }, events() { return this.buf ??= new ArrayBuffer(EV); }, commitEvents() { new Uint8Array(this.buf, 64, 256 * 64).fill(0); } };
const which = process.argv[4];
const packCalls = process.argv[5] === "1";
const sink = which === "fake" ? fake : addon;
const runtime = new lib.FunctionRuntime({ sink, types, hotCallsPerSecond: 0, batchSize: 256, flushIntervalMs: 0, flushAtJobEnd: false, packCalls });
globalThis[key] = runtime.hook;
const load = (level) => { const code = level ? lib.instrument(workload, "/bench/w.js", { config: { root: "/bench", level }, module: false }).code : workload; const e = {}; new Function("exports", code)(e); return e; };
const plain = load(undefined), traced = load("calls");
const items = Array.from({ length: 8 }, (_, i) => ({ unit: 1.5 + i, discount: i / 2 }));
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const n = 2e6;
traced.calls(n, items); plain.calls(n, items);
const a = [], b = [];
for (let r = 0; r < 9; r++) { let t = cpu(); plain.calls(n, items); a.push((cpu() - t) / n); t = cpu(); traced.calls(n, items); b.push((cpu() - t) / n); }
console.log(`${which} packCalls=${packCalls}: plain ${median(a).toFixed(1)} ns, added ${(median(b) - median(a)).toFixed(1)} ns per call`);

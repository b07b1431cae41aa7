// The calls level's cost split in two, by CPU time: FunctionRuntime into scope.node (the
// ring, overwrite mode, no consumer) against the same runtime into a sink whose
// commitEvents() does nothing (the JavaScript side alone: the hook, the batch's stores).
// Median of 9 alternations of 2 M calls of leaf(n), untouched and instrumented.
//   . scripts/env.sh && zig build -Doptimize=ReleaseFast
//   bun build src/instrument/index.ts --target node --format cjs --external oxc-parser --outfile /tmp/now.cjs
//   bun -e 'require("./src/core/ring").Ring.create("/dev/shm/scope-bench-runtime", { laneCount: 4, laneCapacitySlots: 65536, mode: "overwrite" })'
//   for w in fake addon; do node scripts/bench-calls-parts.cjs /tmp/now.cjs /dev/shm/scope-bench-runtime $w; done
const lib = require(require("node:path").resolve(process.argv[2]));
const addon = require(require("node:path").resolve(__dirname, "../zig-out/lib/scope.node"));
if (!addon.attach(process.argv[3], 0)) throw new Error("attach");
const types = require("node:util").types;
const workload = `function leaf(a) { return a + 1; }
exports.calls = function (n) { let s = 0; for (let i = 0; i < n; i++) s = leaf(s); return s; };`;
const key = Symbol.for(lib.HOOK_KEY);
const EV = 64 + 256 * 64 + 2 * (3 * 4096 + 64);
const fake = { record() { return true; }, string() { return true; }, recordBatch(w, c) { return c; }, events() { return this.buf ??= new ArrayBuffer(EV); }, commitEvents() {} };
const which = process.argv[4];
const sink = which === "fake" ? fake : addon;
const runtime = new lib.FunctionRuntime({ sink, types, hotCallsPerSecond: 0, batchSize: 256, flushIntervalMs: 0, flushAtJobEnd: false });
globalThis[key] = runtime.hook;
const load = (level) => { const code = level ? lib.instrument(workload, "/bench/w.js", { config: { root: "/bench", level }, module: false }).code : workload; const e = {}; new Function("exports", code)(e); return e; };
const plain = load(undefined), traced = load("calls");
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const n = 2e6;
traced.calls(n); plain.calls(n);
const a = [], b = [];
for (let r = 0; r < 9; r++) { let t = cpu(); plain.calls(n); a.push((cpu() - t) / n); t = cpu(); traced.calls(n); b.push((cpu() - t) / n); }
console.log(`${which}: added ${(median(b) - median(a)).toFixed(1)} ns per call`);

// One process running scope bench's functions program (step/price/round/tax, `state`
// previewed at the full level) through FunctionRuntime into scope.node (a ring nobody
// drains, overwrite mode, calls packed as in a discard-mode ring), for counting
// instructions under valgrind: scripts/runtime-instructions.sh runs it. Chunks of 1 000
// steps, like the workload's.
//   node scripts/runtime-instructions.cjs <instrument bundle> <addon> <ring> <calls> <calls|full>
const lib = require(require("node:path").resolve(process.argv[2]));
const addon = require(require("node:path").resolve(process.argv[3]));
if (!addon.attach(process.argv[4], 0)) throw new Error("attach " + process.argv[4]);
const types = require("node:util").types;
const level = process.argv[6] || "calls";
const workload = `function round(value) { return Math.round(value * 100) / 100; }
function tax(amount, rate) { return round(amount * rate); }
function price(item, quantity) { return item.unit * quantity - (quantity > 10 ? item.discount : 0); }
function step(state, i) { const item = state.items[i & 7]; const net = round(price(item, (i % 13) + 1)); state.total += net + tax(net, 0.2); return state; }
exports.run = function (from, to, state) { for (let i = from; i < to; i++) step(state, i); return state.total; };`;
let nextId = 1;
const runtime = new lib.FunctionRuntime({ sink: addon, types, hotCallsPerSecond: 0, batchSize: 256, flushIntervalMs: 0, flushAtJobEnd: false, packCalls: true, stringId: () => nextId++ });
globalThis[Symbol.for(lib.HOOK_KEY)] = runtime.hook;
const exported = {};
new Function("exports", lib.instrument(workload, "/bench/w.js", { config: { root: "/bench", level }, module: false }).code)(exported);
const items = Array.from({ length: 8 }, (_, i) => ({ unit: 1.5 + i, discount: i / 2 }));
const state = { items, total: 0 };
const steps = Math.round(Number(process.argv[5]) / 5);
for (let from = 0; from < steps; from += 1000) exported.run(from, Math.min(steps, from + 1000), state);
runtime.close();

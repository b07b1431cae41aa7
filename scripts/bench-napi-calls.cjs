// What a call into scope.node costs from Node, by CPU time per call (process.cpuUsage),
// three rounds: a bare call (stopped()), the clock (now()), the scratch commit (no
// arguments: a record written), record() with 7 arguments, recordBatch() of 1 and 3
// records, and performance.now() for scale. Each converted argument is a Node-API call.
//   . scripts/env.sh && zig build -Doptimize=ReleaseFast
//   bun -e 'require("./src/core/ring").Ring.create("/dev/shm/scope-bench-napi", { laneCount: 4, laneCapacitySlots: 65536, mode: "overwrite" })'
//   node scripts/bench-napi-calls.cjs /dev/shm/scope-bench-napi; rm /dev/shm/scope-bench-napi
const addon = require(require("node:path").resolve(__dirname, "../zig-out/lib/scope.node"));
if (!addon.attach(process.argv[2], 0)) throw new Error("attach " + process.argv[2]);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
const N = 2e6;
const words = new Uint32Array(256 * 16);
const scratch = new Float64Array(addon.scratch(), 0, 8);
const tests = {
  empty: () => { let s = 0; for (let i = 0; i < N; i++) s += i; return s; },
  now: () => { let s = 0; for (let i = 0; i < N; i++) s += addon.now(); return s; },
  stopped: () => { let s = 0; for (let i = 0; i < N; i++) s += addon.stopped(); return s; },
  commit: () => { let s = 0; for (let i = 0; i < N; i++) { scratch[0] = 33; scratch[2] = i; s += addon.commit() !== false ? 1 : 0; } return s; },
  record: () => { let s = 0; for (let i = 0; i < N; i++) s += addon.record(33, 0, i, 1, 2, 3, 4) ? 1 : 0; return s; },
  batch1: () => { let s = 0; for (let i = 0; i < N; i++) { words[1] = 33; words[6] = i; s += addon.recordBatch(words, 1); } return s; },
  batch3: () => { let s = 0; for (let i = 0; i < N; i++) { words[1] = 33; words[6] = i; s += addon.recordBatch(words, 3); } return s; },
  perfnow: () => { let s = 0; for (let i = 0; i < N; i++) s += performance.now(); return s; },
};
for (let round = 0; round < 3; round++) {
  const out = [];
  for (const [name, f] of Object.entries(tests)) { const t = cpu(); f(); out.push(`${name} ${((cpu() - t) / N).toFixed(1)}`); }
  console.log(out.join("  "));
}

// What reading a value without running program code costs in Node (V8), per read, by CPU
// time (best of 5 rounds of 2 M reads): the preview walk (src/agent/shared/preview.ts)
// reads every property through a descriptor so that no getter runs, and this is the
// floor that sets under the full level's cost per call (BENCHMARKS.md, "Full level:
// where a preview's time goes"). Also the alternatives looked at: the getter/setter
// lookups, hasOwn, and the checks the walk makes per object.
//   node scripts/bench-property-reads.cjs
const items = Array.from({ length: 8 }, (_, i) => ({ unit: 1.5 + i, discount: i / 2 }));
const descriptor = Object.getOwnPropertyDescriptor;
const lookupGetter = Object.prototype.__lookupGetter__;
const lookupSetter = Object.prototype.__lookupSetter__;
const hasOwn = Object.hasOwn;
const types = require("node:util").types;
const cpu = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
};
const N = 2e6;
let sink = 0;
function time(name, run) {
  run();
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = cpu();
    run();
    best = Math.min(best, (cpu() - start) / N);
  }
  console.log(`${name.padEnd(44)} ${best.toFixed(1)} ns`);
}
time("plain read o.unit (runs a getter if there is one)", () => { for (let i = 0; i < N; i++) sink += items[i & 7].unit; });
time("descriptor of a named key", () => { for (let i = 0; i < N; i++) sink += descriptor(items[i & 7], "unit").value; });
time("descriptor per key, for-in over a record", () => { for (let i = 0; i < N / 2; i++) { const o = items[i & 7]; for (const k in o) sink += descriptor(o, k).value; } });
time("descriptor of an array element", () => { for (let i = 0; i < N; i++) sink += descriptor(items, i & 7).value.unit; });
time("hasOwn + lookupGetter + lookupSetter, element", () => { for (let i = 0; i < N; i++) { const k = i & 7; if (hasOwn(items, k) && lookupGetter.call(items, k) === undefined && lookupSetter.call(items, k) === undefined) sink += items[k].unit; } });
time("lookupGetter + lookupSetter, named key", () => { for (let i = 0; i < N; i++) { const o = items[i & 7]; if (lookupGetter.call(o, "unit") === undefined && lookupSetter.call(o, "unit") === undefined) sink += o.unit; } });
time("util.types.isProxy", () => { for (let i = 0; i < N; i++) if (!types.isProxy(items[i & 7])) sink++; });
time("Object.getPrototypeOf", () => { for (let i = 0; i < N; i++) if (Object.getPrototypeOf(items[i & 7]) === Object.prototype) sink++; });
time("String(a fraction)", () => { for (let i = 0; i < N; i++) sink += String(i + 0.25).length; });
if (sink === 0) console.log("");

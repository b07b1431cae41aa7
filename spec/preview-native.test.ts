/**
 * scope.node's previewNative (zig/napi.zig "Function previews written natively") against
 * fast() and the reference walk, under each Node at hand (20, and 22 and 24 from
 * scripts/node-install.sh): random values of every kind (integers, fractions of every
 * magnitude, NaN, ±Infinity, -0, one-byte, escaped, two-byte, cons and sliced strings,
 * booleans, null, undefined, BigInts, symbols, functions, records of learnt and unknown maps,
 * packed, holey, double, frozen and accessor arrays, getters, Proxies, dictionaries, class
 * instances, secrets, accessors turned on after learning), as a value and as a call's one
 * or two arguments, at random depth and character limits: whenever previewNative writes, its
 * bytes are exactly the JavaScript walk's (and the reference's), and no getter or Proxy trap
 * ever runs. The workload's shapes (functions.cjs) are written natively.
 */
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { bundleForNode, installedNodes, testAddonPath as addonPath, WALK_FIXTURE_PRELUDE } from "./harness";
import { scratchDirs } from "./scratch";

const root = join(import.meta.dir, "..");
const dir = scratchDirs("scope-preview-native-")();

const nodes = installedNodes;

const fixture = `
${WALK_FIXTURE_PRELUDE}
const rounds = Number(process.argv[4]);
walk.useMapProofs(() => walk.mapProofsOf(addon));
const events = addon.events();
const textsAt = 64 + 256 * 16 * 4;
const textBytes = 3 * 4096 + 64;
const texts = [new Uint8Array(events, textsAt, textBytes), new Uint8Array(events, textsAt + textBytes, textBytes)];
const room = new Uint8Array(textBytes);
let ran = false;
const report = { version: process.version, native: 0, compared: 0, nativeCut: 0, nativeMarks: 0, nativeFractions: 0, byLabel: {}, mismatches: [], referenceMismatches: [] };
let seed = 12345;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const pick = (list) => list[Math.floor(random() * list.length)];
const getterAt = (object, key) => Object.defineProperty(object, key, { get: () => ((ran = true), 1), enumerable: true, configurable: true });
const trap = () => { ran = true; };
const proxy = () => new Proxy({ a: 1 }, { get: () => (trap(), 1), ownKeys: () => (trap(), []), getOwnPropertyDescriptor: () => (trap(), undefined), getPrototypeOf: () => (trap(), null), has: () => (trap(), false) });
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
function number() {
  switch (Math.floor(random() * 9)) {
    case 0: return Math.floor(random() * 2000) - 1000;
    case 1: return Math.round(random() * 1e6) / 100;
    case 2: return (random() - 0.5) * 10 ** Math.floor(random() * 50 - 25);
    case 3: words[0] = random() * 2 ** 32; words[1] = random() * 2 ** 32; return bits[0];
    case 4: return pick([NaN, Infinity, -Infinity, -0, 0, 1e21, 1e-7, 1e15, -1e15, 999999999999999, 2 ** 31, 2 ** 53, 0.1 + 0.2, 5e-324]);
    case 5: return Math.floor(random() * 1e15) * (random() < 0.5 ? -1 : 1);
    case 6: return Math.floor(random() * 8) / 2;
    default: return random();
  }
}
const long = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(8);
function string() {
  switch (Math.floor(random() * 9)) {
    case 0: return long.slice(0, Math.floor(random() * 40));
    case 1: return long.slice(0, Math.floor(random() * 300)) + "";
    case 2: return "q\\"uote";
    case 3: return "caf\\u00e9";
    case 4: return "emoji \\ud83d\\ude00";
    case 5: return long.slice(3, 30) + String(Math.floor(random() * 1000)); // cons
    case 6: return long.slice(1, 2 + Math.floor(random() * 200)); // sliced past 13
    case 7: return "tab\\tnew\\nline";
    default: return ["a", "b", "", "x y", "hello", "[]{}", "~"][Math.floor(random() * 7)];
  }
}
const keysPool = ["id", "name", "unit", "discount", "items", "total", "x", "y", "nested", "list", "password", "k w", "q\\"k", "clé", "v0", "v1", "v2"];
const shapes = Array.from({ length: 24 }, () => Array.from({ length: 1 + Math.floor(random() * 5) }, () => pick(keysPool)));
function record(depth) {
  const keys = pick(shapes);
  const object = {};
  for (const key of keys) object[key] = value(depth + 1);
  return object;
}
function array(depth) {
  const length = Math.floor(random() * 12);
  switch (Math.floor(random() * 7)) {
    case 0: return Array.from({ length }, () => Math.floor(random() * 100));
    case 1: return Array.from({ length }, () => number());
    case 2: { const a = Array.from({ length }, () => value(depth + 1)); if (length > 2) delete a[1]; return a; }
    case 3: return Object.freeze(Array.from({ length }, () => value(depth + 1)));
    case 4: { const a = [1, 2, 3]; Object.defineProperty(a, 1, { get: () => ((ran = true), 0), enumerable: true }); return a; }
    default: return Array.from({ length }, () => value(depth + 1));
  }
}
class Point { constructor() { this.x = 1; this.y = 2; } }
function value(depth = 0) {
  const r = random();
  if (depth > 4) return number();
  if (r < 0.25) return number();
  if (r < 0.4) return string();
  if (r < 0.5) return pick([true, false, null, undefined]);
  if (r < 0.72) return record(depth);
  if (r < 0.85) return array(depth);
  switch (Math.floor(random() * 8)) {
    case 0: return proxy();
    case 1: return getterAt(record(depth), "id");
    case 2: { const o = record(depth); o.zz = 1; delete o.zz; return o; }
    case 3: return Object.freeze(record(depth));
    case 4: return new Point();
    case 5: return 10n ** BigInt(Math.floor(random() * 30));
    case 6: return Symbol("s");
    default: return () => 1;
  }
}
const limitsList = [{ depth: 3, chars: 96 }, { depth: 3, chars: 96 }, { depth: 0, chars: 96 }, { depth: 1, chars: 20 }, { depth: 2, chars: 8 }, { depth: 5, chars: 40 }, { depth: 16, chars: 4096 }, { depth: 3, chars: 11 }, { depth: 4, chars: 200 }];
const decode = (bytes) => Buffer.from(bytes).toString("latin1");
function compare(label, value, length, limits) {
  const slot = Math.floor(random() * 2);
  const nativeLength = walk.writeNativePreview(value, length, slot, limits);
  const nativeBytes = nativeLength > 0 ? texts[slot].slice(0, nativeLength) : undefined;
  const jsLength = length >= 0 ? walk.writeArgumentsPreview(value, length, types, limits, room, false) : walk.writePreview(value, types, limits, room, false);
  const jsBytes = room.slice(0, jsLength);
  report.compared++;
  if (nativeBytes !== undefined) {
    report.native++;
    report.byLabel[label] = (report.byLabel[label] ?? 0) + 1;
    const text = Buffer.from(nativeBytes).toString("utf8");
    if (text.endsWith("\\u2026")) report.nativeCut++;
    if (text.includes("\\u2026]") || text.includes("\\u2026}") || text.includes("[\\u2026") || text.includes("{\\u2026")) report.nativeMarks++;
    if (/\\d\\.\\d|e[+-]/.test(text)) report.nativeFractions++;
    if (Buffer.compare(Buffer.from(nativeBytes), Buffer.from(jsBytes)) !== 0 && report.mismatches.length < 20) {
      report.mismatches.push({ label, limits, length, native: decode(nativeBytes), js: decode(jsBytes) });
    }
  }
  const list = length >= 0 ? Array.from({ length }, (_, i) => value[i]) : value;
  const reference = walk.referencePreview(list, types, limits);
  if (Buffer.compare(Buffer.from(jsBytes), Buffer.from(reference, "utf8")) !== 0 && report.referenceMismatches.length < 20) report.referenceMismatches.push({ label, reference, js: decode(jsBytes) });
}
function args() { return arguments; }
// The workload's shapes (src/bench/workloads/functions.cjs), first: fast() learns their maps.
const items = Array.from({ length: 8 }, (_, i) => ({ unit: 1.5 + i, discount: i / 2 }));
const state = { items, total: 0 };
const workloadLimits = { depth: 3, chars: 96 };
for (let i = 0; i < 3000; i++) {
  const item = items[i & 7];
  const net = Math.round((item.unit * ((i % 13) + 1) - ((i % 13) + 1 > 10 ? item.discount : 0)) * 100) / 100;
  state.total += net + Math.round(net * 0.2 * 100) / 100;
  compare("step", args(state, i), 2, workloadLimits);
  compare("step's result", state, -1, workloadLimits);
  compare("price", args(item, (i % 13) + 1), 2, workloadLimits);
  compare("tax", args(net, 0.2), 2, workloadLimits);
  compare("round", args(net * 1.01), 1, workloadLimits);
  compare("round's result", net, -1, workloadLimits);
}
// Random values, each several times (its maps learnt by the first walks).
for (let i = 0; i < rounds; i++) {
  const limits = pick(limitsList);
  const values = [value(), value()];
  for (let again = 0; again < 3; again++) {
    compare("value", values[0], -1, limits);
    compare("one argument", args(values[0]), 1, limits);
    compare("two arguments", args(values[0], values[1]), 2, limits);
    compare("no argument", args(), 0, limits);
  }
  // A known map's key turned into an accessor, a record of it given elements, made a dictionary.
  if (values[0] !== null && typeof values[0] === "object" && !types.isProxy(values[0]) && !Array.isArray(values[0]) && !Object.isFrozen(values[0])) {
    const keys = Object.keys(values[0]);
    if (keys.length > 0) {
      const changed = pick([0, 1, 2]);
      if (changed === 0) getterAt(values[0], keys[0]);
      else if (changed === 1) values[0][3] = "element";
      else delete values[0][keys[0]];
      compare("changed after learning", values[0], -1, limits);
      compare("changed after learning, an argument", args(values[0], 1), 2, limits);
    }
  }
}
// A key the prototype lists (for-in) over a known record: skipped, as fast() skips it.
Object.defineProperty(Object.prototype, "extra", { value: 1, enumerable: true, configurable: true, writable: true });
try {
  for (let i = 0; i < 10; i++) compare("a known item, the prototype listing a key", args(items[i & 7], 1), 2, workloadLimits);
} finally {
  delete Object.prototype.extra;
}
report.ran = ran;
console.log(JSON.stringify(report));
`;

function bundle(): Promise<string> {
  return bundleForNode(
    dir,
    `export { useMapProofs, writePreview, writeArgumentsPreview, writeNativePreview } from ${JSON.stringify(join(root, "src/agent/shared/preview.ts"))};
export { mapProofsOf } from ${JSON.stringify(join(root, "src/agent/shared/sink.ts"))};
export { preview as referencePreview } from ${JSON.stringify(join(root, "spec/preview-reference.ts"))};
`,
  );
}

test.each(nodes)("%s: previewNative writes exactly fast()'s bytes, and nothing of the program runs", async (_name, node) => {
  const walkPath = await bundle();
  const script = join(dir, "fixture.cjs");
  writeFileSync(script, fixture);
  const run = spawnSync(node!, [script, walkPath, addonPath, process.env.SCOPE_PREVIEW_NATIVE_ROUNDS ?? "20000"], { encoding: "utf8", maxBuffer: 1 << 26 });
  expect(run.stderr).toBe("");
  expect(run.status, run.stderr).toBe(0);
  const report = JSON.parse(run.stdout);
  expect(report.mismatches).toEqual([]);
  expect(report.referenceMismatches).toEqual([]);
  expect(report.ran).toBe(false);
  // The workload's shapes go native once their maps are learnt (all but the first walks).
  for (const label of ["step", "step's result", "price", "tax", "round", "round's result"]) expect(report.byLabel[label]).toBeGreaterThan(2900);
  // Random values: native for many, the cut, the limits' marks and fractions among them.
  expect(report.native).toBeGreaterThan(report.compared / 5);
  expect(report.nativeCut).toBeGreaterThan(1000);
  expect(report.nativeMarks).toBeGreaterThan(500);
  expect(report.nativeFractions).toBeGreaterThan(1000);
}, 300_000);

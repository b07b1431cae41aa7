/**
 * The shape writers' map proofs (src/agent/shared/preview.ts "Map proofs", zig/napi.zig
 * "Map proofs") under each Node at hand (20, and 22 and 24 from scripts/node-install.sh):
 * scope.node's mapHeld is true only for an object whose map a writer proved and which has
 * no elements; the writer's plain reads then write byte for byte what the reference walk
 * writes, and no getter or Proxy trap ever runs, whatever the records turn into (a key
 * redefined as a getter, elements, a dictionary, a frozen record, another prototype, a
 * Proxy, the writers forgotten and a new key list in the same slot); and the same for the
 * general walk's fast() (function previews, nested records), whose known maps are read plainly
 * for the keys for-in lists first.
 */
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { bundleForNode, installedNodes, testAddonPath as addonPath, WALK_FIXTURE_PRELUDE } from "./harness";
import { scratchDirs } from "./scratch";

const root = join(import.meta.dir, "..");
const dir = scratchDirs("scope-map-proof-")();

const nodes = installedNodes;

const fixture = `
${WALK_FIXTURE_PRELUDE}
const api = addon.mapApi();
const report = { version: process.version, api: typeof api?.mapHeld === "function" && typeof api?.mapProve === "function", mismatches: [], ran: false };
let ran = false;
// The layout the native check reads, on its own: held only after a proof, only for that map without elements.
const make = (i) => ({ sw: i, seed: i * 7, text: "abc", on: true });
const first = make(1);
report.beforeProof = api.mapHeld(first, 0);
report.proved = api.mapProve(first, 0);
report.heldSame = api.mapHeld(make(2), 0);
report.heldOtherSlot = api.mapHeld(make(2), 1);
const withElement = make(3); withElement[0] = 1;
report.heldWithElement = api.mapHeld(withElement, 0);
const middle = { sw: 1, x: 0, seed: 2, text: "abc", on: true }; delete middle.x;
report.dictionaryProved = api.mapProve(middle, 1);
report.released = api.mapProve(undefined, 0) === false && api.mapHeld(make(4), 0) === false;
// As the agent asks for them (sink.ts mapProofsOf: not where V8 compresses pointers). With
// "commits", as the Node agent's Recorder sends (recorder.ts eventWithPreview): into the addon's
// scratch, commitHeld first (previewCommit: the preview written natively, zeros after it;
// nothing is committed, the addon is not attached), the writers after.
const commits = process.argv[4] === "commits";
walk.useMapProofs(() => walk.mapProofsOf(addon), commits);
const scratch = addon.scratch();
const target = commits ? new Uint8Array(scratch, 64) : new Uint8Array(walk.SCRATCH_PREVIEW_BYTES);
const utf8 = (text) => new Uint8Array(Buffer.from(text, "utf8"));
report.heldCommits = 0;
report.heldBy = {};
function sendOf(value, label) {
  let length;
  let size;
  const held = walk.previewCommit(value, 5, 0, 1, 2, 3, 7);
  if (held >= 0) {
    report.heldCommits++;
    report.heldBy[label] = (report.heldBy[label] ?? 0) + 1;
    // commitHeld leaves the scratch's fields alone: its text (printable ASCII) ends where the
    // zeros it writes after it start, and its size is the length plus one (a record's rule).
    length = target.indexOf(0);
    size = length + 1;
  } else {
    length = walk.previewWrite(target, value, types);
    size = walk.previewSize();
  }
  const bytes = target.slice(0, length);
  const reference = walk.referencePreview(value, types);
  if (Buffer.compare(Buffer.from(bytes), Buffer.from(utf8(reference))) !== 0 || size !== walk.referenceSize()) {
    report.mismatches.push({ label, got: Buffer.from(bytes).toString("utf8"), want: reference });
  }
}
function getterAt(value, key) {
  Object.defineProperty(value, key, { get: () => ((ran = true), 2), enumerable: true, configurable: true });
  return value;
}
// Enough sends that the writer is compiled, its map proved, and the send optimized (mapHeld's fast body).
for (let i = 0; i < 30000; i++) sendOf(make(i), "warm");
report.directAfterWarm = walk.shapeDirectWrites();
const variants = [
  ["integers", make(5)],
  ["fractions", { sw: 1.5, seed: -2.75, text: "x", on: null }],
  ["strings to escape", { sw: 1, seed: 2, text: 'quote " in', on: "é" }],
  ["long", { sw: 1, seed: 2, text: "y".repeat(200), on: true }],
  ["nested", { sw: 1, seed: 2, text: { nested: 1 }, on: [1] }],
  ["bigint and symbol", { sw: 1n, seed: Symbol("s"), text: () => 1, on: undefined }],
  ["a getter on a key", getterAt(make(6), "seed")],
  ["a getter, then a data value again", (() => { const o = getterAt(make(7), "text"); Object.defineProperty(o, "text", { value: "back", enumerable: true, writable: true, configurable: true }); return o; })()],
  ["an element", (() => { const o = make(8); o[0] = "e"; return o; })()],
  ["an element deleted", (() => { const o = make(9); o[3] = "e"; delete o[3]; return o; })()],
  ["a dictionary of the same keys", (() => { const o = { sw: 1, x: 0, seed: 2, text: "d", on: true }; delete o.x; return o; })()],
  ["a dictionary with a getter", (() => { const o = { sw: 1, x: 0, seed: 2, text: "d", on: true }; delete o.x; return getterAt(o, "on"); })()],
  ["frozen", Object.freeze(make(10))],
  ["a key non-enumerable", (() => { const o = make(11); Object.defineProperty(o, "text", { enumerable: false }); return o; })()],
  ["null prototype", Object.assign(Object.create(null), make(12))],
  ["a getter on the prototype, the key own", Object.setPrototypeOf(make(13), getterAt({}, "seed"))],
  ["a Proxy", new Proxy(make(14), { ownKeys: () => ((ran = true), []), get: () => ((ran = true), 1), getOwnPropertyDescriptor: () => ((ran = true), undefined), getPrototypeOf: () => ((ran = true), null) })],
  ["a class instance", new (class { sw = 1; seed = 2; text = "c"; on = true; })()],
  ["fewer keys", { sw: 1, seed: 2, text: "x" }],
  ["more keys", { sw: 1, seed: 2, text: "x", on: true, more: 1 }],
  ["another order", { seed: 2, sw: 1, text: "x", on: true }],
];
for (let round = 0; round < 3; round++) {
  for (const [label, value] of variants) sendOf(value, label);
  for (let i = 0; i < 2000; i++) sendOf(make(i), "again");
}
report.heldAfterVariants = report.heldCommits;
// Values of the same keys that commitHeld writes or gives back (the writers then decide), each
// sent often enough that its record's map is held: numbers past a Smi, at the digit writer's
// bounds and not integers, strings at the 96-character cut, needing escapes, not one-byte, not
// sequential (a cons string, a slice), and every primitive.
const wide = "w".repeat(60);
const valueVariants = [
  ["past a Smi", (i) => ({ sw: 4294967290 - 7919 * i, seed: -2147483649 - i, text: "n" + (i % 10), on: 2 ** 31 + i })],
  ["-0 and bounds", (i) => ({ sw: i % 2 ? -0 : 0, seed: 999999999999999 - i, text: "", on: -999999999999999 + i })],
  ["1e15 and past", () => ({ sw: 1e15, seed: -1e15, text: "b", on: 1e21 })],
  ["not integers", () => ({ sw: 0.5, seed: NaN, text: "f", on: Infinity })],
  ["edge characters", (i) => ({ sw: i, seed: -i, text: " ~!#$%&'()*+,-./:;<=>?@[]^_\`{|}".slice(i % 8), on: i % 2 === 0 })],
  ["a DEL, a tab", () => ({ sw: 1, seed: 2, text: "a\x7fb", on: "c\td" })],
  ["a quote, a backslash", () => ({ sw: 1, seed: 2, text: 'a"b', on: "c\\\\d" })],
  ["two-byte", () => ({ sw: 1, seed: 2, text: "\u20ac", on: "x" })],
  ["a cons string", () => ({ sw: 1, seed: 2, text: wide + String(Math.random()).slice(0, 4), on: true })],
  ["a sliced string", () => ({ sw: 1, seed: 2, text: (wide + "0123456789".repeat(3) + Math.random()).slice(2, 40), on: true })],
  ["exactly the cut", () => ({ sw: 1, seed: 2, text: "c".repeat(96 - '{"sw":1,"seed":2,"text":"","on":true}'.length), on: true })],
  ["one past the cut", () => ({ sw: 1, seed: 2, text: "c".repeat(97 - '{"sw":1,"seed":2,"text":"","on":true}'.length), on: true })],
  ["null and undefined", (i) => ({ sw: i % 3 ? null : undefined, seed: i % 2 ? undefined : null, text: "u", on: null })],
  ["objects", () => ({ sw: 1, seed: 2, text: {}, on: [] })],
];
for (let round = 0; round < 3; round++) {
  for (const [label, make] of valueVariants) for (let i = 0; i < 200; i++) sendOf(make(i), label);
  for (let i = 0; i < 2000; i++) sendOf(make(i), "again after values");
}
// A key the prototype now lists (own in some records, not in others).
Object.defineProperty(Object.prototype, "on", { value: 1, enumerable: true, configurable: true, writable: true });
try {
  sendOf({ sw: 1, seed: 2, text: "x" }, "prototype key, not own");
  sendOf(make(15), "prototype key, own too");
} finally {
  delete Object.prototype.on;
}
// The writers forgotten: a new key list takes slot 0, and the old records must not be read by its writer.
// The new writer is compiled at its key list's fourth send, before it has written (and proved) anything.
walk.resetShapeWriters();
for (let i = 0; i < 4; i++) sendOf({ a: i, b: "b" }, "new shape");
sendOf(make(16), "old shape right after the new writer");
for (let i = 0; i < 2000; i++) sendOf({ a: i, b: "b" }, "new shape");
for (let i = 0; i < 2000; i++) sendOf(make(i), "old shape after reset");
report.directAtEnd = walk.shapeDirectWrites();
report.heldAtEnd = report.heldCommits;
// fast()'s known maps: function previews (the cut, no size) and nested records of a message.
const limits = { depth: 3, chars: 96 };
const room = new Uint8Array(3 * limits.chars + 8);
function previewOf(value, label) {
  const length = walk.writePreview(value, types, limits, room, false);
  const reference = walk.referencePreview(value, types, limits);
  const got = Buffer.from(room.slice(0, length)).toString("utf8");
  if (got !== reference) report.mismatches.push({ label, got, want: reference });
}
const items = Array.from({ length: 8 }, (_, i) => ({ unit: 1.5 + i, discount: i / 2 }));
const state = { items, total: 0.5 };
for (let i = 0; i < 20000; i++) {
  previewOf([state, i], "arguments");
  previewOf(items[i & 7], "an item");
  sendOf({ list: [items[i & 7]], n: i }, "nested");
}
report.knownItem = api.mapKnown(items[0]);
report.knownState = api.mapKnown(state);
report.knownWithElement = api.mapKnown(Object.assign(Object.assign({}, items[1]), { 0: 1 }));
const itemVariants = [
  ["an item with a getter", getterAt({ unit: 1, discount: 2 }, "discount")],
  ["an item with an element", Object.assign({ unit: 1, discount: 2 }, { 5: "e" })],
  ["an item, a dictionary", (() => { const o = { unit: 1, x: 0, discount: 2 }; delete o.x; return o; })()],
  ["an item, a dictionary with a getter", (() => { const o = { unit: 1, x: 0, discount: 2 }; delete o.x; return getterAt(o, "unit"); })()],
  ["an item frozen", Object.freeze({ unit: 1, discount: 2 })],
  ["an item with more", { unit: 1, discount: 2, more: "m" }],
  ["an item, a key non-enumerable", (() => { const o = { unit: 1, discount: 2 }; Object.defineProperty(o, "unit", { enumerable: false }); return o; })()],
  ["an item in a Proxy", new Proxy({ unit: 1, discount: 2 }, { ownKeys: () => ((ran = true), []), get: () => ((ran = true), 1), getOwnPropertyDescriptor: () => ((ran = true), undefined), getPrototypeOf: () => ((ran = true), null) })],
  ["an item over a getter prototype", Object.setPrototypeOf({ unit: 1, discount: 2 }, getterAt({}, "extra"))],
  ["a secret", { unit: 1, password: "hunter2" }],
];
for (let round = 0; round < 3; round++) {
  for (const [label, value] of itemVariants) {
    previewOf([value, 1], label);
    previewOf({ inner: value }, label + ", nested");
    sendOf({ list: [value], n: 1 }, label + ", sent");
  }
  for (let i = 0; i < 2000; i++) previewOf([state, i], "arguments again");
}
// Arrays: packed ones read plainly (mapPacked), every other kind element by element.
report.packed = [[1, 2], [1.5, 2], ["a", {}]].map((array) => api.mapPacked(array));
const accessorArray = [1, 2, 3];
Object.defineProperty(accessorArray, 1, { get: () => ((ran = true), 0), enumerable: true });
const setterArray = [1, 2, 3];
Object.defineProperty(setterArray, 2, { set: () => void (ran = true), enumerable: true });
const holeOverProxy = Object.setPrototypeOf([1, , 3], new Proxy([], { get: () => ((ran = true), 9), getOwnPropertyDescriptor: () => ((ran = true), undefined), has: () => ((ran = true), false) })); // eslint-disable-line no-sparse-arrays
const holeOverGetter = Object.setPrototypeOf([1, , 3], getterAt([], "1")); // eslint-disable-line no-sparse-arrays
report.notPacked = [[1, , 2], accessorArray, setterArray, holeOverProxy, Object.freeze([1, 2]), Object.seal([1, 2]), new Array(3)].map((array) => api.mapPacked(array)); // eslint-disable-line no-sparse-arrays
const arrayVariants = [
  ["packed integers", [1, 2, 3]],
  ["packed doubles", [1.5, -2.25, 3]],
  ["packed records", [items[0], items[1], { unit: 1, discount: 2 }]],
  ["packed, a Proxy element", [1, new Proxy({}, { ownKeys: () => ((ran = true), []) })]],
  ["holey", [1, , 3]], // eslint-disable-line no-sparse-arrays
  ["an accessor element", accessorArray],
  ["a setter element", setterArray],
  ["a hole over a Proxy prototype", holeOverProxy],
  ["a hole over a getter prototype", holeOverGetter],
  ["frozen", Object.freeze([1, 2, 3])],
  ["long", Array.from({ length: 80 }, (_, i) => i)],
];
for (let round = 0; round < 3; round++) {
  for (const [label, value] of arrayVariants) {
    previewOf([value, 1], label);
    previewOf({ inner: value }, label + ", nested");
    sendOf({ list: value }, label + ", sent");
  }
  for (let i = 0; i < 2000; i++) previewOf([items, i], "items again");
}
Object.defineProperty(Object.prototype, "extra", { value: 1, enumerable: true, configurable: true, writable: true });
try {
  previewOf([items[2], 1], "a known item, the prototype listing a key");
  sendOf({ list: [items[3]], n: 1 }, "a known item sent, the prototype listing a key");
} finally {
  delete Object.prototype.extra;
}
report.ran = ran;
console.log(JSON.stringify(report));
`;

function bundle(): Promise<string> {
  return bundleForNode(
    dir,
    `export { previewCommit, previewWrite, previewSize, resetShapeWriters, shapeDirectWrites, useMapProofs, writePreview, SCRATCH_PREVIEW_BYTES } from ${JSON.stringify(join(root, "src/agent/shared/preview.ts"))};
export { mapProofsOf } from ${JSON.stringify(join(root, "src/agent/shared/sink.ts"))};
export { preview as referencePreview, previewSize as referenceSize } from ${JSON.stringify(join(root, "spec/preview-reference.ts"))};
`,
  );
}

// "writers": mapHeld and the writers' plain reads; "commits": commitHeld first, as the agent sends.
const runs = nodes.flatMap(([name, path]) => [
  [name, "writers", path],
  [name, "commits", path],
]);

test.each(runs)("%s, %s: held maps are read plainly, byte for byte the reference walk's, and nothing of the program runs", async (_name, mode, node) => {
  const walkPath = await bundle();
  const script = join(dir, "fixture.cjs");
  writeFileSync(script, fixture);
  const run = spawnSync(node!, [script, walkPath, addonPath, mode!], { encoding: "utf8" });
  expect(run.stderr).toBe("");
  expect(run.status, run.stderr).toBe(0);
  const report = JSON.parse(run.stdout);
  expect(report.api).toBe(true);
  expect(report.beforeProof).toBe(false);
  expect(report.proved).toBe(true);
  expect(report.heldSame).toBe(true);
  expect(report.heldOtherSlot).toBe(false);
  expect(report.heldWithElement).toBe(false);
  expect(report.dictionaryProved).toBe(false);
  expect(report.released).toBe(true);
  expect(report.mismatches).toEqual([]);
  expect(report.ran).toBe(false);
  // Most of the warm-up's 30,000 sends went the direct way (the first few are walked and proved).
  expect(report.directAfterWarm).toBeGreaterThan(29_000);
  expect(report.directAtEnd).toBeGreaterThan(report.directAfterWarm + 4000);
  if (mode === "commits") {
    // commitHeld wrote most records of a held map (the scratch's bytes checked above like the rest).
    expect(report.heldAfterVariants).toBeGreaterThan(29_000);
    expect(report.heldAtEnd).toBeGreaterThan(report.heldAfterVariants + 4000);
    // ... its numbers past a Smi (HeapNumbers), -0, the digit bounds, strings, booleans, null and undefined too.
    for (const label of ["past a Smi", "-0 and bounds", "edge characters", "null and undefined"]) expect(report.heldBy[label]).toBeGreaterThan(50);
  } else expect(report.heldAtEnd).toBe(0);
  // fast() learnt the records' maps: {unit, discount} and {items, total}, two own data properties each.
  expect(report.knownItem).toBe(3);
  expect(report.knownState).toBe(3);
  expect(report.knownWithElement).toBe(0);
  expect(report.packed).toEqual([true, true, true]);
  expect(report.notPacked).toEqual([false, false, false, false, false, false, false]);
}, 120_000);

/**
 * The preview walk (src/agent/shared/preview.ts, written as UTF-8 bytes) against the
 * string walk it replaced (spec/preview-reference.ts): for every kind of value, every cut
 * and every limit, the bytes are the reference string's UTF-8 (a surrogate pair the cut
 * splits leaves its first half, written as U+FFFD, as the native conversion writes it),
 * preview() is that text, and the size estimates are equal.
 */
import { describe as group, expect, test } from "bun:test";
import { types } from "node:util";
import { preview, previewBytes, previewSize, previewWentFast, previewWrite, resetShapeWriters, SCRATCH_PREVIEW_BYTES, shapeWriterCount, writeArgumentsPreview, writePreview } from "../src/agent/shared/preview";
import { preview as referencePreview, previewSize as referenceSize } from "./preview-reference";

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, "utf8"));
const written = (length: number) => previewBytes().slice(0, length);

function expectSame(value: unknown, limits = { depth: 3, chars: 96 }): void {
  const length = writePreview(value, types, limits);
  const bytes = written(length);
  const size = previewSize();
  const reference = referencePreview(value, types, limits);
  expect(bytes).toEqual(utf8(reference));
  expect(size).toBe(referenceSize());
  expect(preview(value, types, limits)).toBe(reference);
  // Function tracing's walk: into its native buffer, ending where the text is full (no size).
  const room = new Uint8Array(3 * limits.chars + 8);
  expect(room.slice(0, writePreview(value, types, limits, room, false))).toEqual(utf8(reference));
  if (limits.depth === 3 && limits.chars === 96) {
    // A message's send: the same walk into a target of the smallest size it may be given.
    const target = new Uint8Array(SCRATCH_PREVIEW_BYTES);
    const targetLength = previewWrite(target, value, types);
    expect(target.slice(0, targetLength)).toEqual(utf8(reference));
    expect(previewSize()).toBe(referenceSize());
  }
}

let ran = false;
function getterShape(): object {
  const value = { sw: 1, seed: 2, text: "x", on: true };
  Object.defineProperty(value, "seed", { get: () => ((ran = true), 2), enumerable: true });
  return value;
}
const getter = {
  get g() {
    ran = true;
    return 1;
  },
  v: 2,
};
const reprototyped = Object.setPrototypeOf(new Map([[1, 2]]), Object.prototype);
const nullProto = Object.assign(Object.create(null), { a: 1, "b c": "d\"e" });
const holes = [1, , 3]; // eslint-disable-line no-sparse-arrays
const arrayGetter = [1, 2];
Object.defineProperty(arrayGetter, 1, { get: () => ((ran = true), 0), enumerable: true });
// Elements that are accessors without a getter: only a setter, or neither (reads as undefined).
const arrayAccessors = [1, 2, 3, undefined];
Object.defineProperty(arrayAccessors, 0, { set: () => void (ran = true), enumerable: true });
Object.defineProperty(arrayAccessors, 2, { get: undefined, set: undefined, enumerable: true });
// A hole over an array whose prototype is a Proxy: the walk never asks the prototype.
const holeOverProxy = Object.setPrototypeOf([1, , 3], new Proxy([], { get: () => ((ran = true), 9), getOwnPropertyDescriptor: () => ((ran = true), undefined) })); // eslint-disable-line no-sparse-arrays
const values: unknown[] = [
  undefined, null, true, false, 0, -0, 1, -1, 42, -42, 9, 10, 99, 100, 1e9, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 4294967291, 1e15 - 1, 1e15, -(1e15 - 1), -1e15, 2 ** 53 - 1, 2 ** 53, 1.5, 0.1, -2.75, 1e21, 1e-7, NaN, Infinity, -Infinity, 10n, -3n,
  "", "plain", 'quote " and \\ backslash', "tab\tnew\nline", "é accent", "…ellipsis", "日本語", "emoji 😀 pair", "lone \ud800 high",
  "x".repeat(95), "x".repeat(96), "x".repeat(97), "é".repeat(200),
  Symbol("s"), () => 1, function named() {},
  [], [1, 2, 3], holes, arrayGetter, arrayAccessors, holeOverProxy, [[[[[1]]]]], Array.from({ length: 80 }, (_, i) => i),
  {}, { a: 1 }, { unit: 1.5, discount: 0 }, { nested: { one: { two: { three: 3 } } } }, getter, nullProto,
  { password: "hunter2", token: 5, apiKey: { deep: 1 }, session: undefined }, { "k\u00e9y": 1, "with\"quote": 2 },
  Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`key${i}`, i])),
  new Map([[1, 2]]), new Set([1]), new Date(0), new ArrayBuffer(8), new SharedArrayBuffer(4), new Uint8Array(3), new DataView(new ArrayBuffer(2)),
  new Proxy({}, { ownKeys: () => ((ran = true), []) }), reprototyped, new (class Point { x = 1; y = 2 })(),
  { id: 123456, seed: -7, rounds: 200, big: 2147483647, small: -2147483648, zero: -0, hash: 4294967291, near: 999999999999999, far: 1e15, n: [0, 1, 22, 333, 4444, 55555, 666666, 7777777] },
  { list: [1, "two", { three: [3] }], when: new Date(0), map: new Map(), text: "y".repeat(300) },
  { deep: { "日本": { "語": "…" } } },
];

group("the preview walk writes the reference walk's text as UTF-8", () => {
  test("every kind of value at the default limits, without running program code", () => {
    ran = false;
    for (const value of values) expectSame(value);
    expect(ran).toBe(false);
  });

  test("a program's enumerable Object.prototype property is not a record's own, and a Proxy in a prototype chain is never asked", () => {
    // Plain records are read by for-in, which lists prototype keys too; other objects by Object.keys.
    const proto = Object.prototype as Record<string, unknown>;
    Object.defineProperty(proto, "inherited", { value: 1, enumerable: true, configurable: true, writable: true });
    try {
      expectSame({ id: 1, seed: 2 });
      expectSame({ inherited: "own", after: 3 });
      expectSame(Object.assign(Object.create(null), { a: 1 }));
    } finally {
      delete proto.inherited;
    }
    let trapped = false;
    const traps = new Proxy({}, { ownKeys: () => ((trapped = true), []), has: () => ((trapped = true), false), getOwnPropertyDescriptor: () => ((trapped = true), undefined), getPrototypeOf: () => ((trapped = true), null) });
    class Shape {
      side = 2;
    }
    Object.setPrototypeOf(Shape.prototype, traps);
    expectSame(new Shape());
    expectSame({ shape: new Shape(), list: [new Shape()] });
    expect(trapped).toBe(false);
  });

  test("messages of one shape again and again, and other shapes' keys at the same places (the walk's key slots)", () => {
    const long = "k".repeat(70);
    const shapes = [
      { id: 1, seed: 2, rounds: 200 },
      { id: 3, result: 4294967291 },
      { id: 5, password: "hunter2" },
      { id: 6, pass: "word", nested: { password: 1, seed: 2 } },
      { [long]: 1, id: 2 },
      { [`${long}x`]: 1, id: 2 },
      { id: 7, "k\u00e9y": 8 },
      [{ id: 1, seed: 2 }, { seed: 3, id: 4 }],
    ];
    for (let round = 0; round < 3; round++) for (const value of shapes) expectSame(value);
    for (const value of [...shapes].reverse()) expectSame(value);
  });

  test("shape writers: a key list walked again and again is written by a compiled writer, byte for byte fast()'s, and every variant it does not write falls back", () => {
    const sendOf = (value: unknown) => {
      const target = new Uint8Array(SCRATCH_PREVIEW_BYTES);
      const length = previewWrite(target, value, types);
      expect(target.slice(0, length)).toEqual(utf8(referencePreview(value, types)));
      expect(previewSize()).toBe((referencePreview(value, types), referenceSize()));
    };
    resetShapeWriters();
    const before = shapeWriterCount();
    // Two shapes alternating (the candidates count each), each walked enough to be compiled.
    for (let i = 0; i < 8; i++) {
      sendOf({ sw: i, seed: 2 ** 40 + i, text: "abc", on: true });
      sendOf({ sw: -i, other: null, off: false });
    }
    expect(shapeWriterCount()).toBe(before + 2);
    ran = false;
    const variants: unknown[] = [
      { sw: 1, seed: 2, text: "x", on: false },
      { sw: 0, seed: 1e15 - 1, text: "", on: null },
      { sw: -1, seed: 2, text: "x", on: true },
      { sw: 1.5, seed: 2, text: "x", on: true },
      { sw: 1e15, seed: 2, text: "x", on: true },
      { sw: NaN, seed: Infinity, text: "x", on: true },
      { sw: -0, seed: -Infinity, text: "x", on: undefined },
      { sw: 0.1, seed: -2.75, text: "x", on: true },
      { sw: 1e21, seed: 1e-7, text: "x", on: true },
      { sw: -(1e15 - 1), seed: -1e15, text: "x", on: true },
      { sw: 2 ** 53, seed: 4294967291.5, text: "x", on: true },
      { sw: 1 / 3, seed: -(2 ** 31), text: "y".repeat(40), on: 123456.789 },
      { sw: 1, seed: 2, text: "quote \" in", on: true },
      { sw: 1, seed: 2, text: "é", on: true },
      { sw: 1, seed: 2, text: "tab\t", on: true },
      { sw: 1, seed: 2, text: undefined, on: true },
      { sw: 1, seed: 2, text: 3n, on: true },
      { sw: 1, seed: 2, text: Symbol("s"), on: () => 1 },
      { sw: 1, seed: 2, text: { nested: 1 }, on: [1] },
      { sw: 1, seed: 2, on: true, text: "x" },
      { sw: 1, seed: 2, text: "x" },
      { sw: 1, seed: 2, text: "x", on: true, more: 1 },
      { seed: 2, sw: 1, text: "x", on: true },
      Object.assign(Object.create(null), { sw: 1, seed: 2, text: "x", on: true }),
      getterShape(),
      new (class {
        sw = 1;
        seed = 2;
        text = "x";
        on = true;
      })(),
      new Proxy({ sw: 1, seed: 2, text: "x", on: true }, { ownKeys: () => ((ran = true), []) }),
      [1, 2],
    ];
    // The text near the cut: 94, 95, 96, 97 and more units.
    const base = '{"sw":1,"seed":2,"text":"","on":true}'.length;
    for (const length of [96 - base - 2, 96 - base - 1, 96 - base, 96 - base + 1, 200]) variants.push({ sw: 1, seed: 2, text: "y".repeat(length), on: true });
    for (let round = 0; round < 3; round++) for (const value of variants) sendOf(value);
    expect(ran).toBe(false);
    // A key the prototype now lists, one the record lacks: for-in lists it, fast() skips it.
    const proto = Object.prototype as Record<string, unknown>;
    Object.defineProperty(proto, "on", { value: 1, enumerable: true, configurable: true, writable: true });
    try {
      sendOf({ sw: 1, seed: 2, text: "x" });
      sendOf({ sw: 1, seed: 2, text: "x", on: false });
    } finally {
      delete proto.on;
    }
    // A secret key is never compiled (its value is redacted by the walk); its previews stay the walk's.
    for (let i = 0; i < 8; i++) sendOf({ user: i, password: "hunter2" });
    expect(shapeWriterCount()).toBe(before + 2);
    // A shape whose values the writer keeps missing is turned off and its text stays right.
    for (let i = 0; i < 40; i++) sendOf({ sw: i + 0.5, seed: 10n, text: "x", on: true });
    sendOf({ sw: 3, seed: 4, text: "z", on: true });
    // At most 4 writers; records of ever-new key lists (none matching) make the thread give them up.
    for (let i = 0; i < 8; i++) for (const key of ["a", "b", "c"]) sendOf({ [key]: i, n: 1 });
    expect(shapeWriterCount()).toBe(4);
    for (let i = 0; i < 600; i++) sendOf({ [`k${i}`]: i });
    expect(shapeWriterCount()).toBe(0);
    sendOf({ sw: 1, seed: 2, text: "x", on: true });
    resetShapeWriters();
  });

  test("strings that leave the printable fast path part-way, near and far from the cut", () => {
    for (const at of [0, 1, 5, 40, 80, 93, 94, 95]) {
      for (const odd of ["\n", '"', "\\", "é", "😀", "\u007f"]) {
        const text = `${"a".repeat(at)}${odd}tail`;
        expectSame(text);
        expectSame({ k: text, n: 1 });
        expectSame(["x", text]);
      }
    }
  });

  test("every depth and length, cuts at every position", () => {
    for (const depth of [0, 1, 2, 3, 6, 16]) {
      for (const chars of [8, 9, 10, 13, 20, 31, 32, 33, 64, 96, 97, 200, 500, 1023, 4096]) {
        for (const value of values) expectSame(value, { depth, chars });
      }
    }
  });

  test("a cut at every unit of a run of surrogate pairs", () => {
    for (let chars = 8; chars < 30; chars++) {
      for (const value of ["😀".repeat(20), `x${"😀".repeat(20)}`, { k: "😀".repeat(20) }, ["é😀", "😀é", "…😀"]]) expectSame(value, { depth: 3, chars });
    }
  });

  test("random nested values", () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const atoms = ["a", "é", "…", "😀", 1, 2.5, -0, null, undefined, true, 7n, "quote\"", "x".repeat(40)];
    const make = (depth: number): unknown => {
      const r = random();
      if (depth > 4 || r < 0.4) return atoms[Math.floor(random() * atoms.length)];
      const size = Math.floor(random() * 6);
      if (r < 0.7) return Array.from({ length: size }, () => make(depth + 1));
      return Object.fromEntries(Array.from({ length: size }, (_, i) => [["k", "secret", "ké", `n${i}`][Math.floor(random() * 4)]! + i, make(depth + 1)]));
    };
    for (let i = 0; i < 2000; i++) {
      const value = make(0);
      expectSame(value, { depth: 1 + Math.floor(random() * 5), chars: 8 + Math.floor(random() * 120) });
    }
  });

  test("fractions written as digits are String()'s text: short decimals, long ones, near powers of ten, edges of the digit path", () => {
    let seed = 777;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const fractions: number[] = [
      0.1, 0.2, 0.1 + 0.2, 0.3, 1.005, 4.35, 8.675, 0.5, 0.05, 0.000001, 0.0000015, 0.000005, 1e-6, 9.9e-7, 5e-7, 1.000001, 0.999999, 0.9999999,
      999999999.5, 999999999.9, 999999999.999999, 1e9 + 0.5, 123456789.123456, 123456789.1234567, 2 ** 30 + 0.25, 0.1 * 3, 1 / 3, 2 / 3, Math.PI, Math.E,
      1 - 2 ** -53, 1 + 2 ** -52, 99.99, 100.01, 0.07, 17.955, 1234.5678, -0.5, -1234.5678, -999999999.5, Number.MIN_VALUE, Number.EPSILON,
    ];
    for (let i = 0; i < 3000; i++) {
      const k = Math.floor(random() * 8);
      const whole = Math.floor(random() * 10 ** Math.floor(random() * 10));
      const sign = random() < 0.2 ? -1 : 1;
      fractions.push(sign * (whole + Math.floor(random() * 10 ** k) / 10 ** k), sign * random() * 10 ** Math.floor(random() * 12 - 3), (Math.round(random() * 1e4) * 0.2) / 100);
    }
    const room = new Uint8Array(3 * 96 + 8);
    // Each value three times: written, then from emitFraction's cache (by value: a slot another value took meanwhile is written again).
    for (const round of [fractions, fractions.map((_, i) => fractions[(i * 7919) % fractions.length]!), fractions.flatMap((value) => [value, -value, value])]) {
      for (const value of round) {
        const length = writePreview(value, types, { depth: 3, chars: 96 }, room, false);
        expect(new TextDecoder().decode(room.slice(0, length))).toBe(String(value));
        expect(previewSize()).toBe(String(value).length);
      }
    }
    // Inside records and arrays, near and at the cut (where the digit path is not taken).
    for (let i = 0; i < fractions.length; i += 7) {
      const value = fractions[i]!;
      expectSame({ unit: value, discount: -value, list: [value, value / 7] });
      for (const chars of [8, 12, 20, 24, 30]) expectSame([value, value * 3], { depth: 3, chars });
    }
  });

  test("a call's arguments are previewed as the array of them", () => {
    const lists: unknown[][] = [[], [1], [{ unit: 1.5 }, 3], ["x".repeat(200)], values.slice(0, 20), Array.from({ length: 16 }, (_, i) => ({ i }))];
    for (const list of lists) {
      for (const limits of [{ depth: 3, chars: 96 }, { depth: 0, chars: 96 }, { depth: 1, chars: 20 }, { depth: 6, chars: 1000 }]) {
        // `arguments` itself, as the runtime gets it.
        const length = (function (..._: unknown[]) {
          return writeArgumentsPreview(arguments, arguments.length, types, limits);
        })(...list);
        expect(written(length)).toEqual(utf8(referencePreview([...list], types, limits)));
        const room = new Uint8Array(3 * limits.chars + 8);
        const unsized = writeArgumentsPreview(list, list.length, types, limits, room, false);
        expect(room.slice(0, unsized)).toEqual(utf8(referencePreview([...list], types, limits)));
      }
    }
  });

  test("function previews: fast() writes them, cut or not, with the limits' \"…\", byte for byte the reference walk's, and gives up to the general walk on anything else", () => {
    // A function's preview (sized false, into the runtime's text), its value alone and as
    // arguments in place (`arguments`, not an array), each from key places of its own.
    const fastCount = { fast: 0, general: 0 };
    const functionPreview = (value: unknown, limits: { depth: number; chars: number }, slots = 0): boolean => {
      const room = new Uint8Array(3 * limits.chars + 8);
      const reference = utf8(referencePreview(value, types, limits));
      expect(room.slice(0, writePreview(value, types, limits, room, false, slots))).toEqual(reference);
      const valueFast = previewWentFast();
      for (const list of [[value], [value, 7], ["a", value, null]]) {
        const length = (function (..._: unknown[]) {
          return writeArgumentsPreview(arguments, arguments.length, types, limits, room, false, slots + 16);
        })(...list);
        expect(room.slice(0, length)).toEqual(utf8(referencePreview([...list], types, limits)));
      }
      if (valueFast) fastCount.fast++;
      else fastCount.general++;
      return valueFast;
    };
    const defaults = { depth: 3, chars: 96 };
    // functions-full's values: `state` cut in the return, its items past the depth in the arguments.
    const items = Array.from({ length: 8 }, (_, i) => ({ unit: 1.5 + i, discount: i / 2 }));
    const state = { items, total: 12345.670000000002 };
    for (const value of [state, items[3], 12.35, 0.2, 1234567, -5, "short", true, null, undefined, [1, [2, [3, [4]]]]]) {
      expect(functionPreview(value, defaults)).toBe(true);
    }
    // ASCII values at every limit: cuts inside keys, strings, numbers, limits' "…", commas and brackets.
    const ascii: unknown[] = [
      state, items, { a: "x".repeat(200) }, "y".repeat(300), [123456789012345, -98765.4321, 1e21, 2 ** 53, -0, NaN, 0.1 + 0.2],
      Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`key${i}`, i])), Array.from({ length: 80 }, (_, i) => i % 3),
      Array.from({ length: 70 }, () => []), { deep: { deeper: { deepest: { bottom: 1 } } }, after: [[[[1]]]] },
      { long_key_name_that_the_cut_meets: 1, another_long_key_name_here: "v" }, [{}, [], {}, []], { password: "hunter2", n: 1 },
      [Symbol("s"), () => 1, 10n, -3n, true, false, null, undefined], holes, [1, , 3, , 5], // eslint-disable-line no-sparse-arrays
    ];
    for (const value of ascii) {
      for (const depth of [0, 1, 2, 3, 5]) {
        for (let chars = 8; chars <= 130; chars++) expect(functionPreview(value, { depth, chars }, chars * 7)).toBe(true);
      }
    }
    // What fast() does not write (non-ASCII or escaped text before the cut, class instances,
    // binary data, built-ins) goes to the general walk with the same text; getters never run.
    ran = false;
    const general: unknown[] = [
      "é", { k: "tab\t" }, { "k\u00e9y": 1 }, new (class Point { x = 1; y = 2 })(), new Uint8Array(3), new Map([[1, 2]]), new Date(0),
      [1, "…"], { a: 1, b: "quote \" in" }, { deep: { deeper: { deepest: new Map() } } },
    ];
    for (const value of general) expect(functionPreview(value, defaults)).toBe(false);
    // What fast() writes, with the parts the general walk must agree on: getters (shown, never
    // called), Proxies (never asked), secrets, and non-ASCII or escapes only after the cut.
    const proxy = new Proxy({ a: 1 }, { ownKeys: () => ((ran = true), []), get: () => ((ran = true), 1), getOwnPropertyDescriptor: () => ((ran = true), undefined) });
    const written: unknown[] = [
      getter, arrayGetter, arrayAccessors, holeOverProxy, proxy, [proxy, proxy], { p: proxy, q: [proxy] }, { password: "x".repeat(200), token: 1 },
      `${"a".repeat(120)}é`, `${"a".repeat(120)}\n`, { k: "b".repeat(100), after: "é" }, reprototyped,
    ];
    for (const value of written) expect(functionPreview(value, defaults)).toBe(true);
    expect(ran).toBe(false);
    // Random ASCII values and limits; then random values with the non-ASCII atoms too (either path).
    let seed = 4242;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const make = (atoms: unknown[], depth: number): unknown => {
      const r = random();
      if (depth > 4 || r < 0.4) return atoms[Math.floor(random() * atoms.length)];
      const size = Math.floor(random() * 7);
      if (r < 0.7) return Array.from({ length: size }, () => make(atoms, depth + 1));
      return Object.fromEntries(Array.from({ length: size }, (_, i) => [["k", "secret", "name", `n${i}`][Math.floor(random() * 4)]! + i, make(atoms, depth + 1)]));
    };
    const asciiAtoms = ["a", "", 1, 2.5, -0, 123456.789, 1 / 3, null, undefined, true, 7n, "x".repeat(40), getter, proxy, [1, 2]];
    for (let i = 0; i < 3000; i++) {
      const limits = { depth: Math.floor(random() * 5), chars: 8 + Math.floor(random() * 120) };
      expect(functionPreview(make(asciiAtoms, 0), limits, i)).toBe(true);
    }
    const anyAtoms = [...asciiAtoms, "é", "…", "😀", "quote\"", new Date(0), new (class Box { v = 1 })()];
    for (let i = 0; i < 3000; i++) functionPreview(make(anyAtoms, 0), { depth: 1 + Math.floor(random() * 4), chars: 8 + Math.floor(random() * 120) }, i);
    expect(ran).toBe(false);
    expect(fastCount.general).toBeGreaterThan(general.length);
  });
});

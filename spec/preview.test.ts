import { describe as group, expect, test } from "bun:test";
import { types } from "node:util";
import { describe, preview, PREVIEW_MAX_CHARS, writeArgumentsPreview } from "../src/agent/shared/preview";

group("value previews", () => {
  const nested = { a: { b: { c: { d: 1 } } }, list: [1, [2, [3, [4]]]] };

  test("default depth and length bound the text", () => {
    expect(preview(nested, types)).toBe('{"a":{"b":{"c":{…}}},"list":[1,[2,[…]]]}');
    const long = preview({ text: "x".repeat(500) }, types);
    expect(long.length).toBe(PREVIEW_MAX_CHARS);
    expect(long.endsWith("…")).toBe(true);
  });

  test("depth and length are the caller's when given", () => {
    expect(preview(nested, types, { depth: 1 })).toBe('{"a":{…},"list":[…]}');
    expect(preview(nested, types, { depth: 8 })).toBe('{"a":{"b":{"c":{"d":1}}},"list":[1,[2,[3,[4]]]]}');
    const long = describe({ text: "x".repeat(500) }, types, { chars: 300 });
    expect(long.preview.length).toBe(300);
    // The size is the whole value's estimate, whatever the preview's length.
    expect(long.sizeBytes).toBeGreaterThanOrEqual(JSON.stringify({ text: "x".repeat(500) }).length);
    // The next call without limits is back to the defaults.
    expect(preview({ text: "x".repeat(500) }, types).length).toBe(PREVIEW_MAX_CHARS);
  });

  test("never runs program code, redacts secret-looking keys, at any depth", () => {
    let ran = false;
    const tricky = { get g() { ran = true; return 1; }, deep: { token: "abc", p: new Proxy({}, { ownKeys() { ran = true; return []; } }) } };
    expect(preview(tricky, types, { depth: 6, chars: 1000 })).toBe('{"g":[getter],"deep":{"token":"[redacted]","p":[Proxy]}}');
    expect(ran).toBe(false);
  });

  test("built-ins by their kind; one re-prototyped to Object.prototype or null is a record of its own data", () => {
    expect([new Map([[1, 2]]), new Set([1]), new Date(0), new ArrayBuffer(8), Object.create(null), Object.assign(Object.create(null), { a: 1 })].map((value) => preview(value, types))).toEqual([
      "Map(1)",
      "Set(1)",
      "[Date]",
      "[ArrayBuffer 8B]",
      "{}",
      '{"a":1}',
    ]);
    const reprototyped = [Object.setPrototypeOf(new Map([[1, 2]]), Object.prototype), Object.setPrototypeOf(new Date(0), null)];
    expect(reprototyped.map((value) => preview(value, types))).toEqual(["{}", "{}"]);
    class Point { x = 1; }
    expect(preview(new Point(), types)).toBe('{"x":1}');
  });

  test("a function preview reads a long string only as far as its text goes (tsc passes a SourceFile, its text whole)", () => {
    // The note (a newline) sends the walk past fast(); the text is a megabyte. A message's
    // preview counts the whole string for its size; a function preview has no size field.
    const sourceFile = { kind: 312, note: "a\nb", text: "x".repeat(1_000_000) };
    const charCodeAt = String.prototype.charCodeAt;
    let reads = 0;
    String.prototype.charCodeAt = function (this: string, index: number) {
      reads++;
      return charCodeAt.call(this, index);
    };
    let length: number;
    try {
      length = writeArgumentsPreview([sourceFile, 7], 2, types, { depth: 3, chars: PREVIEW_MAX_CHARS }, undefined, false);
    } finally {
      String.prototype.charCodeAt = charCodeAt;
    }
    expect(length).toBe(PREVIEW_MAX_CHARS + 2);
    expect(reads).toBeLessThan(10 * PREVIEW_MAX_CHARS);
  });
});

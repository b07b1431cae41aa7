import { describe as group, expect, test } from "bun:test";
import { types } from "node:util";
import { describe, preview, PREVIEW_MAX_CHARS } from "../src/agent/shared/preview";

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
});

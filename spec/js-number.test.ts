/**
 * zig/js_number.zig (previewNative's numbers) against String(x), under each Node at hand (20,
 * and 22 and 24 from scripts/node-install.sh): millions of doubles of random bits (every
 * exponent, subnormals, NaNs) and of random values in the ranges programs use, and the edges:
 * ±0, powers of ten and their neighbours, x.5 ties, 1e21 and 1e-7 (where String() turns to
 * exponent form) and their neighbours, the smallest and largest doubles.
 */
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { installedNodes, testAddonPath as addonPath } from "./harness";
import { scratchDirs } from "./scratch";

const dir = scratchDirs("scope-js-number-")();
const count = Number(process.env.SCOPE_JS_NUMBER_COUNT ?? 2_000_000);

const nodes = installedNodes;

const fixture = `
const holder = { exports: {} };
process.dlopen(holder, process.argv[2]);
const count = Number(process.argv[3]);
const api = holder.exports.mapApi();
const report = { version: process.version, api: typeof api?.numberTexts === "function", checked: 0, mismatches: [] };
if (report.api) {
  const bits = new Float64Array(1);
  const words = new Uint32Array(bits.buffer);
  const nextUp = (x) => { bits[0] = x; if (x >= 0) { if (++words[0] === 0) words[1]++; } else { if (words[0]-- === 0) words[1]--; } return bits[0]; };
  const nextDown = (x) => -nextUp(-x);
  const edges = [0, -0, NaN, Infinity, -Infinity, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308, 1e21, 1e-7, 1e-6, 0.1, 0.2, 0.3, 0.1 + 0.2, 1 / 3, 2 / 3, 123e-20, 9007199254740992, 9007199254740993, 1e15, 1e16, 4.35, 0.000001234, 1.5e300];
  for (let e = -330; e <= 310; e++) {
    const p = Number("1e" + e);
    edges.push(p, nextUp(p), nextDown(p), 5 * p, 1.5 * p, 0.5 * p, 9.999999999999999 * p, 1.2345678901234567 * p);
  }
  for (const p of [1e21, 1e-7, 1e-6, 1e15, 1e20]) {
    let up = p, down = p;
    for (let i = 0; i < 50; i++) { up = nextUp(up); down = nextDown(down); edges.push(up, down); }
  }
  for (let i = 0; i < 10000; i++) edges.push(i + 0.5, -(i + 0.5), i / 4, i / 8, i / 100, i * 0.1, i / 3);
  const batch = 100000;
  const values = new Float64Array(batch);
  const check = (n) => {
    const got = api.numberTexts(values.subarray(0, n)).split(" ");
    for (let i = 0; i < n; i++) {
      const want = String(values[i]);
      if (got[i] !== want && report.mismatches.length < 20) report.mismatches.push({ bits: Array.from(new Uint32Array(values.buffer, i * 8, 2)), want, got: got[i] });
    }
    report.checked += n;
  };
  for (let i = 0; i < edges.length; i += batch) {
    const n = Math.min(batch, edges.length - i);
    for (let j = 0; j < n; j++) values[j] = edges[i + j];
    check(n);
  }
  const random = new Uint32Array(values.buffer);
  for (let done = 0; done < count; done += batch) {
    const kind = (done / batch) % 4;
    for (let j = 0; j < batch; j++) {
      if (kind === 0) { random[2 * j] = (Math.random() * 2 ** 32) >>> 0; random[2 * j + 1] = (Math.random() * 2 ** 32) >>> 0; }
      else if (kind === 1) values[j] = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 44 - 22);
      else if (kind === 2) values[j] = Math.round(Math.random() * 1e6) / 10 ** Math.floor(Math.random() * 8);
      else values[j] = Math.random() * 2 ** Math.floor(Math.random() * 200 - 100);
    }
    check(batch);
  }
}
console.log(JSON.stringify(report));
`;
const fixturePath = join(dir, "fixture.cjs");
writeFileSync(fixturePath, fixture);

for (const [name, node] of nodes) {
  test(`String(x) by js_number.zig equals V8's (${name})`, () => {
    const run = spawnSync(node!, [fixturePath, addonPath, String(count)], { encoding: "utf8", timeout: 300_000 });
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout.trim().split("\n").pop()!);
    expect(report.api).toBe(true);
    expect(report.checked).toBeGreaterThan(count);
    expect(report.mismatches).toEqual([]);
  }, 600_000);
}

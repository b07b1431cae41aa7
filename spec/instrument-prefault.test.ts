/**
 * A first start's page faults off the main thread (issue 12): scope.node's `prefault` maps a
 * typed array's pages on a libuv thread without changing a byte of them, also while the
 * program writes the same words; and a large source (oxc-raw.ts prefaultParse, cache.ts
 * entryScratch: 1 MiB or more) is instrumented under `scope run --functions` in the main
 * thread and in a worker exactly as a small one: same output as untraced, its calls traced,
 * first start and cached.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";

afterAll(cleanup);

const addonPath = join(import.meta.dir, "..", "zig-out/lib/scope.node");

test("prefault maps every page of the range and keeps every byte, also bytes written meanwhile; refuses what it cannot take", () => {
  const script = `
    const holder = { exports: {} };
    process.dlopen(holder, ${JSON.stringify(addonPath)});
    const { prefault } = holder.exports;
    const size = 64 << 20;
    const sab = new SharedArrayBuffer(size + 8192);
    const view = new Uint8Array(sab, 4096, size);
    const refused = [prefault(new Int32Array(sab, 0, 16), 0, 16), prefault(view, -1, 10), prefault(view, 0, size + 1), prefault(view, 10, 10), prefault({}, 0, 1), prefault(view, 0)];
    const pages = size / 4096;
    // Before: the first word of every fifth page (from the second), and a byte inside others.
    for (let p = 1; p < pages; p += 5) view[p * 4096] = 7;
    for (let p = 3; p < pages; p += 5) view[p * 4096 + 100] = 5;
    // Resident now: the pages written above (2 in 5). The rest (3 in 5) only after the prefault,
    // 2 in 5 of them only through it.
    const rss = process.memoryUsage().rss;
    const queued = prefault(view, 0, size);
    // Meanwhile: the first word of others, which the libuv thread swaps too.
    for (let p = 2; p < pages; p += 5) { view[p * 4096] = 9; view[p * 4096 + 3] = 6; }
    const started = Date.now();
    const check = () => {
      const grown = process.memoryUsage().rss - rss;
      if (grown < size * 0.58 && Date.now() - started < 20000) return setTimeout(check, 20);
      let wrong = 0;
      for (let i = 0; i < size; i++) {
        const p = Math.floor(i / 4096), at = i % 4096;
        const want = at === 0 && p % 5 === 1 ? 7 : at === 100 && p % 5 === 3 ? 5 : at === 0 && p % 5 === 2 ? 9 : at === 3 && p % 5 === 2 ? 6 : 0;
        if (view[i] !== want) wrong++;
      }
      console.log(JSON.stringify({ refused, queued, mapped: grown >= size * 0.58, wrong }));
    };
    check();
  `;
  const run = spawnSync("node", ["-e", script], { encoding: "utf8" });
  expect(run.stderr).toBe("");
  expect(JSON.parse(run.stdout)).toEqual({ refused: [false, false, false, false, false, false], queued: true, mapped: true, wrong: 0 });
});

let dir: string;
let cacheHome: string;

/** Over prefaultParse's 1 MiB: 20,000 small functions (and one that reports where it runs). */
function big(name: string): string {
  const lines = ['"use strict";', `exports.where = function where() { return ${JSON.stringify(name)} + ":" + require("node:worker_threads").isMainThread; };`];
  for (let i = 0; i < 20_000; i++) lines.push(`exports.f${i} = function f${i}(a) { return a + ${i}; };`);
  return `${lines.join("\n")}\n`;
}

const main = [
  'const { Worker } = require("node:worker_threads");',
  'const lib = require("./big.cjs");',
  "let sum = 0; for (let i = 0; i < 20000; i += 997) sum += lib[`f${i}`](1);",
  "console.log(lib.where(), sum);",
  'const worker = new Worker(`const lib = require(${JSON.stringify(require("node:path").join(__dirname, "big2.cjs"))}); let sum = 0; for (let i = 1; i < 20000; i += 991) sum += lib["f" + i](2); console.log(lib.where(), sum);`, { eval: true });',
  'worker.on("exit", (code) => console.log("worker", code));',
  "",
].join("\n");

beforeAll(() => {
  dir = join(scratchDir(), "prefault");
  mkdirSync(dir);
  writeFileSync(join(dir, "big.cjs"), big("big"));
  writeFileSync(join(dir, "big2.cjs"), big("big2"));
  writeFileSync(join(dir, "main.cjs"), main);
  cacheHome = join(scratchDir(), "prefault-cache");
});

test("a source over 1 MiB, in the main thread and in a worker: output as untraced, its calls traced, first start and cached", async () => {
  const plain = await runUntraced(["node", join(dir, "main.cjs")], { cwd: dir });
  expect(plain.status, plain.stderr).toBe(0);
  expect(plain.stdout).toContain("big:true");
  expect(plain.stdout).toContain("big2:false");
  for (const start of ["first", "cached"]) {
    const run = await runTraced(["node", join(dir, "main.cjs")], { scopeArgs: ["--functions", "--level", "calls", "--include", "*.cjs"], env: { XDG_CACHE_HOME: cacheHome }, cwd: dir });
    expect({ start, status: run.status, stdout: run.stdout.split("\n").sort() }).toEqual({ start, status: 0, stdout: plain.stdout.split("\n").sort() });
    const calls = ofKind(run.events, "function_call");
    // Calls of big.cjs's functions in one thread and of big2.cjs's in another (the worker).
    const threads = new Set(calls.map((event) => event.tid));
    expect(threads.size).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeGreaterThanOrEqual(2 * 21);
  }
});

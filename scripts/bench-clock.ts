/**
 * What one clock read costs a traced program, in Node 20 and in Bun, same machine, same
 * run: the candidates for stamping each function event from JavaScript (runtime.ts).
 * Each is read `reads` times in a loop that adds the value into a sum; the figure is
 * ns per read minus the same loop reading a constant, median of `rounds`. "time word"
 * is a plain Float64Array load, what reading a word a native thread keeps fresh costs
 * the program (its cost to the machine: scripts/bench-clock-refresh.c).
 *
 *   zig build -Doptimize=ReleaseFast && bun scripts/bench-clock.ts [reads] [rounds]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Ring } from "../src/core/ring";

const reads = Number(process.argv[2] ?? 2_000_000);
const rounds = Number(process.argv[3] ?? 7);
const scratch = mkdtempSync(join(tmpdir(), "scope-bench-clock-"));
const ringPath = `/dev/shm/scope-bench-clock-${process.pid}`;
const addonPath = resolve(import.meta.dir, "../zig-out/lib/scope.node");
const libPath = resolve(import.meta.dir, "../zig-out/lib/libscope.so");

// Plain JavaScript for both runtimes; each candidate is its own function so each loop is
// optimised for its one call site.
const worker = String.raw`
const [reads, rounds, ringPath, addonPath, libPath] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4], process.argv[5], process.argv[6]];
const addon = require(addonPath);
if (!addon.attach(ringPath, 0)) throw new Error("attach");
const word = new Float64Array(new SharedArrayBuffer(64));
word[0] = 123456789;
const hr = process.hrtime;
// Expressions, each compiled into its own loop (new Function) so no call site is shared.
const candidates = {
  "constant (loop baseline)": "1",
  "performance.now()": "performance.now()",
  "process.hrtime()": "(t = hr(), t[0] * 1e9 + t[1])",
  "process.hrtime.bigint()": "Number(hr.bigint())",
  "Date.now() (ms only)": "Date.now()",
  "scope.node now() (Node-API, TSC)": "addon.now()",
  "time word (Float64Array load)": "word[0]",
};
let now;
let producer;
if (typeof Bun === "object") {
  const { dlopen, FFIType } = require("bun:ffi");
  const lib = dlopen(libPath, {
    scope_ring_open: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.u32 },
    scope_producer_attach: { args: [FFIType.ptr, FFIType.u32, FFIType.u32, FFIType.ptr], returns: FFIType.u32 },
    scope_producer_now_ns: { args: [FFIType.ptr], returns: FFIType.f64 },
  });
  const out = new BigUint64Array(1);
  if (lib.symbols.scope_ring_open(Buffer.from(ringPath + "\0"), out) !== 0) throw new Error("open");
  const ring = Number(out[0]);
  if (lib.symbols.scope_producer_attach(ring, process.pid, 0, out) !== 0) throw new Error("attach");
  producer = Number(out[0]);
  now = lib.symbols.scope_producer_now_ns;
  candidates["bun:ffi scope_producer_now_ns (TSC)"] = "now(producer)";
  candidates["Bun.nanoseconds()"] = "Bun.nanoseconds()";
}
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const measure = (expression) => {
  const loop = new Function("performance", "hr", "addon", "word", "now", "producer", "Bun",
    "return (n) => { let sum = 0, t; for (let i = 0; i < n; i++) sum += " + expression + "; return sum; };")(
    performance, hr, addon, word, now, producer, globalThis.Bun);
  loop(reads >> 2);
  const xs = [];
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    loop(reads);
    xs.push(Number(process.hrtime.bigint() - t) / reads);
  }
  return median(xs);
};
const result = {};
for (const [name, read] of Object.entries(candidates)) result[name] = measure(read);
// Origins: how far each clock is from CLOCK_MONOTONIC ns (hrtime), in ms.
const mono = Number(process.hrtime.bigint());
result.origin = { performanceNowToMonotonicMs: mono / 1e6 - performance.now(), addonMinusHrtimeNs: addon.now() - Number(process.hrtime.bigint()) };
if (typeof Bun === "object") result.origin.bunNanosecondsToMonotonicMs = mono / 1e6 - Bun.nanoseconds() / 1e6;
process.stdout.write(JSON.stringify(result));
`;

function run(runtime: string): Record<string, number> & { origin: Record<string, number> } {
  const file = join(scratch, "clock-worker.cjs");
  writeFileSync(file, worker);
  const child = Bun.spawnSync([runtime, file, String(reads), String(rounds), ringPath, addonPath, libPath], { stdout: "pipe", stderr: "inherit" });
  if (child.exitCode !== 0) throw new Error(`${runtime} failed (${child.exitCode})`);
  return JSON.parse(child.stdout.toString());
}

const ring = Ring.create(ringPath, { laneCount: 4, laneCapacitySlots: 1 << 12, mode: "overwrite" });
try {
  const node = run("node");
  const bun = run(process.execPath);
  const base = (r: Record<string, number>) => r["constant (loop baseline)"]!;
  console.log(`reads per round: ${reads}, rounds: ${rounds} (median), ns per read above the loop baseline`);
  console.log("| clock | Node 20 | Bun |\n|---|---|---|");
  const names = new Set([...Object.keys(node), ...Object.keys(bun)].filter((name) => name !== "origin" && !name.startsWith("constant")));
  const cell = (r: Record<string, number>, name: string) => (typeof r[name] === "number" ? (r[name]! - base(r)).toFixed(1) : "—");
  for (const name of names) console.log(`| ${name} | ${cell(node, name)} | ${cell(bun, name)} |`);
  console.log(`loop baseline ns: node ${base(node).toFixed(2)}, bun ${base(bun).toFixed(2)}`);
  console.log("origins:", JSON.stringify({ node: node.origin, bun: bun.origin }));
} finally {
  ring.close();
  rmSync(ringPath, { force: true });
  rmSync(scratch, { recursive: true, force: true });
}

/**
 * What the loop and memory groups cost, by part, counted rather than read off whole-run
 * medians (BENCHMARKS.md "Event loop and memory", third look). Every figure is the traced
 * program's own CPU (process.cpuUsage() at its exit, all threads, so scope's collector is
 * not in it), runs alternated between the variants, medians over rounds:
 *
 *   idle     an idle program kept alive 1 s and IDLE_S s (default 5): the slope is the CPU
 *            per second of wall time an idle thread pays (timer wake-ups), the intercept
 *            what start-up and exit pay; default groups vs +loop, +memory, +loop,+memory
 *   gc       allocation-heavy turns (node --max-semi-space-size=1: a scavenge every few
 *            turns) with the default groups vs +memory: CPU per GC = the difference over
 *            the GCs the trace holds
 *   workers  40 worker threads started one after another, each posts one message and ends
 *            (the seed's shape): CPU per worker, default vs +loop,+memory
 *   inproc   the loop group's own callbacks alone, in plain node: src/agent/shared/loop.ts
 *            bundled and started with a recorder that records nothing and times every
 *            callback scope runs (recorder.safe: the sentinel tick, the sampler): time
 *            inside them per second, idle and during allocation-heavy turns, against the
 *            process CPU the same run adds over a run without the monitor (the memory
 *            group's GC callbacks are native, in scope.node: the gc mode counts them)
 *
 *   bun scripts/bench-loop-cost.ts [rounds] [modes,comma,separated]
 *
 * (from the repository root after `. scripts/env.sh`; default 5 rounds, every mode).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const rounds = Number(process.argv[2] ?? 5);
const modes = (process.argv[3] ?? "idle,gc,workers,inproc").split(",");
const idleSeconds = Number(process.env.IDLE_S ?? 5);
const root = resolve(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "scope-loop-cost-"));

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const load = () => loadavg().map((x) => x.toFixed(1)).join(" ");

writeFileSync(join(dir, "cpu.cjs"), `process.on("exit", () => { const u = process.cpuUsage(); require("node:fs").writeSync(2, "cpu_us " + (u.user + u.system) + "\\n"); });\n`);
writeFileSync(join(dir, "idle.cjs"), `setTimeout(() => {}, Number(process.argv[2]) * 1000);\n`);
writeFileSync(
  join(dir, "gc.cjs"),
  `let sink; let units = 0; const total = Number(process.argv[2]);
const unit = () => { for (let i = 0; i < 3000; i++) sink = { a: i, b: [i, i + 1], c: "x" + i }; if (++units < total) setImmediate(unit); };
unit();\n`,
);
writeFileSync(
  join(dir, "workers.cjs"),
  `const { Worker, isMainThread, parentPort } = require("node:worker_threads");
if (isMainThread) { let left = Number(process.argv[2]); const next = () => { if (left-- === 0) return; const w = new Worker(__filename); w.once("message", () => {}); w.once("exit", next); }; next(); }
else parentPort.postMessage(1);\n`,
);

/** One traced run: the program's CPU (µs) and the trace's gc count. */
function traced(events: string, nodeArgs: string[]): { cpuUs: number; gcs: number } {
  const out = join(dir, "t.bin");
  const run = Bun.spawnSync(["bun", join(root, "src/cli/main.ts"), "run", "--events", events, "--out", out, "node", "--require", join(dir, "cpu.cjs"), ...nodeArgs], { stdout: "ignore", stderr: "pipe" });
  const stderr = run.stderr.toString();
  // The main thread's line is the last (workers print theirs as they end: the preload runs in them too).
  const cpu = [...stderr.matchAll(/cpu_us (\d+)/g)].at(-1);
  if (run.exitCode !== 0 || !cpu) throw new Error(`scope run --events ${events} ${nodeArgs.join(" ")} failed:\n${stderr}`);
  rmSync(out, { force: true });
  return { cpuUs: Number(cpu[1]), gcs: Number(/\bgc (\d+)/.exec(stderr)?.[1] ?? 0) };
}

const DEFAULT = "process,thread,message,http,db";
const variants: Record<string, string> = { default: DEFAULT, "+loop": `${DEFAULT},loop`, "+memory": `${DEFAULT},memory`, "+loop,+memory": `${DEFAULT},loop,memory` };
const lines: string[] = [];
const say = (line: string) => {
  console.log(line);
  lines.push(line);
};

try {
  if (modes.includes("idle")) {
    const cpu: Record<string, { short: number[]; long: number[] }> = {};
    for (let r = 0; r < rounds; r++) {
      const names = Object.keys(variants);
      for (const name of r % 2 ? names.reverse() : names) {
        (cpu[name] ??= { short: [], long: [] }).short.push(traced(variants[name]!, [join(dir, "idle.cjs"), "1"]).cpuUs);
        cpu[name]!.long.push(traced(variants[name]!, [join(dir, "idle.cjs"), String(idleSeconds)]).cpuUs);
      }
      process.stderr.write(`idle round ${r + 1} (load ${load()})\n`);
    }
    const base = cpu.default!;
    const slope = (c: { short: number[]; long: number[] }) => median(c.long.map((long, i) => (long - c.short[i]!) / (idleSeconds - 1))) / 1000;
    say(`idle (load ${load()}): ms CPU per second idle | start-up+exit ms CPU (1 s run minus the slope), medians of ${rounds}`);
    for (const [name, c] of Object.entries(cpu)) {
      const s = slope(c);
      say(`  ${name.padEnd(14)} ${s.toFixed(2)} ms/s (+${(s - slope(base)).toFixed(2)}) | ${(median(c.short) / 1000 - s).toFixed(1)} ms (+${(median(c.short) / 1000 - s - (median(base.short) / 1000 - slope(base))).toFixed(1)})`);
    }
  }
  if (modes.includes("gc")) {
    const off: number[] = [];
    const on: number[] = [];
    const gcs: number[] = [];
    const args = ["--max-semi-space-size=1", join(dir, "gc.cjs"), "3000"];
    for (let r = 0; r < rounds; r++) {
      const pair = r % 2 ? ["+memory", "default"] : ["default", "+memory"];
      for (const name of pair) {
        const m = traced(variants[name]!, args);
        if (name === "default") off.push(m.cpuUs);
        else {
          on.push(m.cpuUs);
          gcs.push(m.gcs);
        }
      }
      process.stderr.write(`gc round ${r + 1}: ${off.at(-1)} → ${on.at(-1)} µs, ${gcs.at(-1)} GCs (load ${load()})\n`);
    }
    const perGc = median(on.map((x, i) => (x - off[i]!) / gcs[i]!));
    say(`gc (load ${load()}): 3000 turns of 3000 objects, --max-semi-space-size=1: default ${(median(off) / 1000).toFixed(0)} ms, +memory ${(median(on) / 1000).toFixed(0)} ms CPU, ${median(gcs)} GCs recorded: ${perGc.toFixed(1)} µs CPU per GC (paired median of ${rounds})`);
  }
  if (modes.includes("workers")) {
    const n = 40;
    const cpu: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      const names = ["default", "+loop,+memory", "+loop", "+memory"];
      for (const name of r % 2 ? names.reverse() : names) (cpu[name] ??= []).push(traced(variants[name]!, [join(dir, "workers.cjs"), String(n)]).cpuUs);
      process.stderr.write(`workers round ${r + 1} (load ${load()})\n`);
    }
    say(`workers (load ${load()}): ${n} workers one after another, ms CPU per worker (whole program / ${n}), medians of ${rounds}, paired difference`);
    for (const [name, c] of Object.entries(cpu)) {
      say(`  ${name.padEnd(14)} ${(median(c) / n / 1000).toFixed(2)} ms/worker (paired +${(median(c.map((x, i) => x - cpu.default![i]!)) / n / 1000).toFixed(2)})`);
    }
  }
  if (modes.includes("inproc")) {
    const bundle = join(dir, "loop.cjs");
    const built = Bun.spawnSync(["bun", "build", join(root, "src/agent/shared/loop.ts"), "--target", "node", "--format", "cjs", "--outfile", bundle], { stdout: "ignore", stderr: "pipe" });
    if (built.exitCode !== 0) throw new Error(built.stderr.toString());
    writeFileSync(
      join(dir, "inproc.cjs"),
      `// node inproc.cjs <groups|none> <idle|gc> <seconds|turns>: time inside the monitor's callbacks, and this process's CPU
const [groups, what, amount] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const loop = require(${JSON.stringify(bundle)});
let insideMs = 0, calls = 0, gcs = 0; const per = [];
const recorder = { groups: { loop: groups.includes("loop"), memory: groups.includes("memory") }, stopped: false,
  event(kind) { if (kind === 83) gcs++; }, str() { return 0; }, fail() {},
  safe(f) { const s = performance.now(); try { return f(); } finally { const d = performance.now() - s; per.push(d); insideMs += d; calls++; } } };
const t0 = process.cpuUsage(); const w0 = performance.now();
if (groups !== "none") loop.startLoopMonitor(recorder, "node", false, loop.loopSettings(undefined));
const startMs = insideMs;
const end = () => { loop.flushLoopMonitor(); const u = process.cpuUsage(t0); per.sort((a, b) => a - b); console.log(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, wallMs: performance.now() - w0, insideMs: insideMs - startMs, calls, gcs, medianCallUs: (per[per.length >> 1] ?? 0) * 1000 })); };
if (what === "idle") setTimeout(end, amount * 1000);
else { let sink, units = 0; const unit = () => { for (let i = 0; i < 3000; i++) sink = { a: i, b: [i, i + 1], c: "x" + i }; if (++units < amount) setImmediate(unit); else setTimeout(end, 5); }; unit(); }
`,
    );
    const runIn = (groups: string, what: string, amount: number, flags: string[] = []) => {
      const run = Bun.spawnSync(["node", ...flags, join(dir, "inproc.cjs"), groups, what, String(amount)], { stdout: "pipe", stderr: "inherit" });
      return JSON.parse(run.stdout.toString()) as { cpuMs: number; wallMs: number; insideMs: number; calls: number; gcs: number; medianCallUs: number };
    };
    const idle: Record<string, ReturnType<typeof runIn>[]> = {};
    const gc: Record<string, ReturnType<typeof runIn>[]> = {};
    for (let r = 0; r < rounds; r++) {
      for (const groups of r % 2 ? ["loop", "none"] : ["none", "loop"]) {
        (idle[groups] ??= []).push(runIn(groups, "idle", idleSeconds));
        (gc[groups] ??= []).push(runIn(groups, "gc", 3000));
      }
      process.stderr.write(`inproc round ${r + 1} (load ${load()})\n`);
    }
    const on = idle.loop!;
    const addedIdle = median(on.map((x, i) => x.cpuMs - idle.none![i]!.cpuMs)) / idleSeconds;
    say(`inproc idle (load ${load()}), loop group, ${idleSeconds} s: inside scope's callbacks ${median(on.map((x) => (x.insideMs / x.wallMs) * 1000)).toFixed(3)} ms per second (${median(on.map((x) => x.calls / (x.wallMs / 1000))).toFixed(0)} calls/s, median call ${median(on.map((x) => x.medianCallUs)).toFixed(1)} µs); the process's CPU +${addedIdle.toFixed(2)} ms per second over no monitor (paired median of ${rounds})`);
    const g = gc.loop!;
    say(`inproc busy (load ${load()}), loop group, 3000 allocation-heavy turns: inside scope's callbacks ${median(g.map((x) => (x.insideMs / x.wallMs) * 1000)).toFixed(3)} ms per second (${median(g.map((x) => x.calls / (x.wallMs / 1000))).toFixed(0)} calls/s, median call ${median(g.map((x) => x.medianCallUs)).toFixed(1)} µs); the process's CPU ${median(g.map((x, i) => x.cpuMs - gc.none![i]!.cpuMs)) >= 0 ? "+" : ""}${median(g.map((x, i) => x.cpuMs - gc.none![i]!.cpuMs)).toFixed(1)} ms over no monitor in ${median(g.map((x) => x.wallMs / 1000)).toFixed(2)} s (paired median of ${rounds})`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\n${lines.join("\n")}\nload average after: ${load()}`);

/**
 * The seed workload (`scope bench --workload seed`: spawn a worker, send it a message, let it
 * exit, 100 times) in several arms alternated in one run, to split what a traced worker's start
 * adds into the runtime's floor (getting any code into a worker by Node's `--require` preload
 * and node:vm with a code cache) and the agent's own part (BENCHMARKS.md "Worker start: the
 * floor, measured"):
 *
 * - untraced: plain `node`, as the bench's untraced side;
 * - empty: NODE_OPTIONS `--require <an empty .cjs>`: the preload mechanism alone;
 * - vm: the loader's path with an empty script: `--require` of a file that requires node:vm
 *   and compiles and runs a one-line `vm.Script`;
 * - addon: the vm probe, then the addon by dlopen (lean) and its `sharedFile` reads of the
 *   bundle and the cache, nothing compiled from them (not in the default arms);
 * - floor: scope's own loader (src/agent/node/code-cache.ts codeCacheLoader) with SCOPE_ADDON
 *   set, as a traced worker runs it (the addon by dlopen, the bundle and its code cache from
 *   the addon's shared files, `vm.Script` with the cache, `runInThisContext`), stopping
 *   before it calls the agent: everything but the agent's own code. Written next to the dev
 *   agent's node.cjs, reading node.cjs's cache (checked accepted before the rounds);
 * - full: `scope run` (the bench's traced side, runTraced, trace checked).
 *
 * And the way in that is not a `--require` preload in the worker (BENCHMARKS.md "Worker start:
 * an eval entry instead of the preload"): a main-thread-only preload that starts each Worker
 * with an env without NODE_OPTIONS (so the worker gets no preload) on an eval entry that runs
 * the probe's code, then the worker's own file through CommonJS's `Module.runMain` (taken from the
 * eval's `module`: `require("node:module")` loads the ES module loader's files) (not in the
 * default arms):
 * - main: the worker started on its own file with that env: no code of the probe's in the
 *   worker at all (the bound for recording a worker from the main thread's side only);
 * - evalempty, evalvm, evalfloor: the eval entry running nothing, the vm probe's line, the
 *   floor probe's loader.
 *
 * Each round runs every arm once, the order rotated a round; per arm and round: wall ms a
 * worker (the program's own window / workers), the program's CPU ms a worker (rusage of the
 * whole process / workers). Printed: medians over rounds, and the medians of each round's
 * differences between neighbouring arms.
 *
 *   nice -n -20 bun scripts/seed-floor.ts [rounds=10] [workers=100] [arms=untraced,empty,vm,floor,full]
 *   PATH=<node 24 bin>:$PATH nice -n -20 bun scripts/seed-floor.ts ...
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { assets } from "../src/core/assets";
import { BUNDLE_FILE, codeCacheLoader } from "../src/agent/node/code-cache";
import { workloads, type ProgramWorkload } from "../src/bench/catalogue";
import { runProgram, type RunContext } from "../src/bench/runner";
import { extractWorkloads } from "../src/bench/workloads";
import { quoteOption } from "../src/agent/inject";

const rounds = Number(process.argv[2] ?? 10);
const workers = Number(process.argv[3] ?? 100);
const armNames = (process.argv[4] ?? "untraced,empty,vm,floor,full").split(",");
const ARMS = ["untraced", "empty", "vm", "addon", "floor", "full", "main", "evalempty", "evalvm", "evalfloor"] as const;
for (const arm of armNames) if (!(ARMS as readonly string[]).includes(arm)) throw new Error(`unknown arm ${arm}: ${ARMS.join(", ")}`);

const seed = workloads.find((each) => each.name === "seed") as ProgramWorkload;
const files = await assets();
const agentDir = dirname(files.nodeAgent);
const dir = await extractWorkloads();
const context: RunContext = { dir, ringBytes: 64 * 1024 * 1024, keepTraces: false, sequence: 0 };

// The probes, in a directory of their own: the floor probe is scope's loader (its name's cache
// beside it, copied from node.cjs's after the warm-up), which finds the bundle by __dirname.
const probeDir = process.env.SEED_FLOOR_KEEP || mkdtempSync(join(tmpdir(), "seed-floor-"));
mkdirSync(probeDir, { recursive: true });
const loader = codeCacheLoader();
const stop = "if (agent !== undefined) {\n  agent.call(";
if (!loader.includes(stop)) throw new Error("the loader changed: update the floor probe");
const floorSource = (check: boolean) =>
  loader.replace(stop, check ? "process._rawDebug('floor cache rejected: ' + (cachedData === undefined || script.cachedDataRejected));\nif (false) {\n  agent.call(" : "if (false) {\n  agent.call(");
const probes = {
  empty: join(probeDir, "empty.cjs"),
  vm: join(probeDir, "vm.cjs"),
  floor: join(probeDir, "floor.cjs"),
  floorCheck: join(probeDir, "floor-check.cjs"),
  addon: join(probeDir, "addon.cjs"),
  main: join(probeDir, "main.cjs"),
  evalempty: join(probeDir, "evalempty.cjs"),
  evalvm: join(probeDir, "evalvm.cjs"),
  evalfloor: join(probeDir, "evalfloor.cjs"),
};
writeFileSync(probes.empty, "");
writeFileSync(probes.vm, `"use strict";\nnew (require("node:vm").Script)("(function(){return 1})", { filename: __filename }).runInThisContext();\n`);
writeFileSync(
  probes.addon,
  `"use strict";
new (require("node:vm").Script)("(function(){return 1})", { filename: __filename }).runInThisContext();
const holder = { exports: { lean: true } };
process.dlopen(holder, process.env.SCOPE_ADDON);
const source = holder.exports.sharedFile(__dirname + "/${BUNDLE_FILE}", true);
const bytes = holder.exports.sharedFile(__dirname + "/floor.cjs." + process.versions.v8 + "-" + process.arch + ".v8cache");
if (typeof source !== "string" || bytes === undefined) process._rawDebug("addon probe: files not shared");
`,
);
writeFileSync(probes.floor, floorSource(false));
writeFileSync(probes.floorCheck, floorSource(true));

/**
 * A main-thread preload starting every Worker with its env minus NODE_OPTIONS (the worker then
 * has no preload), on its own file (`pre` null) or on an eval entry that puts back what Node's
 * eval path changes (the globals module, exports, require, __filename, __dirname; process._eval;
 * argv[1]), runs `pre`, then the worker's file as the file entry would (`Module.runMain`). A
 * probe: a string entry only (no URL, no `eval: true` worker of the program's).
 */
function evalEntryProbe(pre: string | null): string {
  const body =
    pre === null
      ? null
      : `"use strict";\n{\n  const require = globalThis.require, Module = globalThis.module.constructor;\n  delete globalThis.module; delete globalThis.exports; delete globalThis.require; delete globalThis.__dirname; delete globalThis.__filename;\n  delete process._eval;\n  ${pre}\n  Module.runMain(process.argv[1] = __ENTRY__);\n}`;
  return `"use strict";
const wt = require("node:worker_threads");
if (wt.isMainThread) {
  const Original = wt.Worker;
  const body = ${JSON.stringify(body)};
  wt.Worker = class Worker extends Original {
    constructor(file, options) {
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      if (body === null) super(file, { ...options, env });
      else super(body.replace("__ENTRY__", JSON.stringify(String(file))), { ...options, eval: true, env });
    }
  };
}
`;
}
const floorIn = (check: boolean) =>
  `(function (exports, require, module, __filename, __dirname) {\n${floorSource(check)}\n})({}, require, { exports: {} }, ${JSON.stringify(probes.floor)}, ${JSON.stringify(probeDir)});`;
writeFileSync(probes.main, evalEntryProbe(null));
writeFileSync(probes.evalempty, evalEntryProbe(""));
writeFileSync(probes.evalvm, evalEntryProbe(`new (require("node:vm").Script)("(function(){return 1})", { filename: "vm-probe.cjs" }).runInThisContext();`));
writeFileSync(probes.evalfloor, evalEntryProbe(floorIn(false)));
const evalFloorCheck = join(probeDir, "evalfloor-check.cjs");
writeFileSync(evalFloorCheck, evalEntryProbe(floorIn(true)));
copyFileSync(join(agentDir, BUNDLE_FILE), join(probeDir, BUNDLE_FILE));

/** Copies node.cjs's code cache for this Node (written by the warm-up's main thread, rewritten by its first worker) to the floor probes' names. */
function copyCache() {
  const suffix = Bun.spawnSync(["node", "-p", "process.versions.v8 + '-' + process.arch"]).stdout.toString().trim();
  const cache = join(agentDir, `node.cjs.${suffix}.v8cache`);
  if (!existsSync(cache)) throw new Error(`no code cache at ${cache} after the warm-up`);
  for (const name of ["floor.cjs", "floor-check.cjs"]) copyFileSync(cache, join(probeDir, `${name}.${suffix}.v8cache`));
  return statSync(cache).size;
}

type Arm = (typeof ARMS)[number];
const params = { workers };

async function run(arm: Arm) {
  const saved = { NODE_OPTIONS: process.env.NODE_OPTIONS, SCOPE_ADDON: process.env.SCOPE_ADDON };
  try {
    if (arm !== "untraced" && arm !== "full") {
      process.env.NODE_OPTIONS = `--require ${quoteOption(probes[arm])}`;
      process.env.SCOPE_ADDON = files.addon;
    }
    const m = await runProgram(context, seed, params, arm === "full" ? "traced" : "untraced");
    if (m.trace && !m.trace.check.ok) throw new Error(`full: trace check failed: ${m.trace.check.problems.join("; ")}`);
    return { wall: (m.windowSeconds! * 1000) / m.ops, cpu: (m.programCpuSeconds * 1000) / m.ops };
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

try {
  const node = Bun.spawnSync(["node", "--version"]).stdout.toString().trim();
  // Warm-up: the traced run writes node.cjs's cache for this Node; then check the floor probe takes it.
  await run("full");
  const cacheBytes = copyCache();
  const check = Bun.spawnSync(["node", "-e", "0"], { env: { ...process.env, NODE_OPTIONS: `--require ${quoteOption(probes.floorCheck)}`, SCOPE_ADDON: files.addon } });
  const said = check.stderr.toString().trim();
  if (said !== "floor cache rejected: false") throw new Error(`the floor probe did not take node.cjs's code cache: ${said}`);
  if (armNames.includes("evalfloor")) {
    const noop = join(probeDir, "noop-worker.cjs");
    writeFileSync(noop, "");
    const program = `new (require('node:worker_threads').Worker)(${JSON.stringify(noop)})`;
    const inWorker = Bun.spawnSync(["node", "-e", program], { env: { ...process.env, NODE_OPTIONS: `--require ${quoteOption(evalFloorCheck)}`, SCOPE_ADDON: files.addon } });
    const heard = inWorker.stderr.toString().trim();
    if (heard !== "floor cache rejected: false") throw new Error(`the eval floor probe did not take node.cjs's code cache in a worker: ${heard}`);
  }
  for (const arm of armNames) await run(arm as Arm);
  const results: Record<string, { wall: number[]; cpu: number[] }> = Object.fromEntries(armNames.map((arm) => [arm, { wall: [], cpu: [] }]));
  for (let round = 0; round < rounds; round++) {
    const order = armNames.map((_, i) => armNames[(i + round) % armNames.length]!);
    const line: string[] = [];
    for (const arm of order) {
      const r = await run(arm as Arm);
      results[arm]!.wall.push(r.wall);
      results[arm]!.cpu.push(r.cpu);
      line.push(`${arm} ${r.wall.toFixed(2)}/${r.cpu.toFixed(2)}`);
    }
    console.error(`round ${round + 1}: ${line.join(", ")}`);
  }
  console.log(`node ${node}, ${rounds} rounds of ${workers} workers (floor probe in ${probeDir}, code cache ${cacheBytes} bytes), ms a worker: wall (the program's window) / CPU (whole process)`);
  for (const arm of armNames) console.log(`  ${arm.padEnd(9)} wall ${median(results[arm]!.wall).toFixed(3)}  cpu ${median(results[arm]!.cpu).toFixed(3)}`);
  const base = results[armNames[0]!]!;
  for (let i = 1; i < armNames.length; i++) {
    const from = results[armNames[i - 1]!]!;
    const to = results[armNames[i]!]!;
    const step = (key: "wall" | "cpu") => median(to[key].map((value, r) => value - from[key][r]!));
    const total = (key: "wall" | "cpu") => median(to[key].map((value, r) => value - base[key][r]!));
    const ratio = (key: "wall" | "cpu") => median(to[key].map((value, r) => value / base[key][r]! - 1)) * 100;
    console.log(
      `  ${armNames[i - 1]} → ${armNames[i]}: wall ${step("wall") >= 0 ? "+" : ""}${step("wall").toFixed(3)}, cpu ${step("cpu") >= 0 ? "+" : ""}${step("cpu").toFixed(3)}` +
        `   (${armNames[0]} → ${armNames[i]}: wall +${total("wall").toFixed(3)} ms ${ratio("wall").toFixed(1)}%, cpu +${total("cpu").toFixed(3)} ms ${ratio("cpu").toFixed(1)}%)`,
    );
  }
} finally {
  dir.remove();
  if (!process.env.SEED_FLOOR_KEEP) rmSync(probeDir, { recursive: true, force: true });
}

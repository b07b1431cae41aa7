/**
 * Function instrumentation benchmarks, in Node 20 and in Bun, same machine, same run:
 * - transform throughput: MB/s of source through parse → match → transform → print
 *   (source map included) over real npm files (typescript.js, marked, yaml);
 * - ns per instrumented call: a tight loop calling a one-line function, untouched and
 *   instrumented, the difference divided by the calls; "calls" level into the real ring
 *   through scope.node (batched recordBatch and one record() per event), with no runtime
 *   (the no-op hook), and "full" (argument and value previews). Overwrite-mode ring, no
 *   consumer: the producer's cost alone, as in scripts/bench-ring.ts.
 *
 *   zig build -Doptimize=ReleaseFast && bun scripts/bench-instrument.ts [calls] [rounds]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ring } from "../src/core/ring";

const calls = Number(process.argv[2] ?? 5_000_000);
const rounds = Number(process.argv[3] ?? 5);
const repo = join(import.meta.dir, "..");
const scratch = mkdtempSync(join(tmpdir(), "scope-bench-instrument-"));
const ringPath = `/dev/shm/scope-bench-instrument-${process.pid}`;

const corpus = [
  "node_modules/typescript-js/lib/typescript.js",
  "node_modules/marked/lib/marked.esm.js",
  "node_modules/yaml/dist/compose/composer.js",
  "node_modules/yaml/dist/parse/lexer.js",
  "node_modules/yaml/dist/parse/parser.js",
].map((file) => join(repo, file));

// Runs in node and in bun: the instrument bundle, the addon, the ring path and the sizes come in argv.
const worker = String.raw`
const [bundlePath, addonPath, ringPath, callsText, roundsText, ...corpus] = process.argv.slice(2);
const lib = require(bundlePath);
const { readFileSync } = require("node:fs");
const calls = Number(callsText), rounds = Number(roundsText);
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => Number(process.hrtime.bigint());
const out = {};

// Transform throughput.
const sources = corpus.map((file) => [file, readFileSync(file, "utf8")]);
const bytes = sources.reduce((n, [, code]) => n + code.length, 0);
const config = { root: "/", include: ["**/node_modules/**"], level: "full" };
const transformOnce = () => { for (const [file, code] of sources) { const r = lib.instrument(code, file, { config }); if (r.status !== "instrumented") throw new Error(file + " " + r.status); } };
transformOnce();
const transformTimes = [];
for (let i = 0; i < 3; i++) { const t = now(); transformOnce(); transformTimes.push(now() - t); }
out.transformMBps = bytes / 1e6 / (median(transformTimes) / 1e9);
out.transformBytes = bytes;

// Calls.
const workload = "function leaf(a) { return a + 1; }\nexports.run = function (n) { let s = 0; for (let i = 0; i < n; i++) s = leaf(s); return s; };\n";
const load = (level) => {
  const code = level ? lib.instrument(workload, "/bench/workload.js", { config: { root: "/bench", level }, module: false }).code : workload;
  const exports = {};
  new Function("exports", code)(exports);
  return exports.run;
};
const timeRun = (run) => { run(Math.min(calls, 200000)); const xs = []; for (let i = 0; i < rounds; i++) { const t = now(); run(calls); xs.push((now() - t) / calls); } return median(xs); };
const key = Symbol.for(lib.HOOK_KEY);
const addon = require(addonPath);
if (!addon.attach(ringPath, 0)) throw new Error("attach failed");
const types = require("node:util").types;
const withRuntime = (options, level) => {
  const runtime = new lib.FunctionRuntime({ sink: addon, types, ...options });
  globalThis[key] = runtime.hook;
  const ns = timeRun(load(level));
  runtime.close();
  delete globalThis[key];
  return ns;
};
const plain = timeRun(load(undefined));
out.plainNsPerCall = plain;
delete globalThis[key];
out.noRuntimeNs = timeRun(load("calls")) - plain;
out.callsBatchedNs = withRuntime({ batchSize: 256, flushIntervalMs: 0 }, "calls") - plain;
out.callsUnbatchedNs = withRuntime({ batchSize: 1 }, "calls") - plain;
const fullCalls = Math.max(1, Math.floor(calls / 20));
out.fullBatchedNs = (() => { const runtime = new lib.FunctionRuntime({ sink: addon, types, batchSize: 256, flushIntervalMs: 0 }); globalThis[key] = runtime.hook; const run = load("full"); run(10000); const xs = []; for (let i = 0; i < rounds; i++) { const t = now(); run(fullCalls); xs.push((now() - t) / fullCalls); } runtime.close(); delete globalThis[key]; return median(xs) - plain; })();
out.stats = addon.stats();
addon.detach();
console.log(JSON.stringify(out));
`;

async function main(): Promise<void> {
  const bundle = await Bun.build({ entrypoints: [join(repo, "src/instrument/index.ts")], outdir: scratch, target: "node", format: "cjs", naming: "instrument.cjs", external: ["oxc-parser"] });
  if (!bundle.success) throw new Error(bundle.logs.map(String).join("\n"));
  const workerPath = join(scratch, "worker.cjs");
  writeFileSync(workerPath, worker);
  const ring = Ring.create(ringPath, { laneCount: 4, laneCapacitySlots: 1 << 16, mode: "overwrite" });
  const results: Record<string, unknown> = {};
  try {
    for (const [name, runtime] of [["node", "node"], ["bun", process.execPath]] as const) {
      const child = Bun.spawnSync([runtime, workerPath, join(scratch, "instrument.cjs"), join(repo, "zig-out/lib/scope.node"), ringPath, String(calls), String(rounds), ...corpus], { stderr: "pipe" });
      if (child.exitCode !== 0) throw new Error(`${name}: ${child.stderr.toString()}`);
      results[name] = JSON.parse(child.stdout.toString());
    }
  } finally {
    ring.close();
    rmSync(ringPath, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
  const row = (label: string, field: string, digits = 1) =>
    `| ${label} | ${(results.node as Record<string, number>)[field]!.toFixed(digits)} | ${(results.bun as Record<string, number>)[field]!.toFixed(digits)} |`;
  console.log(`calls per round: ${calls}, rounds: ${rounds} (median); corpus ${((results.node as { transformBytes: number }).transformBytes / 1e6).toFixed(1)} MB`);
  console.log("| measure | Node 20 | Bun |\n|---|---|---|");
  console.log(row("transform, MB/s of source (parse + edit + source map)", "transformMBps"));
  console.log(row("plain call, ns (loop baseline)", "plainNsPerCall", 2));
  console.log(row("added ns per call: instrumented, no runtime (no-op hook)", "noRuntimeNs"));
  console.log(row("added ns per call: calls level, batched 256 per recordBatch", "callsBatchedNs"));
  console.log(row("added ns per call: calls level, one record() per event", "callsUnbatchedNs"));
  console.log(row("added ns per call: full level (entry + return, previews), batched", "fullBatchedNs"));
}

await main();

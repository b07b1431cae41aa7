/**
 * Function instrumentation measurements shared by `scope bench` (the transform
 * workload) and scripts/bench-instrument.ts: the corpus of real npm source, the
 * instrument bundle, and one worker program that runs in node or bun and measures
 * transform throughput (MB/s of source through parse → match → transform → print,
 * source map included) and, unless calls is 0, ns per instrumented call.
 * The corpus is the checkout's dev dependencies, or (a compiled scope, no checkout) the
 * same pinned versions installed once with npm under scope's cache directory (ensureCorpus).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import packageJson from "../../package.json";
import { cacheRoot } from "../core/assets";

export const repoRoot = join(import.meta.dir, "..", "..");

/** The corpus packages (typescript-js is typescript@5.9.3 under an alias) and their pinned versions. */
export const corpusPackages = ["typescript-js", "marked", "yaml"] as const;

/** Real, unmodified npm source: typescript.js 8.7 MB, marked, yaml; relative to a corpus root. */
const corpusPaths = [
  "node_modules/typescript-js/lib/typescript.js",
  "node_modules/marked/lib/marked.esm.js",
  "node_modules/yaml/dist/compose/composer.js",
  "node_modules/yaml/dist/parse/lexer.js",
  "node_modules/yaml/dist/parse/parser.js",
];

export function corpusFilesIn(root: string): string[] {
  return corpusPaths.map((file) => join(root, file));
}

/** The checkout's corpus (with its dev dependencies installed). */
export const corpusFiles = corpusFilesIn(repoRoot);

/** Why the source-checkout measurements (scripts/bench-instrument.ts) cannot run here, or undefined. */
export function checkoutMissing(): string | undefined {
  if (!existsSync(join(repoRoot, "src/instrument/index.ts"))) return "needs a source checkout (src/instrument)";
  const missing = corpusFiles.find((file) => !existsSync(file));
  return missing ? `needs the dev dependencies installed (${missing.replace(`${repoRoot}/`, "")} missing)` : undefined;
}

function corpusSpecs(): string[] {
  const dev = packageJson.devDependencies as Record<string, string>;
  return corpusPackages.map((name) => `${name}@${dev[name]}`);
}

/**
 * A directory whose node_modules holds the corpus: the checkout's, else one installed with
 * `npm install` (pinned versions, no scripts) under scope's cache directory, once.
 */
export async function ensureCorpus(progress: (line: string) => void = () => {}): Promise<string> {
  if (corpusFiles.every((file) => existsSync(file))) return repoRoot;
  const specs = corpusSpecs();
  const root = join(cacheRoot(), `bench-corpus-${Bun.hash(specs.join(" ")).toString(36)}`);
  if (corpusFilesIn(root).every((file) => existsSync(file))) return root;
  mkdirSync(root, { recursive: true, mode: 0o700 });
  if (!existsSync(join(root, "package.json"))) writeFileSync(join(root, "package.json"), '{"private":true}\n');
  progress(`transform: installing the corpus with npm into ${root} (${specs.join(", ")})`);
  const child = Bun.spawn(["npm", "install", "--no-save", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", root, ...specs], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stderr, exitCode] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  const missing = corpusFilesIn(root).find((file) => !existsSync(file));
  if (exitCode !== 0 || missing) throw new Error(`the corpus (${specs.join(", ")}) could not be installed with npm into ${root}: ${stderr.trim().split("\n").pop() ?? `exit code ${exitCode}`}`);
  return root;
}

/** Bundles src/instrument for node (CommonJS) into dir/instrument.cjs; returns its path. */
export async function buildInstrumentBundle(dir: string): Promise<string> {
  const bundle = await Bun.build({ entrypoints: [join(repoRoot, "src/instrument/index.ts")], outdir: dir, target: "node", format: "cjs", naming: "instrument.cjs", external: ["oxc-parser"] });
  if (!bundle.success) throw new Error(bundle.logs.map(String).join("\n"));
  return join(dir, "instrument.cjs");
}

export interface InstrumentFigures {
  transformMBps: number;
  transformBytes: number;
  plainNsPerCall?: number;
  noRuntimeNs?: number;
  callsBatchedNs?: number;
  callsUnbatchedNs?: number;
  fullBatchedNs?: number;
}

export interface InstrumentRun {
  /** The runtime's executable: "node" or Bun's. */
  runtime: string;
  bundle: string;
  /** A ring to write call events into (calls > 0 only). */
  ringPath?: string;
  calls: number;
  rounds: number;
  corpus?: string[];
  /** Where to write the worker program. */
  dir: string;
  /** Extra environment for the runtime (a compiled scope runs as bun with BUN_BE_BUN=1). */
  env?: Record<string, string>;
}

/** Runs the measuring worker in one runtime; its figures. */
export async function runInstrumentWorker(run: InstrumentRun): Promise<InstrumentFigures> {
  const workerPath = join(run.dir, "instrument-worker.cjs");
  writeFileSync(workerPath, worker);
  const argv = [run.runtime, workerPath, run.bundle, join(repoRoot, "zig-out/lib/scope.node"), run.ringPath ?? "", String(run.calls), String(run.rounds), ...(run.corpus ?? corpusFiles)];
  const child = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, ...run.env } });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`instrument worker (${run.runtime}): ${stderr.trim() || `exit code ${exitCode}`}`);
  return JSON.parse(stdout) as InstrumentFigures;
}

// The hot-function guard is off (hotCallsPerSecond: 0): every call is recorded, the full cost.
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
// As a traced program transforms: under Node >= 20.19 stack positions come from column shifts
// and a file without a map of its own gets none (node-hooks.ts nodeFormatsThroughProperty).
const nodeFormats = !process.versions.bun && process.env.SCOPE_INLINE_MAPS !== "1" && Object.getOwnPropertyDescriptor(Error, "prepareStackTrace")?.value?.name === "ErrorPrepareStackTrace";
const config = { root: "/", include: ["**/node_modules/**"], level: "full", ...(nodeFormats ? { shiftsForStacks: true } : {}) };
const transformOnce = () => { for (const [file, code] of sources) { const r = lib.instrument(code, file, { config }); if (r.status !== "instrumented") throw new Error(file + " " + r.status); } };
transformOnce();
const transformTimes = [];
for (let i = 0; i < 3; i++) { const t = now(); transformOnce(); transformTimes.push(now() - t); }
out.transformMBps = bytes / 1e6 / (median(transformTimes) / 1e9);
out.transformBytes = bytes;

// Calls (skipped when calls is 0: transform throughput only).
if (calls === 0) { console.log(JSON.stringify(out)); process.exit(0); }
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
  const runtime = new lib.FunctionRuntime({ sink: addon, types, hotCallsPerSecond: 0, ...options });
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
out.fullBatchedNs = (() => { const runtime = new lib.FunctionRuntime({ sink: addon, types, hotCallsPerSecond: 0, batchSize: 256, flushIntervalMs: 0 }); globalThis[key] = runtime.hook; const run = load("full"); run(10000); const xs = []; for (let i = 0; i < rounds; i++) { const t = now(); run(fullCalls); xs.push((now() - t) / fullCalls); } runtime.close(); delete globalThis[key]; return median(xs) - plain; })();
out.stats = addon.stats();
addon.detach();
console.log(JSON.stringify(out));
`;


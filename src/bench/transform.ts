/**
 * The transform workload: transform throughput (MB/s of source, measured by the
 * worker shared with scripts/bench-instrument.ts) and the start-up cost instrumenting
 * adds to a real program: node requiring typescript, marked and yaml, untraced, then
 * traced with those files instrumented (calls level) from an empty transform cache
 * (first start: parse + transform + cache write) and again (second start: cached).
 * Runs from a source checkout or the compiled executable: the throughput worker loads the
 * functions agent bundle scope ships (the same code the traced program runs) and the corpus
 * is the checkout's or installed once with npm (instrument.ts ensureCorpus).
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { assets, isCompiled } from "../core/assets";
import { corpusFilesIn, corpusPackages, ensureCorpus, runInstrumentWorker } from "./instrument";
import { cpuOf, launch, nextPaths, readResult, traceFigures, type Mode, type RunContext, type RunMeasurement, type TraceFigures } from "./runner";

export const transformModules = corpusPackages;
/** typescript's function table alone fills a 16 MiB ring's lane before it drains. */
const transformRingBytes = 64 * 1024 ** 2;

export interface TransformThroughput {
  /** MB/s of source through parse → match → transform → print (source map included). */
  nodeMBps: number;
  bunMBps: number;
  corpusBytes: number;
}

export interface StartFigures {
  /** The time the requires took, as the program measured it. */
  requireSeconds: number;
  /** The second (cached) start of a traced pair. */
  warm?: { wallSeconds: number; requireSeconds: number; programCpuSeconds: number; trace?: TraceFigures };
}

/** The transform workload runs wherever npm can install its corpus: nothing to say up front. */
export function transformUnavailable(): string | undefined {
  return undefined;
}

let corpus: string | undefined;

/** The corpus root (its node_modules holds typescript-js, marked, yaml). */
export async function transformCorpus(progress?: (line: string) => void): Promise<string> {
  corpus ??= await ensureCorpus(progress);
  return corpus;
}

export async function measureThroughput(context: RunContext): Promise<TransformThroughput> {
  const root = await transformCorpus();
  const { functionsAgent: bundle, oxcBinding } = await assets();
  const files = corpusFilesIn(root);
  // The binding the agent opens in a traced program (parse.ts: oxc's raw transfer in Node).
  const binding: Record<string, string> = oxcBinding ? { SCOPE_OXC_BINDING: oxcBinding } : {};
  const node = await runInstrumentWorker({ runtime: "node", bundle, calls: 0, rounds: 3, dir: context.dir.dir, corpus: files, env: binding });
  // A compiled scope is Bun too: BUN_BE_BUN=1 makes it run the worker as `bun` would.
  const bun = await runInstrumentWorker({ runtime: process.execPath, bundle, calls: 0, rounds: 3, dir: context.dir.dir, corpus: files, env: { ...binding, ...(isCompiled ? { BUN_BE_BUN: "1" } : {}) } });
  return { nodeMBps: node.transformMBps, bunMBps: bun.transformMBps, corpusBytes: node.transformBytes };
}

function functions(root: string): string {
  return JSON.stringify({ root, include: transformModules.map((name) => `node_modules/${name}/**`), level: "calls" });
}

async function start(context: RunContext, mode: Mode, label: string) {
  const root = await transformCorpus();
  const paths = nextPaths(context, "transform", mode);
  const modules = transformModules.map((name) => join(root, "node_modules", name));
  const argv = ["node", context.dir.path("transform-start.cjs"), paths.result, JSON.stringify({ modules })];
  const wallStart = performance.now();
  const ended = await launch(context, argv, paths.trace, mode === "traced" ? functions(root) : undefined, Math.max(context.ringBytes, transformRingBytes)).exited;
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const result = readResult(paths.result, `transform (${label})`, ended);
  rmSync(paths.result, { force: true });
  const expect = { ...result.expect, minFunctionTables: 1000 };
  const trace = paths.trace && ended.summary ? await traceFigures(context, paths.trace, expect, ended.summary) : undefined;
  return { wallSeconds, requireSeconds: result.seconds, programCpuSeconds: cpuOf(ended.usage), peakRssBytes: result.peakRssBytes, trace };
}

/** One start untraced, or a traced pair of starts (first from an empty cache, then cached). */
export async function runTransformStart(context: RunContext, mode: Mode): Promise<RunMeasurement> {
  const scopeStart = process.cpuUsage();
  let first: Awaited<ReturnType<typeof start>>;
  let warm: StartFigures["warm"];
  if (mode === "untraced") first = await start(context, mode, "untraced");
  else {
    // The agent's transform cache lives under XDG_CACHE_HOME: a private, empty one for
    // this pair, so the first start transforms and the second finds every entry.
    const cache = join(context.dir.dir, `cache-${context.sequence}`);
    mkdirSync(cache, { mode: 0o700 });
    const saved = process.env.XDG_CACHE_HOME;
    await import("../core/assets").then(({ assets }) => assets()); // extracted where they were, before the switch
    process.env.XDG_CACHE_HOME = cache;
    try {
      first = await start(context, mode, "first start");
      const second = await start(context, mode, "second start");
      warm = { wallSeconds: second.wallSeconds, requireSeconds: second.requireSeconds, programCpuSeconds: second.programCpuSeconds, trace: second.trace };
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
      rmSync(cache, { recursive: true, force: true });
    }
  }
  const cpu = process.cpuUsage(scopeStart);
  return {
    mode,
    ops: 1,
    unit: "starts",
    rate: 1 / first.wallSeconds,
    windowSeconds: first.requireSeconds,
    wallSeconds: first.wallSeconds,
    programCpuSeconds: first.programCpuSeconds,
    peakRssBytes: first.peakRssBytes,
    scopeCpuSeconds: (cpu.user + cpu.system) / 1e6,
    trace: first.trace,
    start: { requireSeconds: first.requireSeconds, warm },
  };
}

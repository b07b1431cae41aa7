/**
 * `scope bench`: each workload untraced (A) and traced (B), one warm-up pair, then
 * A/B/A/B for `runs` counted pairs, summarised per workload from the paired runs.
 */
import { VERSION } from "../version";
import { httpWarmupMs, scaledParams, workloads, type Workload } from "./catalogue";
import { describeMachine, type Machine } from "./machine";
import { runNative, type NativeReport } from "./native";
import { runHttp, runProgram, type Mode, type RunContext, type RunMeasurement } from "./runner";
import { measureThroughput, runTransformStart, transformCorpus, transformUnavailable, type TransformThroughput } from "./transform";
import { median, pairedOverhead, relativeNoise, spread, type Spread } from "./stats";
import { extractWorkloads } from "./workloads";
import { loadavg } from "node:os";

export interface BenchOptions {
  workloads: string[];
  runs: number;
  scale: number;
  /** `--warmup`; undefined: each HTTP workload's own (catalogue.ts warmupSeconds). */
  httpWarmupMs: number | undefined;
  httpDurationMs: number;
  ringBytes: number;
  keepTraces: boolean;
  progress: (line: string) => void;
}

export interface PairedFigure {
  untraced: Spread;
  traced: Spread;
  /** Median over alternated pairs of traced/untraced − 1, with its min–max. */
  change: Spread;
}

export interface WorkloadReport {
  name: string;
  description: string;
  unit: string;
  /** Operations per second (requests, round trips, jobs...). */
  rate: PairedFigure;
  /** Cost overhead: median over pairs of (untraced rate / traced rate) − 1. */
  overhead: Spread;
  /** Half the min–max range of the untraced rates, relative: what chance alone moves. */
  noise: number;
  programCpuSeconds: PairedFigure;
  peakRssBytes: PairedFigure;
  scopeCpuSeconds: PairedFigure;
  /** scope's own CPU from the program's start to its end (program workloads): what ran beside the program. */
  scopeCpuWhileRunSeconds?: PairedFigure;
  eventsPerSecond: number;
  /** The producers' highest rate in any traced run (records/s over ≥ 10 ms windows). */
  peakRecordsPerSecond: number;
  recordedPerRun: number;
  dropped: number;
  http?: { p50Ms: PairedFigure; p99Ms: PairedFigure; serverCpuUsPerRequest: PairedFigure };
  /**
   * Workloads with function tracing: ns added per instrumented call (median over pairs
   * of (traced − untraced window) / calls, for workloads whose operations are calls),
   * and function_call events per second of the traced window.
   */
  functions?: { nsPerCall?: Spread; callsPerRun: number; callEventsPerSecond: number; sampled: boolean };
  /**
   * What tracing adds, pair by pair: wall ms per operation (1/traced rate − 1/untraced
   * rate: per worker start for `seed`), and, for workloads that send messages, the
   * program's CPU ns per message event (send or receive) recorded.
   */
  added?: { msPerOp: Spread; cpuNsPerMessageEvent?: Spread; messageEventsPerRun: number };
  /** The transform workload: throughput, and first vs second start (wall ms). */
  transform?: {
    throughput?: TransformThroughput;
    startMs: { untraced: Spread; first: Spread; second: Spread };
    requireMs: { untraced: Spread; first: Spread; second: Spread };
    /** The program's CPU time (whole process) of each start. */
    cpuMs: { untraced: Spread; first: Spread; second: Spread };
    /**
     * Ratios to the untraced start of the same pair (issue 12's bars): wall time of the
     * first and second (cached) start, and their CPU time.
     */
    ratio: { first: Spread; second: Spread; firstCpu: Spread; secondCpu: Spread };
    note?: string;
  };
  checks: { passed: number; failed: number; problems: string[]; keptTraces: string[] };
  /**
   * The web workload: per pair (untraced, traced, otel), server CPU per request and
   * throughput of scope and of OpenTelemetry against the untraced run of the same pair,
   * and what each recorded in its last run (per request served).
   */
  web?: {
    scopeCpu: Spread;
    otelCpu: Spread;
    scopeRate: Spread;
    otelRate: Spread;
    /** Median over pairs of (scope's added CPU per request) / (OTel's added CPU per request). */
    scopeShareOfOtelCost: Spread;
    /** Per request the service served (warm-up included, the shutdown request not). */
    otelRecorded?: Recorded;
    scopeRecorded?: Recorded;
  };
  runs: RunMeasurement[];
  error?: string;
}

export interface Recorded {
  served: number;
  /** Queries the service made. */
  made: number;
  requests: number;
  routes: number;
  queries: number;
  steps?: number;
}

export interface BenchReport {
  scope: string;
  /** The process that ran the collectors (its own records in the traces carry this pid). */
  collectorPid: number;
  startedAt: string;
  machine: Machine;
  loadAverageAfter: number;
  options: { runs: number; scale: number; httpWarmupMs: number | undefined; httpDurationMs: number; ringBytes: number };
  workloads: WorkloadReport[];
  native?: NativeReport;
  ok: boolean;
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const machine = describeMachine();
  const startedAt = new Date().toISOString();
  const dir = await extractWorkloads();
  const context: RunContext = { dir, ringBytes: options.ringBytes, keepTraces: options.keepTraces, sequence: 0 };
  const reports: WorkloadReport[] = [];
  let native: NativeReport | undefined;
  try {
    for (const workload of workloads.filter((each) => options.workloads.includes(each.name))) {
      if (workload.kind === "native") {
        options.progress(`native: microbenchmarks`);
        native = await runNative();
        continue;
      }
      if (workload.kind === "transform") {
        const missing = transformUnavailable();
        if (missing) {
          // Like the native workload: said, not failed (a compiled scope has no checkout).
          const skipped = summarise(workload, []);
          skipped.transform = { ...skipped.transform!, note: `not run: ${missing}` };
          reports.push(skipped);
          continue;
        }
      }
      const report = workload.kind === "http" && workload.web ? await benchWeb(context, workload, options) : await benchWorkload(context, workload, options);
      if (report) reports.push(report);
    }
  } finally {
    if (!reports.some((report) => report.checks.keptTraces.length > 0)) dir.remove();
  }
  const ok = reports.every((report) => !report.error && report.checks.failed === 0) && (native?.ok ?? true);
  return {
    scope: VERSION,
    collectorPid: process.pid,
    startedAt,
    machine,
    loadAverageAfter: loadavg()[0] ?? 0,
    options: {
      runs: options.runs,
      scale: options.scale,
      httpWarmupMs: options.httpWarmupMs,
      httpDurationMs: options.httpDurationMs,
      ringBytes: options.ringBytes,
    },
    workloads: reports,
    native,
    ok,
  };
}

/**
 * The web workload needs a source checkout (express, pg and OpenTelemetry's packages in
 * its node_modules, given to the service through NODE_PATH) and the test PostgreSQL
 * (spec/postgres-harness.ts, started for the workload and stopped after it).
 */
async function benchWeb(context: RunContext, workload: Extract<Workload, { kind: "http" }>, options: BenchOptions): Promise<WorkloadReport | undefined> {
  const { existsSync } = await import("node:fs");
  const { join } = await import("node:path");
  const root = join(import.meta.dir, "..", "..");
  const harness = join(root, "spec", "postgres-harness.ts");
  if (!existsSync(join(root, "node_modules", "express", "package.json")) || !existsSync(harness)) {
    // A compiled scope has none of these: the workload is left out (said on stderr), not failed.
    options.progress(`${workload.name}: not run: needs a source checkout (express, pg, OpenTelemetry's packages and spec/postgres-harness.ts)`);
    return undefined;
  }
  options.progress(`${workload.name}: starting the test PostgreSQL`);
  const { startPostgres } = (await import(harness)) as typeof import("../../spec/postgres-harness");
  const server = await startPostgres();
  const saved = { PGURL: process.env.PGURL, NODE_PATH: process.env.NODE_PATH };
  process.env.PGURL = server.url;
  process.env.NODE_PATH = join(root, "node_modules");
  try {
    return await benchWorkload(context, workload, options);
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    server.stop();
  }
}

async function benchWorkload(context: RunContext, workload: Exclude<Workload, { kind: "native" }>, options: BenchOptions): Promise<WorkloadReport> {
  const once = (mode: Mode) => {
    // This process's own garbage (the last traced run's trace check, decoded here) collected
    // before the run, not by Bun's collector while the run is measured: it took 0.06–0.10 s of
    // CPU from the two cores during a 0.4 s pool run (BENCHMARKS.md "The bench's own garbage").
    Bun.gc(true);
    return workload.kind === "http"
      ? runHttp(context, workload, { warmupMs: httpWarmupMs(workload, options.httpWarmupMs), durationMs: options.httpDurationMs }, mode)
      : workload.kind === "transform"
        ? runTransformStart(context, mode)
        : runProgram(context, workload, scaledParams(workload, options.scale), mode);
  };
  const runs: RunMeasurement[] = [];
  let throughput: TransformThroughput | undefined;
  try {
    if (workload.kind === "transform") {
      await transformCorpus(options.progress);
      options.progress(`${workload.name}: transform throughput (node, bun)`);
      throughput = await measureThroughput(context);
    }
    options.progress(`${workload.name}: warm-up`);
    await once("untraced");
    checked(workload.name, await once("traced"));
    const web = workload.kind === "http" && workload.web === true;
    const total = options.runs * (web ? 3 : 2);
    for (let pair = 0; pair < options.runs; pair++) {
      for (const mode of web ? (["untraced", "traced", "otel"] as const) : (["untraced", "traced"] as const)) {
        options.progress(`${workload.name}: run ${runs.length + 1}/${total} (${mode})`);
        runs.push(await once(mode));
      }
    }
  } catch (error) {
    return summarise(workload, runs, (error as Error).message, throughput);
  }
  return summarise(workload, runs, undefined, throughput);
}

/** The warm-up's trace is checked too: a broken trace should stop the bench early. */
function checked(name: string, run: RunMeasurement): void {
  for (const trace of [run.trace, run.start?.warm?.trace]) {
    const check = trace?.check;
    if (check && !check.ok) throw new Error(`the warm-up's trace ${trace?.path ?? ""} failed its check: ${check.problems.join("; ")}`);
  }
}

function paired(runs: RunMeasurement[], figure: (run: RunMeasurement) => number): PairedFigure {
  const untraced = runs.filter((run) => run.mode === "untraced").map(figure);
  const traced = runs.filter((run) => run.mode === "traced").map(figure);
  return { untraced: spread(untraced), traced: spread(traced), change: pairedOverhead(untraced, traced) };
}

/** Traces of a traced run: its own, and the second start's for the transform workload. */
function tracesOf(run: RunMeasurement) {
  return [run.trace, run.start?.warm?.trace].filter((trace) => trace !== undefined);
}

function functionFigures(workload: Exclude<Workload, { kind: "native" }>, runs: RunMeasurement[]): WorkloadReport["functions"] {
  if (workload.kind === "transform" || !workload.functions || runs.length === 0) return undefined;
  const untraced = runs.filter((run) => run.mode === "untraced");
  const traced = runs.filter((run) => run.mode === "traced");
  const calls = (run: RunMeasurement) => run.trace?.check.counts.function_call ?? 0;
  // Operations that are calls: the added time per call, pair by pair.
  const perCall = runs[0]!.unit === "calls"
    ? traced.map((run, i) => ((run.windowSeconds ?? run.ops / run.rate) - (untraced[i]!.windowSeconds ?? untraced[i]!.ops / untraced[i]!.rate)) / run.ops * 1e9)
    : undefined;
  return {
    nsPerCall: perCall ? spread(perCall) : undefined,
    callsPerRun: median(traced.map(calls)),
    callEventsPerSecond: median(traced.map((run) => calls(run) / (run.windowSeconds ?? run.ops / run.rate))),
    sampled: traced.some((run) => (run.trace?.check.counts.function_sampled ?? 0) > 0),
  };
}

export function addedFigures(runs: RunMeasurement[]): WorkloadReport["added"] {
  const untraced = runs.filter((run) => run.mode === "untraced");
  const traced = runs.filter((run) => run.mode === "traced");
  if (traced.length === 0 || untraced.length !== traced.length) return undefined;
  const messages = (run: RunMeasurement) => (run.trace?.check.counts.message_send ?? 0) + (run.trace?.check.counts.message_receive ?? 0);
  const perMessage = traced.map((run, i) => ((run.programCpuSeconds - untraced[i]!.programCpuSeconds) / messages(run)) * 1e9);
  return {
    msPerOp: spread(traced.map((run, i) => (1 / run.rate - 1 / untraced[i]!.rate) * 1000)),
    cpuNsPerMessageEvent: traced.every((run) => messages(run) > 0) ? spread(perMessage) : undefined,
    messageEventsPerRun: median(traced.map(messages)),
  };
}

function transformFigures(runs: RunMeasurement[], throughput: TransformThroughput | undefined): WorkloadReport["transform"] {
  const untraced = runs.filter((run) => run.mode === "untraced");
  const traced = runs.filter((run) => run.mode === "traced");
  const ms = (values: (number | undefined)[]) => spread(values.filter((value) => value !== undefined).map((value) => value * 1000));
  return {
    throughput,
    startMs: { untraced: ms(untraced.map((run) => run.wallSeconds)), first: ms(traced.map((run) => run.wallSeconds)), second: ms(traced.map((run) => run.start?.warm?.wallSeconds)) },
    requireMs: {
      untraced: ms(untraced.map((run) => run.start?.requireSeconds)),
      first: ms(traced.map((run) => run.start?.requireSeconds)),
      second: ms(traced.map((run) => run.start?.warm?.requireSeconds)),
    },
    cpuMs: { untraced: ms(untraced.map((run) => run.programCpuSeconds)), first: ms(traced.map((run) => run.programCpuSeconds)), second: ms(traced.map((run) => run.start?.warm?.programCpuSeconds)) },
    ratio: {
      first: ratios(untraced, traced, (run) => run.wallSeconds, (run) => run.wallSeconds),
      second: ratios(untraced, traced, (run) => run.wallSeconds, (run) => run.start?.warm?.wallSeconds),
      firstCpu: ratios(untraced, traced, (run) => run.programCpuSeconds, (run) => run.programCpuSeconds),
      secondCpu: ratios(untraced, traced, (run) => run.programCpuSeconds, (run) => run.start?.warm?.programCpuSeconds),
    },
  };
}

/** traced/untraced of each pair (the runs alternate), where both are known. */
function ratios(untraced: RunMeasurement[], traced: RunMeasurement[], base: (run: RunMeasurement) => number, of: (run: RunMeasurement) => number | undefined): Spread {
  const values: number[] = [];
  for (let i = 0; i < Math.min(untraced.length, traced.length); i++) {
    const value = of(traced[i]!);
    const reference = base(untraced[i]!);
    if (value !== undefined && reference > 0) values.push(value / reference);
  }
  return spread(values);
}

function summarise(workload: Exclude<Workload, { kind: "native" }>, runs: RunMeasurement[], error?: string, throughput?: TransformThroughput): WorkloadReport {
  const traced = runs.filter((run) => run.mode === "traced");
  const untracedRates = runs.filter((run) => run.mode === "untraced").map((run) => run.rate);
  const tracedRates = traced.map((run) => run.rate);
  const checks = traced.flatMap(tracesOf).map((trace) => trace.check);
  const problems = [...new Set(checks.flatMap((check) => check.problems))];
  return {
    name: workload.name,
    description: workload.description,
    unit: runs[0]?.unit ?? "",
    rate: paired(runs, (run) => run.rate),
    // Cost per operation is 1/rate: the overhead is the ratio of untraced to traced rate.
    overhead: pairedOverhead(tracedRates, untracedRates),
    noise: relativeNoise(untracedRates),
    programCpuSeconds: paired(runs, (run) => run.programCpuSeconds),
    peakRssBytes: paired(runs, (run) => run.peakRssBytes),
    scopeCpuSeconds: paired(runs, (run) => run.scopeCpuSeconds),
    scopeCpuWhileRunSeconds: runs.length > 0 && runs.every((run) => run.scopeCpuWhileRunSeconds !== undefined) ? paired(runs, (run) => run.scopeCpuWhileRunSeconds!) : undefined,
    eventsPerSecond: median(traced.map((run) => run.trace?.eventsPerSecond ?? 0)),
    peakRecordsPerSecond: Math.max(0, ...traced.flatMap(tracesOf).map((trace) => trace.peakRecordsPerSecond ?? 0)),
    recordedPerRun: median(traced.map((run) => run.trace?.recorded ?? 0)),
    dropped: traced.reduce((sum, run) => sum + (run.trace?.dropped ?? 0), 0),
    http:
      workload.kind === "http"
        ? {
            p50Ms: paired(runs, (run) => run.http!.p50Ms),
            p99Ms: paired(runs, (run) => run.http!.p99Ms),
            serverCpuUsPerRequest: paired(runs, (run) => run.http!.serverCpuUsPerRequest),
          }
        : undefined,
    checks: {
      passed: checks.filter((check) => check.ok).length,
      failed: checks.filter((check) => !check.ok).length,
      problems,
      keptTraces: traced.flatMap(tracesOf).flatMap((trace) => (trace.path ? [trace.path] : [])),
    },
    functions: functionFigures(workload, runs),
    added: addedFigures(runs),
    transform: workload.kind === "transform" ? transformFigures(runs, throughput) : undefined,
    web: workload.kind === "http" && workload.web ? webFigures(runs) : undefined,
    runs,
    error,
  };
}

/** Ratios to the untraced run of the same triple (untraced, traced, otel). */
function webFigures(runs: RunMeasurement[]): WorkloadReport["web"] {
  const of = (mode: string) => runs.filter((run) => run.mode === mode);
  const untraced = of("untraced");
  const traced = of("traced");
  const otel = of("otel");
  const n = Math.min(untraced.length, traced.length, otel.length);
  if (n === 0) return undefined;
  const cpu = (run: RunMeasurement) => run.http!.serverCpuUsPerRequest;
  const pairs = Array.from({ length: n }, (_, i) => ({ u: untraced[i]!, t: traced[i]!, o: otel[i]! }));
  const lastTraced = traced[n - 1]!;
  const lastOtel = otel[n - 1]!;
  const counts = lastTraced.trace?.check.counts ?? {};
  return {
    scopeCpu: spread(pairs.map(({ u, t }) => cpu(t) / cpu(u))),
    otelCpu: spread(pairs.map(({ u, o }) => cpu(o) / cpu(u))),
    scopeRate: spread(pairs.map(({ u, t }) => t.rate / u.rate)),
    otelRate: spread(pairs.map(({ u, o }) => o.rate / u.rate)),
    scopeShareOfOtelCost: spread(pairs.map(({ u, t, o }) => (cpu(t) - cpu(u)) / (cpu(o) - cpu(u)))),
    otelRecorded: lastOtel.otel ? { served: lastOtel.otel.served, made: lastOtel.otel.made, requests: lastOtel.otel.server, routes: lastOtel.otel.route, queries: lastOtel.otel.query } : undefined,
    // The trace also holds the shutdown request (its route and 4 steps).
    scopeRecorded: lastTraced.otel
      ? { served: lastTraced.otel.served, made: lastTraced.otel.made, requests: (counts.http_server_request ?? 1) - 1, routes: (counts.http_route ?? 1) - 1, queries: counts.db_query ?? 0, steps: (counts.http_step_start ?? 4) - 4 }
      : undefined,
  };
}

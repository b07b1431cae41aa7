/**
 * One run of one workload, untraced (plain `node`) or traced (through the same
 * runTraced that `scope run` uses), and what it measured. Traced runs check their
 * trace before they count.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { RunResult } from "../run/session";
import type { RunSummary } from "../run/collector";
import type { AsyncTracing, FunctionTracing, HttpWorkload, ProgramWorkload } from "./catalogue";
import type { Expectation, TraceCheck } from "./check";
import { cpuSeconds } from "./proc";
import type { WorkloadDir } from "./workloads";

/** otel: untraced by scope, under OpenTelemetry's Node SDK instead (the web workload). */
export type Mode = "untraced" | "traced" | "otel";

export interface RunContext {
  dir: WorkloadDir;
  ringBytes: number;
  /** Keep the trace of every traced run (otherwise only of failed checks). */
  keepTraces: boolean;
  sequence: number;
}

/** What the workload program reports about its measured window. */
interface ProgramResult {
  /** The web workload under OpenTelemetry: the spans it recorded, by what they describe. */
  otel?: OtelCounts;
  ops: number;
  unit: string;
  seconds: number;
  expect: Expectation;
  /** VmHWM of the program's main process, read by itself as it ends. */
  peakRssBytes: number;
}

export interface OtelCounts {
  /** Requests the service served (warm-up included, not the shutdown request). */
  served: number;
  /** Queries the service made. */
  made: number;
  server: number;
  route: number;
  query: number;
}

export interface HttpFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The server's CPU time (all threads, user + system) per request in the measured window. */
  serverCpuUsPerRequest: number;
  errors: number;
}

export interface TraceFigures {
  path: string | null;
  recorded: number;
  dropped: number;
  eventsPerSecond: number;
  /** The producers' highest rate in the run (records/s over ≥ 10 ms windows). */
  peakRecordsPerSecond: number;
  fileBytes: number;
  check: TraceCheck;
}

export interface RunMeasurement {
  mode: Mode;
  /** Operations done in the measured window and their unit (requests, round trips...). */
  ops: number;
  unit: string;
  /** Operations per second in the measured window. */
  rate: number;
  /** Seconds of the measured window, as the program timed it. */
  windowSeconds?: number;
  wallSeconds: number;
  /** The program's CPU time (rusage of its whole life, its reaped children included). */
  programCpuSeconds: number;
  /** Peak RSS (VmHWM) of the program's main process; worker threads included, child processes not. */
  peakRssBytes: number;
  /** CPU time of this (the scope) process during the run: the collector's, when traced. */
  scopeCpuSeconds: number;
  /** The same from the program's start to its end only: what competed with the program (the run's set-up and the trace's close left out). */
  scopeCpuWhileRunSeconds?: number;
  http?: HttpFigures;
  trace?: TraceFigures;
  /** The transform workload: the program's own require time, and the traced pair's second (cached) start. */
  start?: import("./transform").StartFigures;
  /** An otel run: what OpenTelemetry recorded. */
  otel?: OtelCounts;
}

type Usage = NonNullable<RunResult["usage"]>;

interface Ended {
  exitCode: number;
  usage: Usage;
  summary?: RunSummary;
  /** This process's CPU from the program's start to its end (seconds). */
  scopeCpuWhileRun: number;
}

interface Launched {
  exited: Promise<Ended>;
  ended: () => boolean;
}

const sink = () => new Writable({ write: (_chunk, _encoding, done) => done() });
const readyTimeoutMs = 30_000;

/** The SCOPE_FUNCTIONS settings of a traced run: the workload's own files, by glob. */
export function functionsSetting(context: RunContext, tracing: FunctionTracing | undefined): string | undefined {
  if (!tracing) return undefined;
  return JSON.stringify({ ...tracing.extra, root: context.dir.dir, include: tracing.include, level: tracing.level });
}

/** Starts argv untraced, or traced into tracePath (with function tracing when `functions` is given). */
export function launch(context: RunContext, argv: string[], tracePath: string | null, functions?: string, ringBytes = context.ringBytes, asyncLevel?: AsyncTracing, events?: string[]): Launched {
  let ended = false;
  const settle = (value: Ended) => {
    ended = true;
    return value;
  };
  if (tracePath === null) {
    // The environment as it is now (the web workload sets PGURL and NODE_PATH for its runs).
    const child = Bun.spawn(argv, { env: { ...process.env }, stdio: ["ignore", "inherit", "inherit"] });
    const start = process.cpuUsage();
    const exited = child.exited.then((exitCode) => settle({ exitCode, usage: child.resourceUsage()!, scopeCpuWhileRun: usageSeconds(process.cpuUsage(start)) }));
    return { exited, ended: () => ended };
  }
  let finished: RunResult | undefined;
  // Loaded on first use: the untraced side needs none of the native bindings.
  const exited = import("../run/session").then(({ runTraced }) => runTraced({
    argv,
    out: tracePath,
    functions,
    async: asyncLevel,
    events,
    ringBytes,
    mode: "discard",
    print: false,
    stdout: sink(),
    stderr: sink(),
    colorEnabled: false,
    onFinish: (result) => {
      finished = result;
    },
  })).then((exitCode) => {
    if (!finished?.usage) throw new Error(`traced run of ${argv.join(" ")} ended without a summary`);
    return settle({ exitCode, usage: finished.usage, summary: finished.summary, scopeCpuWhileRun: usageSeconds(finished.ownCpuWhileRun) });
  });
  return { exited, ended: () => ended };
}

/** Waits for a workload's ready file ({pid, port?}), failing if the program ends first. */
export async function waitForReady<T>(path: string, launched: Launched, what: string): Promise<T> {
  const deadline = Date.now() + readyTimeoutMs;
  while (!existsSync(path)) {
    if (launched.ended()) throw new Error(`${what} exited before it was ready`);
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${readyTimeoutMs / 1000}s`);
    await Bun.sleep(5);
  }
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

export function nextPaths(context: RunContext, name: string, mode: Mode) {
  const n = context.sequence++;
  const base = join(context.dir.dir, `${name}-${n}`);
  return { result: `${base}.result.json`, ready: `${base}.ready.json`, trace: mode === "traced" ? `${base}.trace.bin` : null };
}

export function readResult(path: string, what: string, ended: Ended): ProgramResult {
  if (ended.exitCode !== 0) throw new Error(`${what} exited with code ${ended.exitCode}`);
  if (!existsSync(path)) throw new Error(`${what} ended without writing its result`);
  return JSON.parse(readFileSync(path, "utf8")) as ProgramResult;
}

/** A program counts its functions' calls either way; the trace holds them only when they were traced. */
function withoutFunctions(expect: Expectation, traced: FunctionTracing | undefined): Expectation {
  if (traced) return expect;
  const { functions: _functions, ...rest } = expect;
  return rest;
}

/** A service counts the requests it served either way; the trace holds them only with the http group on. */
function withoutHttp(expect: Expectation, events: string[] | undefined): Expectation {
  if (events === undefined || events.includes("http")) return expect;
  const { http: _http, ...rest } = expect;
  return rest;
}

export async function traceFigures(context: RunContext, tracePath: string, expect: Expectation, summary: RunSummary): Promise<TraceFigures> {
  const { checkTrace } = await import("./check");
  const check = checkTrace(tracePath, expect, summary);
  const keep = context.keepTraces || !check.ok;
  if (!keep) rmSync(tracePath, { force: true });
  return {
    path: keep ? tracePath : null,
    recorded: summary.recorded,
    dropped: summary.dropped + summary.overwritten,
    eventsPerSecond: summary.recorded / (Number(summary.durationNs) / 1e9),
    peakRecordsPerSecond: summary.peakRecordsPerSecond,
    fileBytes: summary.fileBytes,
    check,
  };
}

export function cpuOf(usage: Usage): number {
  return Number(usage.cpuTime.total) / 1e6;
}

function scopeCpuSince(start: NodeJS.CpuUsage): number {
  return usageSeconds(process.cpuUsage(start));
}

function usageSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

export async function runProgram(context: RunContext, workload: ProgramWorkload, params: Record<string, number>, mode: Mode): Promise<RunMeasurement> {
  const paths = nextPaths(context, workload.name, mode);
  const argv = ["node", context.dir.path(workload.file), paths.result, JSON.stringify(params)];
  const scopeStart = process.cpuUsage();
  const wallStart = performance.now();
  const ended = await launch(context, argv, paths.trace, functionsSetting(context, workload.functions), context.ringBytes, workload.async, workload.events).exited;
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const scopeCpuSeconds = scopeCpuSince(scopeStart);
  const result = readResult(paths.result, `${workload.name} (${mode})`, ended);
  rmSync(paths.result, { force: true });
  return {
    mode,
    ops: result.ops,
    unit: result.unit,
    rate: result.ops / result.seconds,
    windowSeconds: result.seconds,
    wallSeconds,
    programCpuSeconds: cpuOf(ended.usage),
    peakRssBytes: result.peakRssBytes,
    scopeCpuSeconds,
    scopeCpuWhileRunSeconds: ended.scopeCpuWhileRun,
    trace: paths.trace && ended.summary ? await traceFigures(context, paths.trace, asyncExpected(withoutFunctions(result.expect, workload.functions), workload.async), ended.summary) : undefined,
  };
}

/** A program counts the async resources it made either way; the trace holds them only with --async (promises only at that level). */
function asyncExpected(expect: Expectation, level: AsyncTracing | undefined): Expectation {
  const { asyncInits, ...rest } = expect;
  if (!asyncInits || level === undefined) return rest;
  if (level === "promises") return expect;
  const { PROMISE: _promises, ...callbacks } = asyncInits;
  return { ...rest, asyncInits: callbacks };
}

export interface HttpOptions {
  warmupMs: number;
  durationMs: number;
  /** How long the server may take to exit after its /shutdown (it closes its connections and pool: well under a second); default 30 s. */
  exitTimeoutMs?: number;
}

interface LoadResult {
  requests: number;
  seconds: number;
  errors: number;
  non2xx: number;
  p50Ms: number;
  p99Ms: number;
  requestsPerSecond: number;
}

export async function runHttp(context: RunContext, workload: HttpWorkload, options: HttpOptions, mode: Mode): Promise<RunMeasurement> {
  const paths = nextPaths(context, workload.name, mode);
  const argv = ["node", context.dir.path(workload.server ?? "http-server.cjs"), paths.result, JSON.stringify({ ready: paths.ready, otel: mode === "otel" ? 1 : 0 })];
  const wallStart = performance.now();
  const server = launch(context, argv, paths.trace, functionsSetting(context, workload.functions), context.ringBytes, workload.async, workload.events);
  let window: { serverCpu: number; scopeCpu: number; load: LoadResult };
  let serverPid = 0;
  try {
    const { port, pid } = await waitForReady<{ port: number; pid: number }>(paths.ready, server, "the HTTP server");
    serverPid = pid;
    window = await drive(context, workload, options, port, pid);
  } finally {
    // Ends the server whatever happened to the load, so that no run leaks a process.
    await fetch(`http://127.0.0.1:${readPort(paths.ready)}/shutdown`).catch(() => undefined);
  }
  const ended = await exitedAfterShutdown(server, serverPid, `the HTTP server (${mode})`, options.exitTimeoutMs ?? 30_000);
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const served = readResult(paths.result, `http server (${mode})`, ended);
  rmSync(paths.result, { force: true });
  rmSync(paths.ready, { force: true });
  const { load } = window;
  if (load.errors > 0 || load.non2xx > 0) throw new Error(`http (${mode}): ${load.errors} socket errors, ${load.non2xx} non-2xx responses`);
  return {
    mode,
    ops: load.requests,
    unit: "requests",
    rate: load.requestsPerSecond,
    wallSeconds,
    programCpuSeconds: cpuOf(ended.usage),
    peakRssBytes: served.peakRssBytes,
    scopeCpuSeconds: window.scopeCpu,
    http: {
      requestsPerSecond: load.requestsPerSecond,
      p50Ms: load.p50Ms,
      p99Ms: load.p99Ms,
      serverCpuUsPerRequest: (window.serverCpu / load.requests) * 1e6,
      errors: load.errors,
    },
    trace: paths.trace && ended.summary ? await traceFigures(context, paths.trace, withoutHttp(withoutFunctions(served.expect, workload.functions), workload.events), ended.summary) : undefined,
    otel: served.otel,
  };
}

/**
 * The server's end; `timeoutMs` after its /shutdown, the server killed and an error (the run
 * fails with a line saying so instead of the bench waiting for ever: a mid-stop CI's web test
 * once reached its 120 s timeout with no line of why).
 */
async function exitedAfterShutdown(server: Launched, pid: number, what: string, timeoutMs: number): Promise<Ended> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  const ended = await Promise.race([server.exited, late]);
  clearTimeout(timer);
  if (ended !== undefined) return ended;
  if (pid > 0) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
  await server.exited.catch(() => undefined);
  throw new Error(`${what} did not exit within ${timeoutMs / 1000}s of its /shutdown (killed)`);
}

function readPort(readyPath: string): number {
  try {
    return (JSON.parse(readFileSync(readyPath, "utf8")) as { port: number }).port;
  } catch {
    return 0;
  }
}

/** Runs the load generator; samples the server's and scope's CPU at the edges of its measured window. */
async function drive(context: RunContext, workload: HttpWorkload, options: HttpOptions, port: number, pid: number) {
  const params = { port, connections: workload.connections, warmupMs: options.warmupMs, durationMs: options.durationMs, paths: workload.paths };
  const load = Bun.spawn(["node", context.dir.path("http-load.cjs"), JSON.stringify(params)], { stdout: "pipe", stderr: "inherit", stdin: "ignore" });
  let serverCpuStart = Number.NaN;
  let serverCpu = Number.NaN;
  let scopeStart = process.cpuUsage();
  let scopeCpu = Number.NaN;
  let resultLine = "";
  let pending = "";
  const decoder = new TextDecoder();
  for await (const chunk of load.stdout) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line === "measure") {
        serverCpuStart = cpuSeconds(pid) ?? Number.NaN;
        scopeStart = process.cpuUsage();
      } else if (line === "done") {
        serverCpu = (cpuSeconds(pid) ?? Number.NaN) - serverCpuStart;
        scopeCpu = scopeCpuSince(scopeStart);
      } else if (line.startsWith("{")) resultLine = line;
    }
  }
  const exitCode = await load.exited;
  if (exitCode !== 0 || !resultLine) throw new Error(`the HTTP load generator failed (exit code ${exitCode})`);
  if (!Number.isFinite(serverCpu)) throw new Error("could not read the HTTP server's CPU time from /proc");
  return { serverCpu, scopeCpu, load: JSON.parse(resultLine) as LoadResult };
}

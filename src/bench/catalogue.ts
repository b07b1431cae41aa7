/** The built-in workloads of `scope bench`, in the order they run. */
import type { WorkloadFile } from "./workloads";

/**
 * Function tracing of the workload's own files (`scope run --functions`) when traced:
 * globs relative to the workload directory, the level, and MatchConfig extras.
 */
export interface FunctionTracing {
  include: WorkloadFile[];
  level: "calls" | "full";
  /** Other settings passed as they are (e.g. hotCallsPerSecond: 0 turns the guard off). */
  extra?: Record<string, unknown>;
}

export interface ProgramWorkload {
  name: string;
  description: string;
  kind: "program";
  file: WorkloadFile;
  /** The program's parameters at scale 1; sizes scale with --scale. */
  params: Record<string, number>;
  /** Parameters that are not amounts of work (never scaled). */
  fixed?: readonly string[];
  functions?: FunctionTracing;
  /** Traced with `scope run --async=<level>` (async causality). */
  async?: AsyncTracing;
  /** The traced run's --events (scope run's groups); the default groups when absent. */
  events?: string[];
}

/** The warm-up of an HTTP workload that names none, when `--warmup` is not given. */
export const DEFAULT_HTTP_WARMUP_SECONDS = 2;

/** The milliseconds of load before an HTTP workload's measured window: `--warmup`'s (given), else the workload's own, else the default. */
export function httpWarmupMs(workload: HttpWorkload, givenMs: number | undefined): number {
  return givenMs ?? (workload.warmupSeconds ?? DEFAULT_HTTP_WARMUP_SECONDS) * 1000;
}

/** The HTTP warm-ups when `--warmup` is not given, as the report and the CLI's help print them: "2s (web 8s)". */
export function defaultWarmupText(): string {
  const own = workloads.flatMap((workload) => (workload.kind === "http" && workload.warmupSeconds !== undefined ? [`${workload.name} ${workload.warmupSeconds}s`] : []));
  return `${DEFAULT_HTTP_WARMUP_SECONDS}s${own.length > 0 ? ` (${own.join(", ")})` : ""}`;
}

/** The --async level of a traced run. */
export type AsyncTracing = "callbacks" | "promises";

export interface HttpWorkload {
  name: string;
  description: string;
  kind: "http";
  connections: number;
  /** The service (default http-server.cjs) and the targets the load takes in turn (default /item). */
  server?: WorkloadFile;
  paths?: string[];
  /**
   * The web workload: Express and pg from the source checkout, the test PostgreSQL, and
   * each pair joined by a run under OpenTelemetry's Node SDK.
   */
  web?: true;
  functions?: FunctionTracing;
  /** Traced with `scope run --async=<level>` (async causality). */
  async?: AsyncTracing;
  /** The traced run's --events (scope run's groups); the default groups when absent. */
  events?: string[];
  /** Seconds of load before each run's measured window when `--warmup` is not given (default DEFAULT_HTTP_WARMUP_SECONDS). */
  warmupSeconds?: number;
}

/** Transform throughput and the start-up cost of instrumenting a real program. */
export interface TransformWorkload {
  name: string;
  description: string;
  kind: "transform";
}

export interface NativeWorkload {
  name: string;
  description: string;
  kind: "native";
}

export type Workload = ProgramWorkload | HttpWorkload | TransformWorkload | NativeWorkload;

/** functions.cjs traced at `level` with the hot-function guard off (every call recorded). */
function functionsOf(level: FunctionTracing["level"]): FunctionTracing {
  return { include: ["functions.cjs"], level, extra: { hotCallsPerSecond: 0 } };
}

/** The functions-governed workload's --max-overhead (percent of wall time). */
export const GOVERNED_BUDGET_PERCENT = 10;

export const workloads: readonly Workload[] = [
  {
    name: "http",
    description: "node:http JSON service on loopback, 32 keep-alive connections",
    kind: "http",
    connections: 32,
  },
  {
    name: "http-bare",
    description: "the same service traced with nothing recorded per request (--events process,thread,message): what tracing costs a service whose requests are not traced (issue 10's bar)",
    kind: "http",
    connections: 32,
    events: ["process", "thread", "message"],
  },
  {
    name: "http-functions",
    description: "the same service, its own code traced (--functions, calls level)",
    kind: "http",
    connections: 32,
    functions: { include: ["http-server.cjs"], level: "calls" },
  },
  {
    name: "http-async",
    description: "the same service traced with --async (callbacks: timers, I/O, sockets, ticks; no promise records)",
    kind: "http",
    connections: 32,
    async: "callbacks",
  },
  {
    name: "http-async-promises",
    description: "the same service traced with --async=promises (every promise too)",
    kind: "http",
    connections: 32,
    async: "promises",
  },
  {
    name: "web",
    description: "Express + pg JSON service against the test PostgreSQL (one middleware, two routes, 1 or 2 queries per request), 16 keep-alive connections; beside it the same service under OpenTelemetry",
    kind: "http",
    connections: 16,
    server: "web-server.cjs",
    paths: ["/items/7", "/orders/3"],
    web: true,
    // A service's cost a request is its steady one: on Node 24 V8 keeps compiling this service
    // (Express, pg, scope's wrappers) until ~12,000 requests, traced and untraced alike, so a
    // 2 s warm-up measures that tier-up rather than a request (BENCHMARKS.md "Web: the whole
    // process's share, compiles and allocation"; both windows in "End of the 2026-12-06 00:02 stop").
    warmupSeconds: 8,
  },
  {
    name: "pingpong",
    description: "worker-thread ping-pong (postMessage both ways)",
    kind: "program",
    file: "pingpong.cjs",
    params: { roundTrips: 20000 },
  },
  {
    name: "pool",
    description: "pool of 2 worker threads processing small jobs",
    kind: "program",
    file: "pool.cjs",
    params: { workers: 2, jobs: 100000, inFlight: 8, rounds: 200 },
    fixed: ["workers", "inFlight", "rounds"],
  },
  {
    name: "processes",
    description: "child-process churn: fork, one IPC message each way, exit",
    kind: "program",
    file: "processes.cjs",
    params: { children: 40, concurrency: 2 },
    fixed: ["concurrency"],
  },
  {
    name: "seed",
    description: "the seed's: spawn a worker, send it a message, let it exit",
    kind: "program",
    file: "seed.cjs",
    params: { workers: 100 },
  },
  {
    name: "loop-gc",
    description: "allocation-heavy units of work, one turn of the loop each (setImmediate, 1 in 8 setTimeout), traced with only the loop and memory groups (--events process,loop,memory: samples at 1 s, long tasks, every GC; process for its own exit)",
    kind: "program",
    file: "loopgc.cjs",
    params: { units: 4000, objectsPerUnit: 2000 },
    fixed: ["objectsPerUnit"],
    events: ["process", "loop", "memory"],
  },
  {
    name: "http-loop-gc",
    description: "the http workload with the loop and memory groups added to the default ones (--events +loop,+memory)",
    kind: "http",
    connections: 32,
    events: ["process", "thread", "message", "http", "db", "loop", "memory"],
  },
  {
    name: "control",
    description: "CPU-bound JavaScript with no traced events",
    kind: "program",
    file: "control.cjs",
    params: { iterations: 1000 },
  },
  {
    name: "functions",
    description: "CPU-bound calls of small instrumented functions (calls level, every call recorded)",
    kind: "program",
    file: "functions.cjs",
    params: { calls: 2_000_000, chunkCalls: 5_000, pauseMs: 10 },
    fixed: ["chunkCalls", "pauseMs"],
    // The hot-function guard off: every call is recorded, the full per-call cost.
    functions: functionsOf("calls"),
  },
  {
    name: "functions-full",
    description: "the same calls at the full level (entry, return, argument and value previews, every call recorded)",
    kind: "program",
    file: "functions.cjs",
    // A call, a return and their previews (string records) per call, ~2 µs each: fewer
    // calls, and chunks of 1,000 so a chunk stays well within a ring lane.
    params: { calls: 200_000, chunkCalls: 1_000, pauseMs: 10 },
    fixed: ["chunkCalls", "pauseMs"],
    functions: functionsOf("full"),
  },
  {
    name: "functions-governed",
    description: "functions-full under the overhead governor (--max-overhead 10): full-level tracing stepped down to hold 10% of wall time",
    kind: "program",
    file: "functions.cjs",
    params: { calls: 200_000, chunkCalls: 1_000, pauseMs: 10 },
    fixed: ["chunkCalls", "pauseMs"],
    functions: { ...functionsOf("full"), extra: { hotCallsPerSecond: 0, maxOverhead: GOVERNED_BUDGET_PERCENT } },
  },
  {
    name: "async",
    description: "promise-heavy async JavaScript (an immediate, a nextTick and ~10 promises a task, 16 in flight), traced without --async: the default's cost",
    kind: "program",
    file: "async.cjs",
    params: { tasks: 50_000, inFlight: 16 },
    fixed: ["inFlight"],
  },
  {
    name: "async-callbacks",
    description: "the same tasks traced with --async (callbacks: timers, immediates, ticks, I/O; no promise records)",
    kind: "program",
    file: "async.cjs",
    params: { tasks: 50_000, inFlight: 16 },
    fixed: ["inFlight"],
    async: "callbacks",
  },
  {
    name: "async-promises",
    description: "the same tasks traced with --async=promises (every promise's creation, reactions and resolve)",
    kind: "program",
    file: "async.cjs",
    params: { tasks: 50_000, inFlight: 16 },
    fixed: ["inFlight"],
    async: "promises",
  },
  {
    name: "transform",
    description: "transform MB/s; start of a real program (typescript, marked, yaml required) instrumented, cold and cached",
    kind: "transform",
  },
  {
    name: "native",
    description: "ring and codec microbenchmarks (scripts/ of the native core)",
    kind: "native",
  },
];

export const workloadNames = workloads.map((workload) => workload.name);

/** The parameters for one run: amounts of work scaled, at least 1 of each. */
export function scaledParams(workload: ProgramWorkload, scale: number): Record<string, number> {
  const params: Record<string, number> = {};
  for (const [key, value] of Object.entries(workload.params)) {
    params[key] = workload.fixed?.includes(key) ? value : Math.max(1, Math.round(value * scale));
  }
  return params;
}

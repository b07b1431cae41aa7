/**
 * `scope bench --soak <duration>`: one long traced run of a steady workload, bounded in
 * time. Traffic `http` (the default): the node:http JSON service (http-server.cjs, the
 * `http` workload's server) traced, under a steady keep-alive load over 127.0.0.1
 * (soak-load.cjs: a fixed number of requests per second on a few connections) that
 * stops by itself. Traffic `messages`: worker messages at a fixed rate, a short-lived
 * worker every second, a child process every 5 seconds (soak.cjs).
 *
 * Every second it samples the resident memory of the traced program (/proc) and of the
 * collector (this process: scope bench collects in-process, as `scope run` does), then
 * judges: both flat after the warm-up (stats.ts `flatness`), nothing lost, for HTTP every
 * request the load generator completed in the trace as an http_server_request, and the
 * trace readable and complete (check.ts). Memory must stay flat: the ring is fixed and
 * the collector streams to disk.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { VERSION } from "../version";
import type { Expectation, TraceCheck } from "./check";
import { describeMachine, type Machine } from "./machine";
import { memory } from "./proc";
import { launch, readResult, waitForReady, type RunContext } from "./runner";
import { flatness, flatRatio, flatSlopeBytesPerMinute, median, type Flatness } from "./stats";
import { extractWorkloads } from "./workloads";

export const soakTraffics = ["http", "messages"] as const;
export type SoakTraffic = (typeof soakTraffics)[number];

export interface SoakOptions {
  seconds: number;
  traffic: SoakTraffic;
  /** Requests per second (http) or worker messages per second (messages). */
  rate: number;
  /** Keep-alive connections of the HTTP load. */
  connections: number;
  ringBytes: number;
  progress: (line: string) => void;
}

export interface SoakSample {
  /** Seconds since the program was ready. */
  t: number;
  programRssBytes: number;
  collectorRssBytes: number;
  /** The anonymous part of each (RssAnon: heaps, stacks; the rest is mapped files and the ring). */
  programAnonBytes: number;
  collectorAnonBytes: number;
  /** The machine's 1-minute load average at the sample. */
  loadAverage: number;
}

export interface SoakHttp {
  connections: number;
  /** Requests the load generator sent and got a complete response to. */
  sent: number;
  completed: number;
  requestsPerSecond: number;
  errors: number;
  non2xx: number;
  /** Requests the service counted (without the final /shutdown). */
  served: number;
  /** http_server_request events in the trace (the /shutdown request included). */
  traced: number;
}

export interface SoakReport {
  scope: string;
  startedAt: string;
  machine: Machine;
  traffic: SoakTraffic;
  seconds: number;
  rate: number;
  /** The figures of the thresholds `flat` was judged by. */
  flatSlopeBytesPerMinute: number;
  flatRatio: number;
  samples: SoakSample[];
  /** Median and maximum of the 1-minute load average over the samples. */
  loadAverage: { median: number; max: number };
  program: Flatness;
  collector: Flatness;
  /** The same judgement of the anonymous memory alone: for diagnosis, not in the verdict. */
  programAnon: Flatness;
  collectorAnon: Flatness;
  http: SoakHttp | null;
  recorded: number;
  dropped: number;
  traceBytes: number;
  check: TraceCheck;
  /** What failed the verdict (empty when ok). */
  problems: string[];
  /** The trace, kept when its check failed. */
  keptTrace: string | null;
  ok: boolean;
}

interface LoadResult {
  sent: number;
  requests: number;
  seconds: number;
  errors: number;
  non2xx: number;
  requestsPerSecond: number;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const machine = describeMachine();
  const startedAt = new Date().toISOString();
  const dir = await extractWorkloads();
  const context: RunContext = { dir, ringBytes: options.ringBytes, keepTraces: false, sequence: 0 };
  const paths = { result: join(dir.dir, "soak.result.json"), ready: join(dir.dir, "soak.ready.json"), trace: join(dir.dir, "soak.trace.bin") };
  const http = options.traffic === "http";
  // V8's young generation starts at its maximum (16 MiB semi-spaces, Node 20's on 64-bit):
  // otherwise it doubles when the scavenger sees a high allocation rate (8 -> 16 -> 32 MiB of
  // new space), RSS steps by 6-8 MiB at a time well after warm-up, and the flatness rule reads
  // a bounded resize as growth (BENCHMARKS.md "Soak (HTTP, issue 13)": heap used after a full
  // GC stays flat). Pinned, what RSS still gains is memory the program keeps.
  const youngGeneration = ["--min-semi-space-size=16", "--max-semi-space-size=16"];
  const argv = http
    ? ["node", ...youngGeneration, dir.path("http-server.cjs"), paths.result, JSON.stringify({ ready: paths.ready })]
    : ["node", ...youngGeneration, dir.path("soak.cjs"), paths.result, JSON.stringify({ seconds: options.seconds, rate: options.rate, ready: paths.ready })];
  const samples: SoakSample[] = [];
  let keep = false;
  try {
    const run = launch(context, argv, paths.trace);
    let load: Promise<LoadResult> | undefined;
    let port = 0;
    try {
      const ready = await waitForReady<{ pid: number; port?: number }>(paths.ready, run, http ? "the soak's HTTP server" : "the soak workload");
      port = ready.port ?? 0;
      const started = performance.now();
      if (http) load = startLoad(dir.path("soak-load.cjs"), { port, connections: options.connections, rate: options.rate, seconds: options.seconds });
      let loadEnded = false;
      load?.then(
        () => (loadEnded = true),
        () => (loadEnded = true),
      );
      // The program ends by itself (messages) or once the load has ended and it is told to (http).
      while (!run.ended() && !loadEnded) {
        const t = (performance.now() - started) / 1000;
        const program = memory(ready.pid);
        const collector = memory("self");
        if (program && collector) {
          samples.push({
            t,
            programRssBytes: program.rssBytes,
            collectorRssBytes: collector.rssBytes,
            programAnonBytes: program.anonBytes,
            collectorAnonBytes: collector.anonBytes,
            loadAverage: loadavg()[0]!,
          });
        }
        if (samples.length % 10 === 1) {
          options.progress(
            `soak (${options.traffic}): ${Math.floor(t)}/${options.seconds}s, program ${mib(program?.rssBytes)} (anon ${mib(program?.anonBytes)}), ` +
              `collector ${mib(collector?.rssBytes)} (anon ${mib(collector?.anonBytes)})`,
          );
        }
        await Promise.race([run.exited, load ?? run.exited, Bun.sleep(1000)]);
      }
    } finally {
      // Ends the server whatever happened to the load, so that no run leaks a process.
      if (http) await fetch(`http://127.0.0.1:${port}/shutdown`).catch(() => undefined);
    }
    const loadResult = load ? await load : undefined;
    const ended = await run.exited;
    const result = readResult(paths.result, http ? "the soak's HTTP server" : "the soak workload", ended);
    const summary = ended.summary!;
    options.progress(`soak (${options.traffic}): checking the trace (${mib(summary.fileBytes)})`);
    const { checkTrace } = await import("./check");
    // The service counts its functions' calls too; they are not instrumented here.
    const { functions: _functions, ...expect }: Expectation = result.expect;
    const check = checkTrace(paths.trace, expect, summary);
    keep = !check.ok;
    const series = (pick: (sample: SoakSample) => number) => samples.map((sample) => ({ t: sample.t, value: pick(sample) }));
    const program = flatness(series((sample) => sample.programRssBytes), options.seconds);
    const collector = flatness(series((sample) => sample.collectorRssBytes), options.seconds);
    const programAnon = flatness(series((sample) => sample.programAnonBytes), options.seconds);
    const collectorAnon = flatness(series((sample) => sample.collectorAnonBytes), options.seconds);
    const dropped = summary.dropped + summary.overwritten;
    const problems: string[] = [];
    if (!program.flat) problems.push("the program's resident memory is not flat");
    if (!collector.flat) problems.push("the collector's resident memory is not flat");
    if (dropped > 0) problems.push(`${dropped} events lost`);
    if (!check.ok) problems.push(...check.problems);
    let httpFigures: SoakHttp | null = null;
    if (loadResult) {
      const traced = check.counts.http_server_request ?? 0;
      httpFigures = {
        connections: options.connections,
        sent: loadResult.sent,
        completed: loadResult.requests,
        requestsPerSecond: loadResult.requestsPerSecond,
        errors: loadResult.errors,
        non2xx: loadResult.non2xx,
        served: result.ops,
        traced,
      };
      if (loadResult.errors > 0 || loadResult.non2xx > 0) problems.push(`the load saw ${loadResult.errors} socket errors, ${loadResult.non2xx} non-2xx responses`);
      if (loadResult.requests !== result.ops) problems.push(`the load completed ${loadResult.requests} requests, the server served ${result.ops}`);
      // Every completed request, and the /shutdown, is in the trace.
      if (traced !== loadResult.requests + 1) problems.push(`${traced} http_server_request events in the trace for ${loadResult.requests} completed requests and the /shutdown`);
      if (loadResult.requests === 0) problems.push("the load completed no request");
    }
    const loads = samples.map((sample) => sample.loadAverage);
    return {
      scope: VERSION,
      startedAt,
      machine,
      traffic: options.traffic,
      seconds: options.seconds,
      rate: options.rate,
      flatSlopeBytesPerMinute,
      flatRatio,
      samples,
      loadAverage: { median: median(loads), max: Math.max(...loads) },
      program,
      collector,
      programAnon,
      collectorAnon,
      http: httpFigures,
      recorded: summary.recorded,
      dropped,
      traceBytes: summary.fileBytes,
      check,
      problems,
      keptTrace: keep ? paths.trace : null,
      ok: problems.length === 0,
    };
  } finally {
    if (keep) rmSync(paths.result, { force: true });
    else dir.remove();
  }
}

/** Runs the soak's load generator; resolves with its result line. */
async function startLoad(script: string, params: { port: number; connections: number; rate: number; seconds: number }): Promise<LoadResult> {
  const load = Bun.spawn(["node", script, JSON.stringify(params)], { stdout: "pipe", stderr: "inherit", stdin: "ignore" });
  const output = await new Response(load.stdout).text();
  const exitCode = await load.exited;
  const line = output.split("\n").find((text) => text.startsWith("{"));
  if (exitCode !== 0 || !line) throw new Error(`the soak's HTTP load generator failed (exit code ${exitCode})`);
  return JSON.parse(line) as LoadResult;
}

function mib(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) ? "–" : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatSoak(report: SoakReport): string {
  const signed = (value: number, text: string) => `${value >= 0 ? "+" : "−"}${text}`;
  const line = (name: string, f: Flatness) =>
    `  ${name}: ${mib(f.secondQuarterBytes)} → ${mib(f.lastQuarterBytes)} (${signed(f.changeRatio, `${Math.abs(f.changeRatio * 100).toFixed(1)}%`)}), ` +
    `slope ${signed(f.slopeBytesPerMinute, `${(Math.abs(f.slopeBytesPerMinute) / 1024).toFixed(0)} KiB/min`)}, peak ${mib(f.peakBytes)}  ${f.flat ? "flat" : "NOT FLAT"}`;
  const m = report.machine;
  const h = report.http;
  const workload =
    report.traffic === "http"
      ? `workload: http: the node:http JSON service traced, ${report.rate} requests/s on ${h?.connections ?? "?"} keep-alive connections over 127.0.0.1`
      : `workload: messages: ${report.rate} worker messages/s, a worker every second, a child process every 5 s`;
  return [
    `scope bench --soak ${report.seconds}s --soak-traffic ${report.traffic}  ${report.startedAt}`,
    `machine: ${m.cores} cores (${m.cpuModel}), node ${m.node}, bun ${m.bun}; load average (1 min) ${m.loadAverage.toFixed(2)} at the start, ` +
      `median ${report.loadAverage.median.toFixed(2)}, max ${report.loadAverage.max.toFixed(2)} over the run`,
    `${workload}; RSS sampled every second (${report.samples.length} samples)`,
    `resident memory, median of the 2nd quarter → of the last quarter, least-squares slope over the 2nd half, peak after the 1st quarter ` +
      `(flat = slope ≤ ${(report.flatSlopeBytesPerMinute / 1024 ** 2).toFixed(0)} MiB/min and change within ±${(report.flatRatio * 100).toFixed(0)}%):`,
    line("program  ", report.program),
    line("collector", report.collector),
    "  of which anonymous (RssAnon: heaps, stacks; not judged, the rest is mapped files such as node's code):",
    line("program  ", report.programAnon),
    line("collector", report.collectorAnon),
    ...(h
      ? [
          `requests: ${h.completed.toLocaleString("en-US")} completed (${h.requestsPerSecond.toFixed(0)}/s), ${h.served.toLocaleString("en-US")} served, ` +
            `${h.traced.toLocaleString("en-US")} http_server_request in the trace (+1: the /shutdown); ${h.errors} errors, ${h.non2xx} non-2xx`,
        ]
      : []),
    `trace: ${report.recorded.toLocaleString("en-US")} records, ${report.dropped} lost, ${mib(report.traceBytes)}; check ${report.check.ok ? "ok" : "FAILED"}`,
    report.ok ? "verdict: ok" : `verdict: FAILED: ${report.problems.join("; ")}`,
    ...(report.keptTrace ? [`trace kept at ${report.keptTrace}`] : []),
    "",
  ].join("\n");
}

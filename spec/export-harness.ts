/**
 * For the export tests: the traced service of spec/fixtures/export/app.cjs, the Python
 * checkers (scripts/check-perfetto.py, scripts/check-otlp.py) run in the venv that
 * scripts/export-check-install.sh makes, and a real OTLP receiver (Jaeger v2 built by
 * scripts/jaeger-install.sh) on free loopback ports with in-memory storage.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventKind } from "../src/core/layout";
import { monotonicNs } from "../src/core/ring";
import { TraceWriter } from "../src/core/trace-file";
import type { TraceEvent } from "../src/core/model";
import { fixtures, runTraced, type Traced } from "./agent-harness";
import { encodeRecords, repoRoot } from "./harness";

export const python = join(repoRoot, ".tools/pycheck/bin/python");

/** Runs a checker script; its JSON summary and exit status. */
export async function check(script: string, args: string[]): Promise<{ status: number; summary: any; stderr: string }> {
  if (!existsSync(python)) throw new Error(`${python} is missing: run scripts/export-check-install.sh`);
  const child = Bun.spawn([python, join(repoRoot, "scripts", script), ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, status] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  let summary: any = null;
  try {
    summary = JSON.parse(stdout);
  } catch {
    throw new Error(`${script} printed no JSON (status ${status}): ${stderr.slice(0, 2000)}`);
  }
  return { status, summary, stderr };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export function jaegerBinary(): string {
  const tools = join(repoRoot, ".tools");
  const dir = existsSync(tools) ? readdirSync(tools).find((name) => name.startsWith("jaeger-") && existsSync(join(tools, name, "jaeger"))) : undefined;
  if (!dir) throw new Error("Jaeger is not built: run scripts/jaeger-install.sh");
  return join(tools, dir, "jaeger");
}

export interface Jaeger {
  otlpUrl: string;
  queryUrl: string;
  stop(): Promise<void>;
  /** Jaeger's spans of a service (its query API, /api/traces). */
  spans(service: string): Promise<JaegerSpan[]>;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
  startTime: number;
  duration: number;
}

/** Jaeger v2 with in-memory storage: OTLP/HTTP in, query API out, both on free loopback ports. */
export async function startJaeger(): Promise<Jaeger> {
  const binary = jaegerBinary();
  const dir = mkdtempSync(join(tmpdir(), "scope-jaeger-"));
  const [otlpPort, queryPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${queryPort}
    grpc:
      endpoint: 127.0.0.1:${grpcPort}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`,
  );
  const child = Bun.spawn([binary, "--config", config], { cwd: dir, stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  const queryUrl = `http://127.0.0.1:${queryPort}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`jaeger exited with ${child.exitCode}: ${await new Response(child.stderr).text()}`);
    try {
      if ((await fetch(`${queryUrl}/api/services`)).ok && (await fetch(`http://127.0.0.1:${otlpPort}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error("jaeger did not start within 120 s");
    await Bun.sleep(200);
  }
  return {
    otlpUrl: `http://127.0.0.1:${otlpPort}/v1/traces`,
    queryUrl,
    async stop() {
      child.kill();
      await child.exited;
      rmSync(dir, { recursive: true, force: true });
    },
    async spans(service: string) {
      const response = await fetch(`${queryUrl}/api/traces?service=${encodeURIComponent(service)}&limit=10000&lookback=custom&start=0&end=${Date.now() * 1000 + 3_600_000_000}`);
      // A trace holds the spans of every service in it: only this service's.
      const body = (await response.json()) as { data: { spans: (JaegerSpan & { processID: string })[]; processes: Record<string, { serviceName: string }> }[] | null };
      return (body.data ?? []).flatMap((trace) => trace.spans.filter((span) => trace.processes[span.processID]?.serviceName === service));
    },
  };
}

/** The counter tracks writeRuntimeTrace's trace exports to, with the number of values on each. */
export const runtimeTraceCounters = {
  "main loop delay p50": 3,
  "main loop delay p99": 3,
  "main loop delay max": 3,
  "main loop utilisation": 3,
  "main heap used": 3,
  "main heap total": 3,
  "main external": 3,
  "main rss": 3,
  "worker 1 heap used": 1,
  "worker 1 heap total": 1,
  "worker 1 external": 1,
};

/**
 * A hand-written trace of the runtime's own activity, exported by the Perfetto tests: one
 * process (pid 100) with 3 loop samples (p50 2, 3, 4 ms) and 3 memory samples on its main
 * thread, a memory sample of worker 1, a 40 ms long task (a timer) with a 3 ms scavenge
 * inside it and a 1 ms mark-compact after it. Times in ns from `base`.
 */
export function writeRuntimeTrace(path: string): { base: number; ms: number } {
  const writer = TraceWriter.open(path, { host: "testhost", argv: ["node", "app.js"] });
  const base = Number(monotonicNs());
  const ms = 1_000_000;
  const records = [];
  for (let i = 0; i < 3; i++) {
    // loop_sample: delay min, p50, p99, max (ns), utilisation (millionths).
    records.push({ kind: EventKind.loop_sample, t: base + (10 + i * 10) * ms, pid: 100, tid: 0, payload: [ms, (2 + i) * ms, 5 * ms, 9 * ms, 250_000] });
    // memory_sample: heap used, heap total, external, array buffers, rss.
    records.push({ kind: EventKind.memory_sample, t: base + (11 + i * 10) * ms, pid: 100, tid: 0, payload: [(10 + i) << 20, 32 << 20, 1 << 20, 0, 80 << 20] });
  }
  records.push({ kind: EventKind.memory_sample, t: base + 12 * ms, pid: 100, tid: 1, flags: 1, payload: [5 << 20, 8 << 20, 0, 0, 80 << 20] });
  // long_task: 40 ms, written 40 ms after it started (b); a gc of 3 ms inside it, one of 1 ms after it.
  records.push({ kind: EventKind.long_task, t: base + 45 * ms, pid: 100, tid: 0, payload: [40 * ms, 40 * ms, 1, 0, 0] });
  records.push({ kind: EventKind.gc, t: base + 30 * ms, pid: 100, tid: 0, payload: [3 * ms, 3 * ms, 1, 20 << 20, 12 << 20] });
  records.push({ kind: EventKind.gc, t: base + 60 * ms, pid: 100, tid: 0, payload: [1 * ms, 1 * ms, 4, 0, 0] });
  records.sort((a, b) => a.t - b.t);
  writer.append(encodeRecords(records), records.length);
  writer.close({ written: records.length, dropped: 0, overwritten: 0, recorded: records.length });
  return { base, ms };
}

/** spec/fixtures/export (services calling each other, queries, a worker) run `count` times, traced with app.cjs's functions. */
export async function traceExportFixture(count: number): Promise<Traced> {
  const traced = await runTraced(["node", "app.cjs", String(count)], { cwd: join(fixtures, "export"), scopeArgs: ["--functions", "--include", "app.cjs"] });
  if (traced.status !== 0 || !traced.stdout.includes("done")) throw new Error(`fixture failed: ${traced.stderr}${traced.summary}`);
  return traced;
}

/** How many times each name occurs. */
export const tally = (names: string[]) => names.reduce<Record<string, number>>((t, name) => ((t[name] = (t[name] ?? 0) + 1), t), {});

/** Whether `call` has its return, throw or settle among `events`. */
export const callEnded = (events: TraceEvent[], call: TraceEvent) =>
  events.some((e) => (e.kind === "function_return" || e.kind === "function_throw" || e.kind === "function_settle") && e.pid === call.pid && e.tid === call.tid && e.fields.call === call.fields.call);

/** "GET /path 200": a server request by its target, a client request by its URL. */
export const requestName = (e: TraceEvent) => `${e.fields.method} ${e.kind === "http_server_request" ? e.fields.target : e.fields.url} ${e.fields.status}`;

/**
 * `scope export --otlp` in bounded memory ("scope export --otlp in bounded memory",
 * BENCHMARKS.md): the spans made as a streamed trace's events go by (src/export/otlp-walk.ts)
 * are the spans the whole-trace maker (OtlpSpanMaker.spans, still what `scope run --otlp`
 * makes batch by batch) makes of the loaded trace, on real traces (requests with
 * traceparents and peers, queries, worker messages, nested, async, thrown and never-returned
 * calls, an Express app's framework steps, a crash's flight-recorder dump, a merged trace,
 * a child process, a worker and a WebSocket begun in requests), read 1, 3 and 4096 records at a
 * time; the walk holds what is open, not what went by; a file and an endpoint get every
 * span, SPANS_PER_REQUEST at a time.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { EventKind } from "../src/core/layout";
import { interpret } from "../src/core/model";
import { readTrace, TraceWriter } from "../src/core/trace-file";
import { loadTrace } from "../src/dump/load";
import { TraceStream } from "../src/dump/stream";
import { otlpOptionsOf } from "../src/export/export";
import { OtlpSpanMaker } from "../src/export/otlp";
import { OtlpAhead, OtlpWalk } from "../src/export/otlp-walk";
import { OtlpStream } from "../src/export/stream";
import { cleanup, fixtures, runTraced, scratchDir, type Traced } from "./agent-harness";
import { check, traceExportFixture } from "./export-harness";
import { encodeRecords, runCli } from "./harness";

afterAll(cleanup);

/** Calls nested, thrown, async (settling out of order) and never returned (the process exits inside two). */
const callsProgram = `
function leaf(i) { if (i % 97 === 7) throw new Error("boom " + i); return i * 2; }
function mid(i) { try { return leaf(i) + leaf(i + 1); } catch (e) { return -1; } }
async function later(i) { await new Promise((r) => setTimeout(r, i % 5)); return mid(i); }
function stop() { process.exit(0); }
function outer() { for (let i = 0; i < 50; i++) mid(i); stop(); }
(async () => {
  const all = [];
  for (let i = 0; i < 600; i++) all.push(later(i));
  await Promise.all(all);
  for (let i = 0; i < 200; i++) mid(i);
  outer();
})();
`;

const traces: Record<string, { path: string; functions: boolean }> = {};
let calls: Traced;

beforeAll(async () => {
  const app = await traceExportFixture(3);
  traces["export fixture (functions)"] = { path: app.out, functions: true };
  traces["export fixture"] = { path: app.out, functions: false };
  const crash = await runTraced(["node", "app.cjs", "1"], { cwd: join(fixtures, "export"), env: { CRASH: "1" }, scopeArgs: ["--flight-recorder", "30s", "--functions", "--include", "app.cjs"] });
  traces["a crash's flight-recorder dump"] = { path: crash.out, functions: true };
  const linked = await runTraced(["node", "linked.cjs"], { cwd: join(fixtures, "http"), scopeArgs: ["--propagate", "--functions"] });
  traces["linked requests (traceparents)"] = { path: linked.out, functions: true };
  const asyncRequest = await runTraced(["node", "async-request.cjs"], { scopeArgs: ["--async", "--functions"] });
  traces["async request"] = { path: asyncRequest.out, functions: true };
  // Framework steps (Express: middleware, a mounted router around a handler, errors), an outgoing request and calls inside them.
  const express = await runTraced(["node", "web/express.cjs"], { env: { EXPRESS: "express4" }, scopeArgs: ["--functions", "--include", "web/express.cjs"] });
  traces["express steps (functions)"] = { path: express.out, functions: true };
  traces["express steps"] = { path: express.out, functions: false };
  const hang = await runTraced(["node", "web/express-hang.cjs"], { scopeArgs: ["--functions", "--include", "web/express-hang.cjs"] });
  traces["express: the program exits inside a handler"] = { path: hang.out, functions: true };
  // --propagate: a server request takes its trace from the traceparent at its start. Without it, one reached over a
  // kept-alive connection finds its client request (the model's peer) only at its end, where the client's
  // http_client_connection is written: `scope run --otlp` has made what it caused before then in a trace of its own.
  const spawns = await runTraced(["node", "spawns.cjs"], { cwd: join(fixtures, "export"), scopeArgs: ["--propagate"] });
  expect(spawns.stdout, spawns.stderr).toContain("done");
  traces["children, workers and connections"] = { path: spawns.out, functions: false };
  const merged = join(scratchDir(), "merged.bin");
  expect((await runCli(["merge", app.out, linked.out, "--out", merged])).exitCode).toBe(0);
  traces["a merged trace"] = { path: merged, functions: true };
  const dir = scratchDir();
  writeFileSync(join(dir, "calls.cjs"), callsProgram);
  calls = await runTraced(["node", "calls.cjs"], { cwd: dir, scopeArgs: ["--functions", "--hot-calls-per-second", "0", "--include", "calls.cjs"] });
  traces["calls: nested, thrown, async, never returned"] = { path: calls.out, functions: true };
}, 180_000);

/** A span as its receiver sees it (ids, times, status, attributes, links, resource). */
function key(span: ReadableSpan): string {
  const { traceId, spanId } = span.spanContext();
  return JSON.stringify([span.name, span.kind, traceId, spanId, span.parentSpanContext?.spanId ?? "", span.parentSpanContext?.traceId ?? "", span.startTime, span.endTime, span.status, span.attributes, span.links.map((l) => [l.context.traceId, l.context.spanId]), span.resource.attributes]);
}

function wholeTrace(path: string, functions: boolean): string[] {
  const trace = loadTrace(path);
  return new OtlpSpanMaker(otlpOptionsOf(trace, functions, undefined)).spans(interpret(trace.records, trace.strings)).map(key).sort();
}

function streamed(path: string, functions: boolean, batchRecords: number): { spans: string[]; held: number } {
  const stream = new TraceStream(path, batchRecords);
  const ahead = new OtlpAhead(stream.trace.sources, functions);
  stream.link(undefined, ahead.watch);
  const spans: string[] = [];
  const walk = new OtlpWalk(new OtlpSpanMaker(otlpOptionsOf(stream, functions, undefined)), ahead, (span) => spans.push(key(span)));
  let held = 0;
  for (const event of stream.events()) {
    walk.add(event);
    held = Math.max(held, walk.held);
  }
  walk.finish();
  return { spans: spans.sort(), held };
}

/**
 * The spans `scope run --otlp` sends (JSON) of a trace rewritten `perChunk` records a chunk and
 * read one chunk a look. A receive waits for its send however many looks later it comes (a
 * run's 2 s are 8 looks of 64 chunks; here a look is `perChunk` records, and a send that
 * waited in its lane reaches the file any number of records after its receive).
 */
async function liveSpans(path: string, perChunk: number): Promise<any[]> {
  const records = [...readTrace(path).records()];
  const { header } = loadTrace(path);
  const chunked = join(scratchDir(), `${perChunk}-a-chunk.bin`);
  const writer = TraceWriter.open(chunked, { host: header.hostName, argv: header.argv, anchors: { monotonicNs: header.monotonicAnchorNs, realtimeNs: header.realtimeAnchorNs, collectorPid: header.collectorPid } });
  for (let i = 0; i < records.length; i += perChunk) {
    const chunk = records.slice(i, i + perChunk);
    writer.append(encodeRecords(chunk.map((r) => ({ kind: typeof r.kind === "number" ? r.kind : EventKind[r.kind], t: Number(r.timestampNs), pid: r.pid, tid: r.tid, flags: r.flags, payload: [r.a, r.b, r.c, r.d, r.e] }))), chunk.length);
  }
  writer.close({ written: records.length, dropped: 0, overwritten: 0, recorded: records.length });
  const bodies: string[] = [];
  const endpoint = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async (request) => (bodies.push(await request.text()), new Response("{}", { headers: { "content-type": "application/json" } })) });
  try {
    const stream = OtlpStream.start({ endpoint: `http://127.0.0.1:${endpoint.port}/v1/traces`, format: "json", functions: false, trace: chunked, pollMs: 20, lookChunks: 1, holdMs: Number.POSITIVE_INFINITY });
    const totals = await stream.finish();
    expect([totals.sent, totals.failure]).toEqual([totals.made, null]);
  } finally {
    endpoint.stop(true);
  }
  return bodies.flatMap((body) => JSON.parse(body).resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)));
}

describe("scope export --otlp: streamed spans are the whole trace's", () => {
  test("every trace, read 1, 3 and 4096 records at a time", () => {
    for (const [name, { path, functions }] of Object.entries(traces)) {
      const whole = wholeTrace(path, functions);
      expect(whole.length, name).toBeGreaterThan(0);
      for (const batch of name.startsWith("calls") ? [4096, 7] : [1, 3, 4096]) expect(streamed(path, functions, batch).spans, `${name}, ${batch} at a time`).toEqual(whole);
    }
  }, 120_000);

  test("framework steps: spans under their request or step; each step's function's call under its step", () => {
    const spans = wholeTrace(traces["express steps (functions)"]!.path, true).map((k) => JSON.parse(k) as [string, number, string, string, string]);
    const matches = (n: string, name: string) => n === name || n.startsWith(`${name} (`);
    // Two requests pass the mounted router (/api/users/7 and /api/users/8?deny=1, which auth
    // answers: no route); the spans sort by name then trace id (random), so the router's step
    // is the one in the handler's trace.
    const handlerTrace = spans.find(([n]) => matches(n, "handler getUser /api/users/:id"))![2];
    const named = (name: string) => spans.find(([n, , trace]) => matches(n, name) && (name !== "middleware router" || trace === handlerTrace))!;
    const parent = (name: string) => spans.find(([, , , id]) => id === named(name)[4])![0];
    expect(["middleware router", "handler getUser /api/users/:id", "getUser", "throws", "logger", "GET /api/users/:id"].map((name) => [name, parent(name)])).toEqual([
      ["middleware router", "GET /api/users/:id"],
      ["handler getUser /api/users/:id", "middleware router"],
      // Express calls the handler inside logger's next(), but logger's step ended there: the call is the handler step's.
      ["getUser", "handler getUser /api/users/:id"],
      ["throws", "handler throws /throw"],
      ["logger", "middleware logger"],
      ["GET /api/users/:id", "GET"],
    ]);
  });

  test("a request that never ended: its steps open then are unfinished spans, under it; a message sent in a step is its child", () => {
    const spans = wholeTrace(traces["express: the program exits inside a handler"]!.path, true).map((k) => JSON.parse(k));
    const tree = spans.filter(([name]) => /^(GET \/api|middleware|handler|hangs|send )/.test(name)).map(([name, , , , parent, , , , status]) => [name.replace(/ \(.*\)$/, "").replace(/^(send worker)#\d+$/, "$1"), spans.find((s) => s[3] === parent)?.[0] ?? null, status.code, status.message?.split(":")[0] ?? null]);
    expect(tree.sort()).toEqual([
      ["GET /api/hang", "GET", 2, "the request never finished"],
      ["handler hangs /api/hang", "middleware router", 2, "the step never finished"],
      ["hangs", "handler hangs /api/hang", 0, null],
      ["middleware logger", "GET /api/hang", 0, null],
      ["middleware router", "GET /api/hang", 2, "the step never finished"],
      ["send worker", "handler hangs /api/hang", 0, null],
      ["send worker", "middleware logger", 0, null],
    ]);
    // Each step names its framework (its request's route's), and nothing else does.
    const frameworks = spans.filter((s) => s[9]["scope.step.framework"] !== undefined).map(([name, , , , , , , , , attributes]) => [name, attributes["scope.step.framework"]]);
    expect(frameworks.sort()).toEqual([
      ["handler hangs /api/hang", "express"],
      ["middleware logger", "express"],
      ["middleware router", "express"],
    ]);
  });

  test("scope run --otlp, the trace read 1 record a look: the whole trace's spans (steps, their messages, their framework)", async () => {
    const { path } = traces["express: the program exits inside a handler"]!;
    const whole = wholeTrace(path, false).map((k) => JSON.parse(k)).map(([name, , traceId, spanId, parent, , , , , attributes]) => JSON.stringify([name, traceId, spanId, parent, attributes["scope.step.framework"] ?? null]));
    const sent = await liveSpans(path, 1);
    expect(sent.map((s: any) => JSON.stringify([s.name, s.traceId, s.spanId, s.parentSpanId ?? "", s.attributes.find((a: any) => a.key === "scope.step.framework")?.value.stringValue ?? null])).sort()).toEqual(whole.sort());
    expect(sent.filter((s: any) => s.name.startsWith("send ")).length).toBe(2);
  }, 60_000);

  // The fixture's record order changes from run to run (lanes drained in turn): its receives
  // (IPC, a worker's) reach the file before their sends, tens of records apart, and are held
  // meanwhile; requests end while one is held (on a16b7f3 those lost their ends: carried to
  // the last look and sent unfinished; with a run's 8-look hold the receives took their own trace).
  test("scope run --otlp, the trace read 5 and 1 records a look: a child's, a worker's and a connection's spans and what they hold are the whole trace's", async () => {
    const { path } = traces["children, workers and connections"]!;
    const whole = wholeTrace(path, false).map((k) => JSON.parse(k)).map(([name, , traceId, spanId, parent, , start, end, status]) => JSON.stringify([name, traceId, spanId, parent, start, end, status.code]));
    const time = (ns: string) => [Number(BigInt(ns) / 1_000_000_000n), Number(BigInt(ns) % 1_000_000_000n)];
    const of = (sent: any[]) => sent.map((s: any) => JSON.stringify([s.name, s.traceId, s.spanId, s.parentSpanId ?? "", time(s.startTimeUnixNano), time(s.endTimeUnixNano), s.status?.code ?? 0])).sort();
    // 5 records a look: a request's end is then not always its look's last event.
    expect(of(await liveSpans(path, 5)), "5 records a look").toEqual(whole.sort());
    const sent = await liveSpans(path, 1);
    expect(of(sent), "1 record a look").toEqual(whole.sort());
    expect(sent.map((s: any) => s.name).filter((name: string) => /^(execFileSync|fork|worker|websocket) /.test(name)).sort()).toEqual(["execFileSync true", "fork spawn-child", "websocket client", "websocket server", "worker [eval]"]);
  }, 60_000);

  test("the walk holds what is open, not what went by", () => {
    const { path } = traces["calls: nested, thrown, async, never returned"]!;
    const { spans, held } = streamed(path, true, 4096);
    // 600 async calls open at once at most (each waits for its timer), a few frames above them.
    expect(spans.length).toBeGreaterThan(3000);
    expect(held).toBeLessThan(650);
    const unfinished = spans.filter((s) => s.includes("scope.unfinished"));
    expect(unfinished).toEqual([]); // calls that never returned are no spans
    const app = traces["export fixture (functions)"]!;
    const small = streamed(app.path, true, 4096);
    expect(small.held).toBeLessThan(40);
  }, 60_000);
});

describe("scope export --otlp: a file and an endpoint get every span, 2048 a request", () => {
  test("protobuf and JSON files decode to the whole trace's spans", async () => {
    const whole = new Set(wholeTrace(calls.out, true).map((k) => JSON.parse(k)).map(([name, , traceId, spanId, parent]) => `${name}/${traceId}/${spanId}/${parent}`));
    expect(whole.size).toBeGreaterThan(2048);
    for (const format of ["protobuf", "json"] as const) {
      const out = join(scratchDir(), `calls.${format === "json" ? "json" : "pb"}`);
      const result = await runCli(["export", "--otlp", out, "--otlp-functions", calls.out]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toContain(`: ${whole.size} spans (OTLP ${format})`);
      const { status, summary } = await check("check-otlp.py", [out, format]);
      expect([status, summary.errors]).toEqual([0, []]);
      expect(new Set(summary.spans.map((s: any) => `${s.name}/${s.traceId}/${s.spanId}/${s.parentSpanId}`))).toEqual(whole);
    }
  }, 60_000);

  test("sent: requests of at most 2048 spans, every span once", async () => {
    const whole = wholeTrace(calls.out, true).length;
    const bodies: any[] = [];
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async (request) => (bodies.push(JSON.parse(await request.text())), new Response("{}", { headers: { "content-type": "application/json" } })) });
    try {
      const result = await runCli(["export", "--otlp", `http://127.0.0.1:${server.port}/v1/traces`, "--otlp-format", "json", "--otlp-functions", calls.out]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toContain(`${whole} spans sent (OTLP/HTTP json)`);
    } finally {
      server.stop(true);
    }
    const sizes = bodies.map((body) => body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)).length);
    expect(sizes.length).toBe(Math.ceil(whole / 2048));
    expect(sizes.slice(0, -1).every((n) => n === 2048)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(whole);
  }, 60_000);
});

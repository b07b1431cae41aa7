/**
 * Framework steps as OTLP spans: a traced Express app (spec/fixtures/web/express.cjs, its
 * mounted router, handlers, a handler that throws, the error handler, an outgoing request and
 * pg queries in a handler) exported with `scope export --otlp` (the streamed walk) and sent
 * live by `scope run --otlp` into a real Jaeger: each step an INTERNAL span under its request
 * or the step it ran inside, what the handler did under the handler's step, and the live
 * spans exactly those of the export (ids, names, parents), also when the stream reads the
 * trace a few records a look (steps, queries and requests open across looks).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EventKind } from "../src/core/layout";
import { readTrace, TraceWriter } from "../src/core/trace-file";
import { loadTrace } from "../src/dump/load";
import { OtlpStream } from "../src/export/stream";
import { cleanup, runTraced, scratchDir, type Traced } from "./agent-harness";
import { startJaeger, type Jaeger, type JaegerSpan } from "./export-harness";
import { encodeRecords, runCli } from "./harness";
import { startPostgres, type Postgres } from "./postgres-harness";

let jaeger: Jaeger;
let pg: Postgres;
let live: Traced;
const service = "steps-live";

beforeAll(async () => {
  [jaeger, pg] = await Promise.all([startJaeger(), startPostgres()]);
  live = await runTraced(["node", "web/express.cjs"], { env: { EXPRESS: "express4", PGURL: pg.url }, scopeArgs: ["--otlp", jaeger.otlpUrl, "--service-name", service] });
  expect(live.status, live.stderr).toBe(0);
}, 180_000);
afterAll(async () => {
  await jaeger?.stop();
  pg?.stop();
  cleanup();
});

interface Span {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
  start: bigint;
  end: bigint;
}

/** `scope export --otlp file.json` of a trace: its spans (hex ids, attributes as plain values). */
async function exported(trace: string): Promise<Span[]> {
  const out = `${trace}.steps.json`;
  const result = await runCli(["export", "--otlp", out, "--service-name", service, trace]);
  expect(result.exitCode, result.stderr).toBe(0);
  const document = JSON.parse(readFileSync(out, "utf8"));
  const value = (v: any): unknown => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
  return document.resourceSpans.flatMap((rs: any) =>
    rs.scopeSpans.flatMap((ss: any) =>
      ss.spans.map((s: any) => ({
        name: s.name,
        kind: s.kind,
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId ?? "",
        attributes: Object.fromEntries((s.attributes ?? []).map((a: any) => [a.key, value(a.value)])),
        status: s.status ?? {},
        start: BigInt(s.startTimeUnixNano),
        end: BigInt(s.endTimeUnixNano),
      })),
    ),
  );
}

/** A span's children as a tree of names ("name" or [name, ...children]), children by start. */
function tree(spans: Span[], root: Span): unknown {
  const children = spans.filter((s) => s.parentSpanId === root.spanId && s.traceId === root.traceId).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return children.length ? [root.name, ...children.map((c) => tree(spans, c))] : root.name;
}

const server = (spans: Span[], path: string) => spans.find((s) => s.kind === 2 && s.attributes["url.path"] === path)!;

describe("OTLP: framework steps", () => {
  test("scope export --otlp: each step a span under its request or the step it ran in; the handler's queries and outgoing request under the handler's step", async () => {
    const spans = await exported(live.out);
    // The mounted router's step holds auth and the handler; the handler holds what it did (its
    // outgoing request, with the server request it reached, its pool waits and queries).
    expect(tree(spans, server(spans, "/api/users/7"))).toEqual([
      "GET /api/users/:id",
      "middleware logger",
      ["middleware router", "middleware auth", ["handler getUser /api/users/:id", ["GET", "GET"], "pg pool wait", "SELECT $1::int AS id, ? AS tag", "pg pool wait", "SELECT count(*)::int AS n FROM generate_series(?, ?)"]],
    ]);
    expect(tree(spans, server(spans, "/throw"))).toEqual(["GET /throw", "middleware logger", "handler throws /throw", "error onError"]);
    expect(tree(spans, server(spans, "/ping"))).toBe("GET");
    const steps = spans.filter((s) => s.attributes["scope.step.kind"] !== undefined);
    expect(steps.length).toBe(live.events.filter((e) => e.kind === "http_step_start").length);
    for (const step of steps) expect(step.kind).toBe(1); // INTERNAL
    // Times as the model gives them: each step's start and durationNs (wall clock ns).
    const starts = live.events.filter((e) => e.kind === "http_step_start");
    expect(steps.map((s) => s.end - s.start).sort((a, b) => (a < b ? -1 : 1))).toEqual(starts.map((e) => BigInt(e.fields.durationNs as number)).sort((a, b) => (a < b ? -1 : 1)));
    const named = (name: string) => steps.find((s) => s.name === name)!;
    expect(named("handler getUser /api/users/:id").attributes).toEqual({ "scope.step.kind": "handler", "scope.step.ordinal": 4, "code.function.name": "getUser", "http.route": "/api/users/:id", "scope.step.framework": "express", "thread.id": 0 });
    // The framework is its request's route's: every step of a request that named one has it; no other span.
    const routed = new Set(spans.filter((s) => s.kind === 2 && s.attributes["http.route"] !== undefined).map((s) => s.spanId));
    const requestOf = (span: Span): Span => (span.kind === 2 ? span : requestOf(spans.find((s) => s.spanId === span.parentSpanId && s.traceId === span.traceId)!));
    for (const step of steps) expect([step.name, step.attributes["scope.step.framework"]]).toEqual([step.name, routed.has(requestOf(step).spanId) ? "express" : undefined]);
    expect(spans.filter((s) => s.attributes["scope.step.kind"] === undefined && s.attributes["scope.step.framework"] !== undefined)).toEqual([]);
    expect(named("middleware logger").attributes["http.route"]).toBeUndefined();
    // A step that threw: status ERROR with its error; one that passed an error on, the same.
    expect([named("handler throws /throw").status, named("handler throws /throw").attributes["error.type"]]).toEqual([{ code: 2, message: "thrown in handler" }, "Error"]);
    expect([named("handler passes /next-error").status, named("handler passes /next-error").attributes["error.type"]]).toEqual([{ code: 2, message: "passed on" }, "TypeError"]);
    expect(named("error onError").status.code ?? 0).toBe(0);
  }, 60_000);

  test("scope run --otlp into Jaeger: the same spans as the export, the steps nested in Jaeger's answer", async () => {
    const expected = await exported(live.out);
    expect(live.summary).toContain(`scope: otlp: ${expected.length} of ${expected.length} spans sent to ${jaeger.otlpUrl}\n`);
    let stored: JaegerSpan[] = [];
    for (const deadline = Date.now() + 60_000; stored.length < expected.length && Date.now() < deadline; await Bun.sleep(200)) stored = await jaeger.spans(service);
    const parentOf = (span: JaegerSpan) => span.references.find((r) => r.refType === "CHILD_OF")?.spanID ?? "";
    expect(stored.map((s) => `${s.traceID}/${s.spanID} ${s.operationName} < ${parentOf(s)}`).sort()).toEqual(expected.map((s) => `${s.traceId}/${s.spanId} ${s.name} < ${s.parentSpanId}`).sort());
    // Jaeger's trace of /api/users/7: the app's own client request → its server request → router → handler → its query.
    const request = stored.find((s) => s.tags.some((t) => t.key === "url.path" && t.value === "/api/users/7"))!;
    const chain = (span: JaegerSpan): string[] => {
      const parent = stored.find((s) => s.spanID === parentOf(span) && s.traceID === span.traceID);
      return parent ? [...chain(parent), span.operationName] : [span.operationName];
    };
    const query = stored.find((s) => s.traceID === request.traceID && s.operationName.startsWith("SELECT count"))!;
    expect(chain(query)).toEqual(["GET", "GET /api/users/:id", "middleware router", "handler getUser /api/users/:id", "SELECT count(*)::int AS n FROM generate_series(?, ?)"]);
    expect(stored.find((s) => s.operationName === "handler throws /throw")!.tags.find((t) => t.key === "error")?.value).toBe(true);
    expect(stored.find((s) => s.operationName === "handler getUser /api/users/:id")!.tags.find((t) => t.key === "scope.step.framework")?.value).toBe("express");
  }, 90_000);

  test("scope run --otlp reading the trace 5 records a look: the export's spans, steps open across looks", async () => {
    const expected = (await exported(live.out)).map((s) => `${s.traceId}/${s.spanId} ${s.name} < ${s.parentSpanId}`).sort();
    // The same trace (same header: ids are made from it) in chunks of 5 records, one chunk a look.
    const records = [...readTrace(live.out).records()];
    const { header } = loadTrace(live.out);
    const path = join(scratchDir(), "five-a-chunk.bin");
    const writer = TraceWriter.open(path, { host: header.hostName, argv: header.argv, anchors: { monotonicNs: header.monotonicAnchorNs, realtimeNs: header.realtimeAnchorNs, collectorPid: header.collectorPid } });
    for (let i = 0; i < records.length; i += 5) {
      const chunk = records.slice(i, i + 5);
      writer.append(encodeRecords(chunk.map((r) => ({ kind: typeof r.kind === "number" ? r.kind : EventKind[r.kind], t: Number(r.timestampNs), pid: r.pid, tid: r.tid, flags: r.flags, payload: [r.a, r.b, r.c, r.d, r.e] }))), chunk.length);
    }
    writer.close({ written: records.length, dropped: 0, overwritten: 0, recorded: records.length });
    const bodies: string[] = [];
    const endpoint = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async (request) => (bodies.push(await request.text()), new Response("{}", { headers: { "content-type": "application/json" } })) });
    try {
      const stream = OtlpStream.start({ endpoint: `http://127.0.0.1:${endpoint.port}/v1/traces`, format: "json", functions: false, trace: path, pollMs: 20, lookChunks: 1 });
      const totals = await stream.finish();
      expect([totals.made, totals.sent, totals.failure]).toEqual([expected.length, expected.length, null]);
    } finally {
      endpoint.stop(true);
    }
    const sent = bodies.flatMap((body) => JSON.parse(body).resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)));
    expect(sent.map((s: any) => `${s.traceId}/${s.spanId} ${s.name} < ${s.parentSpanId ?? ""}`).sort()).toEqual(expected);
    expect(sent.filter((s: any) => s.name.startsWith("handler ")).length).toBe(live.events.filter((e) => e.kind === "http_step_start" && e.fields.stepKind === "handler").length);
  }, 60_000);
});

/**
 * `scope export`: a real traced service (spec/fixtures/export/app.cjs: requests with
 * traceparents, nested function calls, SQLite queries, worker messages, client requests)
 * exported to Perfetto and OTLP, decoded with the formats' official generated classes
 * (PyPI perfetto, opentelemetry-proto) and compared with scope's own model.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { loadTrace } from "../src/dump/load";
import { EventKind } from "../src/core/layout";
import { monotonicNs } from "../src/core/ring";
import { readTrace, TraceWriter } from "../src/core/trace-file";
import { serviceNameOf } from "../src/export/otlp";
import { perfettoSchema } from "../src/export/perfetto";
import { OtlpStream, streamLine } from "../src/export/stream";
import { TraceIndex } from "../src/view/index";
import { cleanup, fixtures, runTraced, scratchDir, type Traced } from "./agent-harness";
import { callEnded, check, python, requestName, runtimeTraceCounters, tally, traceExportFixture, writeRuntimeTrace } from "./export-harness";
import { encodeRecords, runCli } from "./harness";

let traced: Traced;
const count = 3;

beforeAll(async () => {
  traced = await traceExportFixture(count);
}, 120_000);
afterAll(cleanup);

const of = (kind: string) => traced.events.filter((e) => e.kind === kind);
const ended = (call: TraceEvent) => callEnded(traced.events, call);

describe("scope export --perfetto", () => {
  test("every track, slice, nesting, flow and instant, decoded by Perfetto's perfetto_trace_pb2", async () => {
    const out = join(scratchDir(), "t.pftrace");
    const result = await runCli(["export", "--perfetto", traced.out, "-o", out]);
    expect(result.stderr).toContain(`${out}: `);
    expect(result.exitCode, result.stderr).toBe(0);
    // Private as the trace is: it holds the same arguments, SQL and messages.
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const schema = join(scratchDir(), "schema.json");
    writeFileSync(schema, JSON.stringify(perfettoSchema().Trace.root.toJSON()));
    const { status, summary } = await check("check-perfetto.py", [out, schema]);
    expect(summary.errors).toEqual([]);
    expect(status).toBe(0);

    // A track per process (named by its command line) and per thread, under its process.
    const pids = [...new Set(traced.events.map((e) => e.pid))].sort((a, b) => a - b);
    expect(summary.processes.map((p: [number, string]) => p[0])).toEqual(pids);
    const app = of("trace_start").find((e) => e.fields.mainThread)!;
    expect(summary.processes).toContainEqual([app.pid, `${app.pid}: ${app.fields.argv}`]);
    // scope's own process (its records: how the program ended) is named as `scope view` names it.
    const collector = loadTrace(traced.out).header.collectorPid;
    const viewed = TraceIndex.open(traced.out).meta().tracks.find((track) => track.pid === collector)?.process;
    expect(viewed).toBe(`${collector}: scope (collector)`);
    expect(summary.processes).toContainEqual([collector, viewed]);
    // and so does Chrome JSON (scope dump --chrome).
    const chrome = JSON.parse((await runCli(["dump", "--chrome", traced.out])).stdout) as { traceEvents: { name: string; pid: number; args?: { name?: string } }[] };
    expect(chrome.traceEvents.find((e) => e.name === "process_name" && e.pid === collector)?.args?.name).toBe(viewed);
    const threads = [...new Set(traced.events.map((e) => `${e.pid}/${e.tid}`))].sort();
    // Perfetto's tids are the system's (0 is the idle thread): a main thread is its pid, worker N is pid + N·2^32.
    expect(summary.threads.map((t: [number, number, string, number]) => `${t[0]}/${t[1] === t[0] ? 0 : (t[1] - t[0]) / 2 ** 32}`).sort()).toEqual(threads);
    for (const [pid, tid, name, parent] of summary.threads) {
      expect(parent).toBe(pid);
      expect(name).toBe(tid === pid ? "main" : `worker ${(tid - pid) / 2 ** 32}`);
    }
    expect(summary.threads.map((t: [number, number]) => t[1])).not.toContain(0);

    // Slices: every call (by function) that ended, request (method target status) and query (text).
    const calls = of("function_call").filter(ended);
    expect(calls.length).toBeGreaterThan(20);
    const expected = tally([
      ...calls.map((e) => String(e.fields.function)),
      ...[...of("http_server_request"), ...of("http_client_request")].map(requestName),
      ...of("db_query").map((e) => String(e.fields.text)),
    ]);
    expect(summary.slices).toEqual(expected);
    expect(Object.keys(expected).filter((name) => name.startsWith("GET /r/")).length).toBe(count);
    // handle → store → outer → inner: nested at least four deep on the main thread.
    expect(summary.maxDepth).toBeGreaterThanOrEqual(4);

    // Instants: every other event, by kind.
    const sliced = new Set(["string", "function_table", "function_call", "function_return", "function_throw", "function_settle", "http_server_request", "http_server_response", "http_client_request", "http_client_response", "http_connection", "http_client_connection", "http_traceparent", "http_route", "db_query", "db_query_end", "db_pool_wait", "db_pool_wait_end", "db_connection"]);
    // (and a call that never ended, by its function)
    expect(summary.instants).toEqual(tally([...traced.events.filter((e) => !sliced.has(e.kind)).map((e) => e.kind), ...of("function_call").filter((e) => !ended(e)).map((e) => String(e.fields.function))]));
    expect(summary.instants.message_send).toBe(count + 1);

    // Flows: each message (send → receive) and each client request → the server request it reached.
    const outgoing = new Set(of("http_client_request").map((e) => e.fields.traceparent));
    const linkedServers = of("http_server_request").filter((e) => typeof e.fields.peerIndex === "number");
    expect(linkedServers.every((e) => outgoing.has(e.fields.traceparent))).toBe(true);
    expect(linkedServers.length).toBe(2 * count);
    expect(summary.flows).toBe(of("message_receive").filter((e) => e.linkedTo.length === 1).length + linkedServers.length);
    // Each flow joins what it should: a send's instant to its receive's, a client request's slice to its server request's.
    const expectedPairs = tally([
      ...of("message_receive").filter((e) => e.linkedTo.length === 1).map(() => "message_send -> message_receive"),
      ...linkedServers.map((server) => `${requestName(traced.events[server.fields.peerIndex as number]!)} -> ${requestName(server)}`),
    ]);
    expect(summary.flowPairs).toEqual(expectedPairs);
  }, 120_000);
});


describe("scope export --perfetto: calls without returns (--level calls)", () => {
  test("each call an instant on its thread, no slice stacking to the thread's end", async () => {
    const calls = await runTraced(["node", "app.cjs", "2"], { cwd: join(fixtures, "export"), scopeArgs: ["--functions", "--include", "app.cjs", "--level", "calls"] });
    expect(calls.status, calls.stderr).toBe(0);
    const recorded = calls.events.filter((e) => e.kind === "function_call");
    expect(recorded.length).toBeGreaterThan(20);
    expect(calls.events.filter((e) => e.kind === "function_return")).toEqual([]);
    const out = join(scratchDir(), "calls.pftrace");
    expect((await runCli(["export", "--perfetto", calls.out, "-o", out])).exitCode).toBe(0);
    const { status, summary } = await check("check-perfetto.py", [out]);
    expect(summary.errors).toEqual([]);
    expect(status).toBe(0);
    for (const [name, n] of Object.entries(tally(recorded.map((e) => String(e.fields.function))))) expect(summary.instants[name]).toBe(n);
    expect(Object.keys(summary.slices).filter((name) => name.includes("app.cjs"))).toEqual([]);
    // Only requests and queries nest (client → server → leaf client → leaf server, a query): no stack of calls.
    expect(summary.maxDepth).toBeLessThanOrEqual(6);
  }, 120_000);
});

describe("scope export --perfetto: the runtime's own activity", () => {
  test("GC pauses and long tasks as slices, loop delay and heap as counters", async () => {
    const path = join(scratchDir(), "runtime.bin");
    writeRuntimeTrace(path);

    const out = join(scratchDir(), "runtime.pftrace");
    const result = await runCli(["export", "--perfetto", path, "-o", out]);
    expect(result.exitCode, result.stderr).toBe(0);
    const { status, summary } = await check("check-perfetto.py", [out]);
    expect(summary.errors).toEqual([]);
    expect(status).toBe(0);
    expect(summary.slices).toEqual({ "gc scavenge": 1, "gc mark_compact": 1, "long task: timer": 1 });
    expect(summary.laneTracks).toEqual(["main gc", "main long tasks"]);
    expect(summary.counters).toEqual(runtimeTraceCounters);
    expect(summary.instants).toEqual({});
  });
});

describe("scope dump --chrome: function calls", () => {
  test("every call a slice on its thread's call tracks, nested as it ran", async () => {
    const result = await runCli(["dump", "--chrome", traced.out]);
    expect(result.exitCode, result.stderr).toBe(0);
    const all = JSON.parse(result.stdout).traceEvents as { name: string; ph: string; cat?: string; ts: number; dur?: number; pid: number; tid: number; args: Record<string, unknown> }[];
    const calls = all.filter((e) => e.cat === "function" && e.ph === "X");
    expect(calls.length).toBe(of("function_call").filter(ended).length);
    expect(tally(calls.map((e) => e.name))).toEqual(tally(of("function_call").filter(ended).map((e) => String(e.fields.function))));
    expect(all.filter((e) => e.cat === "function" && e.ph === "i").length).toBe(of("function_call").filter((e) => !ended(e)).length);
    expect(all.filter((e) => e.name === "function_call" || e.name === "function_return")).toEqual([]);
    const names = new Map(all.filter((e) => e.ph === "M" && e.name === "thread_name").map((e) => [`${e.pid}/${e.tid}`, e.args.name]));
    let deepest = 0;
    for (const tid of new Set(calls.map((e) => e.tid))) {
      expect(names.get(`${calls[0]!.pid}/${tid}`)).toMatch(/^main calls( \d+)?$/);
      // Nesting: each slice ends within the slice open when it starts (µs as floats: 1 ns of slack).
      const open: { end: number }[] = [];
      for (const slice of calls.filter((e) => e.tid === tid).sort((a, b) => a.ts - b.ts || b.dur! - a.dur!)) {
        while (open.length && open[open.length - 1]!.end <= slice.ts + 0.001) open.pop();
        if (open.length) expect(slice.ts + slice.dur!).toBeLessThanOrEqual(open[open.length - 1]!.end + 0.001);
        open.push({ end: slice.ts + slice.dur! });
        deepest = Math.max(deepest, open.length);
      }
    }
    expect(deepest).toBeGreaterThanOrEqual(4);
    // inner runs inside outer, outer inside store.
    const inner = calls.find((e) => e.name.startsWith("inner "))!;
    const outer = calls.find((e) => e.name.startsWith("outer ") && e.tid === inner.tid && e.ts <= inner.ts && inner.ts + inner.dur! <= e.ts + e.dur! + 0.001);
    expect(outer).toBeDefined();
  });
});

describe("scope export --otlp (file)", () => {
  for (const format of ["json", "protobuf"] as const) {
    test(`${format}: spans decoded by opentelemetry-proto's ExportTraceServiceRequest match the trace`, async () => {
      const out = join(scratchDir(), `spans.${format === "json" ? "json" : "pb"}`);
      const result = await runCli(["export", "--otlp", out, "--otlp-functions", "--service-name", "shop", traced.out]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      if (format === "json") {
        // OTLP/JSON: ids are hex strings (protobuf's JSON mapping would make them base64).
        const document = JSON.parse(readFileSync(out, "utf8"));
        const span = document.resourceSpans[0].scopeSpans[0].spans[0];
        expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
        expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
      }
      const { status, summary } = await check("check-otlp.py", [out, format]);
      expect(summary.errors).toEqual([]);
      expect(status).toBe(0);
      const spans: any[] = summary.spans;
      const byKind = (kind: number) => spans.filter((s) => s.kind === kind);
      // SpanKind in OTLP: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
      expect(byKind(2).length).toBe(of("http_server_request").length);
      // INTERNAL: calls that ended, and the worker app.cjs starts (its span from thread_spawn to its end).
      expect(byKind(1).length).toBe(of("function_call").filter(ended).length + of("thread_spawn").length);
      expect(byKind(3).length).toBe(of("http_client_request").length + of("db_query").length);
      expect(byKind(4).length).toBe(of("message_send").length);
      expect(byKind(5).length).toBe(of("message_receive").length);
      const app = of("trace_start").find((e) => e.fields.mainThread)!;
      for (const span of spans) {
        expect(span.resource["service.name"]).toBe("shop");
        expect(span.resource["process.pid"]).toBe(app.pid);
        expect(span.resource["process.runtime.name"]).toBe("node");
        expect(span.scope).toBe("scope");
      }
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      // Server spans take the trace id and parent of the traceparent they received.
      for (const request of of("http_server_request")) {
        const [, traceId, parentId] = String(request.fields.traceparent).split("-");
        const target = (s: any) => `${s.attributes["url.path"]}${s.attributes["url.query"] ? `?${s.attributes["url.query"]}` : ""}`;
        const span = byKind(2).find((s) => target(s) === request.fields.target)!;
        // Named by method (and route, none here) as the conventions say: never by path or status.
        expect(span.name).toBe("GET");
        expect(span.traceId).toBe(traceId!);
        expect(span.parentSpanId).toBe(parentId!);
        expect(span.attributes["http.request.method"]).toBe("GET");
        expect(span.attributes["http.response.status_code"]).toBe(200);
        expect(BigInt(span.endNs) - BigInt(span.startNs)).toBe(BigInt(request.fields.durationNs as number));
      }
      // A client span's id is the parent id it sent, so the server span it reached is its child.
      for (const request of of("http_client_request")) {
        const [, traceId, spanId] = String(request.fields.traceparent).split("-");
        const span = byId.get(spanId!)!;
        expect(span.kind).toBe(3);
        expect(span.traceId).toBe(traceId!);
        expect(span.attributes["url.full"]).toBe(request.fields.url);
      }
      // Queries: CLIENT spans with the database conventions, children of their request's span.
      const { header } = loadTrace(traced.out);
      const unixNs = (e: TraceEvent) => String(header.realtimeAnchorNs + (e.timestampNs - header.monotonicAnchorNs));
      for (const query of of("db_query").filter((e) => e.fields.request !== undefined)) {
        const span = byKind(3).find((s) => s.startNs === unixNs(query))!;
        expect(span.attributes["db.query.text"]).toBe(query.fields.text as string);
        expect(span.attributes["db.response.returned_rows"]).toBe(query.fields.rows as number);
        expect(span.attributes["db.system.name"]).toBe("sqlite");
        const parent = byId.get(span.parentSpanId);
        expect(parent?.kind).toBe(2);
        expect(parent?.traceId).toBe(span.traceId);
      }
      // A receive: a CONSUMER span, child of and linked to its send's PRODUCER span.
      for (const consumer of byKind(5)) {
        const producer = byId.get(consumer.parentSpanId)!;
        expect(producer.kind).toBe(4);
        expect(consumer.links).toEqual([[producer.traceId, producer.spanId]]);
      }
      // Messages named by their channel (kind and sub-id), never by a pid: one operation per
      // channel in a backend, not one per run; the owner's pid is an attribute.
      const worker = `worker#${of("message_send")[0]!.fields.channelSubId}`; // the worker's threadId
      expect(tally([...byKind(4), ...byKind(5)].map((s) => s.name))).toEqual(tally([...of("message_send").map(() => `send ${worker}`), ...of("message_receive").map(() => `receive ${worker}`)]));
      for (const s of [...byKind(4), ...byKind(5)]) {
        expect(s.attributes["messaging.destination.name"]).toBe(worker);
        expect(s.attributes["messaging.operation.name"]).toBe(s.kind === 4 ? "send" : "receive");
        expect(s.attributes["scope.message.channel_owner_pid"]).toBe(app.pid);
        expect(typeof s.attributes["thread.id"]).toBe("number");
      }
      // Sends made while handling /r/n are in that request's trace.
      for (const producer of byKind(4).filter((s) => s.parentSpanId)) expect(byId.get(producer.parentSpanId)?.kind).toBe(2);
      expect(byKind(4).filter((s) => s.parentSpanId).length).toBe(count);
      // Nested calls: inner's parent is outer, outer's is store.
      const named = (prefix: string) => byKind(1).filter((s) => s.attributes["code.function.name"] === prefix);
      for (const inner of named("inner")) expect(byId.get(inner.parentSpanId)?.attributes["code.function.name"]).toBe("outer");
      for (const outer of named("outer")) expect(byId.get(outer.parentSpanId)?.attributes["code.function.name"]).toBe("store");
      expect(named("inner").length).toBe(2 * count);
    }, 120_000);
  }

  test("without traceparents: a server span's parent is the client span that reached it (by connection); a merged trace's hosts", async () => {
    const plain = await runTraced(["node", "app.cjs", "2"], { cwd: join(fixtures, "export"), env: { NO_TRACEPARENT: "1" } });
    expect(plain.status, plain.stderr).toBe(0);
    const merged = join(scratchDir(), "merged.bin");
    const merge = await runCli(["merge", traced.out, plain.out, "--out", merged]);
    expect(merge.exitCode, merge.stderr).toBe(0);
    const out = join(scratchDir(), "merged.json");
    expect((await runCli(["export", "--otlp", out, merged])).exitCode).toBe(0);
    const { summary } = await check("check-otlp.py", [out, "json"]);
    expect(summary.errors).toEqual([]);
    const spans: any[] = summary.spans;
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const plainPid = plain.events.find((e) => e.kind === "trace_start" && e.fields.mainThread)!.pid;
    const servers = spans.filter((s) => s.kind === 2 && s.resource["process.pid"] === plainPid);
    expect(servers.length).toBe(4);
    for (const server of servers) {
      const client = byId.get(server.parentSpanId)!;
      expect(client.kind).toBe(3);
      expect(client.traceId).toBe(server.traceId);
      expect(client.attributes["url.full"]).toEndWith(server.attributes["url.path"] + (server.attributes["url.query"] ? `?${server.attributes["url.query"]}` : ""));
    }
    // Both inputs' processes keep their own pid and host.
    const pids = new Set(spans.map((s) => s.resource["process.pid"]));
    expect(pids).toEqual(new Set([plainPid, traced.events.find((e) => e.kind === "trace_start" && e.fields.mainThread)!.pid]));
    for (const span of spans) expect(span.resource["host.name"]).toBe(loadTrace(traced.out).header.hostName);
  }, 120_000);

  test("HTTP span names as the conventions say: method and route (Express), else the method; never the path or URL", async () => {
    const web = await runTraced(["node", "web/express.cjs"], { env: { EXPRESS: "express4" } });
    expect(web.status, web.stderr).toBe(0);
    const out = join(scratchDir(), "express.json");
    expect((await runCli(["export", "--otlp", out, web.out])).exitCode).toBe(0);
    const { summary } = await check("check-otlp.py", [out, "json"]);
    expect(summary.errors).toEqual([]);
    const spans: any[] = summary.spans;
    const servers = web.events.filter((e) => e.kind === "http_server_request" && e.fields.status);
    const names = (kind: number) => tally(spans.filter((s) => s.kind === kind && s.attributes["http.request.method"]).map((s) => s.name));
    expect(names(2)).toEqual(tally(servers.map((e) => (e.fields.route ? `${e.fields.method} ${e.fields.route}` : String(e.fields.method)))));
    expect(servers.some((e) => e.fields.route && e.fields.route !== e.fields.target)).toBe(true);
    expect(names(3)).toEqual(tally(web.events.filter((e) => e.kind === "http_client_request" && e.fields.status).map((e) => String(e.fields.method))));
  }, 120_000);

  test("an invalid traceparent (all-zero trace or parent id) is ignored as W3C says: no span of trace 0 or span 0", async () => {
    const sent = ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "00-abcdef0123456789abcdef0123456789-0123456789abcdef-01"];
    const program = `const http = require("node:http"); const s = http.createServer((q, r) => r.end("ok")).listen(0, "127.0.0.1", async () => {
      for (const traceparent of ${JSON.stringify(sent)}) await new Promise((done) => http.get({ host: "127.0.0.1", port: s.address().port, path: "/t", headers: { traceparent } }, (r) => { r.resume(); r.on("end", done); }));
      s.close(); });`;
    const run = await runTraced(["node", "-e", program], {});
    expect(run.status, run.stderr).toBe(0);
    const out = join(scratchDir(), "traceparents.json");
    expect((await runCli(["export", "--otlp", out, run.out])).exitCode).toBe(0);
    const { summary } = await check("check-otlp.py", [out, "json"]);
    expect(summary.errors).toEqual([]);
    const spans: any[] = summary.spans;
    expect(spans.length).toBe(6);
    for (const span of spans) {
      expect(span.traceId).not.toMatch(/^0+$/);
      expect(span.spanId).not.toMatch(/^0+$/);
      expect(span.parentSpanId ?? "").not.toMatch(/^0+$/);
    }
    // The valid one joins its trace: the client's span id is the parent id it sent.
    expect(spans.filter((s) => s.traceId === "abcdef0123456789abcdef0123456789").map((s) => [s.kind, s.kind === 3 ? s.spanId : s.parentSpanId])).toEqual(expect.arrayContaining([[3, "0123456789abcdef"], [2, "0123456789abcdef"]]));
  }, 60_000);

  test("an endpoint that rejects the spans: its google.rpc.Status message in the one line, not its protobuf bytes", async () => {
    // What the OpenTelemetry Collector (and Jaeger v2) answers a body it cannot decode: Status{code 3, message}.
    const status = Buffer.from("0803121970726f746f3a20696c6c6567616c2077697265547970652037", "hex");
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(status, { status: 400, headers: { "content-type": "application/x-protobuf" } }) });
    try {
      const url = `http://127.0.0.1:${server.port}/v1/traces`;
      const result = await runCli(["export", "--otlp", url, traced.out]);
      expect([result.exitCode, result.stderr]).toEqual([1, expect.stringMatching(new RegExp(`^scope: ${url}: HTTP 400: proto: illegal wireType 7 after 1 attempts; 0 of \\d+ spans sent\n$`))]);
    } finally {
      server.stop(true);
    }
  });

  test("a damaged trace: every valid event exported, one line saying where it stopped, status 2", async () => {
    const damaged = join(scratchDir(), "damaged.bin");
    const bytes = readFileSync(traced.out);
    writeFileSync(damaged, bytes.subarray(0, bytes.byteLength - 1000));
    const out = join(scratchDir(), "damaged.pftrace");
    const result = await runCli(["export", "--perfetto", damaged, "-o", out]);
    expect(result.exitCode).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines[0]).toStartWith(`scope: ${out}: `);
    expect(lines[1]).toMatch(new RegExp(`^scope: ${damaged}: .* at byte \\d+; the \\d+ events before it were exported$`));
    const { status, summary } = await check("check-perfetto.py", [out]);
    expect(summary.errors).toEqual([]);
    expect(status).toBe(0);
  });

  test("service.name: the script's name, past the runtime's options; the runtime's for code given with -e/-p", () => {
    expect(serviceNameOf("/usr/bin/node app/server.mjs 8080", "node v20.20.2")).toBe("server");
    expect(serviceNameOf("/usr/bin/node --require ./otel.cjs --max-old-space-size=100 api.ts", "node v20.20.2")).toBe("api");
    expect(serviceNameOf("/usr/bin/node -e require('./worker.js')", "node v20.20.2")).toBe("node");
    expect(serviceNameOf("/usr/bin/node --require x.cjs -p 1+1", "node v24.1.0")).toBe("node");
    expect(serviceNameOf("bun.exe -e console.log(1)", "bun 1.4.5")).toBe("bun");
    expect(serviceNameOf(null, null)).toBe("unknown_service");
  });

  test("bad input: one line and a non-zero exit", async () => {
    const both = await runCli(["export", "--perfetto", "--otlp", "x.json", traced.out]);
    expect(both.exitCode).not.toBe(0);
    expect(both.stderr.trim().split("\n")).toEqual(["scope: choose one of --perfetto -o FILE, --otlp URL|FILE"]);
    const missing = await runCli(["export", "--perfetto", "-o", join(scratchDir(), "x"), join(scratchDir(), "nothing.bin")]);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toMatch(/^scope: .*nothing\.bin: no such file\n$/);
    const format = await runCli(["export", "--otlp", "x", "--otlp-format", "xml", traced.out]);
    expect(format.stderr).toBe('scope: --otlp-format: expected protobuf or json, got "xml"\n');
    // The output is the trace itself, by its path or another name: refused, the trace kept.
    const copy = join(scratchDir(), "self.bin");
    copyFileSync(traced.out, copy);
    const link = join(scratchDir(), "self-link.bin");
    symlinkSync(copy, link);
    const before = readFileSync(copy);
    for (const args of [["--perfetto", "-o", copy], ["--perfetto", "-o", link], ["--otlp", link]]) {
      const self = await runCli(["export", ...args, copy]);
      expect([self.exitCode, self.stderr]).toEqual([1, `scope: ${args.at(-1)}: the output is the trace itself\n`]);
    }
    expect(readFileSync(copy).equals(before)).toBe(true);
    // A URL fetch cannot take is refused before anything runs (it failed every attempt after the program).
    for (const url of ["http://[::1", "http://a b/v1/traces", "http:///v1/traces"]) {
      const usage = `scope: --otlp: expected an OTLP/HTTP endpoint URL such as http://127.0.0.1:4318/v1/traces, got "${url}"\n`;
      const exported = await runCli(["export", "--otlp", url, traced.out]);
      expect([exported.exitCode, exported.stderr]).toEqual([1, usage]);
      const run = await runCli(["run", "-o", join(scratchDir(), "never.bin"), "--otlp", url, "--", "node", "-e", "0"]);
      expect([run.exitCode, run.stderr]).toEqual([1, usage]);
    }
  });
});

/** OTLP/JSON request bodies' spans (hex ids), flattened. */
const jsonSpans = (bodies: string[]) => bodies.flatMap((body) => JSON.parse(body).resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)));

describe("scope export --otlp: what never finished (a crash's flight-recorder dump)", () => {
  test("open requests, client requests and queries: ERROR spans ending at the process's last record, marked unfinished; streamed the same", async () => {
    // The first request's handler leaves a client request open (its server request too) and exits the process inside a query.
    const crash = await runTraced(["node", "app.cjs", "1"], { cwd: join(fixtures, "export"), env: { CRASH: "1" }, scopeArgs: ["--flight-recorder", "30s", ...["--functions", "--include", "app.cjs"]] });
    expect([crash.status, crash.stdout]).toEqual([1, "crashing\n"]);
    expect(crash.events.filter((e) => e.kind === "flight_dump").map((e) => e.fields.trigger)).toEqual(["nonzeroExit"]);
    const out = join(scratchDir(), "crash.pb");
    const result = await runCli(["export", "--otlp", out, crash.out]);
    expect(result.exitCode, result.stderr).toBe(0);
    const { status, summary } = await check("check-otlp.py", [out, "protobuf"]);
    expect(summary.errors).toEqual([]);
    expect(status).toBe(0);
    const spans: any[] = summary.spans;
    const app = crash.events.find((e) => e.kind === "trace_start" && e.fields.mainThread)!;
    const { header } = loadTrace(crash.out);
    const lastNs = crash.events.filter((e) => e.pid === app.pid).reduce((last, e) => (e.timestampNs > last ? e.timestampNs : last), 0n);
    const unixNs = (ns: bigint) => String(header.realtimeAnchorNs + (ns - header.monotonicAnchorNs));
    const what = (s: any) => `${s.kind} ${s.attributes["url.path"] ?? s.attributes["url.full"] ?? s.attributes["db.query.text"] ?? s.name}`;
    const unfinished = spans.filter((s) => s.attributes["scope.unfinished"] === true);
    const port = crash.events.find((e) => e.kind === "http_server_request")!.fields.localPort;
    // app.cjs's worker too: still running when the process crashed.
    expect(unfinished.map(what).sort()).toEqual(["2 /leaf", "2 /r/1", `3 http://127.0.0.1:${port}/leaf?hang`, `3 http://127.0.0.1:${port}/r/1`, "3 SELECT crash() AS c", "1 worker [eval]"].sort());
    const started = new Map(crash.events.filter((e) => e.kind === "http_server_request" || e.kind === "http_client_request" || e.kind === "db_query" || e.kind === "thread_spawn").map((e) => [unixNs(e.timestampNs), e]));
    for (const span of unfinished) {
      expect(span.status).toBe(2); // ERROR
      expect(span.statusMessage).toMatch(/^the (request|client request|query|worker) never finished: the trace ends with it (in flight|running)/);
      // From its start to its process's last record (the trace_stop after the exit): it ran at least that long.
      expect(started.get(span.startNs)).toBeDefined();
      expect(span.endNs).toBe(unixNs(lastNs));
    }
    // Parents as for finished ones: the query and the client request under the request that made them.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const r1 = unfinished.find((s) => s.kind === 2 && s.attributes["url.path"] === "/r/1")!;
    expect(r1.parentSpanId).toBe("b7ad6b7169203301");
    for (const child of unfinished.filter((s) => s.attributes["db.query.text"] === "SELECT crash() AS c" || String(s.attributes["url.full"]).endsWith("/leaf?hang"))) expect(byId.get(child.parentSpanId)).toBe(r1);
    // What finished before the crash is as before.
    expect(spans.filter((s) => !s.attributes["scope.unfinished"]).map((s) => [s.status, s.attributes["db.query.text"]])).toEqual([[0, "CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER)"]]);

    // Streamed: the open starts wait for ends that never come, then go out at the end as the same spans.
    const bodies: string[] = [];
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async (request) => (bodies.push(await request.text()), new Response("{}", { headers: { "content-type": "application/json" } })) });
    try {
      const stream = OtlpStream.start({ endpoint: `http://127.0.0.1:${server.port}/v1/traces`, format: "json", functions: false, trace: crash.out, pollMs: 20 });
      await Bun.sleep(200);
      const totals = await stream.finish();
      expect([totals.made, totals.sent, totals.failure]).toEqual([spans.length, spans.length, null]);
    } finally {
      server.stop(true);
    }
    const key = (s: { traceId: string; spanId: string; endNs: string; status: number }) => `${s.traceId}/${s.spanId}/${s.endNs}/${s.status}`;
    expect(jsonSpans(bodies).map((s: any) => key({ traceId: s.traceId, spanId: s.spanId, endNs: String(s.endTimeUnixNano), status: s.status?.code ?? 0 })).sort()).toEqual(spans.map(key).sort());
  }, 120_000);
});

describe("scope run --otlp: records out of time order across threads", () => {
  /** The spans a stream of `trace` sends (JSON), as traceId/spanId/name. */
  async function streamed(trace: string, lookChunks?: number): Promise<string[]> {
    const bodies: string[] = [];
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async (request) => (bodies.push(await request.text()), new Response("{}", { headers: { "content-type": "application/json" } })) });
    try {
      const stream = OtlpStream.start({ endpoint: `http://127.0.0.1:${server.port}/v1/traces`, format: "json", functions: false, trace, pollMs: 20, lookChunks });
      const totals = await stream.finish();
      expect([totals.made, totals.sent, totals.failure]).toEqual([totals.made, totals.made, null]);
    } finally {
      server.stop(true);
    }
    return jsonSpans(bodies).map((s: any) => `${s.traceId}/${s.spanId}/${s.name}`).sort();
  }

  test("a receive that reaches the file before its send (another thread's lane drained later) joins its send's trace", async () => {
    // The fixture's trace rewritten as the collector can write it under load: the worker's
    // receives in the first chunk, everything else in the next; one chunk a look.
    const records = [...readTrace(traced.out).records()];
    const receives = records.filter((r) => r.kind === "message_receive");
    expect(receives.length).toBeGreaterThan(0);
    const encode = (list: typeof records) =>
      encodeRecords(list.map((r) => ({ kind: typeof r.kind === "number" ? r.kind : EventKind[r.kind], t: Number(r.timestampNs), pid: r.pid, tid: r.tid, flags: r.flags, payload: [r.a, r.b, r.c, r.d, r.e] })));
    const path = join(scratchDir(), "receives-first.bin");
    // The same header (span ids are made from it): only the records' order differs.
    const { header } = loadTrace(traced.out);
    const writer = TraceWriter.open(path, { host: header.hostName, argv: header.argv, anchors: { monotonicNs: header.monotonicAnchorNs, realtimeNs: header.realtimeAnchorNs, collectorPid: header.collectorPid } });
    writer.append(encode(receives), receives.length);
    const rest = records.filter((r) => r.kind !== "message_receive");
    writer.append(encode(rest), rest.length);
    writer.close({ written: records.length, dropped: 0, overwritten: 0, recorded: records.length });
    const inOrder = await streamed(traced.out);
    expect(inOrder.filter((span) => span.includes("/receive ")).length).toBe(receives.length);
    expect(await streamed(path, 1)).toEqual(inOrder);
  }, 60_000);
});

describe("scope export --otlp: pool waits", () => {
  test("an INTERNAL span named by the client's pool, without the database attributes of a query", async () => {
    const path = join(scratchDir(), "pool.bin");
    const writer = TraceWriter.open(path, { host: "testhost", argv: ["node", "app.js"] });
    const base = Number(monotonicNs());
    // db_pool_wait: a wait id, open and idle connections, request id (none), system (pg); its end 5 ms later.
    const records = [
      { kind: EventKind.db_pool_wait, t: base, pid: 100, tid: 0, payload: [1, 10, 0, 0, 1] },
      { kind: EventKind.db_pool_wait_end, t: base + 5_000_000, pid: 100, tid: 0, payload: [1] },
    ];
    writer.append(encodeRecords(records), records.length);
    writer.close({ written: records.length, dropped: 0, overwritten: 0, recorded: records.length });
    const out = join(scratchDir(), "pool.json");
    const result = await runCli(["export", "--otlp", out, path]);
    expect(result.exitCode, result.stderr).toBe(0);
    const { summary } = await check("check-otlp.py", [out, "json"]);
    expect(summary.errors).toEqual([]);
    expect(summary.spans.map((s: any) => [s.name, s.kind, s.attributes])).toEqual([["pg pool wait", 1, { "scope.db.client": "pg", "scope.pool.open": 10, "scope.pool.idle": 0, "thread.id": 0 }]]);
  });
});

describe("OTLP/HTTP answers: Retry-After, partial success", () => {
  test("a 429 with Retry-After: the next attempt no sooner; one past what scope waits: given up at once, saying so", async () => {
    const times: number[] = [];
    const wait = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (times.push(Date.now()), times.length === 1 ? new Response("slow down", { status: 429, headers: { "retry-after": "2" } }) : new Response()) });
    try {
      const url = `http://127.0.0.1:${wait.port}/v1/traces`;
      const result = await runCli(["export", "--otlp", url, traced.out]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/ spans sent \(OTLP\/HTTP protobuf\)\n$/);
      expect(times.length).toBe(2);
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(1950);
    } finally {
      wait.stop(true);
    }
    let asked = 0;
    const later = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (asked++, new Response("down for maintenance", { status: 503, headers: { "retry-after": "3600" } })) });
    try {
      const url = `http://127.0.0.1:${later.port}/v1/traces`;
      const result = await runCli(["export", "--otlp", url, traced.out]);
      expect([result.exitCode, result.stderr]).toEqual([1, expect.stringMatching(new RegExp(`^scope: ${url}: HTTP 503: down for maintenance \\(Retry-After 3600 s: longer than scope waits, 30 s\\) after 1 attempts; 0 of \\d+ spans sent\n$`))]);
      expect(asked).toBe(1);
    } finally {
      later.stop(true);
    }
  }, 60_000);

  test("a 200 with partial_success.rejected_spans: counted as rejected, not sent (export and stream, protobuf and JSON)", async () => {
    // ExportTraceServiceResponse{partial_success{rejected_spans: 2, error_message: "2 spans too old"}}, as opentelemetry-proto's class encodes it.
    const encoded = Bun.spawnSync([python, "-c", "from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse as R; r = R(); r.partial_success.rejected_spans = 2; r.partial_success.error_message = '2 spans too old'; print(r.SerializeToString().hex())"]);
    const protobuf = Buffer.from(encoded.stdout.toString().trim(), "hex");
    expect(protobuf.byteLength).toBeGreaterThan(10);
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (request) =>
        request.headers.get("content-type") === "application/json"
          ? new Response(JSON.stringify({ partialSuccess: { rejectedSpans: "2", errorMessage: "2 spans too old" } }), { headers: { "content-type": "application/json" } })
          : new Response(protobuf, { headers: { "content-type": "application/x-protobuf" } }),
    });
    try {
      const url = `http://127.0.0.1:${server.port}/v1/traces`;
      for (const format of ["protobuf", "json"]) {
        const result = await runCli(["export", "--otlp", url, "--otlp-format", format, traced.out]);
        expect(result.exitCode, result.stderr).toBe(0);
        const made = Number(/ of (\d+) spans sent/.exec(result.stderr)?.[1]);
        expect(result.stderr).toBe(`scope: ${url}: ${made - 2} of ${made} spans sent; 2 rejected by the endpoint (2 spans too old) (OTLP/HTTP ${format})\n`);
      }
      const stream = OtlpStream.start({ endpoint: url, format: "protobuf", functions: false, trace: traced.out, batchSpans: 5, pollMs: 20 });
      await Bun.sleep(200);
      const totals = await stream.finish();
      const batches = Math.ceil(totals.made / 5);
      expect([totals.sent, totals.rejected]).toEqual([totals.made - 2 * batches, 2 * batches]);
      expect(streamLine(url, totals)).toBe(`scope: otlp: ${totals.sent} of ${totals.made} spans sent to ${url}; ${2 * batches} rejected by the endpoint (2 spans too old)\n`);
    } finally {
      server.stop(true);
    }
  }, 60_000);
});

describe("scope run --otlp: the stream's bounds", () => {
  test("an endpoint that never answers: the queue holds what it may, the rest is counted, the end waits no longer than its flush time", async () => {
    // A real endpoint that takes the connection and never answers.
    const held: (() => void)[] = [];
    const silent = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Promise<Response>((resolve) => held.push(() => resolve(new Response())) ) });
    try {
      const endpoint = `http://127.0.0.1:${silent.port}/v1/traces`;
      const stream = OtlpStream.start({ endpoint, format: "protobuf", functions: true, trace: traced.out, queueSpans: 5, batchSpans: 2, flushMs: 1500, pollMs: 50 });
      await Bun.sleep(300);
      const totals = await stream.finish();
      const made = of("function_call").length; // at least: with functions there are more spans than calls
      expect(totals.made).toBeGreaterThan(made);
      expect(totals.sent).toBe(0);
      expect(totals.queueFull).toBe(totals.made - 5);
      expect(totals.undelivered).toBe(5);
      expect(totals.failure).toBeNull();
      expect(streamLine(endpoint, totals)).toBe(`scope: otlp: 0 of ${totals.made} spans sent to ${endpoint}; ${totals.made - 5} not sent (queue full); 5 not delivered (${totals.lastError}); the trace file has everything: scope export --otlp sends it again\n`);
    } finally {
      for (const answer of held) answer();
      silent.stop(true);
    }
  }, 60_000);
});


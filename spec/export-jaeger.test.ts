/**
 * OTLP into a real receiver: Jaeger v2 (scripts/jaeger-install.sh) with in-memory storage
 * on loopback ports, read back through its query API (/api/traces). `scope export --otlp
 * <url>` and `scope run --otlp <url>` (spans streamed while the program runs, the same
 * spans a later export makes), an endpoint that refuses at first (retried with backoff),
 * and one that is down (the program and its trace file untouched, the loss counted).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, fixtures, runTraced, type Traced } from "./agent-harness";
import { startJaeger, type Jaeger, type JaegerSpan } from "./export-harness";
import { runCli } from "./harness";

let jaeger: Jaeger;
const count = 3;
const app = join(fixtures, "export");
const functions = ["--functions", "--include", "app.cjs"];

beforeAll(async () => {
  jaeger = await startJaeger();
}, 180_000);
afterAll(async () => {
  await jaeger?.stop();
  cleanup();
});

/** Spans as `scope export --otlp file.json` makes them (hex ids), by "traceId/spanId". */
async function exported(trace: string, service: string, extra: string[] = []): Promise<Map<string, { name: string; references: string[] }>> {
  const out = `${trace}.${service}.json`;
  const result = await runCli(["export", "--otlp", out, "--service-name", service, ...extra, trace]);
  expect(result.exitCode, result.stderr).toBe(0);
  const document = JSON.parse(readFileSync(out, "utf8"));
  const spans = new Map<string, { name: string; references: string[] }>();
  for (const rs of document.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        const references = [...new Set([...(s.parentSpanId ? [s.parentSpanId] : []), ...(s.links ?? []).map((l: { spanId: string }) => l.spanId)])].sort();
        spans.set(`${s.traceId}/${s.spanId}`, { name: s.name, references });
      }
    }
  }
  return spans;
}

/** Jaeger's spans of a service, once it holds at least `least` of them. */
async function stored(service: string, least: number): Promise<JaegerSpan[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const spans = await jaeger.spans(service);
    if (spans.length >= least || Date.now() > deadline) return spans;
    await Bun.sleep(200);
  }
}

const parentOf = (span: JaegerSpan) => span.references.find((r) => r.refType === "CHILD_OF")?.spanID ?? "";

/**
 * The same spans: ids, names, and what each refers to (its parent and its links; Jaeger
 * keeps one reference when a consumer's parent and link are the same producer span).
 */
function sameSpans(jaegerSpans: JaegerSpan[], expected: Map<string, { name: string; references: string[] }>): void {
  const got = new Map(jaegerSpans.map((s) => [`${s.traceID}/${s.spanID}`, { name: s.operationName, references: [...new Set(s.references.map((r) => r.spanID))].sort() }]));
  expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, span] of expected) expect(got.get(key)).toEqual(span);
}

describe("OTLP into Jaeger", () => {
  let traced: Traced;

  test("scope export --otlp <url>: every span stored, with the ids and parents of the file export", async () => {
    traced = await runTraced(["node", "app.cjs", String(count)], { cwd: app, scopeArgs: functions });
    expect(traced.status, traced.stderr).toBe(0);
    const expected = await exported(traced.out, "exported", ["--otlp-functions"]);
    const result = await runCli(["export", "--otlp", jaeger.otlpUrl, "--otlp-functions", "--service-name", "exported", traced.out]);
    expect(result.stderr).toBe(`scope: ${jaeger.otlpUrl}: ${expected.size} spans sent (OTLP/HTTP protobuf)\n`);
    expect(result.exitCode, result.stderr).toBe(0);
    const spans = await stored("exported", expected.size);
    sameSpans(spans, expected);
    // Server requests joined the traces of the traceparents they received.
    for (const request of traced.events.filter((e) => e.kind === "http_server_request")) {
      const [, traceId, parentId] = String(request.fields.traceparent).split("-");
      const span = spans.find((s) => s.traceID === traceId && s.tags.some((t) => t.key === "url.path" && t.value === String(request.fields.target).split("?")[0]))!;
      expect(span.operationName).toBe("GET");
      expect(parentOf(span)).toBe(parentId!);
    }
    const tags = (s: JaegerSpan) => Object.fromEntries(s.tags.map((t) => [t.key, t.value]));
    const queries = spans.filter((s) => tags(s)["db.system.name"] === "sqlite");
    expect(queries.length).toBe(traced.events.filter((e) => e.kind === "db_query").length);
    expect(queries.map((s) => tags(s)["db.query.text"]).sort()).toEqual(traced.events.filter((e) => e.kind === "db_query").map((e) => e.fields.text).sort());
  }, 180_000);

  test("scope run --otlp <url>: spans arrive while the program runs, the same spans a later export makes", async () => {
    const service = "streamed";
    const wait = `${jaeger.queryUrl}/api/traces?service=${service}&limit=1000`;
    const run = await runTraced(["node", "app.cjs", String(count)], { cwd: app, scopeArgs: [...functions, "--otlp", jaeger.otlpUrl, "--service-name", service], env: { WAIT_FOR_SPAN: wait } });
    // The program saw its first request's span in Jaeger before it ended.
    expect(run.stdout).toContain("seen while running");
    expect(run.status, run.stderr).toBe(0);
    const expected = await exported(run.out, service);
    expect(run.summary).toContain(`scope: otlp: ${expected.size} of ${expected.size} spans sent to ${jaeger.otlpUrl}\n`);
    const spans = await stored(service, expected.size);
    sameSpans(spans, expected);
    // Two runs (two pids), the same message operations: named by channel, the pid a tag.
    const messageOperations = async (of: string) => {
      const response = (await (await fetch(`${jaeger.queryUrl}/api/operations?service=${of}`)).json()) as { data: { name: string; spanKind: string }[] };
      return response.data.filter((o) => o.spanKind === "producer" || o.spanKind === "consumer").map((o) => `${o.spanKind} ${o.name}`).sort();
    };
    const operations = await messageOperations(service);
    expect(operations).toEqual(["consumer receive worker#2", "producer send worker#2"].map((o) => o.replace("#2", `#${run.events.find((e) => e.kind === "message_send")!.fields.channelSubId}`)));
    expect(await messageOperations("exported")).toEqual(operations);
    const pid = run.events.find((e) => e.kind === "trace_start" && e.fields.mainThread)!.pid;
    for (const span of spans.filter((s) => s.operationName.startsWith("send "))) expect(span.tags.find((t) => t.key === "scope.message.channel_owner_pid")?.value).toBe(pid);
  }, 180_000);

  test("a crash's flight-recorder dump: the requests and query left open stored as errors, marked unfinished", async () => {
    const crash = await runTraced(["node", "app.cjs", "1"], { cwd: app, env: { CRASH: "1" }, scopeArgs: ["--flight-recorder", "30s"] });
    expect(crash.status).toBe(1);
    const result = await runCli(["export", "--otlp", jaeger.otlpUrl, "--service-name", "crashed", crash.out]);
    expect(result.stderr).toBe(`scope: ${jaeger.otlpUrl}: 7 spans sent (OTLP/HTTP protobuf)\n`);
    const spans = await stored("crashed", 7);
    const tags = (s: JaegerSpan) => Object.fromEntries(s.tags.map((t) => [t.key, t.value]));
    const unfinished = spans.filter((s) => tags(s)["scope.unfinished"] === true);
    // app.cjs's worker too, still running when the process crashed.
    expect(unfinished.map((s) => `${tags(s)["span.kind"] ?? "internal"} ${s.operationName}`).sort()).toEqual(["client GET", "client GET", "client SELECT crash() AS c", "internal worker [eval]", "server GET", "server GET"]);
    for (const span of unfinished) {
      expect(tags(span).error).toBe(true);
      expect(tags(span)["otel.status_code"]).toBe("ERROR");
      expect(String(tags(span)["otel.status_description"])).toContain("never finished");
      expect(span.duration).toBeGreaterThan(0);
    }
  }, 180_000);

  test("an endpoint that refuses at first: retried with backoff until it takes the spans", async () => {
    let refusals = 0;
    const flaky = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(request) {
        if (refusals < 3) {
          refusals++;
          return new Response("busy", { status: 503 });
        }
        return fetch(jaeger.otlpUrl, { method: "POST", headers: { "content-type": request.headers.get("content-type")! }, body: await request.arrayBuffer() });
      },
    });
    try {
      const url = `http://127.0.0.1:${flaky.port}/v1/traces`;
      const run = await runTraced(["node", "app.cjs", String(count)], { cwd: app, scopeArgs: ["--otlp", url, "--service-name", "flaky"] });
      expect(run.status, run.stderr).toBe(0);
      expect(refusals).toBe(3);
      const expected = await exported(run.out, "flaky");
      expect(run.summary).toContain(`scope: otlp: ${expected.size} of ${expected.size} spans sent to ${url}\n`);
      sameSpans(await stored("flaky", expected.size), expected);
    } finally {
      flaky.stop(true);
    }
  }, 180_000);

  test("an endpoint that is down: the program and its trace file as without --otlp, the loss counted", async () => {
    // A port nothing listens on (Bun gave it out and closed it).
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const url = `http://127.0.0.1:${closed.port}/v1/traces`;
    closed.stop(true);
    const run = await runTraced(["node", "app.cjs", String(count)], { cwd: app, scopeArgs: [...functions, "--otlp", url] });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe(`r1 r2 r3\ndone\n`);
    // The trace is whole: closed, nothing lost, every request and query in it.
    expect(run.end.dropped + run.end.overwritten).toBe(0);
    expect(run.events.filter((e) => e.kind === "http_server_request").length).toBe(2 * count);
    expect(run.events.filter((e) => e.kind === "db_query").length).toBe(2 * count + 1);
    expect(run.events.filter((e) => e.kind === "function_call").length).toBeGreaterThan(20);
    const made = (await exported(run.out, "down")).size;
    expect(run.summary).toContain(`scope: otlp: 0 of ${made} spans sent to ${url}; ${made} not delivered (`);
    expect(run.summary).toContain("the trace file has everything");
  }, 180_000);
});

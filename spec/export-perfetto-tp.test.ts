/**
 * `scope export --perfetto` opened by Perfetto's own trace processor (the WebAssembly build
 * the Perfetto UI runs, installed by scripts/perfetto-tp-install.sh; spec/perfetto-tp.mjs
 * drives it in Node): what Perfetto itself makes of the file, asked in its SQL — every
 * process and thread track, every slice with its nesting, every flow with both ends, every
 * counter — compared with the trace as scope decodes it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, runTraced, scratchDir, type Traced } from "./agent-harness";
import { callEnded, requestName, runtimeTraceCounters, tally, traceExportFixture, writeRuntimeTrace } from "./export-harness";
import { stepName } from "../src/export/slices";
import { repoRoot, runCli } from "./harness";

const assets = join(repoRoot, ".tools", "perfetto-tp", "trace_processor.wasm");

/** Each query's rows, from Perfetto's trace processor with `pftrace` loaded. */
async function perfetto(pftrace: string, queries: Record<string, string>): Promise<Record<string, Record<string, any>[]>> {
  if (!existsSync(assets)) throw new Error(`${assets} is missing: run scripts/perfetto-tp-install.sh`);
  const child = Bun.spawn(["node", join(repoRoot, "spec", "perfetto-tp.mjs"), pftrace], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  child.stdin.write(JSON.stringify(queries));
  await child.stdin.end();
  const [stdout, stderr, status] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (status !== 0) throw new Error(`perfetto-tp.mjs exited ${status}: ${stderr.slice(-2000)}`);
  const out = JSON.parse(stdout);
  for (const [name, rows] of Object.entries(out)) if (!Array.isArray(rows)) throw new Error(`${name}: ${JSON.stringify(rows)}`);
  return out;
}

const counted = (rows: Record<string, any>[]) => Object.fromEntries(rows.map((row) => [row.name, row.n]));

let traced: Traced;
const count = 3;

beforeAll(async () => {
  traced = await traceExportFixture(count);
}, 120_000);
afterAll(cleanup);

const of = (kind: string) => traced.events.filter((e) => e.kind === kind);
const ended = (call: TraceEvent) => callEnded(traced.events, call);

describe("scope export --perfetto in Perfetto's trace processor", () => {
  test("every process and thread track, slice, nesting and flow, as Perfetto reads them", async () => {
    const out = join(scratchDir(), "t.pftrace");
    expect((await runCli(["export", "--perfetto", traced.out, "-o", out])).exitCode).toBe(0);
    const tp = await perfetto(out, {
      processes: "SELECT pid, name FROM process WHERE pid != 0 ORDER BY pid",
      threads: "SELECT p.pid, t.tid, t.name FROM thread t JOIN process p USING (upid) WHERE t.tid != 0",
      threadTracks: "SELECT DISTINCT t.tid FROM thread_track tt JOIN thread t USING (utid)",
      slices: "SELECT name, count(*) AS n FROM slice GROUP BY name",
      sliceThreads: "SELECT count(*) AS n FROM slice s LEFT JOIN thread_track tt ON tt.id = s.track_id WHERE tt.id IS NULL AND s.track_id NOT IN (SELECT id FROM process_track)",
      nesting: "SELECT s.name, p.name AS parent, s.depth FROM slice s LEFT JOIN slice p ON p.id = s.parent_id",
      flows: "SELECT o.name AS out_name, i.name AS in_name FROM flow f JOIN slice o ON o.id = f.slice_out JOIN slice i ON i.id = f.slice_in",
    });

    // A process per pid, named by its command line; a thread per (pid, tid): main, worker N.
    const pids = [...new Set(traced.events.map((e) => e.pid))].sort((a, b) => a - b);
    expect(tp.processes!.map((p) => p.pid)).toEqual(pids);
    const app = of("trace_start").find((e) => e.fields.mainThread)!;
    expect(tp.processes).toContainEqual({ pid: app.pid, name: `${app.pid}: ${app.fields.argv}` });
    const threads = [...new Set(traced.events.map((e) => `${e.pid}/${e.tid}`))].sort();
    // Perfetto's tids are the system's: a main thread is its pid, worker N is pid + N·2^32.
    const local = (t: Record<string, any>) => `${t.pid}/${t.tid === t.pid ? 0 : (t.tid - t.pid) / 2 ** 32}`;
    expect(tp.threads!.map(local).sort()).toEqual(threads);
    for (const t of tp.threads!) expect(t.name).toBe(t.tid === t.pid ? "main" : `worker ${(t.tid - t.pid) / 2 ** 32}`);
    // Every slice is on a thread's track or a process's.
    expect(tp.sliceThreads).toEqual([{ n: 0 }]);
    // Each thread that recorded a call has a track of its own.
    const callThreads = new Set(of("function_call").map((e) => `${e.pid}/${e.tid}`));
    const tracked = new Set(tp.threadTracks!.map((t) => local({ tid: t.tid, pid: tp.threads!.find((x) => x.tid === t.tid)!.pid })));
    for (const thread of callThreads) expect(tracked.has(thread)).toBe(true);

    // Slices (and instants, slices of no duration to Perfetto): every call that ended by its
    // function, request (method target status), query (text); every other event by its
    // kind, a call that never ended by its function.
    const sliced = new Set(["string", "function_table", "function_call", "function_return", "function_throw", "function_settle", "http_server_request", "http_server_response", "http_client_request", "http_client_response", "http_connection", "http_client_connection", "http_traceparent", "http_route", "db_query", "db_query_end", "db_pool_wait", "db_pool_wait_end", "db_connection"]);
    const calls = of("function_call").filter(ended);
    expect(calls.length).toBeGreaterThan(20);
    const expected = tally([
      ...calls.map((e) => String(e.fields.function)),
      ...[...of("http_server_request"), ...of("http_client_request")].map(requestName),
      ...of("db_query").map((e) => String(e.fields.text)),
      ...traced.events.filter((e) => !sliced.has(e.kind)).map((e) => e.kind),
      ...of("function_call").filter((e) => !ended(e)).map((e) => String(e.fields.function)),
    ]);
    expect(counted(tp.slices!)).toEqual(expected);
    expect(Object.keys(expected).filter((name) => name.startsWith("GET /r/")).length).toBe(count);

    // Nesting as the calls ran (store → outer → inner, synchronous): Perfetto puts each inner
    // under an outer and each outer under a store.
    const parentsOf = (prefix: string) => [...new Set(tp.nesting!.filter((slice) => String(slice.name).startsWith(`${prefix} (`)).map((slice) => String(slice.parent).split(" (")[0]))];
    expect(tp.nesting!.filter((slice) => String(slice.name).startsWith("inner (")).length).toBe(2 * count);
    expect(parentsOf("inner")).toEqual(["outer"]);
    expect(parentsOf("outer")).toEqual(["store"]);
    expect(Math.max(...tp.nesting!.map((slice) => slice.depth))).toBeGreaterThanOrEqual(3);

    // Flows, both ends found by Perfetto: each message (send → receive), each client request → the server request it reached.
    const linkedServers = of("http_server_request").filter((e) => typeof e.fields.peerIndex === "number");
    expect(linkedServers.length).toBe(2 * count);
    expect(tally(tp.flows!.map((f) => `${f.out_name} -> ${f.in_name}`))).toEqual(
      tally([
        ...of("message_receive").filter((e) => e.linkedTo.length === 1).map(() => "message_send -> message_receive"),
        ...linkedServers.map((server) => `${requestName(traced.events[server.fields.peerIndex as number]!)} -> ${requestName(server)}`),
      ]),
    );
  }, 180_000);

  test("GC pauses and long tasks as slices with their durations, loop delay and heap as counters with their values", async () => {
    const path = join(scratchDir(), "runtime.bin");
    const { ms } = writeRuntimeTrace(path);
    const out = join(scratchDir(), "runtime.pftrace");
    expect((await runCli(["export", "--perfetto", path, "-o", out])).exitCode).toBe(0);

    const tp = await perfetto(out, {
      slices: "SELECT s.name, s.dur, t.name AS track FROM slice s JOIN track t ON t.id = s.track_id ORDER BY s.ts",
      counters: "SELECT ct.name, count(*) AS n FROM counter c JOIN counter_track ct ON ct.id = c.track_id GROUP BY ct.name",
      heap: "SELECT c.value FROM counter c JOIN counter_track ct ON ct.id = c.track_id WHERE ct.name = 'main heap used' ORDER BY c.ts",
      p50: "SELECT c.value FROM counter c JOIN counter_track ct ON ct.id = c.track_id WHERE ct.name = 'main loop delay p50' ORDER BY c.ts",
    });
    expect(tp.slices).toEqual([
      { name: "long task: timer", dur: 40 * ms, track: "main long tasks" },
      { name: "gc scavenge", dur: 3 * ms, track: "main gc" },
      { name: "gc mark_compact", dur: 1 * ms, track: "main gc" },
    ]);
    expect(counted(tp.counters!)).toEqual(runtimeTraceCounters);
    expect(tp.heap!.map((row) => row.value)).toEqual([10 << 20, 11 << 20, 12 << 20]);
    expect(tp.p50!.map((row) => row.value)).toEqual([2 * ms, 3 * ms, 4 * ms]);
  }, 120_000);

  test("a framework's steps (middleware, handlers, error handlers) are slices named by step, each inside its own request", async () => {
    const web = await expressTrace();
    const starts = web.events.filter((event) => event.kind === "http_step_start");
    expect(starts.length).toBeGreaterThan(20);
    const out = join(scratchDir(), "steps.pftrace");
    expect((await runCli(["export", "--perfetto", web.out, "-o", out])).exitCode).toBe(0);
    const step = "s.name LIKE 'middleware %' OR s.name LIKE 'handler %' OR s.name LIKE 'error %' OR s.name LIKE 'step %'";
    const tp = await perfetto(out, {
      steps: `SELECT s.name, s.dur, (SELECT int_value FROM args a WHERE a.arg_set_id = s.arg_set_id AND a.key = 'debug.index') AS ix FROM slice s WHERE ${step} ORDER BY s.ts, ix`,
      raw: "SELECT count(*) AS n FROM slice WHERE name IN ('http_step_start', 'http_step_end')",
      // Each step's ancestors include its own request (a step's requestIndex is its request's index).
      outside: `WITH st AS (SELECT s.id, (SELECT int_value FROM args a WHERE a.arg_set_id = s.arg_set_id AND a.key = 'debug.requestIndex') AS req FROM slice s WHERE ${step})
        SELECT count(*) AS n FROM st WHERE NOT EXISTS (SELECT 1 FROM ancestor_slice(st.id) an JOIN args a ON a.arg_set_id = an.arg_set_id AND a.key = 'debug.index' WHERE a.int_value = st.req)`,
    });
    expect(tp.raw).toEqual([{ n: 0 }]);
    expect(tp.steps).toEqual(starts.map((event) => ({ name: stepName(event), dur: event.fields.durationNs as number, ix: event.index })));
    expect(tp.steps!.some((row) => row.name.startsWith("middleware "))).toBe(true);
    expect(tp.steps!.some((row) => /^handler .* \/\S+/.test(row.name))).toBe(true);
    expect(tp.steps!.some((row) => row.name.startsWith("error "))).toBe(true);
    expect(tp.outside).toEqual([{ n: 0 }]);
  }, 120_000);

  // Perfetto's UI groups slices by name: named by URL (/items/1, /items/2, ...) a service's
  // requests made one row each (1,100 names for 5,000 requests of a real trace).
  test("a server request with a route is a slice named by its route, its target kept in the args", async () => {
    const web = await expressTrace();
    const routed = web.events.filter((event) => event.kind === "http_server_request" && typeof event.fields.route === "string" && event.fields.route !== "");
    expect(routed.some((event) => event.fields.route !== event.fields.target)).toBe(true);
    const out = join(scratchDir(), "routes.pftrace");
    expect((await runCli(["export", "--perfetto", web.out, "-o", out])).exitCode).toBe(0);
    const tp = await perfetto(out, {
      requests: `SELECT s.name, (SELECT string_value FROM args a WHERE a.arg_set_id = s.arg_set_id AND a.key = 'debug.target') AS target, (SELECT int_value FROM args a WHERE a.arg_set_id = s.arg_set_id AND a.key = 'debug.index') AS ix FROM slice s WHERE EXISTS (SELECT 1 FROM args a WHERE a.arg_set_id = s.arg_set_id AND a.key = 'debug.target') ORDER BY ix`,
    });
    const byIndex = new Map(tp.requests!.map((row) => [row.ix, row]));
    for (const event of routed) {
      expect({ index: event.index, ...(byIndex.get(event.index) as Record<string, unknown> | undefined) } as Record<string, unknown>).toEqual({ index: event.index, name: `${event.fields.method} ${event.fields.route} ${event.fields.status}`, target: event.fields.target, ix: event.index });
    }
  }, 120_000);

  // A step's end printed as raw fields ("requestId=1 step=1 failed=false requestIndex=34") while its start was formatted.
  test("dump text: a step's end names its step and its request, failed ones their error", async () => {
    const web = await expressTrace();
    const dump = await runCli(["dump", web.out]);
    expect(dump.exitCode).toBe(0);
    const ends = dump.stdout.split("\n").filter((line) => /\shttp_step_end\s/.test(line));
    expect(ends.length).toBe(web.events.filter((event) => event.kind === "http_step_end").length);
    for (const line of ends) expect(line).toMatch(/http_step_end\s+step \d+ ended of request \d+ \(\d+\/\d+ #\d+\)( failed .*)?$/);
    expect(ends.some((line) => / failed \S+ "/.test(line))).toBe(true);
  }, 120_000);

  test("dump --chrome: the same steps as slices of their duration, each within its request's slice on its track", async () => {
    const web = await expressTrace();
    const starts = web.events.filter((event) => event.kind === "http_step_start");
    const dump = await runCli(["dump", "--chrome", web.out]);
    expect(dump.exitCode).toBe(0);
    const events = (JSON.parse(dump.stdout) as { traceEvents: { name: string; ph: string; cat?: string; ts: number; dur?: number; pid: number; tid: number; args?: Record<string, any> }[] }).traceEvents;
    expect(events.filter((e) => e.name === "http_step_start" || e.name === "http_step_end")).toEqual([]);
    const steps = events.filter((e) => e.cat === "step");
    expect(steps.map((e) => [e.name, e.args!.index])).toEqual(starts.map((event) => [stepName(event), event.index]));
    const requests = new Map(events.filter((e) => e.cat === "http").map((e) => [e.args!.index as number, e]));
    for (const step of steps) {
      const start = web.events[step.args!.index]!;
      expect(step.dur).toBeCloseTo((start.fields.durationNs as number) / 1000, 3);
      const request = requests.get(start.fields.requestIndex as number)!;
      expect([step.pid, step.tid]).toEqual([request.pid, request.tid]);
      expect(step.ts).toBeGreaterThanOrEqual(request.ts);
      expect(step.ts + step.dur!).toBeLessThanOrEqual(request.ts + request.dur! + 0.001);
    }
  }, 120_000);
});

let expressRun: Promise<Traced> | undefined;
/** spec/fixtures/web/express.cjs (Express 4: middleware, routers, handlers that throw, an error handler) traced once for the step tests. */
function expressTrace(): Promise<Traced> {
  expressRun ??= runTraced(["node", "web/express.cjs"], { env: { EXPRESS: "express4" } }).then((web) => {
    if (web.status !== 0) throw new Error(`express.cjs exited ${web.status}: ${web.stderr}`);
    return web;
  });
  return expressRun;
}

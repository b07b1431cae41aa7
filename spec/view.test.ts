/**
 * `scope view`'s index and server on a trace recorded by a real `scope run`: tracks, links,
 * windows (every slice drawn or merged exactly once at any zoom), search, top functions,
 * the token (403 without it), the CLI's errors, damaged and still-written traces.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cliEntry, repoRoot, runCli, runCliWithCollectorStopped } from "./harness";
import { recordViewTraces, viewFixture, type ViewTraces } from "./view-harness";
import { encodeRecord, encodeString } from "../src/core/events";
import { EventKind, RECORD_SIZE } from "../src/core/layout";
import { SliceKind } from "../src/view/wire";
import { readTrace, TraceWriter } from "../src/core/trace-file";
import { TraceIndex } from "../src/view/index";
import { startViewServer } from "../src/view/server";
import { stepName } from "../src/export/slices";
import { runTraced } from "./agent-harness";

let traces: ViewTraces;
let index: TraceIndex;

beforeAll(async () => {
  traces = await recordViewTraces();
  index = TraceIndex.open(traces.trace);
}, 120_000);

afterAll(() => rmSync(traces.dir, { recursive: true, force: true }));

describe("index", () => {
  test("one track per process and thread, grouped by process, with lanes for async calls and requests", () => {
    const meta = index.meta();
    expect(meta.status.warning).toBeNull();
    const names = meta.tracks.map((track) => `${track.process.replace(/^\d+/, "PID")} | ${track.label}`);
    expect(names).toContain("PID: node app.cjs | main");
    expect(names).toContain("PID: node app.cjs | main · async");
    expect(names).toContain("PID: node app.cjs | main · requests");
    expect(names.some((name) => /^PID: node app\.cjs \| worker \d+$/.test(name))).toBe(true);
    expect(names).toContain("PID: node app.cjs child | main");
    // Grouped: the tracks of one process are next to each other.
    const pids = meta.tracks.map((track) => track.pid);
    expect(pids.filter((pid, i) => i > 0 && pid !== pids[i - 1]).length).toBe(new Set(pids).size - 1);
  });

  test("every slice is drawn or merged exactly once, at any width", () => {
    const meta = index.meta();
    for (const widthPx of [3, 50, 1000, 100_000]) {
      const window = index.window({ startNs: 0, endNs: meta.durationNs + 1, widthPx });
      let count = 0;
      for (let i = 6; i < window.slices.length; i += 9) count += window.slices[i]!;
      expect(count).toBe(meta.slices);
      if (widthPx === 3) expect(window.slices.length / 9).toBeLessThan(meta.slices / 10);
    }
  });

  test("a window for some tracks has only theirs (the page asks for the tracks near its view)", () => {
    const meta = index.meta();
    const worker = meta.tracks.find((track) => /^worker \d+$/.test(track.label))!;
    const window = index.window({ startNs: 0, endNs: meta.durationNs + 1, widthPx: 1000, tracks: [worker.id] });
    const tracks = new Set<number>();
    for (let i = 0; i < window.slices.length; i += 9) tracks.add(window.slices[i]!);
    for (let i = 0; i < window.instants.length; i += 6) tracks.add(window.instants[i]!);
    expect([...tracks]).toEqual([worker.id]);
    expect(window.slices.length).toBeGreaterThan(0);
  });

  test("a message's send and receive are linked both ways, the receive to its handler", () => {
    const send = index.search("sum of the ultimate rounds").hits.find((hit) => hit.kind === "send" && hit.name.includes("question"))!;
    expect(send).toBeDefined();
    const sent = index.details(send.id)!;
    expect(sent.kind).toBe("message_send");
    const received = sent.links.find((link) => link.label === "received by")!;
    expect(received).toBeDefined();
    const receive = index.details(received.id)!;
    expect(receive.kind).toBe("message_receive");
    expect(receive.fields.preview).toContain("sum of the ultimate rounds");
    expect(receive.links.find((link) => link.label === "sent by")?.id).toBe(send.id);
    const handler = receive.links.find((link) => link.label === "handled by")!;
    expect(handler.name).toStartWith("handleWorkerMessage");
    const call = index.details(handler.id)!;
    expect(call.kind).toBe("function_call");
    expect(call.end?.kind).toBe("function_return");
    // Argument and value previews (strings the index does not keep) are read when the event is opened.
    expect(call.fields.args).toBe('[{"question":"sum of the ultimate rounds"}]');
    expect(call.end?.fields.value).toBe("undefined");
    expect(call.links.map((link) => link.label)).toContain("handles message");
    // The window has the arrow of that message.
    const window = index.window({ startNs: 0, endNs: index.meta().durationNs + 1, widthPx: 1000 });
    const arrows: number[] = [];
    for (let i = 0; i < window.arrows.length; i += 7) arrows.push(window.arrows[i + 5]!, window.arrows[i + 6]!);
    expect(arrows).toContain(send.id);
    expect(arrows).toContain(received.id);
  });

  test("spawns link to the child's start; the request is a slice with its response", () => {
    const spawn = index.search("spawn").hits.find((hit) => hit.kind === "spawn")!;
    const started = index.details(spawn.id)!.links.find((link) => link.label === "started")!;
    expect(index.details(started.id)!.kind).toBe("trace_start");
    const request = index.search("/totals?from=view").hits.find((hit) => hit.kind === "request" && !hit.name.startsWith("→"))!;
    const details = index.details(request.id)!;
    expect(details.kind).toBe("http_server_request");
    expect(details.end?.kind).toBe("http_server_response");
    expect(details.durationNs).toBeGreaterThan(0);
    // The program's own client request reached it: linked both ways (by connection), an arrow between them.
    const client = details.links.find((link) => link.label === "requested by")!;
    expect(index.details(client.id)!.kind).toBe("http_client_request");
    expect(index.details(client.id)!.links.find((link) => link.label === "served by")?.id).toBe(request.id);
    const window = index.window({ startNs: 0, endNs: index.meta().durationNs + 1, widthPx: 1000 });
    const requestArrows: number[][] = [];
    for (let i = 0; i < window.arrows.length; i += 7) if (window.arrows[i + 4] === 3) requestArrows.push([window.arrows[i + 5]!, window.arrows[i + 6]!]);
    expect(requestArrows).toEqual([[client.id, request.id]]);
  });

  test("with --async a callback's first call is caused by the call that scheduled it", () => {
    const timer = index.search("afterTimer").hits.find((hit) => hit.kind === "call")!;
    const cause = index.details(timer.id)!.links.find((link) => link.label === "caused by")!;
    expect(cause).toBeDefined();
    // The promise executor inside scheduleLater, which called setTimeout.
    expect(index.details(cause.id)!.links.find((link) => link.label === "called by")?.name).toStartWith("scheduleLater (");
  });

  test("search finds functions by name and file; top functions by self and total time", () => {
    const found = index.search("computeTotals");
    expect(found.total).toBeGreaterThanOrEqual(5); // main 3+1, worker, child, request
    expect(found.hits.every((hit) => hit.name.startsWith("computeTotals ("))).toBe(true);
    expect(index.search("fixtures/view/app.cjs").total).toBeGreaterThan(100);
    const range = index.meta().durationNs;
    const top = index.top(0, range);
    const fib = top.bySelf.find((entry) => entry.name.startsWith("fibonacciLeaf"))!;
    expect(fib.selfNs).toBeGreaterThan(0);
    const totals = top.byTotal.find((entry) => entry.name.startsWith("computeTotals"))!;
    expect(totals.totalNs).toBeGreaterThanOrEqual(fib.totalNs * 0); // present
    // Recursion counted once: fibonacciLeaf's total is within the computeTotals calls around it.
    expect(top.byTotal.find((entry) => entry.name.startsWith("fibonacciLeaf"))!.totalNs).toBeLessThanOrEqual(totals.totalNs);
  });

  test("search finds a failed call by its error: a throw's type and message, a rejection's message", async () => {
    const program = join(traces.dir, "fails.cjs");
    writeFileSync(
      program,
      [
        "function reserveStock(n) { if (n > 2) throw new RangeError('out of stock: ' + n); return n; }",
        "async function chargeCard(id) { await null; throw new Error('card declined for ' + id); }",
        "for (let i = 0; i < 4; i++) { try { reserveStock(i); } catch {} }",
        "chargeCard('c-7').catch(() => console.log('declined'));",
      ].join("\n"),
    );
    const path = join(traces.dir, "fails.bin");
    const run = await runCli(["run", "--functions", "-o", path, "--", "node", program]);
    expect(run.exitCode, run.stderr).toBe(0);
    const fails = TraceIndex.open(path);
    const stock = fails.search("out of stock");
    expect(stock.total).toBe(1);
    expect(stock.hits[0]!.kind).toBe("call");
    expect(stock.hits[0]!.name).toMatch(/^reserveStock \(.*fails\.cjs:1:\d+\): RangeError: out of stock: 3$/);
    const declined = fails.search("CARD DECLINED");
    expect(declined.hits.map((hit) => [hit.kind, hit.name.replace(/ \(.*\)/, "")])).toEqual([["async call", "chargeCard: card declined for c-7"]]);
    // A function found by its name is listed once, not again for its error.
    expect(fails.search("reserveStock").total).toBe(4);
    // A failed query, by its error (bun:sqlite).
    const queries = join(traces.dir, "query-fails.ts");
    writeFileSync(queries, 'import { Database } from "bun:sqlite";\nconst db = new Database(":memory:");\ntry { db.query("SELECT * FROM invoices").all(); } catch {}\n');
    const dbPath = join(traces.dir, "query-fails.bin");
    const dbRun = await runCli(["run", "-o", dbPath, "--", process.execPath, queries]);
    expect(dbRun.exitCode, dbRun.stderr).toBe(0);
    const missing = TraceIndex.open(dbPath).search("no such table");
    expect(missing.hits.map((hit) => [hit.kind, hit.name])).toEqual([["query", "SELECT * FROM invoices: SQLITE_ERROR: no such table: invoices"]]);
  });

  test("at the calls level (no returns recorded) calls are marks that do not nest", async () => {
    const path = join(traces.dir, "calls.bin");
    const run = await runCli(["run", "--functions", "--level", "calls", "-o", path, "--", "node", viewFixture]);
    expect(run.exitCode, run.stderr).toBe(0);
    const calls = TraceIndex.open(path);
    const main = calls.meta().tracks.find((track) => track.kind === "calls" && track.process.endsWith("node app.cjs") && track.label === "main")!;
    expect(main.rows).toBe(1);
    expect(calls.search("fibonacciLeaf").total).toBeGreaterThan(100);
  }, 60_000);

  test("a damaged trace opens with what is valid and says so", () => {
    const damaged = TraceIndex.open(traces.damaged);
    const meta = damaged.meta();
    expect(meta.status.warning).toContain("damaged");
    expect(meta.records).toBeGreaterThan(0);
    expect(meta.records).toBeLessThan(index.meta().records);
  });
});

describe("framework steps", () => {
  test("middleware, handlers and error handlers are slices on their thread's steps track, named and timed as recorded, each linked to its request", async () => {
    const web = await runTraced(["node", "web/express.cjs"], { env: { EXPRESS: "express4" } });
    expect(web.status, web.stderr).toBe(0);
    const starts = web.events.filter((event) => event.kind === "http_step_start");
    expect(starts.length).toBeGreaterThan(20);
    const steps = TraceIndex.open(web.out);
    const labels = steps.meta().tracks.map((track) => track.label);
    expect(labels).toContain("main · steps");
    // (each once: a failed step is also found by its error, listed as "name: error")
    const found = ["middleware", "handler", "error"].flatMap((what) => steps.search(what, 100_000).hits.filter((hit) => hit.kind === "step"));
    const hits = found.filter((hit, i) => found.findIndex((other) => other.id === hit.id) === i);
    expect(hits.map((hit) => hit.name).sort()).toEqual(starts.map(stepName).sort());
    // Each one's duration is the model's, and it links to its request (the request's slice, on the requests track).
    const byName = new Map<string, number[]>();
    for (const event of starts) byName.set(stepName(event), [...(byName.get(stepName(event)) ?? []), event.fields.durationNs as number]);
    for (const hit of hits) {
      const details = steps.details(hit.id)!;
      expect(details.kind).toBe("http_step_start");
      expect(byName.get(hit.name)).toContain(details.durationNs!);
      const link = details.links.find((l) => l.label === "step of request")!;
      expect(link).toBeDefined();
      const request = steps.details(link.id)!;
      expect(request.kind).toBe("http_server_request");
      expect(request.fields.requestId).toBe(details.fields.requestId);
      expect(details.timeNs).toBeGreaterThanOrEqual(request.timeNs);
      expect(details.timeNs + details.durationNs!).toBeLessThanOrEqual(request.timeNs + request.durationNs!);
    }
  }, 120_000);
});

describe("loop and memory", () => {
  test("recorded by scope run --events +loop,+memory: heap and loop delay counters, long tasks on their lane", () => {
    const meta = index.meta();
    const main = meta.tracks.filter((track) => track.process.endsWith(": node app.cjs") && track.tid === 0);
    const heap = main.find((track) => track.label === "main · heap used")!;
    const delay = main.find((track) => track.label === "main · loop delay p99")!;
    expect(heap.unit).toBe("bytes");
    expect(delay.unit).toBe("ns");
    const window = index.window({ startNs: 0, endNs: meta.durationNs + 1, widthPx: 2000 });
    const samples = window.counters[heap.id]!;
    expect(samples.length).toBeGreaterThanOrEqual(3 * 2);
    for (let i = 2; i < samples.length; i += 3) expect(samples[i]!).toBeGreaterThan(1 << 20); // a Node heap is MiBs
    // afterTimer busies its turn for 60 ms: a long task of at least the 20 ms threshold.
    const lane = main.find((track) => track.kind === "loop")!;
    const tasks: number[] = [];
    for (let i = 0; i < window.slices.length; i += 9) if (window.slices[i] === lane.id && window.labels[window.slices[i + 4]!]!.startsWith("long task")) tasks.push(window.slices[i + 3]! - window.slices[i + 2]!);
    expect(tasks.length).toBeGreaterThanOrEqual(1);
    expect(Math.max(...tasks)).toBeGreaterThanOrEqual(50e6);
  });

  // Written by hand: the agent side of these kinds is another part of scope; here only what the view makes of them.
  test("GCs and long tasks are slices at their start on a lane of their own; heap and loop delay are counters", () => {
    const path = join(traces.dir, "loop.bin");
    const writer = TraceWriter.open(path, { host: "testhost", argv: ["node", "app.js"] });
    // Times after the trace's clock anchor, which its header (already written) holds.
    const t0 = readTrace(path).header.monotonicAnchorNs;
    const ms = (n: number) => t0 + BigInt(n) * 1_000_000n;
    const records = [
      { kind: EventKind.trace_start, timestampNs: ms(1), pid: 10, tid: 0, b: 1, e: 1 },
      { kind: EventKind.memory_sample, timestampNs: ms(2), pid: 10, tid: 0, a: 4 << 20 },
      { kind: EventKind.loop_sample, timestampNs: ms(3), pid: 10, tid: 0, c: 2_000_000 },
      // A long task of 50 ms that ended at 80 ms, a 5 ms GC inside it (recorded at 70 ms, started 10 ms before).
      { kind: EventKind.gc, timestampNs: ms(70), pid: 10, tid: 0, a: 5_000_000, b: 10_000_000, c: 1 },
      { kind: EventKind.long_task, timestampNs: ms(80), pid: 10, tid: 0, a: 50_000_000, b: 50_000_000, c: 1, d: 2 },
      { kind: EventKind.memory_sample, timestampNs: ms(90), pid: 10, tid: 0, a: 9 << 20 },
    ];
    const bytes = new Uint8Array(records.length * RECORD_SIZE);
    records.forEach((record, i) => encodeRecord(record, bytes, i * RECORD_SIZE));
    writer.append(encodeString(10, 0, 1, "node app.js", t0));
    writer.append(encodeString(10, 0, 2, "onTick", t0));
    writer.append(bytes);
    writer.close({ written: 8, dropped: 0, overwritten: 0 });
    const loop = TraceIndex.open(path);
    const meta = loop.meta();
    expect(meta.tracks.map((track) => track.label)).toEqual(["main", "main · GC, long tasks", "main · heap used", "main · loop delay p99"]);
    const lane = meta.tracks[1]!;
    expect(lane.rows).toBe(2);
    const window = loop.window({ startNs: 0, endNs: meta.durationNs + 1, widthPx: 10_000 });
    const slices: { start: number; end: number; label: string }[] = [];
    for (let i = 0; i < window.slices.length; i += 9) {
      if (window.slices[i] === lane.id) slices.push({ start: window.slices[i + 2]!, end: window.slices[i + 3]!, label: window.labels[window.slices[i + 4]!]! });
    }
    const anchor = Number(t0 - loop.header.monotonicAnchorNs);
    const near = (x: number, ms: number) => expect(Math.abs(x - anchor - ms * 1e6)).toBeLessThan(1000);
    const gc = slices.find((slice) => slice.label.startsWith("GC"))!;
    near(gc.start, 60);
    near(gc.end, 65);
    const task = slices.find((slice) => slice.label === "long task: onTick")!;
    near(task.start, 30);
    near(task.end, 80);
    const heap = window.counters[meta.tracks[2]!.id]!;
    expect([heap[1], heap[heap.length - 1]]).toEqual([4 << 20, 9 << 20]);
    expect(window.counters[meta.tracks[3]!.id]![2]).toBe(2_000_000);
  });
});

describe("scope attach", () => {
  // Written by hand, as above: what the view makes of an attach's records.
  test("live-traced calls are marks named by their function; the attach and detach are marked", () => {
    const path = join(traces.dir, "attach.bin");
    const writer = TraceWriter.open(path, { host: "testhost", argv: ["attach", "77"] });
    const t0 = readTrace(path).header.monotonicAnchorNs;
    const ms = (n: number) => t0 + BigInt(n) * 1_000_000n;
    const records = [
      { kind: EventKind.attach_start, timestampNs: ms(1), pid: 77, tid: 0, a: 5000 },
      { kind: EventKind.attach_function_add, timestampNs: ms(2), pid: 77, tid: 0, a: 1, b: 1, c: 2, d: 10, e: 3 },
      { kind: EventKind.attach_function_call, timestampNs: ms(3), pid: 77, tid: 0, a: 1 },
      { kind: EventKind.attach_function_call, timestampNs: ms(4), pid: 77, tid: 0, a: 1 },
      { kind: EventKind.attach_end, timestampNs: ms(5), pid: 77, tid: 0, a: 1, b: 77 },
    ];
    const bytes = new Uint8Array(records.length * RECORD_SIZE);
    records.forEach((record, i) => encodeRecord(record, bytes, i * RECORD_SIZE));
    writer.append(encodeString(77, 0, 1, "handleOrder", t0));
    writer.append(encodeString(77, 0, 2, "file:///srv/app.js", t0));
    writer.append(bytes);
    writer.close({ written: 7, dropped: 0, overwritten: 0 });
    const attached = TraceIndex.open(path);
    expect(attached.meta().tracks.map((track) => track.label)).toEqual(["main"]);
    const found = attached.search("handleOrder");
    expect(found.total).toBe(2);
    expect(found.hits[0]!.name).toBe("handleOrder (file:///srv/app.js:10:3)");
    expect(attached.search("scope attached").total).toBe(1);
    expect(attached.search("scope detached").total).toBe(1);
  });
});

describe("merged traces", () => {
  test("each input's processes are grouped under its host, with their own pids", async () => {
    const merged = join(traces.dir, "merged.bin");
    const result = await runCli(["merge", "-o", merged, traces.trace, traces.trace]);
    expect(result.exitCode, result.stderr).toBe(0);
    const tracks = TraceIndex.open(merged).meta().tracks;
    const own = index.meta().tracks;
    expect(tracks.length).toBe(own.length * 2);
    // Input 1's pids are its own + 1 << 22 in the trace; the page names them as their host saw them.
    expect(tracks.slice(own.length).map((track) => [track.pid - 2 ** 22, track.process, track.label])).toEqual(own.map((track) => [track.pid, track.process, track.label]));
    expect(new Set(tracks.map((track) => track.host)).size).toBeGreaterThanOrEqual(1);
  }, 60_000);
});

describe("server", () => {
  test("the token is needed for every path; a foreign Host header is refused", async () => {
    const server = await startViewServer(index);
    try {
      const base = `http://127.0.0.1:${server.port}`;
      expect((await fetch(server.url)).status).toBe(200);
      expect((await fetch(`${server.url}api/meta`)).status).toBe(200);
      expect((await fetch(`${base}/`)).status).toBe(403);
      expect((await fetch(`${base}/api/meta`)).status).toBe(403);
      // The token with its last character changed (to one it is not: a random token may end in "x").
      const wrong = server.token.slice(0, -1) + (server.token.endsWith("x") ? "y" : "x");
      expect((await fetch(`${base}/${wrong}/api/meta`)).status).toBe(403);
      expect((await fetch(`${server.url}api/meta`, { headers: { Host: `evil.example:${server.port}` } })).status).toBe(403);
      const meta = (await (await fetch(`${server.url}api/meta`)).json()) as { tracks: unknown[] };
      expect(meta.tracks.length).toBeGreaterThan(3);
      const page = await (await fetch(server.url)).text();
      expect(page).toContain('src="app.js"');
      const script = await fetch(`${server.url}app.js`);
      expect(script.headers.get("content-type")).toContain("javascript");
      expect((await script.text()).length).toBeGreaterThan(10_000);
      // The address copied without its last "/": sent on to the page, not refused as if the token were wrong.
      const bare = await fetch(`${base}/${server.token}?x=1`, { redirect: "manual" });
      expect([bare.status, bare.headers.get("location")]).toEqual([308, `/${server.token}/?x=1`]);
      expect((await fetch(`${base}/${server.token}`)).status).toBe(200);
      expect((await fetch(`${base}/${wrong}`, { redirect: "manual" })).status).toBe(403);
      expect((await fetch(`${base}/${server.token}`, { redirect: "manual", headers: { Host: `evil.example:${server.port}` } })).status).toBe(403);
    } finally {
      await server.stop();
    }
  });
});

describe("scope view (CLI)", () => {
  test("prints the address, serves the page, stops cleanly on Ctrl-C", async () => {
    // --port: that port (a free one found first).
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const port = probe.port!;
    probe.stop(true);
    const child = Bun.spawn([process.execPath, cliEntry, "view", "--no-open", "--port", String(port), traces.trace], { cwd: repoRoot, stdout: "pipe", stderr: "pipe", env: { ...process.env, DISPLAY: "" } });
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    const url = out.match(/http:\/\/127\.0\.0\.1:\d+\/[\w-]+\//)?.[0];
    expect(url).toBeDefined();
    expect(new URL(url!).port).toBe(String(port));
    expect((await fetch(url!)).status).toBe(200);
    expect((await fetch(url!.replace(/\/[\w-]+\/$/, "/nope/"))).status).toBe(403);
    child.kill("SIGINT");
    expect(await child.exited).toBe(0);
  }, 60_000);

  test("a damaged trace: served with what is valid, one line says so, Ctrl-C exits 2 (the rule of every command that reads a trace)", async () => {
    const child = Bun.spawn([process.execPath, cliEntry, "view", "--no-open", traces.damaged], { cwd: repoRoot, stdout: "pipe", stderr: "pipe", env: { ...process.env, DISPLAY: "" } });
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    const url = out.match(/http:\/\/127\.0\.0\.1:\d+\/[\w-]+\//)?.[0];
    expect(url).toBeDefined();
    expect((await fetch(`${url}api/meta`)).status).toBe(200);
    child.kill("SIGINT");
    expect(await child.exited).toBe(2);
    const stderr = await new Response(child.stderr).text();
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toStartWith("scope: ");
    expect(stderr).toContain("before it were read");
  }, 60_000);

  test("a missing file, a directory, a file that is not a trace: one line, exit 1", async () => {
    const notTrace = join(traces.dir, "not-a-trace.bin");
    writeFileSync(notTrace, "hello, this is not a trace\n".repeat(20));
    for (const path of [join(traces.dir, "missing.bin"), traces.dir, notTrace]) {
      const result = await runCli(["view", "--no-open", path]);
      expect(result.exitCode).toBe(1);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toStartWith("scope: ");
      expect(result.stdout).toBe("");
    }
    // A port in use: one line too.
    const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    try {
      const busy = await runCli(["view", "--no-open", "--port", String(taken.port), traces.trace]);
      expect(busy.exitCode).toBe(1);
      expect(busy.stderr).toStartWith(`scope: cannot listen on 127.0.0.1:${taken.port}`);
      expect(busy.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      taken.stop(true);
    }
    const port = await runCli(["view", "--port", "70000", traces.trace]);
    expect(port.exitCode).toBe(1);
    expect(port.stderr).toStartWith("scope: --port");
  }, 60_000);

  test("a trace still being written opens with what is there and says it is not closed", async () => {
    const live = join(traces.dir, "live.bin");
    const run = Bun.spawn([process.execPath, cliEntry, "run", "-o", live, "--", "node", "-e", "console.log('up'); setTimeout(() => {}, 60000)"], {
      cwd: repoRoot,
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      // The collector appends chunks as it drains: wait until the program's start is in the file.
      let opened: TraceIndex | undefined;
      for (let attempt = 0; attempt < 200; attempt++) {
        await Bun.sleep(200);
        try {
          opened = TraceIndex.open(live);
          if (opened.meta().tracks.length > 0) break;
        } catch {
          // The header is not written yet.
        }
      }
      expect(opened).toBeDefined();
      const meta = opened!.meta();
      expect(meta.status.closed).toBe(false);
      expect(meta.status.warning).toContain("not closed");
      expect(meta.tracks.length).toBeGreaterThan(0);
    } finally {
      run.kill("SIGINT");
      await run.exited;
    }
  }, 90_000);
});

// A call whose return was lost stayed on its thread's stack: every later call drew under it.
// At a `drop` record the thread's open calls end there, unfinished; later ones start at row 0.
test("records lost (a tiny ring, discard mode): calls after a loss are drawn at the rows they ran at", async () => {
  const out = join(traces.dir, "lossy.bin");
  // The collector stopped during the calls: a draining one loses nothing (the producer waits).
  const run = await runCliWithCollectorStopped(["run", "--functions", "--hot-calls-per-second", "0", "--ring-size", "64KiB", "--out", out, "--", "node", join(repoRoot, "spec/fixtures/lossy/shallow.cjs")], 500);
  expect(run.exitCode, run.stderr).toBe(0);
  expect(run.stderr).toMatch(/lost: [1-9]\d* dropped/);
  const lossy = TraceIndex.open(out);
  // The slice columns (no API gives every slice at once: a window merges what is narrow).
  const columns = lossy as unknown as Record<"sRow" | "sKind" | "sFlags" | "sStart" | "sEnd", { data: ArrayLike<number>; length: number }>;
  let deepest = 0;
  let unfinished = 0;
  let calls = 0;
  for (let s = 0; s < columns.sKind.length; s++) {
    if (columns.sKind.data[s] !== SliceKind.call) continue;
    calls++;
    deepest = Math.max(deepest, columns.sRow.data[s]!);
    // Unfinished: cut by a loss, ending at it, not at the thread's end.
    if ((columns.sFlags.data[s]! & 1) !== 0) unfinished++;
  }
  expect(calls).toBeGreaterThan(1_000_000);
  expect(deepest).toBe(1);
  expect(unfinished).toBeGreaterThan(0);
}, 120_000);

/**
 * `scope dump` on a large --functions trace: how much of the trace is decoded before the first
 * line is written, and the memory its strings hold ("scope dump: first line sooner, strings
 * compact", BENCHMARKS.md).
 */
import { afterAll, beforeAll, describe, expect, mock, test } from "bun:test";
import { Writable } from "node:stream";
import { join } from "node:path";
import * as events from "../src/core/events";
import { functionsTrace } from "./fixtures/functions-trace";
import { Chalk } from "chalk";
import { interpret } from "../src/core/model";
import { loadTrace } from "../src/dump/load";
import { eventToJson } from "../src/dump/json";
import { formatEventLine } from "../src/dump/text";
import { cliEntry } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-dump-fast-test-");

// decodeRecord counted: what the dump decodes before its first write (mock.module patches stream.ts's import).
let decoded = 0;
const realDecode = events.decodeRecord;
mock.module("../src/core/events", () => ({ ...events, decodeRecord: (bytes: Uint8Array, offset?: number) => (decoded++, realDecode(bytes, offset)) }));
const { dumpTrace } = await import("../src/dump/dump");

afterAll(() => mock.restore());

/** A stdout that ends the dump at its first write (as `| head -1`), noting how many records were decoded by then. */
function firstWrite(): { stdout: Writable; decodedAtFirst: () => number | undefined } {
  let at: number | undefined;
  const stdout = new Writable({
    write(_chunk, _encoding, done) {
      at ??= decoded;
      done(Object.assign(new Error("EPIPE"), { code: "EPIPE" }));
    },
  });
  return { stdout, decodedAtFirst: () => at };
}

/** Dumps `path` as `format` into a stdout closed at its first write; the records decoded by then. */
async function decodedAtFirstWrite(path: string, format: "text" | "json"): Promise<number> {
  const { stdout, decodedAtFirst } = firstWrite();
  decoded = 0;
  const status = await dumpTrace({ path, format, filter: {}, stdout, stderr: new Writable({ write: (_c, _e, done) => done() }), colorEnabled: false });
  expect(status).toBe(141);
  expect(decodedAtFirst()).toBeDefined();
  return decodedAtFirst()!;
}

describe("scope dump of a large --functions trace", () => {
  let path: string;
  let records: number;
  beforeAll(() => {
    path = join(tmp(), "functions.bin");
    records = functionsTrace(path, 250_000);
  });

  // Before: the string pass decoded every record, pass 2 every event, pass 3 (links) every event
  // again: 3.25 M records decoded before the first line. Now: the function table alone (strings
  // are read from their bytes, calls and returns for their time only), and no pass 3 where
  // nothing links (no request, message, query, long task nor async callback).
  test.each([["text"], ["json"]] as const)("%s: its first write comes before the trace's records are decoded once", async (format) => {
    expect(await decodedAtFirstWrite(path, format)).toBeLessThan(records / 4);
  }, 60_000);

  test("--stats counts the calls and returns without decoding them", async () => {
    const chunks: string[] = [];
    const stdout = new Writable({ write: (chunk, _e, done) => (chunks.push(String(chunk)), done()) });
    decoded = 0;
    const status = await dumpTrace({ path, format: "stats", filter: {}, stdout, stderr: new Writable({ write: (_c, _e, done) => done() }), colorEnabled: false });
    expect(status).toBe(0);
    expect(chunks.join("")).toContain("events: 500001 in 500.000ms, 1 process, 1 thread\n  function_call      250000\n  function_return    250000\n  function_table     1\n");
    expect(decoded).toBeLessThan(records / 4);
  }, 60_000);

  // A string of two fragments held a PartialString (an object, its bytes and a received-map):
  // ~500 bytes each, 1.6 GB for a 397 MiB webpack trace's argument previews.
  test("`scope dump | head -1` holds its strings compactly (max RSS under 200 MB for 250 000 two-fragment strings) and ends quietly", async () => {
    const child = Bun.spawn(["bash", "-c", `/usr/bin/time -f 'rss %M' '${process.execPath}' '${cliEntry}' dump '${path}' 2>"$ERR" | head -1 >/dev/null; cat "$ERR" >&2`], {
      env: { ...process.env, NO_COLOR: "1", ERR: join(tmp(), "time.txt") },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [said] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    const kb = Number(/rss (\d+)/.exec(said)?.[1]);
    // A closed pipe ends it quietly: only time's own lines (its note of the status, 141) on stderr.
    expect(said.replace(/^Command exited with non-zero status 141\n/, "")).toMatch(/^rss \d+\n$/);
    expect(kb, said).toBeGreaterThan(0);
    expect(kb, said).toBeLessThan(200_000);
  }, 60_000);
});

describe("scope dump of a large --functions trace that links (a worker message every 1000 calls)", () => {
  let path: string;
  let records: number;
  beforeAll(() => {
    path = join(tmp(), "linked.bin");
    records = functionsTrace(path, 250_000, 1000);
  });

  // Before: a message made the link pass (pass 3) decode and link every event before the
  // first line: 1.25 M records decoded. Now it runs ahead of the writing pass only as far as
  // what it reads may still change (a receive's handler is the next call on its thread).
  test.each([["text"], ["json"]] as const)("%s: its first write comes before the trace's records are decoded once", async (format) => {
    expect(await decodedAtFirstWrite(path, format)).toBeLessThan(records / 4);
  }, 60_000);

  // Where every call handles a message (250 000 sends and receives, decoded in pass 2): the first
  // write comes before pass 3 has decoded them again (before: after it, 1.5 M records decoded).
  test.each([["text"], ["json"]] as const)("%s of a trace of messages: its first write comes before pass 3 has read it", async (format) => {
    const path = join(tmp(), "messages.bin");
    const records = functionsTrace(path, 125_000, 1);
    const messageRecords = 250_000;
    expect(await decodedAtFirstWrite(path, format)).toBeLessThan(messageRecords + records / 20);
  }, 60_000);

  // A web service's trace: a request before every call, from the start (250 000 request and
  // response records, decoded in pass 2). Before: a request start held --json's lines until pass
  // 3 had read everything (its end, route, peer may come at any time): 500 003 records decoded.
  // Now requests' changes come from pass 2's records (stream.ts requestsAhead). Text still
  // waits: a request's later events are written under it.
  test("json of a web service's trace: its first write comes before pass 3 has read it", async () => {
    const path = join(tmp(), "requests.bin");
    const records = functionsTrace(path, 125_000, 0, 1);
    const requestRecords = 250_000;
    expect(await decodedAtFirstWrite(path, "json")).toBeLessThan(requestRecords + records / 20);
  }, 60_000);

  // Its lines are the whole trace's (20 000 calls, a request every 50 and a message every 100, read
  // 64 records at a time): each request start has its end from pass 2's records.
  test("json of a web service's trace: the whole trace's lines", async () => {
    const path = join(tmp(), "requests-small.bin");
    functionsTrace(path, 20_000, 100, 50);
    const chunks: Buffer[] = [];
    const stdout = new Writable({ write: (chunk, _e, done) => (chunks.push(Buffer.from(chunk)), done()) });
    const status = await dumpTrace({ path, format: "json", filter: {}, stdout, stderr: new Writable({ write: (_c, _e, done) => done() }), colorEnabled: false, batchRecords: 64 });
    expect(status).toBe(0);
    const trace = loadTrace(path);
    const all = interpret(trace.records, trace.strings);
    const expected = all.map((event) => `${eventToJson(event, trace.startNs)}\n`).join("");
    const got = Buffer.concat(chunks).toString();
    expect(got.length).toBe(expected.length);
    expect(got === expected).toBe(true);
    expect(all.filter((event) => event.kind === "http_server_request" && event.fields.end === "finished" && typeof event.fields.endIndex === "number").length).toBe(400);
  }, 60_000);

  // The lines are the whole trace's (20 000 calls, a message every 100; read 64 records at a
  // time): every receive names its sender and handler, every handler its message.
  test.each([["text"], ["json"]] as const)("%s: the whole trace's lines (the links pass 3 made while they were written)", async (format) => {
    const path = join(tmp(), "linked-small.bin");
    functionsTrace(path, 20_000, 100);
    const chunks: Buffer[] = [];
    const stdout = new Writable({ write: (chunk, _e, done) => (chunks.push(Buffer.from(chunk)), done()) });
    const status = await dumpTrace({ path, format, filter: {}, stdout, stderr: new Writable({ write: (_c, _e, done) => done() }), colorEnabled: false, batchRecords: 64 });
    expect(status).toBe(0);
    const trace = loadTrace(path);
    const all = interpret(trace.records, trace.strings);
    const expected =
      format === "json"
        ? all.map((event) => `${eventToJson(event, trace.startNs)}\n`).join("")
        : `# ${path}: ${trace.header.argv.join(" ")} on ${trace.header.hostName}, started ${trace.header.startTime.toISOString()}\n` + all.map((event) => `${formatEventLine(event, trace.startNs, all, new Chalk({ level: 0 }), 0)}\n`).join("");
    const got = Buffer.concat(chunks).toString();
    expect(got.length).toBe(expected.length);
    expect(got === expected).toBe(true);
    expect(all.filter((event) => event.fields.handlesMessage !== undefined).length).toBe(200);
  }, 60_000);
});

describe("--chrome and export --perfetto of a large --functions trace", () => {
  let path: string;
  let records: number;
  beforeAll(() => {
    path = join(tmp(), "functions-chrome.bin");
    records = functionsTrace(path, 100_000);
  });

  // Records decoded: before, every call and return in the link pass and in each walk after it
  // (--chrome: its events' part and its calls' part; Perfetto: walks 2 and 3): 3 x 200 000.
  // Now the calls in the link pass (their ends are kept) and every one in the walks that draw
  // nothing of them are read from their bytes: 300 000 (the returns in the link pass, both in the last walk).
  test("--chrome decodes the calls and returns less than twice after the first two passes", async () => {
    let size = 0;
    const stdout = new Writable({ write: (chunk, _e, done) => ((size += chunk.length), done()) });
    decoded = 0;
    const status = await dumpTrace({ path, format: "chrome", filter: {}, stdout, stderr: new Writable({ write: (_c, _e, done) => done() }), colorEnabled: false });
    expect(status).toBe(0);
    expect(size).toBeGreaterThan(0);
    expect(decoded).toBeLessThan(2 * 200_000);
  }, 60_000);

  test("export --perfetto decodes the calls and returns less than twice after the first two passes", async () => {
    const { exportTrace } = await import("../src/export/export");
    decoded = 0;
    const status = await exportTrace({ path, perfetto: join(tmp(), "out.pftrace"), stdout: new Writable({ write: (_c, _e, done) => done() }), stderr: new Writable({ write: (_c, _e, done) => done() }) });
    expect(status).toBe(0);
    expect(decoded).toBeLessThan(2 * 200_000);
  }, 60_000);
});

describe("sortByTime", () => {
  test("the order of a stable sort by time (ties by index) on runs in order, reversed, and random times with many ties", async () => {
    const { sortByTime } = await import("../src/dump/stream");
    for (const n of [0, 1, 2, 3, 5, 17, 1000, 4097, 50_000]) {
      for (const shape of ["sorted", "reversed", "ties", "chunks"]) {
        const times = new Float64Array(n);
        for (let i = 0; i < n; i++) times[i] = shape === "sorted" ? i : shape === "reversed" ? n - i : shape === "ties" ? Math.floor(Math.random() * 7) : (i % 64) * 1000 + Math.floor(i / 64);
        const expected = Uint32Array.from({ length: n }, (_, i) => i).sort((x, y) => times[x]! - times[y]! || x - y);
        const order = Uint32Array.from({ length: n }, (_, i) => i);
        sortByTime(order, times);
        expect(Array.from(order)).toEqual(Array.from(expected));
      }
    }
  });
});

describe("--why and export --otlp of a large --functions trace", () => {
  let path: string;
  const quiet = () => new Writable({ write: (_c, _e, done) => done() });
  beforeAll(() => {
    path = join(tmp(), "functions-why.bin");
    functionsTrace(path, 100_000);
  });

  // Their link passes decoded every call and return (200 000) before the walks after them;
  // now calls, returns, ... are read there from their bytes (what Causes and OtlpAhead read
  // of them is their kind, thread and time; --otlp-functions keeps the returns' fields), and
  // in --otlp's walk when it makes no span of calls.
  test("--why decodes the calls and returns in its walks only", async () => {
    let text = "";
    decoded = 0;
    const status = await dumpTrace({ path, format: "text", filter: {}, why: "1000", stdout: new Writable({ write: (chunk, _e, done) => ((text += String(chunk)), done()) }), stderr: quiet(), colorEnabled: false });
    expect(status).toBe(0);
    expect(text).toContain("# why #1000");
    // Before: 600 007 (the link pass and two walks); now 400 007 (the two walks).
    expect(decoded).toBeLessThan(2.5 * 200_000);
  }, 60_000);

  // Before: 400 004 either way (the link pass and the walk). Now with --otlp-functions 300 004
  // (the returns in the link pass, both in the walk); without, 4: nothing reads a call's fields.
  test.each([[false], [true]] as const)("export --otlp (functions: %p) decodes calls and returns only where their spans are made", async (functions) => {
    const { exportTrace } = await import("../src/export/export");
    const out = join(tmp(), `out-${functions}.json`);
    decoded = 0;
    const status = await exportTrace({ path, otlp: { target: out, format: "json", functions }, stdout: quiet(), stderr: quiet() });
    expect(status).toBe(0);
    expect(decoded).toBeLessThan(functions ? 350_000 : 1000);
  }, 60_000);
});

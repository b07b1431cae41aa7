/**
 * `scope dump` reads the trace without holding its events ("scope dump in bounded memory",
 * BENCHMARKS.md): --stats gives the whole trace's figures; text and --json the whole trace's
 * lines, also when every link crosses a read (one record at a time).
 */
import { beforeAll, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { Chalk } from "chalk";
import { join } from "node:path";
import { counted } from "../src/core/counted";
import { EventKind } from "../src/core/layout";
import { collectorsOf, interpret } from "../src/core/model";
import { monotonicNs } from "../src/core/ring";
import { TraceWriter } from "../src/core/trace-file";
import { matches, type EventFilter } from "../src/dump/filter";
import { loadTrace } from "../src/dump/load";
import { computeStats } from "../src/dump/stats";
import { dumpTrace } from "../src/dump/dump";
import { eventToJson } from "../src/dump/json";
import { formatEventLine, nestByRequest } from "../src/dump/text";
import { toChromeTrace } from "../src/dump/chrome";
import { TraceStream } from "../src/dump/stream";
import { whyLines } from "../src/dump/why";
import { whyChain } from "../src/core/why";
import { encodeRecords, repoRoot, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-dump-stream-test-");
const worker = 1 | (0 << 8) | (1 << 16);
const back = 1 | (1 << 8) | (1 << 16);
let path: string;

beforeAll(() => {
  path = join(tmp(), "t.bin");
  const writer = TraceWriter.open(path, { host: "testhost", argv: ["node", "app.js"] });
  const t = Number(monotonicNs());
  const ms = 1_000_000;
  // Records out of time order across threads and batches; message keys sent twice (the later send pairs), a receive
  // written before its send, a receive without a send and a send never received.
  writer.append(encodeRecords([
    { kind: EventKind.message_receive, t: t + 9 * ms, pid: 100, tid: 1, payload: [1, worker, 100, 7, 0] },
    { kind: EventKind.thread_spawn, t: t + 1 * ms, pid: 100, tid: 0, payload: [1] },
    { kind: EventKind.message_send, t: t + 2 * ms, pid: 100, tid: 0, payload: [1, worker, 100, 7, 0] },
  ]), 3);
  writer.append(encodeRecords([
    { kind: EventKind.message_send, t: t + 8 * ms, pid: 100, tid: 0, payload: [1, worker, 100, 7, 0] },
    { kind: EventKind.message_send, t: t + 8 * ms, pid: 100, tid: 0, payload: [2, worker, 100, 7, 0] },
    { kind: EventKind.message_send, t: t + 5 * ms, pid: 100, tid: 0, payload: [2, worker, 100, 7, 0] },
    { kind: EventKind.message_receive, t: t + 10 * ms, pid: 100, tid: 1, payload: [2, worker, 100, 7, 0] },
    { kind: EventKind.message_receive, t: t + 11 * ms, pid: 100, tid: 1, payload: [3, worker, 100, 7, 0] },
    { kind: EventKind.message_send, t: t + 12 * ms, pid: 100, tid: 1, payload: [1, back, 100, 7, 0] },
    { kind: EventKind.thread_exited, t: t + 13 * ms, pid: 100, tid: 0, payload: [1, 0] },
  ]), 7);
  writer.close({ written: 10, dropped: 0, overwritten: 0, recorded: 10 });
});

/** The figures computed the way the dump did before it streamed: every event interpreted, then filtered. */
function wholeTrace(filter: EventFilter): string[] {
  const trace = loadTrace(path);
  const all = interpret(trace.records, trace.strings);
  const stats = computeStats(all.filter((event) => matches(filter, event, trace.startNs)), trace.header.collectorPid);
  return [
    `events: ${stats.events} in ${(Number(stats.durationNs) / 1e6).toFixed(3)}ms, ${counted(stats.processes, "process", "processes")}, ${counted(stats.threads, "thread")}`,
    ...Object.entries(stats.byKind).sort(([, x], [, y]) => y - x).map(([kind, count]) => `  ${kind.padEnd(18)} ${count}`),
    `messages: ${stats.unpairedReceives} receives without a send, ${stats.unreceivedSends} sends not received`,
  ];
}

test.each([
  [[], {}],
  [["--tid", "0"], { tids: [0] }],
  [["--kind", "message"], { kinds: ["message"] }],
  [["--kind", "message_send", "--since", "6ms"], { kinds: ["message_send"], sinceNs: 6_000_000n }],
  [["--until", "8ms"], { untilNs: 8_000_000n }],
] as [string[], EventFilter][])("--stats %p: the whole trace's figures", async (args, filter) => {
  const result = await runCli(["dump", "--stats", ...args, path]);
  expect(result.exitCode).toBe(0);
  const lines = result.stdout.split("\n");
  const expected = wholeTrace(filter);
  expect(lines.slice(0, expected.length)).toEqual(expected);
  expect(lines[expected.length]).toBe("ring: 10 written, 0 dropped, 0 overwritten");
});

test("--why past the last event: said from a scan", async () => {
  const result = await runCli(["dump", "--why", "10", path]);
  expect(result.exitCode).toBe(1);
  expect(result.stderr).toBe("scope: --why: no event #10 in this trace (it has 10 events, #0 to #9)\n");
});

/** The dump's lines as it wrote them before it streamed: every event interpreted, filtered, then written. */
function wholeTraceLines(file: string, format: "text" | "json", filter: EventFilter): string {
  const trace = loadTrace(file);
  const all = interpret(trace.records, trace.strings);
  const events = all.filter((event) => matches(filter, event, trace.startNs));
  if (format === "json") return events.map((event) => `${eventToJson(event, trace.startNs)}\n`).join("");
  const head = `# ${file}: ${trace.header.argv.join(" ")} on ${trace.header.hostName}, started ${trace.header.startTime.toISOString()}\n`;
  return head + nestByRequest(events).map(({ event, depth }) => `${formatEventLine(event, trace.startNs, all, new Chalk({ level: 0 }), depth)}\n`).join("");
}

/** The dump's output; `walks`: how many times it walked the events after the stream's link pass. */
async function streamed(file: string, format: "text" | "json" | "chrome", filter: EventFilter, batchRecords: number, walks?: (count: number) => void): Promise<string> {
  const chunks: Buffer[] = [];
  const sink = () => new Writable({ write: (chunk, _encoding, done) => (chunks.push(Buffer.from(chunk)), done()) });
  const events = TraceStream.prototype.events;
  let count = 0;
  TraceStream.prototype.events = function (this: TraceStream, again?: boolean) {
    count++;
    return events.call(this, again);
  };
  try {
    const status = await dumpTrace({ path: file, format, filter, stdout: sink(), stderr: new Writable({ write: (_c, _e, done) => done() }), colorEnabled: false, batchRecords });
    expect(status).toBe(0);
  } finally {
    TraceStream.prototype.events = events;
  }
  walks?.(count);
  return Buffer.concat(chunks).toString();
}

test("text and --json of a real trace (requests, a worker's messages, async callbacks, calls): the whole trace's lines, read a record at a time", async () => {
  const out = join(tmp(), "request.bin");
  const run = await runCli(["run", "-o", out, "--async", "--functions", "node", join(repoRoot, "spec/fixtures/async-request.cjs")]);
  expect(run.exitCode).toBe(0);
  const all = interpret(loadTrace(out).records, loadTrace(out).strings);
  // Links that reach forward (a request's end, a send's receive, a callback's end) and nesting by request.
  expect(all.some((event) => event.kind === "http_server_request" && typeof event.fields.endIndex === "number" && typeof event.fields.peerIndex === "number")).toBe(true);
  expect(all.some((event) => event.kind === "message_send" && event.linkedTo.length > 0)).toBe(true);
  expect(all.some((event) => event.kind === "async_before" && typeof event.fields.afterIndex === "number")).toBe(true);
  for (const filter of [{}, { kinds: ["http"] }, { tids: [0], sinceNs: 1_000_000n }] as EventFilter[]) {
    for (const format of ["text", "json"] as const) {
      const expected = wholeTraceLines(out, format, filter);
      for (const batchRecords of [1, 3, 4096]) expect(await streamed(out, format, filter, batchRecords)).toBe(expected);
    }
  }
}, 120_000);

test("--chrome of real traces (requests, queries, a worker's messages, async callbacks, calls with and without returns): the whole trace's document, read a record at a time", async () => {
  const traces = [
    await traceOf("request.bin", ["--async", "--functions"], ["node", join(repoRoot, "spec/fixtures/async-request.cjs")]),
    await traceOf("app.bin", ["--functions", "--include", "app.cjs"], ["node", "app.cjs", "3"], join(repoRoot, "spec/fixtures/export")),
    await traceOf("calls.bin", ["--level", "calls"], ["node", join(repoRoot, "spec/fixtures/tree-fixture.cjs")]),
  ];
  for (const file of traces) {
    const trace = loadTrace(file);
    const all = interpret(trace.records, trace.strings);
    for (const filter of [{}, { kinds: ["http"] }, { tids: [0], sinceNs: 1_000_000n }] as EventFilter[]) {
      // As the dump wrote it before it streamed: every event interpreted, filtered, then one JSON.stringify.
      const expected = `${JSON.stringify(toChromeTrace(all.filter((event) => matches(filter, event, trace.startNs)), trace.startNs, collectorsOf(trace.header.collectorPid, all)))}\n`;
      // The first walk's figures gathered in the link pass (chrome.ts ChromeAhead.watch): one walk a part drawn, no more.
      // The first walk's figures gathered in the link pass (chrome.ts ChromeAhead.watch): the events' part, then a walk
      // for each part with something to draw (requests, queries, calls; calls without an end one more), no walk ahead.
      const shown = all.filter((event) => matches(filter, event, trace.startNs));
      const has = (...kinds: string[]) => Number(shown.some((event) => kinds.includes(event.kind)));
      const calls = shown.filter((event) => event.kind === "function_call");
      const unended = calls.some((call) => !shown.some((e) => (e.kind === "function_return" || e.kind === "function_throw" || e.kind === "function_settle") && e.pid === call.pid && e.tid === call.tid && e.fields.call === call.fields.call));
      const parts = 1 + has("http_server_request", "http_client_request") + has("db_query", "db_pool_wait") + has("function_call") + Number(unended);
      for (const batchRecords of [1, 3, 4096]) {
        let walks = 0;
        expect(await streamed(file, "chrome", filter, batchRecords, (count) => (walks = count))).toBe(expected);
        expect(walks, `${file} ${Object.keys(filter).join(",")}`).toBe(parts);
      }
    }
  }
}, 120_000);

async function traceOf(name: string, args: string[], program: string[], cwd = repoRoot): Promise<string> {
  const out = join(tmp(), name);
  const run = await runCli(["run", "-o", out, ...args, ...program], { cwd });
  expect(run.exitCode, run.stderr).toBe(0);
  return out;
}

test("--why of every event of real traces (--async: callbacks, promises, requests, messages): the whole trace's chain, from walks that keep only the chain", async () => {
  const traces = [
    await traceOf("async.bin", ["--async", "--functions"], ["node", join(repoRoot, "spec/fixtures/async-request.cjs")]),
    await traceOf("promises.bin", ["--async=promises"], ["node", join(repoRoot, "spec/fixtures/async-chain.cjs")]),
  ];
  const color = new Chalk({ level: 0 });
  for (const file of traces) {
    const trace = loadTrace(file);
    const all = interpret(trace.records, trace.strings);
    const stream = new TraceStream(file, 3);
    stream.link(undefined);
    const walks = { walk: () => stream.events(true), count: stream.trace.events };
    expect(walks.count).toBe(all.length);
    for (let index = 0; index < all.length; index++) {
      const chain = whyChain(walks, index);
      expect(chain.map((step) => [step.relation, eventToJson(step.event, trace.startNs)])).toEqual(whyChain(all, index).map((step) => [step.relation, eventToJson(step.event, trace.startNs)]));
    }
    // scope dump --why itself, a record at a time: the lines over the whole trace.
    for (const index of [0, Math.floor(all.length / 2), all.length - 1]) {
      for (const format of ["text", "json"] as const) {
        const expected = whyLines(all, all, index, trace.startNs, color, format === "json").map((line) => `${line}\n`).join("");
        const chunks: Buffer[] = [];
        const events = TraceStream.prototype.events;
        let walks = 0;
        TraceStream.prototype.events = function (this: TraceStream, again?: boolean) {
          walks++;
          return events.call(this, again);
        };
        try {
          const status = await dumpTrace({ path: file, format, filter: {}, why: String(index), stdout: new Writable({ write: (chunk, _e, done) => (chunks.push(Buffer.from(chunk)), done()) }), stderr: new Writable({ write: (_c, _e, done) => done() }), colorEnabled: false, batchRecords: 1 });
          expect(status).toBe(0);
        } finally {
          TraceStream.prototype.events = events;
        }
        expect(Buffer.concat(chunks).toString()).toBe(expected);
        // The first walk's indexes (core/why.ts Causes) gathered in the link pass: a walk for the causes, one for the chain.
        expect(walks).toBe(2);
      }
    }
  }
}, 120_000);

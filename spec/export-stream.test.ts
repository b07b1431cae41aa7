/**
 * `scope export --perfetto` walks the trace without holding its events ("scope export
 * --perfetto, dump --chrome and --why in bounded memory", BENCHMARKS.md): the same bytes as
 * writePerfetto over the whole trace's events (interpret's array), also when every link
 * crosses a read (one record at a time), in two walks after the link pass (which gathers
 * what the first walk kept); and its packets are written while the last walk reads, not
 * after it. The same for `scope dump --chrome`'s document.
 */
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { collectorsOf, interpret, type TraceEvent } from "../src/core/model";
import { loadTrace } from "../src/dump/load";
import { TraceStream } from "../src/dump/stream";
import { exportTrace } from "../src/export/export";
import { chromeEvents, toChromeTrace } from "../src/dump/chrome";
import { writePerfetto } from "../src/export/perfetto";
import { writeRuntimeTrace } from "./export-harness";
import { repoRoot, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-export-stream-test-");

/** The bytes as the export wrote them before it streamed: every event interpreted, then written. */
function wholeTrace(file: string): Buffer {
  const trace = loadTrace(file);
  const chunks: Buffer[] = [];
  const events = interpret(trace.records, trace.strings);
  writePerfetto(events, (chunk) => chunks.push(Buffer.from(chunk)), collectorsOf(trace.header.collectorPid, events));
  return Buffer.concat(chunks);
}

/** The export's file, and how many times it walked the events after the stream's link pass. */
async function streamed(file: string, batchRecords: number): Promise<{ bytes: Buffer; status: number; stderr: string; walks: number }> {
  const out = join(tmp(), "streamed.pftrace");
  let stderr = "";
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const err = new Writable({ write: (chunk, _encoding, done) => ((stderr += String(chunk)), done()) });
  const events = TraceStream.prototype.events;
  let walks = 0;
  TraceStream.prototype.events = function (this: TraceStream, again?: boolean) {
    walks++;
    return events.call(this, again);
  };
  try {
    const status = await exportTrace({ path: file, perfetto: out, stdout: sink, stderr: err, batchRecords });
    return { bytes: readFileSync(out), status, stderr, walks };
  } finally {
    TraceStream.prototype.events = events;
  }
}

async function traced(name: string, args: string[], program: string[], cwd = repoRoot): Promise<string> {
  const out = join(tmp(), `${name}.bin`);
  const run = await runCli(["run", "-o", out, ...args, ...program], { cwd });
  expect(run.exitCode, run.stderr).toBe(0);
  return out;
}

test("real traces (requests, queries, a worker's messages, async callbacks, calls with and without returns, the runtime's slices and counters): the whole trace's bytes, read a record at a time", async () => {
  const runtime = join(tmp(), "runtime.bin");
  writeRuntimeTrace(runtime);
  const traces = [
    await traced("request", ["--async", "--functions"], ["node", join(repoRoot, "spec/fixtures/async-request.cjs")]),
    await traced("app", ["--functions", "--include", "app.cjs"], ["node", "app.cjs", "3"], join(repoRoot, "spec/fixtures/export")),
    await traced("calls", ["--level", "calls"], ["node", join(repoRoot, "spec/fixtures/tree-fixture.cjs")]),
    runtime,
  ];
  // A damaged trace: the events before the damage, and status 2.
  const damaged = join(tmp(), "damaged.bin");
  const whole = readFileSync(traces[0]!);
  writeFileSync(damaged, whole.subarray(0, Math.floor(whole.byteLength * 0.7)));
  traces.push(damaged);
  for (const file of traces) {
    const expected = wholeTrace(file);
    expect(expected.byteLength).toBeGreaterThan(100);
    for (const batchRecords of [1, 3, 4096]) {
      const { bytes, status, stderr, walks } = await streamed(file, batchRecords);
      expect(status, stderr).toBe(file === damaged ? 2 : 0);
      expect(bytes.equals(expected), `${file}, ${batchRecords} records a read`).toBe(true);
      // What walk 1 kept is gathered in the link pass (perfetto.ts Ahead.watch): two walks, not three.
      expect(walks).toBe(2);
    }
  }
}, 120_000);

test("a larger trace (2 workers, 4 000 messages, 60 000 calls): the whole trace's bytes, written while the last walk reads", async () => {
  const program = join(tmp(), "prog.cjs");
  writeFileSync(
    program,
    `const { Worker, isMainThread, parentPort } = require("node:worker_threads");
function add(a, b) { return a + b; }
function work(n) { let s = 0; for (let i = 0; i < n; i++) s = add(s, i); return s; }
if (isMainThread) {
  const workers = [0, 1].map(() => new Worker(__filename));
  let done = 0;
  for (const w of workers) {
    w.on("message", (m) => { if (m === "done") { if (++done === 2) workers.forEach((x) => x.terminate()); } });
    for (let i = 0; i < 2000; i++) w.postMessage({ i, text: "hello" });
    w.postMessage("end");
  }
  work(20000);
} else {
  parentPort.on("message", (m) => { if (m === "end") parentPort.postMessage("done"); else parentPort.postMessage(work(10)); });
}
`,
  );
  const file = await traced("large", ["--functions", "--hot-calls-per-second", "0"], ["node", program]);
  const expected = wholeTrace(file);
  const { bytes } = await streamed(file, 4096);
  expect(bytes.equals(expected)).toBe(true);

  // The walks counted: nothing is written before the third, and each chunk (64 KiB) as soon as
  // the events before its packets' time are read: not all at the end (what holding them would do).
  const stream = new TraceStream(file);
  stream.link(undefined);
  let walks = 0;
  let read = 0;
  const readAtChunk: number[] = [];
  const events = {
    *walk(): Generator<TraceEvent> {
      walks++;
      read = 0;
      for (const event of stream.events(walks < 3)) {
        read++;
        yield event;
      }
    },
    sources: stream.trace.sources,
  };
  const chunks: Buffer[] = [];
  writePerfetto(events, (chunk) => {
    expect(walks).toBe(3);
    readAtChunk.push(read);
    chunks.push(Buffer.from(chunk));
  }, collectorsOf(stream.header.collectorPid, stream.trace.sources));
  expect(Buffer.concat(chunks).equals(expected)).toBe(true);
  const total = stream.trace.events;
  expect(total).toBeGreaterThan(100_000);
  expect(readAtChunk.length).toBeGreaterThan(20);
  // Chunk k of n is written once about k/n of the events are read (the file follows the trace's time).
  const half = readAtChunk[Math.floor(readAtChunk.length / 2)]!;
  expect(half).toBeLessThan(total * 0.75);
  expect(readAtChunk.filter((at) => at < total).length).toBeGreaterThanOrEqual(readAtChunk.length - 1);

  // scope dump --chrome the same way: its document's events come as the walks read (the events'
  // part in the second walk, the calls' in the last), the same as over the whole trace's array.
  const again = new TraceStream(file);
  again.link(undefined);
  walks = 0;
  const walk = function* (): Generator<TraceEvent> {
    walks++;
    read = 0;
    for (const event of again.events(true)) {
      read++;
      yield event;
    }
  };
  const seen: [number, number][] = [];
  const document: string[] = [];
  for (const event of chromeEvents(walk, stream.trace.startNs)) {
    seen.push([walks, read]);
    document.push(JSON.stringify(event));
  }
  const trace = loadTrace(file);
  expect(document).toEqual(toChromeTrace(interpret(trace.records, trace.strings), trace.startNs).traceEvents.map((event) => JSON.stringify(event)));
  expect(seen[0]![0]).toBe(2);
  expect(seen[0]![1]).toBeLessThan(total / 10);
  const calls = seen.filter(([at]) => at === walks);
  expect(calls.length).toBeGreaterThan(50_000);
  expect(calls[Math.floor(calls.length / 2)]![1]).toBeLessThan(total * 0.75);
}, 120_000);

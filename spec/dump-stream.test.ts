/** `scope dump --stats` reads the trace without holding its events: the same figures as over the whole trace. */
import { beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { EventKind } from "../src/core/layout";
import { interpret } from "../src/core/model";
import { monotonicNs } from "../src/core/ring";
import { TraceWriter } from "../src/core/trace-file";
import { matches, type EventFilter } from "../src/dump/filter";
import { loadTrace } from "../src/dump/load";
import { computeStats } from "../src/dump/stats";
import { encodeRecords, runCli } from "./harness";
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
    `events: ${stats.events} in ${(Number(stats.durationNs) / 1e6).toFixed(3)}ms, ${stats.processes} processes, ${stats.threads} threads`,
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

/**
 * Calls-level function_calls packs in FunctionRuntime (runtime.ts, Hook.c): consecutive
 * calls share a record of up to eight ids, a run of them continues into the next record,
 * and the ordinals stay one per call, in order, with anything else that takes one (a
 * full-level call) or changes the request in between; the request is read per call only
 * from requestsBegin's call on. And the ordered sink's settle (a long task's or GC's time
 * is read after what it holds is written).
 */
import { expect, test } from "bun:test";
import { Recorder, type PreviewWalk } from "../src/agent/shared/recorder";
import { parseGroups } from "../src/agent/shared/sink";
import { FunctionKind, FunctionRuntime } from "../src/instrument/runtime";

/** A batching sink that expands packs the way the ring's drain does: [kind, id, token, request]. */
function setup(options: { requestsBegin?: (begin: () => void) => void } = {}) {
  const events: [number, number, number, number][] = [];
  let current = 0;
  const recordBatch = (words: Uint32Array, count: number): number => {
    for (let r = 0; r < count; r++) {
      const w = words.subarray(r * 16, r * 16 + 16);
      const kind = w[1]! & 0xffff;
      if (kind === FunctionKind.calls) {
        for (let i = 0; i < 8 && w[8 + i] !== 0; i++) events.push([FunctionKind.call, w[8 + i]!, w[6]! + i, w[7]!]);
      } else if (kind === FunctionKind.call) events.push([kind, w[6]!, w[8]!, w[12]!]);
    }
    return count;
  };
  const runtime = new FunctionRuntime({
    sink: { record: () => true, string: () => true, recordBatch },
    hotCallsPerSecond: 0,
    batchSize: 256,
    flushIntervalMs: 0,
    flushAtJobEnd: false,
    packCalls: true,
    request: () => current,
    requestsBegin: options.requestsBegin,
  });
  const base = runtime.hook.f("file.js", ["a", 1, 1, 0, "b", 2, 1, 0, "c", 3, 1, 0]);
  return { runtime, events, ids: [base, base + 1, base + 2], setRequest: (request: number) => (current = request) };
}

test("packs: runs of calls across records, a full-level call and request changes between them keep one ordinal per call, in order", () => {
  const { runtime, events, ids, setRequest } = setup();
  const [a, b, c] = ids as [number, number, number];
  const expected: [number, number, number, number][] = [];
  let token = 1;
  const call = (id: number, request: number) => {
    runtime.hook.c(id);
    expected.push([FunctionKind.call, id, token++, request]);
  };
  // 21 calls: packs of 8, 8 and 5, the second and third continuing the first's run.
  for (let i = 0; i < 21; i++) call(i % 2 === 0 ? a : b, 0);
  // A full-level call takes the next ordinal between packed ones.
  expect(runtime.hook.C(c, [])).toBe(token);
  expected.push([FunctionKind.call, c, token++, 0]);
  for (let i = 0; i < 3; i++) call(a, 0);
  // A request change mid-pack starts a pack of its own; and back.
  setRequest(7);
  for (let i = 0; i < 10; i++) call(b, 7);
  setRequest(0);
  call(c, 0);
  // More than a batch of packs (32 records): flushed on the way, nothing lost.
  for (let i = 0; i < 300; i++) call(a, 0);
  runtime.close();
  expect(events).toEqual(expected);
  expect(runtime.errors).toBe(0);
});

test("requestsBegin: no request is read per call before its call, the current one after", () => {
  let begin: (() => void) | undefined;
  const { runtime, events, ids, setRequest } = setup({ requestsBegin: (fn) => (begin = fn) });
  const a = ids[0]!;
  setRequest(5);
  runtime.hook.c(a);
  runtime.hook.c(a);
  begin!();
  runtime.hook.c(a);
  runtime.hook.c(a);
  runtime.close();
  expect(events.map((event) => [event[2], event[3]])).toEqual([
    [1, 0],
    [2, 0],
    [3, 5],
    [4, 5],
  ]);
});

test("settle: the ordered sink writes the buffered calls when asked, so a record's time read after it is not before them", () => {
  const { runtime, events, ids } = setup();
  const ordered = runtime.orderedSink();
  const recorder = new Recorder(ordered, parseGroups(undefined), { preview: () => "", previewSize: () => 0, previewWrite: () => 0 } as unknown as PreviewWalk);
  for (let i = 0; i < 5; i++) runtime.hook.c(ids[0]!);
  // Buffered (a batch of 256, no interval): nothing written yet.
  expect(events.length).toBe(0);
  recorder.settle();
  expect(events.map((event) => event[2])).toEqual([1, 2, 3, 4, 5]);
  // Nothing held any more: settling again writes nothing.
  recorder.settle();
  expect(events.length).toBe(5);
  runtime.close();
  expect(events.length).toBe(5);
  expect(recorder.errors).toBe(0);
});

/**
 * The hot-function guard in FunctionRuntime (runtime.ts), on a fake clock: when sampling
 * starts, the periodic and exit reports, and the way back to full tracing.
 */
import { expect, test } from "bun:test";
import { FunctionKind, FunctionRuntime, HOT_CHECK_CALLS, SampledFlag } from "../src/instrument/runtime";

function setup(options: { hotCallsPerSecond?: number; hotSample?: number } = {}) {
  const records: number[][] = [];
  let clock = 0;
  const runtime = new FunctionRuntime({
    sink: { record: (kind, flags, a, b, c, d, e) => (records.push([kind, flags, a, b, c, d, e]), true), string: () => true },
    now: () => clock,
    ...options,
  });
  const id = runtime.hook.f("file.js", ["hot", 1, 1, 0]);
  return { runtime, id, records, advance: (ms: number) => (clock += ms) };
}
const sampled = (records: number[][]) => records.filter((r) => r[0] === FunctionKind.sampled);
const calls = (records: number[][]) => records.filter((r) => r[0] === FunctionKind.call).length;

test("below the limit everything is recorded; above it 1 in K, reported with exact counts", () => {
  const { runtime, id, records, advance } = setup({ hotCallsPerSecond: 1000, hotSample: 10 });
  // 1024 calls over 2 s: 512/s, under the limit.
  for (let i = 0; i < HOT_CHECK_CALLS; i++) {
    advance(2000 / HOT_CHECK_CALLS);
    runtime.hook.c(id);
  }
  expect(calls(records)).toBe(1024);
  expect(sampled(records)).toEqual([]);
  // The next 1024 in 0.1 s: hot at call 2048.
  for (let i = 0; i < HOT_CHECK_CALLS; i++) {
    advance(0.1);
    runtime.hook.c(id);
  }
  expect(sampled(records)).toEqual([[FunctionKind.sampled, 0, id, 2048, 2047, 10, 1000]]);
  for (let i = 0; i < 1000; i++) runtime.hook.c(id);
  expect(calls(records)).toBe(2047 + 100); // 2050, 2060, ... 3040
  expect(runtime.callCounts(id)).toEqual({ seen: 3048, recorded: 2147, sampled: true });
  runtime.close();
  expect(sampled(records).at(-1)).toEqual([FunctionKind.sampled, SampledFlag.exit, id, 3048, 2147, 10, 1000]);
});

test("a report at most once a second while sampled; back to full tracing when the rate falls", () => {
  const { runtime, id, records, advance } = setup({ hotCallsPerSecond: 1000, hotSample: 0 });
  for (let i = 0; i < HOT_CHECK_CALLS; i++) runtime.hook.C(id, []);
  expect(sampled(records)).toHaveLength(1);
  // Hot calls over 1.5 s (each window of 1024 in 0.5 s, 2048/s): one periodic report.
  for (let i = 0; i < 3 * HOT_CHECK_CALLS; i++) {
    advance(500 / HOT_CHECK_CALLS);
    expect(runtime.hook.C(id, [])).toBe(-1);
  }
  expect(sampled(records).map((r) => [r[1], r[3], r[4]])).toEqual([
    [0, 1024, 1023],
    [0, 3072, 1023],
  ]);
  // Slow calls (1024 in 4 s, 256/s, under half the limit): tracing resumes.
  for (let i = 0; i < HOT_CHECK_CALLS; i++) {
    advance(4000 / HOT_CHECK_CALLS);
    runtime.hook.C(id, []);
  }
  expect(sampled(records).at(-1)!.slice(1, 5)).toEqual([SampledFlag.ended, id, 5120, 1024]);
  expect(runtime.hook.C(id, [])).toBeGreaterThan(0);
  runtime.close();
  expect(sampled(records).at(-1)!.slice(1, 5)).toEqual([SampledFlag.exit | SampledFlag.ended, id, 5121, 1025]);
});

test("hotCallsPerSecond 0: no guard", () => {
  const { runtime, id, records } = setup({ hotCallsPerSecond: 0 });
  for (let i = 0; i < 10 * HOT_CHECK_CALLS; i++) runtime.hook.c(id);
  runtime.close();
  expect(calls(records)).toBe(10 * HOT_CHECK_CALLS);
  expect(sampled(records)).toEqual([]);
});

/**
 * The hot-function guard under `scope run --functions`: a function called a million
 * times is sampled (1 in 100 by default) or only counted, the trace says so with a
 * function_sampled record whose totals are exact, and the program's output is unchanged.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, fixtures, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { runCli } from "./harness";

const env = { XDG_CACHE_HOME: join(scratchDir(), "cache") };
afterAll(cleanup);

const app = join(fixtures, "functions-hot/app.cjs");
const addName = `add (${app}:2:1)`;
const of = (events: TraceEvent[], kind: string, fn: string) => ofKind(events, kind).filter((e) => e.fields.function === fn);

// A roomy ring: the ~22 000 events of the first test arrive in ~50 ms; a loaded machine's
// collector may lag behind, and a drop would make the counts unverifiable.
// The guard measures calls per second: with a limit of 200/s the first check (1024 calls)
// finds the function hot unless those calls took over 5 s, and it never cools (under
// 100/s), so the counts below are exact on a loaded machine too. The default limit
// (10 000/s) is the next test's.
test("a function called 1e6 times is sampled 1 in 100; seen and recorded counts are exact", async () => {
  const [run, plain] = await Promise.all([runTraced(["node", app], { scopeArgs: ["--functions", "--hot-calls-per-second", "200", "--ring-size", "128MiB"], env }), runUntraced(["node", app])]);
  expect(plain.stdout).toBe("sum: 499999500000\ndone: true\n");
  expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: "" });
  expect(run.end.dropped).toBe(0);
  const calls = of(run.events, "function_call", addName);
  const returns = of(run.events, "function_return", addName);
  const sampled = of(run.events, "function_sampled", addName);
  // The first record: sampling started at the first rate check (call 1024, itself skipped).
  expect(sampled[0]!.fields).toEqual({ function: addName, seen: 1024, recorded: 1023, sampleEvery: 100, limitPerSecond: 200, ended: false, atExit: false });
  // The exit summary: every call counted, the recorded ones are exactly the call events.
  const last = sampled.at(-1)!;
  expect(last.fields).toMatchObject({ seen: 1_000_000, recorded: calls.length, atExit: true, ended: false });
  expect(calls.length).toBe(1023 + Math.floor((1_000_000 - 1024) / 100)); // calls 1..1023, then 1124, 1224, ...
  expect(returns.length).toBe(calls.length);
  // Each recorded call is paired with its return; the not-hot function is traced in full.
  expect(new Set(returns.map((e) => e.fields.call))).toEqual(new Set(calls.map((e) => e.fields.call)));
  expect(ofKind(run.events, "function_call").length - calls.length).toBe(2);
  expect(ofKind(run.events, "function_sampled").every((e) => e.fields.function === addName)).toBe(true);
  // The summary comes before the thread's trace_stop.
  expect(last.index).toBeLessThan(ofKind(run.events, "trace_stop")[0]!.index);
});

test("hotSample 0 at the default limit: once hot, calls are only counted", async () => {
  const run = await runTraced(["node", app], { scopeArgs: ['--functions={"hotSample":0}', "--ring-size", "128MiB"], env });
  expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "sum: 499999500000\ndone: true\n" });
  const calls = of(run.events, "function_call", addName).length;
  const sampled = of(run.events, "function_sampled", addName);
  // Hot at a rate check (every 1024 calls; which one depends on the machine's speed at 10 000/s), counted only from then on.
  expect(sampled[0]!.fields).toMatchObject({ recorded: (sampled[0]!.fields.seen as number) - 1, sampleEvery: 0, limitPerSecond: 10000 });
  expect((sampled[0]!.fields.seen as number) % 1024).toBe(0);
  expect(sampled.at(-1)!.fields).toMatchObject({ seen: 1_000_000, recorded: calls, sampleEvery: 0, limitPerSecond: 10000, atExit: true });
  expect(calls).toBeLessThan(1_000_000);
});

test("--hot-calls-per-second 0 turns the guard off (and implies --functions)", async () => {
  // Few enough calls (entry events only) for the ring to hold them all.
  const run = await runTraced(["node", app, "3000"], { scopeArgs: ["--hot-calls-per-second", "0", "--level", "calls"], env });
  expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "sum: 4498500\ndone: true\n" });
  expect(run.end.dropped).toBe(0);
  expect(of(run.events, "function_call", addName).length).toBe(3000);
  expect(ofKind(run.events, "function_sampled")).toEqual([]);
});

test("--hot-calls-per-second with a high limit: not sampled", async () => {
  const run = await runTraced(["node", app, "3000"], { scopeArgs: ["--functions", "--hot-calls-per-second=1000000000", "--level=calls"], env });
  expect(run.status, run.stderr).toBe(0);
  expect(run.end.dropped).toBe(0);
  expect(of(run.events, "function_call", addName).length).toBe(3000);
  expect(ofKind(run.events, "function_sampled")).toEqual([]);
});

test.each([
  ["--hot-calls-per-second=lots", "--hot-calls-per-second must be a whole number"],
  ['--functions={"hotSample":-1}', '"hotSample" must be a whole number'],
])("usage error: %s", async (flag, message) => {
  const result = await runCli(["run", flag, "--out", "/tmp/never.bin", "--", "node", app]);
  expect(result.exitCode).not.toBe(0);
  expect(result.stdout + result.stderr).toContain(message);
});

/**
 * Function events under `scope run --functions`: when they are stamped (at the full
 * level each call and return at the time it happened; at the calls level the buffered
 * events of a job go out at its end, so a call's time is that of the job that made it,
 * not of a later timer tick) and how deep values are previewed (previewDepth/Chars).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, fixtures, ofKind, runTraced, scratchDir } from "./agent-harness";
import { installedNodes, runCli } from "./harness";

const env = { XDG_CACHE_HOME: join(scratchDir(), "cache") };
afterAll(cleanup);
const app = join(fixtures, "functions-timing/jobs.cjs");
const stall = join(fixtures, "functions-timing/stall.cjs");
const runaway = join(fixtures, "functions-timing/runaway.cjs");

function callOf(events: Awaited<ReturnType<typeof runTraced>>["events"], name: string) {
  return ofKind(events, "function_call").find((e) => String(e.fields.function).startsWith(`${name} `))!;
}

test("a call buffered in one job is stamped at that job's end, before the next job runs", async () => {
  const run = await runTraced(["node", app], { scopeArgs: ["--functions", "--level", "calls"], env });
  expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "done\n" });
  const first = callOf(run.events, "first");
  const busy = callOf(run.events, "busy");
  const second = callOf(run.events, "second");
  // first's job ended before busy's job began its 60 ms wait; busy and second share a job.
  expect(Number(second.timestampNs - first.timestampNs) / 1e6).toBeGreaterThan(50);
  expect(busy.timestampNs).toBe(second.timestampNs);
});

// Node's workers (scope.node's cleanup hook); Bun's are written as they come (no batch to lose).
for (const [name, runtime] of [...installedNodes, ["bun", process.execPath] as [string, string]]) {
  test(`${name}: a worker terminate()d in a loop that makes no calls keeps the call of the function it was stuck in`, async () => {
    const run = await runTraced([runtime, runaway], { scopeArgs: ["--functions", "--level", "calls"], env });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: "worker says spinning\nterminated 1\n", stderr: "" });
    const worker = run.events.filter((e) => e.tid !== 0 && (e.kind === "function_call" || e.kind === "thread_exit"));
    expect(worker.map((e) => (e.kind === "thread_exit" ? "exit" : String(e.fields.function).split(" ")[0]))).toEqual(["start", "spin", "exit"]);
  });
}

test("previewDepth and previewChars set how much of a value the events show", async () => {
  const shallow = await runTraced(["node", app], { scopeArgs: ["--functions", "--level", "full"], env });
  const deep = await runTraced(["node", app], { scopeArgs: ['--functions={"previewDepth":6,"previewChars":200}', "--level", "full"], env });
  const valueOf = (run: typeof deep) => ofKind(run.events, "function_return").find((e) => String(e.fields.function).startsWith("second "))!.fields.value;
  expect(valueOf(shallow)).toBe('{"depth":{"one":{"two":{…}}}}');
  expect(valueOf(deep)).toBe('{"depth":{"one":{"two":{"three":{"four":2}}}}}');
});

/** `scope dump --json`'s lines for the trace `run` wrote. */
async function dumpJson(out: string): Promise<Record<string, unknown>[]> {
  const dump = await runCli(["dump", "--json", out]);
  expect(dump.exitCode, dump.stderr).toBe(0);
  return dump.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** [event, ms since the trace's start] of the main thread's calls and returns, in the dump's order. */
async function stallCalls(runtime: string, settings = ""): Promise<{ calls: { event: string; ms: number }[]; blockedMs: number }> {
  const run = await runTraced([runtime, stall], { scopeArgs: [`--functions${settings}`], env });
  expect({ status: run.status, stdout: run.stdout.replace(/[\d.]+/, "N"), stderr: run.stderr }).toEqual({ status: 0, stdout: "blocked N ms\n", stderr: "" });
  const calls = (await dumpJson(run.out))
    .filter((line) => line.tid === 0 && (line.kind === "function_call" || line.kind === "function_return"))
    .map((line) => ({ event: `${String(line.kind).slice("function_".length)} ${String(line.function).split(" ")[0]}`, ms: Number(line.timeNs) / 1e6 }));
  return { calls, blockedMs: Number(/[\d.]+/.exec(run.stdout)![0]) };
}

// This machine's node, Node 22 and 24 where installed (each its own clock path), and Bun.
for (const [name, runtime] of [...installedNodes, ["bun", process.execPath] as [string, string]]) {
  test(`${name}: every call and return carries its own time; a 250 ms function lasts 250 ms and nests its callees`, async () => {
    // A busy loop on a shared machine can lose the CPU just as it ends (milliseconds), so
    // blockTheLoop measures itself (first statement to last) and prints it: the trace must
    // show that, ±1 ms. The order, the nesting and the 250 ms lower bound hold on every
    // run; the ±1 ms on at least one of three (the program can also lose the CPU between
    // a hook's clock read and its own, a window of microseconds).
    const misses: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const { calls, blockedMs } = await stallCalls(runtime);
      expect(blockedMs).toBeGreaterThanOrEqual(250);
      expect(calls.map((c) => c.event)).toEqual([
        "call outer",
        "call before",
        "return before",
        "call blockTheLoop",
        "call tick",
        "return tick",
        "call tick",
        "return tick",
        "return blockTheLoop",
        "call after",
        "return after",
        "return outer",
      ]);
      const at = (index: number) => calls[index]!.ms;
      // Times never go back; outer holds blockTheLoop, which holds both ticks. Its call is
      // before the loop's start, the second tick after the loop's end (the program's clock
      // and the trace's agree to well under 10 µs).
      for (let i = 1; i < calls.length; i++) expect(at(i)).toBeGreaterThanOrEqual(at(i - 1));
      expect(at(6) - at(3)).toBeGreaterThan(249.99);
      // blockTheLoop: as long as it measured itself (±1 ms) between its call and return; a
      // short call after it (everything warm) well under a millisecond.
      const blocked = at(8) - at(3);
      const short = at(10) - at(9);
      if (Math.abs(blocked - blockedMs) < 1 && short < 1) return;
      misses.push(`blockTheLoop ${blocked.toFixed(3)} ms in the trace, ${blockedMs.toFixed(3)} ms measured; after ${short.toFixed(3)} ms`);
    }
    throw new Error(`no run within 1 ms: ${misses.join("; ")}`);
  });
}

test("node: calls-level events among full-level ones keep their order and take the next event's time", async () => {
  const { calls } = await stallCalls("node", `=${JSON.stringify({ rules: [{ name: "tick", level: "calls" }] })}`);
  expect(calls.map((c) => c.event)).toEqual([
    "call outer",
    "call before",
    "return before",
    "call blockTheLoop",
    "call tick",
    "call tick",
    "return blockTheLoop",
    "call after",
    "return after",
    "return outer",
  ]);
  // The ticks (unstamped, calls level) take the time of the next stamped event,
  // blockTheLoop's return: an upper bound, never before their neighbours.
  expect(calls[4]!.ms).toBe(calls[6]!.ms);
  expect(calls[5]!.ms).toBe(calls[6]!.ms);
  for (let i = 1; i < calls.length; i++) expect(calls[i]!.ms).toBeGreaterThanOrEqual(calls[i - 1]!.ms);
  expect(calls[6]!.ms - calls[3]!.ms).toBeGreaterThan(249.99);
});

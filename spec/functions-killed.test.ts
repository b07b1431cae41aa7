/**
 * A Node process killed by a signal at its default disposition (Ctrl-C's SIGINT, SIGTERM,
 * SIGKILL) runs no code of scope's, so the calls level's batch of the job it was in (the
 * call of the very function a hung program is stuck in) never reached the ring: the threads'
 * batches live in the ring's file (zig/batches.zig) and the collector writes them once the
 * process is gone, stamped at its ending, on its pid and thread.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { constants } from "node:os";
import { cleanEnv, cleanup, fixtures, scratchDir } from "./agent-harness";
import { cliEntry, installedNodes, readEvents } from "./harness";
import { loadTrace } from "../src/dump/load";
import type { TraceEvent } from "../src/core/model";

const env = { XDG_CACHE_HOME: join(scratchDir(), "cache") };
afterAll(cleanup);
const killed = join(fixtures, "functions-timing/killed.cjs");
const killedChild = join(fixtures, "functions-timing/killed-child.cjs");
let runs = 0;

interface Killed {
  status: number;
  stdout: string;
  stderr: string;
  /** The pid the program printed as "stuck <pid>", which was sent the signal. */
  pid: number;
  events: TraceEvent[];
  /** The end chunk's records handed on by the ring and recorded by the collector: equal when the totals add up. */
  totals: { written: number; recorded: number };
}

/**
 * Runs argv (under `scope run scopeArgs`, or untraced without them), sends `signal` to the
 * process that prints "stuck <pid>" once it has, and waits for the end.
 */
async function runKilled(argv: string[], signal: NodeJS.Signals, scopeArgs?: string[]): Promise<Killed> {
  const out = join(scratchDir(), `killed-${runs++}.bin`);
  const command = scopeArgs ? [process.execPath, cliEntry, "run", ...scopeArgs, "--out", out, "--", ...argv] : argv;
  const child = Bun.spawn(command, { cwd: fixtures, env: { ...cleanEnv(env), NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const stderr = new Response(child.stderr).text();
  const decoder = new TextDecoder();
  let stdout = "";
  let pid = 0;
  for await (const chunk of child.stdout) {
    stdout += decoder.decode(chunk, { stream: true });
    const stuck = /stuck (\d+)\n/.exec(stdout);
    if (pid === 0 && stuck) {
      pid = Number(stuck[1]);
      process.kill(pid, signal);
    }
  }
  await child.exited;
  const signalled = child.signalCode ? (constants.signals as Record<string, number>)[child.signalCode]! : 0;
  const status = signalled ? 128 + signalled : child.exitCode!;
  // The end chunk also carries the collector's `recorded` (src/core/trace-file.ts close).
  const end = scopeArgs ? (loadTrace(out).end as { written: number | bigint; recorded?: number | bigint } | undefined) : undefined;
  const totals = { written: Number(end?.written ?? 0), recorded: Number(end?.recorded ?? 0) };
  return { status, stdout, stderr: await stderr, pid, events: scopeArgs ? readEvents(out) : [], totals };
}

/** A thread's function calls by name, and its ending ("exit"), in trace order. */
function callsOf(events: TraceEvent[], pid: number, tid: number): string[] {
  return events
    .filter((e) => e.pid === pid && e.tid === tid && (e.kind === "function_call" || e.kind === "process_exit" || e.kind === "thread_exit"))
    .map((e) => (e.kind === "function_call" ? String(e.fields.function).split(" ")[0]! : "exit"));
}

/** Each salvaged call is stamped at or before its thread's ending, which scope recorded. */
function expectStampedByEnding(events: TraceEvent[], pid: number, tid: number): void {
  const ending = events.find((e) => e.pid === pid && e.tid === tid && (e.kind === "process_exit" || e.kind === "thread_exit"))!;
  expect(ending.fields.recordedBy).toBe("collector");
  for (const call of events.filter((e) => e.pid === pid && e.tid === tid && e.kind === "function_call")) {
    expect(call.timestampNs).toBeLessThanOrEqual(ending.timestampNs);
  }
}

const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGKILL"];
const calls = ["--functions", "--level", "calls"];

// Bun's sink writes each event as it happens: nothing is buffered to lose.
for (const [name, node] of [...installedNodes, ["bun", process.execPath] as [string, string]]) {
  for (const signal of name === "bun" ? (["SIGINT", "SIGKILL"] as NodeJS.Signals[]) : signals) {
    test(`${name}: a process killed by ${signal} in a loop that makes no calls keeps the call of the function it was stuck in`, async () => {
      const run = await runKilled([node, killed], signal, calls);
      const status = 128 + constants.signals[signal];
      // The program writes nothing to stderr: all of it is scope's summary.
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr.slice(0, 7) }).toEqual({ status, stdout: `stuck ${run.pid}\n`, stderr: "scope: " });
      expect(callsOf(run.events, run.pid, 0)).toEqual(["stuck", "spin", "exit"]);
      expectStampedByEnding(run.events, run.pid, 0);
      // The batch's records count as handed on by the ring (scope bench's trace check).
      expect(run.totals.written).toBe(run.totals.recorded);
    });
  }

  if (name === "bun") continue;
  test(`${name}: a worker's batch too, and a child process killed while its traced parent runs on`, async () => {
    const run = await runKilled([node, killed, "worker"], "SIGKILL", calls);
    expect(run.status).toBe(128 + constants.signals.SIGKILL);
    expect(callsOf(run.events, run.pid, 0)).toEqual(["afterWorker", "stuck", "spin", "exit"]);
    expect(callsOf(run.events, run.pid, 1)).toEqual(["workerStuck", "spin", "exit"]);
    expectStampedByEnding(run.events, run.pid, 1);
    const child = await runKilled([node, killedChild], "SIGTERM", calls);
    expect({ status: child.status, stdout: child.stdout }).toEqual({ status: 0, stdout: `stuck ${child.pid}\nchild ended by SIGTERM\n` });
    expect(callsOf(child.events, child.pid, 0)).toEqual(["stuck", "spin", "exit"]);
    expectStampedByEnding(child.events, child.pid, 0);
    expect(child.totals.written).toBe(child.totals.recorded);
  });
}

test("the exit status is the one the program has untraced", async () => {
  for (const signal of signals) {
    const untraced = await runKilled(["node", killed], signal);
    const traced = await runKilled(["node", killed], signal, calls);
    expect({ signal, status: traced.status }).toEqual({ signal, status: untraced.status });
  }
});

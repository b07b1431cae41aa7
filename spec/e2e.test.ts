/**
 * Issue 4's launch paths and endings, end to end: `scope run` with the real native
 * parts, assertions on the trace file and on what the program did.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { StopReason } from "../src/core/layout";
import { Ring } from "../src/core/ring";
import { loadTrace } from "../src/dump/load";
import { interpret } from "../src/core/model";
import { cleanup, fixtures, ofKind, pairing, runTraced, runUntraced, scratchDir, type Traced } from "./agent-harness";
import { cliEntry } from "./harness";

afterAll(cleanup);

const quietNpm = { npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" };

function expectNothingLost(run: Traced): void {
  expect({ dropped: run.end.dropped, overwritten: run.end.overwritten, agentErrors: ofKind(run.events, "agent_error").length }).toEqual({
    dropped: 0,
    overwritten: 0,
    agentErrors: 0,
  });
  for (const stop of ofKind(run.events, "trace_stop")) expect(stop.fields).toEqual({ agentErrors: 0, unrecorded: 0 });
}

function expectPaired(run: Traced, count: number): void {
  const p = pairing(run.events);
  expect([p.sends, p.receives, p.unpairedSends.length, p.unpairedReceives.length, p.multiply.length]).toEqual([count, count, 0, 0, 0]);
}

/** A pipe reader that accumulates text until a condition holds (or the stream ends). */
function reader(stream: ReadableStream<Uint8Array>) {
  const source = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  return {
    get text() {
      return text;
    },
    async until(done: (text: string) => boolean): Promise<string> {
      while (!done(text)) {
        const chunk = await source.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
      }
      return text;
    },
  };
}

describe.each([
  ["npm run", ["npm", "run", "--silent", "start"]],
  ["npx -c", ["npx", "-c", "node ../fork-ipc-fixture.cjs"]],
])("%s: every node process of the tree is traced", (_name, argv) => {
  test("npm itself, the program it starts through a shell, and the program's forked child", async () => {
    const cwd = join(fixtures, "npm-fixture");
    const run = await runTraced(argv, { cwd, env: quietNpm });
    const plain = await runUntraced(argv, { cwd, env: quietNpm });
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout).toBe("answers=3 code=4 signal=null\n");
    expectNothingLost(run);
    const starts = ofKind(run.events, "trace_start");
    expect(starts.map((e) => e.fields.argv)).toEqual([
      expect.stringMatching(/\/npm |\/npx |npm-cli\.js |npx-cli\.js /),
      expect.stringMatching(/fork-ipc-fixture\.cjs$/),
      expect.stringMatching(/fork-ipc-fixture\.cjs child$/),
    ]);
    const [npm, app, child] = starts as [(typeof starts)[0], (typeof starts)[0], (typeof starts)[0]];
    // npm runs the script through a shell (not traced): npm → sh → node app → node child.
    const shell = ofKind(run.events, "process_spawn", { pid: npm.pid });
    expect(shell.map((e) => [e.fields.method, e.fields.childPid])).toEqual([["spawn", app.fields.parentPid]]);
    expect(ofKind(run.events, "process_spawn", { pid: app.pid }).map((e) => [e.fields.method, e.fields.childPid])).toEqual([["fork", child.pid]]);
    expect(child.fields.parentPid).toBe(app.pid);
    expect(ofKind(run.events, "process_exit").map((e) => [e.pid, e.fields.code])).toEqual([
      [child.pid, 4],
      [app.pid, 0],
      [npm.pid, 0],
    ]);
    expectPaired(run, 7);
  });
});

describe("endings", () => {
  test("SIGKILL of the program: what it recorded before is kept, the collector writes child_exit, its process_exit with signal 9 and its worker's thread_exit", async () => {
    const argv = ["node", "crash-fixture.cjs", "killself"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.status).toBe(128 + 9);
    expect(run.stdout).toBe("got 42\n");
    expectNothingLost(run);
    const pid = ofKind(run.events, "trace_start")[0]!.pid;
    const ofThread = (tid: number) => run.events.filter((e) => e.pid === pid && e.tid === tid).map((e) => e.kind);
    // Its ending: written by the collector on its behalf from scope run's wait status.
    expect(ofThread(0)).toEqual(["trace_start", "thread_spawn", "message_send", "message_receive", "process_exit"]);
    // Its worker's ending too, written by the collector with the process's.
    expect(ofThread(1)).toEqual(["trace_start", "message_receive", "message_send", "thread_exit"]);
    expect(run.events.filter((e) => e.pid === pid && e.tid === 1 && e.kind === "thread_exit").map((e) => e.fields.recordedBy)).toEqual(["collector"]);
    expectPaired(run, 2);
    const collector = run.events.filter((e) => e.kind === "child_exit" && e.pid !== pid);
    expect(collector.map((e) => e.fields)).toEqual([{ childPid: pid, code: null, signal: 9 }]);
    expect(ofKind(run.events, "process_exit").map((e) => [e.fields.signal, e.fields.recordedBy])).toEqual([[9, "collector"]]);
  });
});

/** `scope run --print <options> -- node live-fixture.cjs <args>`, once the program says it is ready. */
async function startLive(options: string[], args: string[] = []) {
  const scope = Bun.spawn([process.execPath, cliEntry, "run", "--print", ...options, "--", "node", "live-fixture.cjs", ...args], {
    cwd: fixtures,
    env: { ...process.env, NO_COLOR: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stdout = reader(scope.stdout);
  const stderr = reader(scope.stderr);
  const pid = Number(/ready (\d+)\n/.exec(await stdout.until((text) => /ready \d+\n/.test(text)))![1]);
  return { scope, stdout, stderr, pid };
}

describe("scope run options", () => {
  test("--print streams decoded events to stderr while the program still runs", async () => {
    const out = join(scratchDir(), "print.bin");
    const { scope, stdout, stderr, pid } = await startLive(["--out", out]);
    // The program waits for a signal: these lines can only come from the live stream.
    const live = await stderr.until((text) => /message_receive .*\n/.test(text) && /message_send .*\n/.test(text) && /thread_spawn .*\n/.test(text));
    expect(live).not.toContain("process_exit");
    process.kill(pid, "SIGUSR2");
    expect(await scope.exited).toBe(0);
    await stdout.until(() => false);
    await stderr.until(() => false);
    expect(stdout.text).toBe(`ready ${pid}\ndone 2\n`);
    const lines = stderr.text.split("\n").filter((line) => / (trace_start|message_send|message_receive|process_exit|child_exit) /.test(line));
    const trace = loadTrace(out);
    const events = interpret(trace.records, trace.strings);
    // A receive shows its send's size and preview, also when the send was drained earlier.
    const receives = lines.filter((line) => / message_receive +worker#/.test(line));
    expect(receives.length).toBeGreaterThan(0);
    for (const line of receives) expect(line).toMatch(/ 1B "\d"/);
    // One printed line per event of the trace.
    expect(lines.length).toBe(events.filter((e) => ["trace_start", "message_send", "message_receive", "process_exit", "child_exit"].includes(e.kind)).length);
  });

  test("--print never slows the drain: a burst of 40 000 messages is printed late, not lost", async () => {
    const out = join(scratchDir(), "print-burst.bin");
    const { scope, stdout, stderr, pid } = await startLive(["--out", out], ["20000"]);
    process.kill(pid, "SIGUSR2");
    // Read while it runs: the 80 000 live lines are far more than a pipe holds.
    const read = Promise.all([stdout.until(() => false), stderr.until(() => false)]);
    expect(await scope.exited).toBe(0);
    await read;
    expect(stdout.text).toBe(`ready ${pid}\ndone 20001\n`);
    expect(stderr.text).toContain("lost: none");
    const trace = loadTrace(out);
    const events = interpret(trace.records, trace.strings);
    expect(events.filter((e) => e.kind === "message_send").length).toBe(2 * 20001);
    expect(events.filter((e) => e.kind === "message_receive").length).toBe(2 * 20001);
    // Every record is printed once, or said to be skipped.
    const printed = stderr.text.split("\n").filter((line) => / message_(send|receive) +worker#/.test(line)).length;
    const skipped = [...stderr.text.matchAll(/--print fell behind: (\d+) records not printed/g)].length;
    if (skipped === 0) expect(printed).toBe(4 * 20001);
  });

  test("--events message: only messages, the start/stop markers, and the collector's record of the top process's end", async () => {
    const run = await runTraced(["node", "fork-ipc-fixture.cjs"], { scopeArgs: ["--events", "message"] });
    expect(run.stdout).toBe("answers=3 code=4 signal=null\n");
    expectNothingLost(run);
    const pid = ofKind(run.events, "trace_start")[0]!.pid;
    const counts: Record<string, number> = {};
    for (const event of run.events) counts[event.kind] = (counts[event.kind] ?? 0) + 1;
    expect(counts).toEqual({ trace_start: 2, trace_stop: 2, message_send: 7, message_receive: 7, child_exit: 1 });
    expect(ofKind(run.events, "child_exit")[0]!.fields).toEqual({ childPid: pid, code: 0, signal: null });
    expectPaired(run, 7);
  });

  test("a collector killed with SIGKILL leaves the program running to its normal end; its producers find it gone and stop recording", async () => {
    const out = join(scratchDir(), "collector-killed.bin");
    const { scope, stdout, stderr, pid } = await startLive(["--ring-size", "64KiB", "--out", out], ["5000"]);
    // Printed after the collector appended them to the file: these are on disk.
    await stderr.until((text) => /trace_start .*\n/.test(text) && /thread_spawn .*\n/.test(text));
    scope.kill("SIGKILL");
    expect(await scope.exited).toBe(128 + 9);
    // The program goes on with no collector: 10 000 more messages into a 64-slot lane.
    process.kill(pid, "SIGUSR2");
    await stdout.until(() => false);
    await stderr.until(() => false);
    expect(stdout.text).toBe(`ready ${pid}\ndone 5001\n`);
    // Nothing on stderr but the live event lines: the agent stayed silent.
    expect(stderr.text.split("\n").filter((line) => line !== "" && !/^\s+[\d.]+m?s\s+#\d+ /.test(line))).toEqual([]);
    // The ring the dead collector left: the program's producers, finding their lane past
    // half full, saw the collector gone and stopped recording (no 10 000 records piled up
    // in overflows or counted as drops) instead of waiting.
    const ringName = readdirSync("/dev/shm").filter((name) => name.startsWith(`scope-${scope.pid}-`));
    expect(ringName.length).toBe(1);
    const ring = Ring.open(join("/dev/shm", ringName[0]!));
    const stats = ring.stats();
    ring.close();
    Ring.unlink(join("/dev/shm", ringName[0]!));
    expect(stats.stopReason).toBe(StopReason.collectorGone);
    expect(stats.dropped + stats.overflowPending + stats.written).toBeLessThan(10_000);
    // What the collector had written before it died stays readable; the file was never closed.
    const trace = loadTrace(out);
    expect(trace.end).toBeNull();
    const events = interpret(trace.records, trace.strings).filter((e) => e.pid === pid);
    expect(events.slice(0, 2).map((e) => [e.kind, e.tid])).toEqual([
      ["trace_start", 0],
      ["thread_spawn", 0],
    ]);
  });
});

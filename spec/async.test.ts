/**
 * Async causality (scope run --async) and `scope dump --why`, with real node through
 * `scope run`: the chain timer → promise → message to a worker → reply.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { whyChain } from "../src/core/why";
import { readEvents, repoRoot, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-async-test-");
const chainFixture = join(repoRoot, "spec/fixtures/async-chain.cjs");

/** The reply's receive: the main thread's only message_receive. */
function replyReceive(events: TraceEvent[]): TraceEvent {
  const receives = events.filter((event) => event.kind === "message_receive" && event.tid === 0);
  expect(receives.length).toBe(1);
  return receives[0]!;
}

async function traced(args: string[], program: string[]): Promise<{ events: TraceEvent[]; out: string; stdout: string; stderr: string }> {
  const out = join(tmp(), "t.bin");
  const result = await runCli(["run", ...args, "--out", out, "--", ...program]);
  expect(result.exitCode, result.stderr).toBe(0);
  return { events: readEvents(out), out, stdout: result.stdout, stderr: result.stderr };
}

const asyncKinds = (events: TraceEvent[]) => events.filter((event) => event.kind.startsWith("async_"));

describe("scope run --async and scope dump --why", () => {
  test("--async=promises: --why on the reply's receive walks reply → worker's receive → send → then → resolve in the timer → the timer's creation → start", async () => {
    const { events, out, stdout } = await traced(["--async=promises"], ["node", chainFixture]);
    expect(stdout).toBe("reply 42\n");
    const reply = replyReceive(events);
    const chain = whyChain(events, reply.index);
    const steps = chain.map((step) => ({ relation: step.relation, kind: step.event.kind, tid: step.event.tid, type: step.event.fields.type ?? null }));
    // The links, in order, as the program made them.
    expect(steps.slice(0, 8)).toEqual([
      { relation: "event", kind: "message_receive", tid: 0, type: null },
      { relation: "sent by", kind: "message_send", tid: 1, type: null },
      { relation: "handling", kind: "message_receive", tid: 1, type: null },
      { relation: "sent by", kind: "message_send", tid: 0, type: null },
      { relation: "ran in", kind: "async_before", tid: 0, type: "PROMISE" },
      { relation: "after resolve", kind: "async_resolve", tid: 0, type: null },
      { relation: "ran in", kind: "async_before", tid: 0, type: "Timeout" },
      { relation: "scheduled by", kind: "async_init", tid: 0, type: "Timeout" },
    ]);
    const [, replySend, workerReceive, mainSend, thenRun, resolve, timerRun, timerInit] = chain.map((step) => step.event);
    // Each link is the one the trace records: the pairs, the promise the `then` waited on, the timer.
    expect(reply.linkedTo).toEqual([replySend!.index]);
    expect(workerReceive!.linkedTo).toEqual([mainSend!.index]);
    expect(workerReceive!.fields.preview).toBe("41");
    expect(replySend!.fields.asyncIndex).toBe(workerReceive!.fields.asyncIndex);
    expect(mainSend!.fields.asyncIndex).toBe(thenRun!.index);
    const thenInit = events[thenRun!.fields.initIndex as number]!;
    expect(resolve!.fields.asyncId).toBe(thenInit.fields.trigger);
    expect(resolve!.fields.resolvedIn).toBe(timerRun!.fields.asyncId);
    expect(resolve!.fields.asyncIndex).toBe(timerRun!.index);
    expect(timerRun!.fields.initIndex).toBe(timerInit!.index);
    // ... back to the main thread's start, in time order.
    const last = chain[chain.length - 1]!;
    expect(last.relation).toBe("in thread");
    expect(last.event.kind).toBe("trace_start");
    expect(last.event.tid).toBe(0);
    for (let i = 1; i < chain.length; i++) expect(chain[i]!.event.timestampNs <= chain[i - 1]!.event.timestampNs).toBe(true);

    // The CLI prints the same chain, one line per link, in that order.
    const printed = await runCli(["dump", "--why", String(reply.index), out], { env: { NO_COLOR: "1" } });
    expect(printed.exitCode, printed.stderr).toBe(0);
    const lines = printed.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`# why #${reply.index}: its causes, back to the start (${chain.length - 1} links)`);
    expect(lines.slice(1).map((line) => Number(/ #(\d+) /.exec(line)?.[1]))).toEqual(chain.map((step) => step.event.index));
    expect(lines[6]).toMatch(/^← after resolve +.* async_resolve +promise \d+ resolved in \d+$/);
    expect(lines[7]).toMatch(/^← ran in +.* async_before +Timeout \d+ runs /);
    const json = await runCli(["dump", "--why", String(reply.index), "--json", out]);
    expect(json.stdout.trimEnd().split("\n").map((line) => JSON.parse(line).relation)).toEqual(chain.map((step) => step.relation));
  }, 120_000);

  test("--async=promises: a then-chain links each reaction to the one before it (a promise resolved in its own reaction writes no resolve record)", async () => {
    const program = [
      "const { Worker } = require('node:worker_threads');",
      "const worker = new Worker(\"require('node:worker_threads').parentPort.on('message', () => process.exit(0));\", { eval: true });",
      "let resolveLater; const later = new Promise((resolve) => { resolveLater = resolve; });",
      "setTimeout(() => resolveLater(41), 20);",
      "later.then((v) => v + 1).then((v) => worker.postMessage(v));",
    ].join(" ");
    const { events } = await traced(["--async=promises"], ["node", "-e", program]);
    expect(events.filter((event) => event.kind === "async_resolve" && event.fields.asyncId === event.fields.resolvedIn)).toEqual([]);
    const send = events.find((event) => event.kind === "message_send")!;
    const chain = whyChain(events, send.index);
    expect(chain.map((step) => [step.relation, step.event.kind, step.event.fields.type ?? null])).toEqual([
      ["event", "message_send", null],
      ["ran in", "async_before", "PROMISE"],
      ["after resolve", "async_before", "PROMISE"],
      ["after resolve", "async_resolve", null],
      ["ran in", "async_before", "Timeout"],
      ["scheduled by", "async_init", "Timeout"],
      ["in thread", "trace_start", null],
    ]);
    // The second reaction waited on the first's promise; the first on `later`, resolved in the timer.
    const [, second, first, resolve] = chain.map((step) => step.event);
    expect(events[second!.fields.initIndex as number]!.fields.trigger).toBe(first!.fields.asyncId);
    expect(events[first!.fields.initIndex as number]!.fields.trigger).toBe(resolve!.fields.asyncId);
  }, 120_000);

  test("--async (callbacks): no promise records; the `then` is attributed to the timer's turn", async () => {
    const { events, stdout } = await traced(["--async"], ["node", chainFixture]);
    expect(stdout).toBe("reply 42\n");
    expect(events.filter((event) => event.kind === "async_tracking").map((event) => event.fields.level)).toEqual(["callbacks", "callbacks"]);
    expect(events.some((event) => event.kind === "async_resolve" || event.fields.type === "PROMISE")).toBe(false);
    const chain = whyChain(events, replyReceive(events).index);
    expect(chain.slice(0, 6).map((step) => [step.relation, step.event.kind, step.event.fields.type ?? null])).toEqual([
      ["event", "message_receive", null],
      ["sent by", "message_send", null],
      ["handling", "message_receive", null],
      ["sent by", "message_send", null],
      ["after", "async_before", "Timeout"],
      ["scheduled by", "async_init", "Timeout"],
    ]);
    expect(chain[chain.length - 1]!.event.kind).toBe("trace_start");
  }, 120_000);

  test("without --async: no async records, no async fields, and --why still links the message and the worker's spawn", async () => {
    const { events, out } = await traced([], ["node", chainFixture]);
    expect(asyncKinds(events)).toEqual([]);
    expect(events.filter((event) => "async" in event.fields || "asyncIndex" in event.fields || "asyncAfter" in event.fields)).toEqual([]);
    const chain = whyChain(events, replyReceive(events).index);
    expect(chain.map((step) => [step.relation, step.event.kind, step.event.tid])).toEqual([
      ["event", "message_receive", 0],
      ["sent by", "message_send", 1],
      ["in thread", "trace_start", 1],
      ["started by", "thread_spawn", 0],
      ["in thread", "trace_start", 0],
    ]);
    const printed = await runCli(["dump", "--why", String(chain[0]!.event.index), out], { env: { NO_COLOR: "1" } });
    expect(printed.exitCode, printed.stderr).toBe(0);
    expect(printed.stdout.trimEnd().split("\n").length).toBe(1 + chain.length);
  }, 120_000);

  test("a program's own AsyncResource type is recorded by name; a child process's chain reaches its parent's spawn", async () => {
    const program = [
      "const { AsyncResource } = require('node:async_hooks');",
      "const { execFileSync } = require('node:child_process');",
      "new AsyncResource('MyJob').runInAsyncScope(() => execFileSync(process.execPath, ['-e', '0']));",
    ].join(" ");
    const { events } = await traced(["--async"], ["node", "-e", program]);
    const job = events.find((event) => event.kind === "async_init" && event.fields.type === "MyJob");
    expect(job).toBeDefined();
    const childStart = events.find((event) => event.kind === "trace_start" && event.pid !== job!.pid)!;
    const chain = whyChain(events, childStart.index);
    expect(chain.map((step) => [step.relation, step.event.kind, step.event.fields.type ?? null])).toEqual([
      ["event", "trace_start", null],
      ["started by", "process_spawn", null],
      ["ran in", "async_before", "MyJob"],
      ["scheduled by", "async_init", "MyJob"],
      ["in thread", "trace_start", null],
    ]);
  }, 120_000);

  test("Bun: timers, immediates, ticks and microtasks are wrapped (no async_hooks); the chain links through them, and scope run says what Bun lacks", async () => {
    const { events, stdout, stderr } = await traced(["--async=promises"], [process.execPath, chainFixture]);
    expect(stdout).toBe("reply 42\n");
    expect(stderr).toMatch(/\n {2}--async: Bun implements no async_hooks: only timers, immediates, nextTick and queueMicrotask are linked, not promises or I\/O \(pid \d+\)\n$/);
    const tracking = events.filter((event) => event.kind === "async_tracking");
    expect(tracking.map((event) => [event.fields.level, event.fields.recorded])).toEqual([
      ["promises", "timers"],
      ["promises", "timers"],
    ]);
    expect(events.some((event) => event.kind === "async_resolve" || event.fields.type === "PROMISE")).toBe(false);
    const chain = whyChain(events, replyReceive(events).index);
    expect(chain.slice(0, 6).map((step) => [step.relation, step.event.kind, step.event.tid, step.event.fields.type ?? null])).toEqual([
      ["event", "message_receive", 0, null],
      ["sent by", "message_send", 1, null],
      ["after", "message_receive", 1, null],
      ["sent by", "message_send", 0, null],
      ["after", "async_before", 0, "Timeout"],
      ["scheduled by", "async_init", 0, "Timeout"],
    ]);
    expect(chain[chain.length - 1]!.event.kind).toBe("trace_start");
  }, 120_000);

  test("Bun: with the loop and memory groups on, scope's own intervals are not among the program's timers", async () => {
    const initsByType = (events: TraceEvent[]) => {
      const counts: Record<string, number> = {};
      for (const event of events) if (event.kind === "async_init") counts[String(event.fields.type)] = (counts[String(event.fields.type)] ?? 0) + 1;
      return counts;
    };
    const plain = await traced(["--async=promises"], [process.execPath, chainFixture]);
    const withLoop = await traced(["--async=promises", "--events", "+loop,+memory", "--loop-interval", "20ms", "--long-task", "20ms"], [process.execPath, chainFixture]);
    expect(withLoop.stdout).toBe("reply 42\n");
    // The groups ran (samples at 20 ms; the sentinel every 10 ms) and none of their ticks is an async record.
    expect(withLoop.events.some((event) => event.kind === "loop_sample")).toBe(true);
    expect(initsByType(withLoop.events)).toEqual(initsByType(plain.events));
  }, 120_000);

  test("Bun: the wrapped schedulers look and work as Bun's own (name, length, node:timers, promisify, arguments, this, intervals)", async () => {
    const file = join(tmp(), "schedulers.js");
    await Bun.write(
      file,
      [
        "const timers = require('node:timers'); const { promisify } = require('node:util');",
        "const out = [setTimeout.name, setTimeout.length, setInterval.name, setImmediate.name, queueMicrotask.name, process.nextTick.name, timers.setTimeout === setTimeout, timers.setImmediate === setImmediate];",
        "const interval = new Promise((done) => { let ticks = 0; const iv = setInterval(() => { if (++ticks === 3) { clearInterval(iv); done('interval ' + ticks); } }, 1); });",
        "process.nextTick((a, b) => out.push('tick ' + a + b), 1, 2);",
        "setImmediate((a) => out.push('immediate ' + a), 'x');",
        "const t = setTimeout(() => out.push('never'), 5); clearTimeout(t);",
        "const promisified = promisify(setTimeout)(20, 'v').then((v) => 'promisified ' + v);",
        "const self = new Promise((done) => setTimeout(function () { done(typeof this); }, 1));",
        "Promise.all([interval, promisified, self]).then((last) => setTimeout(() => console.log(JSON.stringify([...out, ...last])), 30));",
      ].join("\n"),
    );
    const plain = Bun.spawnSync([process.execPath, file], { env: { ...process.env, BUN_OPTIONS: "" } });
    const { events, stdout } = await traced(["--async"], [process.execPath, file]);
    expect(stdout).toBe(plain.stdout.toString());
    expect(JSON.parse(stdout)).toEqual(["setTimeout", 1, "setInterval", "setImmediate", "queueMicrotask", "nextTick", true, true, "tick 12", "immediate x", "interval 3", "promisified v", "object"]);
    // The interval: one init, three runs.
    const interval = events.filter((event) => event.kind === "async_init" && event.fields.type === "Timeout");
    const runs = (id: unknown) => events.filter((event) => event.kind === "async_before" && event.fields.asyncId === id).length;
    expect(interval.map((event) => runs(event.fields.asyncId)).sort()).toEqual([0, 1, 1, 1, 3]);
  }, 120_000);

  test("through a request: the worker's receive ← the handler's send ← the request it served ← the client request that reached it ← the listen callback", async () => {
    const fixture = join(repoRoot, "spec/fixtures/async-request.cjs");
    for (const args of [["--async"], []]) {
      const { events } = await traced(args, ["node", fixture]);
      const receive = events.find((event) => event.kind === "message_receive" && event.tid !== 0)!;
      expect(receive.fields.preview).toBe('"/hello"');
      const chain = whyChain(events, receive.index);
      expect(chain.slice(0, 4).map((step) => [step.relation, step.event.kind])).toEqual([
        ["event", "message_receive"],
        ["sent by", "message_send"],
        ["in request", "http_server_request"],
        ["requested by", "http_client_request"],
      ]);
      expect(chain[2]!.event.fields.target).toBe("/hello");
      expect(chain[3]!.event.fields.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hello$/);
      const rest = chain.slice(4).map((step) => [step.relation, step.event.kind, step.event.fields.type ?? null]);
      if (args.length === 0) expect(rest).toEqual([["in thread", "trace_start", null]]);
      else {
        // The client request was made in the 'listening' callback (a nextTick of listen()), scheduled at the top level.
        expect(rest[0]).toEqual(["ran in", "async_before", "TickObject"]);
        expect(rest[1]).toEqual(["scheduled by", "async_init", "TickObject"]);
        expect(rest[rest.length - 1]).toEqual(["in thread", "trace_start", null]);
      }
    }
  }, 120_000);

  test("bad --why: not a number, out of range, with --stats: one `scope: ...` line, exit 1", async () => {
    const { out, events } = await traced([], ["node", "-e", "0"]);
    for (const [arg, message] of [
      ["x1", `scope: --why: expected an event number as scope dump prints it (#N), got "x1"\n`],
      ["-3", `scope: --why: expected an event number as scope dump prints it (#N), got "-3"\n`],
      [String(events.length), `scope: --why: no event #${events.length} in this trace (it has ${events.length} events, #0 to #${events.length - 1})\n`],
    ] as const) {
      const result = await runCli(["dump", `--why=${arg}`, out]);
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe(message);
    }
    // A truncated trace: the chain over the events before the damage, one line saying so, exit 2.
    const cut = join(tmp(), "cut.bin");
    writeFileSync(cut, readFileSync(out));
    truncateSync(cut, statSync(cut).size - 100);
    const damaged = await runCli(["dump", "--why", "0", cut]);
    expect(damaged.exitCode).toBe(2);
    expect(damaged.stdout).toMatch(/^# why #0: its causes, back to the start \(0 links\)\n +[\d.]+ms +#0 \d+\/0 +trace_start /);
    expect(damaged.stderr).toMatch(/^scope: .*cut\.bin: .* at byte \d+; the \d+ events before it were searched for the chain\n$/);
    const stats = await runCli(["dump", "--why", "0", "--stats", out]);
    expect(stats.exitCode).toBe(1);
    expect(stats.stderr).toBe("scope: --why prints a chain of events: text, or --json\n");
    const level = await runCli(["run", "--async=everything", "--out", out, "--", "node", "-e", "0"]);
    expect(level.exitCode).toBe(1);
    expect(level.stderr).toBe(`scope: --async: expected callbacks or promises, got "everything"\n`);
  }, 120_000);
});

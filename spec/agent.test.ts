/**
 * The Node agent end to end: each fixture runs under `scope run` with the real addon
 * and ring, and the assertions read the trace file it wrote.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { TraceEvent } from "../src/core/model";
import { cleanup, ofKind, pairing, runTraced, runUntraced, type Traced } from "./agent-harness";
import { nodeVersions, runCli } from "./harness";

afterAll(cleanup);

type NodeVersion = (typeof nodeVersions)[number];

/** A test run once for each Node version (its name in the title's %s); one not installed is skipped with a warning. */
function eachNode(title: string, body: (node: NodeVersion) => Promise<void>): void {
  test.each(nodeVersions.map((node) => [node.name, node] as const))(title, async (_name, node) => {
    if (!node.installed) {
      console.warn(`${node.name} not installed: skipped (scripts/node-install.sh)`);
      return;
    }
    await body(node);
  });
}

function kinds(events: TraceEvent[], pid: number, tid = 0): string[] {
  return events.filter((e) => e.pid === pid && e.tid === tid).map((e) => e.kind);
}

/** The pid of the program scope started (the collector's child_exit names it). */
export function topPid(run: Traced): number {
  const start = run.events.find((e) => e.kind === "trace_start");
  if (!start) throw new Error(`nothing recorded; stderr: ${run.stderr}`);
  return start.pid;
}

function expectAllPaired(run: Traced, count: number): void {
  const p = pairing(run.events);
  expect({ sends: p.sends, receives: p.receives, unpairedSends: p.unpairedSends.length, unpairedReceives: p.unpairedReceives.length, multiply: p.multiply.length }).toEqual({
    sends: count,
    receives: count,
    unpairedSends: 0,
    unpairedReceives: 0,
    multiply: 0,
  });
}

/** Nothing lost, nothing failed inside the agent, and the collector saw the top process end. */
export function expectComplete(run: Traced, top: { code: number | null; signal: number | null }): void {
  expect({ dropped: run.end.dropped, overwritten: run.end.overwritten }).toEqual({ dropped: 0, overwritten: 0 });
  expect(run.summary).toContain("lost: none");
  expect(ofKind(run.events, "agent_error")).toEqual([]);
  expect(ofKind(run.events, "drop")).toEqual([]);
  for (const stop of ofKind(run.events, "trace_stop")) expect(stop.fields).toEqual({ agentErrors: 0, unrecorded: 0 });
  const pid = topPid(run);
  const last = run.events.filter((e) => e.kind === "child_exit" && e.fields.childPid === pid && e.pid !== pid);
  expect(last.map((e) => e.fields)).toEqual([{ childPid: pid, ...top }]);
}

async function sameAsUntraced(argv: string[], traced: Traced): Promise<void> {
  const plain = await runUntraced(argv);
  expect({ stdout: traced.stdout, status: traced.status }).toEqual({ stdout: plain.stdout, status: plain.status });
}


/**
 * A process that ends itself (`node <fixture> <mode>`): as untraced, with `status`, and the
 * trace holds its start, its process_exit with `expected` fields and its trace_stop.
 */
async function endedByItself(fixture: string, mode: string, status: number, expected: Record<string, unknown>) {
  const argv = ["node", fixture, mode];
  const run = await runTraced(argv);
  await sameAsUntraced(argv, run);
  expect(run.status).toBe(status);
  expectComplete(run, { code: status, signal: null });
  expect(kinds(run.events, topPid(run))).toEqual(["trace_start", "process_exit", "trace_stop"]);
  expect(ofKind(run.events, "process_exit")[0]!.fields).toEqual({ signal: null, ...expected });
  return run;
}

describe("node agent, through scope run", () => {
  test("worker ping-pong: every message paired, both ends of the thread", async () => {
    const argv = ["node", "pingpong-fixture.cjs"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expect(run.stdout).toBe("pongs=5 exit=0\n");
    expectComplete(run, { code: 0, signal: null });
    const pid = topPid(run);
    expect(kinds(run.events, pid, 1)).toEqual(["trace_start", ...Array(6).fill(["message_receive", "message_send"]).flat().slice(0, 11), "thread_exit", "trace_stop"]);
    expect(ofKind(run.events, "thread_spawn")[0]!.fields).toEqual({ threadId: 1, entry: expect.stringContaining("pingpong-fixture.cjs") });
    expect(ofKind(run.events, "thread_exited")[0]!.fields).toEqual({ threadId: 1, code: 0 });
    expectAllPaired(run, 11);
    const secret = ofKind(run.events, "message_send", { tid: 0 })[0]!;
    expect(secret.fields.preview).toBe('{"n":0,"password":"[redacted]"}');
  });

  test("worker pool: three workers, 12 requests and 12 replies, terminated from the parent", async () => {
    const argv = ["node", "pool-fixture.cjs"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expectComplete(run, { code: 0, signal: null });
    expect(ofKind(run.events, "thread_spawn").map((e) => e.fields.threadId)).toEqual([1, 2, 3]);
    expect(ofKind(run.events, "thread_exited").map((e) => e.fields.code)).toEqual([1, 1, 1]);
    // terminate() stops the worker's JavaScript: no thread_exit from the workers themselves;
    // the collector's, from each parent's thread_exited (record layout 5).
    const ends = ofKind(run.events, "thread_exit").map((e) => [e.tid, e.fields.recordedBy, e.fields.seenBy, e.fields.code]);
    expect(ends.sort((x, y) => Number(x[0]) - Number(y[0]))).toEqual([1, 2, 3].map((tid) => [tid, "collector", "parent", 1]));
    expectAllPaired(run, 24);
  });

  test("Worker, MessageChannel, BroadcastChannel made directly and by subclasses: as untraced (prototypes, new.target, one map for objects of one kind), every worker and message recorded", async () => {
    // --allow-natives-syntax: the fixture asks V8 whether two objects of one kind share a map
    // (Node 20 gave each object made through the agent's Proxy a map of its own).
    const argv = ["node", "--allow-natives-syntax", "constructors-fixture.cjs"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expect(run.stdout).toBe("maps: worker true, channel true, broadcast true\nprototypes: true true true\nsubclasses: true true true true true true\nworkers exited 0\n");
    expectComplete(run, { code: 0, signal: null });
    expect(ofKind(run.events, "thread_spawn").map((e) => e.fields.threadId)).toEqual([1, 2, 3]);
    expect(ofKind(run.events, "thread_exited").map((e) => e.fields.code)).toEqual([0, 0, 0]);
    expectAllPaired(run, 6);
  });

  eachNode(
    "%s: a port's deliveries and a worker's end as untraced (emit, dispatchEvent, once, removed listeners; Worker's emit not wrapped), the drained messages' receives before thread_exited",
    async (node) => {
      // What the dispatch wrapper relies on (src/agent/node/ports.ts): Node's own takes three named
      // parameters and reads no `arguments`, so a missing third passed as undefined is the same call.
      const source = await runUntraced([node.path, "-e", "const d = require('node:worker_threads').MessagePort.prototype[Symbol.for('nodejs.internal.kHybridDispatch')].toString(); console.log(d.startsWith('[kHybridDispatch](nodeValue, type, event) {'), /\\barguments\\b|\\.\\.\\./.test(d))"]);
      expect(source.stdout).toBe("true false\n");
      const argv = [node.path, "deliveries-fixture.cjs"];
      const run = await runTraced(argv);
      await sameAsUntraced(argv, run);
      expect(run.stdout).toStartWith("worker emit: true own false\ndispatch: function length 3\n");
      expect(run.stdout).toContain("worker exit 5 after 0,1,2 this true listeners 0\nprogram's exit event 9\nterminated 1\n");
      expectComplete(run, { code: 0, signal: null });
      // The worker's end, once each (the program's own emit("exit", 9) is no end).
      expect(ofKind(run.events, "thread_exited").map((e) => e.fields)).toEqual([
        { threadId: 1, code: 5 },
        { threadId: 2, code: 1 },
      ]);
      // Its three messages, drained by Node when it heard the end, received before it.
      const main = run.events.filter((e) => e.pid === topPid(run) && e.tid === 0);
      const fromWorker = main.filter((e) => e.kind === "message_receive" && e.fields.channel === "worker" && e.fields.channelSubId === 1);
      expect(fromWorker.map((e) => e.fields.ordinal)).toEqual([0, 1, 2]);
      const exited = main.findIndex((e) => e.kind === "thread_exited" && e.fields.threadId === 1);
      expect(main.indexOf(fromWorker[2]!)).toBeLessThan(exited);
      // Every send paired; the channel's receives: the two posted, and the program's emit(),
      // which Node's port dispatches as the runtime's deliveries (recorded as before).
      const p = pairing(run.events);
      expect({ sends: p.sends, unpairedSends: p.unpairedSends.length, receives: p.receives }).toEqual({ sends: 5, unpairedSends: 0, receives: 6 });
    },
  );

  eachNode(
    "%s: MessagePort.postMessage with no argument, one, two, three and a transfer list: its return values, errors and the program's frames as untraced, one wrapper frame on every path",
    async (node) => {
      // The send wrapper (src/agent/node/ports.ts) calls the original itself on every path, the
      // rare ones included (BENCHMARKS.md "A send's JavaScript on Node 24").
      const argv = [node.path, "post-errors-fixture.cjs"];
      const run = await runTraced(argv);
      const plain = await runUntraced(argv);
      expect(run.status).toBe(plain.status);
      const others = /\| others (\d+)$/;
      const traced = run.stdout.trimEnd().split("\n");
      const untraced = plain.stdout.trimEnd().split("\n");
      expect(traced.map((line) => line.replace(others, ""))).toEqual(untraced.map((line) => line.replace(others, "")));
      const added = traced.flatMap((line, i) => (others.test(line) ? [Number(others.exec(line)![1]) - Number(others.exec(untraced[i]!)![1])] : []));
      expect(added).toEqual([1, 1, 1, 1, 1, 1]);
      expect(traced.at(-1)).toBe("received id+seed,undefined,id,id,port");
      // Eleven sends counted, six of them refused by the runtime (each a failed mark), five received.
      const p = pairing(run.events);
      expect({ sends: p.sends, receives: p.receives, unpairedReceives: p.unpairedReceives.length }).toEqual({ sends: 17, receives: 5, unpairedReceives: 0 });
      expect(ofKind(run.events, "message_send").filter((e) => e.linkedTo.length === 1).length).toBe(5);
      // The decoder tells them apart: each refused send and its marker, none of them "not received".
      const sends = ofKind(run.events, "message_send");
      expect([sends.filter((e) => e.fields.refused === true).length, sends.filter((e) => e.fields.failed === true).length]).toEqual([6, 6]);
      const stats = await runCli(["dump", "--stats", run.out]);
      expect(stats.stdout).toContain("messages: 0 receives without a send, 0 sends not received");
      const text = (await runCli(["dump", run.out], { env: { NO_COLOR: "1" } })).stdout;
      expect(text.match(/\(refused by the runtime: not sent\)\n/g)?.length).toBe(6);
      expect(text.match(/send refused by the runtime \(it threw\)/g)?.length).toBe(6);
    },
  );

  test("fork with IPC both ways: 3 down, 4 up, child's exit code seen by both", async () => {
    const argv = ["node", "fork-ipc-fixture.cjs"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expectComplete(run, { code: 0, signal: null });
    const pid = topPid(run);
    const spawn = ofKind(run.events, "process_spawn")[0]!;
    const child = spawn.fields.childPid as number;
    expect(spawn.fields.method).toBe("fork");
    expect(ofKind(run.events, "trace_start", { pid: child })[0]!.fields.parentPid).toBe(pid);
    expect(ofKind(run.events, "process_exit", { pid: child })[0]!.fields).toMatchObject({ code: 4, reason: "normal" });
    expect(ofKind(run.events, "child_exit", { pid })[0]!.fields).toEqual({ childPid: child, code: 4, signal: null });
    expectAllPaired(run, 7);
    expect(new Set(ofKind(run.events, "message_send").map((e) => `${e.fields.channel}/${e.fields.channelOwnerPid}`))).toEqual(new Set([`ipc/${child}`]));
  });

  test("cluster: two workers, their messages paired, cluster's own messages not counted", async () => {
    const argv = ["node", "cluster-fixture.cjs"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expectComplete(run, { code: 0, signal: null });
    const spawns = ofKind(run.events, "process_spawn");
    expect(spawns.map((e) => e.fields.method)).toEqual(["cluster.fork", "cluster.fork"]);
    expect(ofKind(run.events, "child_exit", { pid: topPid(run) }).map((e) => e.fields.code)).toEqual([0, 0]);
    expectAllPaired(run, 4);
    expect(ofKind(run.events, "message_send").every((e) => e.fields.channel === "cluster")).toBe(true);
  });

  test("children that spawn grandchildren: parent links at every level", async () => {
    const argv = ["node", "tree-fixture.cjs"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expectComplete(run, { code: 0, signal: null });
    const starts = ofKind(run.events, "trace_start");
    expect(starts.length).toBe(4);
    const [top, depth1] = starts;
    expect(ofKind(run.events, "process_spawn", { pid: top!.pid }).map((e) => [e.fields.method, e.fields.childPid])).toEqual([["spawn", depth1!.pid]]);
    const grandchildren = starts.filter((e) => e.fields.parentPid === depth1!.pid);
    expect(grandchildren.length).toBe(2);
    // execFileSync returns only the output: its child's pid comes from the spawn under it,
    // the same pid as the grandchild's own trace_start, and its end (code 0) too.
    expect(ofKind(run.events, "process_spawn", { pid: depth1!.pid }).map((e) => [e.fields.method, e.fields.childPid])).toEqual([
      ["execFileSync", grandchildren[0]!.pid],
      ["spawn", grandchildren[1]!.pid],
    ]);
    expect(ofKind(run.events, "child_exit", { pid: depth1!.pid }).map((e) => [e.fields.childPid, e.fields.code])).toEqual([
      [grandchildren[0]!.pid, 0],
      [grandchildren[1]!.pid, 0],
    ]);
    expect(ofKind(run.events, "process_exit").length).toBe(4);
  });

  test.each([
    ["throw", 1, { code: 1, reason: "uncaught_exception", errorType: "TypeError", errorMessage: "boom" }],
    ["reject", 1, { code: 1, reason: "unhandled_rejection", errorType: "RangeError", errorMessage: "nope" }],
    ["exit3", 3, { code: 3, reason: "process.exit", errorType: null, errorMessage: null }],
  ])("crash %s: recorded by the process itself, behaviour unchanged", async (mode, status, expected) => {
    const run = await endedByItself("crash-fixture.cjs", mode, status, expected);
    if (mode === "throw") expect(run.stderr).toContain("TypeError: boom");
  });

  test.each([
    ["nested", 3, { code: 3, reason: "process.exit", errorType: null, errorMessage: null }],
    ["code", 5, { code: 5, reason: "normal", errorType: null, errorMessage: null }],
    ["throw", 1, { code: 1, reason: "uncaught_exception", errorType: "RangeError", errorMessage: "late" }],
  ])("ended inside an 'exit' listener (%s): process_exit with the final code, then trace_stop", async (mode, status, expected) => {
    await endedByItself("exit-listener-fixture.cjs", mode, status, expected);
  });

  test("a worker calling process.exit(4) in its own 'exit' listener: thread_exit 4 and trace_stop in the worker", async () => {
    const argv = ["node", "exit-listener-fixture.cjs", "worker"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expect(run.stdout).toBe("worker said hi\nworker exit 4\n");
    expectComplete(run, { code: 0, signal: null });
    const pid = topPid(run);
    expect(kinds(run.events, pid, 1)).toEqual(["trace_start", "message_send", "thread_exit", "trace_stop"]);
    expect(ofKind(run.events, "thread_exit")[0]!.fields).toMatchObject({ code: 4, reason: "process.exit" });
    expect(ofKind(run.events, "thread_exited")[0]!.fields).toEqual({ threadId: 1, code: 4 });
  });

  test.each([
    ["require", "worker: exec 3 sync", [["exec", 3], ["execFileSync", 0]]],
    ["esm", "worker: execSync esm spawn 7", [["execSync", 0], ["spawn", 7]]],
    ["import", "worker: execFile 4 spawnSync 5", [["execFile", 4], ["spawnSync", 5]]],
    ["builtin", "worker: spawnSync 6", [["spawnSync", 6]]],
    ["none", "worker: false", []],
  ])("a worker reaching node:child_process by %s: every child recorded with its method (hooked when reached)", async (way, said, children) => {
    const argv = ["node", "worker-children/main.cjs", way];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expect(run.stdout).toBe(`${said}\nworker exit 0\n`);
    expectComplete(run, { code: 0, signal: null });
    const pid = topPid(run);
    const spawns = ofKind(run.events, "process_spawn", { pid, tid: 1 });
    expect(spawns.map((e) => e.fields.method)).toEqual(children.map(([method]) => method));
    // Every child ends with its code, execSync's and execFileSync's too (their pid from the spawn under them).
    const exits = ofKind(run.events, "child_exit", { pid, tid: 1 });
    expect(exits.map((e) => e.fields.code)).toEqual(children.map(([, code]) => code));
    expect(exits.map((e) => e.fields.childPid)).toEqual(spawns.map((e) => e.fields.childPid));
    expect(spawns.every((e) => Number(e.fields.childPid) > 0)).toBe(true);
  });

  test("a worker reaching node:child_process by import() without the http group: recorded, diagnostics_channel.channel Node's own again after", async () => {
    const argv = ["node", "worker-children/main.cjs", "channel"];
    const run = await runTraced(argv, { scopeArgs: ["--events", "process,thread"] });
    await sameAsUntraced(argv, run);
    expect(run.stdout).toBe("worker: execFile 8 channel node's\nworker exit 0\n");
    expectComplete(run, { code: 0, signal: null });
    const pid = topPid(run);
    expect(ofKind(run.events, "process_spawn", { pid, tid: 1 }).map((e) => e.fields.method)).toEqual(["execFile"]);
    expect(ofKind(run.events, "child_exit", { pid, tid: 1 }).map((e) => e.fields.code)).toEqual([8]);
  });

  test("a forked child: its IPC channel is an ipc one, and node:cluster stays unloaded as untraced", async () => {
    const argv = ["node", "fork-builtins-fixture.cjs"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expect(run.stdout).toBe("cluster loaded in the child: false\n");
    expectComplete(run, { code: 0, signal: null });
    expectAllPaired(run, 1);
    expect(ofKind(run.events, "message_send").map((e) => e.fields.channel)).toEqual(["ipc"]);
  });

  test("SIGKILL of a child: the parent records the signal", async () => {
    const argv = ["node", "crash-fixture.cjs", "killchild"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expectComplete(run, { code: 0, signal: null });
    const child = ofKind(run.events, "process_spawn")[0]!.fields.childPid as number;
    expect(ofKind(run.events, "child_exit", { pid: topPid(run) })[0]!.fields).toEqual({ childPid: child, code: null, signal: 9 });
    // The killed child never records its own exit: the collector does, from its zombie or its
    // traced parent's child_exit.
    expect(kinds(run.events, child)).toEqual(["trace_start", "process_exit"]);
    expect(ofKind(run.events, "process_exit", { pid: child }).map((e) => [e.fields.signal, e.fields.recordedBy])).toEqual([[9, "collector"]]);
  });

  test("ESM: transferred MessageChannel port and BroadcastChannel, each receive paired with its send", async () => {
    const argv = ["node", "esm-fixture.mjs"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expectComplete(run, { code: 0, signal: null });
    expectAllPaired(run, 5);
    const channels = ofKind(run.events, "message_receive").map((e) => `${e.fields.channel}:${e.tid}`);
    expect(channels.sort()).toEqual(["broadcast:1", "broadcast:1", "port:0", "port:0", "port:1"]);
  });

  test("BroadcastChannel lock held forever by another thread: the program is never held up, the trace says its links may be off", async () => {
    const argv = ["node", "broadcast-stuck-fixture.cjs"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expect(run.status, run.stderr).toBe(0); // the fixture fails itself when 200 posts take over 1 s
    expect(run.stdout).toBe("received 200\n");
    expectAllPaired(run, 200);
    // Two joins and 200 sends went on without the lock, each counted; the first 16 have a message.
    expect(ofKind(run.events, "trace_stop").map((e) => e.fields)).toEqual([{ agentErrors: 202, unrecorded: 0 }]);
    expect(new Set(ofKind(run.events, "agent_error").map((e) => e.fields.message))).toEqual(new Set(["Error: broadcast lock busy: this send's link may be wrong"]));
    expect(ofKind(run.events, "agent_error").length).toBe(16);
    expect(run.end.dropped).toBe(0);
  });

  test("--import with a module.register() hook: the loader thread is not traced", async () => {
    const argv = ["node", "--import", "./import-hook-fixture.mjs", "plain-esm-fixture.mjs"];
    const run = await runTraced(argv);
    await sameAsUntraced(argv, run);
    expect(run.stdout).toBe("esm main thread=0\n");
    expectComplete(run, { code: 0, signal: null });
    expect(run.events.filter((e) => e.pid === topPid(run)).map((e) => [e.kind, e.tid])).toEqual([
      ["trace_start", 0],
      ["process_exit", 0],
      ["trace_stop", 0],
    ]);
  });

  test("--events process: only process events and the start/stop markers", async () => {
    const run = await runTraced(["node", "fork-ipc-fixture.cjs"], { scopeArgs: ["--events", "process"] });
    expectComplete(run, { code: 0, signal: null });
    expect(new Set(run.events.map((e) => e.kind))).toEqual(new Set(["trace_start", "process_spawn", "process_exit", "trace_stop", "child_exit"]));
  });
});

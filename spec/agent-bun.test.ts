/** The Bun agent (BUN_OPTIONS preload, worker preload) and the launch environment. */
import { afterAll, describe, expect, test } from "bun:test";
import { prepareLaunch } from "../src/agent/inject";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, fixtures, ofKind, pairing, runTraced, runUntraced, scratchDir } from "./agent-harness";

afterAll(cleanup);

const assets = { nodeAgent: "/opt/s cope/node.cjs", bunAgent: "/opt/scope/bun.mjs", addon: "/opt/scope/scope.node", libscope: "/opt/scope/libscope.so" };

describe("prepareLaunch", () => {
  test("keeps NODE_OPTIONS and BUN_OPTIONS after the preloads, quotes for Node", () => {
    const launch = prepareLaunch({ argv: ["npm", "run", "x"], env: { NODE_OPTIONS: "--max-old-space-size=64", KEEP: "1", GONE: undefined }, ringPath: "/dev/shm/r", assets, events: ["process", "message"] });
    expect(launch).toEqual({
      argv: ["npm", "run", "x"],
      env: {
        KEEP: "1",
        NODE_OPTIONS: '--require "/opt/s cope/node.cjs" --max-old-space-size=64',
        BUN_OPTIONS: "--preload=/opt/scope/bun.mjs",
        SCOPE_RING: "/dev/shm/r",
        SCOPE_ADDON: "/opt/scope/scope.node",
        SCOPE_LIBSCOPE: "/opt/scope/libscope.so",
        SCOPE_EVENTS: "process,message",
      },
    });
  });

  test("a Bun agent path with a space goes on the bun command line instead", () => {
    const launch = prepareLaunch({ argv: ["bun", "app.ts"], env: {}, ringPath: "/r", assets: { ...assets, bunAgent: "/a b/bun.mjs" } });
    expect(launch.argv).toEqual(["bun", "--preload=/a b/bun.mjs", "app.ts"]);
    expect(launch.env.BUN_OPTIONS).toBeUndefined();
  });
});

describe("bun agent", () => {
  // Bun 1.4.5's `bun run` took `--preload <path>` from BUN_OPTIONS as a flag without its value
  // and printed its usage, running nothing (auditbun): the file and the package.json script.
  test("bun run: a file and a package.json script run and are traced", async () => {
    const cwd = join(fixtures, "bun-run-fixture");
    for (const argv of [["bun", "run", "start"], ["bun", "run", "../bun-run-child.ts", "3"]]) {
      const run = await runTraced(argv, { cwd });
      const plain = await runUntraced(argv, { cwd });
      expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
      expect(run.stdout).toContain("bun-run child");
      const starts = ofKind(run.events, "trace_start").filter((e) => String(e.fields.argv).includes("bun-run-child.ts"));
      expect(starts.length).toBe(1);
    }
  });

  // The agent's loader wrappers return the original's call in tail position (shared/patches.ts
  // tailCall): before, a stack captured at a required module's top level held `require` frames
  // of bun.mjs, and Bun printed them under an uncaught error with a "missing sourcemaps" note.
  test("a required module's top level: its captured stack and its uncaught error as untraced", async () => {
    const argv = ["bun", join(fixtures, "bun-stacks/app.cjs")];
    const plain = await runUntraced(argv);
    const run = await runTraced(argv);
    expect(plain.status).toBe(1);
    expect(plain.stdout).toContain("thrower.cjs:2:");
    expect(plain.stderr).toContain("thrown at the top level");
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
  });

  // With any `Module._extensions[".js"]` replaced, Bun runs every CommonJS file through a
  // JavaScript path whose frames (`<anonymous> (native:1:11)`, `unknown`, `anonymous
  // (unknown)`) show in `error.stack`; the integrations' file hooks replaced it at default
  // settings. Now they hook `Module.prototype.require` (agent/bun/library-files.ts) and a
  // require they do not take is the original's call in tail position (helper bunframes).
  test("stacks at required files' top levels print as untraced (Bun's own .js loader step kept)", async () => {
    const dir = join(scratchDir(), `bun-load-stacks-${process.pid}`);
    cpSync(join(fixtures, "bun-stacks/load"), dir, { recursive: true });
    // A package whose files have names hooked files are required by, but are not hooked: resolved, then left alone.
    mkdirSync(join(dir, "node_modules/lib-a/lib"), { recursive: true });
    writeFileSync(join(dir, "node_modules/lib-a/package.json"), '{"name":"lib-a","main":"index.js"}');
    writeFileSync(join(dir, "node_modules/lib-a/index.js"), 'try { require("./lib/query"); } catch (e) { console.log(e.stack); }\nmodule.exports = require("./lib/client");\n');
    writeFileSync(join(dir, "node_modules/lib-a/lib/client.js"), 'module.exports = new Error("client").stack;\n');
    writeFileSync(join(dir, "package-user.js"), 'require("./main.js");\nconsole.log(require("lib-a"));\n');
    for (const argv of [["bun", "main.js"], ["bun", "package-user.js"]]) {
      const plain = await runUntraced(argv, { cwd: dir });
      const run = await runTraced(argv, { cwd: dir });
      expect(plain.stdout).toContain("boom at load");
      expect(plain.stdout).toContain("cap.js:1:");
      expect({ status: run.status, stdout: run.stdout }).toEqual({ status: plain.status, stdout: plain.stdout });
    }
  });

  // Bun's JavaScript path for a replaced `.js` step also took stack: a chain of requires (each
  // file requiring the next at its top level) overflowed traced at ~1 390 levels where untraced
  // reaches ~2 220 (and traced, now, ~2 170; helper bunframes).
  test("a deep chain of requires loads traced as untraced", async () => {
    const depth = 1800;
    const dir = join(scratchDir(), `bun-require-chain-${process.pid}`);
    mkdirSync(join(dir, "node_modules/chain"), { recursive: true });
    for (let i = 0; i < depth; i++) writeFileSync(join(dir, `node_modules/chain/f${i}.js`), i + 1 < depth ? `module.exports = require("./f${i + 1}.js") + 1;\n` : "module.exports = 0;\n");
    writeFileSync(join(dir, "main.js"), 'console.log(require("./node_modules/chain/f0.js"));\n');
    const plain = await runUntraced(["bun", "main.js"], { cwd: dir });
    const run = await runTraced(["bun", "main.js"], { cwd: dir });
    expect(plain.stdout).toBe(`${depth - 1}\n`);
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: plain.status, stdout: plain.stdout });
  });

  // Bun's test runner ends the process without 'exit', beforeExit or process.reallyExit: no
  // process_exit is recorded by it: scope run records one on its behalf, and the summary says so (auditbun).
  test("bun test: traced, its missing end said in the summary", async () => {
    const argv = ["bun", "test", "./bun-test-fixture.ts"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect(run.status).toBe(plain.status);
    expect(ofKind(run.events, "trace_start").length).toBe(1);
    // scope run records its ending from the status it reaped, marked as the collector's.
    expect(ofKind(run.events, "process_exit").map((e) => [e.fields.code, e.fields.recordedBy])).toEqual([[plain.status, "collector"]]);
    expect(run.summary).toContain("ends: 1 traced process, process_exit recorded 0 by the process itself; 1 by scope from the process's exit status");
    // A run whose processes all ended says nothing of it.
    const plainRun = await runTraced(["bun", "bun-run-child.ts", "0"]);
    expect(plainRun.summary).not.toContain("ends:");
  });

  test("main thread, worker (preloaded by the agent), Bun.spawn child, exit codes", async () => {
    const argv = ["bun", "bun-fixture.ts"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect({ dropped: run.end.dropped, overwritten: run.end.overwritten, errors: ofKind(run.events, "agent_error").length }).toEqual({ dropped: 0, overwritten: 0, errors: 0 });
    expect(run.stdout).toBe("worker doubled to 42\nchild exit 5\n");
    const starts = ofKind(run.events, "trace_start");
    const main = starts.find((e) => e.fields.mainThread === true && String(e.fields.argv).endsWith("bun-fixture.ts"))!;
    const spawn = ofKind(run.events, "process_spawn")[0]!;
    expect(spawn.fields as Record<string, unknown>).toEqual({ childPid: expect.any(Number), command: "bun -e process.exit(5)", method: "spawn" });
    expect(starts.map((e) => [e.pid === main.pid ? "main" : e.pid === spawn.fields.childPid ? "child" : "?", e.tid, e.fields.runtime]).sort()).toEqual([
      ["child", 0, "bun 1.4.5"],
      ["main", 0, "bun 1.4.5"],
      ["main", 1, "bun 1.4.5"],
    ]);
    expect(ofKind(run.events, "thread_spawn", { pid: main.pid }).map((e) => e.fields.threadId)).toEqual([1]);
    expect(ofKind(run.events, "thread_exited", { pid: main.pid }).map((e) => e.fields.threadId)).toEqual([1]);
    expect(ofKind(run.events, "child_exit", { pid: main.pid })[0]!.fields as Record<string, unknown>).toEqual({ childPid: spawn.fields.childPid, code: 5, signal: null });
    expect(ofKind(run.events, "process_exit").map((e) => [e.pid === main.pid ? "main" : "child", e.fields.code, e.fields.reason]).sort()).toEqual([
      ["child", 5, "process.exit"],
      ["main", 2, "normal"],
    ]);
  });
});

describe("bun agent: node:child_process and IPC", () => {
  test("Bun.spawn with the ipc option: both sides of Bun's own IPC recorded and paired", async () => {
    const argv = ["bun", "bun-spawn-ipc-fixture.ts"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout).toBe('got=["a",{"x":1},"bye"] code=0\n');
    expect({ dropped: run.end.dropped, errors: ofKind(run.events, "agent_error").length }).toEqual({ dropped: 0, errors: 0 });
    const main = ofKind(run.events, "trace_start")[0]!.pid;
    const child = ofKind(run.events, "process_spawn", { pid: main })[0]!.fields.childPid as number;
    const p = pairing(run.events);
    expect({ sends: p.sends, receives: p.receives, unpairedSends: p.unpairedSends.length, unpairedReceives: p.unpairedReceives.length }).toEqual({ sends: 6, receives: 6, unpairedSends: 0, unpairedReceives: 0 });
    expect(ofKind(run.events, "message_send", { pid: main }).map((e) => [e.fields.channel, e.fields.channelOwnerPid, e.fields.preview])).toEqual([
      ["ipc", child, '"a"'],
      ["ipc", child, '{"x":1}'],
      ["ipc", child, '"bye"'],
    ]);
    expect(ofKind(run.events, "message_receive", { pid: main }).length).toBe(3);
  });

  test("fork with IPC both ways, spawnSync, execSync: each child recorded once, with its method", async () => {
    const argv = ["bun", "bun-ipc-fixture.ts"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout).toBe("answers=2 code=6 signal=null sync=0 exec=hi\n");
    expect({ dropped: run.end.dropped, errors: ofKind(run.events, "agent_error").length }).toEqual({ dropped: 0, errors: 0 });
    const main = ofKind(run.events, "trace_start")[0]!.pid;
    const spawns = ofKind(run.events, "process_spawn", { pid: main });
    expect(spawns.map((e) => e.fields.method)).toEqual(["fork", "spawnSync", "execSync"]);
    const child = spawns[0]!.fields.childPid as number;
    expect(ofKind(run.events, "trace_start", { pid: child })[0]!.fields.parentPid).toBe(main);
    expect(ofKind(run.events, "process_exit", { pid: child })[0]!.fields).toMatchObject({ code: 6, reason: "normal" });
    // execSync's child too: its pid from the Bun.spawnSync under it.
    expect(Number(spawns[2]!.fields.childPid)).toBeGreaterThan(0);
    expect(ofKind(run.events, "child_exit", { pid: main }).map((e) => [e.fields.childPid, e.fields.code])).toEqual([
      [child, 6],
      [spawns[1]!.fields.childPid, 0],
      [spawns[2]!.fields.childPid, 0],
    ]);
    // Child → parent: 3 messages, each paired.
    const up = ofKind(run.events, "message_send", { pid: child });
    expect(up.map((e) => [e.fields.channel, e.fields.channelOwnerPid, e.linkedTo.length])).toEqual([
      ["ipc", child, 1],
      ["ipc", child, 1],
      ["ipc", child, 1],
    ]);
    // Parent → child: Bun delivers these natively to the child's own process 'message'
    // listeners, which the agent wraps (src/agent/bun/messages.ts): each paired.
    const down = ofKind(run.events, "message_send", { pid: main });
    expect(down.map((e) => [e.fields.ordinal, e.fields.preview, e.linkedTo.length])).toEqual([
      [0, '{"question":0,"secret":"[redacted]"}', 1],
      [1, '{"question":1,"secret":"[redacted]"}', 1],
    ]);
    expect(ofKind(run.events, "message_receive", { pid: child }).map((e) => [e.fields.channel, e.fields.direction, e.fields.ordinal])).toEqual([
      ["ipc", 0, 0],
      ["ipc", 0, 1],
    ]);
    expectAllPaired(run, 5);
  });
});

function expectAllPaired(run: Awaited<ReturnType<typeof runTraced>>, count: number): void {
  const p = pairing(run.events);
  expect([p.sends, p.receives, p.unpairedSends.length, p.unpairedReceives.length, p.multiply.length]).toEqual([count, count, 0, 0, 0]);
  expect({ dropped: run.end.dropped, errors: ofKind(run.events, "agent_error").length }).toEqual({ dropped: 0, errors: 0 });
  for (const stop of ofKind(run.events, "trace_stop")) expect(stop.fields).toEqual({ agentErrors: 0, unrecorded: 0 });
}

describe("bun agent: messages", () => {
  test("Web Worker both ways: onmessage, addEventListener, parentPort.once, global and parentPort postMessage; synthetic events not counted", async () => {
    const argv = ["bun", "bun-worker-messages-fixture.ts"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout).toBe(
      'worker handled 3, listener 3\nparent got "synthetic" {"first":1} "echo:{\\"n\\":1,\\"token\\":\\"s3cr3t\\"}" "echo:\\"two\\"" "echo:[3]" (5 events)\n',
    );
    expectAllPaired(run, 7);
    const main = ofKind(run.events, "trace_start", { tid: 0 })[0]!.pid;
    const key = (e: (typeof run.events)[0]) => [e.tid, e.fields.channel, e.fields.channelOwnerPid, e.fields.channelSubId, e.fields.direction, e.fields.ordinal];
    expect(ofKind(run.events, "message_send").map(key)).toEqual([
      [0, "worker", main, 1, 0, 0],
      [0, "worker", main, 1, 0, 1],
      [0, "worker", main, 1, 0, 2],
      [1, "worker", main, 1, 1, 0],
      [1, "worker", main, 1, 1, 1],
      [1, "worker", main, 1, 1, 2],
      [1, "worker", main, 1, 1, 3],
    ]);
    expect(ofKind(run.events, "message_receive", { tid: 1 }).map((e) => e.fields.preview)).toEqual(['{"n":1,"token":"[redacted]"}', '"two"', "[3]"]);
    expect(ofKind(run.events, "message_receive", { tid: 0 }).map((e) => e.fields.preview)).toEqual([
      '{"first":1}',
      expect.stringMatching(/^"echo:/),
      '"echo:\\"two\\""',
      '"echo:[3]"',
    ]);
    expect(ofKind(run.events, "thread_exited").map((e) => e.fields.threadId)).toEqual([1]);
  });

  test("child IPC receives through its own listeners: equal primitives, on/prependListener/once, off by the original, process.emit not counted", async () => {
    const argv = ["bun", "bun-ipc-listeners-fixture.ts"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout).toBe(
      'child: {"total":5,"identity":true,"self":true,"left":1,"log":"a:\\"synthetic\\" a:\\"p\\" once:\\"p\\" a:\\"p\\" a:\\"p\\""}\nchild exit 0\n',
    );
    expectAllPaired(run, 6);
    const main = ofKind(run.events, "trace_start")[0]!.pid;
    const child = ofKind(run.events, "process_spawn", { pid: main })[0]!.fields.childPid as number;
    expect(ofKind(run.events, "message_receive", { pid: child }).map((e) => [e.fields.channelOwnerPid, e.fields.direction, e.fields.ordinal, e.fields.preview])).toEqual([
      [child, 0, 0, '"p"'],
      [child, 0, 1, '"p"'],
      [child, 0, 2, '"p"'],
      [child, 0, 3, "7"],
      [child, 0, 4, '{"k":1}'],
    ]);
  });
});

describe("bun agent: node:worker_threads", () => {
  test("Worker with workerData (agent preloaded through its options): spawn, start, exit, messages both ways paired; the program's own emit not counted", async () => {
    const argv = ["bun", "bun-worker-threads-fixture.ts"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout).toBe(
      'parent: thread -1 exit 0; got "synthetic" {"hello":1,"base":40,"main":false} {"echo":1,"sum":41} {"echo":{"n":2},"sum":42} {"echo":"three","sum":43}\n',
    );
    expect(run.status).toBe(3);
    expectAllPaired(run, 7);
    const main = ofKind(run.events, "trace_start", { tid: 0 })[0]!;
    const pid = main.pid;
    expect(ofKind(run.events, "trace_start").map((e) => [e.pid, e.tid, e.fields.mainThread, e.fields.parentPid])).toEqual([
      [pid, 0, true, expect.any(Number)],
      [pid, 1, false, pid],
    ]);
    expect(ofKind(run.events, "thread_spawn").map((e) => [e.pid, e.tid, e.fields.threadId, e.fields.entry])).toEqual([[pid, 0, 1, join(fixtures, "bun-worker-threads-fixture.ts")]]);
    expect(ofKind(run.events, "thread_exit").map((e) => [e.pid, e.tid, e.fields.code, e.fields.reason])).toEqual([[pid, 1, 0, "normal"]]);
    expect(ofKind(run.events, "thread_exited").map((e) => [e.pid, e.tid, e.fields.threadId, e.fields.code])).toEqual([[pid, 0, 1, 0]]);
    expect(ofKind(run.events, "process_exit").map((e) => [e.pid, e.fields.code, e.fields.reason])).toEqual([[pid, 3, "normal"]]);
    const key = (e: (typeof run.events)[0]) => [e.tid, e.fields.channel, e.fields.channelOwnerPid, e.fields.channelSubId, e.fields.direction, e.fields.ordinal, e.fields.preview];
    expect(ofKind(run.events, "message_send").map(key).sort()).toEqual([
      [0, "worker", pid, 1, 0, 0, "1"],
      [0, "worker", pid, 1, 0, 1, '{"n":2}'],
      [0, "worker", pid, 1, 0, 2, '"three"'],
      [1, "worker", pid, 1, 1, 0, '{"hello":1,"base":40,"main":false}'],
      [1, "worker", pid, 1, 1, 1, '{"echo":1,"sum":41}'],
      [1, "worker", pid, 1, 1, 2, '{"echo":{"n":2},"sum":42}'],
      [1, "worker", pid, 1, 1, 3, '{"echo":"three","sum":43}'],
    ]);
    expect(ofKind(run.events, "message_receive", { tid: 0 }).map((e) => e.fields.ordinal)).toEqual([0, 1, 2, 3]);
    expect(ofKind(run.events, "message_receive", { tid: 1 }).map((e) => e.fields.ordinal)).toEqual([0, 1, 2]);
  });
});

describe("bun agent: node:worker_threads, what the program sees", () => {
  test("class identity, the worker's own view, the 'error' event and its stack, eval workers: as untraced", async () => {
    const argv = ["bun", "bun-worker-threads-observe-fixture.ts"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout).toBe(
      [
        "constructor true instanceof true name Worker length 1",
        'message {"threadId":1,"isMainThread":false,"workerData":[1,"two"],"argv":["extra"],"env":"yes","requireMain":false,"file":true,"url":true}',
        "error TypeError worker failed at <anonymous> (" + join(fixtures, "bun-worker-threads-observe-fixture.ts") + ":35:17)",
        "exit 1",
        'eval [2,false,"object"]',
        "",
      ].join("\n"),
    );
    const pid = ofKind(run.events, "trace_start", { tid: 0 })[0]!.pid;
    expect(ofKind(run.events, "thread_spawn").map((e) => [e.fields.threadId, e.fields.entry])).toEqual([
      [1, join(fixtures, "bun-worker-threads-observe-fixture.ts")],
      [2, "[eval]"],
    ]);
    expect(ofKind(run.events, "thread_exit").map((e) => [e.pid, e.tid, e.fields.code, e.fields.reason, e.fields.errorType, e.fields.errorMessage])).toEqual([
      [pid, 1, 1, "uncaught_exception", "TypeError", "worker failed"],
      [pid, 2, 0, "normal", null, null],
    ]);
    expect(ofKind(run.events, "thread_exited").map((e) => [e.fields.threadId, e.fields.code])).toEqual([
      [1, 1],
      [2, 0],
    ]);
    // The worker's message, the parent's "throw", the eval worker's message.
    expectAllPaired(run, 3);
  });
});

describe("bun agent: MessageChannel ports and BroadcastChannel", () => {
  test("ports in one thread (queued, receiveMessageOnPort, onmessage, addEventListener), a port transferred to a worker, BroadcastChannel: exact keys, each send paired", async () => {
    const argv = ["bun", "bun-ports-fixture.ts"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout).toBe(
      ['polled {"message":{"first":1}}', 'port2 "polled"', 'port1 "reply"', 'b "from a"', 'a "from b"', 'late "from b"', 'parent port "ack queued before transfer"', "worker exit 0", ""].join("\n"),
    );
    const pid = ofKind(run.events, "trace_start", { tid: 0 })[0]!.pid;
    const key = (e: (typeof run.events)[0]) => [e.tid, e.fields.channel, e.fields.channelOwnerPid, e.fields.direction, e.fields.ordinal, e.fields.preview, e.linkedTo.length];
    expect(ofKind(run.events, "message_send").map(key)).toEqual([
      [0, "port", pid, 0, 0, '{"first":1}', 1],
      [0, "port", pid, 0, 1, '"polled"', 1],
      [0, "port", pid, 1, 0, '"reply"', 1],
      [0, "broadcast", pid, 0, 1, '"from a"', 1],
      [0, "broadcast", pid, 0, 2, '"from b"', 2],
      [0, "port", pid, 0, 0, '"queued before transfer"', 1],
      [0, "worker", pid, 0, 0, '{"port":{}}', 1],
      [1, "port", pid, 1, 0, '"ack queued before transfer"', 1],
    ]);
    expect(ofKind(run.events, "message_receive").map(key)).toEqual([
      [0, "port", pid, 0, 0, '{"first":1}', 1],
      [0, "port", pid, 0, 1, '"polled"', 1],
      [0, "port", pid, 1, 0, '"reply"', 1],
      [0, "broadcast", pid, 0, 1, '"from a"', 1],
      [0, "broadcast", pid, 0, 2, '"from b"', 1],
      [0, "broadcast", pid, 0, 2, '"from b"', 1],
      [1, "worker", pid, 0, 0, '{"port":{}}', 1],
      [1, "port", pid, 0, 0, '"queued before transfer"', 1],
      [0, "port", pid, 1, 0, '"ack queued before transfer"', 1],
    ]);
    // The transferred port keeps its channel: the worker's receive and send carry the
    // sub-id of the MessageChannel made in the main thread.
    const portSubIds = ofKind(run.events, "message_send").filter((e) => e.fields.channel === "port").map((e) => e.fields.channelSubId);
    expect(portSubIds[3]).toBe(portSubIds[4]);
    expect(portSubIds[0]).not.toBe(portSubIds[3]);
    const p = pairing(run.events);
    expect([p.sends, p.receives, p.unpairedSends.length, p.unpairedReceives.length, p.multiply.length]).toEqual([8, 9, 0, 0, 0]);
    expect({ dropped: run.end.dropped, errors: ofKind(run.events, "agent_error").length }).toEqual({ dropped: 0, errors: 0 });
    for (const stop of ofKind(run.events, "trace_stop")) expect(stop.fields).toEqual({ agentErrors: 0, unrecorded: 0 });
  });
});

describe("bun agent: endings inside an 'exit' listener", () => {
  const mainKinds = (run: Awaited<ReturnType<typeof runTraced>>, pid: number, tid = 0) => run.events.filter((e) => e.pid === pid && e.tid === tid).map((e) => e.kind);

  test.each([
    ["nested", 3, { code: 3, reason: "process.exit", errorType: null, errorMessage: null }],
    ["code", 5, { code: 5, reason: "normal", errorType: null, errorMessage: null }],
    ["throw", 1, { code: 1, reason: "uncaught_exception", errorType: "RangeError", errorMessage: "late" }],
  ])("%s: process_exit with the final code, then trace_stop; output and status unchanged", async (mode, status, expected) => {
    const argv = ["bun", "exit-listener-fixture.cjs", mode];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status });
    const pid = ofKind(run.events, "trace_start")[0]!.pid;
    expect(mainKinds(run, pid)).toEqual(["trace_start", "process_exit", "trace_stop"]);
    expect(ofKind(run.events, "process_exit")[0]!.fields).toEqual({ signal: null, ...expected });
    expect(ofKind(run.events, "trace_stop")[0]!.fields).toEqual({ agentErrors: 0, unrecorded: 0 });
  });

  test("a worker calling process.exit(4) in its own 'exit' listener: thread_exit 4 and trace_stop in the worker", async () => {
    const argv = ["bun", "exit-listener-fixture.cjs", "worker"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: 0 });
    expect(run.stdout).toBe("worker said hi\nworker exit 4\n");
    const pid = ofKind(run.events, "trace_start")[0]!.pid;
    expect(mainKinds(run, pid, 1)).toEqual(["trace_start", "message_send", "thread_exit", "trace_stop"]);
    expect(ofKind(run.events, "thread_exit")[0]!.fields).toMatchObject({ code: 4, reason: "process.exit" });
    expect(ofKind(run.events, "thread_exited")[0]!.fields).toEqual({ threadId: 1, code: 4 });
    expect(ofKind(run.events, "process_exit").map((e) => [e.pid, e.fields.code])).toEqual([[pid, 0]]);
  });
});

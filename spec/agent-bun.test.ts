/** The Bun agent (BUN_OPTIONS preload, worker preload) and the launch environment. */
import { afterAll, describe, expect, test } from "bun:test";
import { prepareLaunch } from "../src/agent/inject";
import { cleanup, ofKind, runTraced, runUntraced } from "./agent-harness";

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
        BUN_OPTIONS: "--preload /opt/scope/bun.mjs",
        SCOPE_RING: "/dev/shm/r",
        SCOPE_ADDON: "/opt/scope/scope.node",
        SCOPE_LIBSCOPE: "/opt/scope/libscope.so",
        SCOPE_EVENTS: "process,message",
      },
    });
  });

  test("a Bun agent path with a space goes on the bun command line instead", () => {
    const launch = prepareLaunch({ argv: ["bun", "app.ts"], env: {}, ringPath: "/r", assets: { ...assets, bunAgent: "/a b/bun.mjs" } });
    expect(launch.argv).toEqual(["bun", "--preload", "/a b/bun.mjs", "app.ts"]);
    expect(launch.env.BUN_OPTIONS).toBeUndefined();
  });
});

describe("bun agent", () => {
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
    expect(ofKind(run.events, "child_exit", { pid: main }).map((e) => [e.fields.childPid, e.fields.code])).toEqual([
      [child, 6],
      [spawns[1]!.fields.childPid, 0],
    ]);
    // Child → parent: 3 messages, each paired.
    const up = ofKind(run.events, "message_send", { pid: child });
    expect(up.map((e) => [e.fields.channel, e.fields.channelOwnerPid, e.linkedTo.length])).toEqual([
      ["ipc", child, 1],
      ["ipc", child, 1],
      ["ipc", child, 1],
    ]);
    // Parent → child: both sends recorded; Bun 1.4.5 delivers IPC messages to `process`
    // through an internal emit that neither process.emit nor its prototype's sees, so the
    // child's receives are not recorded yet (a known gap: the sends stay unlinked).
    const down = ofKind(run.events, "message_send", { pid: main });
    expect(down.map((e) => [e.fields.ordinal, e.linkedTo.length])).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(ofKind(run.events, "message_receive", { pid: child })).toEqual([]);
  });
});

/**
 * `scope attach` to a service whose channels were made before the attach: a Worker and a
 * forked child running at the attach. The main thread's end of each is recorded from the
 * attach on (its sends, its receives, a worker's first message before any send of the
 * program's included); the other ends are not traced, so those records stay unpaired. After
 * the detach the child's `send` and every prototype are the program's own again.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { backgroundAttach, haveNode22, killStarted, node22, startNode, waitFor } from "./attach-harness";
import { readEvents, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-attach-before-test-");
afterEach(killStarted);

function service(dir: string): string {
  writeFileSync(join(dir, "child.cjs"), `process.on("message", (message) => process.send({ echo: message }));\n`);
  writeFileSync(
    join(dir, "server.cjs"),
    `const http = require("node:http");
const { Worker } = require("node:worker_threads");
const { fork } = require("node:child_process");
// Echoes what the main thread sends.
const echo = new Worker('require("node:worker_threads").parentPort.on("message", (n) => require("node:worker_threads").parentPort.postMessage(n * 2))', { eval: true });
// Sends on its own when the main thread bumps a shared counter: its messages come before any send of the program's.
const shared = new Int32Array(new SharedArrayBuffer(4));
const ticker = new Worker('const { parentPort, workerData } = require("node:worker_threads"); let seen = 0; setInterval(() => { const now = Atomics.load(workerData, 0); if (now !== seen) { seen = now; parentPort.postMessage("tick" + now); } }, 5);', { eval: true, workerData: shared });
const child = fork(__dirname + "/child.cjs", { stdio: ["ignore", "inherit", "inherit", "ipc"] });
const send = child.send;
const server = http.createServer((req, res) => {
  if (req.url === "/hooks") {
    return res.end(JSON.stringify({ childPid: child.pid, send: child.send === send, childEmit: Object.hasOwn(child, "emit"), workerEmit: Object.hasOwn(Worker.prototype, "emit") }));
  }
  if (req.url === "/fork") {
    // A child forked while attached, asked once, then let go.
    const late = fork(__dirname + "/child.cjs", { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    late.once("message", (reply) => {
      late.once("exit", () => res.end(JSON.stringify({ reply, latePid: late.pid, spawnOwn: Object.hasOwn(late, "spawn"), lateEmit: Object.hasOwn(late, "emit") })));
      late.disconnect();
    });
    // Sent at once, as fork() returns.
    late.send({ late: true });
    return;
  }
  if (req.url === "/tick") {
    ticker.once("message", (tick) => res.end(JSON.stringify({ tick })));
    Atomics.add(shared, 0, 1);
    return;
  }
  const n = Number(req.url.slice(1));
  echo.once("message", (doubled) => {
    child.once("message", (reply) => res.end(JSON.stringify({ doubled, reply })));
    child.send({ n });
  });
  echo.postMessage(n);
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`,
  );
  return join(dir, "server.cjs");
}

describe("channels made before the attach", () => {
  const nodes: [string, string | undefined][] = [["node", undefined], ...(haveNode22 ? [["Node 22", node22] as [string, string]] : [])];
  test.each(nodes)("%s: a worker and a forked child running at the attach: the main thread's sends and receives on them are recorded, unpaired; the program's own hooks after the detach", async (_name, node) => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const { child, line } = await startNode([service(dir)], { cwd: dir, node });
    const get = async (path: string) => JSON.parse(await (await fetch(`http://127.0.0.1:${line.trim()}${path}`)).text());
    expect(await get("/3")).toEqual({ doubled: 6, reply: { echo: { n: 3 } } });
    expect(await get("/tick")).toEqual({ tick: "tick1" });
    const hooksBefore = await get("/hooks");
    expect(hooksBefore).toMatchObject({ send: true, childEmit: false, workerEmit: false });

    const attach = backgroundAttach([String(child.pid), "--out", out]);
    await waitFor(attach.stderr, /scope: attached to pid \d+/);
    expect(await get("/tick")).toEqual({ tick: "tick2" });
    expect(await get("/4")).toEqual({ doubled: 8, reply: { echo: { n: 4 } } });
    expect(await get("/tick")).toEqual({ tick: "tick3" });
    const forked = await get("/fork");
    expect(forked).toMatchObject({ reply: { echo: { late: true } }, spawnOwn: false, lateEmit: true });
    expect(await get("/hooks")).toMatchObject({ send: false, childEmit: true, workerEmit: true });
    expect((await runCli(["detach", String(child.pid)])).exitCode).toBe(0);
    expect(await attach.ended()).toBe(0);
    expect(await get("/hooks")).toEqual(hooksBefore);
    expect(await get("/5")).toEqual({ doubled: 10, reply: { echo: { n: 5 } } });

    const events = readEvents(out).filter((event) => event.kind === "message_send" || event.kind === "message_receive");
    const key = (event: (typeof events)[number]) => [event.tid, event.kind, event.fields.channel, event.fields.direction, event.fields.ordinal, event.fields.preview ?? null];
    const childPid = hooksBefore.childPid as number;
    expect(events.map(key)).toEqual([
      [0, "message_receive", "worker", 1, 0, null],
      [0, "message_send", "worker", 0, 0, "4"],
      [0, "message_receive", "worker", 1, 0, null],
      [0, "message_send", "ipc", 0, 0, '{"n":4}'],
      [0, "message_receive", "ipc", 1, 0, null],
      [0, "message_receive", "worker", 1, 1, null],
      // The child forked while attached, from its start.
      [0, "message_send", "ipc", 0, 0, '{"late":true}'],
      [0, "message_receive", "ipc", 1, 0, null],
    ]);
    expect(events.filter((event) => event.fields.channel === "ipc").map((event) => event.fields.channelOwnerPid)).toEqual([childPid, childPid, forked.latePid, forked.latePid]);
    // The two workers' channels are told apart by thread id (the ticker's two ticks on one), each counted from the attach.
    expect(events.filter((event) => event.fields.channel === "worker").map((event) => event.fields.channelSubId)).toEqual([2, 1, 1, 2]);
    // The dump says they are unpaired: their other ends are not in the trace.
    const dumped = await runCli(["dump", out], { env: { NO_COLOR: "1" } });
    const messageLines = dumped.stdout.split("\n").filter((text) => /message_(send|receive)/.test(text));
    expect(messageLines.map((text) => text.match(/\((no send|not received)\)$/)?.[1])).toEqual(["no send", "not received", "no send", "not received", "no send", "no send", "not received", "no send"]);
    child.kill();
  });
});

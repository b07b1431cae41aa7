/**
 * `scope attach` and worker threads started while attached (src/attach/agent-workers.ts):
 * on Node 22 each gets the attach agent before its own code (the NodeWorker domain of an
 * in-process inspector session), so what it does is in the trace as its own thread; many
 * workers started back to back, some terminated at once, through the attach and the detach
 * leave the program running (Node 20 aborted or stalled here: there it stays off, and the
 * CLI says so in one line).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { alive, attachToChurn, backgroundAttach, haveNode22, killStarted, node22, startNode, waitFor } from "./attach-harness";
import { readEvents, runCli } from "./harness";
import { scratchDirs } from "./scratch";

const tmp = scratchDirs("scope-attach-workers-");
afterEach(killStarted);

/** GET /<n> starts a worker that doubles n and answers; GET /hooks: whether scope's global is in the main thread. */
function workerService(dir: string): string {
  writeFileSync(
    join(dir, "worker.cjs"),
    `const { parentPort, workerData } = require("node:worker_threads");
parentPort.once("message", (n) => parentPort.postMessage({ doubled: n * 2, data: workerData, traced: "__scope$attach" in globalThis }));
`,
  );
  writeFileSync(
    join(dir, "main.cjs"),
    `const http = require("node:http");
const { Worker } = require("node:worker_threads");
const terminate = Object.getOwnPropertyDescriptor(Worker.prototype, "terminate");
const server = http.createServer((req, res) => {
  if (req.url === "/hooks") {
    const now = Object.getOwnPropertyDescriptor(Worker.prototype, "terminate");
    const terminateSame = ["value", "writable", "enumerable", "configurable"].every((key) => now[key] === terminate[key]);
    return res.end(JSON.stringify({ hook: "__scope$attach" in globalThis, workerListeners: process.listenerCount("worker"), terminateSame }));
  }
  const n = Number(req.url.slice(1));
  const worker = new Worker(__dirname + "/worker.cjs", { workerData: "w" + n });
  worker.postMessage(n);
  worker.once("message", (reply) => res.end(JSON.stringify(reply)));
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`,
  );
  return join(dir, "main.cjs");
}

describe("workers started while attached", () => {
  test.if(haveNode22)("Node 22: a worker started while attached is traced inside (its own thread, its messages paired with the parent's); untraced again after the detach", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const { child, line } = await startNode(["--inspect-port=0", workerService(dir)], { node: node22, cwd: dir });
    const get = async (path: string) => JSON.parse(await (await fetch(`http://127.0.0.1:${line.trim()}${path}`)).text());
    expect(await get("/3")).toEqual({ doubled: 6, data: "w3", traced: false });
    const hooksBefore = await get("/hooks");
    expect(hooksBefore).toEqual({ hook: false, workerListeners: 0, terminateSame: true });

    const attach = backgroundAttach([String(child.pid), "--out", out]);
    await waitFor(attach.stderr, /scope: attached to pid \d+/);
    expect(attach.stderr()).not.toContain("not traced inside");
    // The worker's own agent was loaded before its code: its global is there for its first line.
    expect(await get("/4")).toEqual({ doubled: 8, data: "w4", traced: true });
    // While attached: terminate() is scope's (it notes workers being ended: agent-workers.ts).
    expect(await get("/hooks")).toMatchObject({ hook: true, terminateSame: false });

    expect((await runCli(["detach", String(child.pid)])).exitCode).toBe(0);
    expect(await attach.ended()).toBe(0);
    expect(await get("/hooks")).toEqual(hooksBefore);
    expect(await get("/5")).toEqual({ doubled: 10, data: "w5", traced: false });

    const events = readEvents(out);
    expect(events.filter((event) => event.kind === "agent_error")).toEqual([]);
    const workerTid = events.find((event) => event.kind === "thread_spawn")!.fields.threadId as number;
    expect(workerTid).toBeGreaterThan(0);
    const inWorker = events.filter((event) => event.tid === workerTid);
    expect(inWorker[0]!.kind).toBe("trace_start");
    expect(inWorker.map((event) => event.kind)).toContain("attach_start");
    // Both sides of the worker's channel: the parent's send is received in the worker, and the worker's reply in the parent.
    const key = (event: (typeof events)[number]) => [event.tid, event.fields.channel, event.fields.direction, event.fields.ordinal];
    expect(events.filter((event) => event.kind === "message_send").map(key)).toEqual([
      [0, "worker", 0, 0],
      [workerTid, "worker", 1, 0],
    ]);
    expect(events.filter((event) => event.kind === "message_receive").map(key)).toEqual([
      [workerTid, "worker", 0, 0],
      [0, "worker", 1, 0],
    ]);
  });

  test.if(haveNode22)("Node 22: workers started back to back, some terminated at once, while attached and through the detach: traced, and the process lives on", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const { child, outcome } = await attachToChurn(dir, out, node22);
    expect(outcome).toMatchObject({ code: 0, attach: expect.stringContaining("detached: --duration elapsed"), program: { alive: true } });
    const count = () => Number(readFileSync(join(dir, "count"), "utf8"));
    const atDetach = count();
    await waitFor(() => String(count() - atDetach >= 10), /true/);
    expect(alive(child.pid)).toBe(true);
    const events = readEvents(out);
    const spawned = events.filter((event) => event.kind === "thread_spawn").map((event) => event.fields.threadId);
    expect(spawned.length).toBeGreaterThan(2);
    // Workers traced inside: their own trace_start records. Each is one started while attached
    // (its thread_spawn) or one running at the attach (listed: attach_worker, traced).
    const listed = events.filter((event) => event.kind === "attach_worker" && event.fields.traced).map((event) => event.fields.threadId);
    const tracedThreads = new Set(events.filter((event) => event.kind === "trace_start" && event.tid !== 0).map((event) => event.tid));
    expect(tracedThreads.size).toBeGreaterThan(0);
    for (const tid of tracedThreads) expect([...spawned, ...listed]).toContain(tid);
    // Never both: a worker listed at the attach is not counted as started while attached.
    expect(listed.filter((tid) => spawned.includes(tid))).toEqual([]);
  });

  test.if(Bun.spawnSync(["node", "--version"]).stdout.toString().startsWith("v20."))("Node 20: one line says that workers started while attached are not traced inside", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const { child } = await startNode(["--inspect-port=0", workerService(dir)], { node: "node", cwd: dir });
    const attach = backgroundAttach([String(child.pid), "--out", out, "--duration", "1s"]);
    expect(await attach.ended()).toBe(0);
    const lines = attach.stderr().split("\n").filter((text) => text.includes("not traced inside"));
    const version = Bun.spawnSync(["node", "--version"]).stdout.toString().trim().slice(1);
    expect(lines).toEqual([`scope: workers started while attached are not traced inside on Node.js ${version} (their start, end and messages are); Node.js 22 and newer trace them`]);
  });
});

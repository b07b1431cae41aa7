/**
 * The Node agent's preview walk is a chunk of its own (node-walk.cjs, src/agent/node/walk-load.ts),
 * loaded by a thread at its first preview (a message's send, a fatal error's message), not at
 * its start: a program whose threads send nothing never loads it, the first thread that
 * loads it writes its code cache, a worker's sends and fatal error carry the same previews
 * as before, and a walk that cannot be loaded costs the program nothing but the previews
 * (one agent error in each thread that tried).
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { WORKER_PROGRAM_START, cleanup, ofKind, runTraced, scratchDir } from "./agent-harness";

afterAll(cleanup);

/** A program that lists the walk's files in the agent's directory after its worker ended; the worker runs `body` (`at`: the directory). */
function program(name: string, main: string, body: string): string {
  const file = join(scratchDir(), name);
  writeFileSync(
    file,
    `${WORKER_PROGRAM_START}
if (isMainThread) {
  const worker = new Worker(__filename);
  worker.on("message", (m) => console.log("worker said", JSON.stringify(m)));
  worker.on("error", (e) => console.log("worker failed", e.message));
  worker.on("exit", (code) => console.log("exit", code, JSON.stringify(fs.readdirSync(at).filter((f) => f.startsWith("node-walk")).sort())));
  ${main}
} else {
${body}
}
`,
  );
  return file;
}

test("threads that send nothing never load the walk; the first thread that sends loads it and writes its code cache; the previews are the same", async () => {
  const quiet = await runTraced(["node", program("quiet.cjs", "", `setTimeout(() => {}, 10);`)]);
  expect(quiet.status, quiet.stderr).toBe(0);
  expect(quiet.stdout).toBe('exit 0 ["node-walk.cjs"]\n');
  expect(ofKind(quiet.events, "thread_exit").length).toBe(1);
  expect(ofKind(quiet.events, "agent_error")).toEqual([]);

  // Only the worker sends: it loads the walk (the main thread never does).
  const busy = await runTraced(["node", program("busy.cjs", "", `parentPort.postMessage({ n: 1, password: "x", list: [1, "two"] });`)]);
  expect(busy.status, busy.stderr).toBe(0);
  const [said, exit] = busy.stdout.trim().split("\n");
  expect(said).toBe('worker said {"n":1,"password":"x","list":[1,"two"]}');
  const listed = JSON.parse(exit!.slice("exit 0 ".length)) as string[];
  expect(listed.length).toBe(2);
  expect(listed[0]).toBe("node-walk.cjs");
  expect(listed[1]).toMatch(/^node-walk\.cjs\..+\.v8cache$/);
  const [send] = ofKind(busy.events, "message_send");
  expect(send!.tid).toBeGreaterThan(0);
  expect(send!.fields.preview).toBe('{"n":1,"password":"[redacted]","list":[1,"two"]}');
  expect(send!.fields.sizeBytes).toBeGreaterThan(0);
  expect(ofKind(busy.events, "agent_error")).toEqual([]);
}, 120_000);

test("a worker's fatal error: its thread_exit names it, the message through the walk when it is not a string", async () => {
  const thrown = await runTraced(["node", program("thrown.cjs", "", `throw { code: 7, why: "object" };`)]);
  expect(thrown.status, thrown.stderr).toBe(0);
  const [exit] = ofKind(thrown.events, "thread_exit");
  expect(exit!.fields.code).toBe(1);
  expect(exit!.fields.errorType).toBe("Object");
  expect(exit!.fields.errorMessage).toBe('{"code":7,"why":"object"}');
  expect(ofKind(thrown.events, "agent_error")).toEqual([]);
}, 120_000);

test("a walk that cannot be loaded: the program runs the same, one agent error per thread that tried, its sends recorded without a preview", async () => {
  // The main thread removes the chunk before the worker starts; neither thread has loaded it yet.
  const traced = await runTraced([
    "node",
    program("missing.cjs", `fs.rmSync(path.join(at, "node-walk.cjs")); worker.postMessage("ping");`, `parentPort.once("message", (m) => { parentPort.postMessage(m + " pong"); parentPort.close(); });`),
  ]);
  expect(traced.status, traced.stderr).toBe(0);
  expect(traced.stdout).toBe('worker said "ping pong"\nexit 0 []\n');
  expect(ofKind(traced.events, "agent_error").length).toBe(2);
  const sends = ofKind(traced.events, "message_send");
  expect(sends.length).toBe(2);
  for (const send of sends) expect(send.fields.preview ?? "").toBe("");
  expect(ofKind(traced.events, "message_receive").length).toBe(2);
}, 120_000);

test("the walk, loaded at the first send, redacts by the rules the thread started with, even when the program changed its environment since", async () => {
  // The worker drops scope's variables before its first send; --redact-keys card must still apply there.
  const traced = await runTraced(["node", program("env.cjs", "", `for (const name of Object.keys(process.env)) if (name.startsWith("SCOPE_")) delete process.env[name];
parentPort.postMessage({ card: "4111", n: 2 });`)], { scopeArgs: ["--redact-keys", "card"] });
  expect(traced.status, traced.stderr).toBe(0);
  expect(traced.stdout.split("\n")[0]).toBe('worker said {"card":"4111","n":2}');
  const [send] = ofKind(traced.events, "message_send");
  expect(send!.fields.preview).toBe('{"card":"[redacted]","n":2}');
  expect(ofKind(traced.events, "agent_error")).toEqual([]);
}, 120_000);

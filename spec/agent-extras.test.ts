/**
 * The Node agent's second chunk (node-extras.cjs: HTTP, frameworks, databases;
 * src/agent/node/lazy.ts) is loaded by a thread when it first needs it: the same requests,
 * routes, steps and queries are recorded in a worker thread as in a main thread, a program
 * that uses none of them never loads it, and a chunk that cannot be loaded costs the
 * program nothing but those records (one agent error).
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { WORKER_PROGRAM_START, cleanup, fixtures, ofKind, runTraced, scratchDir } from "./agent-harness";
import { betterSqliteLoads } from "./harness";

afterAll(cleanup);

/** Runs the script given as its argument in a worker thread (the script's own output passes through). */
const inWorker = join(scratchDir(), "in-worker.cjs");
writeFileSync(inWorker, `new (require("node:worker_threads").Worker)(require("node:path").resolve(process.argv[2]));\n`);

/** HTTP, framework and database events by kind, and the threads that recorded them. */
function integrationEvents(events: TraceEvent[]): { counts: Record<string, number>; tids: number[] } {
  const counts: Record<string, number> = {};
  const tids = new Set<number>();
  for (const event of events) {
    if (!/^(http_|db_|request_context)/.test(event.kind)) continue;
    counts[event.kind] = (counts[event.kind] ?? 0) + 1;
    tids.add(event.tid);
  }
  return { counts, tids: [...tids] };
}

test.each([["http/sequence.cjs"], ["web/express.cjs"], ...(betterSqliteLoads("node") ? [["db/sqlite.cjs"]] : [])])("%s in a worker thread records what it records in the main thread", async (fixture) => {
  const script = join(fixtures, fixture);
  const [main, worker] = await Promise.all([runTraced(["node", script]), runTraced(["node", inWorker, script])]);
  expect(worker.status).toBe(main.status);
  expect(worker.stdout).toBe(main.stdout);
  expect(ofKind(main.events, "agent_error")).toEqual([]);
  expect(ofKind(worker.events, "agent_error")).toEqual([]);
  const inMain = integrationEvents(main.events);
  const inThread = integrationEvents(worker.events);
  expect(Object.keys(inMain.counts).length).toBeGreaterThan(0);
  expect(inThread.counts).toEqual(inMain.counts);
  expect(inMain.tids).toEqual([0]);
  expect(inThread.tids.length).toBe(1);
  expect(inThread.tids[0]).toBeGreaterThan(0);
  expect(worker.end.dropped).toBe(0);
}, 120_000);

/** A program that lists the agent's directory (from NODE_OPTIONS) at its end; workers run `body`. */
function lister(name: string, body: string): string {
  const file = join(scratchDir(), name);
  writeFileSync(
    file,
    `${WORKER_PROGRAM_START}
if (isMainThread) {
  let left = 2;
  for (let i = 0; i < 2; i++) {
    const worker = new Worker(__filename);
    worker.on("message", (m) => console.log("worker said", m));
    worker.on("exit", () => {
      if (--left === 0) console.log(JSON.stringify(fs.readdirSync(at).filter((f) => f.startsWith("node-extras")).sort()));
    });
  }
} else {
${body}
}
`,
  );
  return file;
}

test("a program without HTTP, frameworks or databases never loads the second chunk; the first thread that loads it writes its code cache", async () => {
  const quiet = await runTraced(["node", lister("quiet.cjs", `parentPort.postMessage("hello");`)]);
  expect(quiet.status, quiet.stderr).toBe(0);
  expect(quiet.stdout).toBe('worker said hello\nworker said hello\n["node-extras.cjs"]\n');
  const busy = await runTraced([
    "node",
    lister(
      "busy.cjs",
      `const server = require("node:http").createServer((req, res) => res.end("ok"));
server.listen(0, "127.0.0.1", async () => {
  const response = await fetch("http://127.0.0.1:" + server.address().port + "/x");
  parentPort.postMessage(await response.text());
  server.close();
});`,
    ),
  ]);
  expect(busy.status, busy.stderr).toBe(0);
  const lines = busy.stdout.trim().split("\n");
  expect(lines.slice(0, 2)).toEqual(["worker said ok", "worker said ok"]);
  const listed = JSON.parse(lines[2]!) as string[];
  expect(listed.length).toBe(2);
  expect(listed[0]).toBe("node-extras.cjs");
  expect(listed[1]).toMatch(/^node-extras\.cjs\..+\.v8cache$/);
  expect(ofKind(busy.events, "http_server_request").length).toBe(2);
  expect(ofKind(busy.events, "http_client_request").length).toBe(2);
  expect(ofKind(busy.events, "agent_error")).toEqual([]);
}, 120_000);

test("a second chunk that cannot be loaded: the program runs the same, one agent error, its messages still recorded", async () => {
  // The worker removes the chunk from the agent's (temporary) directory before its first request.
  const program = lister(
    "missing.cjs",
    `try { fs.rmSync(path.join(at, "node-extras.cjs")); } catch {}
const server = require("node:http").createServer((req, res) => res.end("ok"));
server.listen(0, "127.0.0.1", async () => {
  const response = await fetch("http://127.0.0.1:" + server.address().port + "/x");
  parentPort.postMessage(await response.text());
  server.close();
});`,
  );
  const traced = await runTraced(["node", program]);
  expect(traced.status, traced.stderr).toBe(0);
  expect(traced.stdout).toBe("worker said ok\nworker said ok\n[]\n");
  expect(ofKind(traced.events, "http_server_request")).toEqual([]);
  // One per thread that tried (each worker), never more.
  expect(ofKind(traced.events, "agent_error").length).toBe(2);
  expect(ofKind(traced.events, "message_send").length).toBe(2);
  expect(ofKind(traced.events, "message_receive").length).toBe(2);
}, 120_000);

test("the core hands the second chunk every export of the modules they share", async () => {
  const { EXTRAS_SHARED, EXTRAS_SHARED_PREFIX } = await import("../src/agent/node/chunks");
  const { sharedModules: made } = await import("../src/agent/node/lazy");
  const sharedModules = made();
  expect(made()).toBe(sharedModules);
  expect(Object.keys(sharedModules).sort()).toEqual(EXTRAS_SHARED.map((path) => `${EXTRAS_SHARED_PREFIX}${path}`).sort());
  for (const path of EXTRAS_SHARED) {
    const module = (await import(join(import.meta.dir, "..", path))) as Record<string, unknown>;
    const given = sharedModules[`${EXTRAS_SHARED_PREFIX}${path}`]!;
    expect(Object.keys(given).sort()).toEqual(Object.keys(module).sort());
    for (const name of Object.keys(module)) expect(given[name]).toBe(module[name]);
  }
});

test("the Node agent's bundles see layout's constants as enums of the same values (inlined: no EventKind object built at start)", async () => {
  const { agentKindsSource, AGENT_KINDS_KEPT, bundleAgent } = await import("../src/core/assets");
  const layout = (await import("../src/core/layout")) as unknown as Record<string, unknown>;
  const source = await Bun.file(join(import.meta.dir, "../src/agent/shared/kinds.ts")).text();
  const generated = join(scratchDir(), "kinds-generated.ts");
  writeFileSync(generated, agentKindsSource(source));
  const kinds = (await import(generated)) as Record<string, unknown>;
  const exported = /export \{([^}]*)\} from "\.\.\/\.\.\/core\/layout";/.exec(source)![1]!.split(",").map((part) => part.trim().split(/\s+as\s+/));
  expect(exported.length).toBeGreaterThan(10);
  for (const [name, alias = name] of exported) {
    const value = layout[name!];
    const mine = kinds[alias!];
    if (typeof value === "number") {
      expect(mine).toBe(value);
      continue;
    }
    const members = Object.entries(mine as object).filter(([key]) => !/^\d+$/.test(key));
    expect(Object.fromEntries(members)).toEqual(value as Record<string, number>);
    if (AGENT_KINDS_KEPT.has(name!)) expect(mine).toEqual(value);
  }
  // node/async.ts lists AsyncType's members by access (no AsyncType object in the bundles): all of them.
  const { asyncTypes } = await import("../src/agent/node/async");
  expect(Object.fromEntries(asyncTypes())).toEqual(layout.AsyncType as Record<string, number>);
  const out = join(scratchDir(), "bundle");
  await bundleAgent("nodeAgent", out);
  for (const file of ["node-bundle.cjs", "node-extras.cjs"]) {
    const text = await Bun.file(join(out, file)).text();
    expect(text).not.toContain("EventKind");
    expect(text).not.toContain("AsyncType");
    expect(text).not.toMatch(/\bAsyncLevel\b/);
    expect(text).not.toContain("eventKindName");
  }
}, 60_000);
